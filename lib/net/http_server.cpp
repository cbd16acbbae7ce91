#include "net/http_server.hpp"

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
// GCC 12 with -fsanitize=address reports a false -Wmaybe-uninitialized
// inside <regex> (std::function moved in _NFA::_M_insert_subexpr_*).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "net/address.hpp"
#include "net/http_parse.hpp"

namespace dws::net {

namespace {

using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// Connections refused over a cap still get their error written; past this
// many at once they are just closed, so refusing costs bounded sockets too.
constexpr int kMaxRefusing = 256;
// How long a connection closed after an error keeps reading (and dropping)
// what the client still sends, so that its unread bytes do not make the
// kernel reset the connection before the client has read the error.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 8u << 20;
constexpr std::size_t kReadChunk = 16u << 10;
// Threads of the pool that are neither parked nor in a handler: at least
// kMinFree run the I/O (a handler may block), at most kMaxFree (more threads
// waiting in the io_context only fight over it); the others park.
constexpr int kMinFree = 1;
constexpr int kMaxFree = 4;
// Deadlines are checked by one sweep, not a timer per connection: arming a
// timer three times per request costs more than the request itself.
constexpr auto kSweepEvery = std::chrono::milliseconds(250);
constexpr auto kStopDrainTime = std::chrono::seconds(1);

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 421: return "Misdirected Request";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
  }
}

// A JSON error with its own HTTP status where the codec has no code for it
// (408, 411, 431 keep the code name of their closest kind).
WireResponse error_reply(Code code, std::string message, int status = 0) {
  WireResponse r = encode_error(Status(code, std::move(message)));
  if (status != 0) r.status = status;
  return r;
}

std::string serialize(const WireResponse& r, bool keep_alive) {
  std::string out;
  out.reserve(160 + r.body.size());
  out += fmt::format("HTTP/1.1 {} {}\r\n", r.status, reason_phrase(r.status));
  if (!r.content_type.empty()) out += fmt::format("Content-Type: {}\r\n", r.content_type);
  out += fmt::format("Content-Length: {}\r\n", r.body.size());
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  for (const auto& [name, value] : r.headers) out += fmt::format("{}: {}\r\n", name, value);
  out += "\r\n";
  out += r.body;
  return out;
}

// IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d; they are
// the IPv4 address they are.
asio::ip::address ip_of(const tcp::endpoint& e) {
  asio::ip::address a = e.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

// What the per-address cap counts by: an IPv4 address, or an IPv6 /64 (one
// host usually holds a whole /64, so single IPv6 addresses cost it nothing).
std::string cap_key(const asio::ip::address& a) {
  if (a.is_v4() || a.is_loopback()) return a.to_string();
  auto bytes = a.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return asio::ip::address_v6(bytes).to_string() + "/64";
}

}  // namespace

struct PatternRoute {
  std::string method;
  std::regex pattern;
  HttpServer::Handler handler;
};

constexpr std::int64_t kNever = INT64_MAX;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch()).count();
}

class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  virtual ~ConnectionBase() = default;
  // REQUIRES: on the connection's strand, or no thread runs the io_context
  // any more (stop() has joined them).
  virtual void close_now() = 0;
  // Has the deadline of the current step passed? Read by the sweep.
  bool expired(std::int64_t now) const { return deadline_ns_.load(std::memory_order_relaxed) <= now; }
  // Queues a check of the deadline on the connection's own strand.
  virtual void check_deadline_soon() = 0;
  // Queues the answer of a deferred request on the connection's strand.
  // Safe from any thread.
  virtual void deliver(WireResponse response) = 0;

 protected:
  std::atomic<std::int64_t> deadline_ns_{kNever};
};

// Shared by a deferred request's Responders; the connection keeps only a
// weak reference, so that a handler dropping every copy unanswered is seen
// (and answered with a 500) instead of leaving the client waiting.
struct Responder::State {
  explicit State(std::weak_ptr<ConnectionBase> c) : conn(std::move(c)) {}
  ~State() {
    if (finished) return;
    if (auto c = conn.lock()) c->deliver(error_reply(Code::kInternal, "the handler dropped the request unanswered"));
  }
  // The connection closed (on its strand, or in stop()): later answers are
  // dropped, and the handler's on_close runs, outside the lock.
  void connection_closed() {
    std::function<void()> fn;
    {
      std::lock_guard lock(mu);
      if (finished) return;
      finished = true;
      closed = true;
      fn.swap(on_close);
    }
    if (fn) fn();
  }

  std::mutex mu;
  bool finished = false;  // answered or closed
  bool closed = false;
  std::weak_ptr<ConnectionBase> conn;
  std::function<void()> on_close;
};

bool Responder::answer(WireResponse response) const {
  std::shared_ptr<ConnectionBase> c;
  std::function<void()> unused;  // released outside the lock
  {
    std::lock_guard lock(state_->mu);
    if (state_->finished) return false;
    state_->finished = true;
    unused.swap(state_->on_close);
    c = state_->conn.lock();
  }
  if (!c) return false;
  c->deliver(std::move(response));
  return true;
}

void Responder::on_close(std::function<void()> fn) const {
  {
    std::lock_guard lock(state_->mu);
    if (!state_->closed) {
      if (!state_->finished) state_->on_close.swap(fn);
      return;  // the old fn, if any, is released outside the lock
    }
  }
  fn();
}

bool Responder::done() const {
  std::lock_guard lock(state_->mu);
  return state_->finished;
}

// Everything the connections share; HttpServer::Impl is this.
struct ServerCore {
  using Handler = HttpServer::Handler;
  explicit ServerCore(HttpServerOptions o) : options(std::move(o)) {}

  // Lookup first by exact path, then the patterns in order.
  WireResponse dispatch(const WireRequest& req) const {
    const Handler* handler = nullptr;
    if (auto it = exact.find(req.method + ' ' + req.path); it != exact.end()) handler = &it->second;
    if (handler == nullptr)
      for (const auto& r : patterns)
        if (r.method == req.method && std::regex_match(req.path, r.pattern)) {
          handler = &r.handler;
          break;
        }
    if (handler == nullptr)
      return error_reply(Code::kNotFound, fmt::format("no endpoint {} {}", req.method, req.path));
    try {
      return (*handler)(req);
    } catch (const std::exception& e) {
      return error_reply(Code::kInternal, fmt::format("{} {} failed: {}", req.method, req.path, e.what()));
    } catch (...) {
      return error_reply(Code::kInternal, fmt::format("{} {} failed", req.method, req.path));
    }
  }

  const HttpServer::DeferredHandler* find_deferred(const WireRequest& req) const {
    if (deferred.empty()) return nullptr;
    auto it = deferred.find(req.method + ' ' + req.path);
    return it == deferred.end() ? nullptr : &it->second;
  }

  // A handler may block; keep threads free to run the I/O meanwhile, by
  // waking a parked one or starting one.
  void enter_handler() {
    const int b = ++busy;
    if (active.load() - b >= kMinFree) return;
    std::lock_guard lock(threads_mu);
    if (stopping || active.load() - b >= kMinFree) return;
    if (parked - wake_tokens > 0) {
      ++wake_tokens;
      ++active;
      park_cv.notify_one();
    } else if (static_cast<int>(threads.size()) < options.max_threads) {
      spawn();
    }
  }
  void leave_handler() { --busy; }

  // REQUIRES: threads_mu held.
  void spawn() {
    ++active;
    threads.emplace_back([this] { pool_thread(); });
  }

  void pool_thread() {
    for (;;) {
      if (active.load() - busy.load() > kMaxFree) {
        std::unique_lock lock(threads_mu);
        if (stopping) return;
        if (active.load() - busy.load() > kMaxFree) {
          --active;
          ++parked;
          // enter_handler counts us active again before it wakes us.
          park_cv.wait(lock, [&] { return stopping || wake_tokens > 0; });
          --parked;
          if (stopping) return;
          --wake_tokens;
        }
      }
      try {
        if (io.run_one() == 0 && io.stopped()) return;
      } catch (...) {
        // A handler that throws past our catch (a bug) must not take the
        // pool thread down with it.
      }
    }
  }

  // Connection accounting: a connection holds its slot from accept to
  // destruction.
  enum class Admit { kYes, kPerAddress, kGlobal };
  Admit admit(const std::string& key) {
    std::lock_guard lock(conn_mu);
    if (open_connections >= options.max_connections) return Admit::kGlobal;
    int& n = per_address[key];
    if (n >= options.max_connections_per_address) return Admit::kPerAddress;
    ++n;
    ++open_connections;
    return Admit::kYes;
  }
  void register_connection(ConnectionBase* c) {
    std::lock_guard lock(conn_mu);
    live.insert(c);
  }
  void release(ConnectionBase* c, const std::string& key, bool counted) {
    std::lock_guard lock(conn_mu);
    live.erase(c);
    if (!counted) {
      --refusing;
      return;
    }
    --open_connections;
    if (auto it = per_address.find(key); it != per_address.end() && --it->second <= 0) per_address.erase(it);
  }

  void accept();
  void on_accept(const asio::error_code& ec, tcp::socket socket);

  // Every kSweepEvery, the connections whose step is late are told so.
  void sweep() {
    std::vector<std::shared_ptr<ConnectionBase>> late;
    {
      const std::int64_t now = now_ns();
      std::lock_guard lock(conn_mu);
      for (ConnectionBase* c : live)
        if (c->expired(now))
          if (auto sp = c->weak_from_this().lock()) late.push_back(std::move(sp));
    }
    // Outside the lock: the last reference may go here, and a connection's
    // destructor takes conn_mu.
    for (auto& c : late) c->check_deadline_soon();
    late.clear();
    sweeper.expires_after(kSweepEvery);
    sweeper.async_wait([this](const asio::error_code& ec) {
      if (!ec) sweep();
    });
  }

  HttpServerOptions options;
  std::unordered_map<std::string, Handler> exact;  // "GET /v1/health"
  std::unordered_map<std::string, HttpServer::DeferredHandler> deferred;
  std::vector<PatternRoute> patterns;
  std::optional<asio::ssl::context> tls;

  struct Counters {
    std::atomic<std::uint64_t> accepted{0}, refused_per_address{0}, refused_global{0}, requests{0},
        header_timeouts{0}, body_timeouts{0}, write_timeouts{0}, idle_closed{0}, headers_too_large{0},
        bodies_too_large{0}, bad_requests{0}, tls_handshake_failures{0};
  } counters;

  std::mutex conn_mu;
  std::unordered_map<std::string, int> per_address;
  int open_connections = 0;
  std::unordered_set<ConnectionBase*> live;
  std::atomic<int> refusing{0};

  std::mutex life_mu;  // guards the lifecycle flags
  int port = 0;
  std::string where;  // "host:port" for messages
  bool bound = false;
  bool started = false;
  bool stopped = false;

  // Deferred answers given and not yet written (or dropped): stop() lets
  // them out for a moment before it closes everything, so that a handler
  // answering its waiters just before stop() (a long poll's owner
  // stopping) is heard.
  void answer_started() {
    std::lock_guard lock(answers_mu);
    ++answers_in_flight;
  }
  void answer_ended() {
    std::lock_guard lock(answers_mu);
    if (--answers_in_flight == 0) answers_cv.notify_all();
  }
  std::mutex answers_mu;
  std::condition_variable answers_cv;
  int answers_in_flight = 0;  // guarded by answers_mu

  std::atomic<int> busy{0};    // threads in a handler
  std::atomic<int> active{0};  // threads not parked
  std::mutex threads_mu;
  std::condition_variable park_cv;
  std::vector<std::thread> threads;
  int parked = 0;          // guarded by threads_mu
  int wake_tokens = 0;     // parked threads asked to wake, guarded by threads_mu
  bool stopping = false;   // guarded by threads_mu

  // Last: destroyed first, so that the connections its queued handlers still
  // hold find everything above alive when they go.
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_backoff{io};
  asio::steady_timer sweeper{io};
};

namespace {

// One accepted connection over a plain socket or a TLS stream. Everything
// it does runs on its strand (the socket's executor), one step at a time:
// read the head, read the body, run the handler, write the answer, again.
template <class Stream>
class Connection final : public ConnectionBase {
 public:
  enum class State { kHandshake, kIdle, kHead, kBody, kHandler, kDeferred, kWrite, kLinger, kClosed };

  template <class... Args>
  Connection(ServerCore& server, std::string ip, std::string cap_key, bool counted, Args&&... args)
      : server_(server),
        ip_(std::move(ip)),
        cap_key_(std::move(cap_key)),
        counted_(counted),
        stream_(std::forward<Args>(args)...) {
    server_.register_connection(this);
  }

  ~Connection() override { server_.release(this, cap_key_, counted_); }

  void close_now() override {
    asio::error_code ec;
    state_ = State::kClosed;
    socket().close(ec);
    clear_deadline();
    if (auto d = deferred_.lock()) {
      deferred_.reset();
      d->connection_closed();
    }
  }

  void deliver(WireResponse response) override {
    server_.answer_started();
    asio::post(stream_.get_executor(), [self = self(), r = std::move(response)]() mutable {
      if (self->state_ != State::kDeferred) return self->server_.answer_ended();  // closed meanwhile
      self->deferred_.reset();
      const bool keep = self->head_.keep_alive && self->requests_ < self->server_.options.keep_alive_max_count;
      self->answering_ = true;
      self->write(serialize(r, keep), keep);
    });
  }

  auto executor() { return stream_.get_executor(); }

  void check_deadline_soon() override {
    asio::post(stream_.get_executor(), [self = self()] {
      if (self->state_ != State::kClosed && self->expired(now_ns())) self->on_timeout();
    });
  }

  void start() {
    if constexpr (kTls) {
      state_ = State::kHandshake;
      set_deadline(std::chrono::seconds(server_.options.header_timeout_s));
      // A plain-HTTP client on the HTTPS port gets told so in plain text
      // rather than a failed handshake it would report as garbage.
      socket().async_wait(tcp::socket::wait_read, [self = self()](const asio::error_code& ec) {
        if (ec || self->state_ == State::kClosed) return self->close_now();
        unsigned char first = 0;
        const auto n = ::recv(self->socket().native_handle(), &first, 1, MSG_PEEK);
        if (n == 1 && first != 0x16) {
          ++self->server_.counters.bad_requests;
          return self->fail(error_reply(Code::kInvalidArgument,
                                        "this node serves HTTPS only: connect with TLS and the ring's CA "
                                        "(dws-chat --tls-ca FILE)"),
                            /*plain=*/true);
        }
        if (n <= 0) return self->close_now();
        self->stream_.async_handshake(asio::ssl::stream_base::server,
                                      [self](const asio::error_code& hec) {
                                        if (self->state_ == State::kClosed) return;
                                        if (hec) {
                                          ++self->server_.counters.tls_handshake_failures;
                                          return self->close_now();
                                        }
                                        self->next_request();
                                      });
      });
    } else {
      next_request();
    }
  }

  // Refused over a cap: the error, then close.
  void refuse(WireResponse reply) {
    if constexpr (kTls) {
      close_now();  // a TLS client would not read a plain answer
    } else {
      fail(std::move(reply), true);
    }
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

  tcp::socket& socket() {
    if constexpr (kTls) return stream_.next_layer();
    else return stream_;
  }

  std::shared_ptr<Connection> self() { return std::static_pointer_cast<Connection>(shared_from_this()); }

  void set_deadline(SteadyClock::duration d) {
    deadline_ns_.store(now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(),
                       std::memory_order_relaxed);
  }
  void clear_deadline() { deadline_ns_.store(kNever, std::memory_order_relaxed); }

  void on_timeout() {
    switch (state_) {
      case State::kHandshake:
        ++server_.counters.header_timeouts;
        return close_now();
      case State::kIdle:
        ++server_.counters.idle_closed;
        return close_now();
      case State::kHead:
        ++server_.counters.header_timeouts;
        cancel_read();
        return fail(error_reply(Code::kUnavailable,
                                fmt::format("request headers not complete within {} s",
                                            server_.options.header_timeout_s),
                                408));
      case State::kBody:
        ++server_.counters.body_timeouts;
        if (continuing_) return close_now();  // a write is in flight: no second one
        cancel_read();
        return fail(error_reply(Code::kUnavailable,
                                fmt::format("request body not complete within {} s", server_.options.body_timeout_s),
                                408));
      case State::kWrite:
        ++server_.counters.write_timeouts;
        return close_now();
      case State::kLinger:
        return close_now();
      case State::kHandler:
      case State::kDeferred:  // the handler's own deadline answers it
      case State::kClosed: return;
    }
  }

  // The read in flight ends (operation_aborted) before the error is written,
  // so the linger's reads never overlap it.
  void cancel_read() {
    asio::error_code ec;
    socket().cancel(ec);
  }

  // Waits for the next request (bytes of it may be buffered already).
  void next_request() {
    if (buffer_.empty()) {
      state_ = State::kIdle;
      set_deadline(std::chrono::seconds(server_.options.keep_alive_timeout_s));
    } else {
      state_ = State::kHead;
      set_deadline(std::chrono::seconds(server_.options.header_timeout_s));
    }
    scanned_ = 0;
    parse();
  }

  void read_more(std::size_t want) {
    // The watch of a deferred request is still reading: it goes on parsing.
    if (watching_) {
      parse_after_watch_ = true;
      return;
    }
    const std::size_t old = buffer_.size();
    // Grow with what arrives, not with what the client announces: a slow
    // body costs the bytes it sent.
    buffer_.resize(old + std::clamp(want, kReadChunk, 4 * kReadChunk));
    stream_.async_read_some(asio::buffer(buffer_.data() + old, buffer_.size() - old),
                            [self = self(), old](const asio::error_code& ec, std::size_t n) {
                              self->buffer_.resize(old + n);
                              if (self->state_ == State::kClosed || ec == asio::error::operation_aborted) return;
                              if (ec) return self->close_now();  // the client went away
                              if (self->state_ == State::kIdle && n > 0) {
                                self->state_ = State::kHead;
                                self->set_deadline(std::chrono::seconds(self->server_.options.header_timeout_s));
                              }
                              self->parse();
                            });
  }

  void parse() {
    const auto& o = server_.options;
    if (state_ == State::kIdle || state_ == State::kHead) {
      const http::HeadScan scan = http::scan_head(buffer_, scanned_, o.max_header_bytes);
      if (scan.kind == http::HeadScan::Kind::kTooLarge) return too_large_head();
      if (scan.kind == http::HeadScan::Kind::kIncomplete) return read_more(kReadChunk);
      // The head without its blank line: each header line still ends in CRLF.
      auto parsed = http::parse_head(std::string_view(buffer_).substr(0, scan.head_end - 2), o.max_body_bytes);
      if (auto* err = std::get_if<http::HeadError>(&parsed)) {
        if (err->status == 413) ++server_.counters.bodies_too_large;
        else ++server_.counters.bad_requests;
        return fail(error_reply(err->error.code(), err->error.message(), err->status));
      }
      head_ = std::move(std::get<http::Head>(parsed));
      head_end_ = scan.head_end;
      state_ = State::kBody;
      if (buffer_.size() < head_end_ + head_.content_length) {
        set_deadline(std::chrono::seconds(o.body_timeout_s));
        if (head_.expect_continue) return send_continue();
      }
    }
    if (state_ == State::kBody) {
      const std::size_t have = buffer_.size() - head_end_;
      if (have < head_.content_length) return read_more(head_.content_length - have);
      head_.wire.body.assign(buffer_, head_end_, head_.content_length);
      buffer_.erase(0, head_end_ + head_.content_length);
      head_.wire.remote_address = ip_;
      run();
    }
  }

  // curl and others wait for this (or a second) before sending a body.
  void send_continue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    head_.expect_continue = false;
    continuing_ = true;
    asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = self()](const asio::error_code& ec, std::size_t) {
                        self->continuing_ = false;
                        if (self->state_ == State::kClosed) return;
                        if (ec) return self->close_now();
                        self->parse();
                      });
  }

  void too_large_head() {
    ++server_.counters.headers_too_large;
    fail(error_reply(Code::kPayloadTooLarge,
                     fmt::format("request line and headers over {} bytes", server_.options.max_header_bytes), 431));
  }

  void run() {
    state_ = State::kHandler;
    clear_deadline();
    ++server_.counters.requests;
    ++requests_;
    if (const auto* deferred = server_.find_deferred(head_.wire)) return run_deferred(*deferred);
    server_.enter_handler();
    WireResponse reply = server_.dispatch(head_.wire);
    server_.leave_handler();
    if (state_ == State::kClosed) return;
    const bool keep = head_.keep_alive && requests_ < server_.options.keep_alive_max_count;
    write(serialize(reply, keep), keep);
  }

  void run_deferred(const HttpServer::DeferredHandler& handler) {
    state_ = State::kDeferred;
    // A waiting request may wait for a minute: it keeps no read buffer
    // (16 KiB or more) meanwhile.
    if (buffer_.empty()) std::string().swap(buffer_);
    auto shared = std::make_shared<Responder::State>(weak_from_this());
    deferred_ = shared;
    watch();
    const Responder responder(std::move(shared));
    server_.enter_handler();
    try {
      handler(head_.wire, responder);
    } catch (const std::exception& e) {
      responder.answer(
          error_reply(Code::kInternal, fmt::format("{} {} failed: {}", head_.wire.method, head_.wire.path, e.what())));
    } catch (...) {
      responder.answer(error_reply(Code::kInternal, fmt::format("{} {} failed", head_.wire.method, head_.wire.path)));
    }
    server_.leave_handler();
  }

  // While an answer is deferred, one read watches for the client going away
  // (then the Responder's on_close runs at once, not at the answer); bytes
  // it sends meanwhile (a pipelined request) wait in the buffer, up to the
  // header cap, then the kernel holds the rest. After the answer the read
  // in flight goes on as the connection's next read.
  void watch() {
    watching_ = true;
    stream_.async_read_some(asio::buffer(watch_buffer_), [self = self()](const asio::error_code& ec, std::size_t n) {
      self->watching_ = false;
      if (self->state_ == State::kClosed || ec == asio::error::operation_aborted) return;
      if (ec) return self->close_now();  // the client went away
      switch (self->state_) {
        case State::kDeferred:
          self->buffer_.append(self->watch_buffer_.data(), n);
          if (self->buffer_.size() < self->server_.options.max_header_bytes) self->watch();
          return;
        case State::kLinger:  // dropped, as drain() does
          self->lingered_ += n;
          if (self->lingered_ > kLingerBytes) return self->close_now();
          return self->drain();
        default:
          self->buffer_.append(self->watch_buffer_.data(), n);
          if (self->state_ == State::kIdle && n > 0) {
            self->state_ = State::kHead;
            self->set_deadline(std::chrono::seconds(self->server_.options.header_timeout_s));
          }
          if (self->parse_after_watch_) {
            self->parse_after_watch_ = false;
            self->parse();
          }
      }
    });
  }

  void write(std::string bytes, bool keep) {
    state_ = State::kWrite;
    out_ = std::move(bytes);
    set_deadline(std::chrono::seconds(server_.options.write_timeout_s));
    asio::async_write(stream_, asio::buffer(out_),
                      [self = self(), keep](const asio::error_code& ec, std::size_t) {
                        if (self->answering_) {
                          self->answering_ = false;
                          self->server_.answer_ended();
                        }
                        if (self->state_ == State::kClosed) return;
                        if (ec) return self->close_now();
                        if (keep) return self->next_request();
                        self->linger();
                      });
  }

  // Answers with an error and closes. `plain`: on the raw socket even when
  // TLS (no handshake happened).
  void fail(WireResponse reply, bool plain = false) {
    if constexpr (kTls) {
      if (plain) {
        state_ = State::kWrite;
        out_ = serialize(reply, false);
        set_deadline(std::chrono::seconds(server_.options.write_timeout_s));
        asio::async_write(socket(), asio::buffer(out_),
                          [self = self()](const asio::error_code& ec, std::size_t) {
                            if (self->state_ == State::kClosed) return;
                            if (ec) return self->close_now();
                            self->linger(/*plain=*/true);
                          });
        return;
      }
    }
    write(serialize(reply, false), false);
  }

  void linger(bool plain = false) {
    state_ = State::kLinger;
    lingered_ = 0;
    asio::error_code ec;
    if (kTls && !plain) return close_now();  // the TLS layer would need a shutdown exchange; not worth it
    socket().shutdown(tcp::socket::shutdown_send, ec);
    set_deadline(kLingerTime);
    if (!watching_) drain();  // else the watch's read drains
  }

  void drain() {
    socket().async_read_some(asio::buffer(drain_buffer_),
                             [self = self()](const asio::error_code& ec, std::size_t n) {
                               if (self->state_ == State::kClosed) return;
                               self->lingered_ += n;
                               if (ec || self->lingered_ > kLingerBytes) return self->close_now();
                               self->drain();
                             });
  }

  ServerCore& server_;
  const std::string ip_;
  const std::string cap_key_;  // what the per-address cap counts by
  const bool counted_;
  Stream stream_;
  State state_ = State::kIdle;
  std::string buffer_;
  std::size_t scanned_ = 0;  // bytes of buffer_ searched for the end of the head
  std::size_t head_end_ = 0;
  std::size_t lingered_ = 0;
  http::Head head_;
  std::string out_;
  std::array<char, 4096> drain_buffer_;
  std::array<char, 1024> watch_buffer_;
  std::weak_ptr<Responder::State> deferred_;  // the Responders own it
  int requests_ = 0;
  bool continuing_ = false;  // "100 Continue" being written
  bool watching_ = false;    // watch()'s read is in flight
  bool answering_ = false;   // a deferred answer is being written
  bool parse_after_watch_ = false;
};

// Starts a connection (or its refusal) on its strand: from its first step
// on, everything it does, including what the sweep asks, runs there.
template <class C>
void launch(std::shared_ptr<C> c, std::optional<WireResponse> refusal = std::nullopt) {
  auto executor = c->executor();
  asio::post(executor, [c = std::move(c), refusal = std::move(refusal)]() mutable {
    if (refusal) c->refuse(std::move(*refusal));
    else c->start();
  });
}

}  // namespace

void ServerCore::accept() {
  acceptor.async_accept(asio::make_strand(io),
                        [this](const asio::error_code& ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
}

void ServerCore::on_accept(const asio::error_code& ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
  if (ec) {
    // Out of descriptors (or a transient failure): wait a little instead of
    // spinning on an accept that keeps failing.
    accept_backoff.expires_after(std::chrono::milliseconds(50));
    accept_backoff.async_wait([this](const asio::error_code& e) {
      if (!e) accept();
    });
    return;
  }
  accept();
  asio::error_code e;
  const tcp::endpoint peer = socket.remote_endpoint(e);
  if (e) return;
  socket.set_option(tcp::no_delay(true), e);
  const asio::ip::address address = ip_of(peer);
  const std::string ip = address.to_string();
  const std::string key = cap_key(address);
  ++counters.accepted;

  const Admit admitted = admit(key);
  if (admitted != Admit::kYes) {
    if (admitted == Admit::kGlobal) ++counters.refused_global;
    else ++counters.refused_per_address;
    if (refusing.load() >= kMaxRefusing) return;  // the socket closes here
    ++refusing;
    WireResponse reply =
        admitted == Admit::kGlobal
            ? error_reply(Code::kUnavailable,
                          fmt::format("the node has {} connections open, its limit: try again later",
                                      options.max_connections))
            : error_reply(Code::kRateLimited, fmt::format("{} has {} connections open to this node, the limit per "
                                                          "address: close some or try again later",
                                                          key, options.max_connections_per_address));
    reply.headers.emplace_back("Retry-After", "1");
    // The connection's destructor gives the refusing slot back.
    if (tls)
      launch(std::make_shared<Connection<asio::ssl::stream<tcp::socket>>>(*this, ip, key, false, std::move(socket), *tls),
             std::move(reply));
    else
      launch(std::make_shared<Connection<tcp::socket>>(*this, ip, key, false, std::move(socket)), std::move(reply));
    return;
  }
  if (tls) launch(std::make_shared<Connection<asio::ssl::stream<tcp::socket>>>(*this, ip, key, true, std::move(socket), *tls));
  else launch(std::make_shared<Connection<tcp::socket>>(*this, ip, key, true, std::move(socket)));
}

struct HttpServer::Impl : ServerCore {
  explicit Impl(HttpServerOptions o) : ServerCore(std::move(o)) {}
};

HttpServer::HttpServer(HttpServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(std::string_view method, const std::string& path, Handler handler) {
  impl_->exact[std::string(method) + ' ' + path] = std::move(handler);
}

void HttpServer::route_deferred(std::string_view method, const std::string& path, DeferredHandler handler) {
  impl_->deferred[std::string(method) + ' ' + path] = std::move(handler);
}

void HttpServer::route_pattern(std::string_view method, const std::string& pattern, Handler handler) {
  impl_->patterns.push_back(PatternRoute{std::string(method), std::regex(pattern, std::regex::ECMAScript), std::move(handler)});
}

Result<int> HttpServer::bind(const std::string& host, int port) {
  std::lock_guard lock(impl_->life_mu);
  impl_->where = format_host_port(host, port);
  if (impl_->bound || impl_->stopped) return Status::Internal("HttpServer::bind called twice");
  const auto& o = impl_->options;
  if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
    if (o.tls_cert_file.empty() || o.tls_key_file.empty())
      return Status::InvalidArgument("HTTPS needs both a certificate (--tls-cert) and its private key (--tls-key)");
    try {
      asio::ssl::context ctx(asio::ssl::context::tls_server);
      ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      asio::error_code ec;
      ctx.use_certificate_chain_file(o.tls_cert_file, ec);
      if (ec)
        return Status::InvalidArgument(
            fmt::format("TLS certificate '{}' does not load: {}", o.tls_cert_file, ec.message()));
      ctx.use_private_key_file(o.tls_key_file, asio::ssl::context::pem, ec);
      if (ec)
        return Status::InvalidArgument(fmt::format("TLS private key '{}' does not load or does not match '{}': {}",
                                                   o.tls_key_file, o.tls_cert_file, ec.message()));
      if (!o.tls_client_ca_file.empty()) {
        ctx.load_verify_file(o.tls_client_ca_file, ec);
        if (ec)
          return Status::InvalidArgument(
              fmt::format("TLS CA '{}' does not load: {}", o.tls_client_ca_file, ec.message()));
        ctx.set_verify_mode(asio::ssl::verify_peer);
      }
      impl_->tls.emplace(std::move(ctx));
    } catch (const std::exception& e) {
      return Status::Internal(fmt::format("TLS setup failed: {}", e.what()));
    }
  }

  asio::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec)
    return Status::Unavailable(
        fmt::format("cannot listen on {}: '{}' is not an IP address of this host", impl_->where, host));
  auto& acc = impl_->acceptor;
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  acc.open(endpoint.protocol(), ec);
  // SO_REUSEADDR lets a restarted node take its port back while old
  // connections sit in TIME_WAIT; no SO_REUSEPORT, which would let a second
  // node bind a port that is already serving.
  if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(o.backlog, ec);
  if (ec) {
    asio::error_code ignored;
    acc.close(ignored);
    if (ec == asio::error::address_in_use)
      return Status::Unavailable(fmt::format("cannot listen on {}: port {} is already in use", impl_->where, port));
    return Status::Unavailable(fmt::format("cannot listen on {}: {}", impl_->where, ec.message()));
  }
  // Refusing with a 503 beats failing accept() for want of descriptors:
  // keep a quarter of the process's limit for everything else.
  if (rlimit lim{}; ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    const auto usable = static_cast<int>(std::min<rlim_t>(lim.rlim_cur / 4 * 3, 1 << 30));
    impl_->options.max_connections = std::max(1, std::min(impl_->options.max_connections, usable));
  }
  impl_->port = acc.local_endpoint(ec).port();
  if (ec) return Status::Internal(fmt::format("getsockname on {}: {}", impl_->where, ec.message()));
  impl_->bound = true;
  return impl_->port;
}

Status HttpServer::start() {
  std::lock_guard lock(impl_->life_mu);
  if (!impl_->bound) return Status::Internal("HttpServer::start before bind");
  if (impl_->started || impl_->stopped) return Status::Ok();
  impl_->started = true;
  impl_->work.emplace(impl_->io.get_executor());
  impl_->accept();
  impl_->sweep();
  std::lock_guard tl(impl_->threads_mu);
  const int n = std::max(1, std::min(impl_->options.threads, impl_->options.max_threads));
  for (int i = 0; i < n; ++i) impl_->spawn();
  return Status::Ok();
}

void HttpServer::stop() {
  std::lock_guard lock(impl_->life_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  asio::error_code ec;
  if (!impl_->started) {
    impl_->acceptor.close(ec);
    return;
  }
  // Deferred answers already given are written first, for at most a
  // second. Then handlers in flight finish (their answers are not sent);
  // with no thread left in the io_context, every connection is closed from
  // here.
  {
    std::unique_lock al(impl_->answers_mu);
    impl_->answers_cv.wait_for(al, kStopDrainTime, [&] { return impl_->answers_in_flight == 0; });
  }
  impl_->io.stop();
  std::vector<std::thread> threads;
  {
    std::lock_guard tl(impl_->threads_mu);
    impl_->stopping = true;
    threads.swap(impl_->threads);
  }
  impl_->park_cv.notify_all();
  for (auto& t : threads) t.join();
  impl_->acceptor.close(ec);
  impl_->accept_backoff.cancel();
  impl_->sweeper.cancel();
  std::lock_guard cl(impl_->conn_mu);
  for (ConnectionBase* c : impl_->live) c->close_now();
}

int HttpServer::port() const { return impl_->port; }

HttpServerStats HttpServer::stats() const {
  const auto& c = impl_->counters;
  HttpServerStats s;
  s.connections_accepted = c.accepted;
  {
    std::lock_guard lock(impl_->conn_mu);
    s.connections_open = static_cast<std::uint64_t>(impl_->open_connections);
  }
  s.refused_per_address = c.refused_per_address;
  s.refused_global = c.refused_global;
  s.requests = c.requests;
  s.header_timeouts = c.header_timeouts;
  s.body_timeouts = c.body_timeouts;
  s.write_timeouts = c.write_timeouts;
  s.idle_closed = c.idle_closed;
  s.headers_too_large = c.headers_too_large;
  s.bodies_too_large = c.bodies_too_large;
  s.bad_requests = c.bad_requests;
  s.tls_handshake_failures = c.tls_handshake_failures;
  return s;
}

}  // namespace dws::net
