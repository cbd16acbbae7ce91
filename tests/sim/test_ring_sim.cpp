// Seeded simulations of the ring (DESIGN.md sections 3 and 10). A failure
// prints its seed; DWS_SIM_SEED=<seed> replays exactly that run.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "seeds.hpp"
#include "sim/sim.hpp"

using dws::sim::Address;
using dws::sim::RingSim;

namespace {

// A quiet ring must be correct again within this many stabilization rounds.
constexpr int kConvergeBound = 30;

// Starts `count` nodes, joining in waves of at most the current ring size
// with one round between waves, then waits until the ring is correct.
std::string grow(RingSim& sim, int count) {
  int started = 0;
  while (started < count) {
    const int live = static_cast<int>(sim.live_nodes().size());
    const int wave = std::min(std::max(1, live), count - started);
    for (int i = 0; i < wave; ++i) {
      auto s = sim.start(sim.new_address());
      if (!s.ok()) return "start failed: " + s.to_string();
      ++started;
    }
    sim.round();
  }
  std::string why;
  if (sim.converge(100, &why) < 0) return "the grown ring did not converge: " + why;
  return {};
}

template <typename T>
T pick(RingSim& sim, const std::vector<T>& v) {
  return v[sim.rng().uniform(v.size())];
}

bool coin(RingSim& sim, int percent) { return static_cast<int>(sim.rng().uniform(100)) < percent; }

}  // namespace

TEST_CASE("ring sim: 64 nodes under joins, crashes, restarts and loss converge and agree with the oracle") {
  int worst = 0;
  long total = 0;
  long joins = 0, crashes = 0, restarts = 0, leaves = 0;
  std::uint64_t lost = 0, duplicated = 0;
  const auto seeds = dws::sim::seeds_from_env(1000, 100);
  for (auto seed : seeds) {
    INFO("seed " << seed << " (replay with DWS_SIM_SEED=" << seed << ")");
    RingSim sim(seed);
    const std::string grown = grow(sim, 56);
    REQUIRE_MESSAGE(grown.empty(), grown);

    auto& faults = sim.net().faults();
    faults.request_loss = 0.02;
    faults.response_loss = 0.01;
    faults.duplicate = 0.01;
    faults.max_delay_ms = 20;
    for (int step = 0; step < 40; ++step) {
      const auto live = sim.live_nodes();
      // Joins and restarts may fail under loss; the node then stays out.
      if (coin(sim, 40) && live.size() < 72) joins += sim.start(sim.new_address()).ok();
      if (coin(sim, 35)) {
        const Address victim = pick(sim, live);
        if (sim.may_crash(victim)) {
          sim.crash(victim);
          ++crashes;
        }
      }
      const auto down = sim.down_nodes();
      if (!down.empty() && coin(sim, 25)) restarts += sim.start(pick(sim, down)).ok();
      if (coin(sim, 5) && live.size() > 8) {
        sim.leave(pick(sim, sim.live_nodes()));
        ++leaves;
      }
      sim.round();
    }
    lost += sim.net().stats().lost;
    duplicated += sim.net().stats().duplicates;
    faults = {};
    std::string why;
    const int rounds = sim.converge(kConvergeBound, &why);
    CAPTURE(sim.live_nodes().size());
    REQUIRE_MESSAGE(rounds >= 0, "expected a correct ring within " << kConvergeBound << " quiet rounds, seen: " << why);
    const std::string after = sim.check(256);
    REQUIRE_MESSAGE(after.empty(), "expected 256 lookups to agree with the oracle, seen: " << after);
    worst = std::max(worst, rounds);
    total += rounds;
  }
  MESSAGE("churn: " << seeds.size() << " seeds; " << joins << " joins, " << crashes << " crashes, " << restarts
                     << " restarts, " << leaves << " leaves, " << lost << " messages lost, " << duplicated
                     << " duplicated; quiet rounds to converge: max " << worst << ", mean "
                     << static_cast<double>(total) / static_cast<double>(seeds.size()));
}

TEST_CASE("ring sim: a 32-node ring split in two halves becomes two rings, then one again once healed") {
  int worst_split = 0;
  int worst_heal = 0;
  const auto seeds = dws::sim::seeds_from_env(2000, 20);
  for (auto seed : seeds) {
    INFO("seed " << seed << " (replay with DWS_SIM_SEED=" << seed << ")");
    RingSim sim(seed);
    const std::string grown = grow(sim, 32);
    REQUIRE_MESSAGE(grown.empty(), grown);

    // Even seeds cut the ring into two arcs, odd seeds into two interleaved
    // random halves (every node loses neighbours).
    std::vector<Address> all = sim.live_nodes();
    if (seed % 2 == 1)
      for (std::size_t i = all.size(); i > 1; --i) std::swap(all[i - 1], all[sim.rng().uniform(i)]);
    const std::vector<Address> left(all.begin(), all.begin() + 16);
    const std::vector<Address> right(all.begin() + 16, all.end());
    sim.net().partition(left);
    // Each half must become a correct ring of its own while cut off.
    int split = -1;
    for (int i = 1; i <= 20; ++i) {
      sim.round();
      if (split < 0 && sim.check(8, left).empty() && sim.check(8, right).empty()) split = i;
    }
    std::string why = sim.check(32, left);
    REQUIRE_MESSAGE(why.empty(), "expected the left half to be a ring of its own after 20 rounds, seen: " << why);
    why = sim.check(32, right);
    REQUIRE_MESSAGE(why.empty(), "expected the right half to be a ring of its own after 20 rounds, seen: " << why);
    worst_split = std::max(worst_split, split);

    sim.net().heal();
    const int healed = sim.converge(kConvergeBound, &why);
    REQUIRE_MESSAGE(healed >= 0, "expected one ring within " << kConvergeBound << " rounds of healing, seen: " << why);
    worst_heal = std::max(worst_heal, healed);
  }
  MESSAGE("partition: " << seeds.size() << " seeds, rounds until both halves are rings: max " << worst_split
                        << ", rounds to merge after healing: max " << worst_heal);
}

TEST_CASE("ring sim: graceful leaves splice pointers at once and keep every invariant") {
  int worst = 0;
  const auto seeds = dws::sim::seeds_from_env(3000, 20);
  for (auto seed : seeds) {
    INFO("seed " << seed << " (replay with DWS_SIM_SEED=" << seed << ")");
    RingSim sim(seed);
    const std::string grown = grow(sim, 32);
    REQUIRE_MESSAGE(grown.empty(), grown);
    // Eight leaves with no stabilization in between, neighbours included.
    for (int i = 0; i < 8; ++i) {
      const auto live = sim.live_nodes();
      const Address gone = live[sim.rng().uniform(live.size())];
      sim.leave(gone);
      const std::string pointers = sim.check_pointers();
      REQUIRE_MESSAGE(pointers.empty(), "expected first successors and predecessors right right after "
                                            << gone << " left, seen: " << pointers);
    }
    std::string why;
    const int rounds = sim.converge(kConvergeBound, &why);
    REQUIRE_MESSAGE(rounds >= 0, "expected a correct ring after leaves, seen: " << why);
    worst = std::max(worst, rounds);
  }
  MESSAGE("leave: rounds until successor lists are whole again: max " << worst);
}

TEST_CASE("ring sim: a ring shrinks to one node and grows back") {
  const auto seeds = dws::sim::seeds_from_env(4000, 10);
  for (auto seed : seeds) {
    INFO("seed " << seed << " (replay with DWS_SIM_SEED=" << seed << ")");
    RingSim sim(seed);
    const std::string grown = grow(sim, 6);
    REQUIRE_MESSAGE(grown.empty(), grown);
    // Crash down to one node, one at a time, converging in between.
    while (sim.live_nodes().size() > 1) {
      sim.crash(pick(sim, sim.live_nodes()));
      std::string why;
      REQUIRE_MESSAGE(sim.converge(kConvergeBound, &why) >= 0,
                      "expected convergence with " << sim.live_nodes().size() << " nodes, seen: " << why);
    }
    const std::string regrown = grow(sim, 5);
    REQUIRE_MESSAGE(regrown.empty(), regrown);
  }
}

TEST_CASE("ring sim: a seed replays exactly") {
  auto run = [](std::uint64_t seed) {
    RingSim sim(seed);
    std::string trace = grow(sim, 24);
    sim.net().faults().request_loss = 0.05;
    sim.net().faults().max_delay_ms = 30;
    for (int i = 0; i < 10; ++i) {
      const auto live = sim.live_nodes();
      const Address victim = pick(sim, live);
      if (sim.may_crash(victim)) sim.crash(victim);
      sim.round();
    }
    trace += std::to_string(sim.net().stats().calls) + "/" + std::to_string(sim.net().clock().monotonic_ms());
    for (const auto& a : sim.live_nodes()) {
      trace += " " + a + ":";
      for (const auto& s : sim.ring(a)->successors()) trace += s.address + ",";
    }
    return trace;
  };
  const auto seed = dws::sim::seeds_from_env(5000, 1).front();
  INFO("seed " << seed);
  const std::string first = run(seed);
  CHECK(first == run(seed));
  CHECK(first != run(seed + 1));
}

TEST_CASE("ring sim: forged notifies, leaves and successor lists naming absent or misnamed nodes are not adopted") {
  using dws::PeerInfo;
  using namespace dws::core;
  const auto seeds = dws::sim::seeds_from_env(5000, 10);
  for (auto seed : seeds) {
    INFO("seed " << seed << " (replay with DWS_SIM_SEED=" << seed << ")");
    RingSim sim(seed);
    const std::string grown = grow(sim, 16);
    REQUIRE_MESSAGE(grown.empty(), grown);
    const auto live = sim.live_nodes();
    const Address target = pick(sim, live);
    Ring* t = sim.ring(target);
    const auto pred = t->predecessor();
    const auto succ = t->successors();
    REQUIRE(pred.has_value());
    REQUIRE(succ.size() >= 2);
    // A node that does not exist, one whose id lies just before the target
    // (the best placed claim there is), and a live node's address with a
    // claimed id that is not its own.
    const PeerInfo ghost = sim.info(sim.new_address());
    const PeerInfo misnamed{t->self().id - 1, succ[1].address};
    // Claims are acknowledged (a ghost's) or refused as misnamed; either
    // way nothing is adopted.
    for (const PeerInfo& claim : {ghost, misnamed}) {
      t->handle(NotifyReq{claim});
      t->handle(LeaveReq{succ[0], claim, {claim}});  // succ[0] is alive: not leaving
      t->handle(LeaveReq{*pred, claim, {claim}});
      t->handle(LeaveReq{claim, claim, {claim}});
    }
    CHECK(t->handle(NotifyReq{misnamed}).status().code() == dws::Code::kInvalidArgument);
    CHECK(t->predecessor() == pred);
    CHECK(t->successors() == succ);
    // The target's first successor lies about its list: every entry but
    // its own is absent or misnamed. Nothing of it reaches the target.
    Ring* s = sim.ring(succ[0].address);
    sim.net().attach(succ[0].address, [&, s](const Request& r) -> dws::Result<Response> {
      if (std::holds_alternative<StateReq>(r)) {
        auto real = s->handle(r);
        if (!real.ok()) return real;
        auto view = std::get<StateResp>(*real).view;
        view.successors = {ghost, misnamed};
        return Response{StateResp{view}};
      }
      return s->handle(r);
    });
    t->stabilize();
    const auto after = t->successors();
    REQUIRE(!after.empty());
    CHECK(after.front() == succ[0]);
    for (const auto& p : after) {
      CHECK(p != ghost);
      CHECK(p != misnamed);
    }
    // Honest again, the ring is whole within the usual bound.
    sim.net().attach(succ[0].address, [s](const Request& r) { return s->handle(r); });
    std::string why;
    REQUIRE_MESSAGE(sim.converge(kConvergeBound, &why) >= 0, why);
  }
}
