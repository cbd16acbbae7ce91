// Ring figures from the simulator: lookup hops (mean, p99) and convergence
// rounds after 10% of the nodes crash at once, for N = 64, 256 and 1,024.
// Usage: ring_bench [seed]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/env.hpp"
#include "core/id.hpp"
#include "core/replication.hpp"
#include "node/options.hpp"
#include "sim/sim.hpp"

using dws::sim::Address;
using dws::sim::RingSim;

namespace {

struct Row {
  int n = 0;
  int grow_rounds = 0;
  double mean_hops = 0;
  int p99_hops = 0;
  int max_hops = 0;
  int wrong = 0;
  int failed = 0;
  int crashed = 0;
  int converge_rounds = -1;
  double seconds = 0;
};

constexpr int kLookups = 10'000;
constexpr int kMaxRounds = 200;

Row run(int n, std::uint64_t seed) {
  const auto t0 = std::chrono::steady_clock::now();
  Row row;
  row.n = n;
  RingSim sim(seed);
  // Join in waves (each at most the ring's size), then let fingers settle.
  int started = 0;
  while (started < n) {
    const int wave = std::min(std::max<int>(1, static_cast<int>(sim.live_nodes().size())), n - started);
    for (int i = 0; i < wave; ++i, ++started) {
      auto s = sim.start(sim.new_address());
      if (!s.ok()) std::fprintf(stderr, "join failed: %s\n", s.to_string().c_str());
    }
    sim.round();
  }
  std::string why;
  if (sim.converge(kMaxRounds, &why) < 0) std::fprintf(stderr, "N=%d did not converge: %s\n", n, why.c_str());
  for (int i = 0; i < 40; ++i) sim.round();  // a full finger refresh cycle
  row.grow_rounds = static_cast<int>(sim.rounds());

  std::vector<dws::PeerInfo> members;
  const auto live = sim.live_nodes();
  for (const auto& a : live) members.push_back(sim.info(a));
  std::vector<int> hops;
  hops.reserve(kLookups);
  long sum = 0;
  for (int i = 0; i < kLookups; ++i) {
    const Address& from = live[sim.rng().uniform(live.size())];
    const dws::Id key = sim.rng().next();
    auto r = sim.ring(from)->lookup(key);
    if (!r.ok()) {
      ++row.failed;
      continue;
    }
    if (r->node != RingSim::oracle(members, key)) ++row.wrong;
    hops.push_back(r->hops);
    sum += r->hops;
  }
  std::sort(hops.begin(), hops.end());
  if (!hops.empty()) {
    row.mean_hops = static_cast<double>(sum) / static_cast<double>(hops.size());
    row.p99_hops = hops[hops.size() * 99 / 100];
    row.max_hops = hops.back();
  }

  // 10% crash at once, never r consecutive ring neighbours.
  const int target = n / 10;
  for (int tries = 0; row.crashed < target && tries < 100 * n; ++tries) {
    const auto now_live = sim.live_nodes();
    const Address& victim = now_live[sim.rng().uniform(now_live.size())];
    if (sim.may_crash(victim)) {
      sim.crash(victim);
      ++row.crashed;
    }
  }
  row.converge_rounds = sim.converge(kMaxRounds, &why);
  if (row.converge_rounds < 0) std::fprintf(stderr, "N=%d after crashes: %s\n", n, why.c_str());
  row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return row;
}

}  // namespace

// Load balance: how many records each of 64 physical nodes holds when
// each runs with NodeOptions::vnodes positions, for 100,000 random keys,
// placed by the code the nodes run: positions at core::position_address
// (node_id of "host:port", "host:port#1", ...), a key's primary its
// successor position, the other copies core::replica_set of the primary's
// successor list (as long as node::position_successors makes it), so on
// distinct machines. One position per node is the ring without the option.
void load_balance(std::uint64_t seed) {
  constexpr int kNodes = 64;
  constexpr int kKeys = 100'000;
  constexpr int kCopies = 3;
  std::printf("\nload balance: %d physical nodes, %d random keys, n = %d copies on distinct physical nodes\n", kNodes,
              kKeys, kCopies);
  std::printf("%7s %20s %20s\n", "vnodes", "primaries max/mean", "all copies max/mean");
  for (int vnodes : {1, 2, 4, 8, 16, 32, 64}) {
    dws::RingInfo info;
    info.replicas = kCopies;
    const auto successors = static_cast<std::size_t>(dws::node::position_successors(info, vnodes));
    std::vector<dws::PeerInfo> ring;
    for (int i = 0; i < kNodes; ++i)
      for (int v = 0; v < vnodes; ++v) {
        const std::string address = dws::core::position_address("127.0.0.1:" + std::to_string(7000 + i), v);
        ring.push_back(dws::PeerInfo{dws::core::node_id(address), address});
      }
    std::sort(ring.begin(), ring.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    auto node_of = [](const dws::PeerInfo& p) {
      return std::atoi(dws::core::host_of(p.address).substr(std::string_view("127.0.0.1:").size()).data()) - 7000;
    };
    std::vector<int> primaries(kNodes, 0), copies(kNodes, 0);
    dws::core::SplitMix64 rng(seed);
    for (int k = 0; k < kKeys; ++k) {
      const dws::Id key = rng.next();
      auto it = std::lower_bound(ring.begin(), ring.end(), key, [](const auto& p, dws::Id x) { return p.id < x; });
      const std::size_t at = it == ring.end() ? 0 : static_cast<std::size_t>(it - ring.begin());
      const dws::PeerInfo& primary = ring[at];
      std::vector<dws::PeerInfo> after;
      for (std::size_t step = 1; step <= successors && step < ring.size(); ++step)
        after.push_back(ring[(at + step) % ring.size()]);
      ++primaries[static_cast<std::size_t>(node_of(primary))];
      ++copies[static_cast<std::size_t>(node_of(primary))];
      for (const auto& h : dws::core::replica_set(primary, after, kCopies)) ++copies[static_cast<std::size_t>(node_of(h))];
    }
    auto ratio = [](const std::vector<int>& c) {
      double sum = 0;
      for (int x : c) sum += x;
      return *std::max_element(c.begin(), c.end()) / (sum / static_cast<double>(c.size()));
    };
    std::printf("%7d %20.2f %20.2f\n", vnodes, ratio(primaries), ratio(copies));
  }
}

int main(int argc, char** argv) {
  const std::uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 42;
  const auto t0 = std::chrono::steady_clock::now();
  std::printf("ring_bench: Chord ring in the deterministic simulator (seed %llu, r = 4, %d lookups per size)\n",
              static_cast<unsigned long long>(seed), kLookups);
  std::printf("hops = remote nodes asked per lookup from a random node; target = 0.5*log2(N)+1;\n"
              "build rounds = stabilization rounds to join all nodes in doubling waves, converge and refresh fingers;\n"
              "converge rounds = rounds until every invariant holds again after 10%% crash at once\n\n");
  std::printf("%6s %12s %10s %5s %5s %7s %5s %13s %8s %16s %7s\n", "N", "build rounds", "mean hops", "p99", "max",
              "target", "met", "wrong/failed", "crashed", "converge rounds", "wall s");
  // ring_bench [seed [N ...]]: the sizes default to 64, 256 and 1024.
  std::vector<int> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {64, 256, 1024};
  for (int n : sizes) {
    if (n < 8 || n > 100'000) {
      std::fprintf(stderr, "ring_bench: N = %d is outside 8 to 100000\n", n);
      return 2;
    }
    const Row row = run(n, seed + static_cast<std::uint64_t>(n));
    const double target = 0.5 * std::log2(static_cast<double>(n)) + 1.0;
    std::printf("%6d %12d %10.2f %5d %5d %7.2f %5s %6d/%-6d %8d %16d %7.2f\n", row.n, row.grow_rounds,
                row.mean_hops, row.p99_hops, row.max_hops, target, row.mean_hops <= target ? "yes" : "NO", row.wrong,
                row.failed, row.crashed, row.converge_rounds, row.seconds);
    std::fflush(stdout);
  }
  load_balance(seed);
  std::printf("\ntotal wall time %.2f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}
