// Replicator rules in isolation: one or two nodes over an in-test transport
// and in-memory stores. Whole clusters under churn are tested in tests/sim.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/id.hpp"
#include "core/replication.hpp"
#include "store/memory_store.hpp"
#include "support/fake_core.hpp"

using namespace dws;
using namespace dws::core;

namespace {

using dws::test::FakeClock;
using dws::test::LocalTransport;

struct TestNode {
  TestNode(PeerInfo self, LocalTransport& net, FakeClock& clock, ReplicationOptions opt)
      : rng(self.id), ring(self, dws::test::pair_ring_options(), net, clock, rng) {
    records = std::move(RecordStore::open(disk, RecordStoreOptions{8})).value();
    repl = std::make_unique<Replicator>(ring, *records, net, clock, opt);
    net.nodes[self.address] = [this](const Request& r) -> Result<Response> {
      if (std::holds_alternative<StorePutReq>(r) || std::holds_alternative<StoreGetReq>(r) ||
          std::holds_alternative<StoreSyncReq>(r))
        return repl->handle(r);
      return ring.handle(r);
    };
  }
  SplitMix64 rng;
  Ring ring;
  store::MemoryStore disk;
  std::unique_ptr<RecordStore> records;
  std::unique_ptr<Replicator> repl;
};

// Two nodes, a (id 1000) and b (id 1'000'000), in one stable ring: a holds
// (b, a] as primary, b holds (a, b].
struct Pair {
  explicit Pair(ReplicationOptions opt = {}) {
    a = std::make_unique<TestNode>(PeerInfo{1000, "a"}, net, clock, opt);
    b = std::make_unique<TestNode>(PeerInfo{1'000'000, "b"}, net, clock, opt);
    a->ring.create();
    REQUIRE(b->ring.join("a").ok());
    for (int i = 0; i < 4; ++i) {
      a->ring.stabilize();
      b->ring.stabilize();
    }
    REQUIRE(a->ring.predecessor() == std::optional<PeerInfo>(b->ring.self()));
    REQUIRE(b->ring.predecessor() == std::optional<PeerInfo>(a->ring.self()));
  }
  LocalTransport net;
  FakeClock clock;
  std::unique_ptr<TestNode> a, b;
};

Record rec(Id key, std::uint64_t version, std::string payload, std::string sub = "") {
  Record r;
  r.key = key;
  r.sub = std::move(sub);
  r.version = version;
  r.payload = std::move(payload);
  return r;
}

template <typename T>
T as(const Result<Response>& r) {
  REQUIRE_MESSAGE(r.ok(), "expected success, seen " << r.status().to_string());
  REQUIRE(std::holds_alternative<T>(r.value()));
  return std::get<T>(r.value());
}

StoreSyncReq push_req(const PeerInfo& from, Id a, std::vector<Record> records) {
  StoreSyncReq req;
  req.phase = StoreSyncReq::Phase::kPush;
  req.from = from;
  req.a = a;
  req.b = from.id;
  req.records = std::move(records);
  return req;
}

}  // namespace

TEST_CASE("replication: a put reaches the primary and its successor, and either node reads it") {
  Pair p;
  // 500 lies in (b, a]: a is primary, b its replica. Written through b.
  auto put = p.b->repl->put(rec(500, 3, "hello"));
  REQUIRE_MESSAGE(put.ok(), put.status().to_string());
  CHECK(put->copies == 2);
  CHECK(put->version == 3);
  for (auto* n : {p.a.get(), p.b.get()}) {
    auto stored = n->records->get(500, "");
    REQUIRE(stored.ok());
    REQUIRE_MESSAGE(stored->has_value(), "expected a copy on " << n->ring.self().address);
    CHECK((*stored)->payload == "hello");
  }
  auto got = p.b->repl->get(500, "");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->version == 3);
  CHECK(p.a->repl->metrics().puts == 1);
  CHECK(p.a->repl->held_counts().primary == 1);
  CHECK(p.b->repl->held_counts().replica == 1);
}

TEST_CASE("replication: an older version written later does not win, and the answer says what is stored") {
  Pair p;
  REQUIRE(p.a->repl->put(rec(500, 5, "new")).ok());
  auto put = p.a->repl->put(rec(500, 4, "old"));
  REQUIRE(put.ok());
  CHECK(put->version == 5);
  auto got = p.b->repl->get(500, "");
  REQUIRE(got.ok());
  CHECK((*got)->payload == "new");
}

TEST_CASE("replication: reads fall back to the replica when the primary is down") {
  Pair p;
  REQUIRE(p.a->repl->put(rec(500, 1, "kept")).ok());
  p.net.nodes.erase("a");
  auto got = p.b->repl->get(500, "");
  REQUIRE_MESSAGE(got.ok(), got.status().to_string());
  REQUIRE(got->has_value());
  CHECK((*got)->payload == "kept");
}

TEST_CASE("replication: a record over the size limit is refused, naming its size and the limit") {
  ReplicationOptions opt;
  opt.max_record_bytes = 100;
  Pair p(opt);
  auto put = p.b->repl->put(rec(500, 1, std::string(101, 'x')));
  REQUIRE(!put.ok());
  CHECK(put.status().code() == Code::kPayloadTooLarge);
  CHECK(put.status().message().find("101 bytes") != std::string::npos);
  CHECK(put.status().message().find("limit is 100") != std::string::npos);
  CHECK(p.a->records->count() == 0);
  CHECK(p.b->records->count() == 0);
  // The same check guards the node-to-node path.
  auto direct = p.a->repl->handle(Request{StorePutReq{rec(500, 1, std::string(101, 'x')), true}});
  CHECK(direct.status().code() == Code::kPayloadTooLarge);
  CHECK(p.a->records->count() == 0);
}

TEST_CASE("replication: off the primary, a put or a non-local read answers not_responsible") {
  Pair p;
  // 500 belongs to a; ask b as if it were the primary.
  auto put = p.b->repl->handle(Request{StorePutReq{rec(500, 1, "x"), false}});
  CHECK(put.status().code() == Code::kNotResponsible);
  CHECK(p.b->records->count() == 0);
  auto get = p.b->repl->handle(Request{StoreGetReq{500, "", false}});
  CHECK(get.status().code() == Code::kNotResponsible);
  // A replica read is answered from the local copy.
  auto local = p.b->repl->handle(Request{StoreGetReq{500, "", true}});
  CHECK(local.ok());
}

TEST_CASE("replication: a write that cannot reach W copies is unavailable but stays on the primary") {
  Pair p;
  p.net.nodes.erase("b");
  auto put = p.a->repl->put(rec(500, 1, "alone"));
  REQUIRE(!put.ok());
  CHECK(put.status().code() == Code::kUnavailable);
  CHECK_MESSAGE(put.status().message().find("1 of 2 copies, W = 2") != std::string::npos, put.status().message());
  CHECK(p.a->repl->metrics().quorum_failures >= 1);
  CHECK(p.a->records->count() == 1);
}

TEST_CASE("replication: a sync push with a record outside (a, b] is refused and changes nothing") {
  Pair p;
  const PeerInfo from = p.a->ring.self();
  const Id pred = p.b->ring.self().id;  // a's range is (b, a]
  auto r = p.b->repl->handle(Request{push_req(from, pred, {rec(500, 1, "in"), rec(5000, 1, "out")})});
  REQUIRE(!r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK_MESSAGE(r.status().message().find(to_hex(Id{5000})) != std::string::npos, r.status().message());
  CHECK(p.b->records->count() == 0);
}

TEST_CASE("replication: a sync push with an invalid record is refused whole") {
  ReplicationOptions opt;
  opt.max_record_bytes = 100;
  Pair p(opt);
  const PeerInfo from = p.a->ring.self();
  const Id pred = p.b->ring.self().id;
  auto big = p.b->repl->handle(Request{push_req(from, pred, {rec(500, 1, "ok"), rec(501, 1, std::string(200, 'x'))})});
  CHECK(big.status().code() == Code::kPayloadTooLarge);
  Record bad = rec(502, 1, "ok");
  bad.sub = std::string(kMaxSubSize + 1, 's');
  auto sub = p.b->repl->handle(Request{push_req(from, pred, {rec(500, 1, "ok"), bad})});
  CHECK(sub.status().code() == Code::kInvalidArgument);
  Record neg = rec(503, 1, "ok");
  neg.expires_at = -5;
  auto expires = p.b->repl->handle(Request{push_req(from, pred, {neg})});
  CHECK(expires.status().code() == Code::kInvalidArgument);
  auto bucket = push_req(from, pred, {rec(500, 1, "ok")});
  bucket.buckets = {64};
  CHECK(p.b->repl->handle(Request{bucket}).status().code() == Code::kInvalidArgument);
  CHECK(p.b->records->count() == 0);
}

TEST_CASE("replication: a sync for a range that does not end at the sender, or for the whole ring, is refused") {
  Pair p;
  const PeerInfo from = p.a->ring.self();
  auto wrong_end = push_req(from, p.b->ring.self().id, {rec(500, 1, "x")});
  wrong_end.b = 600;
  CHECK(p.b->repl->handle(Request{wrong_end}).status().code() == Code::kInvalidArgument);
  auto whole = push_req(from, from.id, {rec(500, 1, "x")});
  CHECK(p.b->repl->handle(Request{whole}).status().code() == Code::kInvalidArgument);
  StoreSyncReq compare;
  compare.from = from;
  compare.a = from.id;
  compare.b = from.id;
  CHECK(p.b->repl->handle(Request{compare}).status().code() == Code::kInvalidArgument);
  CHECK(p.b->records->count() == 0);
}

TEST_CASE("replication: anti-entropy moves both ways, resuming answers cut at the limit") {
  ReplicationOptions opt;
  opt.max_sync_records = 3;
  opt.max_sync_passes = 20;
  Pair p(opt);
  // All in one bucket of a's range (b, a], more than one answer's worth:
  // ten items only b has (one key, many subs and a few keys), five only a has.
  std::vector<Record> only_b, only_a;
  for (int i = 0; i < 6; ++i) only_b.push_back(rec(900, 1, "b", "m" + std::to_string(i)));
  for (int i = 0; i < 4; ++i) only_b.push_back(rec(901 + static_cast<Id>(i), 1, "b"));
  for (int i = 0; i < 5; ++i) only_a.push_back(rec(950 + static_cast<Id>(i), 1, "a"));
  REQUIRE(p.b->records->merge(only_b, p.clock.wall_ms()).ok());
  REQUIRE(p.a->records->merge(only_a, p.clock.wall_ms()).ok());
  // One item both have, b's copy newer.
  REQUIRE(p.a->records->merge(rec(960, 1, "old"), p.clock.wall_ms()).ok());
  REQUIRE(p.b->records->merge(rec(960, 2, "new"), p.clock.wall_ms()).ok());

  p.a->repl->sync_round();
  const Id lo = p.b->ring.self().id, hi = p.a->ring.self().id;
  auto da = p.a->records->range_digest(lo, hi);
  auto db = p.b->records->range_digest(lo, hi);
  REQUIRE(da.ok());
  REQUIRE(db.ok());
  CHECK_MESSAGE(*da == *db, "expected equal digests after one round, differing buckets: "
                                << differing_buckets(*da, *db).size());
  CHECK(p.a->records->count() == 16);
  CHECK(p.b->records->count() == 16);
  auto r960 = p.a->records->get(960, "");
  REQUIRE(r960.ok());
  CHECK((*r960)->payload == "new");
  const auto m = p.a->repl->metrics();
  CHECK(m.sync_records_moved == 16);  // 11 into a, 5 into b
  CHECK(m.sync_bytes_moved > 0);
}

TEST_CASE("replication: a node drops copies it no longer holds once their primary has them") {
  Pair p;
  // 500 is a's; b got a copy long ago from a sync that has since expired.
  REQUIRE(p.a->repl->put(rec(500, 1, "x")).ok());
  // Another item only b has, outside b's range and never synced to it.
  REQUIRE(p.b->records->merge(rec(600, 1, "stray"), p.clock.wall_ms()).ok());
  // With n = 2 b is a's replica and keeps both.
  p.b->repl->sync_round();
  CHECK(p.b->records->count() == 2);

  ReplicationOptions one;
  one.replicas = 1;
  one.write_quorum = 1;
  Pair q(one);
  REQUIRE(q.b->records->merge(rec(600, 1, "stray"), q.clock.wall_ms()).ok());
  q.b->repl->sync_round();
  // n = 1: b is not a holder of 600, so it hands the item to a and drops it.
  CHECK(q.b->records->count() == 0);
  auto at_a = q.a->records->get(600, "");
  REQUIRE(at_a.ok());
  CHECK(at_a->has_value());
  CHECK(q.b->repl->metrics().handed_off == 1);
  CHECK(q.b->repl->metrics().gc_erased == 1);
}

TEST_CASE("replication: expired records and tombstones are purged by a round") {
  Pair p;
  Record t = rec(500, 2, "");
  t.tombstone = true;
  t.expires_at = p.clock.wall_ms() + 1000;
  REQUIRE(p.a->repl->put(t).ok());
  auto seen = p.a->repl->get(500, "");
  REQUIRE(seen.ok());
  REQUIRE(seen->has_value());
  CHECK((*seen)->tombstone);
  p.clock.now += 1000;
  auto gone = p.a->repl->get(500, "");
  REQUIRE(gone.ok());
  CHECK(!gone->has_value());
  p.a->repl->sync_round();
  p.b->repl->sync_round();
  CHECK(p.a->records->count() == 0);
  CHECK(p.b->records->count() == 0);
  auto late = p.a->repl->put(t);
  CHECK(late.status().code() == Code::kInvalidArgument);
}

TEST_CASE("replication: a graceful hand-off pushes the primary range to the successor in batches") {
  ReplicationOptions opt;
  opt.max_sync_records = 4;
  Pair p(opt);
  std::vector<Record> mine;
  for (int i = 0; i < 10; ++i) mine.push_back(rec(100 + static_cast<Id>(i), 1, "a"));
  for (int i = 0; i < 3; ++i) mine.push_back(rec(200, 1, "a", "s" + std::to_string(i)));
  REQUIRE(p.a->records->merge(mine, p.clock.wall_ms()).ok());
  REQUIRE(p.a->repl->hand_off().ok());
  CHECK(p.b->records->count() == 13);
  CHECK(p.a->repl->metrics().handed_off == 13);
}

TEST_CASE("replication: a range's replica set skips the primary's machine and repeats none") {
  using dws::PeerInfo;
  auto at = [](const std::string& a) { return PeerInfo{dws::core::node_id(a), a}; };
  const PeerInfo primary = at("a:1#2");
  const std::vector<PeerInfo> successors{at("a:1"), at("b:1#1"), at("b:1"), at("a:1#3"), at("c:1#4"), at("d:1")};
  auto set = dws::core::replica_set(primary, successors, 3);
  REQUIRE(set.size() == 2);
  CHECK(set[0].address == "b:1#1");
  CHECK(set[1].address == "c:1#4");
  CHECK(dws::core::replica_set(primary, successors, 1).empty());
  // One position per node: the first n-1 successors, as before virtual nodes.
  const std::vector<PeerInfo> plain{at("b:1"), at("c:1"), at("d:1")};
  auto first = dws::core::replica_set(at("a:1"), plain, 3);
  REQUIRE(first.size() == 2);
  CHECK(first[0].address == "b:1");
  CHECK(first[1].address == "c:1");
  // Fewer machines than copies: as many as there are.
  CHECK(dws::core::replica_set(primary, {at("a:1"), at("b:1"), at("b:1#1")}, 3).size() == 1);
}
