// The project's own HTTP/1.1 server, on standalone Asio: connections are read
// and written asynchronously, so a slow or idle connection costs a socket and
// a buffer, never a thread; a complete request runs its handler on one of an
// elastic pool of threads (handlers may block). A deferred route answers
// later through a Responder, from any thread: a request waiting for its
// answer (a long poll) costs its connection, never a thread. Every limit
// that protects the node (header and body deadlines, sizes, connections per
// source address and in all) is a JSON error and a counter in stats().
// HTTPS when given a certificate (asio::ssl over OpenSSL).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "dwhatsapp/status.hpp"
#include "net/json_codec.hpp"

namespace dws::net {

struct HttpServerOptions {
  /// Threads started up front. They run the I/O and, once a request is
  /// complete, its handler (a deferred route's handler too, until it
  /// returns; its answer may come later from any thread). At least 1 and at most 4 of them stay free (not
  /// in a handler); the others park, and when handlers block the pool wakes
  /// parked threads or grows, up to max_threads.
  int threads = 16;
  int max_threads = 256;
  std::size_t max_body_bytes = 1 << 20;    // larger Content-Length: 413 before reading
  std::size_t max_header_bytes = 16 << 10; // request line + headers; more: 431
  int keep_alive_max_count = 10000;        // requests per connection
  int keep_alive_timeout_s = 5;            // idle between requests: closed quietly
  int header_timeout_s = 10;               // first byte to end of headers (and TLS handshake): 408
  int body_timeout_s = 30;                 // end of headers to end of body: 408
  int write_timeout_s = 30;                // an answer the client does not read: closed
  int max_connections_per_address = 64;    // more from one IP: 429 and closed
  int max_connections = 16384;             // more in all: 503 and closed (at most 3/4 of RLIMIT_NOFILE)
  int backlog = 1024;
  /// PEM certificate chain and private key: serve HTTPS only. Empty: HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  /// PEM CA bundle: a client that presents a certificate (a peer node) must
  /// present one this CA signed, or the handshake fails. Clients without a
  /// certificate (users' clients) are still served.
  std::string tls_client_ca_file;
};

/// What the server refused or cut off, for /metrics. Counters since start.
struct HttpServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_open = 0;  // a gauge
  std::uint64_t refused_per_address = 0;
  std::uint64_t refused_global = 0;
  std::uint64_t requests = 0;
  std::uint64_t header_timeouts = 0;  // includes TLS handshakes not done in time
  std::uint64_t body_timeouts = 0;
  std::uint64_t write_timeouts = 0;
  std::uint64_t idle_closed = 0;
  std::uint64_t headers_too_large = 0;
  std::uint64_t bodies_too_large = 0;
  std::uint64_t bad_requests = 0;  // malformed, chunked, plain HTTP on the TLS port
  std::uint64_t tls_handshake_failures = 0;
};

class Responder;

/// Serves routes on one address. Routes are registered before start(); then
/// handlers run concurrently on the pool. stop() is safe from any thread but
/// a handler's; stats() from any thread.
class HttpServer {
 public:
  using Handler = std::function<WireResponse(const WireRequest&)>;
  /// Answers through `responder`, now or later, from any thread.
  using DeferredHandler = std::function<void(const WireRequest&, Responder)>;

  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Routes `method` `path` (exact match) to `handler`. An exception thrown
  /// by a handler becomes a 500 JSON error. REQUIRES: before start().
  void route(std::string_view method, const std::string& path, Handler handler);
  /// Routes `method` and every path matching the ECMAScript regex `pattern`
  /// (whole path) to `handler`: paths with parameters (/v1/users/{nick}).
  /// REQUIRES: before start().
  void route_pattern(std::string_view method, const std::string& pattern, Handler handler);
  /// Routes `method` `path` (exact match) to a handler that answers through
  /// its Responder when it likes: until then the connection waits without a
  /// thread (its reads only watch for the client going away). An exception
  /// thrown by the handler before it answers becomes a 500 JSON error.
  /// REQUIRES: before start().
  void route_deferred(std::string_view method, const std::string& path, DeferredHandler handler);

  /// Binds and listens on host:port (port 0: the OS picks); loads the TLS
  /// certificate and key if the options name them.
  /// @return the bound port, or kUnavailable naming the address and cause,
  /// kInvalidArgument naming a TLS file that does not load.
  Result<int> bind(const std::string& host, int port);
  /// Starts serving on the pool. REQUIRES: bind() succeeded.
  Status start();
  /// Stops accepting, closes every connection, joins every thread. Idempotent.
  void stop();

  int port() const;
  HttpServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The answer to one request of a deferred route, given once. Copies share
/// it. Safe to use from any thread; answer() and on_close() never call back
/// into the caller while it waits, except on_close() on a connection already
/// closed, which runs `fn` at once on the calling thread.
class Responder {
 public:
  struct State;
  explicit Responder(std::shared_ptr<State> state) : state_(std::move(state)) {}

  /// Writes `response` on the connection (keep-alive goes on as for any
  /// answer). @return false if the request was answered already or its
  /// connection is gone (closed by the client, its deadline, or stop()):
  /// then nothing is written.
  bool answer(WireResponse response) const;
  /// Runs `fn` once if the connection closes before an answer, on the
  /// thread that closes it (a server thread, or stop()'s). It must not call
  /// stop(). Replaces an earlier `fn`.
  void on_close(std::function<void()> fn) const;
  /// Answered or closed: an answer now would be dropped.
  bool done() const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace dws::net
