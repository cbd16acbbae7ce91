// Inbox alone, on a real LocalStore, with mailbox pages made here from real
// sealed envelopes and a fake in place of the peers' keys: what a page
// stores, acknowledges and receipts, what it keeps aside, what it holds
// back, and what receipts and copies from the account's other devices do.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "client/client_json.hpp"
#include "client/hold_back.hpp"
#include "client/inbox.hpp"
#include "client/local_store.hpp"
#include "client/outbox.hpp"
#include "core/envelope.hpp"
#include "core/store.hpp"
#include "crypto/keys.hpp"
#include "support/fake_core.hpp"
#include "support/test_support.hpp"

namespace dws::client {
namespace {

constexpr std::int64_t kHoldMs = 15'000;

// Peers' keys as the inbox asks for them; `down` makes the ring unreachable.
struct FakeKeys {
  std::map<std::string, crypto::PublicKey> keys;
  bool down = false;
  std::vector<std::pair<std::string, bool>> asked;  // (nick, recheck)
  Inbox::Key key() {
    return [this](const std::string& nick, bool recheck) -> Result<crypto::PublicKey> {
      asked.emplace_back(nick, recheck);
      if (down) return Status::Unavailable("no server reachable");
      auto it = keys.find(nick);
      if (it == keys.end()) return Status::NotFound("no user '" + nick + "'");
      return it->second;
    };
  }
};

struct Fixture {
  test::TempDir dir{"dws-inbox"};
  std::unique_ptr<LocalStore> store = LocalStore::open(dir.path()).value();
  std::mutex mu;
  test::FakeClock clock;
  HoldBack hold{kHoldMs};
  Outbox outbox{*store, mu, clock, nullptr};
  FakeKeys peers;
  Inbox inbox{*store, mu, clock, hold, outbox, peers.key()};
  const std::string alice = "alice";
  crypto::KeyPair alice_keys = crypto::generate_keypair();
  crypto::KeyPair bob_keys = crypto::generate_keypair();
  int next_id = 0;

  Fixture() { peers.keys["bob"] = bob_keys.public_key; }

  // Ids in the sender's time now, distinct and increasing.
  core::MessageId new_id() {
    return core::MessageId::parse(fmt::format("{:012x}{:020x}", clock.wall_ms(), ++next_id)).value();
  }

  core::EnvelopeView sealed(const crypto::SecretKey& by, const std::string& from, const std::string& to,
                            const crypto::PublicKey& to_key, core::Kind kind, const std::string& plain,
                            const core::MessageId& id) {
    auto e = core::seal_envelope(by, from, to, to_key, kind, plain, id, clock.wall_ms());
    REQUIRE(e.ok());
    return core::to_view(*e);
  }

  core::EnvelopeView text(const core::MessageId& id, const std::string& body,
                          std::optional<core::MessageId> prev = std::nullopt) {
    return sealed(bob_keys.secret_key, "bob", alice, alice_keys.public_key, core::Kind::kText2,
                  encode_chained_text({prev, body}), id);
  }

  Result<Inbox::Page> take(const std::vector<core::EnvelopeView>& listing, const Inbox::Deliver& deliver = {}) {
    return inbox.take({alice, alice_keys.secret_key, alice_keys.public_key, nullptr}, listing, deliver);
  }

  std::optional<Message> message(const std::string& peer, const core::MessageId& id) {
    auto m = store->message(peer, id.hex());
    REQUIRE(m.ok());
    return *m;
  }

  std::optional<bool> seen(const core::MessageId& id) {
    auto mark = store->seen_mark(id.hex());
    REQUIRE(mark.ok());
    return *mark;
  }

  int unread(const std::string& peer) {
    auto row = store->chat(peer);
    REQUIRE(row.ok());
    return *row ? (*row)->unread : -1;
  }

  std::vector<RejectedEnvelope> rejected() {
    auto r = store->rejected();
    REQUIRE(r.ok());
    return *r;
  }
};

}  // namespace

TEST_CASE("inbox: a new text is stored with its chat and seen mark, acknowledged and receipted, once") {
  Fixture f;
  const auto id = f.new_id();
  const auto listing = std::vector{f.text(id, "hello")};
  auto page = f.take(listing);
  REQUIRE(page.ok());
  REQUIRE(page->fresh.size() == 1);
  CHECK(page->fresh[0].text == "hello");
  CHECK(page->fresh[0].from == "bob");
  REQUIRE(page->acks.size() == 1);
  CHECK(page->acks[0].id == id.hex());
  CHECK(page->receipts == std::map<std::string, std::vector<std::string>>{{"bob", {id.hex()}}});
  CHECK_FALSE(page->only_held);
  auto kept = f.message("bob", id);
  REQUIRE(kept.has_value());
  CHECK(kept->text == "hello");
  CHECK(kept->state == Delivery::kReceived);
  CHECK_FALSE(kept->outgoing);
  CHECK(f.seen(id) == std::optional<bool>(true));
  CHECK(f.unread("bob") == 1);

  // Listed again (the ack was lost): acknowledged and receipted again, not
  // stored or handed out twice.
  page = f.take(listing);
  REQUIRE(page.ok());
  CHECK(page->fresh.empty());
  CHECK(page->acks.size() == 1);
  CHECK(page->receipts.size() == 1);
  CHECK(f.unread("bob") == 1);
}

TEST_CASE("inbox: with a callback a message is pending until it returns, and one left pending is handed out again") {
  Fixture f;
  const auto id = f.new_id();
  std::vector<std::string> handed;
  bool locked_during = false;
  std::optional<bool> mark_during;
  auto deliver = [&](const Message& m) {
    if (f.mu.try_lock()) {
      mark_during = f.seen(core::MessageId::parse(m.id).value());
      f.mu.unlock();
    } else {
      locked_during = true;
    }
    handed.push_back(m.id);
  };
  auto page = f.take({f.text(id, "one")}, deliver);
  REQUIRE(page.ok());
  CHECK(handed == std::vector<std::string>{id.hex()});
  CHECK_FALSE(locked_during);
  CHECK(mark_during == std::optional<bool>(false));
  CHECK(f.seen(id) == std::optional<bool>(true));

  // A cycle that stored a message and did not get past its callback (a
  // crash): the next listing hands it out again, without a second copy.
  const auto id2 = f.new_id();
  {
    core::WriteBatch b;
    Message m;
    m.id = id2.hex();
    m.from = "bob";
    m.to = f.alice;
    m.text = "two";
    m.state = Delivery::kReceived;
    LocalStore::put_message(b, "bob", m);
    LocalStore::put_pending(b, id2.hex());
    REQUIRE(f.store->raw().apply(b).ok());
  }
  handed.clear();
  page = f.take({f.text(id2, "two")}, deliver);
  REQUIRE(page.ok());
  CHECK(handed == std::vector<std::string>{id2.hex()});
  CHECK(f.seen(id2) == std::optional<bool>(true));
  CHECK(f.unread("bob") == 1);
  auto history = f.store->history("bob", "", 10);
  REQUIRE(history.ok());
  CHECK(history->size() == 2);
}

TEST_CASE("inbox: envelopes that are malformed, for someone else or do not verify are kept aside and acknowledged") {
  Fixture f;
  const auto mallory = crypto::generate_keypair();
  auto malformed = f.text(f.new_id(), "x");
  malformed.box = "not base64!";
  const auto elsewhere = f.sealed(f.bob_keys.secret_key, "bob", "carol", f.alice_keys.public_key, core::Kind::kText2,
                                  encode_chained_text({std::nullopt, "x"}), f.new_id());
  const auto forged = f.sealed(mallory.secret_key, "bob", f.alice, f.alice_keys.public_key, core::Kind::kText2,
                               encode_chained_text({std::nullopt, "x"}), f.new_id());
  auto unknown = f.sealed(mallory.secret_key, "mallory", f.alice, f.alice_keys.public_key, core::Kind::kText2,
                          encode_chained_text({std::nullopt, "x"}), f.new_id());
  auto no_id = f.text(f.new_id(), "x");
  no_id.id = "nope";
  auto page = f.take({malformed, elsewhere, forged, unknown, no_id});
  REQUIRE(page.ok());
  CHECK(page->fresh.empty());
  CHECK(page->receipts.empty());
  CHECK(page->acks.size() == 4);  // the entry without an id cannot be acknowledged
  auto kept = f.rejected();
  REQUIRE(kept.size() == 4);
  std::map<std::string, std::string> why;
  for (const auto& r : kept) why[r.id] = r.reason;
  CHECK(why[malformed.id].find("malformed envelope") == 0);
  CHECK(why[elsewhere.id] == "addressed to 'carol', not to 'alice'");
  CHECK(why[forged.id].find("does not verify or open") == 0);
  CHECK(why[unknown.id].find("the sender's key cannot be had") == 0);
  // The forged one made the inbox ask the ring again for bob's key.
  CHECK(std::find(f.peers.asked.begin(), f.peers.asked.end(), std::pair<std::string, bool>("bob", true)) !=
        f.peers.asked.end());
  auto history = f.store->history("bob", "", 10);
  REQUIRE(history.ok());
  CHECK(history->empty());
}

TEST_CASE("inbox: a text whose predecessor was not handed out is held: not stored, acknowledged nor receipted") {
  Fixture f;
  const auto first = f.new_id();
  const auto second = f.new_id();
  auto page = f.take({f.text(second, "second", first)});
  REQUIRE(page.ok());
  CHECK(page->fresh.empty());
  CHECK(page->acks.empty());
  CHECK(page->receipts.empty());
  CHECK(page->only_held);
  CHECK_FALSE(f.message("bob", second).has_value());
  CHECK_FALSE(f.seen(second).has_value());

  // The predecessor arrives: both are handed out, in the sender's order.
  page = f.take({f.text(second, "second", first), f.text(first, "first")});
  REQUIRE(page.ok());
  REQUIRE(page->fresh.size() == 2);
  CHECK(page->fresh[0].id == first.hex());
  CHECK(page->fresh[1].id == second.hex());
  CHECK(page->acks.size() == 2);
  CHECK_FALSE(page->only_held);
  CHECK(f.unread("bob") == 2);
}

TEST_CASE("inbox: a sender's key out of reach ends the page with nothing stored or acknowledged") {
  Fixture f;
  f.peers.down = true;
  const auto id = f.new_id();
  auto page = f.take({f.text(id, "hello")});
  CHECK(page.status().code() == Code::kUnavailable);
  CHECK_FALSE(f.message("bob", id).has_value());
  CHECK_FALSE(f.seen(id).has_value());
  CHECK(f.rejected().empty());
}

TEST_CASE("inbox: a receipt moves the sent message, and a copy from an own device joins the history as sent") {
  Fixture f;
  const auto sent = f.new_id();
  {
    Message m;
    m.id = sent.hex();
    m.from = f.alice;
    m.to = "bob";
    m.text = "sent here";
    m.state = Delivery::kStored;
    m.outgoing = true;
    std::lock_guard lock(f.mu);
    REQUIRE(f.outbox.record_locked("bob", m).ok());
  }
  const auto receipt = f.sealed(f.bob_keys.secret_key, "bob", f.alice, f.alice_keys.public_key, core::Kind::kReceipt,
                                receipt_json({{sent.hex()}, true}), f.new_id());
  const auto copied = f.new_id();
  const auto copy = f.sealed(f.alice_keys.secret_key, f.alice, f.alice, f.alice_keys.public_key, core::Kind::kCopy,
                             encode_sent_copy({"carol", copied, f.clock.wall_ms(), "sent elsewhere"}), f.new_id());
  const auto not_mine = f.sealed(f.bob_keys.secret_key, "bob", f.alice, f.alice_keys.public_key, core::Kind::kCopy,
                                 encode_sent_copy({"carol", f.new_id(), f.clock.wall_ms(), "spoof"}), f.new_id());
  auto page = f.take({receipt, copy, not_mine});
  REQUIRE(page.ok());
  CHECK(page->fresh.empty());
  CHECK(page->receipts.empty());  // receipts and copies are not receipted
  CHECK(page->acks.size() == 3);
  using Moved = std::tuple<std::string, std::string, Delivery>;
  CHECK(page->moved ==
        std::vector<Moved>{{"carol", copied.hex(), Delivery::kStored}, {"bob", sent.hex(), Delivery::kRead}});
  CHECK(f.message("bob", sent)->state == Delivery::kRead);
  auto mine = f.message("carol", copied);
  REQUIRE(mine.has_value());
  CHECK(mine->outgoing);
  CHECK(mine->state == Delivery::kStored);
  CHECK(mine->text == "sent elsewhere");
  auto last = f.store->last_sent("carol");
  REQUIRE(last.ok());
  CHECK(*last == std::optional<std::string>(copied.hex()));
  auto kept = f.rejected();
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].reason == "a copy of a sent message must come from 'alice' itself, not from 'bob'");

  // The same copy listed again is not recorded twice.
  page = f.take({copy});
  REQUIRE(page.ok());
  CHECK(page->moved.empty());
}

}  // namespace dws::client
