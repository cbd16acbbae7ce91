// HTTP towards the ring, as a client sees it: a list of servers tried in
// order with failover, kept fresh from GET /v1/ring/nodes and saved in the
// local store, UDP discovery when none is known, pooled keep-alive
// connections, and requests that another thread can cancel.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dwhatsapp/status.hpp"
#include "net/http_client.hpp"


namespace dws::client {

class LocalStore;

struct ApiOptions {
  std::vector<std::string> servers;  // tried first, in this order
  std::string ring_name = "dwhatsapp";
  int discovery_port = 37020;
  int request_timeout_ms = 5000;
  /// How long call_any keeps asking again, with backoff, while every server
  /// fails or says the ring is settling (503); 0: request_timeout_ms.
  int retry_budget_ms = 0;
  /// PEM CA bundle: HTTPS to servers whose certificate chains to it and
  /// names the address called. Empty: plain HTTP.
  std::string tls_ca;
  /// Where discovery broadcasts when no server is known.
  std::string discovery_broadcast = "255.255.255.255";
};

/// Proves who sends a request: asked for a header per attempt (a fresh
/// timestamp each time) and per server (a session key is one node's).
class Authorizer {
 public:
  virtual ~Authorizer() = default;
  /// The Authorization header for one attempt of `method target` at `server`.
  virtual Result<std::string> header(const std::string& server, const std::string& method,
                                     const std::string& target, const std::string& body) = 0;
  /// `server` answered 401 to `method target` with a header made by
  /// header(): true when a second attempt with a new header may pass (a
  /// session the node no longer holds was dropped), false when final.
  virtual bool refused(const std::string& server, const std::string& method, const std::string& target) = 0;
};

struct ApiRequest {
  std::string method;  // "GET", "POST", "PUT", "DELETE"
  std::string target;  // path and query, already percent-encoded
  std::string body;
  std::shared_ptr<Authorizer> auth;  // null: an unsigned request
  /// How long the answer may take; 0: ApiOptions::request_timeout_ms. A long
  /// poll sets its wait plus a margin.
  int timeout_ms = 0;
};

struct ApiReply {
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
  std::string server;       // who answered
};

/// Lets another thread abort the request in flight (the receiver's long
/// poll): net/http_client.hpp.
using Cancel = net::HttpCancel;

/// Safe for concurrent use from multiple threads. No lock is held during
/// network I/O.
class ApiClient {
 public:
  ApiClient(LocalStore& store, ApiOptions options);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  /// One attempt at one server. Any HTTP answer comes back as an ApiReply
  /// (the caller reads the status); a transport failure (refused, timeout,
  /// cancelled) is kUnavailable naming the server and the cause.
  Result<ApiReply> call(const std::string& server, const ApiRequest& request, Cancel* cancel = nullptr);

  /// Tries the known servers in order until one answers with anything but
  /// 503; the one that answered moves to the front. When a whole round
  /// fails it waits (backoff from 50 ms, doubling, at most 1 s) and tries
  /// again, for at most retry_budget_ms in all while some server answers
  /// 503, for three rounds when none answers at all. kUnavailable "no server
  /// reachable: tried a (why), b (why)" when none did.
  Result<ApiReply> call_any(const ApiRequest& request);

  /// The retry policy call_any follows, for callers that retry a sequence of
  /// their own (a primary, then any server): the wait before attempt
  /// `round` (0-based; 0 for the first), and the total budget.
  static int backoff_ms(int round);
  int retry_budget_ms() const;

  /// Servers known, most recently successful first.
  std::vector<std::string> servers() const;
  /// Records a success at `server` (moving it first, saving the list) and
  /// refreshes the list from its GET /v1/ring/nodes now and then.
  void note_success(const std::string& server);

 private:
  Result<ApiReply> attempt(const std::string& server, const ApiRequest& request, Cancel* cancel);
  std::vector<std::string> candidates();
  void refresh_from(const std::string& server);
  void learn(const std::vector<std::string>& addresses);

  LocalStore& store_;
  const ApiOptions options_;
  mutable std::mutex mu_;
  std::vector<std::string> order_;
  std::int64_t last_refresh_ms_ = 0;
  std::unique_ptr<net::HttpClient> http_;
};

}  // namespace dws::client
