#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "core/env.hpp"
#include "core/id.hpp"
#include "core/record.hpp"
#include "store/memory_store.hpp"

using dws::Code;
using dws::Id;
using dws::core::compare;
using dws::core::decode_records;
using dws::core::decode_value;
using dws::core::encode_records;
using dws::core::encode_value;
using dws::core::ItemKey;
using dws::core::MergeOutcome;
using dws::core::Record;
using dws::core::RecordStore;
using dws::core::SplitMix64;

namespace {

std::string random_bytes(SplitMix64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng.next() & 0xff);
  return s;
}

// Small version and payload alphabets force ties, so the content-hash
// tie-break is exercised as often as the version order.
Record random_record(SplitMix64& rng, Id key, std::string sub) {
  Record r;
  r.key = key;
  r.sub = std::move(sub);
  r.version = rng.uniform(4);
  r.tombstone = rng.uniform(3) == 0;
  r.expires_at = rng.uniform(2) == 0 ? 0 : static_cast<std::int64_t>(rng.uniform(3) + 1000);
  r.payload = r.tombstone && rng.uniform(2) == 0 ? "" : std::string(1, static_cast<char>('a' + rng.uniform(3)));
  return r;
}

std::string show(const Record& r) {
  return dws::core::to_hex(r.key) + "/" + r.sub + " v" + std::to_string(r.version) + (r.tombstone ? " tomb" : "") +
         " exp" + std::to_string(r.expires_at) + " '" + r.payload + "'";
}

std::unique_ptr<RecordStore> open_records(dws::core::Store& store, int fine_bits = 8) {
  auto rs = RecordStore::open(store, {fine_bits});
  REQUIRE_MESSAGE(rs.ok(), rs.status().to_string());
  return std::move(rs).value();
}

std::vector<Record> all_records(RecordStore& rs) {
  std::vector<Record> out;
  REQUIRE(rs.scan_range(0, 0, [&](const Record& r) {
                out.push_back(r);
                return true;
              }).ok());
  return out;
}

}  // namespace

TEST_CASE("record: a value encoding round trips, including extreme fields") {
  SplitMix64 rng(1);
  std::vector<Record> cases;
  cases.push_back({});
  cases.push_back({1, "", UINT64_MAX, true, INT64_MAX, ""});
  cases.push_back({2, "sub", 127, false, 128, std::string(1000, '\0')});
  for (int i = 0; i < 500; ++i)
    cases.push_back({rng.next(), "", rng.next() >> rng.uniform(64), rng.uniform(2) == 1,
                     static_cast<std::int64_t>(rng.next() >> 1 >> rng.uniform(63)), random_bytes(rng, rng.uniform(300))});
  for (const auto& r : cases) {
    Record back;
    const std::string enc = encode_value(r);
    REQUIRE_MESSAGE(decode_value(enc, back).ok(), show(r));
    back.key = r.key;
    back.sub = r.sub;
    CHECK_MESSAGE(back == r, "expected " << show(r) << ", decoded " << show(back));
  }
}

TEST_CASE("record: every truncation and extension of an encoding is rejected") {
  Record r{7, "", 300, true, 1700000000000, "hello"};
  const std::string enc = encode_value(r);
  for (std::size_t n = 0; n < enc.size(); ++n) {
    Record out;
    auto st = decode_value(std::string_view(enc).substr(0, n), out);
    CHECK_MESSAGE(st.code() == Code::kInvalidArgument, "prefix of " << n << " bytes: " << st.to_string());
  }
  Record out;
  auto st = decode_value(enc + "x", out);
  CHECK_MESSAGE(st.code() == Code::kInvalidArgument, st.to_string());
  CHECK(st.message().find("trailing") != std::string::npos);
}

TEST_CASE("record: malformed values are rejected with a reason") {
  Record out;
  // format byte 2, unknown flag bits, non-canonical varint, overflowing varint, expires_at > INT64_MAX.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {std::string("\x02\x00\x00\x00\x00", 5), "unknown format"},
      {std::string("\x01\x02\x00\x00\x00", 5), "unknown flag"},
      {std::string("\x01\x00\x80\x00\x00\x00", 6), "non-canonical"},
      {std::string("\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02\x00\x00", 14), "overflows"},
      {std::string("\x01\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00", 14), "expires_at"},
      {std::string("\x01\x00\x00\x00\x05" "abc", 8), "payload"},
  };
  for (const auto& [bytes, why] : bad) {
    auto st = decode_value(bytes, out);
    CHECK_MESSAGE(st.code() == Code::kInvalidArgument, "expected invalid_argument for " << why << ", got "
                                                                                        << st.to_string());
    CHECK_MESSAGE(st.message().find(why) != std::string::npos, "expected '" << why << "' in " << st.message());
  }
}

TEST_CASE("record: random corruption never crashes and anything accepted is canonical") {
  SplitMix64 rng(42);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes = random_bytes(rng, rng.uniform(24));
    } else {
      Record r{0, "", rng.next() >> rng.uniform(64), rng.uniform(2) == 1, 0, random_bytes(rng, rng.uniform(8))};
      bytes = encode_value(r);
      bytes[rng.uniform(bytes.size())] ^= static_cast<char>(1u << rng.uniform(8));
    }
    Record out;
    if (decode_value(bytes, out).ok()) {
      ++accepted;
      CHECK_MESSAGE(encode_value(out) == bytes, "accepted a non-canonical encoding of " << show(out));
    }
  }
  CHECK(accepted > 0);
}

TEST_CASE("record: wire records round trip and any corruption rejects the whole message") {
  SplitMix64 rng(3);
  std::vector<Record> recs;
  for (int i = 0; i < 50; ++i)
    recs.push_back({rng.next(), random_bytes(rng, rng.uniform(40)), rng.next(), rng.uniform(2) == 1,
                    static_cast<std::int64_t>(rng.uniform(1u << 30)), random_bytes(rng, rng.uniform(200))});
  const std::string wire = encode_records(recs);
  auto back = decode_records(wire);
  REQUIRE_MESSAGE(back.ok(), back.status().to_string());
  CHECK(*back == recs);

  for (std::size_t n : {std::size_t{1}, std::size_t{9}, wire.size() / 2, wire.size() - 1}) {
    auto cut = decode_records(std::string_view(wire).substr(0, n));
    CHECK_MESSAGE(cut.status().code() == Code::kInvalidArgument, "prefix of " << n << ": " << cut.status().to_string());
  }
  auto bad_format = decode_records(std::string("\x07", 1) + wire.substr(1));
  CHECK(bad_format.status().code() == Code::kInvalidArgument);
  auto too_many = decode_records(wire, 10);
  CHECK(too_many.status().code() == Code::kInvalidArgument);
  CHECK(decode_records("")->empty());
}

TEST_CASE("record: storage keys order by ring id, then by sub, as raw bytes") {
  using dws::core::storage_key;
  CHECK(storage_key(1, "zzz") < storage_key(2, ""));
  CHECK(storage_key(0x00ff000000000000ULL, "") < storage_key(0xff00000000000000ULL, ""));
  CHECK(storage_key(5, "a") < storage_key(5, "b"));
  CHECK(storage_key(5, "") < storage_key(5, std::string(1, '\0')));
  auto item = dws::core::parse_storage_key(storage_key(0x0123456789abcdefULL, "msg"));
  REQUIRE(item.ok());
  CHECK(item->key == 0x0123456789abcdefULL);
  CHECK(item->sub == "msg");
  CHECK(dws::core::parse_storage_key("short").status().code() == Code::kInvalidArgument);
}

TEST_CASE("record: merge is idempotent, commutative and associative") {
  SplitMix64 rng(20240601);
  for (int i = 0; i < 3000; ++i) {
    const Record a = random_record(rng, 9, "m");
    const Record b = random_record(rng, 9, "m");
    const Record c = random_record(rng, 9, "m");
    using dws::core::merge;
    CHECK_MESSAGE(merge(a, a) == a, show(a));
    CHECK_MESSAGE(merge(a, b) == merge(b, a), show(a) << " vs " << show(b));
    CHECK_MESSAGE(merge(merge(a, b), c) == merge(a, merge(b, c)), show(a) << ", " << show(b) << ", " << show(c));
    // The order is total: exactly one of <, ==, > and == only for equal records.
    CHECK((compare(a, b) == 0) == (a == b));
    CHECK(compare(a, b) == -compare(b, a));
  }
}

TEST_CASE("record: the higher version wins, tombstone or not") {
  Record live{1, "", 5, false, 0, "x"};
  Record tomb{1, "", 6, true, 0, ""};
  CHECK(dws::core::merge(live, tomb) == tomb);
  Record revived{1, "", 7, false, 0, "y"};
  CHECK(dws::core::merge(tomb, revived) == revived);
  CHECK(!live.expired(1));
  Record exp{1, "", 1, false, 100, ""};
  CHECK(!exp.expired(99));
  CHECK(exp.expired(100));
}

TEST_CASE("record: validate rejects a sub that does not fit a store key and a negative expiry") {
  Record r;
  r.sub = std::string(dws::core::kMaxSubSize, 's');
  CHECK(dws::core::validate(r).ok());
  r.sub.push_back('s');
  CHECK(dws::core::validate(r).code() == Code::kInvalidArgument);
  Record e;
  e.expires_at = -1;
  CHECK(dws::core::validate(e).code() == Code::kInvalidArgument);

  dws::store::MemoryStore mem;
  auto rs = open_records(mem);
  auto out = rs->merge(r, 0);
  CHECK(out.status().code() == Code::kInvalidArgument);
  CHECK(mem.stats()->entries == 0);
}

TEST_CASE("record store: merge reports stored, unchanged, stale and expired") {
  dws::store::MemoryStore mem;
  auto rs = open_records(mem);
  Record v1{42, "", 1, false, 0, "one"};
  Record v2{42, "", 2, false, 0, "two"};
  CHECK(*rs->merge(v1, 0) == MergeOutcome::kStored);
  CHECK(*rs->merge(v1, 0) == MergeOutcome::kUnchanged);
  CHECK(*rs->merge(v2, 0) == MergeOutcome::kStored);
  CHECK(*rs->merge(v1, 0) == MergeOutcome::kStale);
  Record old{43, "", 1, false, 500, "gone"};
  CHECK(*rs->merge(old, 500) == MergeOutcome::kExpired);
  CHECK(!rs->get(43, "")->has_value());
  auto got = rs->get(42, "");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK(**got == v2);
  CHECK(rs->count() == 1);
}

TEST_CASE("record store: a batch merges each record against those before it, in one transaction") {
  dws::store::MemoryStore mem;
  auto rs = open_records(mem);
  std::vector<Record> batch = {{7, "a", 3, false, 0, "x"}, {7, "a", 1, false, 0, "y"}, {7, "a", 5, true, 0, ""},
                               {7, "b", 1, false, 0, "z"}, {7, "a", 5, true, 0, ""}};
  auto out = rs->merge(batch, 0);
  REQUIRE_MESSAGE(out.ok(), out.status().to_string());
  const std::vector<MergeOutcome> expected = {MergeOutcome::kStored, MergeOutcome::kStale, MergeOutcome::kStored,
                                              MergeOutcome::kStored, MergeOutcome::kUnchanged};
  CHECK(*out == expected);
  CHECK(**rs->get(7, "a") == batch[2]);
  CHECK(rs->count() == 2);
  CHECK(mem.stats()->entries == 2);
}

TEST_CASE("record store: replicas fed the same records in any order end identical") {
  SplitMix64 rng(77);
  std::vector<Record> feed;
  for (int i = 0; i < 400; ++i) {
    const Id key = rng.uniform(4) == 0 ? UINT64_MAX - rng.uniform(3) : rng.next();
    feed.push_back(random_record(rng, i % 3 == 0 ? 1000 : key, i % 3 == 0 ? std::to_string(rng.uniform(20)) : ""));
  }
  dws::store::MemoryStore m1, m2;
  auto r1 = open_records(m1);
  auto r2 = open_records(m2, 12);
  for (const auto& r : feed) REQUIRE(r1->merge(r, 0).ok());
  auto shuffled = feed;
  for (std::size_t i = shuffled.size() - 1; i > 0; --i) std::swap(shuffled[i], shuffled[rng.uniform(i + 1)]);
  // Half one by one, the rest in batches: batching must not change the result.
  const std::size_t half = shuffled.size() / 2;
  for (std::size_t i = 0; i < half; ++i) REQUIRE(r2->merge(shuffled[i], 0).ok());
  REQUIRE(r2->merge(std::span<const Record>(shuffled).subspan(half), 0).ok());
  CHECK(all_records(*r1) == all_records(*r2));
  CHECK(*r1->range_digest(0, 0) == *r2->range_digest(0, 0));
  CHECK(*r1->range_digest(123456789, 99) == *r2->range_digest(123456789, 99));
}

TEST_CASE("record store: range scans cover (a, b] in ring order, across the wrap-around") {
  dws::store::MemoryStore mem;
  auto rs = open_records(mem);
  SplitMix64 rng(5);
  std::vector<Id> ids = {0, 1, 2, UINT64_MAX, UINT64_MAX - 1, 1ULL << 63, (1ULL << 63) - 1};
  for (int i = 0; i < 200; ++i) ids.push_back(rng.next());
  for (Id id : ids) {
    REQUIRE(rs->merge(Record{id, "", 1, false, 0, "p"}, 0).ok());
    REQUIRE(rs->merge(Record{id, "x", 1, false, 0, "q"}, 0).ok());
  }
  std::vector<std::pair<Id, Id>> ranges = {{0, 0},          {5, 5},           {UINT64_MAX, 2},     {UINT64_MAX - 1, 0},
                                           {0, UINT64_MAX}, {1ULL << 63, 1},  {10, 9},             {UINT64_MAX, UINT64_MAX},
                                           {2, 1},          {(1ULL << 63) - 1, 1ULL << 63}};
  for (int i = 0; i < 50; ++i) ranges.emplace_back(rng.next(), rng.next());
  for (auto [a, b] : ranges) {
    std::vector<std::pair<Id, std::string>> seen;
    REQUIRE(rs->scan_range(a, b, [&](const Record& r) {
                seen.emplace_back(r.key, r.sub);
                return true;
              }).ok());
    // Expected: every stored item with in_half_open(a, id, b), sorted by clockwise distance from a.
    std::vector<std::pair<Id, std::string>> expected;
    for (Id id : std::set<Id>(ids.begin(), ids.end()))
      if (dws::core::in_half_open(a, id, b)) {
        expected.emplace_back(id, "");
        expected.emplace_back(id, "x");
      }
    std::stable_sort(expected.begin(), expected.end(), [a = a](const auto& x, const auto& y) {
      const Id dx = x.first - a - 1, dy = y.first - a - 1;
      return dx != dy ? dx < dy : x.second < y.second;
    });
    CHECK_MESSAGE(seen == expected, "range (" << dws::core::to_hex(a) << ", " << dws::core::to_hex(b) << "]: expected "
                                              << expected.size() << " items, saw " << seen.size());
    CHECK(*rs->count_range(a, b) == expected.size());
  }
}

TEST_CASE("record store: scan_key lists one key's items from a sub on, and stops when asked") {
  dws::store::MemoryStore mem;
  auto rs = open_records(mem);
  for (const char* sub : {"", "01", "02", "03", "10"}) REQUIRE(rs->merge(Record{UINT64_MAX, sub, 1, false, 0, ""}, 0).ok());
  REQUIRE(rs->merge(Record{0, "00", 1, false, 0, ""}, 0).ok());
  std::vector<std::string> subs;
  REQUIRE(rs->scan_key(UINT64_MAX, "02", [&](const Record& r) {
              subs.push_back(r.sub);
              return subs.size() < 2;
            }).ok());
  CHECK(subs == std::vector<std::string>{"02", "03"});
  subs.clear();
  REQUIRE(rs->scan_key(UINT64_MAX, "", [&](const Record& r) {
              subs.push_back(r.sub);
              return true;
            }).ok());
  CHECK(subs == std::vector<std::string>{"", "01", "02", "03", "10"});
}

TEST_CASE("record store: erase, erase_range and purge_expired remove records and their digests") {
  dws::store::MemoryStore mem;
  auto rs = open_records(mem);
  for (Id id = 1; id <= 10; ++id) REQUIRE(rs->merge(Record{id * 1000, "", 1, false, id <= 4 ? 50 : 0, "p"}, 0).ok());
  std::vector<ItemKey> gone = {{10000, ""}, {10000, ""}, {99, ""}};
  CHECK(*rs->erase(gone) == 1);
  CHECK(*rs->purge_expired(49) == 0);
  CHECK(*rs->purge_expired(50, 3) == 3);
  CHECK(*rs->purge_expired(50) == 1);
  CHECK(rs->count() == 5);
  CHECK(*rs->erase_range(6000, 9000) == 3);  // 7000, 8000, 9000
  CHECK(*rs->erase_range(0, 0) == 2);
  CHECK(rs->count() == 0);
  CHECK(mem.stats()->entries == 0);
  const auto digest = rs->range_digest(0, 0);
  REQUIRE(digest.ok());
  for (const auto& h : *digest) CHECK_MESSAGE(h.zero(), "bucket digest " << dws::core::to_hex(h));
}

TEST_CASE("record store: a corrupt stored value is reported with its key, not decoded") {
  dws::store::MemoryStore mem;
  dws::core::WriteBatch batch;
  batch.put(dws::core::storage_key(0xabcdefULL, ""), "\x01\x00\x05");
  REQUIRE(mem.apply(batch).ok());
  auto rs = RecordStore::open(mem);
  REQUIRE(!rs.ok());
  CHECK(rs.status().code() == Code::kInternal);
  CHECK_MESSAGE(rs.status().message().find("0000000000abcdef") != std::string::npos, rs.status().message());
}
