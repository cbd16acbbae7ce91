// ReceiptSender alone, with a hand-written fake in place of the ring: what
// leaves, in which envelopes, what is tried again and what is dropped.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "client/client_json.hpp"
#include "client/receipt_sender.hpp"

using dws::Code;
using dws::Status;
using dws::client::Receipt;
using dws::client::ReceiptSender;

namespace {

// The ring as the sender sees it: records every receipt posted and answers
// with what `answer` says for that call (0-based).
struct FakeRing {
  std::mutex mu;
  std::condition_variable cv;
  struct Posted {
    std::string peer;
    Receipt receipt;
  };
  std::vector<Posted> posted;
  std::function<Status(std::size_t call)> answer = [](std::size_t) { return Status::Ok(); };

  ReceiptSender::Send send() {
    return [this](const std::string& peer, const Receipt& r) {
      std::size_t call = 0;
      {
        std::lock_guard lock(mu);
        posted.push_back({peer, r});
        call = posted.size() - 1;
      }
      cv.notify_all();
      return answer(call);  // outside the lock: an answer may block
    };
  }
  // Waits (up to a generous deadline) until `n` receipts were posted.
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return posted.size() >= n; });
  }
};

std::vector<std::string> ids(std::size_t n, const std::string& prefix) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

}  // namespace

TEST_CASE("receipt sender: what is queued leaves before stop returns, in batches of at most 500, flags kept") {
  FakeRing ring;
  ReceiptSender sender(ring.send());
  const auto many = ids(1201, "a");
  sender.queue({{"alice", many}}, false);
  sender.queue({{"bob", {"b0", "b1"}}}, true);
  sender.stop();
  std::lock_guard lock(ring.mu);
  std::vector<std::string> to_alice;
  std::size_t bob_receipts = 0;
  for (const auto& p : ring.posted) {
    CHECK(p.receipt.ids.size() <= ReceiptSender::kReceiptBatch);
    if (p.peer == "alice") {
      CHECK_FALSE(p.receipt.read);
      to_alice.insert(to_alice.end(), p.receipt.ids.begin(), p.receipt.ids.end());
    } else {
      CHECK(p.peer == "bob");
      CHECK(p.receipt.read);
      CHECK(p.receipt.ids == std::vector<std::string>{"b0", "b1"});
      ++bob_receipts;
    }
  }
  CHECK(to_alice == many);  // every id once, in the order queued
  CHECK(bob_receipts == 1);
}

TEST_CASE("receipt sender: ids queued for one peer meanwhile travel in one envelope") {
  FakeRing ring;
  ReceiptSender sender(ring.send());
  // The first receipt blocks in the fake until the second queue() is done,
  // so the second and third queue() land in one round.
  std::mutex gate;
  std::unique_lock held(gate);
  ring.answer = [&](std::size_t call) {
    if (call == 0) std::lock_guard wait(gate);
    return Status::Ok();
  };
  sender.queue({{"alice", {"x"}}}, false);
  REQUIRE(ring.wait_for(1));
  sender.queue({{"alice", {"y"}}}, false);
  sender.queue({{"alice", {"z"}}}, false);
  held.unlock();
  sender.stop();
  std::lock_guard lock(ring.mu);
  REQUIRE(ring.posted.size() == 2);
  CHECK(ring.posted[1].receipt.ids == std::vector<std::string>{"y", "z"});
}

TEST_CASE("receipt sender: a receipt the ring could not take is sent again; a refused one is not") {
  FakeRing ring;
  std::mutex answers_mu;
  int alice_calls = 0;
  ring.answer = [&](std::size_t) { return Status::Ok(); };
  ReceiptSender::Send send = ring.send();
  ReceiptSender sender([&](const std::string& peer, const Receipt& r) {
    Status st = send(peer, r);
    if (peer == "carol") return Status::Forbidden("refused");
    std::lock_guard lock(answers_mu);
    return alice_calls++ == 0 ? Status::Unavailable("no server reachable") : st;
  });
  sender.queue({{"alice", {"a0"}}, {"carol", {"c0"}}}, false);
  // The unavailable one comes back on the next round (a second later).
  REQUIRE(ring.wait_for(3));
  sender.stop();
  std::lock_guard lock(ring.mu);
  int alice = 0, carol = 0;
  for (const auto& p : ring.posted) {
    CHECK(p.receipt.ids.size() == 1);
    (p.peer == "alice" ? alice : carol) += 1;
  }
  CHECK(alice == 2);
  CHECK(carol == 1);  // refused for good: neither retried nor sent again at stop
}

TEST_CASE("receipt sender: after stop nothing more is accepted or sent") {
  FakeRing ring;
  ReceiptSender sender(ring.send());
  sender.stop();
  sender.queue({{"alice", {"a0"}}}, true);
  sender.stop();
  std::lock_guard lock(ring.mu);
  CHECK(ring.posted.empty());
}
