// LmdbStore with a real LMDB environment in a temporary directory. The
// contract shared with MemoryStore is in test_memory_store.cpp.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/env.hpp"
#include "core/id.hpp"
#include "core/record.hpp"
#include "store/lmdb_store.hpp"
#include "support/test_support.hpp"

using dws::Code;
using dws::Id;
using dws::core::Record;
using dws::core::RecordStore;
using dws::core::SplitMix64;
using dws::core::WriteBatch;
using dws::store::LmdbOptions;
using dws::store::LmdbStore;
using dws::test::TempDir;

namespace {

std::unique_ptr<LmdbStore> open_store(const std::string& dir, LmdbOptions options = {}) {
  auto s = LmdbStore::open(dir, options);
  REQUIRE_MESSAGE(s.ok(), s.status().to_string());
  return std::move(s).value();
}

std::string padded(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08d", n);
  return buf;
}

}  // namespace

TEST_CASE("lmdb store: the environment lives at <data>/store with databases that survive a reopen") {
  TempDir tmp{"dws-lmdb"};
  const std::string data = tmp.sub("nested/data");
  {
    auto s = open_store(data);
    CHECK(s->path() == data + "/store");
    WriteBatch b;
    for (int i = 0; i < 1000; ++i) b.put("key" + padded(i), "value" + std::to_string(i));
    REQUIRE(s->apply(b).ok());
    REQUIRE(s->put_meta("node", "self").ok());
    REQUIRE(s->flush().ok());
  }
  CHECK(std::filesystem::exists(data + "/store/data.mdb"));
  auto s = open_store(data);
  CHECK(**s->get("key" + padded(999)) == "value999");
  CHECK(**s->get_meta("node") == "self");
  auto st = s->stats();
  REQUIRE(st.ok());
  CHECK(st->entries == 1000);
  CHECK(st->meta_entries == 1);
  CHECK(st->map_bytes == LmdbOptions{}.map_size);
  CHECK(st->used_bytes > 0);
}

TEST_CASE("lmdb store: durable mode commits and reopens like the default") {
  TempDir tmp{"dws-lmdb"};
  LmdbOptions opt;
  opt.fsync = true;
  {
    auto s = open_store(tmp.path(), opt);
    WriteBatch b;
    b.put("k", "v");
    REQUIRE(s->apply(b).ok());
  }
  auto s = open_store(tmp.path(), opt);
  CHECK(**s->get("k") == "v");
}

TEST_CASE("lmdb store: a full map fails the whole batch with the map size, and keeps earlier data") {
  TempDir tmp{"dws-lmdb"};
  LmdbOptions opt;
  opt.map_size = 1 << 20;
  auto s = open_store(tmp.path(), opt);
  const std::string value(1000, 'v');
  int batches = 0;
  dws::Status failure;
  for (; batches < 2000; ++batches) {
    WriteBatch b;
    for (int i = 0; i < 50; ++i) b.put("b" + padded(batches) + "-" + padded(i), value);
    failure = s->apply(b);
    if (!failure.ok()) break;
  }
  REQUIRE_MESSAGE(!failure.ok(), "expected a 1 MiB map to fill up, wrote " << batches << " batches of 50 KB");
  CHECK(failure.code() == Code::kInternal);
  CHECK_MESSAGE(failure.message().find("map size of 1 MiB") != std::string::npos, failure.message());
  CHECK_MESSAGE(failure.message().find("map_size") != std::string::npos, failure.message());
  CHECK(batches > 0);
  for (int i = 0; i < 50; ++i) CHECK(!s->get("b" + padded(batches) + "-" + padded(i))->has_value());
  for (int j = 0; j < batches; ++j)
    for (int i : {0, 49}) CHECK(**s->get("b" + padded(j) + "-" + padded(i)) == value);
  CHECK(s->stats()->entries == static_cast<std::uint64_t>(batches) * 50);
  // Deleting makes room again: the store is not wedged.
  WriteBatch del;
  for (int i = 0; i < 50; ++i) del.del("b" + padded(0) + "-" + padded(i));
  REQUIRE(s->apply(del).ok());
  WriteBatch small;
  small.put("after", "ok");
  CHECK(s->apply(small).ok());
}

TEST_CASE("lmdb store: with fsync, batches from 16 threads are visible when apply returns and share commits") {
  TempDir tmp{"dws-lmdb"};
  LmdbOptions opt;
  opt.fsync = true;
  auto s = open_store(tmp.path(), opt);
  constexpr int kThreads = 16, kBatches = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBatches; ++i) {
        WriteBatch b;
        const std::string k = "t" + padded(t) + "-" + padded(i);
        b.put(k + "a", "A" + k);
        b.put(k + "b", "B" + k);
        b.put_meta("last-" + padded(t), k);
        if (!s->apply(b).ok()) ++failures;
        // Read-your-writes: what apply() committed, get() sees at once.
        auto a = s->get(k + "a");
        auto bb = s->get(k + "b");
        auto m = s->get_meta("last-" + padded(t));
        if (!a.ok() || !a->has_value() || **a != "A" + k) ++failures;
        if (!bb.ok() || !bb->has_value() || **bb != "B" + k) ++failures;
        if (!m.ok() || !m->has_value() || **m != k) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  CHECK(s->stats()->entries == std::uint64_t{kThreads} * kBatches * 2);
  // Sixteen writers behind one fsync at a time: the ones that queue while a
  // group syncs commit together, so there are fewer commits than batches.
  MESSAGE("commits for " << kThreads * kBatches << " batches: " << s->commits());
  CHECK(s->commits() < std::uint64_t{kThreads} * kBatches);
}

TEST_CASE("lmdb store: a batch that fills the map fails alone while the rest of its group commits") {
  TempDir tmp{"dws-lmdb"};
  LmdbOptions opt;
  opt.fsync = true;
  opt.map_size = 1 << 20;
  auto s = open_store(tmp.path(), opt);
  const std::uint64_t before = s->commits();
  const auto batch_of = [](std::string key, std::string value) {
    WriteBatch b;
    b.put(std::move(key), std::move(value));
    return b;
  };
  WriteBatch order;
  order.put("order", "first");
  // Submitted before anyone waits, so the first wait leads all of them in
  // one group.
  auto p1 = s->submit(batch_of("good1", "one"));
  auto p2 = s->submit(batch_of("huge", std::string(2 << 20, 'x')));  // twice the map
  auto p3 = s->submit(batch_of(std::string(s->max_key_size() + 1, 'k'), "too long a key"));
  auto p4 = s->submit(order);
  WriteBatch del;
  del.del("order");
  del.put("good2", "two");
  auto p5 = s->submit(del);
  auto p6 = s->submit(batch_of("order", "last"));
  const dws::Status full = p2->wait();
  CHECK(p1->wait().ok());
  CHECK(p4->wait().ok());
  CHECK(p5->wait().ok());
  CHECK(p6->wait().ok());
  CHECK(p1->wait().ok());  // a second wait returns the same Status
  CHECK(full.code() == Code::kInternal);
  CHECK_MESSAGE(full.message().find("map size of 1 MiB") != std::string::npos, full.message());
  const dws::Status key = p3->wait();
  CHECK(key.code() == Code::kInvalidArgument);
  CHECK(s->commits() - before == 1);
  CHECK(**s->get("good1") == "one");
  CHECK(**s->get("good2") == "two");
  CHECK(**s->get("order") == "last");  // the group kept submit order
  CHECK(!s->get("huge")->has_value());
  CHECK(s->stats()->entries == 3);
  // The store is not wedged: a lone writer commits alone.
  CHECK(s->apply(batch_of("after", "ok")).ok());
  CHECK(s->commits() - before == 2);
  CHECK(**s->get("after") == "ok");
}

TEST_CASE("lmdb store: without group commit every apply is its own commit") {
  TempDir tmp{"dws-lmdb"};
  LmdbOptions opt;
  opt.fsync = true;
  opt.group_commit = false;
  auto s = open_store(tmp.path(), opt);
  const std::uint64_t before = s->commits();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        WriteBatch b;
        b.put("t" + padded(t) + "-" + padded(i), "v");
        if (!s->apply(b).ok()) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  CHECK(s->commits() - before == 40);
  CHECK(s->stats()->entries == 40);
}

TEST_CASE("lmdb store: opening where a file blocks the directory names the path") {
  TempDir tmp{"dws-lmdb"};
  const std::string blocker = tmp.sub("data");
  std::ofstream(blocker) << "not a directory";
  auto s = LmdbStore::open(blocker);
  REQUIRE(!s.ok());
  CHECK(s.status().code() == Code::kInternal);
  CHECK_MESSAGE(s.status().message().find(blocker + "/store") != std::string::npos, s.status().message());
}

TEST_CASE("lmdb store: readers on other threads see whole batches while a writer commits") {
  TempDir tmp{"dws-lmdb"};
  auto s = open_store(tmp.path());
  constexpr int kBatches = 1500;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, backwards{0}, errors{0};
  std::atomic<long> reads{0};
  std::atomic<int> started{0};
  auto reader = [&] {
    int last = -1;
    ++started;
    // Bounded even if the writer stalls; the writer's end is what stops it.
    // Every reader reads at least once, however the threads are scheduled.
    for (long i = 0; i < 5'000'000 && (i == 0 || !done.load()); ++i) {
      std::string a, b;
      auto st = s->scan("a", "c", [&](std::string_view k, std::string_view v) {
        (k == "a" ? a : b) = std::string(v);
        return true;
      });
      if (!st.ok()) ++errors;
      if (a != b) ++torn;
      auto got = s->get("a");
      if (!got.ok()) {
        ++errors;
        continue;
      }
      const int now = got->has_value() ? std::stoi(**got) : -1;
      if (now < last) ++backwards;
      last = now;
      ++reads;
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) readers.emplace_back(reader);
  // The writer starts once the readers run, so they overlap on a loaded machine too.
  while (started.load() < 3) std::this_thread::yield();
  for (int n = 0; n < kBatches; ++n) {
    WriteBatch b;
    b.put("a", std::to_string(n));
    b.put("b", std::to_string(n));
    REQUIRE(s->apply(b).ok());
  }
  done = true;
  for (auto& t : readers) t.join();
  CHECK_MESSAGE(torn == 0, torn.load() << " scans saw a and b from different batches");
  CHECK_MESSAGE(backwards == 0, backwards.load() << " gets went back in time");
  CHECK_MESSAGE(errors == 0, errors.load() << " reads failed");
  CHECK(reads > 0);
  CHECK(**s->get("a") == std::to_string(kBatches - 1));
}

TEST_CASE("lmdb store: records merged from several threads keep the digest index exact and the winners stored") {
  TempDir tmp{"dws-lmdb"};
  LmdbOptions opt;
  int threads = 4, per_thread = 300;
  SUBCASE("without fsync") {}
  SUBCASE("with fsync: merges wait for the group commit outside RecordStore's lock") {
    opt.fsync = true;
    threads = 8;
    per_thread = 60;
  }
  auto s = open_store(tmp.path(), opt);
  auto rs = std::move(RecordStore::open(*s, {12})).value();
  std::atomic<int> errors{0};
  std::vector<std::vector<Record>> merged(static_cast<std::size_t>(threads));
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t)
    writers.emplace_back([&, t] {
      SplitMix64 rng(static_cast<std::uint64_t>(t));
      for (int i = 0; i < per_thread; ++i) {
        // Shared keys across threads, so writes race on the same items.
        Record r{rng.uniform(200) * 0x0123456789abcdefULL, "", rng.uniform(10), rng.uniform(3) == 0, 0,
                 std::to_string(t)};
        if (!rs->merge(r, 0).ok()) ++errors;
        merged[static_cast<std::size_t>(t)].push_back(r);
      }
    });
  for (auto& w : writers) w.join();
  CHECK(errors == 0);
  CHECK(rs->count() == s->stats()->entries);
  // Every item holds the greatest record merged into it: merging any of them
  // again stores nothing.
  int stored_again = 0;
  for (const auto& mine : merged)
    for (const Record& r : mine)
      if (*rs->merge(r, 0) == dws::core::MergeOutcome::kStored) ++stored_again;
  CHECK(stored_again == 0);
  auto reopened = std::move(RecordStore::open(*s, {16})).value();
  for (auto [a, b] : std::vector<std::pair<Id, Id>>{{0, 0}, {UINT64_MAX / 3, 7}, {42, UINT64_MAX / 2}})
    CHECK(*rs->range_summary(a, b) == *reopened->range_summary(a, b));
}

TEST_CASE("lmdb store: ring range scans through RecordStore wrap around 2^64") {
  TempDir tmp{"dws-lmdb"};
  auto s = open_store(tmp.path());
  auto rs = std::move(RecordStore::open(*s)).value();
  const std::vector<Id> ids = {UINT64_MAX - 2, UINT64_MAX, 0, 3, 1ULL << 63};
  for (Id id : ids) REQUIRE(rs->merge(Record{id, "", 1, false, 0, dws::core::to_hex(id)}, 0).ok());
  auto collect = [&](Id a, Id b) {
    std::vector<Id> out;
    REQUIRE(rs->scan_range(a, b, [&](const Record& r) {
                CHECK(r.payload == dws::core::to_hex(r.key));
                out.push_back(r.key);
                return true;
              }).ok());
    return out;
  };
  CHECK(collect(UINT64_MAX - 3, 3) == std::vector<Id>{UINT64_MAX - 2, UINT64_MAX, 0, 3});
  CHECK(collect(UINT64_MAX, 3) == std::vector<Id>{0, 3});
  CHECK(collect(3, UINT64_MAX) == std::vector<Id>{1ULL << 63, UINT64_MAX - 2, UINT64_MAX});
  CHECK(collect(3, 3) == std::vector<Id>{1ULL << 63, UINT64_MAX - 2, UINT64_MAX, 0, 3});
  CHECK(collect(1, 2).empty());
  CHECK(*rs->count_range(UINT64_MAX - 3, 3) == 4);
  // Closing and reopening rebuilds the same digests from disk.
  const auto before = *rs->range_digest(UINT64_MAX - 3, 3);
  rs.reset();
  s.reset();
  s = open_store(tmp.path());
  rs = std::move(RecordStore::open(*s)).value();
  CHECK(*rs->range_digest(UINT64_MAX - 3, 3) == before);
  CHECK(rs->count() == ids.size());
}
