// core::Transport over HTTP: the client side of the JSON codec, with one pool
// of keep-alive connections per peer.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/env.hpp"

namespace httplib {
class Client;
}

namespace dws::net {

class HttpClient;
class PeerAuth;

struct HttpTransportOptions {
  /// Idle connections kept per peer; a call that finds none opens a new one,
  /// so concurrency is never capped, only what stays open afterwards.
  std::size_t max_idle_per_peer = 8;
  /// Threads that call_all may keep for overlapping calls.
  std::size_t max_parallel_workers = 64;
  /// PEM CA bundle: talk HTTPS to peers and verify that their certificate
  /// chains to it and names the address called. Empty: plain HTTP.
  std::string tls_ca;
  /// With tls_ca: the certificate and key this node presents to its peers,
  /// which refuse one their CA did not sign.
  std::string tls_cert;
  std::string tls_key;
  /// The ring's secret: every request carries its proof and every answer
  /// must carry one back (lib/net/peer_auth.hpp). Null or open: neither.
  std::shared_ptr<PeerAuth> auth;
};

/// Safe for concurrent use from any number of threads.
class HttpTransport final : public core::Transport {
 public:
  explicit HttpTransport(HttpTransportOptions options = {});
  ~HttpTransport() override;

  /// Sends `request` to `to` ("host:port") and decodes the answer. Transport
  /// failures are kUnavailable naming the peer and the cause; a peer's JSON
  /// error comes back as its Status; an answer that does not decode is
  /// kUnavailable too (a peer that speaks garbage is as good as gone).
  Result<core::Response> call(const core::Address& to, const core::Request& request,
                              core::Deadline deadline) override;

  /// Runs the calls at the same time: the first on the calling thread, the
  /// others on worker threads kept for the purpose (created on demand, up to
  /// max_parallel_workers; beyond that the caller runs the rest itself).
  std::vector<Result<core::Response>> call_all(const std::vector<Call>& calls, core::Deadline deadline) override;

  /// Closes every idle connection (e.g. before a simulated crash).
  void clear();

 private:
  class Workers;

  HttpTransportOptions options_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<Workers> workers_;  // last member: joined first, while the pool still exists
};

}  // namespace dws::net
