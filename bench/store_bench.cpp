// Replicated writes against same-run baselines (DESIGN.md section 11):
//   (a) raw LmdbStore puts, one put per commit, without and with fsync; and
//       from 16 threads with and without group commit;
//   (b) a trivial HTTP round trip (GET /v1/ring/ping via HttpTransport);
//   (c) writes through ONE entry node into a 3-node loopback ring, n = 3,
//       W = 2, with 1 and 16 writers, in both durability modes,
// each write figure printed with its ratio to the baselines. Loopback only;
// every loop is bounded in count and in time.
// Usage: store_bench [seconds per measurement, default 2]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/env.hpp"
#include "core/id.hpp"
#include "core/record.hpp"
#include "dwhatsapp/node.hpp"
#include "net/http_transport.hpp"
#include "store/lmdb_store.hpp"
#include "support/peer_support.hpp"
#include "support/signed_records.hpp"
#include "support/test_support.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using dws::test::TempDir;

constexpr std::size_t kPayloadBytes = 100;
constexpr std::uint64_t kMaxOps = 200'000;  // per measurement, whatever the time
constexpr dws::core::Deadline kDeadline{10'000};

double g_seconds = 2.0;

struct Figure {
  double per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  std::uint64_t ops = 0;
  std::uint64_t errors = 0;
  std::uint64_t commits = 0;  // raw store rows: write transactions committed
};

// Runs op(thread, i) on `threads` threads until g_seconds pass or kMaxOps
// ops are done; per-op latencies give p50 / p99.
template <typename Op>
Figure measure(int threads, Op op, std::uint64_t max_ops = kMaxOps) {
  std::atomic<std::uint64_t> next{0};
  std::atomic<std::uint64_t> errors{0};
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(threads));
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration<double>(g_seconds);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      auto& mine = lat[static_cast<std::size_t>(t)];
      for (;;) {
        const std::uint64_t i = next.fetch_add(1);
        if (i >= max_ops) return;
        const auto s = Clock::now();
        if (s >= end) return;
        if (!op(t, i)) ++errors;
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - s).count());
      }
    });
  for (auto& th : pool) th.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  Figure f;
  f.ops = all.size();
  f.errors = errors.load();
  f.per_s = static_cast<double>(f.ops - f.errors) / secs;
  if (!all.empty()) {
    f.p50_us = all[all.size() / 2];
    f.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return f;
}

std::string payload(std::uint64_t i) {
  std::string p(kPayloadBytes, 'x');
  const std::string tag = std::to_string(i);
  p.replace(0, tag.size(), tag);
  return p;
}

void print(const char* what, const Figure& f) {
  std::printf("  %-58s %10.0f /s   p50 %8.1f us   p99 %8.1f us   (%llu ops, %llu errors)\n", what, f.per_s, f.p50_us,
              f.p99_us, static_cast<unsigned long long>(f.ops), static_cast<unsigned long long>(f.errors));
  std::fflush(stdout);
}

// `threads` writers each applying one put per batch; with group_commit the
// concurrent batches share commits (and fsyncs).
Figure raw_lmdb(bool fsync, int threads = 1, bool group_commit = true) {
  TempDir dir{"dws-store-bench"};
  dws::store::LmdbOptions o;
  o.fsync = fsync;
  o.group_commit = group_commit;
  o.map_size = std::uint64_t{1} << 30;
  auto store = dws::store::LmdbStore::open(dir.sub("lmdb"), o);
  if (!store.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", store.status().to_string().c_str());
    std::exit(1);
  }
  dws::core::SplitMix64 rng(fsync ? 2 : 1);
  std::vector<std::uint64_t> keys(kMaxOps);
  for (auto& k : keys) k = rng.next();
  const std::uint64_t commits0 = (*store)->commits();
  Figure f = measure(threads, [&](int, std::uint64_t i) {
    dws::core::WriteBatch b;
    b.put(dws::core::storage_key(keys[i], ""), payload(i));
    return (*store)->apply(b).ok();
  });
  f.commits = (*store)->commits() - commits0;
  return f;
}

dws::NodeOptions node_options(const std::string& data_dir, bool fsync) {
  dws::NodeOptions o;
  o.listen = "127.0.0.1:0";
  o.data_dir = data_dir;
  o.fsync = fsync;
  o.map_size = std::uint64_t{1} << 30;
  o.discovery_port = 0;
  o.stabilize_ms = 500;
  o.sync_ms = 5000;
  o.http_threads = 16;
  o.log_level = "error";
  o.ring_secret_file = dws::test::ring_secret_file();
  return o;
}

std::unique_ptr<dws::Node> must(dws::Result<std::unique_ptr<dws::Node>> r) {
  if (!r.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", r.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

Figure ping(const std::string& address, int threads) {
  dws::net::HttpTransport transport(dws::test::member_transport());
  return measure(threads, [&](int, std::uint64_t) {
    return transport.call(address, dws::core::PingReq{}, kDeadline).ok();
  });
}

// A 3-node ring whose every member has the whole ring's successor list.
struct Ring3 {
  TempDir dir{"dws-store-bench"};
  std::vector<std::unique_ptr<dws::Node>> nodes;

  explicit Ring3(bool fsync) {
    nodes.push_back(must(dws::Node::create(node_options(dir.sub("n0"), fsync))));
    for (int i = 1; i < 3; ++i)
      nodes.push_back(must(dws::Node::join(node_options(dir.sub("n" + std::to_string(i)), fsync),
                                           nodes[0]->address())));
    // Bounded wait for the ring to form: each node sees both others.
    const auto give_up = Clock::now() + std::chrono::seconds(30);
    for (;;) {
      bool formed = true;
      for (auto& n : nodes) formed = formed && n->view().successors.size() >= 2 && n->view().predecessor;
      if (formed) break;
      if (Clock::now() > give_up) {
        std::fprintf(stderr, "store_bench: the 3-node ring did not form within 30 s\n");
        std::exit(1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~Ring3() {
    for (auto& n : nodes) n->stop();
  }
};

// Nodes store only records that verify: signed user records (about 330
// bytes of payload), made before the clock starts. The pool bounds the
// operations of one measurement (far above what 2 s allow here).
constexpr std::uint64_t kSignedPool = 40'000;

Figure replicated_writes(Ring3& ring, int writers, std::uint64_t seed) {
  const std::string entry = ring.nodes[0]->address();
  dws::net::HttpTransport transport(dws::test::member_transport());
  const dws::test::SignedUsers users;
  std::vector<dws::core::Record> records;
  records.reserve(kSignedPool);
  const std::string prefix = "b" + std::to_string(seed) + "-";
  for (std::uint64_t i = 0; i < kSignedPool; ++i) records.push_back(users.record(prefix + std::to_string(i)));
  return measure(
      writers,
      [&](int, std::uint64_t i) {
        auto res = transport.call(entry, dws::core::StorePutReq{records[i], false, true}, kDeadline);
        return res.ok() && std::get<dws::core::StorePutResp>(*res).copies >= 2;
      },
      kSignedPool);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_seconds = std::max(0.2, std::atof(argv[1]));
  std::printf("store_bench: %.1f s per measurement (at most %llu ops), %zu-byte payloads, loopback\n", g_seconds,
              static_cast<unsigned long long>(kMaxOps), kPayloadBytes);

  std::printf("baselines\n");
  const Figure lmdb_nosync = raw_lmdb(false);
  print("raw LMDB put, one per commit, MDB_NOSYNC", lmdb_nosync);
  const Figure lmdb_fsync = raw_lmdb(true);
  print("raw LMDB put, one per commit, fsync", lmdb_fsync);
  std::printf("raw LmdbStore::apply, one put per batch, 16 threads\n");
  const auto print_raw = [](const char* what, const Figure& f) {
    print(what, f);
    std::printf("  %-58s %10.1f batches per commit\n", "",
                f.commits ? static_cast<double>(f.ops) / static_cast<double>(f.commits) : 0.0);
  };
  print_raw("MDB_NOSYNC, one commit per apply (never grouped)", raw_lmdb(false, 16, true));
  const Figure fsync16_alone = raw_lmdb(true, 16, false);
  print_raw("fsync, one commit per apply (group_commit = false)", fsync16_alone);
  const Figure fsync16_group = raw_lmdb(true, 16, true);
  print_raw("fsync, group commit", fsync16_group);
  std::printf("  %-58s %10.2f x\n", "fsync group commit, 16 threads / fsync, 1 thread",
              fsync16_group.per_s / lmdb_fsync.per_s);

  Figure http1;
  Figure http16;
  {
    auto node = must(dws::Node::create(node_options("", false)));
    http1 = ping(node->address(), 1);
    print("HTTP round trip GET /v1/ring/ping, 1 thread", http1);
    http16 = ping(node->address(), 16);
    print("HTTP round trip GET /v1/ring/ping, 16 threads", http16);
    node->stop();
  }

  struct Row {
    const char* mode;
    int writers;
    Figure f;
    const Figure* lmdb;
  };
  std::vector<Row> rows;
  std::printf("writes through one entry node, 3-node ring, n = 3, W = 2\n");
  for (bool fsync : {false, true}) {
    Ring3 ring(fsync);
    for (int writers : {1, 16}) {
      const Figure f = replicated_writes(ring, writers, static_cast<std::uint64_t>(writers) * 10 + fsync);
      const std::string what = std::string(fsync ? "fsync per write" : "NOSYNC + 100 ms flush") + ", " +
                               std::to_string(writers) + (writers == 1 ? " writer" : " writers");
      print(what.c_str(), f);
      rows.push_back({fsync ? "fsync" : "nosync+flush", writers, f, fsync ? &lmdb_fsync : &lmdb_nosync});
    }
  }

  std::printf("\nratios (replicated writes/s divided by the same-run baseline)\n");
  std::printf("  %-13s %7s %12s %10s %10s %18s %20s\n", "mode", "writers", "writes/s", "p50 us", "p99 us",
              "/ raw LMDB (mode)", "/ HTTP ping (same thr)");
  for (const Row& r : rows) {
    const Figure& http = r.writers == 1 ? http1 : http16;
    std::printf("  %-13s %7d %12.0f %10.1f %10.1f %18.3f %20.3f\n", r.mode, r.writers, r.f.per_s, r.f.p50_us,
                r.f.p99_us, r.f.per_s / r.lmdb->per_s, r.f.per_s / http.per_s);
  }
  std::uint64_t errors = 0;
  for (const Row& r : rows) errors += r.f.errors;
  if (errors != 0) {
    std::printf("store_bench: %llu writes failed\n", static_cast<unsigned long long>(errors));
    return 1;
  }
  return 0;
}
