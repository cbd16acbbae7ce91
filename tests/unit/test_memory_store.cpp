// The Store contract (core/store.hpp), checked against both implementations:
// the in-memory store is only useful to the simulator if it behaves exactly
// as LMDB does.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/env.hpp"
#include "store/lmdb_store.hpp"
#include "store/memory_store.hpp"
#include "support/test_support.hpp"

using dws::Code;
using dws::core::SplitMix64;
using dws::core::Store;
using dws::core::WriteBatch;

namespace {

struct MemoryFixture {
  dws::store::MemoryStore store;
  Store& get() { return store; }
};

struct LmdbFixture {
  dws::test::TempDir dir{"dws-store"};
  std::unique_ptr<dws::store::LmdbStore> store;  // declared after dir: closed before it is removed
  LmdbFixture() {
    auto s = dws::store::LmdbStore::open(dir.path());
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    store = std::move(s).value();
  }
  Store& get() { return *store; }
};

std::vector<std::pair<std::string, std::string>> scan_all(Store& s, std::string_view begin, std::string_view end) {
  std::vector<std::pair<std::string, std::string>> out;
  auto st = s.scan(begin, end, [&](std::string_view k, std::string_view v) {
    out.emplace_back(k, v);
    return true;
  });
  REQUIRE_MESSAGE(st.ok(), st.to_string());
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("store: put, get, overwrite and delete", F, MemoryFixture, LmdbFixture) {
  F f;
  Store& s = f.get();
  CHECK(!s.get("a")->has_value());
  WriteBatch b;
  b.put("a", "1");
  b.put("b", std::string("\0\xff", 2));
  REQUIRE(s.apply(b).ok());
  CHECK(**s.get("a") == "1");
  CHECK(**s.get("b") == std::string("\0\xff", 2));
  WriteBatch b2;
  b2.put("a", "2");
  b2.del("b");
  b2.del("never-there");
  REQUIRE(s.apply(b2).ok());
  CHECK(**s.get("a") == "2");
  CHECK(!s.get("b")->has_value());
  CHECK(s.stats()->entries == 1);
  CHECK(s.apply(WriteBatch()).ok());
  CHECK(s.flush().ok());
}

TEST_CASE_TEMPLATE("store: later operations in a batch win over earlier ones on the same key", F, MemoryFixture,
                   LmdbFixture) {
  F f;
  Store& s = f.get();
  WriteBatch b;
  b.put("k", "first");
  b.del("k");
  b.put("k", "last");
  b.put("gone", "x");
  b.del("gone");
  REQUIRE(s.apply(b).ok());
  CHECK(**s.get("k") == "last");
  CHECK(!s.get("gone")->has_value());
}

TEST_CASE_TEMPLATE("store: meta is a namespace of its own", F, MemoryFixture, LmdbFixture) {
  F f;
  Store& s = f.get();
  REQUIRE(s.put_meta("k", "meta").ok());
  CHECK(!s.get("k")->has_value());
  CHECK(**s.get_meta("k") == "meta");
  WriteBatch b;
  b.put("k", "kv");
  b.put_meta("other", "m2");
  b.del_meta("k");
  REQUIRE(s.apply(b).ok());
  CHECK(**s.get("k") == "kv");
  CHECK(!s.get_meta("k")->has_value());
  CHECK(**s.get_meta("other") == "m2");
  auto st = s.stats();
  CHECK(st->entries == 1);
  CHECK(st->meta_entries == 1);
  CHECK(scan_all(s, "", "").size() == 1);
}

TEST_CASE_TEMPLATE("store: scans run in unsigned byte order over [begin, end)", F, MemoryFixture, LmdbFixture) {
  F f;
  Store& s = f.get();
  SplitMix64 rng(8);
  std::map<std::string, std::string> model;  // std::string compares as unsigned bytes
  WriteBatch b;
  for (int i = 0; i < 300; ++i) {
    std::string k(1 + rng.uniform(4), '\0');
    for (auto& c : k) c = static_cast<char>(rng.uniform(4) == 0 ? 0xff : rng.uniform(3));
    model[k] = std::to_string(i);
    b.put(k, std::to_string(i));
  }
  REQUIRE(s.apply(b).ok());
  auto all = scan_all(s, "", "");
  CHECK(all == std::vector<std::pair<std::string, std::string>>(model.begin(), model.end()));
  for (int i = 0; i < 50; ++i) {
    std::string lo(1 + rng.uniform(3), '\0'), hi(1 + rng.uniform(3), '\0');
    for (auto& c : lo) c = static_cast<char>(rng.uniform(3));
    for (auto& c : hi) c = static_cast<char>(rng.uniform(2) ? 0xff : rng.uniform(3));
    if (i % 5 == 0) hi.clear();
    std::vector<std::pair<std::string, std::string>> want;
    for (auto it = model.lower_bound(lo); it != model.end() && (hi.empty() || it->first < hi); ++it) want.push_back(*it);
    CHECK(scan_all(s, lo, hi) == want);
  }
  // end at or before begin: nothing.
  CHECK(scan_all(s, std::string(1, '\x02'), std::string(1, '\x01')).empty());
  // Early stop.
  int seen = 0;
  REQUIRE(s.scan("", "", [&](std::string_view, std::string_view) { return ++seen < 3; }).ok());
  CHECK(seen == 3);
}

TEST_CASE_TEMPLATE("store: a scan sees one snapshot and its callback may write", F, MemoryFixture, LmdbFixture) {
  F f;
  Store& s = f.get();
  WriteBatch b;
  for (char c = 'a'; c <= 'e'; ++c) b.put(std::string(1, c), "old");
  REQUIRE(s.apply(b).ok());
  std::vector<std::string> values;
  REQUIRE(s.scan("", "", [&](std::string_view k, std::string_view v) {
               values.emplace_back(v);
               WriteBatch w;
               w.put("e", "new");
               w.put("z", "added");
               REQUIRE(s.apply(w).ok());
               CHECK(s.get(k)->has_value());
               return true;
             }).ok());
  CHECK(values == std::vector<std::string>(5, "old"));
  CHECK(**s.get("e") == "new");
  CHECK(**s.get("z") == "added");
}

TEST_CASE_TEMPLATE("store: keys must be 1 to 511 bytes and a bad key rejects the whole batch", F, MemoryFixture,
                   LmdbFixture) {
  F f;
  Store& s = f.get();
  CHECK(s.max_key_size() == 511);
  WriteBatch ok;
  ok.put(std::string(511, 'k'), "v");
  REQUIRE(s.apply(ok).ok());
  CHECK(**s.get(std::string(511, 'k')) == "v");

  WriteBatch bad;
  bad.put("first", "v");
  bad.put(std::string(512, 'k'), "v");
  auto st = s.apply(bad);
  CHECK_MESSAGE(st.code() == Code::kInvalidArgument, st.to_string());
  CHECK_MESSAGE(st.message().find("512 bytes") != std::string::npos, st.message());
  CHECK(!s.get("first")->has_value());

  WriteBatch empty_key;
  empty_key.put("", "v");
  CHECK(s.apply(empty_key).code() == Code::kInvalidArgument);
  CHECK(s.get(std::string(512, 'k')).status().code() == Code::kInvalidArgument);
  CHECK(s.put_meta(std::string(600, 'm'), "v").code() == Code::kInvalidArgument);
}
