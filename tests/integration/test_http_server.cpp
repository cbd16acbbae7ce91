// net::HttpServer on real loopback sockets: the transport limits of
// DESIGN.md section 12 (header and body deadlines, sizes, connections per
// address), what cpp-httplib's server did for us before (keep-alive,
// pipelining, query decoding, JSON errors), and the node's file modes.
// Slow clients are raw sockets bound to other 127.0.0.x source addresses,
// so that the per-address cap does not hide the deadline being tested.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <mutex>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dwhatsapp/node.hpp"
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "support/test_support.hpp"

using namespace std::chrono_literals;
using dws::net::HttpServer;
using dws::net::HttpServerOptions;
using dws::net::WireRequest;
using dws::net::WireResponse;
using dws::test::TempDir;
using dws::test::wait_for;

namespace {

// A client socket from a chosen loopback source address.
class RawConn {
 public:
  RawConn(const std::string& source_ip, int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, source_ip.c_str(), &src.sin_addr);
    REQUIRE_MESSAGE(::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src) == 0, "bind ", source_ip);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    REQUIRE_MESSAGE(::connect(fd_, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0, "connect from ", source_ip);
  }
  ~RawConn() { close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  int fd() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads until the peer closes or `limit` passes; what arrived.
  std::string read_to_close(std::chrono::milliseconds limit = 10s) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_by_peer_ = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  // Reads one response (head and Content-Length body), waiting up to `limit`.
  std::string read_response(std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const std::size_t end = pending_.find("\r\n\r\n");
      if (end != std::string::npos) {
        const std::size_t cl = pending_.find("Content-Length: ");
        const std::size_t len = cl < end ? std::stoul(pending_.substr(cl + 16)) : 0;
        if (pending_.size() >= end + 4 + len) {
          std::string one = pending_.substr(0, end + 4 + len);
          pending_.erase(0, end + 4 + len);
          return one;
        }
      }
      if (std::chrono::steady_clock::now() > deadline) return "";
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_by_peer_ = true;
        std::string rest = std::move(pending_);
        pending_.clear();
        return rest;
      }
      pending_.append(buf, static_cast<std::size_t>(n));
    }
  }

  bool closed_by_peer() const { return closed_by_peer_; }

 private:
  int fd_ = -1;
  std::string pending_;
  bool closed_by_peer_ = false;
};

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }
bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// A server with an echo route that shows what the handler was given.
struct EchoServer {
  explicit EchoServer(HttpServerOptions options = {}, const std::function<void(HttpServer&)>& more_routes = {})
      : server(options) {
    if (more_routes) more_routes(server);
    server.route("GET", "/echo", [](const WireRequest& w) {
      WireResponse r;
      std::string q;
      for (const auto& [k, v] : w.query) q += "[" + k + "=" + v + "]";
      r.body = "path=" + w.path + " target=" + w.raw_target + " from=" + w.remote_address + " q=" + q;
      r.content_type = "text/plain";
      return r;
    });
    server.route("POST", "/echo", [](const WireRequest& w) {
      WireResponse r;
      r.body = w.body;
      return r;
    });
    server.route_pattern("GET", "/v1/users/[a-z]+", [](const WireRequest& w) {
      WireResponse r;
      r.body = "user " + w.path.substr(10);
      return r;
    });
    auto p = server.bind("127.0.0.1", 0);
    REQUIRE_MESSAGE(p.ok(), p.status().to_string());
    port = *p;
    REQUIRE(server.start().ok());
  }
  HttpServer server;
  int port = 0;
};

std::uint64_t metric(const std::string& text, const std::string& name) {
  const std::size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::strtoull(text.c_str() + at + name.size() + 2, nullptr, 10);
}

}  // namespace

TEST_CASE("http server: 300 connections sending a header byte every 3 s are cut off, /v1/health answers throughout") {
  dws::NodeOptions o;
  o.listen = "127.0.0.1:0";
  o.discovery_port = 0;
  o.stabilize_ms = 200;
  o.log_level = "error";
  auto started = dws::Node::create(o);
  REQUIRE_MESSAGE(started.ok(), started.status().to_string());
  std::unique_ptr<dws::Node> node = std::move(started).value();
  const int port = std::stoi(node->address().substr(node->address().rfind(':') + 1));

  // 60 from each of five addresses: under the cap of 64 per address.
  constexpr int kSlow = 300;
  std::vector<std::unique_ptr<RawConn>> slow;
  for (int i = 0; i < kSlow; ++i)
    slow.push_back(std::make_unique<RawConn>("127.0.0." + std::to_string(2 + i / 60), port));

  std::atomic<bool> flood_over{false};
  std::atomic<int> health_ok{0}, health_failed{0}, normal_ok{0}, normal_failed{0};
  std::thread prober([&] {
    httplib::Client cli("127.0.0.1", port);
    cli.set_keep_alive(true);
    cli.set_tcp_nodelay(true);
    cli.set_read_timeout(5, 0);
    cli.set_connection_timeout(5, 0);
    for (int i = 0; i < 2000 && !flood_over; ++i) {
      auto health = cli.Get("/v1/health");
      (health && health->status == 200 && contains(health->body, node->address()) ? health_ok : health_failed)++;
      // A normal request through the user API: a JSON 404 for nobody.
      auto user = cli.Get("/v1/users/nobody");
      (user && user->status == 404 && contains(user->body, "not_found") ? normal_ok : normal_failed)++;
      std::this_thread::sleep_for(50ms);  // pacing, not synchronization
    }
  });

  // "GET /v1/health HTTP/1.1\r\n..." one byte per connection per round; a
  // connection is done when the server has closed it.
  const std::string request = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<std::string> got(kSlow);
  std::vector<bool> done(kSlow, false);
  int rounds = 0;
  int finished = 0;
  const auto give_up = std::chrono::steady_clock::now() + 40s;
  auto next_round = std::chrono::steady_clock::now();
  while (finished < kSlow && std::chrono::steady_clock::now() < give_up) {
    if (std::chrono::steady_clock::now() >= next_round && rounds < 8) {
      for (int i = 0; i < kSlow; ++i)
        if (!done[i]) (void)slow[i]->send(request.substr(static_cast<std::size_t>(rounds), 1));
      ++rounds;
      next_round += 3s;
    }
    std::vector<pollfd> fds;
    std::vector<int> which;
    for (int i = 0; i < kSlow; ++i)
      if (!done[i]) {
        fds.push_back(pollfd{slow[i]->fd(), POLLIN, 0});
        which.push_back(i);
      }
    if (::poll(fds.data(), fds.size(), 200) <= 0) continue;
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const int i = which[k];
      char buf[1024];
      const ssize_t n = ::recv(slow[i]->fd(), buf, sizeof buf, 0);
      if (n > 0) {
        got[i].append(buf, static_cast<std::size_t>(n));
        continue;
      }
      done[i] = true;
      ++finished;
    }
  }
  flood_over = true;
  prober.join();

  int timed_out = 0;
  for (int i = 0; i < kSlow; ++i)
    if (starts_with(got[i], "HTTP/1.1 408") && contains(got[i], "request headers not complete within 10 s"))
      ++timed_out;
  CHECK_MESSAGE(finished == kSlow, finished, " of ", kSlow, " slow connections were cut off");
  CHECK(timed_out == kSlow);
  CHECK_MESSAGE(rounds >= 3, "the slow connections stayed open for ", rounds, " rounds of one byte");
  CHECK(health_failed == 0);
  CHECK(health_ok > 0);
  CHECK(normal_failed == 0);
  CHECK(normal_ok > 0);
  const std::string metrics = node->metrics_text();
  CHECK(metric(metrics, "dws_http_header_timeouts_total") == kSlow);
  CHECK(metric(metrics, "dws_http_connections_refused_total{reason=\"per_address\"}") == 0);
}

TEST_CASE("http server: over 64 connections from one address get a 429 JSON error, other addresses are served") {
  HttpServerOptions options;
  options.keep_alive_timeout_s = 120;  // the held connections stay idle for the whole test
  EchoServer s(options);
  std::vector<std::unique_ptr<RawConn>> held;
  for (int i = 0; i < 64; ++i) held.push_back(std::make_unique<RawConn>("127.0.0.9", s.port));
  REQUIRE(wait_for([&] { return s.server.stats().connections_open == 64; }, 10s));

  RawConn over("127.0.0.9", s.port);
  (void)over.send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string refused = over.read_to_close();
  CHECK_MESSAGE(starts_with(refused, "HTTP/1.1 429"), refused);
  CHECK(contains(refused, R"("code":"rate_limited")"));
  CHECK(contains(refused, "127.0.0.9 has 64 connections open to this node"));
  CHECK(over.closed_by_peer());
  CHECK(s.server.stats().refused_per_address == 1);

  // Another address is not affected.
  RawConn other("127.0.0.10", s.port);
  REQUIRE(other.send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(starts_with(other.read_response(), "HTTP/1.1 200"));

  // A slot freed is a slot for the same address again.
  held.back()->close();
  held.pop_back();
  REQUIRE(wait_for([&] { return s.server.stats().connections_open == 64; }, 10s));  // 63 held + other
  RawConn again("127.0.0.9", s.port);
  REQUIRE(again.send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(starts_with(again.read_response(), "HTTP/1.1 200"));
}

TEST_CASE("http server: over the global connection cap, a 503 JSON error") {
  HttpServerOptions options;
  options.max_connections = 8;
  options.keep_alive_timeout_s = 120;
  EchoServer s(options);
  std::vector<std::unique_ptr<RawConn>> held;
  for (int i = 0; i < 8; ++i) held.push_back(std::make_unique<RawConn>("127.0.0." + std::to_string(20 + i), s.port));
  REQUIRE(wait_for([&] { return s.server.stats().connections_open == 8; }, 10s));
  RawConn over("127.0.0.30", s.port);
  const std::string refused = over.read_to_close();
  CHECK_MESSAGE(starts_with(refused, "HTTP/1.1 503"), refused);
  CHECK(contains(refused, "the node has 8 connections open, its limit"));
  CHECK(s.server.stats().refused_global == 1);
}

TEST_CASE("http server: keep-alive, pipelining, 100-continue, Connection: close, and what a handler is given") {
  EchoServer s;
  RawConn c("127.0.0.1", s.port);
  // Two requests in one write: two answers, in order, on one connection.
  REQUIRE(c.send("GET /echo?q=a%20b+c&k HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
  const std::string first = c.read_response();
  CHECK_MESSAGE(starts_with(first, "HTTP/1.1 200 OK\r\n"), first);
  CHECK(contains(first, "Connection: keep-alive"));
  CHECK(contains(first, "path=/echo target=/echo?q=a%20b+c&k from=127.0.0.1 q=[q=a b c][k=]"));
  const std::string second = c.read_response();
  CHECK_MESSAGE(starts_with(second, "HTTP/1.1 200"), second);
  CHECK(second.substr(second.size() - 5) == "hello");

  // A percent-encoded path matches its route decoded, as httplib did.
  REQUIRE(c.send("GET /v1/users/%61l HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(contains(c.read_response(), "user al"));

  // Expect: 100-continue (curl's way with larger bodies) is answered first.
  REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
  CHECK(c.read_response() == "HTTP/1.1 100 Continue\r\n\r\n");
  REQUIRE(c.send("abc"));
  const std::string continued = c.read_response();
  CHECK_MESSAGE(starts_with(continued, "HTTP/1.1 200"), continued);
  CHECK(continued.substr(continued.size() - 3) == "abc");

  REQUIRE(c.send("GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string missing = c.read_to_close();
  CHECK(starts_with(missing, "HTTP/1.1 404"));
  CHECK(contains(missing, R"({"error":{"code":"not_found","message":"no endpoint GET /nothing"}})"));
  CHECK(contains(missing, "Connection: close"));
  CHECK(c.closed_by_peer());

  // cpp-httplib's client, as the nodes and clients use it.
  httplib::Client cli("127.0.0.1", s.port);
  cli.set_keep_alive(true);
  for (int i = 0; i < 50; ++i) {
    auto r = cli.Post("/echo", std::string(static_cast<std::size_t>(i) * 1000, 'x'), "application/json");
    REQUIRE(r);
    CHECK(r->body.size() == static_cast<std::size_t>(i) * 1000);
  }
  CHECK(s.server.stats().connections_accepted == 2);
}

TEST_CASE("http server: oversized, chunked, malformed and slow requests are clear errors") {
  HttpServerOptions options;
  options.header_timeout_s = 1;
  options.body_timeout_s = 1;
  EchoServer s(options);

  {
    RawConn c("127.0.0.1", s.port);
    REQUIRE(c.send("GET /echo HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n"));
    const std::string r = c.read_to_close();
    CHECK_MESSAGE(starts_with(r, "HTTP/1.1 431"), r.substr(0, 200));
    CHECK(contains(r, "request line and headers over 16384 bytes"));
  }
  {
    // Refused on the header alone: the body is never sent.
    RawConn c("127.0.0.1", s.port);
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n"));
    const std::string r = c.read_to_close();
    CHECK_MESSAGE(starts_with(r, "HTTP/1.1 413"), r);
    CHECK(contains(r, R"("code":"payload_too_large")"));
    CHECK(contains(r, "request body too large"));
  }
  {
    RawConn c("127.0.0.1", s.port);
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
    const std::string r = c.read_to_close();
    CHECK_MESSAGE(starts_with(r, "HTTP/1.1 411"), r);
    CHECK(contains(r, "send the body with a Content-Length"));
  }
  {
    RawConn c("127.0.0.1", s.port);
    REQUIRE(c.send("GARBAGE\r\n\r\n"));
    const std::string r = c.read_to_close();
    CHECK_MESSAGE(starts_with(r, "HTTP/1.1 400"), r);
    CHECK(contains(r, "malformed request line"));
  }
  {
    RawConn c("127.0.0.1", s.port);
    REQUIRE(c.send("GET /echo HTTP/1.1\r\nHost:"));
    const std::string r = c.read_to_close();
    CHECK_MESSAGE(starts_with(r, "HTTP/1.1 408"), r);
    CHECK(contains(r, "request headers not complete within 1 s"));
  }
  {
    RawConn c("127.0.0.1", s.port);
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
    const std::string r = c.read_to_close();
    CHECK_MESSAGE(starts_with(r, "HTTP/1.1 408"), r);
    CHECK(contains(r, "request body not complete within 1 s"));
  }
  const dws::net::HttpServerStats st = s.server.stats();
  CHECK(st.headers_too_large == 1);
  CHECK(st.bodies_too_large == 1);
  CHECK(st.bad_requests == 2);
  CHECK(st.header_timeouts == 1);
  CHECK(st.body_timeouts == 1);
  CHECK(st.requests == 0);
}

TEST_CASE("http server: handlers that block (long polls) do not stop the others from being served") {
  HttpServerOptions options;
  options.threads = 2;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> waiting{0};
  EchoServer s(options, [&](HttpServer& server) {
    server.route("GET", "/block", [&](const WireRequest&) {
      ++waiting;
      std::unique_lock lock(mu);
      cv.wait_for(lock, 60s, [&] { return release; });
      WireResponse r;
      r.body = "released";
      return r;
    });
  });
  constexpr int kBlocked = 40;
  std::vector<std::thread> pollers;
  std::atomic<int> answered{0};
  for (int i = 0; i < kBlocked; ++i)
    pollers.emplace_back([&] {
      httplib::Client cli("127.0.0.1", s.port);
      cli.set_read_timeout(70, 0);
      auto r = cli.Get("/block");
      if (r && r->body == "released") ++answered;
    });
  CHECK(wait_for([&] { return waiting == kBlocked; }, 30s));
  httplib::Client cli("127.0.0.1", s.port);
  cli.set_read_timeout(10, 0);
  for (int i = 0; i < 5; ++i) {
    auto r = cli.Get("/echo?q=x");  // CHECK, not REQUIRE: the pollers must be released and joined
    CHECK((r && r->status == 200));
  }
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& t : pollers) t.join();
  CHECK(answered == kBlocked);
}

// Deferred routes: the handler keeps its Responder and answers later.
struct Parked {
  std::mutex mu;
  std::vector<dws::net::Responder> responders;
  std::atomic<int> closed{0};

  HttpServer::DeferredHandler handler(bool watch_close = true) {
    return [this, watch_close](const WireRequest&, dws::net::Responder r) {
      if (watch_close) r.on_close([this] { ++closed; });
      std::lock_guard lock(mu);
      responders.push_back(std::move(r));
    };
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return responders.size();
  }
  dws::net::Responder at(std::size_t i) {
    std::lock_guard lock(mu);
    return responders.at(i);
  }
};

WireResponse text(std::string body) {
  WireResponse r;
  r.body = std::move(body);
  r.content_type = "text/plain";
  return r;
}

long process_threads() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long n = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "Threads:", 8) == 0) n = std::atol(line + 8);
  std::fclose(f);
  return n;
}

TEST_CASE("http server: a deferred answer given later from another thread is written, and keep-alive goes on") {
  Parked parked;
  EchoServer s({}, [&](HttpServer& server) { server.route_deferred("GET", "/later", parked.handler()); });
  RawConn c("127.0.0.1", s.port);
  REQUIRE(c.send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(wait_for([&] { return parked.size() == 1; }, 10s));
  CHECK(c.read_response(300ms).empty());  // nothing is written before the answer
  const dws::net::Responder r = parked.at(0);
  CHECK_FALSE(r.done());
  bool first = false;
  std::thread([&] { first = r.answer(text("at last")); }).join();
  CHECK(first);
  CHECK(r.done());
  CHECK_FALSE(r.answer(text("twice")));  // once only
  const std::string reply = c.read_response();
  CHECK_MESSAGE(starts_with(reply, "HTTP/1.1 200"), reply);
  CHECK(contains(reply, "Connection: keep-alive"));
  CHECK(contains(reply, "\r\n\r\nat last"));
  // The same connection serves the next request, and a request pipelined
  // behind a deferred one waits for its turn.
  REQUIRE(c.send("GET /echo?q=1 HTTP/1.1\r\n\r\nGET /later HTTP/1.1\r\n\r\nGET /echo?q=2 HTTP/1.1\r\n\r\n"));
  CHECK(contains(c.read_response(), "q=[q=1]"));
  REQUIRE(wait_for([&] { return parked.size() == 2; }, 10s));
  CHECK(c.read_response(300ms).empty());
  CHECK(parked.at(1).answer(text("second")));
  CHECK(contains(c.read_response(), "second"));
  CHECK(contains(c.read_response(), "q=[q=2]"));
  CHECK(parked.closed == 0);
}

TEST_CASE("http server: a client that goes away while deferred runs on_close, and the late answer is dropped") {
  Parked parked;
  EchoServer s({}, [&](HttpServer& server) { server.route_deferred("GET", "/later", parked.handler()); });
  {
    RawConn c("127.0.0.1", s.port);
    REQUIRE(c.send("GET /later HTTP/1.1\r\n\r\n"));
    REQUIRE(wait_for([&] { return parked.size() == 1; }, 10s));
  }
  REQUIRE(wait_for([&] { return parked.closed == 1; }, 10s));
  CHECK(parked.at(0).done());
  CHECK_FALSE(parked.at(0).answer(text("too late")));
  CHECK(wait_for([&] { return s.server.stats().connections_open == 0; }, 10s));
  // on_close given after the close runs at once.
  std::atomic<bool> ran{false};
  parked.at(0).on_close([&] { ran = true; });
  CHECK(ran);
}

TEST_CASE("http server: a deferred handler that drops its Responder, or throws, answers a 500") {
  EchoServer s({}, [&](HttpServer& server) {
    server.route_deferred("GET", "/drop", [](const WireRequest&, dws::net::Responder) {});
    server.route_deferred("GET", "/throw", [](const WireRequest&, dws::net::Responder) {
      throw std::runtime_error("no mailbox");
    });
  });
  RawConn c("127.0.0.1", s.port);
  REQUIRE(c.send("GET /drop HTTP/1.1\r\n\r\n"));
  const std::string dropped = c.read_response();
  CHECK_MESSAGE(starts_with(dropped, "HTTP/1.1 500"), dropped);
  CHECK(contains(dropped, "the handler dropped the request unanswered"));
  REQUIRE(c.send("GET /throw HTTP/1.1\r\n\r\n"));
  const std::string thrown = c.read_response();
  CHECK_MESSAGE(starts_with(thrown, "HTTP/1.1 500"), thrown);
  CHECK(contains(thrown, "GET /throw failed: no mailbox"));
}

TEST_CASE("http server: 300 deferred requests hold no thread, and the others are served meanwhile") {
  HttpServerOptions options;
  options.threads = 2;
  Parked parked;
  EchoServer s(options, [&](HttpServer& server) { server.route_deferred("GET", "/later", parked.handler()); });
  const long before = process_threads();
  constexpr int kWaiting = 300;
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < kWaiting; ++i) {
    // 50 per source address, under the per-address cap.
    conns.push_back(std::make_unique<RawConn>("127.0.3." + std::to_string(1 + i / 50), s.port));
    REQUIRE(conns.back()->send("GET /later HTTP/1.1\r\n\r\n"));
  }
  REQUIRE(wait_for([&] { return parked.size() == kWaiting; }, 20s));
  // A handler that blocked would need a thread each (the pool grows to 256).
  CHECK_MESSAGE(process_threads() <= before + 4, "threads before ", before, ", with ", kWaiting,
                " waiting: ", process_threads());
  RawConn other("127.0.0.1", s.port);
  REQUIRE(other.send("GET /echo?q=x HTTP/1.1\r\n\r\n"));
  CHECK(contains(other.read_response(), "q=[q=x]"));
  for (int i = 0; i < kWaiting; ++i) parked.at(static_cast<std::size_t>(i)).answer(text("n" + std::to_string(i)));
  int answered = 0;
  for (int i = 0; i < kWaiting; ++i) answered += contains(conns[static_cast<std::size_t>(i)]->read_response(), "\r\n\r\nn");
  CHECK(answered == kWaiting);
}

TEST_CASE("http server: stop() with deferred requests closes them, runs on_close, and later answers do nothing") {
  Parked parked;
  auto s = std::make_unique<EchoServer>(HttpServerOptions{},
                                        [&](HttpServer& server) { server.route_deferred("GET", "/later", parked.handler()); });
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 20; ++i) {
    conns.push_back(std::make_unique<RawConn>("127.0.0.1", s->port));
    REQUIRE(conns.back()->send("GET /later HTTP/1.1\r\n\r\n"));
  }
  REQUIRE(wait_for([&] { return parked.size() == 20; }, 10s));
  // One answer races the stop from another thread.
  std::thread racer([&] { parked.at(0).answer(text("racing")); });
  s->server.stop();
  racer.join();
  CHECK(parked.closed >= 19);
  s.reset();  // the server is gone; the Responders live on
  for (std::size_t i = 1; i < 20; ++i) CHECK_FALSE(parked.at(i).answer(text("after stop")));
  for (auto& c : conns) {
    const std::string r = c->read_to_close(5s);
    CHECK(c->closed_by_peer());
    CHECK((r.empty() || contains(r, "racing")));
  }
}

TEST_CASE("http server: a second server cannot bind a serving port, and stop() closes idle connections") {
  HttpServerOptions options;
  options.keep_alive_timeout_s = 3600;
  EchoServer s(options);
  HttpServer second;
  auto busy = second.bind("127.0.0.1", s.port);
  REQUIRE_FALSE(busy.ok());
  CHECK(contains(busy.status().message(), "is already in use"));

  RawConn c("127.0.0.1", s.port);
  REQUIRE(c.send("GET /echo HTTP/1.1\r\n\r\n"));
  CHECK(starts_with(c.read_response(), "HTTP/1.1 200"));
  s.server.stop();
  (void)c.read_to_close(5s);
  CHECK(c.closed_by_peer());
}

TEST_CASE("node: the data directory is 0700 and the LMDB files 0600, also for a directory made before") {
  TempDir dir("dws-modes");
  const std::string data = dir.sub("node");
  std::filesystem::create_directories(data + "/store");
  ::chmod(data.c_str(), 0755);
  ::chmod((data + "/store").c_str(), 0755);
  dws::NodeOptions o;
  o.listen = "127.0.0.1:0";
  o.discovery_port = 0;
  o.data_dir = data;
  o.log_level = "error";
  auto node = dws::Node::create(o);
  REQUIRE_MESSAGE(node.ok(), node.status().to_string());
  auto mode = [](const std::string& path) {
    struct stat st {};
    REQUIRE_MESSAGE(::stat(path.c_str(), &st) == 0, path);
    return st.st_mode & 0777;
  };
  CHECK(mode(data) == 0700);
  CHECK(mode(data + "/store") == 0700);
  CHECK(mode(data + "/store/data.mdb") == 0600);
  CHECK(mode(data + "/store/lock.mdb") == 0600);
  (*node)->stop();
}

TEST_CASE("http client: pooled keep-alive, headers both ways, a deadline, cancellation, a refused port") {
  std::atomic<int> slow_calls{0};
  EchoServer s({}, [&](HttpServer& server) {
    server.route("GET", "/slow", [&](const WireRequest&) {
      ++slow_calls;
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      WireResponse r;
      r.headers.emplace_back("Retry-After", "7");
      r.body = "late";
      return r;
    });
  });
  dws::net::HttpClient http;
  const std::string at = "127.0.0.1:" + std::to_string(s.port);

  auto a = http.send(at, {"POST", "/echo", "hi", {{"X-Test", "1"}}, 2000, 0});
  REQUIRE_MESSAGE(a.ok(), a.status().to_string());
  CHECK(a->status == 200);
  CHECK(a->body == "hi");
  bool reused = false;
  auto b = http.send(at, {"GET", "/echo?q=1", "", {}, 2000, 0}, nullptr, &reused);
  REQUIRE(b.ok());
  CHECK(reused);  // the first request's connection, kept alive
  CHECK(b->body.find("q=[q=1]") != std::string::npos);
  const auto accepted = s.server.stats().connections_accepted;

  // A deadline shorter than the handler: a clear error, not a hang.
  auto late = http.send(at, {"GET", "/slow", "", {}, 300, 0});
  CHECK(late.status().code() == dws::Code::kUnavailable);
  CHECK_MESSAGE(late.status().message().find("no answer within 300 ms") != std::string::npos, late.status().message());
  // Answer headers come back, found case-insensitively.
  auto slow = http.send(at, {"GET", "/slow", "", {}, 5000, 0});
  REQUIRE(slow.ok());
  CHECK(slow->header("retry-after") == "7");
  CHECK(slow->find_header("X-None") == nullptr);

  // Cancellation from another thread ends the request at once, and later
  // ones through the same HttpCancel until reset().
  dws::net::HttpCancel cancel;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel.cancel();
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto cancelled = http.send(at, {"GET", "/slow", "", {}, 10000, 0}, &cancel);
  stopper.join();
  CHECK(cancelled.status().message() == "cancelled");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1400));
  CHECK(http.send(at, {"GET", "/echo", "", {}, 2000, 0}, &cancel).status().message() == "cancelled");
  cancel.reset();
  CHECK(http.send(at, {"GET", "/echo", "", {}, 2000, 0}, &cancel).ok());
  CHECK(s.server.stats().connections_accepted >= accepted);

  // Nobody listening: refused, said so.
  dws::net::HttpClient peer({.max_idle_per_server = 1, .tls_ca = {}, .tls_cert = {}, .tls_key = {}, .what = "peer",
                             .ca_label = "the ring's CA"});
  auto refused = peer.send("127.0.0.1:1", {"GET", "/", "", {}, 1000, 0});
  CHECK(refused.status().message().find("cannot connect") != std::string::npos);
  CHECK(peer.send("nonsense", {"GET", "/", "", {}, 1000, 0}).status().message().find("peer address") !=
        std::string::npos);
}
