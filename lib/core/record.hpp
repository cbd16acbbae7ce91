// Records: the one kind of item the ring stores, their encoding, the merge
// rule every replica applies, and RecordStore, which keeps them in a Store
// with an incrementally maintained digest index (DESIGN.md section 4).
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.hpp"
#include "core/store.hpp"
#include "dwhatsapp/status.hpp"
#include "dwhatsapp/types.hpp"

namespace dws::core {

/// One stored item. Several items can share a ring key: a user's record has
/// sub "" and each mailbox entry has sub = its message id (DESIGN.md
/// section 6), so they live on the same nodes and list in sub order.
struct Record {
  Id key = 0;
  std::string sub;
  std::uint64_t version = 0;
  bool tombstone = false;
  std::int64_t expires_at = 0;  // unix ms; 0 = never
  std::string payload;

  /// True once the record may be dropped: expires_at set and reached.
  bool expired(std::int64_t now_ms) const { return expires_at != 0 && now_ms >= expires_at; }
  bool operator==(const Record&) const = default;
};

/// Identifies an item: its ring key and its name within that key.
struct ItemKey {
  Id key = 0;
  std::string sub;
  bool operator==(const ItemKey&) const = default;
};

/// The longest `sub`: LMDB keys are at most 511 bytes, 8 go to the ring id.
inline constexpr std::size_t kMaxSubSize = 503;

/// kInvalidArgument when the record cannot be stored (sub too long,
/// negative expires_at), naming the field.
Status validate(const Record& record);

// --- Encoding -----------------------------------------------------------------

/// Storage key: the 8-byte big-endian ring id, then `sub`. Byte order of
/// storage keys is ring order, then sub order.
std::string storage_key(Id key, std::string_view sub);
/// The first key at or after every item of ring id `key`.
std::string storage_prefix(Id key);
/// Splits a storage key; kInvalidArgument when shorter than 8 bytes.
Result<ItemKey> parse_storage_key(std::string_view key);

/// The stored value: format byte (1), flags (bit 0: tombstone), then LEB128
/// varints version, expires_at, payload length, then the payload. Canonical:
/// one record has exactly one encoding, which content_hash relies on.
std::string encode_value(const Record& record);
/// Strict inverse of encode_value: kInvalidArgument for truncated, trailing,
/// non-canonical or unknown-format input. Fills all but key and sub.
Status decode_value(std::string_view in, Record& out);

/// A self-contained record for the wire (sync bodies): format byte (1), the
/// 8-byte big-endian key, varint sub length, sub, varint value length, the
/// encode_value bytes. Concatenations of these decode with decode_records.
void append_record(std::string& out, const Record& record);
std::string encode_records(std::span<const Record> records);
/// Strict: any malformed record rejects the whole input (kInvalidArgument,
/// with the byte offset). `max_records` bounds the work for untrusted input.
Result<std::vector<Record>> decode_records(std::string_view in, std::size_t max_records = SIZE_MAX);

// --- Merge --------------------------------------------------------------------

/// BLAKE2b-256 of encode_value(record): breaks version ties.
std::array<std::uint8_t, 32> content_hash(const Record& record);

/// Orders two versions of one item by (version, content hash):
/// negative when a loses to b, 0 when they are identical, positive when a
/// wins. A tombstone is ordered like any other record.
int compare(const Record& a, const Record& b);

/// The winner of a and b: merging is idempotent, commutative and
/// associative, so replicas converge whatever order they learn things in.
/// REQUIRES: same key and sub.
const Record& merge(const Record& a, const Record& b);

/// The leaf hash of an item for bucket digests: the first 128 bits of
/// BLAKE2b-256(storage key || encoded value). It covers the payload, so
/// replicas that disagree only in content still see different digests.
Hash128 leaf_hash(const Record& record);

// --- RecordStore --------------------------------------------------------------

/// What merging one incoming record did.
enum class MergeOutcome : std::uint8_t {
  kStored,     // it won (or the item was new) and is now stored
  kUnchanged,  // the identical record was already stored
  kStale,      // the stored record wins; the caller may send it back
  kExpired,    // it had expired on arrival and was dropped
  kRejected,   // it would have won, but the merge guard refused it
};

/// Asked, under the store's lock, before a record that wins the merge is
/// written: `current` is what it would replace (nullptr: nothing). A
/// non-ok Status refuses it (kRejected) and leaves the rest of the batch.
using MergeGuard = std::function<Status(const Record& incoming, const Record* current)>;

struct RecordStoreOptions {
  /// 2^fine_bits fine buckets, 24 bytes each: 16 (1.5 MiB) suits millions
  /// of records; the simulator uses fewer to keep a thousand nodes small.
  int fine_bits = 16;
};

using RecordFn = std::function<bool(const Record& record)>;

/// Records over a Store's kv namespace, merged on write, with the digest
/// index kept up to date by every write. RecordStore owns kv: writing it
/// behind RecordStore's back leaves the digests wrong until the next open.
///
/// Thread-safe: writes, digests and counts serialize on one mutex; reads and
/// scans go to the Store directly. A merge decides and queues its write under
/// the mutex (Store::submit) but waits for the commit, and its fsync, outside
/// it, so concurrent merges share a group commit; later merges see the queued
/// writes through pending_. Expired records stay readable until
/// purge_expired removes them; readers check Record::expired().
class RecordStore {
 public:
  /// Reads every record once to build the digest index. kInternal when a
  /// stored value is corrupt (naming its key).
  static Result<std::unique_ptr<RecordStore>> open(Store& store, RecordStoreOptions options = {});

  RecordStore(const RecordStore&) = delete;
  RecordStore& operator=(const RecordStore&) = delete;

  Result<std::optional<Record>> get(Id key, std::string_view sub);

  /// Merges one record in one transaction (see merge()).
  Result<MergeOutcome> merge(const Record& record, std::int64_t now_ms, const MergeGuard& guard = {});
  /// Merges many in one transaction: each against what is stored and what
  /// came before it in the span. One outcome per record, in order. On error
  /// nothing is written. kInvalidArgument if any record fails validate().
  Result<std::vector<MergeOutcome>> merge(std::span<const Record> records, std::int64_t now_ms,
                                          const MergeGuard& guard = {});

  /// Removes items outright (no tombstone): garbage collection of what the
  /// node no longer holds a copy for. Returns how many existed.
  Result<std::uint64_t> erase(std::span<const ItemKey> items);
  /// Removes up to `max` records with ring id in (a, b]; returns how many.
  Result<std::uint64_t> erase_range(Id a, Id b, std::uint64_t max = UINT64_MAX);
  /// Removes up to `max` expired records (records and tombstones alike).
  Result<std::uint64_t> purge_expired(std::int64_t now_ms, std::uint64_t max = UINT64_MAX);

  /// Visits records with ring id in (a, b] in ring order from a + 1, wrapping
  /// past 2^64 - 1 to 0 (two cursor scans). a == b is the whole ring.
  /// `fn` returns false to stop.
  Status scan_range(Id a, Id b, const RecordFn& fn);
  /// Visits the items of one ring key with sub >= `sub_from`, in sub order.
  Status scan_key(Id key, std::string_view sub_from, const RecordFn& fn);
  /// scan_range over bucket i of (a, b] (see bucket_bounds).
  Status scan_bucket(Id a, Id b, int i, const RecordFn& fn);

  /// The 64 bucket digests of (a, b], from the index plus short scans.
  Result<RangeDigest> range_digest(Id a, Id b);
  /// Digests and per-bucket counts.
  Result<RangeSummary> range_summary(Id a, Id b);
  /// Records with ring id in (a, b].
  Result<std::uint64_t> count_range(Id a, Id b);
  /// Records held, all told.
  std::uint64_t count() const;

  Store& store() { return store_; }

 private:
  RecordStore(Store& store, RecordStoreOptions options);
  Status rebuild();
  Status rebuild_locked();
  // REQUIRES: mu_ held by `lock`. Waits until no merge is in flight, and
  // keeps new ones out meanwhile, for writers that read the store directly.
  void drain(std::unique_lock<std::mutex>& lock);
  Status scan_leaves(Id lo, Id hi, const LeafFn& fn);
  Result<std::uint64_t> erase_matching(Id a, Id b, std::uint64_t max,
                                       const std::function<bool(const Record&)>& pred);

  Store& store_;
  mutable std::mutex mu_;
  DigestIndex index_;

  // A merge's write between its submit and the end of its wait: what later
  // merges of the same key must merge against.
  struct PendingWrite {
    Record winner;
    std::shared_ptr<Store::Pending> ticket;
    std::uint64_t seq = 0;
  };
  std::map<std::string, PendingWrite> pending_;
  std::uint64_t next_seq_ = 0;
  int in_flight_ = 0;       // merges between submit and the end of their wait
  int draining_ = 0;        // writers waiting in drain()
  bool index_stale_ = false;  // a queued write failed after the index took it
  std::condition_variable idle_cv_;
};

}  // namespace dws::core
