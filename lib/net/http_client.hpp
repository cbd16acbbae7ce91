// The one HTTP client of the library, under both the peer transport
// (net::HttpTransport) and a user client's API calls (client::ApiClient):
// keep-alive connections pooled per server, TCP_NODELAY, a deadline per
// request, HTTPS verified against a CA (and a client certificate for
// peers), and requests another thread can cancel. cpp-httplib stays behind
// this header.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dwhatsapp/status.hpp"

namespace httplib {
class Client;
}

namespace dws::net {

struct HttpClientOptions {
  /// Idle connections kept per server; a request that finds none opens a
  /// new one, so concurrency is never capped, only what stays open.
  std::size_t max_idle_per_server = 8;
  /// PEM CA bundle: HTTPS, verifying that the server's certificate chains
  /// to it and names the address called. Empty: plain HTTP.
  std::string tls_ca;
  /// With tls_ca: a certificate and key to present (a node to its peers).
  std::string tls_cert;
  std::string tls_key;
  /// How errors name the other side ("server", "peer") and the CA ("the
  /// CA", "the ring's CA").
  std::string what = "server";
  std::string ca_label = "the CA";
};

struct HttpRequest {
  std::string method;  // "GET", "POST", "PUT", "DELETE"
  std::string target;  // path and query, already percent-encoded
  std::string body;    // sent as application/json when not empty (always for POST and PUT)
  std::vector<std::pair<std::string, std::string>> headers;
  int timeout_ms = 5000;  // connect, and each read and write
  /// How long connecting may take; 0: timeout_ms (a long poll sets a long
  /// timeout_ms but should learn of a dead server quickly).
  int connect_timeout_ms = 0;
};

struct HttpReply {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// The first value of header `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
  /// The same, or nullptr when the answer has no such header.
  const std::string* find_header(std::string_view name) const;
};

/// Lets another thread abort the request in flight (a long poll): cancel()
/// shuts its socket down, and every later request through this HttpCancel
/// fails at once until reset().
class HttpCancel {
 public:
  void cancel();
  void reset();
  bool cancelled() const;

 private:
  friend class HttpClient;
  mutable std::mutex mu_;
  httplib::Client* active_ = nullptr;
  bool cancelled_ = false;
};

/// Safe for concurrent use; no lock is held during network I/O.
class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// One request to `server` ("host:port"). Any HTTP answer is an
  /// HttpReply; a transport failure (refused, timeout, TLS, cancelled) is
  /// kUnavailable saying what happened, without the server's address (the
  /// caller names it as it calls it). `reused`, if given: whether the last
  /// attempt ran on a pooled connection (a failure there may be one the
  /// server closed while idle, worth a retry with fresh headers).
  Result<HttpReply> send(const std::string& server, const HttpRequest& request, HttpCancel* cancel = nullptr,
                         bool* reused = nullptr);

  /// Closes every idle connection.
  void clear();

  const HttpClientOptions& options() const { return options_; }

 private:
  std::unique_ptr<httplib::Client> take(const std::string& server, bool& reused);
  void give_back(const std::string& server, std::unique_ptr<httplib::Client> conn);

  const HttpClientOptions options_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<httplib::Client>>> idle_;
};

}  // namespace dws::net
