// Load balance of real nodes (issue 11: max/mean records per node <= 2 with
// virtual nodes): N dws::Node in this process on loopback ports, each at
// `vnodes` ring positions, M signed records written through one node; once
// placement settles (every record primary once and held 3 times), the
// records each node holds, max over mean, for vnodes = 1 (the baseline, in
// the same run) and the other counts asked for. ring_bench computes the
// same placement for 64 nodes without running them.
// Usage: vnodes_bench [nodes, default 16] [records, default 3000] [vnodes..., default 16]
// Loopback only; every wait is bounded in time, every loop in count.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/messages.hpp"
#include "core/record.hpp"
#include "dwhatsapp/node.hpp"
#include "net/http_transport.hpp"
#include "support/peer_support.hpp"
#include "support/signed_records.hpp"
#include "support/test_support.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr dws::core::Deadline kDeadline{10'000};
constexpr auto kSettle = std::chrono::seconds(120);

struct Row {
  int vnodes = 0;
  double primary_ratio = 0;
  double copies_ratio = 0;
  bool settled = false;
  double seconds = 0;
};

double max_over_mean(const std::vector<std::uint64_t>& v) {
  double sum = 0;
  for (auto x : v) sum += static_cast<double>(x);
  if (sum == 0) return 0;
  return static_cast<double>(*std::max_element(v.begin(), v.end())) / (sum / static_cast<double>(v.size()));
}

Row measure(int nodes, int records, int vnodes) {
  const auto start = Clock::now();
  Row row;
  row.vnodes = vnodes;
  std::vector<std::unique_ptr<dws::Node>> ring;
  for (int i = 0; i < nodes; ++i) {
    dws::NodeOptions o;
    o.listen = "127.0.0.1:0";
    o.vnodes = vnodes;
    o.stabilize_ms = 250;
    o.sync_ms = 1000;
    o.discovery_port = 0;
    o.http_threads = 4;
    o.ring_secret_file = dws::test::ring_secret_file();
    o.log_level = "error";
    auto n = i == 0 ? dws::Node::create(o) : dws::Node::join(o, ring.front()->address());
    if (!n.ok()) {
      std::fprintf(stderr, "node %d: %s\n", i, n.status().to_string().c_str());
      std::exit(1);
    }
    ring.push_back(std::move(n).value());
  }
  // The ring has formed when a walk visits every position.
  const auto deadline = Clock::now() + kSettle;
  const auto positions = static_cast<std::size_t>(nodes * vnodes);
  while (Clock::now() < deadline) {
    auto walked = dws::walk_ring(ring.front()->address(), static_cast<int>(positions) + 1, dws::test::ring_secret_file());
    if (walked.ok() && walked->size() == positions) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  static const dws::test::SignedUsers users;
  dws::net::HttpTransport transport(dws::test::member_transport());
  std::atomic<int> next{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t)
    writers.emplace_back([&] {
      for (int i = next++; i < records; i = next++) {
        const auto record = users.record("lb" + std::to_string(vnodes) + "-" + std::to_string(i));
        for (int attempt = 0; attempt < 100; ++attempt) {
          auto r = transport.call(ring[static_cast<std::size_t>(i) % ring.size()]->address(),
                                  dws::core::StorePutReq{record, false, true}, kDeadline);
          if (r.ok() || r.status().code() != dws::Code::kUnavailable) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
    });
  for (auto& w : writers) w.join();

  std::vector<std::uint64_t> primary(ring.size()), copies(ring.size());
  const auto settle_by = Clock::now() + kSettle;
  while (true) {
    std::uint64_t p = 0, all = 0;
    for (std::size_t i = 0; i < ring.size(); ++i) {
      const auto c = ring[i]->record_counts();
      primary[i] = c.primary;
      copies[i] = c.primary + c.replica;
      p += c.primary;
      all += copies[i];
    }
    row.settled = p == static_cast<std::uint64_t>(records) && all == 3 * static_cast<std::uint64_t>(records);
    if (row.settled || Clock::now() > settle_by) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  row.primary_ratio = max_over_mean(primary);
  row.copies_ratio = max_over_mean(copies);
  for (auto& n : ring) n->halt();
  row.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  const int nodes = argc > 1 ? std::atoi(argv[1]) : 16;
  const int records = argc > 2 ? std::atoi(argv[2]) : 3000;
  std::vector<int> counts{1};
  for (int i = 3; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
  if (argc <= 3) counts.push_back(16);
  if (nodes < 3 || nodes > 64 || records < 1 || records > 100'000) {
    std::fprintf(stderr, "usage: vnodes_bench [nodes 3..64] [records 1..100000] [vnodes 1..64 ...]\n");
    return 2;
  }
  std::printf("load balance of running nodes: %d nodes on loopback, %d signed records, n = 3, W = 2\n", nodes,
              records);
  std::printf("%7s %20s %20s %9s %8s\n", "vnodes", "primaries max/mean", "all copies max/mean", "settled", "seconds");
  for (int v : counts) {
    if (v < 1 || v > 64) continue;
    const Row r = measure(nodes, records, v);
    std::printf("%7d %20.2f %20.2f %9s %8.1f\n", r.vnodes, r.primary_ratio, r.copies_ratio, r.settled ? "yes" : "NO",
                r.seconds);
    std::fflush(stdout);
  }
  return 0;
}
