#include <doctest/doctest.h>

#include <vector>

#include "core/digest.hpp"
#include "core/env.hpp"
#include "core/id.hpp"
#include "core/record.hpp"
#include "store/memory_store.hpp"

using dws::Id;
using dws::core::bucket_bounds;
using dws::core::bucket_of;
using dws::core::Hash128;
using dws::core::in_half_open;
using dws::core::kDigestBuckets;
using dws::core::RangeSummary;
using dws::core::Record;
using dws::core::RecordStore;
using dws::core::SplitMix64;
using dws::core::to_hex;

namespace {

// The bucket of x found by walking bucket_bounds, independent of bucket_of.
int reference_bucket(Id a, Id b, Id x) {
  int found = -1;
  for (int i = 0; i < kDigestBuckets; ++i) {
    const auto bk = bucket_bounds(a, b, i);
    if (!bk.empty() && in_half_open(bk.lo, x, bk.hi)) {
      REQUIRE_MESSAGE(found == -1, "id " << to_hex(x) << " in buckets " << found << " and " << i);
      found = i;
    }
  }
  return found;
}

// What the digest of (a, b] must be: computed from scratch over every record.
RangeSummary reference_summary(RecordStore& rs, Id a, Id b) {
  RangeSummary out{};
  REQUIRE(rs.scan_range(0, 0, [&](const Record& r) {
                const int i = reference_bucket(a, b, r.key);
                CHECK(i == (in_half_open(a, r.key, b) ? bucket_of(a, b, r.key) : -1));
                if (i >= 0) {
                  out[static_cast<std::size_t>(i)].digest ^= dws::core::leaf_hash(r);
                  ++out[static_cast<std::size_t>(i)].count;
                }
                return true;
              }).ok());
  return out;
}

// Ids that sit on the edges the digest code cuts at: 0 and 2^64 - 1, fine
// bucket edges for 8 and 16 fine bits, and the given range's boundaries.
Id tricky_id(SplitMix64& rng, const std::vector<Id>& edges) {
  switch (rng.uniform(4)) {
    case 0:
      return rng.next();
    case 1:
      return (rng.uniform(2) ? rng.next() & ~((1ULL << 56) - 1) : rng.next() & ~((1ULL << 48) - 1)) +
             rng.uniform(3) - 1;
    case 2:
      return rng.uniform(2) ? rng.uniform(3) : UINT64_MAX - rng.uniform(3);
    default:
      return edges[rng.uniform(edges.size())] + rng.uniform(5) - 2;
  }
}

std::unique_ptr<RecordStore> open_records(dws::core::Store& store, int fine_bits) {
  auto rs = RecordStore::open(store, {fine_bits});
  REQUIRE_MESSAGE(rs.ok(), rs.status().to_string());
  return std::move(rs).value();
}

void check_range(RecordStore& rs, Id a, Id b) {
  auto got = rs.range_summary(a, b);
  REQUIRE_MESSAGE(got.ok(), got.status().to_string());
  const auto want = reference_summary(rs, a, b);
  for (int i = 0; i < kDigestBuckets; ++i) {
    const auto& g = (*got)[static_cast<std::size_t>(i)];
    const auto& w = want[static_cast<std::size_t>(i)];
    CHECK_MESSAGE(g == w, "range (" << to_hex(a) << ", " << to_hex(b) << "] bucket " << i << ": expected "
                                    << to_hex(w.digest) << " x" << w.count << ", got " << to_hex(g.digest) << " x"
                                    << g.count);
  }
}

}  // namespace

TEST_CASE("digest: buckets tile (a, b] exactly, at the wrap-around and for tiny ranges") {
  SplitMix64 rng(11);
  std::vector<std::pair<Id, Id>> ranges = {{0, 0},  {UINT64_MAX, UINT64_MAX}, {5, 5}, {UINT64_MAX - 10, 20},
                                           {0, 63}, {0, 64},                  {7, 8}, {0, UINT64_MAX},
                                           {1, 0},  {UINT64_MAX, 0}};
  for (int i = 0; i < 200; ++i) ranges.emplace_back(rng.next(), rng.next());
  for (int i = 0; i < 50; ++i) {
    const Id a = rng.next();
    ranges.emplace_back(a, a + rng.uniform(200));
  }
  for (auto [a, b] : ranges) {
    CHECK(bucket_bounds(a, b, 0).lo == a);
    CHECK(bucket_bounds(a, b, kDigestBuckets - 1).hi == b);
    const Id width = b - a;
    Id total = 0;
    for (int i = 0; i < kDigestBuckets; ++i) {
      const auto bk = bucket_bounds(a, b, i);
      if (i + 1 < kDigestBuckets) CHECK(bk.hi == bucket_bounds(a, b, i + 1).lo);
      const Id w = bk.hi - bk.lo;
      total += w;
      // Equal widths: floor(L/64) or one more (L = 2^64 for the whole ring).
      const Id q = width == 0 ? (1ULL << 58) : width / 64;
      CHECK_MESSAGE((w == q || w == q + 1), "bucket " << i << " of (" << to_hex(a) << ", " << to_hex(b)
                                                      << "] is " << w << " wide, expected " << q << " or " << q + 1);
    }
    CHECK(total == width);  // 2^64 wraps to 0 for the whole ring
    for (int k = 0; k < 40; ++k) {
      Id x = k < 10 ? a + static_cast<Id>(k) - 2 : (k < 20 ? b + static_cast<Id>(k) - 15 : rng.next());
      CHECK_MESSAGE(bucket_of(a, b, x) == reference_bucket(a, b, x),
                    "x = " << to_hex(x) << " in (" << to_hex(a) << ", " << to_hex(b) << "]");
    }
  }
}

TEST_CASE("digest: the incremental digest equals a from-scratch one after random writes, tombstones and erases") {
  for (int fine_bits : {1, 8, 16}) {
    SplitMix64 rng(1000 + static_cast<std::uint64_t>(fine_bits));
    dws::store::MemoryStore mem;
    auto rs = open_records(mem, fine_bits);
    std::vector<std::pair<Id, Id>> ranges = {{0, 0}, {UINT64_MAX, UINT64_MAX}, {UINT64_MAX - (1ULL << 60), 1ULL << 60}};
    for (int i = 0; i < 6; ++i) ranges.emplace_back(rng.next(), rng.next());
    const Id narrow = rng.next();
    ranges.emplace_back(narrow, narrow + 40);  // narrower than 64: some buckets empty
    std::vector<Id> edges;
    for (auto [a, b] : ranges) {
      edges.push_back(a);
      edges.push_back(b);
      for (int i : {1, 17, 63}) edges.push_back(bucket_bounds(a, b, i).lo);
    }
    std::vector<Record> written;
    for (int round = 0; round < 6; ++round) {
      for (int i = 0; i < 150; ++i) {
        const int op = static_cast<int>(rng.uniform(10));
        if (op < 6 || written.empty()) {
          Record r{tricky_id(rng, edges), rng.uniform(3) == 0 ? std::to_string(rng.uniform(5)) : "", rng.uniform(5),
                   rng.uniform(4) == 0, rng.uniform(5) == 0 ? 100 : 0, std::to_string(rng.next() % 7)};
          REQUIRE(rs->merge(r, 0).ok());
          written.push_back(r);
        } else if (op < 9) {
          // Overwrite something known with a higher version or a tombstone.
          Record r = written[rng.uniform(written.size())];
          r.version += 1 + rng.uniform(2);
          r.tombstone = rng.uniform(2) == 0;
          r.payload = r.tombstone ? "" : "v" + std::to_string(r.version);
          REQUIRE(rs->merge(r, 0).ok());
          written.push_back(r);
        } else {
          const Record& r = written[rng.uniform(written.size())];
          dws::core::ItemKey k{r.key, r.sub};
          REQUIRE(rs->erase(std::span<const dws::core::ItemKey>(&k, 1)).ok());
        }
      }
      if (round == 3) REQUIRE(rs->purge_expired(100).ok());
      if (round == 4) REQUIRE(rs->erase_range(ranges[3].first, ranges[3].first + (1ULL << 58)).ok());
      for (auto [a, b] : ranges) check_range(*rs, a, b);
    }
    CHECK(rs->count() == mem.stats()->entries);
    // Reopening rebuilds the same index from a scan.
    auto reopened = open_records(mem, fine_bits);
    for (auto [a, b] : ranges) CHECK(*reopened->range_summary(a, b) == *rs->range_summary(a, b));
  }
}

TEST_CASE("digest: the result does not depend on fine_bits or on the order records arrived in") {
  SplitMix64 rng(9);
  std::vector<Record> recs;
  for (int i = 0; i < 500; ++i) recs.push_back({rng.next(), "", rng.uniform(3), rng.uniform(2) == 0, 0, "x"});
  dws::store::MemoryStore m1, m2;
  auto r1 = open_records(m1, 16);
  auto r2 = open_records(m2, 5);
  for (const auto& r : recs) REQUIRE(r1->merge(r, 0).ok());
  for (auto it = recs.rbegin(); it != recs.rend(); ++it) REQUIRE(r2->merge(*it, 0).ok());
  for (int i = 0; i < 20; ++i) {
    const Id a = rng.next(), b = i == 0 ? a : rng.next();
    auto d1 = r1->range_digest(a, b);
    auto d2 = r2->range_digest(a, b);
    REQUIRE(d1.ok());
    REQUIRE(d2.ok());
    CHECK(dws::core::differing_buckets(*d1, *d2).empty());
  }
}

TEST_CASE("digest: one differing record changes exactly its bucket") {
  SplitMix64 rng(31);
  dws::store::MemoryStore m1, m2;
  auto r1 = open_records(m1, 10);
  auto r2 = open_records(m2, 10);
  for (int i = 0; i < 300; ++i) {
    Record r{rng.next(), "", 1, false, 0, "same"};
    REQUIRE(r1->merge(r, 0).ok());
    REQUIRE(r2->merge(r, 0).ok());
  }
  for (int i = 0; i < 30; ++i) {
    const Id a = rng.next(), b = rng.next();
    const Id x = a + 1 + rng.uniform(b - a);  // inside (a, b]
    Record extra{x, "m" + std::to_string(i), 1, false, 0, "only on one side"};
    REQUIRE(r2->merge(extra, 0).ok());
    auto diff = dws::core::differing_buckets(*r1->range_digest(a, b), *r2->range_digest(a, b));
    CHECK_MESSAGE(diff == std::vector<int>{bucket_of(a, b, x)},
                  "expected only bucket " << bucket_of(a, b, x) << " to differ, got " << diff.size() << " buckets");
    // The same item with the same version but other content differs too.
    Record twin = extra;
    twin.payload = "other content";
    REQUIRE(r1->merge(twin, 0).ok());
    diff = dws::core::differing_buckets(*r1->range_digest(a, b), *r2->range_digest(a, b));
    CHECK(diff == std::vector<int>{bucket_of(a, b, x)});
    // The bucket lists exactly the differing item on either side.
    std::vector<Record> listed;
    REQUIRE(r2->scan_bucket(a, b, diff.front(), [&](const Record& r) {
                if (r.key == x) listed.push_back(r);
                return true;
              }).ok());
    CHECK(listed == std::vector<Record>{extra});
    // Converge (merge picks one winner on both sides): digests agree again.
    REQUIRE(r1->merge(extra, 0).ok());
    REQUIRE(r2->merge(twin, 0).ok());
    CHECK(dws::core::differing_buckets(*r1->range_digest(a, b), *r2->range_digest(a, b)).empty());
  }
}

TEST_CASE("digest: aligned buckets come from the index alone and cut ones scan only their fine buckets") {
  dws::core::DigestIndex index(16);
  SplitMix64 rng(2);
  for (int i = 0; i < 1000; ++i) index.add(rng.next(), Hash128{rng.next(), rng.next()});
  // (2^64 - 1, 2^64 - 1]: the whole ring, every bucket a run of whole fine buckets.
  int calls = 0;
  auto counting = [&calls](Id lo, Id hi, const dws::core::LeafFn&) {
    ++calls;
    // A scan never reaches past one fine bucket.
    const Id first_fine = (lo + 1) >> 48, last_fine = hi >> 48;
    CHECK_MESSAGE(first_fine == last_fine, "scan (" << to_hex(lo) << ", " << to_hex(hi) << "] spans fine buckets");
    return dws::Status::Ok();
  };
  auto whole = index.summarize(UINT64_MAX, UINT64_MAX, counting);
  REQUIRE(whole.ok());
  CHECK(calls == 0);
  std::uint64_t n = 0;
  for (const auto& s : *whole) n += s.count;
  CHECK(n == 1000);
  calls = 0;
  REQUIRE(index.summarize(rng.next(), rng.next(), counting).ok());
  CHECK_MESSAGE(calls <= 2 * kDigestBuckets, "expected at most 128 partial scans, saw " << calls);
  // A failing scanner's error comes back unchanged.
  auto failing = index.summarize(12345, 678, [](Id, Id, const dws::core::LeafFn&) {
    return dws::Status::Internal("disk on fire");
  });
  CHECK(failing.status().message() == "disk on fire");
}

TEST_CASE("digest: fine_bits outside 1 to 24 and bucket numbers outside 0 to 63 are rejected") {
  dws::store::MemoryStore mem;
  for (int bits : {0, 25}) {
    auto rs = RecordStore::open(mem, {bits});
    CHECK_MESSAGE(rs.status().code() == dws::Code::kInvalidArgument, "fine_bits " << bits << ": " << rs.status().to_string());
  }
  auto rs = open_records(mem, 8);
  auto visit = [](const Record&) { return true; };
  CHECK(rs->scan_bucket(0, 0, 64, visit).code() == dws::Code::kInvalidArgument);
  CHECK(rs->scan_bucket(0, 0, -1, visit).code() == dws::Code::kInvalidArgument);
  CHECK(rs->scan_bucket(0, 10, 3, visit).ok());  // an empty bucket of a narrow range
}

TEST_CASE("digest: 128-bit hashes print and parse as 32 hex digits") {
  Hash128 h{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  CHECK(to_hex(h) == "0123456789abcdeffedcba9876543210");
  CHECK(dws::core::parse_hash128(to_hex(h)) == h);
  CHECK(dws::core::parse_hash128("0123456789ABCDEFfedcba9876543210") == h);
  CHECK(!dws::core::parse_hash128("0123").has_value());
  CHECK(!dws::core::parse_hash128("0123456789abcdeffedcba987654321g").has_value());
}
