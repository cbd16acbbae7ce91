// Keep-alive round trips against net::HttpServer and, in the same run, a
// cpp-httplib server set up as the project's server was before (16-thread
// pool, TCP_NODELAY, long keep-alive), with the same trivial handler and the
// same client (httplib::Client, pooled keep-alive, as HttpTransport). The
// two alternate for a few rounds so that load from elsewhere hits both.
//   build/bench/http_bench [seconds per measurement, default 1]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "net/http_server.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Figures {
  double per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
};

Figures measure(int port, int threads, double seconds) {
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(threads));
  std::atomic<bool> go{false};
  std::vector<std::thread> ts;
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      while (!go) std::this_thread::yield();
      for (int i = 0; i < 1'000'000 && Clock::now() < until; ++i) {
        const auto t0 = Clock::now();
        auto r = cli.Get("/v1/ring/ping");
        if (!r || r->status != 200) std::abort();
        lat[static_cast<std::size_t>(t)].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    });
  const auto start = Clock::now();
  go = true;
  for (auto& t : ts) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  Figures f;
  f.per_s = static_cast<double>(all.size()) / elapsed;
  if (!all.empty()) {
    f.p50_us = all[all.size() / 2];
    f.p99_us = all[all.size() * 99 / 100];
  }
  return f;
}

constexpr const char* kPong = R"({"id":"0123456789abcdef"})";

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::max(0.2, std::atof(argv[1])) : 1.0;

  dws::net::HttpServerOptions oo;
  if (const char* t = std::getenv("THREADS")) oo.threads = std::atoi(t);
  dws::net::HttpServer ours(oo);
  ours.route("GET", "/v1/ring/ping", [](const dws::net::WireRequest&) {
    dws::net::WireResponse r;
    r.body = kPong;
    return r;
  });
  auto port = ours.bind("127.0.0.1", 0);
  if (!port.ok() || !ours.start().ok()) return 1;

  httplib::Server theirs;
  theirs.new_task_queue = [] { return new httplib::ThreadPool(16); };
  theirs.set_tcp_nodelay(true);
  theirs.set_keep_alive_max_count(10000);
  theirs.Get("/v1/ring/ping", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kPong, "application/json");
  });
  const int their_port = theirs.bind_to_any_port("127.0.0.1");
  std::thread their_thread([&] { theirs.listen_after_bind(); });
  while (!theirs.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  std::printf("  %-28s %7s %12s %10s %10s\n", "server", "threads", "requests/s", "p50 us", "p99 us");
  for (int round = 0; round < 3; ++round)
    for (int threads : {1, 4}) {
      const Figures a = measure(*port, threads, seconds);
      const Figures b = measure(their_port, threads, seconds);
      std::printf("  %-28s %7d %12.0f %10.1f %10.1f\n", "net::HttpServer (Asio)", threads, a.per_s, a.p50_us,
                  a.p99_us);
      std::printf("  %-28s %7d %12.0f %10.1f %10.1f\n", "httplib::Server", threads, b.per_s, b.p50_us, b.p99_us);
    }
  theirs.stop();
  their_thread.join();
  ours.stop();
  return 0;
}
