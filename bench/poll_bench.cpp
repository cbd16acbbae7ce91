// Long polls on one node: N clients hold GET /v1/mailbox?wait=60 open at
// once, then one message is posted to each of a sample of them, one after
// the other, and the time from the POST to the waiting client's answer is
// measured (p50/p99). Same-run baseline: the same delivery with one waiting
// client. The node runs in a child process (forked before any thread), so
// that its threads and RSS are its own (from /proc/<pid>/status) and each
// side has its own descriptor limit: the clients are one Asio thread here.
// Clients come from many loopback source addresses (127.1.x.y, 25 each),
// under the per-address caps. Loopback only; every loop is bounded in count
// and in time.
// With a third argument Q > 0 it then queues Q messages for offline
// recipients (at most 9,000 each, under the mailbox quota of 10,000) and
// gives the node's RSS before and after: the issue's "RSS with 100,000
// queued messages" is `poll_bench 1 1 100000`.
// Usage: poll_bench [waiting clients, default 1000] [sample, default 200] [queued, default 0]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/client_json.hpp"
#include "core/account.hpp"
#include "core/auth.hpp"
#include "core/envelope.hpp"
#include "crypto/encoding.hpp"
#include "dwhatsapp/node.hpp"
#include "net/system_env.hpp"
#include "support/test_support.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using asio::ip::tcp;
namespace core = dws::core;
namespace crypto = dws::crypto;

constexpr auto kPhaseLimit = std::chrono::seconds(60);
constexpr int kPerAddress = 25;  // under max_waiters_per_address (32)
constexpr int kBaselineRounds = 50;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "poll_bench: %s\n", what.c_str());
  std::exit(1);
}

long status_field(const std::string& path, const char* name) {
  std::ifstream in(path);
  std::string line;
  const std::size_t n = std::strlen(name);
  while (std::getline(in, line))
    if (line.compare(0, n, name) == 0) return std::atol(line.c_str() + n);
  return 0;
}
std::string proc_status(pid_t pid) { return "/proc/" + std::to_string(pid) + "/status"; }

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

struct User {
  std::string nick;
  core::Account record;
  crypto::SecretKey sk;
};

User make_user(const std::string& nick) {
  auto made = core::make_account(nick, "bench password", "", 1, crypto::KdfLimits::minimum());
  if (!made.ok()) die("make_account " + nick + ": " + made.status().to_string());
  return User{nick, made->record, made->secret_key};
}

std::string request(const std::string& method, const std::string& target, const std::string& body,
                    const std::string& auth) {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: bench\r\n";
  if (!auth.empty()) r += "Authorization: " + auth + "\r\n";
  if (!body.empty() || method == "POST")
    r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

std::string signed_request(const User& u, const std::string& method, const std::string& target,
                           const std::string& body = "") {
  auto h = core::make_authorization(u.nick, u.sk, method, target, wall_ms(), body);
  if (!h.ok()) die("sign: " + h.status().to_string());
  return request(method, target, body, *h);
}

// Status of a complete HTTP response at the front of `in`, or 0 while it
// is incomplete.
int complete_status(const std::string& in) {
  const auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return 0;
  const auto cl = in.find("Content-Length: ");
  const std::size_t len = cl == std::string::npos || cl > head_end ? 0 : std::strtoul(in.c_str() + cl + 16, nullptr, 10);
  if (in.size() < head_end + 4 + len) return 0;
  return std::atoi(in.c_str() + 9);
}

// A blocking keep-alive connection for setup and for posting.
class Blocking {
 public:
  Blocking(asio::io_context& io, const tcp::endpoint& to) : socket_(io), to_(to) {}
  // Reconnects when the server may have closed the connection: idle for
  // seconds (keep_alive_timeout_s) or told so (keep_alive_max_count).
  std::pair<int, std::string> call(const std::string& req) {
    if (!socket_.is_open() || Clock::now() - used_ > std::chrono::seconds(2)) {
      asio::error_code ec;
      socket_.close(ec);
      socket_.connect(to_);
      socket_.set_option(tcp::no_delay(true));
    }
    asio::write(socket_, asio::buffer(req));
    std::string in;
    char buf[4096];
    int status = 0;
    while ((status = complete_status(in)) == 0) {
      asio::error_code ec;
      const std::size_t n = socket_.read_some(asio::buffer(buf), ec);
      if (ec) die("read: " + ec.message() + " (the node closed the connection: over its connection cap?)");
      in.append(buf, n);
    }
    used_ = Clock::now();
    if (in.find("Connection: close") != std::string::npos) socket_.close();
    return {status, in};
  }

 private:
  tcp::socket socket_;
  tcp::endpoint to_;
  Clock::time_point used_{};
};

// One waiting client on the shared io_context: sends its poll, reads its
// one answer, notes when it came.
struct Poller : std::enable_shared_from_this<Poller> {
  Poller(asio::io_context& io, std::atomic<int>& answered) : socket(io), answered(answered) {}
  tcp::socket socket;
  std::string out, in;
  std::array<char, 4096> buf{};
  std::atomic<int> status{0};  // 0: still waiting; -1: failed
  std::atomic<std::int64_t> answered_ns{0};
  std::atomic<int>& answered;

  void start(const tcp::endpoint& from, const tcp::endpoint& to, std::string req) {
    out = std::move(req);
    asio::error_code ec;
    socket.open(tcp::v4(), ec);
    if (!ec) socket.bind(from, ec);
    if (ec) return fail();
    socket.async_connect(to, [self = shared_from_this()](const asio::error_code& e) {
      if (e) return self->fail();
      asio::error_code ignored;
      self->socket.set_option(tcp::no_delay(true), ignored);
      asio::async_write(self->socket, asio::buffer(self->out), [self](const asio::error_code& we, std::size_t) {
        if (we) return self->fail();
        self->read();
      });
    });
  }
  void read() {
    socket.async_read_some(asio::buffer(buf), [self = shared_from_this()](const asio::error_code& e, std::size_t n) {
      if (e) return self->fail();
      self->in.append(self->buf.data(), n);
      if (const int s = complete_status(self->in)) {
        self->answered_ns = Clock::now().time_since_epoch().count();
        self->status = s;
        ++self->answered;
        return;
      }
      self->read();
    });
  }
  void fail() {
    status = -1;
    ++answered;
  }
};

tcp::endpoint source(int i) {
  const int a = i / kPerAddress;
  return tcp::endpoint(asio::ip::make_address_v4(static_cast<asio::ip::address_v4::uint_type>(
                           (127u << 24) | (1u << 16) | (static_cast<unsigned>(a / 250) << 8) |
                           static_cast<unsigned>(a % 250 + 1))),
                       0);
}

std::string envelope_json(const User& from, const User& to, core::MessageIdGenerator& ids) {
  auto env = core::seal_envelope(from.sk, from.nick, to.nick, to.record.public_key, core::Kind::kText, "bench", ids.next(),
                                 wall_ms());
  if (!env.ok()) die("seal: " + env.status().to_string());
  return dws::client::envelope_json(*env);
}

// Runs the node until `commands` reaches its end (the parent closed it);
// writes its port to `report`. The child of fork(): no thread exists yet.
[[noreturn]] void run_node(int commands, int report) {
  dws::test::TempDir dir("poll-bench");
  dws::NodeOptions o;
  o.listen = "127.0.0.1:0";
  o.data_dir = dir.sub("node");
  o.fsync = false;
  o.discovery_port = 0;
  o.registration_burst = 0;  // no registration limit: the bench registers N accounts
  o.log_level = "error";
  auto made = dws::Node::create(o);
  if (!made.ok()) die("node: " + made.status().to_string());
  std::unique_ptr<dws::Node> node = std::move(made).value();
  const std::string address = node->address();
  const int port = std::atoi(address.c_str() + address.rfind(':') + 1);
  if (::write(report, &port, sizeof port) != sizeof port) die("report the port");
  char c = 0;
  while (::read(commands, &c, 1) > 0) {
  }
  node->stop();
  node.reset();
  std::_Exit(0);
}

template <class F>
bool wait_until(F done, Clock::duration limit) {
  const auto until = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1000;
  const int sample = std::min(n, argc > 2 ? std::max(1, std::atoi(argv[2])) : 200);
  const int queued = argc > 3 ? std::max(0, std::atoi(argv[3])) : 0;
  if (rlimit lim{}; ::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    std::printf("RLIMIT_NOFILE %llu\n", static_cast<unsigned long long>(lim.rlim_cur));
  }
  int commands[2], report[2];
  if (::pipe(commands) != 0 || ::pipe(report) != 0) die("pipe");
  const pid_t child = ::fork();
  if (child < 0) die("fork");
  if (child == 0) {
    ::close(commands[1]);
    ::close(report[0]);
    run_node(commands[0], report[1]);
  }
  ::close(commands[0]);
  ::close(report[1]);
  int port = 0;
  if (::read(report[0], &port, sizeof port) != sizeof port) die("the node did not start");
  const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
  const std::string node_status = proc_status(child);
  const long threads_node = status_field(node_status, "Threads:");
  const long rss_node = status_field(node_status, "VmRSS:");

  asio::io_context io;
  Blocking setup(io, at);
  Blocking metrics(io, at);
  auto gauge = [&](const std::string& name) {
    const std::string text = metrics.call(request("GET", "/metrics", "", "")).second;
    const auto found = text.find("\n" + name + " ");
    return found == std::string::npos ? -1L : std::atol(text.c_str() + found + name.size() + 2);
  };
  const auto t_reg = Clock::now();
  std::vector<User> users;
  // users[0, n): the waiting clients; then one per baseline round; then the sender.
  const int accounts = n + kBaselineRounds + 1;
  users.reserve(static_cast<std::size_t>(accounts));
  for (int i = 0; i < accounts && Clock::now() - t_reg < 2 * kPhaseLimit; ++i) {
    users.push_back(make_user(i == accounts - 1 ? "sender" : "u" + std::to_string(i)));
    auto [status, body] = setup.call(request("POST", "/v1/users", dws::client::account_json(users.back().record), ""));
    if (status != 201) die("register " + users.back().nick + ": " + body);
  }
  if (static_cast<int>(users.size()) != accounts) die("registration did not finish within its time");
  const User& sender = users.back();
  std::printf("registered %d accounts in %.1f s\n", accounts,
              std::chrono::duration<double>(Clock::now() - t_reg).count());

  dws::net::SystemClock clock;
  dws::net::RandomRng rng;
  core::MessageIdGenerator ids(clock, rng);
  std::atomic<int> answered{0};
  auto work = asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });

  // Posts one message to users[i] and returns the ms from the POST to the
  // answer of `poller` (negative: it did not answer in time).
  auto deliver = [&](int i, Poller& poller) {
    const std::string req = signed_request(sender, "POST", "/v1/messages", envelope_json(sender, users[i], ids));
    const auto t0 = Clock::now();
    auto [status, body] = setup.call(req);
    if (status != 201) die("post to " + users[i].nick + ": " + body);
    if (!wait_until([&] { return poller.status.load() != 0; }, std::chrono::seconds(10))) return -1.0;
    if (poller.status != 200) die("poll of " + users[i].nick + " answered " + poller.in);
    return std::chrono::duration<double, std::milli>(Clock::duration(poller.answered_ns.load()) -
                                                     t0.time_since_epoch())
        .count();
  };
  const std::string poll = "/v1/mailbox?wait=60";

  // Baseline: one waiting client at a time, each round a fresh account
  // (an empty mailbox, so its poll waits).
  std::vector<double> base;
  for (int r = 0; r < kBaselineRounds; ++r) {
    const int u = n + r;
    auto p = std::make_shared<Poller>(io, answered);
    std::string req = signed_request(users[u], "GET", poll);
    asio::post(io, [p, at, req = std::move(req)]() mutable { p->start(source(0), at, std::move(req)); });
    if (!wait_until([&] { return gauge("dws_mailbox_waiters") == 1; }, std::chrono::seconds(10)))
      die("the baseline poll never waited");
    const double ms = deliver(u, *p);
    if (ms < 0) die("the baseline poll was not answered within 10 s");
    base.push_back(ms);
    asio::post(io, [p] {
      asio::error_code ec;
      p->socket.close(ec);
    });
  }

  // N waiting clients at once.
  const long rss_registered = status_field(node_status, "VmRSS:");
  answered = 0;
  std::vector<std::shared_ptr<Poller>> pollers;
  const auto t_open = Clock::now();
  bool settled = true;
  // In batches under the listen backlog (1024): a SYN dropped over it
  // would be retried a second later and time the kernel, not the node.
  constexpr int kBatch = 500;
  for (int i = 0; i < n && settled; i += kBatch) {
    for (int k = i; k < std::min(n, i + kBatch); ++k) {
      pollers.push_back(std::make_shared<Poller>(io, answered));
      std::string req = signed_request(users[k], "GET", poll);
      asio::post(io, [p = pollers.back(), from = source(k), at, req = std::move(req)]() mutable {
        p->start(from, at, std::move(req));
      });
    }
    // Every poll so far either waits or has been answered (refused).
    const int opened = std::min(n, i + kBatch);
    settled = wait_until([&] { return gauge("dws_mailbox_waiters") + answered.load() >= opened; },
                         std::chrono::seconds(20));
  }
  const double open_s = std::chrono::duration<double>(Clock::now() - t_open).count();
  const long waiting = gauge("dws_mailbox_waiters");
  int refused = 0, failed = 0;
  std::string refusal;
  for (auto& p : pollers) {
    if (p->status == -1) ++failed;
    else if (p->status != 0) {
      ++refused;
      if (refusal.empty()) refusal = p->in.substr(9, 4) + p->in.substr(p->in.find("\r\n\r\n") + 4);
    }
  }
  const long threads_waiting = status_field(node_status, "Threads:");
  const long rss_waiting = status_field(node_status, "VmRSS:");

  std::vector<double> lat;
  int late = 0;
  const auto t_deliver = Clock::now();
  // The sample: spread over the clients still waiting.
  std::vector<int> open;
  for (int i = 0; i < n; ++i)
    if (pollers[i]->status == 0) open.push_back(i);
  const std::size_t stride = std::max<std::size_t>(1, open.size() / static_cast<std::size_t>(sample));
  for (std::size_t k = 0; k < open.size() && Clock::now() - t_deliver < kPhaseLimit; k += stride) {
    const double ms = deliver(open[k], *pollers[open[k]]);
    if (ms < 0) ++late;
    else lat.push_back(ms);
  }

  std::printf("\n%-44s %10s\n", "long polls on one node", "value");
  std::printf("%-44s %10d\n", "clients opened", n);
  std::printf("%-44s %10ld\n", "waiting at once (dws_mailbox_waiters)", waiting);
  std::printf("%-44s %10d\n", "refused at once", refused);
  std::printf("%-44s %10d\n", "connection failed", failed);
  std::printf("%-44s %10.2f\n", settled ? "s until all waited or were refused" : "s, NOT settled", open_s);
  std::printf("%-44s %10.2f\n", "baseline, 1 waiting: post-to-answer p50 ms", percentile(base, 0.5));
  std::printf("%-44s %10.2f\n", "baseline, 1 waiting: post-to-answer p99 ms", percentile(base, 0.99));
  std::printf("%-44s %10zu\n", "sample delivered", lat.size());
  std::printf("%-44s %10d\n", "sample not answered within 10 s", late);
  std::printf("%-44s %10.2f\n", "N waiting: post-to-answer p50 ms", percentile(lat, 0.5));
  std::printf("%-44s %10.2f\n", "N waiting: post-to-answer p99 ms", percentile(lat, 0.99));
  std::printf("%-44s %10.2f\n", "N waiting: post-to-answer max ms", percentile(lat, 1.0));
  std::printf("%-44s %10ld\n", "node threads: idle", threads_node);
  std::printf("%-44s %10ld\n", "node threads: with N polls waiting", threads_waiting);
  std::printf("%-44s %10ld\n", "node RSS KiB: idle", rss_node);
  std::printf("%-44s %10ld\n", "node RSS KiB: accounts registered, no poll", rss_registered);
  std::printf("%-44s %10ld\n", "node RSS KiB: with N polls waiting", rss_waiting);
  if (waiting > 0)
    std::printf("%-44s %10.1f\n", "node RSS KiB per waiting poll",
                static_cast<double>(rss_waiting - rss_registered) / static_cast<double>(waiting));
  if (!refusal.empty()) std::printf("first refusal: %s\n", refusal.c_str());

  if (queued > 0) {
    // Offline recipients of their own, round robin, one keep-alive connection.
    constexpr int kPerRecipient = 9000;
    const int recipients = std::max(10, (queued + kPerRecipient - 1) / kPerRecipient);
    std::vector<User> offline;
    for (int i = 0; i < recipients; ++i) {
      offline.push_back(make_user("q" + std::to_string(i)));
      auto [status, body] = setup.call(request("POST", "/v1/users", dws::client::account_json(offline.back().record), ""));
      if (status != 201) die("register " + offline.back().nick + ": " + body);
    }
    const long rss_before = status_field(node_status, "VmRSS:");
    constexpr auto kQueueLimit = std::chrono::seconds(600);
    const auto t_queue = Clock::now();
    int stored = 0;
    for (; stored < queued && Clock::now() - t_queue < kQueueLimit; ++stored) {
      const User& to = offline[static_cast<std::size_t>(stored % recipients)];
      auto [status, body] =
          setup.call(signed_request(sender, "POST", "/v1/messages", envelope_json(sender, to, ids)));
      if (status != 201) die("queue message " + std::to_string(stored) + " for " + to.nick + ": " + body);
    }
    const double queue_s = std::chrono::duration<double>(Clock::now() - t_queue).count();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const long rss_after = status_field(node_status, "VmRSS:");
    std::printf("%-44s %10d\n", "messages queued (offline recipients)", stored);
    std::printf("%-44s %10d\n", "offline recipients", recipients);
    std::printf("%-44s %10.1f\n", "queued per second (one connection)", stored / std::max(queue_s, 1e-9));
    std::printf("%-44s %10ld\n", "node RSS KiB: before queueing", rss_before);
    std::printf("%-44s %10ld\n", "node RSS KiB: with the messages queued", rss_after);
    std::printf("%-44s %10ld\n", "node VmHWM KiB (peak)", status_field(node_status, "VmHWM:"));
    // File pages are LMDB's map of its data file (the kernel may reclaim
    // them); anonymous ones are the heap and stacks.
    std::printf("%-44s %10ld\n", "  of it RssAnon KiB (heap, stacks)", status_field(node_status, "RssAnon:"));
    std::printf("%-44s %10ld\n", "  of it RssFile KiB (LMDB's mapped file)", status_field(node_status, "RssFile:"));
    if (stored < queued) std::printf("queueing stopped at its time limit\n");
  }

  const auto t_stop = Clock::now();
  ::close(commands[1]);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  std::printf("%-44s %10.2f\n", "node stop() with the rest waiting, s",
              std::chrono::duration<double>(Clock::now() - t_stop).count());
  work.reset();
  asio::post(io, [&] {
    for (auto& p : pollers) {
      asio::error_code ec;
      p->socket.close(ec);
    }
  });
  io.stop();
  loop.join();
  return 0;
}
