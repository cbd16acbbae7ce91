// An HTTP/1.1 server over cpp-httplib with the settings DESIGN.md section 11
// asks for: a worker pool that grows under load, TCP_NODELAY, long keep-alive,
// a listen backlog of 1024, bodies size-limited before parsing, JSON errors.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "dwhatsapp/status.hpp"
#include "net/json_codec.hpp"

namespace dws::net {

struct HttpServerOptions {
  /// Workers started up front. cpp-httplib gives each connection a worker for
  /// its whole keep-alive life, so the pool grows up to max_threads when
  /// every worker is busy instead of leaving new connections waiting.
  int threads = 16;
  int max_threads = 256;
  std::size_t max_body_bytes = 1 << 20;  // larger bodies: 413 before parsing
  int keep_alive_max_count = 10000;      // requests per connection (httplib: 5)
  int keep_alive_timeout_s = 5;          // idle connections release their worker
  int io_timeout_s = 5;                  // read and write timeouts per request
  int backlog = 1024;                    // the .so hard-codes 5
};

/// Serves routes on one address. Routes are registered before start(); then
/// handlers run concurrently on the worker pool. stop() is safe from any
/// thread but a handler's.
class HttpServer {
 public:
  using Handler = std::function<WireResponse(const WireRequest&)>;

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

  /// Binds and listens on host:port (port 0: the OS picks).
  /// @return the bound port, or kUnavailable naming the address and cause.
  Result<int> bind(const std::string& host, int port);
  /// Starts accepting on a thread of its own. REQUIRES: bind() succeeded.
  Status start();
  /// Stops accepting, ends connections, joins every thread. Idempotent.
  void stop();

  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dws::net
