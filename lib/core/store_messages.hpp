// Storage messages (DESIGN.md section 4): a record put through the ring,
// a read, and one anti-entropy exchange. Included by messages.hpp, which puts
// them into the Request/Response variants.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/digest.hpp"
#include "core/record.hpp"
#include "dwhatsapp/types.hpp"

namespace dws::core {

// Checks the primary makes before it merges a put, atomically with the
// merge. Replicas never see them (a replica copy is always merged).
struct PutCondition {
  // kExists when the item is live, or a tombstone that has not expired yet
  // (deleted recently). Putting the identical record again succeeds, so a
  // retry of a create that reached the primary stays a success.
  bool if_absent = false;
  // Quota, 0 = none: kRateLimited when the key already holds max_items live
  // items whose sub starts with quota_prefix and this item is not one of
  // them (an item already present, live or tombstone, never counts twice).
  std::uint32_t max_items = 0;
  std::string quota_prefix;

  bool active() const { return if_absent || max_items > 0; }
  bool operator==(const PutCondition&) const = default;
};

// POST /v1/store/put
// From a client or an entry node to the primary (replica = false): the
// primary merges, replicates to its n-1 successors and answers once W copies
// hold the record. From the primary to a replica (replica = true): merge only.
struct StorePutReq {
  Record record;
  bool replica = false;
  // From a client to any node (forward = true, replica = false): the node is
  // the entry node; it finds the primary and sends it the record. Dispatched
  // by the node to Replicator::put; Replicator::handle never sees it.
  bool forward = false;
  PutCondition condition{};  // checked by the primary only
  // From an entry node that could not reach the key's primary to the node
  // after it: take the primary's role for this write (Ring::may_take_over).
  std::optional<Id> takeover{};
};
struct StorePutResp {
  int copies = 0;              // copies known to hold the record (or a newer one)
  std::uint64_t version = 0;   // the version now stored at the answering node
};

// GET /v1/store/get?key=<16hex>&sub=<url-escaped>[&local=1]
// local = 1: answer from this node's copy whether or not it is the primary
// (how reads fall back to replicas); otherwise kNotResponsible off the primary.
struct StoreGetReq {
  Id key = 0;
  std::string sub;
  bool local = false;
  // From a client to any node (forward = 1): the node reads through
  // Replicator::get (the primary, then its replicas). Dispatched by the node.
  bool forward = false;
};
struct StoreGetResp {
  std::optional<Record> record;  // nullopt: no such item (a tombstone is returned as a record)
};

// GET /v1/store/scan?key=<16hex>&prefix=<sub prefix>&after=<sub>&limit=<n>[&local=1]
// The live items (not tombstones, not expired) of one ring key whose sub
// starts with `prefix` and sorts after `after` (exclusive; empty: from the
// start), in sub order, at most `limit` (1 to kMaxScanLimit) and about
// ReplicationOptions::max_sync_bytes of payload. local as in StoreGetReq.
struct StoreScanReq {
  Id key = 0;
  std::string prefix;
  std::string after;
  std::uint32_t limit = 100;
  bool local = false;
};
struct StoreScanResp {
  std::vector<Record> records;
  bool more = false;  // cut at the limit: ask again with after = the last sub
};
inline constexpr std::uint32_t kMaxScanLimit = 1000;

// POST /v1/store/sync: one anti-entropy exchange of the range (a, b] that
// `from` is primary for, with a node holding a replica of it.
// Phase kCompare: the receiver compares `digests` with its own and answers
// the differing buckets with its records in them (bounded; `more` says the
// answer was cut and the sender should go again, with `after` set to the last
// item it received). Phase kPush: the receiver merges `records` (the sender's
// side of those buckets).
//
// Both phases are refused (kInvalidArgument, nothing applied) unless
// b == from.id (a node syncs only the range it is primary for), a != b (a
// node alone has nobody to sync with), and for kPush every record lies in
// (a, b] and passes validate() and the size limit. A valid exchange tells the
// receiver it holds a copy of (a, b] for a while (its garbage collector keeps
// those records).
struct StoreSyncReq {
  enum class Phase : std::uint8_t { kCompare, kPush };
  Phase phase = Phase::kCompare;
  PeerInfo from;
  Id a = 0;
  Id b = 0;
  RangeDigest digests{};        // kCompare only
  // kCompare: answer only items after this one in the order of the range
  // (ring id from a + 1 around to b, then sub). Set when the previous answer
  // was cut, so a bucket holding more than one answer's worth still progresses.
  std::optional<ItemKey> after;
  std::vector<int> buckets;     // kPush: the buckets the records belong to
  std::vector<Record> records;  // kPush only
};
struct StoreSyncResp {
  std::vector<int> differing;   // kCompare: buckets whose digests differ
  std::vector<Record> records;  // kCompare: the receiver's records in them
  bool more = false;            // kCompare: records were cut at the limit
  std::uint64_t merged = 0;     // kPush: records that changed the receiver
};

}  // namespace dws::core
