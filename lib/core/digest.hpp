// Bucket digests of ring ranges, for anti-entropy (DESIGN.md section 4).
//
// A range (a, b] is cut into 64 buckets of equal width; a bucket's digest is
// the XOR of the 128-bit leaf hashes of the records whose ring id falls in
// it. XOR makes the digest independent of the order records arrived in and
// lets a write update it in O(1): XOR the old leaf out, the new one in.
//
// Ranges are arbitrary (they follow node ids), so the index keeps fixed fine
// buckets over the whole ring (2^fine_bits of them, indexed by the top bits of
// the ring id) and builds a range's 64 buckets from the fine buckets that lie
// wholly inside each one, asking a scanner only for the fine buckets a
// boundary cuts. The result depends on the records alone, never on
// fine_bits, so nodes configured differently still agree.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dwhatsapp/status.hpp"
#include "dwhatsapp/types.hpp"

namespace dws::core {

/// A 128-bit hash. XOR-combined, so the zero value is "no records".
struct Hash128 {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;

  Hash128& operator^=(const Hash128& o) {
    hi ^= o.hi;
    lo ^= o.lo;
    return *this;
  }
  friend Hash128 operator^(Hash128 a, const Hash128& b) { return a ^= b; }
  bool operator==(const Hash128&) const = default;
  bool zero() const { return hi == 0 && lo == 0; }
};

/// 32 lower-case hex digits.
std::string to_hex(const Hash128& h);
/// Parses exactly 32 hex digits (either case); nullopt otherwise.
std::optional<Hash128> parse_hash128(std::string_view text);

inline constexpr int kDigestBuckets = 64;

/// Ring ids (lo, hi]. A bucket never spans the whole ring, so lo == hi means
/// an empty bucket (ranges narrower than 64 ids have some).
struct Bucket {
  Id lo = 0;
  Id hi = 0;
  bool empty() const { return lo == hi; }
};

/// Bucket i of the range (a, b]: (a + floor(i*L/64), a + floor((i+1)*L/64)]
/// where L = b - a, and L = 2^64 (the whole ring) when a == b.
/// REQUIRES: 0 <= i < 64.
Bucket bucket_bounds(Id a, Id b, int i);

/// The bucket of (a, b] that holds ring id x, or -1 when x is outside.
int bucket_of(Id a, Id b, Id x);

using RangeDigest = std::array<Hash128, kDigestBuckets>;

/// One bucket's digest and how many records it holds.
struct BucketSummary {
  Hash128 digest;
  std::uint64_t count = 0;
  bool operator==(const BucketSummary&) const = default;
};
using RangeSummary = std::array<BucketSummary, kDigestBuckets>;

/// The digests alone, for the wire.
RangeDigest digests_of(const RangeSummary& summary);

/// Indices of the buckets whose digests differ.
std::vector<int> differing_buckets(const RangeDigest& x, const RangeDigest& y);

/// Visits (ring id, leaf hash) of every record with id in (lo, hi].
using LeafFn = std::function<void(Id id, const Hash128& leaf)>;
using LeafScanner = std::function<Status(Id lo, Id hi, const LeafFn& fn)>;

/// Fine buckets over the whole ring, each the XOR and count of its records'
/// leaves. Not synchronized: its owner (RecordStore) serializes access.
class DigestIndex {
 public:
  /// REQUIRES: 1 <= fine_bits <= 24. Memory: 24 bytes x 2^fine_bits.
  explicit DigestIndex(int fine_bits = 16);

  void add(Id id, const Hash128& leaf);
  /// REQUIRES: the leaf was added before and not removed since.
  void remove(Id id, const Hash128& leaf);
  void clear();

  int fine_bits() const { return bits_; }
  std::size_t fine_count() const { return fine_.size(); }
  const BucketSummary& fine(std::size_t j) const { return fine_[j]; }
  std::uint64_t total() const { return total_; }

  /// The 64 buckets of (a, b]. Calls `scan` only for the parts of fine
  /// buckets cut by a bucket boundary; errors from `scan` are returned as is.
  Result<RangeSummary> summarize(Id a, Id b, const LeafScanner& scan) const;

 private:
  std::size_t index_of(Id id) const { return static_cast<std::size_t>(id >> shift_); }

  int bits_;
  int shift_;
  std::vector<BucketSummary> fine_;
  std::uint64_t total_ = 0;
};

}  // namespace dws::core
