// The storage rules accounts and mailboxes rest on (create-if-absent, quota,
// scan, the on-stored hook) and core::Users / core::Mailbox over two nodes
// with an in-test transport and in-memory stores.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/id.hpp"
#include "core/key_directory.hpp"
#include "core/mailbox.hpp"
#include "core/replication.hpp"
#include "core/users.hpp"
#include "store/memory_store.hpp"
#include "support/fake_core.hpp"

using namespace dws;
using namespace dws::core;

namespace {

using dws::test::FakeClock;
using dws::test::LocalTransport;

struct TestNode {
  TestNode(PeerInfo self, LocalTransport& net, FakeClock& clock, bool validate)
      : rng(self.id), ring(self, dws::test::pair_ring_options(), net, clock, rng) {
    records = std::move(RecordStore::open(disk, RecordStoreOptions{8})).value();
    repl = std::make_unique<Replicator>(ring, *records, net, clock, ReplicationOptions{});
    if (validate) {
      keys = std::make_unique<RingKeyDirectory>(*repl, *records, clock);
      validator = std::make_unique<RecordValidator>(*keys, ValidationOptions{});
      repl->set_validator(validator.get());
    }
    users = std::make_unique<Users>(ring, *repl, *records, net, UsersOptions{});
    repl->set_on_stored([this](const Record& r) { seen.push_back(r); });
    net.nodes[self.address] = [this, &clock](const Request& r) -> Result<Response> {
      if (Users::handles(r)) return users->handle(r, clock.monotonic_ms());
      if (std::holds_alternative<StorePutReq>(r) || std::holds_alternative<StoreGetReq>(r) ||
          std::holds_alternative<StoreSyncReq>(r) || std::holds_alternative<StoreScanReq>(r))
        return repl->handle(r);
      return ring.handle(r);
    };
  }
  SplitMix64 rng;
  Ring ring;
  store::MemoryStore disk;
  std::unique_ptr<RecordStore> records;
  std::unique_ptr<Replicator> repl;
  std::unique_ptr<RingKeyDirectory> keys;
  std::unique_ptr<RecordValidator> validator;
  std::unique_ptr<Users> users;
  std::vector<Record> seen;
};

// a (id 1000) holds (b, a], b (id 1'000'000) holds (a, b].
struct Pair {
  explicit Pair(bool validate = false) {
    a = std::make_unique<TestNode>(PeerInfo{1000, "a"}, net, clock, validate);
    b = std::make_unique<TestNode>(PeerInfo{1'000'000, "b"}, net, clock, validate);
    a->ring.create();
    REQUIRE(b->ring.join("a").ok());
    for (int i = 0; i < 4; ++i) {
      a->ring.stabilize();
      b->ring.stabilize();
    }
    REQUIRE(a->ring.predecessor() == std::optional<PeerInfo>(b->ring.self()));
  }
  TestNode& primary_of(Id key) { return a->ring.responsible_for(key) ? *a : *b; }
  TestNode& other_of(Id key) { return a->ring.responsible_for(key) ? *b : *a; }
  LocalTransport net;
  FakeClock clock;
  std::unique_ptr<TestNode> a, b;
};

Record item(Id key, std::string sub, std::string payload, std::uint64_t version = 1) {
  Record r;
  r.key = key;
  r.sub = std::move(sub);
  r.version = version;
  r.payload = std::move(payload);
  return r;
}

// Registered users whose envelopes and acknowledgements the validator checks.
struct People {
  explicit People(Pair& p) {
    for (const char* nick : {"alice", "bob"}) {
      auto made = make_account(nick, "password", "", 1, crypto::KdfLimits::minimum());
      REQUIRE(made.ok());
      REQUIRE(p.a->users->create(made->record, p.clock.wall_ms()).ok());
      keys.emplace(nick, std::move(made).value());
    }
  }
  const crypto::SecretKey& secret(const std::string& nick) const { return keys.at(nick).secret_key; }
  Envelope from_alice(std::uint8_t first_byte, std::int64_t now) const {
    MessageId id;
    id.bytes[0] = first_byte;
    auto e = seal_envelope(secret("alice"), "alice", "bob", keys.at("bob").record.public_key, Kind::kText, "hi", id,
                           now);
    REQUIRE(e.ok());
    return *e;
  }
  EntryAck ack_by_bob(const MessageId& id) const {
    return EntryAck{id, "alice",
                    crypto::sign(secret("bob"), ack_signing_bytes("bob", mailbox_entry_sub(id, "alice")))};
  }
  std::map<std::string, NewAccount> keys;
};

}  // namespace

TEST_CASE("store: a create-if-absent put is decided by the primary, idempotent, and blocked by a fresh tombstone") {
  Pair p;
  PutCondition create;
  create.if_absent = true;
  const Record first = item(500, "", "first");
  REQUIRE(p.b->repl->put(first, create).ok());
  auto second = p.a->repl->put(item(500, "", "second"), create);
  CHECK(second.status().code() == Code::kExists);
  CHECK(p.a->repl->put(first, create).ok());  // a retry of the same create
  auto got = p.a->repl->get(500, "");
  REQUIRE((got.ok() && got->has_value()));
  CHECK((*got)->payload == "first");

  Record tomb = item(500, "", "", 2);
  tomb.tombstone = true;
  tomb.expires_at = p.clock.wall_ms() + 1000;
  REQUIRE(p.a->repl->put(tomb).ok());
  auto blocked = p.a->repl->put(item(500, "", "third"), create);
  CHECK(blocked.status().code() == Code::kExists);
  CHECK(blocked.status().message().find("deleted") != std::string::npos);
  p.clock.now += 2000;  // the tombstone expires
  REQUIRE(p.a->repl->put(item(500, "", "third"), create).ok());
  got = p.b->repl->get(500, "");
  REQUIRE((got.ok() && got->has_value()));
  CHECK((*got)->payload == "third");
}

TEST_CASE("store: a quota counts live items under a prefix, and a retry of a stored item is not counted twice") {
  Pair p;
  PutCondition quota;
  quota.max_items = 2;
  quota.quota_prefix = "m/";
  REQUIRE(p.a->repl->put(item(77, "", "the user record"), quota).ok());  // outside the prefix
  REQUIRE(p.a->repl->put(item(77, "m/1", "x"), quota).ok());
  REQUIRE(p.b->repl->put(item(77, "m/2", "y"), quota).ok());
  auto full = p.a->repl->put(item(77, "m/3", "z"), quota);
  CHECK(full.status().code() == Code::kRateLimited);
  CHECK(p.a->repl->put(item(77, "m/1", "x"), quota).ok());
  Record gone = item(77, "m/1", "", 2);
  gone.tombstone = true;
  REQUIRE(p.a->repl->put(gone).ok());
  CHECK(p.a->repl->put(item(77, "m/3", "z"), quota).ok());
}

TEST_CASE("store: a scan lists live items of one key in sub order, pages with after, and falls back to a replica") {
  Pair p;
  const Id key = 123'456;
  for (std::string s : {"m/3", "m/1", "m/2", "m/4", "n/1", ""}) REQUIRE(p.a->repl->put(item(key, s, "v" + s)).ok());
  Record gone = item(key, "m/2", "", 2);
  gone.tombstone = true;
  REQUIRE(p.a->repl->put(gone).ok());

  auto subs = [](const StoreScanResp& r) {
    std::vector<std::string> out;
    for (const auto& x : r.records) out.push_back(x.sub);
    return out;
  };
  auto all = p.other_of(key).repl->scan(key, "m/", "", 100);
  REQUIRE(all.ok());
  CHECK(subs(*all) == std::vector<std::string>{"m/1", "m/3", "m/4"});
  CHECK_FALSE(all->more);
  auto page = p.a->repl->scan(key, "m/", "m/1", 1);
  REQUIRE(page.ok());
  CHECK(subs(*page) == std::vector<std::string>{"m/3"});
  CHECK(page->more);

  // The primary down: the other node's copy answers.
  TestNode& primary = p.primary_of(key);
  auto handler = p.net.nodes[primary.ring.self().address];
  p.net.nodes.erase(primary.ring.self().address);
  auto fallback = p.other_of(key).repl->scan(key, "m/", "", 100);
  REQUIRE_MESSAGE(fallback.ok(), fallback.status().to_string());
  CHECK(subs(*fallback) == std::vector<std::string>{"m/1", "m/3", "m/4"});
  p.net.nodes[primary.ring.self().address] = handler;
}

TEST_CASE("store: the on-stored hook sees each change once, on the primary and the replica") {
  Pair p;
  REQUIRE(p.a->repl->put(item(9, "m/1", "x")).ok());
  REQUIRE(p.a->repl->put(item(9, "m/1", "x")).ok());  // unchanged: no second call
  CHECK(p.a->seen.size() == 1);
  CHECK(p.b->seen.size() == 1);
  CHECK(p.a->seen.at(0).sub == "m/1");
}

TEST_CASE("mailbox: entries list in id order, acknowledgements hide them, the quota names the mailbox") {
  Pair p(true);
  People people(p);
  Mailbox box(*p.a->repl, MailboxOptions{1000, 3, 1000});
  Mailbox at_primary(*p.primary_of(user_key("bob")).repl, MailboxOptions{1000, 3, 1000});
  std::vector<Envelope> sent;
  for (int i = 0; i < 3; ++i) {
    const Envelope e = people.from_alice(static_cast<std::uint8_t>(3 - i), p.clock.wall_ms());  // out of id order
    REQUIRE(box.post(e, p.clock.wall_ms()).ok());
    sent.push_back(e);
  }
  const Envelope extra = people.from_alice(9, p.clock.wall_ms());
  auto full = box.post(extra, p.clock.wall_ms());
  CHECK(full.status().code() == Code::kRateLimited);
  CHECK(full.status().message().find("mailbox of 'bob' is full (3 messages)") != std::string::npos);

  auto page = at_primary.list_here("bob", "", "", 10, p.clock.wall_ms());
  REQUIRE(page.ok());
  REQUIRE(page->messages.size() == 3);
  CHECK(page->messages[0].id == sent[2].id);
  CHECK(page->messages[2].id == sent[0].id);
  auto after = at_primary.list_here("bob", "", sent[2].id.hex(), 10, p.clock.wall_ms());
  REQUIRE(after.ok());
  CHECK(after->messages.size() == 2);  // `after` skips every sender's entry with that id
  Mailbox elsewhere(*p.other_of(user_key("bob")).repl, MailboxOptions{});
  CHECK(elsewhere.list_here("bob", "", "", 10, p.clock.wall_ms()).status().code() == Code::kNotResponsible);

  auto acked = box.ack("bob", "", {people.ack_by_bob(sent[1].id), people.ack_by_bob(extra.id)}, p.clock.wall_ms());
  REQUIRE_MESSAGE(acked.ok(), acked.status().to_string());
  CHECK(*acked == 1);
  page = at_primary.list_here("bob", "", "", 10, p.clock.wall_ms());
  REQUIRE(page.ok());
  CHECK(page->messages.size() == 2);
  REQUIRE(box.post(sent[1], p.clock.wall_ms()).ok());  // a late retry stays acknowledged
  CHECK(at_primary.list_here("bob", "", "", 10, p.clock.wall_ms())->messages.size() == 2);

  // An acknowledgement signed by anyone but the owner deletes nothing.
  EntryAck forged = people.ack_by_bob(sent[0].id);
  forged.sig = crypto::sign(people.secret("alice"), ack_signing_bytes("bob", mailbox_entry_sub(sent[0].id, "alice")));
  auto refused = box.ack("bob", "", {forged}, p.clock.wall_ms());
  CHECK(refused.status().code() == Code::kUnauthenticated);
  CHECK(at_primary.list_here("bob", "", "", 10, p.clock.wall_ms())->messages.size() == 2);
}

TEST_CASE("mailbox: with two devices an entry stays until both acknowledged it; a removed device is refused") {
  Pair p(true);
  People people(p);
  Mailbox box(*p.a->repl, MailboxOptions{1000, 100, 1000});
  Mailbox at_primary(*p.primary_of(user_key("bob")).repl, MailboxOptions{1000, 100, 1000});
  const std::string phone = "00000000000000a1", laptop = "00000000000000b2", stranger = "00000000000000c3";
  auto list_as = [&](const std::string& device) {
    auto page = at_primary.list_here("bob", device, "", 10, p.clock.wall_ms());
    REQUIRE_MESSAGE(page.ok(), page.status().to_string());
    return page->messages.size();
  };
  DeviceList devices{"bob", {}, 1, {{phone, "phone", 1}, {laptop, "laptop", 2}}, {}};
  sign_device_list(devices, people.secret("bob"));
  REQUIRE_MESSAGE(box.set_devices(devices).ok(), "the owner's list is stored");

  const Envelope e1 = people.from_alice(1, p.clock.wall_ms()), e2 = people.from_alice(2, p.clock.wall_ms());
  REQUIRE(box.post(e1, p.clock.wall_ms()).ok());
  REQUIRE(box.post(e2, p.clock.wall_ms()).ok());
  CHECK(list_as(phone) == 2);
  CHECK(list_as(laptop) == 2);
  CHECK(at_primary.list_here("bob", phone, "", 10, p.clock.wall_ms())->devices == 2);

  // The phone's ack hides both from the phone only.
  auto acked = box.ack("bob", phone, {people.ack_by_bob(e1.id), people.ack_by_bob(e2.id)}, p.clock.wall_ms());
  REQUIRE_MESSAGE(acked.ok(), acked.status().to_string());
  CHECK(*acked == 2);
  CHECK(list_as(phone) == 0);
  CHECK(list_as(laptop) == 2);
  // The laptop's ack of e1 removes it from the ring: a tombstone, for every device.
  REQUIRE(box.ack("bob", laptop, {people.ack_by_bob(e1.id)}, p.clock.wall_ms()).ok());
  auto stored = p.a->repl->get(user_key("bob"), mailbox_entry_sub(e1.id, "alice"));
  REQUIRE((stored.ok() && stored->has_value()));
  CHECK((*stored)->tombstone);
  CHECK(list_as(laptop) == 1);
  CHECK(list_as("") == 1);  // a client that names no device sees the live entries

  // A device not on the list reads nothing and acknowledges nothing.
  auto refused = at_primary.list_here("bob", stranger, "", 10, p.clock.wall_ms());
  CHECK(refused.status().code() == Code::kForbidden);
  CHECK(refused.status().message().find("is not a device of 'bob'") != std::string::npos);
  CHECK(box.ack("bob", stranger, {people.ack_by_bob(e2.id)}, p.clock.wall_ms()).status().code() == Code::kForbidden);

  // Removing the laptop: e2, which only the laptop lacked, goes at the
  // phone's next listing; the laptop is refused from then on.
  DeviceList fewer = devices;
  fewer.version = 2;
  fewer.devices.pop_back();
  sign_device_list(fewer, people.secret("bob"));
  REQUIRE(box.set_devices(fewer).ok());
  CHECK(list_as(phone) == 0);
  stored = p.a->repl->get(user_key("bob"), mailbox_entry_sub(e2.id, "alice"));
  REQUIRE((stored.ok() && stored->has_value()));
  CHECK((*stored)->tombstone);
  CHECK(at_primary.list_here("bob", laptop, "", 10, p.clock.wall_ms()).status().code() == Code::kForbidden);

  // A stale list (version not raised) and one signed by someone else are refused.
  CHECK(box.set_devices(devices).status().code() == Code::kForbidden);
  DeviceList forged = fewer;
  forged.version = 3;
  forged.devices.push_back({stranger, "evil", 3});
  sign_device_list(forged, people.secret("alice"));
  CHECK_FALSE(box.set_devices(forged).ok());
  CHECK(list_as(phone) == 0);
  CHECK(at_primary.devices("bob")->value().devices.size() == 1);
}

TEST_CASE("users: logins are decided and rate-limited per source address at the primary, whichever node they enter") {
  Pair p;
  auto made = make_account("carol", "pass word", "Carol", 1, crypto::KdfLimits::minimum());
  REQUIRE(made.ok());
  REQUIRE(p.a->users->create(made->record, p.clock.wall_ms()).ok());
  CHECK(p.b->users->create(made->record, p.clock.wall_ms()).ok());  // the identical record: a retry
  auto other = make_account("carol", "pass word 2", "Carol", 1, crypto::KdfLimits::minimum());
  CHECK(p.b->users->create(other->record, p.clock.wall_ms()).code() == Code::kExists);

  auto keys = derive_keys("pass word", kdf_params(made->record));
  auto wrong = derive_keys("nope", kdf_params(made->record));
  REQUIRE((keys.ok() && wrong.ok()));
  auto ok = p.b->users->login("carol", keys->auth_key, "10.0.0.1", 0, nullptr);
  REQUIRE_MESSAGE(ok.ok(), ok.status().to_string());
  CHECK(ok->public_key == made->record.public_key);
  auto unknown = p.a->users->login("nobody", keys->auth_key, "10.0.0.1", 0, nullptr);
  auto bad = p.a->users->login("carol", wrong->auth_key, "10.0.0.1", 0, nullptr);
  CHECK(unknown.status().to_string() == bad.status().to_string());
  for (int i = 0; i < 4; ++i) {
    TestNode& entry = i % 2 ? *p.a : *p.b;
    CHECK(entry.users->login("carol", wrong->auth_key, "10.0.0.1", 0, nullptr).status().code() == Code::kUnauthenticated);
  }
  std::int64_t retry = 0;
  auto limited = p.b->users->login("carol", keys->auth_key, "10.0.0.1", 0, &retry);
  CHECK(limited.status().code() == Code::kRateLimited);
  CHECK(retry >= 1);
  CHECK(p.a->users->login("carol", keys->auth_key, "10.0.0.1", 0, nullptr).status().code() == Code::kRateLimited);
  // The guesses came from 10.0.0.1: the owner elsewhere is not locked out.
  CHECK(p.a->users->login("carol", keys->auth_key, "10.0.0.2", 0, nullptr).ok());
  CHECK(p.a->users->login("carol", keys->auth_key, "10.0.0.1", 61'000, nullptr).ok());
}

TEST_CASE("mailbox: an acknowledgement of several entries at the primary reaches the replica as one batch") {
  Pair p(true);
  People people(p);
  TestNode& primary = p.primary_of(user_key("bob"));
  TestNode& replica = p.other_of(user_key("bob"));
  Mailbox box(*primary.repl, MailboxOptions{1000, 100, 1000});
  std::vector<MessageId> ids;
  for (int i = 0; i < 5; ++i) {
    const Envelope e = people.from_alice(static_cast<std::uint8_t>(i + 1), p.clock.wall_ms());
    REQUIRE(box.post(e, p.clock.wall_ms()).ok());
    ids.push_back(e.id);
  }
  // Count the writes the replica receives during the ack.
  int replica_writes = 0;
  auto inner = p.net.nodes[replica.ring.self().address];
  p.net.nodes[replica.ring.self().address] = [&](const Request& r) -> Result<Response> {
    if (std::holds_alternative<StorePutReq>(r) || std::holds_alternative<StoreSyncReq>(r)) ++replica_writes;
    return inner(r);
  };
  const auto puts_before = primary.repl->metrics().puts;
  auto acked =
      box.ack("bob", "", {people.ack_by_bob(ids[0]), people.ack_by_bob(ids[2]), people.ack_by_bob(ids[4])},
              p.clock.wall_ms());
  REQUIRE_MESSAGE(acked.ok(), acked.status().to_string());
  CHECK(*acked == 3);
  CHECK(primary.repl->metrics().puts == puts_before + 3);
  // Three tombstones, one replica call (the batch), not one per entry.
  CHECK_MESSAGE(replica_writes == 1, "replica writes for an ack of 3 entries: ", replica_writes);
  for (int i = 0; i < 5; ++i) {
    auto on_replica =
        replica.records->get(user_key("bob"), mailbox_entry_sub(ids[static_cast<std::size_t>(i)], "alice"));
    REQUIRE(on_replica.ok());
    REQUIRE(on_replica->has_value());
    CHECK_MESSAGE((*on_replica)->tombstone == (i % 2 == 0), "entry ", i, " on the replica: tombstone expected ",
                  i % 2 == 0);
  }
}

TEST_CASE("mailbox: a device's acknowledgement where no device list is found marks that device only") {
  // A new primary that missed the device list's write (before anti-entropy)
  // must not drop an entry the account's other device has not read.
  Pair p(true);
  People people(p);
  Mailbox box(*p.primary_of(user_key("bob")).repl, MailboxOptions{});
  const std::string phone = "00000000000000aa", laptop = "00000000000000bb";
  const Envelope e = people.from_alice(1, p.clock.wall_ms());
  REQUIRE(box.post(e, p.clock.wall_ms()).ok());

  auto acked = box.ack("bob", phone, {people.ack_by_bob(e.id)}, p.clock.wall_ms());
  REQUIRE_MESSAGE(acked.ok(), acked.status().to_string());
  CHECK(*acked == 1);
  auto for_phone = box.list_here("bob", phone, "", 10, p.clock.wall_ms());
  REQUIRE(for_phone.ok());
  CHECK_MESSAGE(for_phone->messages.empty(), "the phone acknowledged it: expected it hidden from the phone");
  auto for_laptop = box.list_here("bob", laptop, "", 10, p.clock.wall_ms());
  REQUIRE(for_laptop.ok());
  CHECK_MESSAGE(for_laptop->messages.size() == 1, "expected the entry kept for the laptop, seen "
                                                      << for_laptop->messages.size());

  // With the list there, the laptop's acknowledgement is the last one: the
  // entry leaves.
  DeviceList list;
  list.owner = "bob";
  list.version = 1;
  list.devices = {{phone, "phone", 1}, {laptop, "laptop", 1}};
  sign_device_list(list, people.secret("bob"));
  REQUIRE(box.set_devices(list).ok());
  acked = box.ack("bob", laptop, {people.ack_by_bob(e.id)}, p.clock.wall_ms());
  REQUIRE_MESSAGE(acked.ok(), acked.status().to_string());
  auto all = box.list_here("bob", "", "", 10, p.clock.wall_ms());
  REQUIRE(all.ok());
  CHECK_MESSAGE(all->messages.empty(), "expected the entry gone once both devices acknowledged it");
}
