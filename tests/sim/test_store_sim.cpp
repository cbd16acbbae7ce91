// Seeded simulations of replicated storage (DESIGN.md sections 4 and 10). A
// failure prints its seed; DWS_SIM_SEED=<seed> replays exactly that run.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/id.hpp"
#include "sim/store_sim.hpp"

using dws::Code;
using dws::Id;
using dws::core::Record;
using dws::sim::Address;
using dws::sim::StoreSim;
using dws::sim::StoreSimOptions;

namespace {

// A quiet ring must be correct again within this many rounds.
constexpr int kConvergeBound = 60;

StoreSimOptions sim_options() {
  StoreSimOptions o;
  o.sync_every = 5;  // one anti-entropy round per simulated second
  // Long enough for a primary to sync every replica several times, short
  // enough that copies a membership change made surplus go within seconds.
  o.replication.held_range_ttl_ms = 6 * o.sync_every * o.ring.stabilize_ms;
  o.replication.max_sync_records = 4;  // tiny, so answers are cut and resume
  o.replication.gc_batch = 200;
  return o;
}

template <typename T>
T pick(StoreSim& sim, const std::vector<T>& v) {
  return v[sim.rng().uniform(v.size())];
}

bool coin(StoreSim& sim, int per_mille) { return static_cast<int>(sim.rng().uniform(1000)) < per_mille; }

std::string grow(StoreSim& sim, int count) {
  int started = 0;
  while (started < count) {
    const int live = static_cast<int>(sim.live_nodes().size());
    const int wave = std::min(std::max(1, live), count - started);
    for (int i = 0; i < wave; ++i) {
      auto s = sim.start(sim.ring_sim().new_address());
      if (!s.ok()) return "start failed: " + s.to_string();
      ++started;
    }
    sim.round();
  }
  std::string why;
  if (sim.ring_sim().converge(100, &why) < 0) return "the grown ring did not converge: " + why;
  return {};
}

// Runs anti-entropy periods until every item sits on exactly its n nodes;
// the periods it took, or -1 with the last violation in `why`.
int settle(StoreSim& sim, int max_periods, std::string& why) {
  for (int k = 0;; ++k) {
    why = sim.check_placement();
    if (why.empty()) return k;
    if (k >= max_periods) return -1;
    sim.sync_period();
  }
}

// One item of the workload and what the cluster acknowledged for it.
struct Item {
  Id key = 0;
  std::string sub;
  std::uint64_t next_version = 1;
  std::uint64_t acked = 0;         // highest acknowledged version (0: none)
  bool tombstone_sent = false;     // no write follows a delete
  bool tombstone_acked = false;
  std::uint64_t tombstone_version = 0;
};

// Restarts every down node and waits for one correct ring and settled copies.
std::string quiesce(StoreSim& sim, int& periods) {
  sim.net().faults() = {};
  sim.net().heal();
  for (int attempt = 0; attempt < 5 && !sim.down_nodes().empty(); ++attempt) {
    for (const auto& a : sim.down_nodes()) (void)sim.start(a);
    sim.round();
  }
  if (!sim.down_nodes().empty()) return "expected every node to restart, seen " +
                                        std::to_string(sim.down_nodes().size()) + " still down";
  std::string why;
  if (sim.ring_sim().converge(kConvergeBound, &why) < 0)
    return "expected one correct ring within " + std::to_string(kConvergeBound) + " quiet rounds, seen: " + why;
  periods = settle(sim, 40, why);
  if (periods < 0) return "expected every item on exactly its n nodes within 40 sync periods, seen: " + why;
  return {};
}

}  // namespace

TEST_CASE("store sim: 32 nodes under writes, joins, crashes, restarts, leaves and partitions lose no acknowledged write") {
  const auto seeds = dws::sim::seeds_from_env(5000, 100);
  long writes = 0, acked = 0, tombstones = 0, item_count = 0;
  long joins = 0, crashes = 0, restarts = 0, leaves = 0, partitions = 0;
  int worst_periods = 0;
  // Records moved by anti-entropy, and surplus copies handed to their primary.
  struct Moved {
    std::uint64_t sync = 0, handed = 0;
    void add(const dws::sim::StoreTotals& before, const dws::sim::StoreTotals& after) {
      sync += after.sync_records_moved - before.sync_records_moved;
      handed += after.handed_off - before.handed_off;
    }
  };
  Moved moved_join, moved_crash, moved_restart;
  long measured = 0;
  for (auto seed : seeds) {
    INFO("seed " << seed << " (replay with DWS_SIM_SEED=" << seed << ")");
    StoreSim sim(seed, sim_options());
    const std::string grown = grow(sim, 32);
    REQUIRE_MESSAGE(grown.empty(), grown);
    const auto& ropt = sim.options().replication;

    std::vector<Item> items;
    auto& faults = sim.net().faults();
    faults.request_loss = 0.01;
    faults.response_loss = 0.01;
    faults.duplicate = 0.01;
    bool partitioned = false;
    for (int step = 0; step < 200; ++step) {
      // Writes through random live nodes; only acknowledged ones count.
      for (int w = 0; w < 4; ++w) {
        const auto live = sim.live_nodes();
        const Address via = pick(sim, live);
        std::vector<std::size_t> open;
        for (std::size_t i = 0; i < items.size(); ++i)
          if (!items[i].tombstone_sent) open.push_back(i);
        const int dice = static_cast<int>(sim.rng().uniform(100));
        std::size_t at;
        if (open.empty() || dice < 30) {
          Item it;
          // Some items share a ring key with another under a different sub.
          if (!items.empty() && dice < 6) {
            it.key = pick(sim, items).key;
            it.sub = "m" + std::to_string(items.size());
          } else {
            it.key = dws::core::id_of("item:" + std::to_string(seed) + ":" + std::to_string(items.size()));
          }
          items.push_back(it);
          at = items.size() - 1;
        } else {
          at = pick(sim, open);
        }
        Item& it = items[at];
        Record r;
        r.key = it.key;
        r.sub = it.sub;
        r.version = it.next_version++;
        r.tombstone = dice >= 88 && it.acked > 0;
        if (r.tombstone) {
          r.expires_at = sim.net().clock().wall_ms() + ropt.tombstone_ttl_ms;
          it.tombstone_sent = true;
          it.tombstone_version = r.version;
          ++tombstones;
        } else {
          r.payload = "v" + std::to_string(r.version) + ":" + std::to_string(sim.rng().next());
        }
        ++writes;
        auto put = sim.replicator(via)->put(r);
        if (put.ok()) {
          ++acked;
          it.acked = std::max(it.acked, r.version);
          if (r.tombstone) it.tombstone_acked = true;
        } else {
          const bool expected = put.status().code() == Code::kUnavailable ||
                                put.status().code() == Code::kNotResponsible;
          REQUIRE_MESSAGE(expected, "expected a put to succeed or fail with unavailable/not_responsible, seen "
                                        << put.status().to_string());
        }
      }

      const auto live = sim.live_nodes();
      if (coin(sim, 40) && live.size() < 40) joins += sim.start(sim.ring_sim().new_address()).ok();
      if (coin(sim, 60)) {
        const Address victim = pick(sim, live);
        if (sim.may_crash(victim)) {
          sim.crash(victim);
          ++crashes;
        }
      }
      const auto down = sim.down_nodes();
      if (!down.empty() && coin(sim, 80)) restarts += sim.start(pick(sim, down)).ok();
      if (coin(sim, 10) && live.size() > 24) {
        const Address who = pick(sim, sim.live_nodes());
        (void)sim.leave(who);  // a failed hand-off is what anti-entropy repairs
        ++leaves;
      }
      if (!partitioned && coin(sim, 20)) {
        // Mostly an arc of the ring cut off from the rest; sometimes a
        // random quarter of the nodes, which splits every neighbourhood.
        auto order = sim.live_nodes();
        std::vector<Address> side;
        if (coin(sim, 750)) {
          const std::size_t len = 4 + sim.rng().uniform(9);
          const std::size_t from = sim.rng().uniform(order.size());
          for (std::size_t k = 0; k < len && k < order.size(); ++k) side.push_back(order[(from + k) % order.size()]);
        } else {
          for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[sim.rng().uniform(i)]);
          side.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(order.size() / 4));
        }
        sim.net().partition(side);
        partitioned = true;
        ++partitions;
      } else if (partitioned && coin(sim, 100)) {
        sim.net().heal();
        partitioned = false;
      }
      sim.round();
    }

    item_count += static_cast<long>(items.size());
    int periods = 0;
    std::string why = quiesce(sim, periods);
    REQUIRE_MESSAGE(why.empty(), why);
    worst_periods = std::max(worst_periods, periods);

    // Every acknowledged write reads back at its last acknowledged version
    // or a later one, from any node; deleted items read as tombstones.
    const auto live = sim.live_nodes();
    for (const Item& it : items) {
      if (it.acked == 0) continue;
      const Address via = pick(sim, live);
      auto got = sim.replicator(via)->get(it.key, it.sub);
      CAPTURE(dws::core::to_hex(it.key));
      CAPTURE(it.sub);
      REQUIRE_MESSAGE(got.ok(), "expected a read through " << via << " to succeed, seen " << got.status().to_string());
      REQUIRE_MESSAGE(got->has_value(), "expected version >= " << it.acked << ", seen no record");
      const Record& r = **got;
      REQUIRE_MESSAGE(r.version >= it.acked, "expected version >= " << it.acked << ", seen " << r.version);
      if (it.tombstone_acked)
        REQUIRE_MESSAGE((r.tombstone && r.version == it.tombstone_version),
                        "expected the acknowledged delete (tombstone v" << it.tombstone_version << "), seen v"
                                                                        << r.version << " tombstone=" << r.tombstone);
    }

    // Records moved by one join, one crash and one restart on the quiet ring.
    {
      auto before = sim.totals();
      REQUIRE(sim.start(sim.ring_sim().new_address()).ok());
      why = quiesce(sim, periods);
      REQUIRE_MESSAGE(why.empty(), "after one join: " << why);
      moved_join.add(before, sim.totals());

      Address victim;
      for (int tries = 0; tries < 100 && victim.empty(); ++tries) {
        const Address a = pick(sim, sim.live_nodes());
        if (sim.may_crash(a)) victim = a;
      }
      REQUIRE(!victim.empty());
      sim.crash(victim);
      before = sim.totals();
      REQUIRE(sim.ring_sim().converge(kConvergeBound, &why) >= 0);
      REQUIRE_MESSAGE(settle(sim, 40, why) >= 0, "after one crash: " << why);
      moved_crash.add(before, sim.totals());

      before = sim.totals();
      REQUIRE(sim.start(victim).ok());
      why = quiesce(sim, periods);
      REQUIRE_MESSAGE(why.empty(), "after one restart: " << why);
      moved_restart.add(before, sim.totals());
      ++measured;
    }
  }
  const auto per = [&](const Moved& m) {
    const auto d = static_cast<double>(measured);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.1f by sync + %.1f handed off", static_cast<double>(m.sync) / d,
                  static_cast<double>(m.handed) / d);
    return std::string(buf);
  };
  MESSAGE("store churn: " << seeds.size() << " seeds; " << writes << " writes to " << item_count << " items (" << tombstones << " deletes), "
                          << acked << " acknowledged; " << joins << " joins, " << crashes << " crashes, " << restarts
                          << " restarts, " << leaves << " leaves, " << partitions
                          << " partitions; sync periods to settle after quiet: max " << worst_periods
                          << "; records moved per join: " << per(moved_join) << "; per crash: " << per(moved_crash)
                          << "; per restart: " << per(moved_restart) << " (" << measured << " of each)");
}

TEST_CASE("store sim: a write that reaches fewer than W copies is refused, then repaired once healed") {
  const auto seeds = dws::sim::seeds_from_env(7000, 10);
  for (auto seed : seeds) {
    INFO("seed " << seed << " (replay with DWS_SIM_SEED=" << seed << ")");
    StoreSim sim(seed, sim_options());
    const std::string grown = grow(sim, 6);
    REQUIRE_MESSAGE(grown.empty(), grown);

    const Id key = dws::core::id_of("lonely:" + std::to_string(seed));
    const auto order = sim.live_nodes();
    std::vector<dws::PeerInfo> members;
    for (const auto& a : order) members.push_back(sim.ring_sim().info(a));
    const auto primary = dws::sim::RingSim::oracle(members, key);
    const auto at = static_cast<std::size_t>(
        std::find(order.begin(), order.end(), primary.address) - order.begin());
    const Address s1 = order[(at + 1) % order.size()];
    const Address s2 = order[(at + 2) % order.size()];
    sim.net().cut(primary.address, s1);
    sim.net().cut(primary.address, s2);

    Record r;
    r.key = key;
    r.version = 7;
    r.payload = "only on the primary";
    auto put = sim.replicator(primary.address)->put(r);
    REQUIRE_MESSAGE(!put.ok(), "expected unavailable with 2 of 3 replicas cut off, seen success with "
                                   << put->copies << " copies");
    CHECK_MESSAGE(put.status().code() == Code::kUnavailable, "expected unavailable, seen " << put.status().to_string());
    CHECK_MESSAGE(put.status().message().find("1 of 3") != std::string::npos,
                  "expected the message to say 1 of 3 copies, seen " << put.status().message());
    CHECK(sim.replicator(primary.address)->metrics().quorum_failures >= 1);
    auto local = sim.records(primary.address)->get(key, "");
    REQUIRE(local.ok());
    CHECK_MESSAGE(local->has_value(), "expected the primary to keep its copy of the refused write");

    sim.net().heal();
    std::string why;
    REQUIRE(sim.ring_sim().converge(kConvergeBound, &why) >= 0);
    REQUIRE_MESSAGE(settle(sim, 10, why) >= 0, why);
    for (const Address& a : {primary.address, s1, s2}) {
      auto copy = sim.records(a)->get(key, "");
      REQUIRE(copy.ok());
      REQUIRE_MESSAGE(copy->has_value(), "expected anti-entropy to copy the record to " << a);
      CHECK((*copy)->version == 7);
    }
    auto got = sim.replicator(pick(sim, order))->get(key, "");
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK((*got)->payload == "only on the primary");
  }
}

TEST_CASE("store sim: a graceful leave hands its range over before it goes") {
  const auto seeds = dws::sim::seeds_from_env(8000, 10);
  for (auto seed : seeds) {
    INFO("seed " << seed << " (replay with DWS_SIM_SEED=" << seed << ")");
    auto opt = sim_options();
    opt.replication.replicas = 1;  // the leaving node holds the only copy
    opt.replication.write_quorum = 1;
    StoreSim sim(seed, opt);
    const std::string grown = grow(sim, 8);
    REQUIRE_MESSAGE(grown.empty(), grown);
    std::vector<Id> keys;
    for (int i = 0; i < 200; ++i) {
      Record r;
      r.key = dws::core::id_of("leave:" + std::to_string(seed) + ":" + std::to_string(i));
      r.version = 1;
      r.payload = "p" + std::to_string(i);
      REQUIRE(sim.replicator(pick(sim, sim.live_nodes()))->put(r).ok());
      keys.push_back(r.key);
    }
    const Address leaving = pick(sim, sim.live_nodes());
    const auto held = sim.records(leaving)->count();
    REQUIRE_MESSAGE(sim.leave(leaving).ok(), "expected the hand-off to succeed");
    // No sync round has run since: only the hand-off can have saved them.
    for (Id k : keys) {
      auto got = sim.replicator(pick(sim, sim.live_nodes()))->get(k, "");
      REQUIRE_MESSAGE(got.ok(), "expected a read of " << dws::core::to_hex(k) << ", seen " << got.status().to_string());
      REQUIRE_MESSAGE(got->has_value(), "expected key " << dws::core::to_hex(k) << " after " << leaving
                                                        << " left holding " << held << " records, seen none");
    }
  }
}
