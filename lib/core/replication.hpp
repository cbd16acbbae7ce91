// Replication of records over the ring (DESIGN.md section 4): writes through
// the key's primary to its n-1 successors with a write quorum W, reads from
// the primary with fallback to replicas, anti-entropy by bucket digests,
// hand-off on leave and garbage collection of what a node no longer holds.
//
// No I/O here, as for the ring: peers are reached through the Transport,
// time comes from the Clock. Thread-safe; no lock is held across a call.
//
// Deletes are tombstones: a Record with tombstone = true and a higher
// version. The writer sets its expires_at to now + tombstone_ttl_ms (0 would
// keep it forever); once expired it is purged everywhere, so tombstone_ttl_ms
// must outlive the longest time a node may stay down and come back with its
// data, or the deleted record could return from that node's disk.
#pragma once

#include <cstdint>
#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/env.hpp"
#include "core/messages.hpp"
#include "core/record.hpp"
#include "core/ring.hpp"
#include "core/validation.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::core {

struct ReplicationOptions {
  int replicas = 3;        // n: the primary and its n-1 successors
  int write_quorum = 2;    // W: copies that must hold a write before it is acknowledged
  Deadline deadline{2000};
  std::size_t max_record_bytes = 64 * 1024 + 1024;  // payload limit (envelope 64 KiB plus headroom)
  std::size_t max_sync_records = 2000;              // records in one sync answer or push
  // Record bytes in one sync answer or push: with base64 and JSON around
  // them they must stay under the HTTP body limit (1 MiB).
  std::size_t max_sync_bytes = 512 * 1024;
  int max_sync_passes = 8;                          // compare/push passes per successor per round
  std::int64_t held_range_ttl_ms = 60'000;          // how long a primary's sync makes a range "held"
  std::uint64_t gc_batch = 500;                     // records handed off / erased per round
  std::int64_t tombstone_ttl_ms = 30LL * 24 * 3600 * 1000;  // tombstones outlive the longest documented downtime
};

struct ReplicationMetrics {
  std::uint64_t puts = 0;                // writes this node coordinated as primary
  std::uint64_t quorum_failures = 0;     // of those, answered kUnavailable (fewer than W copies)
  std::uint64_t sync_rounds = 0;
  std::uint64_t sync_records_moved = 0;  // records merged that changed something, either way
  std::uint64_t sync_bytes_moved = 0;    // bytes of records sent in sync exchanges, either way
  std::uint64_t sync_failures = 0;       // exchanges with a successor that failed
  std::uint64_t handed_off = 0;          // records pushed to their new primary
  std::uint64_t gc_erased = 0;
  std::uint64_t expired_purged = 0;
  std::uint64_t gc_unconfirmed = 0;      // GC candidates kept because a holder did not confirm its copy
  std::uint64_t audited = 0;             // stored records checked again after the store was opened
  std::array<std::uint64_t, kRejectReasons> rejected{};  // records refused, by RejectReason
};

/// Records this node holds, split by role.
struct HeldCounts {
  std::uint64_t primary = 0;  // ring ids in (predecessor, self]
  std::uint64_t replica = 0;  // everything else
};

/// The other holders of the range `primary` is primary for: the first
/// replicas - 1 of its `successors` on distinct physical nodes (core::host_of)
/// other than the primary's own. With one ring position per node that is
/// the first replicas - 1 successors; with virtual nodes a node's other
/// positions are passed over, so that losing one machine loses one copy.
std::vector<PeerInfo> replica_set(const PeerInfo& primary, const std::vector<PeerInfo>& successors, int replicas);

class Replicator {
 public:
  /// REQUIRES: ring, records, transport and clock outlive the Replicator.
  Replicator(Ring& ring, RecordStore& records, Transport& transport, Clock& clock, ReplicationOptions options);
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  /// Stores a record wherever its key lives: finds the primary (this node or
  /// another), which merges and replicates. kUnavailable when fewer than W
  /// copies could be written (the write may still have reached some: retrying
  /// the same record is safe). kPayloadTooLarge / kInvalidArgument for bad
  /// records (also for one that has already expired).
  Result<StorePutResp> put(const Record& record, const PutCondition& condition = {});
  /// Stores several records of ONE ring key: at the primary in one
  /// transaction and one replica call per successor (a sync push), so an
  /// ack of many mailbox entries costs one replicated write, not one each.
  /// Off the primary, or without a known predecessor, it falls back to put()
  /// record by record. Same errors as put(); kInvalidArgument when the keys differ.
  Result<StorePutResp> put_batch(std::span<const Record> records);
  /// Reads from the primary, then from the replicas in order if it does not
  /// answer, answers a record that fails the validator, or (for a user
  /// record, sub "") has none: a primary that just took over a range may
  /// not hold its copies yet, and "no such user" must not come from it alone. nullopt: no such item on any reachable copy (expired records
  /// count as absent; a tombstone is returned as a record).
  Result<std::optional<Record>> get(Id key, const std::string& sub);

  /// The live items of one key (see StoreScanReq) from the primary, or, if
  /// it does not answer, from the first replica after it that does (that
  /// copy's view, which anti-entropy keeps close to the primary's).
  Result<StoreScanResp> scan(Id key, const std::string& prefix, const std::string& after, std::uint32_t limit);

  /// Called with every record this node merges with a change (as primary,
  /// as replica, by anti-entropy or hand-off), after the merge, with no
  /// lock of the Replicator held. REQUIRES: set before the node serves.
  void set_on_stored(std::function<void(const Record&)> fn);

  /// The rules every stored record must pass, on every path (client write
  /// at the primary, replica copy, sync push and answer, hand-off, batch,
  /// and the audit of what the store held when it was opened). nullptr: only
  /// the structural checks (tests of the replication mechanics alone).
  /// REQUIRES: set before the node serves; outlives the Replicator.
  void set_validator(RecordValidator* validator);
  /// Called for every refused record with the reason and where it came
  /// from ("" when unknown), with no lock held. REQUIRES: set before serving.
  using RejectFn = std::function<void(const Record&, const Verdict&, const std::string& source)>;
  void set_on_rejected(RejectFn fn);

  /// Answers StorePutReq, StoreGetReq, StoreSyncReq, StoreScanReq; anything
  /// else is kInvalidArgument. `source` names the sender for the log of
  /// refused records.
  Result<Response> handle(const Request& request, const std::string& source = {});

  /// One anti-entropy round: sync (predecessor, self] with each of the first
  /// n-1 successors (both ways), then hand off and erase what this node no
  /// longer holds a copy of (once every holder confirmed its copy), purge
  /// expired records, and audit a batch of what the store held at open.
  void sync_round();
  /// Graceful leave: push the primary range to the successor before stopping.
  /// Call before Ring::leave(). kUnavailable if no successor took it all.
  Status hand_off();

  ReplicationMetrics metrics() const;
  HeldCounts held_counts();

 private:
  // Counts the write in the metrics and checks the quorum: kUnavailable
  // naming `what` when fewer than W of 1 + `replicas` copies hold it.
  Status settle_quorum(int copies, std::size_t replicas, std::uint64_t writes, const std::string& what,
                       const std::string& first_error);

  struct HeldRange {
    Id a;
    Id b;
    std::int64_t until_ms;  // monotonic
  };

  Status check_record(const Record& record) const;
  // check_record, then the validator's check_alone, then (`cross`: a copy
  // that did not come as a client write to this primary) cross_check;
  // counts and reports a refusal.
  Verdict admit(const Record& record, const std::string& source, bool cross = false);
  // A user record or deletion this node holds no copy of is adopted only if
  // no holder of its key, asked directly, holds one signed by another key:
  // so a member cannot plant a forged account on a node that has none yet.
  Verdict cross_check(const Record& record);
  // RecordStore::merge with the validator's check_replace as its guard;
  // the refused are counted, reported, and (if `refused`) appended there.
  Result<std::vector<MergeOutcome>> merge_checked(std::span<const Record> records, const std::string& source,
                                                  std::vector<Verdict>* refused = nullptr);
  void rejected(const Record& record, const Verdict& verdict, const std::string& source);
  // Whether a read answer from `from` may be believed: it passes the
  // checks a stored record passes (else it is counted as rejected).
  bool answer_passes(const std::optional<Record>& answer, const PeerInfo& from);
  // The records of `in` that admit() accepts.
  std::vector<Record> admitted(std::vector<Record> in, const std::string& source, bool cross);
  // Whether every holder of `r` by this node's view (its primary and its
  // replica_set, each asked directly) holds it at least at r's version.
  bool confirmed_elsewhere(const PeerInfo& self, const Record& r);
  void audit_batch();
  // replica_set of this node: the other copies of its range.
  std::vector<PeerInfo> replica_peers() const;
  // The first `count` nodes after `primary` on distinct machines other than
  // its own (replica_set), found by lookups of the positions after it (at
  // most kMaxReplicaWalk of them): for a primary whose successor list this
  // node does not have.
  std::vector<PeerInfo> walk_replicas(const PeerInfo& primary, int count);

  // `takeover`: the unreachable primary whose role an entry node asks this
  // node to take for the write (Ring::may_take_over decides).
  Result<StorePutResp> put_as_primary(const Record& record, const PutCondition& condition,
                                      const std::string& source, std::optional<Id> takeover = {});
  Result<StorePutResp> put_as_replica(const Record& record, const std::string& source);
  Result<StorePutResp> put_at(const PeerInfo& node, const Record& record, const PutCondition& condition,
                              std::optional<Id> takeover = {});
  // REQUIRES: cond_mu_ held. Ok when `record` may be merged under `condition`.
  Status check_condition(const Record& record, const PutCondition& condition, std::int64_t now_ms);
  Result<StoreScanResp> scan_local(const StoreScanReq& req);
  void notify_stored(const Record& record, MergeOutcome outcome);
  void notify_stored(std::span<const Record> records, const std::vector<MergeOutcome>& outcomes);
  Result<std::optional<Record>> read_at(const PeerInfo& node, Id key, const std::string& sub, bool local);
  Result<std::optional<Record>> read_local(Id key, const std::string& sub, bool local);
  Result<StoreSyncResp> handle_sync(const StoreSyncReq& req, const std::string& source);

  // Compare and exchange (a, b] with one replica; false when it failed.
  bool sync_with(const PeerInfo& self, Id a, Id b, const PeerInfo& peer);
  // Pushes `records` to `peer` in batches as a kPush of (a, b]; the records
  // the peer reported as merged, or the first error.
  Result<std::uint64_t> push(const PeerInfo& self, Id a, Id b, const PeerInfo& peer, const std::vector<int>& buckets,
                             const std::vector<Record>& records);
  void collect_garbage(const PeerInfo& self, Id pred);
  bool held(Id key, std::int64_t now_ms) const;

  Ring& ring_;
  RecordStore& records_;
  Transport& transport_;
  Clock& clock_;
  ReplicationOptions opt_;

  std::function<void(const Record&)> on_stored_;
  RecordValidator* validator_ = nullptr;
  RejectFn on_rejected_;
  // Where the audit of the records found at open has got to.
  bool audit_done_ = false;
  std::optional<ItemKey> audit_cursor_;
  // Serializes conditional puts at this primary: the check and the merge
  // must see no other conditional write in between.
  std::mutex cond_mu_;
  mutable std::mutex mu_;
  std::map<Id, HeldRange> held_;  // by primary: the range it last synced to us
  ReplicationMetrics metrics_;
};

}  // namespace dws::core
