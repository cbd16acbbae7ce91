// The door of the peer protocol (DESIGN.md section 12): every ring and
// store endpoint serves peers that prove the ring secret, checked before the
// body is parsed; an answer to a proved request proves itself in turn. The
// one public read is GET /v1/ring/info without a proof (a joiner asks it
// before it knows whether the ring is open). Refusals are counted always
// and logged at most once a minute, so a flood of bad proofs cannot flood
// the log.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "net/json_codec.hpp"

namespace dws::core {
class Clock;
}
namespace dws::net {
class PeerAuth;
}

namespace dws::node {

/// Says when a line about a source may be logged again: the first time,
/// then at most once per period. Safe for concurrent use.
class LogThrottle {
 public:
  explicit LogThrottle(std::int64_t period_ms = 60'000, std::size_t max_sources = 1024)
      : period_ms_(period_ms), max_sources_(max_sources) {}
  /// True (and the time noted) when a line about `source` is due at
  /// `now_ms` (monotonic). Past max_sources the table starts again empty,
  /// so memory stays bounded and at worst a source is logged early.
  bool due(const std::string& source, std::int64_t now_ms);

 private:
  const std::int64_t period_ms_;
  const std::size_t max_sources_;
  std::mutex mu_;
  std::unordered_map<std::string, std::int64_t> last_ms_;
};

/// Safe for concurrent use by the HTTP workers.
class PeerEndpoint {
 public:
  using Handler = std::function<net::WireResponse(const net::WireRequest&)>;
  using Warn = std::function<void(const std::string& line)>;
  /// `handler` answers the proved requests; `warn` receives the refusal lines.
  /// REQUIRES: clock outlives the endpoint.
  PeerEndpoint(std::shared_ptr<net::PeerAuth> auth, core::Clock& clock, Handler handler, Warn warn);

  /// The answer to `wire`: the handler's, with the answer proof when the
  /// request carried one; 401 naming what is wrong when the proof is
  /// missing, stale, replayed or false.
  net::WireResponse serve(const net::WireRequest& wire);

  /// Requests refused so far (dws_peer_auth_failures_total).
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<net::PeerAuth> auth_;
  core::Clock& clock_;
  Handler handler_;
  Warn warn_;
  std::atomic<std::uint64_t> refused_{0};
  LogThrottle throttle_;
};

}  // namespace dws::node
