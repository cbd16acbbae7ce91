// Replicated storage in the deterministic simulator (tests and benchmarks
// only): a RingSim whose nodes each also keep a MemoryStore, a RecordStore
// and a Replicator, with the checks of DESIGN.md section 4.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/key_directory.hpp"
#include "core/record.hpp"
#include "core/replication.hpp"
#include "core/validation.hpp"
#include "sim/sim.hpp"
#include "store/memory_store.hpp"

namespace dws::sim {

struct StoreSimOptions {
  RingSimOptions ring;
  core::ReplicationOptions replication;
  int sync_every = 5;  // rounds between anti-entropy rounds (sync interval = sync_every x stabilize_ms)
  int fine_bits = 8;   // digest index size per node: small keeps a thousand nodes small
  // Every node checks records with the real core::RecordValidator (keys
  // from the ring, through core::RingKeyDirectory). Off: structural checks
  // only, for tests of the replication mechanics with arbitrary records.
  bool validate = false;
  core::ValidationOptions validation;
};

/// Sums of every live node's replication metrics.
struct StoreTotals {
  std::uint64_t sync_records_moved = 0;
  std::uint64_t sync_bytes_moved = 0;
  std::uint64_t handed_off = 0;
  std::uint64_t gc_erased = 0;
  std::uint64_t quorum_failures = 0;
  std::uint64_t rejected = 0;        // records refused by the validator, all reasons
  std::uint64_t gc_unconfirmed = 0;  // GC candidates kept for want of every holder's confirmation
  /// Records that travelled to another node because of a membership change.
  std::uint64_t moved() const { return sync_records_moved + handed_off; }
};

/// A ring of simulated storage nodes. A crash discards the node's Ring,
/// RecordStore and Replicator but keeps its MemoryStore (the disk): a restart
/// at the same address rejoins with its data. A leave hands off, then the
/// node and its data are gone. Single-threaded, like SimNetwork.
class StoreSim {
 public:
  explicit StoreSim(std::uint64_t seed, StoreSimOptions options = {});
  ~StoreSim();

  RingSim& ring_sim() { return ring_; }
  SimNetwork& net() { return ring_.net(); }
  core::Rng& rng() { return ring_.rng(); }
  const StoreSimOptions& options() const { return opt_; }

  Status start(const Address& address);
  void crash(const Address& address);
  /// Hands off the primary range, then leaves the ring.
  Status leave(const Address& address);

  /// RingSim::round for every node, and every sync_every rounds an
  /// anti-entropy round on every live node in seeded random order.
  void round();
  /// Runs rounds up to the next anti-entropy round, inclusive.
  void sync_period();

  std::vector<Address> live_nodes() const { return ring_.live_nodes(); }
  std::vector<Address> down_nodes() const { return ring_.down_nodes(); }
  /// True when crashing `address` leaves no n consecutive members (live or
  /// down, in id order) all down: some replica of every key stays up.
  bool may_crash(const Address& address) const;

  core::Replicator* replicator(const Address& address);
  core::RecordStore* records(const Address& address);
  StoreTotals totals() const;

  /// "" when, over the live nodes, every stored item is held by exactly its
  /// primary and the n-1 nodes after it (per the oracle), all with the same
  /// record, and by nobody else; else the first violation, expected vs seen.
  std::string check_placement();

 private:
  struct Node {
    std::unique_ptr<store::MemoryStore> disk;  // survives crashes
    std::unique_ptr<core::RecordStore> records;
    std::unique_ptr<core::Replicator> replicator;
    std::unique_ptr<core::RingKeyDirectory> keys;
    std::unique_ptr<core::RecordValidator> validator;
  };
  // Drops what a crash or leave loses, users before what they use.
  static void stop(Node& node);

  StoreSimOptions opt_;
  RingSim ring_;
  core::SplitMix64 order_rng_;
  std::map<Address, Node> nodes_;
  std::int64_t rounds_ = 0;
};

}  // namespace dws::sim
