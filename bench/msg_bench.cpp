// End-to-end messaging through dws::Client on a 3-node loopback ring in one
// process (n = 3, W = 2), against a same-run baseline:
//   (a) a trivial HTTP round trip (GET /v1/ring/ping via HttpTransport) with
//       1 and 16 threads;
//   (b) messages/s from send() to the online recipient's callback with 1
//       sender and with 16 sender clients to 4 recipients;
//   (c) send-to-callback latency of single messages (p50/p99), each sent
//       after the previous one's callback;
//   (d) the process RSS before the nodes, with the nodes, and with the
//       clients: nodes and clients share the process, so per-node and
//       per-client figures are differences divided by the count.
// Loopback only; every loop is bounded in count and in time.
// Usage: msg_bench [messages per sender for 1 sender, default 2000]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/env.hpp"
#include "dwhatsapp/client.hpp"
#include "dwhatsapp/node.hpp"
#include "net/http_transport.hpp"
#include "support/peer_support.hpp"
#include "support/test_support.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using dws::Client;
using dws::ClientOptions;
using dws::Message;
using dws::test::TempDir;

constexpr auto kPhaseLimit = std::chrono::seconds(60);
constexpr dws::core::Deadline kDeadline{10'000};

[[noreturn]] void die(const std::string& what, const dws::Status& s) {
  std::fprintf(stderr, "msg_bench: %s: %s\n", what.c_str(), s.to_string().c_str());
  std::exit(1);
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// Round trips/s of GET /v1/ring/ping with `threads` callers.
double ping_rate(dws::net::HttpTransport& t, const std::string& node, int threads, int per_thread) {
  std::atomic<long> done{0};
  const auto start = Clock::now();
  std::vector<std::thread> ts;
  for (int k = 0; k < threads; ++k)
    ts.emplace_back([&] {
      for (int i = 0; i < per_thread && Clock::now() - start < kPhaseLimit; ++i) {
        auto r = t.call(node, dws::core::PingReq{}, kDeadline);
        if (!r.ok()) die("ping", r.status());
        ++done;
      }
    });
  for (auto& th : ts) th.join();
  return static_cast<double>(done.load()) / (ms_since(start) / 1000.0);
}

// Counts callbacks and, for texts "<sender>#<seq>", the time from the
// sender's send() call to the callback.
struct Meter {
  std::mutex mu;
  std::condition_variable cv;
  long received = 0;
  std::vector<std::vector<Clock::time_point>> started;  // [sender][seq]
  std::vector<double> latency_ms;

  explicit Meter(std::size_t senders, std::size_t per_sender)
      : started(senders, std::vector<Clock::time_point>(per_sender)) {}

  std::function<void(const Message&)> callback() {
    return [this](const Message& m) {
      const auto now = Clock::now();
      const auto hash = m.text.find('#');
      const std::size_t sender = static_cast<std::size_t>(std::atol(m.text.c_str()));
      const std::size_t seq = static_cast<std::size_t>(std::atol(m.text.c_str() + hash + 1));
      std::lock_guard lock(mu);
      if (sender < started.size() && seq < started[sender].size())
        latency_ms.push_back(std::chrono::duration<double, std::milli>(now - started[sender][seq]).count());
      ++received;
      cv.notify_all();
    };
  }
  bool wait_for(long count, Clock::time_point until) {
    std::unique_lock lock(mu);
    return cv.wait_until(lock, until, [&] { return received >= count; });
  }
};

std::unique_ptr<Client> make_client(const TempDir& dir, const std::vector<std::string>& servers,
                                    const std::string& nick) {
  ClientOptions o;
  o.data_dir = dir.sub("client-" + nick);
  o.servers = servers;
  o.discovery_port = 0;
  o.poll_wait_s = 10;
  o.kdf_opslimit = 1;
  o.kdf_memlimit = 8192;
  auto c = Client::open(o);
  if (!c.ok()) die("open client " + nick, c.status());
  if (dws::Status s = (*c)->register_account(nick, "bench password " + nick); !s.ok()) die("register " + nick, s);
  return std::move(c).value();
}

std::string text(std::size_t sender, std::size_t seq) {
  return std::to_string(sender) + " benchmark message #" + std::to_string(seq);
}

struct Throughput {
  double msgs_per_s = 0;
  long delivered = 0;
  double p50 = 0, p99 = 0;
};

// `senders` clients each send `per_sender` messages to recipients[i % r] as
// fast as send() returns; the clock stops at the last callback.
Throughput run_throughput(std::vector<std::unique_ptr<Client>>& senders, std::vector<std::unique_ptr<Client>>& recipients,
                          const std::vector<std::string>& recipient_names, std::size_t per_sender) {
  Meter meter(senders.size(), per_sender);
  for (auto& r : recipients)
    if (dws::Status s = r->start_receiving(meter.callback()); !s.ok()) die("start_receiving", s);
  const auto start = Clock::now();
  const auto limit = start + kPhaseLimit;
  std::atomic<long> sent{0};
  std::vector<std::thread> ts;
  for (std::size_t k = 0; k < senders.size(); ++k)
    ts.emplace_back([&, k] {
      const std::string& to = recipient_names[k % recipient_names.size()];
      for (std::size_t i = 0; i < per_sender && Clock::now() < limit; ++i) {
        {
          std::lock_guard lock(meter.mu);
          meter.started[k][i] = Clock::now();
        }
        auto id = senders[k]->send(to, text(k, i));
        if (!id.ok()) die("send", id.status());
        ++sent;
      }
    });
  for (auto& t : ts) t.join();
  const bool all = meter.wait_for(sent.load(), limit + std::chrono::seconds(10));
  Throughput out;
  {
    std::lock_guard lock(meter.mu);
    out.delivered = meter.received;
    out.p50 = percentile(meter.latency_ms, 0.50);
    out.p99 = percentile(meter.latency_ms, 0.99);
  }
  out.msgs_per_s = static_cast<double>(out.delivered) / (ms_since(start) / 1000.0);
  if (!all) std::fprintf(stderr, "msg_bench: only %ld of %ld messages delivered in time\n", out.delivered, sent.load());
  for (auto& r : recipients) r->stop_receiving();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t single = argc > 1 ? static_cast<std::size_t>(std::max(100, std::atoi(argv[1]))) : 2000;
  const std::size_t per_sender16 = std::max<std::size_t>(single / 8, 50);
  TempDir dir{"dws-msg-bench"};

  const long rss_start = rss_kib();
  std::vector<std::unique_ptr<dws::Node>> nodes;
  for (int i = 0; i < 3; ++i) {
    dws::NodeOptions o;
    o.listen = "127.0.0.1:0";
    o.data_dir = dir.sub("node" + std::to_string(i));
    o.discovery_port = 0;
    o.stabilize_ms = 200;
    o.sync_ms = 2000;
    o.log_level = "error";
    o.registration_burst = 0;  // every benchmark account comes from 127.0.0.1
    o.ring_secret_file = dws::test::ring_secret_file();
    auto r = i == 0 ? dws::Node::create(o) : dws::Node::join(o, nodes[0]->address());
    if (!r.ok()) die("start node", r.status());
    nodes.push_back(std::move(r).value());
  }
  // A ring of three is complete when every node's successor list holds the
  // two others.
  const auto ring_limit = Clock::now() + kPhaseLimit;
  for (;;) {
    bool ready = true;
    for (auto& n : nodes) ready = ready && n->view().successors.size() >= 2 && n->view().predecessor.has_value();
    if (ready) break;
    if (Clock::now() > ring_limit) die("ring", dws::Status::Unavailable("no ring of 3 within 60 s"));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::vector<std::string> servers;
  for (auto& n : nodes) servers.push_back(n->address());
  const long rss_nodes = rss_kib();

  // (a) Baseline.
  dws::net::HttpTransport transport(dws::test::member_transport());
  const double ping1 = ping_rate(transport, servers[0], 1, 5000);
  const double ping16 = ping_rate(transport, servers[0], 16, 1000);

  // Clients: 16 senders, 4 recipients.
  std::vector<std::unique_ptr<Client>> senders, recipients;
  std::vector<std::string> recipient_names;
  for (int i = 0; i < 4; ++i) {
    recipient_names.push_back("rcpt" + std::to_string(i));
    recipients.push_back(make_client(dir, servers, recipient_names.back()));
  }
  for (int i = 0; i < 16; ++i) senders.push_back(make_client(dir, servers, "sender" + std::to_string(i)));
  const long rss_clients = rss_kib();

  // (c) Latency: one message at a time, each after the previous callback.
  std::vector<double> lat;
  {
    Meter meter(1, 500);
    if (dws::Status s = recipients[0]->start_receiving(meter.callback()); !s.ok()) die("start_receiving", s);
    const auto limit = Clock::now() + kPhaseLimit;
    for (std::size_t i = 0; i < 500 && Clock::now() < limit; ++i) {
      {
        std::lock_guard lock(meter.mu);
        meter.started[0][i] = Clock::now();
      }
      auto id = senders[0]->send(recipient_names[0], text(0, i));
      if (!id.ok()) die("send", id.status());
      if (!meter.wait_for(static_cast<long>(i) + 1, limit)) break;
    }
    recipients[0]->stop_receiving();
    std::lock_guard lock(meter.mu);
    lat = meter.latency_ms;
  }

  // (b) Throughput with 1 and 16 senders.
  std::vector<std::unique_ptr<Client>> one;
  one.push_back(std::move(senders[0]));
  std::vector<std::unique_ptr<Client>> one_rcpt;
  one_rcpt.push_back(std::move(recipients[0]));
  const Throughput t1 = run_throughput(one, one_rcpt, {recipient_names[0]}, single);
  senders[0] = std::move(one[0]);
  recipients[0] = std::move(one_rcpt[0]);
  const Throughput t16 = run_throughput(senders, recipients, recipient_names, per_sender16);
  const long rss_end = rss_kib();

  std::printf("msg_bench: 3 nodes (n = 3, W = 2, LMDB without fsync) on loopback, one process\n\n");
  std::printf("%-58s %12s\n", "measurement", "result");
  std::printf("%-58s %9.0f /s\n", "HTTP round trip GET /v1/ring/ping, 1 thread", ping1);
  std::printf("%-58s %9.0f /s\n", "HTTP round trip GET /v1/ring/ping, 16 threads", ping16);
  std::printf("%-58s %9.0f /s   (%.2f of 1-thread ping; %ld msgs)\n", "messages end to end, 1 sender -> 1 online recipient",
              t1.msgs_per_s, t1.msgs_per_s / ping1, t1.delivered);
  std::printf("%-58s %9.0f /s   (%.2f of 16-thread ping; %ld msgs)\n",
              "messages end to end, 16 senders -> 4 online recipients", t16.msgs_per_s, t16.msgs_per_s / ping16,
              t16.delivered);
  std::printf("%-58s %9.2f ms  (%.1f ping round trips)\n", "latency send->callback p50, one message at a time",
              percentile(lat, 0.50), percentile(lat, 0.50) / (1000.0 / ping1));
  std::printf("%-58s %9.2f ms  (%zu samples)\n", "latency send->callback p99, one message at a time",
              percentile(lat, 0.99), lat.size());
  std::printf("%-58s %9.2f ms / %.2f ms\n", "latency p50 / p99 under load, 1 sender", t1.p50, t1.p99);
  std::printf("%-58s %9.2f ms / %.2f ms\n", "latency p50 / p99 under load, 16 senders", t16.p50, t16.p99);
  std::printf("%-58s %9ld KiB\n", "process RSS before the nodes", rss_start);
  std::printf("%-58s %9ld KiB  (%ld KiB per node)\n", "process RSS with 3 idle nodes", rss_nodes,
              (rss_nodes - rss_start) / 3);
  std::printf("%-58s %9ld KiB  (%ld KiB per client)\n", "process RSS with 20 logged-in clients", rss_clients,
              (rss_clients - rss_nodes) / 20);
  std::printf("%-58s %9ld KiB\n", "process RSS after the runs", rss_end);
  return 0;
}
