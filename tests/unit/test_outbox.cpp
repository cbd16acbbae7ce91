// Outbox alone, on a real LocalStore, with a fake in place of the ring's
// POST /v1/messages: the order an outbox drains in, what leaves it for good,
// and how receipts move sent messages (early ones included, never back).
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "client/client_json.hpp"
#include "client/local_store.hpp"
#include "client/outbox.hpp"
#include "core/store.hpp"
#include "support/fake_core.hpp"
#include "support/test_support.hpp"

namespace dws::client {
namespace {

std::string id_of(int n) { return fmt::format("{:032x}", n + 1); }

// The ring as a flush sees it: answers each peer as `answers` says (Ok when
// not listed) and records what was posted, and whether the store mutex was
// free while it ran.
struct FakeRing {
  explicit FakeRing(std::mutex& store_mu) : mu(&store_mu) {}
  std::mutex* mu;
  std::map<std::string, Status> answers;
  std::vector<std::pair<std::string, std::string>> posted;  // (peer, body)
  bool posted_under_lock = false;
  Outbox::Post post() {
    return [this](const std::string& peer, const std::string& body) {
      if (mu->try_lock()) {
        mu->unlock();
      } else {
        posted_under_lock = true;
      }
      posted.emplace_back(peer, body);
      auto it = answers.find(peer);
      return it == answers.end() ? Status::Ok() : it->second;
    };
  }
};

struct Fixture {
  test::TempDir dir{"dws-outbox"};
  std::unique_ptr<LocalStore> store = LocalStore::open(dir.path()).value();
  std::mutex mu;
  test::FakeClock clock;
  std::vector<std::tuple<std::string, std::string, Delivery>> notified;
  bool notified_under_lock = false;
  Outbox outbox{*store, mu, clock, [this](const std::string& peer, const std::string& id, Delivery state) {
                  if (mu.try_lock()) {
                    mu.unlock();
                  } else {
                    notified_under_lock = true;
                  }
                  notified.emplace_back(peer, id, state);
                }};
  FakeRing ring{mu};

  Message outgoing(const std::string& to, int n, Delivery state) {
    Message m;
    m.id = id_of(n);
    m.from = "alice";
    m.to = to;
    m.sent_at = clock.wall_ms();
    m.text = "text " + std::to_string(n);
    m.state = state;
    m.outgoing = true;
    return m;
  }

  // What send() does when no server is reachable: the entry and the
  // history in one transaction.
  void queue(const std::string& to, int n) {
    std::lock_guard lock(mu);
    core::WriteBatch b;
    LocalStore::put_outbox(b, {id_of(n), to, "body " + std::to_string(n)});
    REQUIRE(outbox.record_locked(to, outgoing(to, n, Delivery::kQueued), &b).ok());
  }

  void record(const std::string& to, int n, Delivery state) {
    std::lock_guard lock(mu);
    REQUIRE(outbox.record_locked(to, outgoing(to, n, state)).ok());
  }

  Delivery state(const std::string& peer, int n) {
    auto m = store->message(peer, id_of(n));
    REQUIRE(m.ok());
    REQUIRE(m->has_value());
    return (*m)->state;
  }

  std::vector<std::string> outbox_ids() {
    auto listed = store->outbox();
    REQUIRE(listed.ok());
    std::vector<std::string> out;
    for (const auto& e : *listed) out.push_back(e.id);
    return out;
  }
};

Receipt receipt(std::vector<std::string> ids, bool read) { return Receipt{std::move(ids), read}; }

}  // namespace

TEST_CASE("outbox: recording a message writes its history, its chat and the peer's last sent id") {
  Fixture f;
  f.clock.now = 5;
  f.record("bob", 1, Delivery::kStored);
  f.record("bob", 0, Delivery::kStored);  // an older id recorded later (a copy) does not move last_sent back
  CHECK(f.state("bob", 1) == Delivery::kStored);
  auto chat = f.store->chat("bob");
  REQUIRE(chat.ok());
  REQUIRE(chat->has_value());
  CHECK((*chat)->last_id == id_of(1));
  CHECK((*chat)->activity_ms == f.clock.wall_ms());
  CHECK((*chat)->unread == 0);
  auto last = f.store->last_sent("bob");
  REQUIRE(last.ok());
  REQUIRE(last->has_value());
  CHECK(**last == id_of(1));
}

TEST_CASE("outbox: a flush posts oldest first and stops at kUnavailable, keeping the rest in order") {
  Fixture f;
  f.queue("bob", 0);
  f.queue("carol", 1);
  f.queue("bob", 2);
  f.queue("dave", 3);
  f.ring.answers["carol"] = Status::Unavailable("no server reachable");
  auto sent = f.outbox.flush(f.ring.post());
  CHECK(sent.status().code() == Code::kUnavailable);
  REQUIRE(f.ring.posted.size() == 2);
  CHECK(f.ring.posted[0] == std::pair<std::string, std::string>("bob", "body 0"));
  CHECK(f.ring.posted[1] == std::pair<std::string, std::string>("carol", "body 1"));
  CHECK(f.outbox_ids() == std::vector<std::string>{id_of(1), id_of(2), id_of(3)});
  CHECK(f.state("bob", 0) == Delivery::kStored);
  CHECK(f.state("carol", 1) == Delivery::kQueued);
  CHECK(f.state("bob", 2) == Delivery::kQueued);
  REQUIRE(f.notified.size() == 1);
  CHECK(f.notified[0] == std::make_tuple(std::string("bob"), id_of(0), Delivery::kStored));
  CHECK_FALSE(f.ring.posted_under_lock);
  CHECK_FALSE(f.notified_under_lock);

  // The ring is back: the rest leaves, in order.
  f.ring.answers.clear();
  f.ring.posted.clear();
  sent = f.outbox.flush(f.ring.post());
  REQUIRE(sent.ok());
  CHECK(*sent == 3);
  REQUIRE(f.ring.posted.size() == 3);
  CHECK(f.ring.posted[0].second == "body 1");
  CHECK(f.ring.posted[1].second == "body 2");
  CHECK(f.ring.posted[2].second == "body 3");
  CHECK(f.outbox_ids().empty());
  CHECK_FALSE(f.outbox.pending());
  CHECK(f.state("dave", 3) == Delivery::kStored);
  CHECK(f.notified.size() == 4);
}

TEST_CASE("outbox: an entry refused for good leaves the outbox and its message stays queued") {
  Fixture f;
  f.queue("gone", 0);
  f.queue("old", 1);
  f.queue("bob", 2);
  f.ring.answers["gone"] = Status::NotFound("no user 'gone'");
  f.ring.answers["old"] = Status::Forbidden("the envelope expired");
  auto sent = f.outbox.flush(f.ring.post());
  REQUIRE(sent.ok());
  CHECK(*sent == 1);
  CHECK(f.ring.posted.size() == 3);
  CHECK(f.outbox_ids().empty());
  CHECK(f.state("gone", 0) == Delivery::kQueued);
  CHECK(f.state("old", 1) == Delivery::kQueued);
  CHECK(f.state("bob", 2) == Delivery::kStored);
  REQUIRE(f.notified.size() == 1);
  CHECK(std::get<1>(f.notified[0]) == id_of(2));

  // Nothing is posted again.
  f.ring.posted.clear();
  REQUIRE(f.outbox.flush(f.ring.post()).ok());
  CHECK(f.ring.posted.empty());
}

TEST_CASE("outbox: a receipt that comes before its message is recorded is applied when it is") {
  Fixture f;
  auto moved = f.outbox.apply_receipt("bob", receipt({id_of(0), id_of(1)}, false));
  REQUIRE(moved.ok());
  CHECK(moved->empty());
  REQUIRE(f.outbox.apply_receipt("bob", receipt({id_of(1)}, true)).ok());
  f.record("bob", 0, Delivery::kStored);
  f.record("bob", 1, Delivery::kStored);
  CHECK(f.state("bob", 0) == Delivery::kDelivered);
  CHECK(f.state("bob", 1) == Delivery::kRead);
  // Applied once: a later recording of the same id keeps what it is given.
  f.record("bob", 0, Delivery::kStored);
  CHECK(f.state("bob", 0) == Delivery::kStored);
}

TEST_CASE("outbox: a receipt never moves a message back, and moves only what it lists") {
  Fixture f;
  f.record("bob", 0, Delivery::kStored);
  f.record("bob", 1, Delivery::kStored);
  auto moved = f.outbox.apply_receipt("bob", receipt({id_of(0)}, true));
  REQUIRE(moved.ok());
  CHECK(*moved == std::vector<std::string>{id_of(0)});
  moved = f.outbox.apply_receipt("bob", receipt({id_of(0), id_of(1)}, false));
  REQUIRE(moved.ok());
  CHECK(*moved == std::vector<std::string>{id_of(1)});
  CHECK(f.state("bob", 0) == Delivery::kRead);
  CHECK(f.state("bob", 1) == Delivery::kDelivered);

  // An early "read" is not undone by a later early "delivered" either.
  REQUIRE(f.outbox.apply_receipt("bob", receipt({id_of(2)}, true)).ok());
  REQUIRE(f.outbox.apply_receipt("bob", receipt({id_of(2)}, false)).ok());
  f.record("bob", 2, Delivery::kStored);
  CHECK(f.state("bob", 2) == Delivery::kRead);
}

TEST_CASE("outbox: a receipt does not change an incoming message, nor one in another chat") {
  Fixture f;
  Message in;
  in.id = id_of(0);
  in.from = "bob";
  in.to = "alice";
  in.text = "hi";
  in.state = Delivery::kReceived;
  core::WriteBatch b;
  LocalStore::put_message(b, "bob", in);
  REQUIRE(f.store->raw().apply(b).ok());
  f.record("carol", 1, Delivery::kStored);

  auto moved = f.outbox.apply_receipt("bob", receipt({id_of(0), id_of(1), "not an id"}, true));
  REQUIRE(moved.ok());
  CHECK(moved->empty());
  CHECK(f.state("bob", 0) == Delivery::kReceived);
  CHECK(f.state("carol", 1) == Delivery::kStored);
}

TEST_CASE("outbox: early receipts are bounded: past kMaxEarlyReceipts the old ones are dropped") {
  Fixture f;
  std::vector<std::string> ids;
  for (int n = 0; n < static_cast<int>(Outbox::kMaxEarlyReceipts); ++n) ids.push_back(id_of(n));
  REQUIRE(f.outbox.apply_receipt("bob", receipt(ids, false)).ok());
  // Exactly the bound fits: the last of them is still kept (and, applied,
  // leaves room for one more).
  const int last = static_cast<int>(Outbox::kMaxEarlyReceipts) - 1;
  f.record("bob", last, Delivery::kStored);
  CHECK(f.state("bob", last) == Delivery::kDelivered);
  const int next = last + 1;
  REQUIRE(f.outbox.apply_receipt("bob", receipt({id_of(next)}, false)).ok());
  // Full again: this one drops all those kept before it goes in.
  REQUIRE(f.outbox.apply_receipt("bob", receipt({id_of(next + 1)}, false)).ok());
  f.record("bob", next, Delivery::kStored);
  CHECK(f.state("bob", next) == Delivery::kStored);
  f.record("bob", 0, Delivery::kStored);
  f.record("bob", next + 1, Delivery::kStored);
  CHECK(f.state("bob", 0) == Delivery::kStored);
  CHECK(f.state("bob", next + 1) == Delivery::kDelivered);
}

TEST_CASE("outbox: state changes are kept only while asked for, at most kMaxStateChanges") {
  Fixture f;
  f.queue("bob", 0);
  REQUIRE(f.outbox.flush(f.ring.post()).ok());
  {
    std::lock_guard lock(f.mu);
    CHECK(f.outbox.take_state_changes_locked().empty());
    f.outbox.keep_state_changes_locked(true);
  }
  REQUIRE(f.outbox.apply_receipt("bob", receipt({id_of(0)}, false)).ok());
  {
    std::lock_guard lock(f.mu);
    auto changes = f.outbox.take_state_changes_locked();
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].id == id_of(0));
    CHECK(changes[0].state == Delivery::kDelivered);
    CHECK(f.outbox.take_state_changes_locked().empty());
    for (int n = 0; n < static_cast<int>(Outbox::kMaxStateChanges) + 2; ++n)
      f.outbox.note_state_locked(f.outgoing("bob", n, Delivery::kStored));
    changes = f.outbox.take_state_changes_locked();
    REQUIRE(changes.size() == Outbox::kMaxStateChanges);
    CHECK(changes.front().id == id_of(2));
    f.outbox.note_state_locked(f.outgoing("bob", 0, Delivery::kStored));
    f.outbox.keep_state_changes_locked(false);
    CHECK(f.outbox.take_state_changes_locked().empty());
  }
}

}  // namespace dws::client
