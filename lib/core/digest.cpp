#include "core/digest.hpp"

#include <array>
#include <cassert>

#include "crypto/encoding.hpp"

namespace dws::core {

namespace {

// Offset of bucket boundary i (0..64) from a, for a range of width L split in
// 64: floor(i * L / 64) without 128-bit arithmetic. `q` and `r` are L / 64 and
// L % 64; the whole ring (L = 2^64) is q = 2^58, r = 0.
Id boundary(Id q, Id r, int i) {
  const Id k = static_cast<Id>(i);
  return k * q + ((k * r) >> 6);
}

void split(Id a, Id b, Id& q, Id& r) {
  const Id width = b - a;
  if (width == 0) {
    q = Id{1} << 58;
    r = 0;
  } else {
    q = width >> 6;
    r = width & 63;
  }
}


}  // namespace

// A hash prints as its 16 big-endian bytes (hi, then lo) in hex.
std::string to_hex(const Hash128& h) {
  std::array<std::uint8_t, 16> bytes{};
  for (int i = 0; i < 8; ++i) {
    bytes[static_cast<std::size_t>(7 - i)] = static_cast<std::uint8_t>(h.hi >> (8 * i));
    bytes[static_cast<std::size_t>(15 - i)] = static_cast<std::uint8_t>(h.lo >> (8 * i));
  }
  return crypto::to_hex(bytes);
}

std::optional<Hash128> parse_hash128(std::string_view text) {
  std::array<std::uint8_t, 16> bytes{};
  if (!crypto::from_hex(text, bytes)) return std::nullopt;
  Hash128 h;
  for (std::size_t i = 0; i < 16; ++i) {
    std::uint64_t& word = i < 8 ? h.hi : h.lo;
    word = (word << 8) | bytes[i];
  }
  return h;
}

Bucket bucket_bounds(Id a, Id b, int i) {
  assert(i >= 0 && i < kDigestBuckets);
  Id q, r;
  split(a, b, q, r);
  return {a + boundary(q, r, i), a + boundary(q, r, i + 1)};
}

int bucket_of(Id a, Id b, Id x) {
  const Id width = b - a;
  const Id d = x - a;
  // x == a is inside only for the whole ring, where it is the last id.
  if (d == 0) return width == 0 ? kDigestBuckets - 1 : -1;
  if (width != 0 && d > width) return -1;
  Id q, r;
  split(a, b, q, r);
  // The largest i with boundary(i) < d; boundaries are non-decreasing.
  int lo = 0, hi = kDigestBuckets - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (boundary(q, r, mid) < d)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

RangeDigest digests_of(const RangeSummary& summary) {
  RangeDigest out;
  for (int i = 0; i < kDigestBuckets; ++i) out[static_cast<std::size_t>(i)] = summary[static_cast<std::size_t>(i)].digest;
  return out;
}

std::vector<int> differing_buckets(const RangeDigest& x, const RangeDigest& y) {
  std::vector<int> out;
  for (int i = 0; i < kDigestBuckets; ++i)
    if (x[static_cast<std::size_t>(i)] != y[static_cast<std::size_t>(i)]) out.push_back(i);
  return out;
}

DigestIndex::DigestIndex(int fine_bits) : bits_(fine_bits), shift_(64 - fine_bits) {
  assert(fine_bits >= 1 && fine_bits <= 24);
  fine_.resize(std::size_t{1} << fine_bits);
}

void DigestIndex::add(Id id, const Hash128& leaf) {
  auto& f = fine_[index_of(id)];
  f.digest ^= leaf;
  ++f.count;
  ++total_;
}

void DigestIndex::remove(Id id, const Hash128& leaf) {
  auto& f = fine_[index_of(id)];
  assert(f.count > 0);
  f.digest ^= leaf;
  --f.count;
  --total_;
}

void DigestIndex::clear() {
  for (auto& f : fine_) f = {};
  total_ = 0;
}

Result<RangeSummary> DigestIndex::summarize(Id a, Id b, const LeafScanner& scan) const {
  RangeSummary out{};
  const Id fine_size = Id{1} << shift_;
  for (int i = 0; i < kDigestBuckets; ++i) {
    const Bucket bucket = bucket_bounds(a, b, i);
    auto& acc = out[static_cast<std::size_t>(i)];
    // Walk the ids lo+1 .. hi one fine bucket (or part of one) at a time;
    // unsigned arithmetic carries the walk across the wrap-around.
    Id x = bucket.lo + 1;
    Id remaining = bucket.hi - bucket.lo;
    while (remaining > 0) {
      const std::size_t j = index_of(x);
      const Id start = static_cast<Id>(j) << shift_;
      const Id left_in_fine = fine_size - (x - start);
      const Id take = left_in_fine < remaining ? left_in_fine : remaining;
      if (x == start && take == fine_size) {
        acc.digest ^= fine_[j].digest;
        acc.count += fine_[j].count;
      } else if (fine_[j].count > 0) {
        Status st = scan(x - 1, x - 1 + take, [&acc](Id, const Hash128& leaf) {
          acc.digest ^= leaf;
          ++acc.count;
        });
        if (!st.ok()) return st;
      }
      x += take;
      remaining -= take;
    }
  }
  return out;
}

}  // namespace dws::core
