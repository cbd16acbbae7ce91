// The Replicator with the real RecordValidator: a record that fails is
// refused on every path that stores one (client write at the primary,
// replica copy, sync push, sync answer, batch, the audit of a restarted
// node's store) and counted by reason; garbage collection erases a copy
// only once every holder, asked directly, shows its own.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/account.hpp"
#include "core/id.hpp"
#include "core/key_directory.hpp"
#include "core/replication.hpp"
#include "core/validation.hpp"
#include "store/memory_store.hpp"
#include "support/fake_core.hpp"

using namespace dws;
using namespace dws::core;

namespace {

using dws::test::FakeClock;
using dws::test::LocalTransport;

struct CheckedNode {
  CheckedNode(PeerInfo self, LocalTransport& net, FakeClock& clock, ReplicationOptions opt, RingOptions ring_opt)
      : rng(self.id), ring(self, std::move(ring_opt), net, clock, rng) {
    records = std::move(RecordStore::open(disk, RecordStoreOptions{8})).value();
    repl = std::make_unique<Replicator>(ring, *records, net, clock, opt);
    keys = std::make_unique<RingKeyDirectory>(*repl, *records, clock);
    validator = std::make_unique<RecordValidator>(*keys, ValidationOptions{});
    repl->set_validator(validator.get());
    repl->set_on_rejected([this](const Record&, const Verdict& v, const std::string&) { refusals.push_back(v); });
    net.nodes[self.address] = [this](const Request& r) -> Result<Response> { return handle(r); };
  }
  Result<Response> handle(const Request& r) {
    if (std::holds_alternative<StorePutReq>(r) || std::holds_alternative<StoreGetReq>(r) ||
        std::holds_alternative<StoreSyncReq>(r) || std::holds_alternative<StoreScanReq>(r))
      return repl->handle(r, "test peer");
    return ring.handle(r);
  }
  std::uint64_t rejected(RejectReason reason) const {
    return repl->metrics().rejected[static_cast<std::size_t>(reason)];
  }
  SplitMix64 rng;
  Ring ring;
  store::MemoryStore disk;
  std::unique_ptr<RecordStore> records;
  std::unique_ptr<Replicator> repl;
  std::unique_ptr<RingKeyDirectory> keys;
  std::unique_ptr<RecordValidator> validator;
  std::vector<Verdict> refusals;
};

// Nodes joined through the first and stabilized into one ring.
struct Cluster {
  Cluster(std::vector<Id> ids, ReplicationOptions opt = {}) {
    // The nodes carry hand-picked ids in place of node_id(address): the
    // ring's id check maps "n<i>" to ids[i].
    RingOptions ring_opt;
    ring_opt.id_of = [ids](const Address& a) -> Id {
      if (a.size() > 1 && a[0] == 'n') {
        const std::size_t i = std::stoul(a.substr(1));
        if (i < ids.size()) return ids[i];
      }
      return node_id(a);
    };
    for (std::size_t i = 0; i < ids.size(); ++i)
      nodes.push_back(
          std::make_unique<CheckedNode>(PeerInfo{ids[i], "n" + std::to_string(i)}, net, clock, opt, ring_opt));
    nodes[0]->ring.create();
    for (std::size_t i = 1; i < nodes.size(); ++i) REQUIRE(nodes[i]->ring.join("n0").ok());
    for (int round = 0; round < 12; ++round)
      for (auto& n : nodes) n->ring.stabilize();
  }
  CheckedNode& primary_of(Id key) {
    for (auto& n : nodes)
      if (n->ring.responsible_for(key)) return *n;
    FAIL("no primary");
    return *nodes[0];
  }
  LocalTransport net;
  FakeClock clock;
  std::vector<std::unique_ptr<CheckedNode>> nodes;
};

struct Person {
  explicit Person(const std::string& nick) : keys(crypto::generate_keypair()) {
    account.nickname = nick;
    account.public_key = keys.public_key;
    account.limits = crypto::KdfLimits::minimum();
    account.version = 1;
    sign_account(account, keys.secret_key);
  }
  Record record() const { return Record{user_key(account.nickname), "", account.version, false, 0, encode_account(account)}; }
  crypto::KeyPair keys;
  Account account;
};

// alice's nickname, another key: what a member forging her account sends.
Record forged_alice(std::uint64_t version) {
  Person attacker("alice");
  attacker.account.version = version;
  sign_account(attacker.account, attacker.keys.secret_key);
  return attacker.record();
}

StoreSyncReq push_from(const PeerInfo& from, Id a, std::vector<Record> records) {
  StoreSyncReq req;
  req.phase = StoreSyncReq::Phase::kPush;
  req.from = from;
  req.a = a;
  req.b = from.id;
  req.buckets = {0};
  req.records = std::move(records);
  return req;
}

}  // namespace

TEST_CASE("replication checks: a forged account is refused as a client write, a replica copy and in a sync push") {
  Cluster c({1000, 1'000'000});
  const Person alice("alice");
  const Record real = alice.record();
  CheckedNode& primary = c.primary_of(real.key);
  CheckedNode& replica = &primary == c.nodes[0].get() ? *c.nodes[1] : *c.nodes[0];
  REQUIRE(c.nodes[0]->repl->put(real).ok());

  auto client = replica.repl->put(forged_alice(2));  // through the entry node to the primary
  CHECK(client.status().code() == Code::kForbidden);
  CHECK(primary.rejected(RejectReason::kWrongKey) == 1);

  auto copy = replica.handle(Request{StorePutReq{forged_alice(3), true}});
  CHECK(copy.status().code() == Code::kForbidden);
  CHECK(replica.rejected(RejectReason::kWrongKey) == 1);

  // One push: the forgery is dropped, a valid record beside it is merged.
  const Person bob("bob");
  std::vector<Record> batch{forged_alice(4)};
  if (primary.ring.responsible_for(bob.record().key)) batch.push_back(bob.record());
  auto pushed = replica.handle(Request{push_from(primary.ring.self(), replica.ring.self().id, batch)});
  REQUIRE_MESSAGE(pushed.ok(), pushed.status().to_string());
  CHECK(std::get<StoreSyncResp>(*pushed).merged == batch.size() - 1);
  CHECK(replica.rejected(RejectReason::kWrongKey) == 2);

  for (auto& n : c.nodes) {
    auto got = n->records->get(real.key, "");
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK(**got == real);
  }
  REQUIRE_FALSE(replica.refusals.empty());
  CHECK(replica.refusals.back().status.message().find("wrong_key") != std::string::npos);
}

TEST_CASE("replication checks: a forged record in a sync answer is not merged, and an overflowing version not stored") {
  Cluster c({1000, 1'000'000});
  const Person alice("alice");
  const Record real = alice.record();
  CheckedNode& primary = c.primary_of(real.key);
  CheckedNode& replica = &primary == c.nodes[0].get() ? *c.nodes[1] : *c.nodes[0];
  REQUIRE(primary.repl->put(real).ok());
  // The replica answers every compare with forgeries: another key, and an
  // unsigned tombstone at the last version there is.
  const Record tomb{real.key, "", UINT64_MAX, true, 0, ""};
  c.net.nodes[replica.ring.self().address] = [&](const Request& r) -> Result<Response> {
    if (const auto* s = std::get_if<StoreSyncReq>(&r); s && s->phase == StoreSyncReq::Phase::kCompare) {
      StoreSyncResp resp;
      for (int b = 0; b < kDigestBuckets; ++b) resp.differing.push_back(b);
      resp.records = {forged_alice(9), tomb};
      return Response{resp};
    }
    return replica.handle(r);
  };
  primary.repl->sync_round();
  auto got = primary.records->get(real.key, "");
  REQUIRE((got.ok() && got->has_value()));
  CHECK(**got == real);
  CHECK(primary.rejected(RejectReason::kWrongKey) >= 1);
  CHECK(primary.rejected(RejectReason::kBadVersion) >= 1);
}

TEST_CASE("replication checks: a batch with an unsigned acknowledgement is refused whole at the primary") {
  Cluster c({1000, 1'000'000});
  const Person bob("bob");
  REQUIRE(c.nodes[0]->repl->put(bob.record()).ok());
  CheckedNode& primary = c.primary_of(bob.record().key);
  MessageId id;
  id.bytes[0] = 1;
  const std::string sub = mailbox_entry_sub(id, "alice");
  const std::int64_t expiry = c.clock.wall_ms() + 60'000;
  const Record signed_ack{bob.record().key, sub, kAckVersion, true, expiry,
                          encode_ack_proof(make_ack_proof("bob", sub, bob.keys.secret_key))};
  MessageId other_id;
  other_id.bytes[0] = 2;
  const Record unsigned_ack{bob.record().key, mailbox_entry_sub(other_id, "alice"), kAckVersion, true, expiry, ""};
  auto batch = primary.repl->put_batch(std::vector<Record>{signed_ack, unsigned_ack});
  CHECK(batch.status().code() == Code::kInvalidArgument);
  CHECK(primary.rejected(RejectReason::kMalformed) == 1);
  auto got = primary.records->get(bob.record().key, sub);
  REQUIRE(got.ok());
  CHECK_FALSE(got->has_value());
  CHECK(primary.repl->put_batch(std::vector<Record>{signed_ack}).ok());
}

TEST_CASE("replication checks: records a restarted node finds in its store are checked again, the bad ones dropped") {
  Cluster c({1000, 1'000'000});
  const Person alice("alice");
  CheckedNode& n = *c.nodes[0];
  REQUIRE(n.repl->put(alice.record()).ok());
  // Written behind the checks, as by an older version or a tampered disk.
  Record junk{user_key("mallory"), "", 1, false, 0, "not an account"};
  REQUIRE(n.records->merge(junk, c.clock.wall_ms()).ok());
  n.repl->sync_round();
  auto gone = n.records->get(junk.key, "");
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->has_value());
  auto kept = n.records->get(alice.record().key, "");
  REQUIRE(kept.ok());
  CHECK(kept->has_value());
  CHECK(n.rejected(RejectReason::kMalformed) == 1);
  CHECK(n.repl->metrics().audited >= 2);
}

TEST_CASE("replication checks: garbage collection erases a copy only once every holder shows its own") {
  // Four nodes, n = 3: key 500 lies in (n3, n0], so n0, n1, n2 hold it and
  // n3 holds a stray copy it should give up.
  Cluster c({1000, 1'000'000, 2'000'000'000, 4'000'000'000'000'000'000ULL});
  CheckedNode& primary = *c.nodes[0];
  CheckedNode& stray = *c.nodes[3];
  // A user whose key the first node is primary for.
  Person owner("x0");
  for (int i = 1; !primary.ring.responsible_for(owner.record().key); ++i) owner = Person("x" + std::to_string(i));
  const Record r = owner.record();
  REQUIRE(stray.records->merge(r, c.clock.wall_ms()).ok());

  // The primary lies: it acknowledges the hand-off without storing, and
  // says it holds the record; the other holders honestly do not.
  int lies = 0;
  c.net.nodes[primary.ring.self().address] = [&](const Request& req) -> Result<Response> {
    if (const auto* put = std::get_if<StorePutReq>(&req); put && !put->replica) {
      ++lies;
      return Response{StorePutResp{3, put->record.version}};
    }
    if (const auto* get = std::get_if<StoreGetReq>(&req); get && get->local) {
      ++lies;
      return Response{StoreGetResp{r}};
    }
    return primary.handle(req);
  };
  stray.repl->sync_round();
  CHECK(lies >= 2);
  auto still = stray.records->get(r.key, "");
  REQUIRE(still.ok());
  CHECK_MESSAGE(still->has_value(), "the stray copy was erased on the primary's word alone");
  CHECK(stray.repl->metrics().gc_erased == 0);
  CHECK(stray.repl->metrics().gc_unconfirmed >= 1);

  // Once the other holders really hold it, the copy goes.
  for (std::size_t i = 1; i <= 2; ++i) REQUIRE(c.nodes[i]->records->merge(r, c.clock.wall_ms()).ok());
  stray.repl->sync_round();
  auto gone = stray.records->get(r.key, "");
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->has_value());
  CHECK(stray.repl->metrics().gc_erased == 1);
}

TEST_CASE("replication checks: a read the primary answers with a forgery is served by the replicas") {
  Cluster c({1000, 1'000'000, 2'000'000'000});
  const Person alice("alice");
  const Record real = alice.record();
  for (auto& n : c.nodes) REQUIRE(n->records->merge(real, c.clock.wall_ms()).ok());
  CheckedNode& primary = c.primary_of(real.key);
  CheckedNode* reader = nullptr;
  for (auto& n : c.nodes)
    if (n.get() != &primary) reader = n.get();
  REQUIRE(reader != nullptr);

  // The primary answers every read with a record that does not decode, one
  // whose signature was tampered with, and one at version 2^64-1. (An
  // account that is well signed under another key passes every check a
  // lone record can face; clients, which pin keys, see it as a changed key.)
  Record tampered = real;
  tampered.payload.back() = static_cast<char>(tampered.payload.back() ^ 1);
  const auto refusals = [&] {
    return reader->rejected(RejectReason::kMalformed) + reader->rejected(RejectReason::kBadSignature) +
           reader->rejected(RejectReason::kBadVersion);
  };
  for (const Record& lie : {Record{real.key, "", kMaxVersion, false, 0, ""}, tampered, forged_alice(UINT64_MAX)}) {
    int lies = 0;
    c.net.nodes[primary.ring.self().address] = [&](const Request& req) -> Result<Response> {
      if (std::holds_alternative<StoreGetReq>(req)) {
        ++lies;
        return Response{StoreGetResp{lie}};
      }
      return primary.handle(req);
    };
    const std::uint64_t refused = refusals();
    auto got = reader->repl->get(real.key, "");
    REQUIRE(got.ok());
    CHECK(lies >= 1);
    REQUIRE(got->has_value());
    CHECK_MESSAGE(**got == real, "the reader believed the primary's forged answer");
    CHECK(refusals() > refused);
  }
}
