// The deterministic simulator (tests and benchmarks only): a virtual clock,
// seeded randomness and an in-process network whose calls are direct,
// nested function calls into the target node's handler on one thread, with
// injected loss, delay, duplicates, partitions and crashes. A run depends on
// its seed alone, so a failing seed replays exactly (DWS_SIM_SEED).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/env.hpp"
#include "core/ring.hpp"
#include "dwhatsapp/status.hpp"
#include "dwhatsapp/types.hpp"

namespace dws::sim {

using core::Address;

/// Virtual time: it moves only when the simulation says so.
class SimClock final : public core::Clock {
 public:
  std::int64_t monotonic_ms() override { return now_ms_; }
  std::int64_t wall_ms() override { return kEpochMs + now_ms_; }
  void advance(std::int64_t ms) { now_ms_ += ms; }

 private:
  static constexpr std::int64_t kEpochMs = 1'700'000'000'000;
  std::int64_t now_ms_ = 0;
};

/// What the network does to calls, drawn per call from the seeded generator.
struct Faults {
  double request_loss = 0.0;   ///< the request never arrives: the caller sees kUnavailable
  double response_loss = 0.0;  ///< the handler ran, the answer is lost
  double duplicate = 0.0;      ///< the handler runs twice (a retransmission)
  std::int64_t min_delay_ms = 0;  ///< round-trip delay, uniform in [min, max];
  std::int64_t max_delay_ms = 0;  ///< beyond the call's deadline it is a timeout
};

struct NetStats {
  std::uint64_t calls = 0;
  std::uint64_t delivered = 0;
  std::uint64_t unreachable = 0;  // no such node, crashed, or partitioned
  std::uint64_t lost = 0;         // request or response loss
  std::uint64_t timeouts = 0;
  std::uint64_t duplicates = 0;
};

/// Nodes by address, each answering through a handler; every node calls out
/// through its own endpoint, which knows the caller's address so partitions
/// apply per pair. Single-threaded by design.
class SimNetwork {
 public:
  using Handler = std::function<Result<core::Response>(const core::Request&)>;

  explicit SimNetwork(std::uint64_t seed);
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  SimClock& clock() { return clock_; }
  core::Rng& rng() { return rng_; }
  Faults& faults() { return faults_; }
  const NetStats& stats() const { return stats_; }

  /// The transport a node at `self` calls others through; stable for the
  /// network's lifetime.
  core::Transport& endpoint(const Address& self);
  /// The node at `address` answers calls from now on.
  void attach(const Address& address, Handler handler);
  /// The node at `address` stops answering (a crash or a stop).
  void detach(const Address& address);
  bool attached(const Address& address) const;

  /// Calls between `a` and `b` fail, both ways, until heal().
  void cut(const Address& a, const Address& b);
  /// Nodes in `side` and the others cannot reach each other until heal().
  void partition(const std::vector<Address>& side);
  void heal();
  bool reachable(const Address& from, const Address& to) const;

  /// One call from `from` to `to` with the configured faults.
  Result<core::Response> deliver(const Address& from, const Address& to, const core::Request& request,
                                 core::Deadline deadline);

 private:
  class Endpoint;
  bool chance(double p);

  SimClock clock_;
  core::SplitMix64 rng_;
  Faults faults_;
  NetStats stats_;
  std::unordered_map<Address, Handler> handlers_;
  std::unordered_map<Address, std::unique_ptr<Endpoint>> endpoints_;
  std::set<std::pair<Address, Address>> cuts_;
  std::set<Address> side_;
  bool partitioned_ = false;
};

struct RingSimOptions {
  int successor_list = 4;
  std::int64_t stabilize_ms = 200;
  int fingers_per_tick = 2;
  int base_port = 10000;
};

/// A ring of simulated nodes and the checks of DESIGN.md section 3.
class RingSim {
 public:
  explicit RingSim(std::uint64_t seed, RingSimOptions options = {});
  ~RingSim();

  SimNetwork& net() { return net_; }
  /// The scenario's own randomness (which node crashes, which key to look up).
  core::Rng& rng() { return rng_; }
  const RingSimOptions& options() const { return opt_; }
  std::int64_t rounds() const { return rounds_; }

  /// A loopback-style address never used before in this simulation.
  Address new_address();
  /// Starts a node at `address` (new, or restarting after a crash): creates
  /// the ring when nobody is live, else joins through a random live node.
  /// On failure the node stays down.
  Status start(const Address& address);
  /// The node stops answering and its state is discarded.
  void crash(const Address& address);
  /// Graceful leave, then stop.
  void leave(const Address& address);

  bool live(const Address& address) const;
  core::Ring* ring(const Address& address);
  /// Live nodes in ring (id) order.
  std::vector<Address> live_nodes() const;
  /// Nodes that crashed and did not restart.
  std::vector<Address> down_nodes() const;
  /// True when crashing `address` now would leave no run of r consecutive
  /// members (live or down) all down.
  bool may_crash(const Address& address) const;

  /// Every live node in seeded random order runs stabilize and fix_fingers;
  /// then the clock advances by stabilize_ms.
  void round();

  /// "" when every invariant holds over `members` (all live nodes when
  /// empty); else a description of the first violation, expected vs seen.
  std::string check(int lookups = 32, const std::vector<Address>& members = {});
  /// Only first successors and predecessors (what a graceful leave must
  /// keep right at once).
  std::string check_pointers(const std::vector<Address>& members = {});
  /// Runs rounds until check() passes; the rounds it took, or -1 after
  /// `max_rounds` with the last violation in `*why`.
  int converge(int max_rounds, std::string* why = nullptr, const std::vector<Address>& members = {});

  /// successor(key) among `members` (sorted by id): the oracle.
  static PeerInfo oracle(const std::vector<PeerInfo>& members, Id key);
  PeerInfo info(const Address& address) const;

 private:
  struct Node {
    PeerInfo info;
    std::unique_ptr<core::SplitMix64> rng;
    std::unique_ptr<core::Ring> ring;
  };
  std::vector<PeerInfo> sorted(const std::vector<Address>& members) const;

  RingSimOptions opt_;
  SimNetwork net_;
  core::SplitMix64 rng_;
  core::SplitMix64 check_rng_;
  std::map<Address, Node> nodes_;  // every address ever started
  int next_port_;
  std::int64_t rounds_ = 0;
};

}  // namespace dws::sim
