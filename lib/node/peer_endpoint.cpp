#include "node/peer_endpoint.hpp"

#include <fmt/format.h>

#include "core/env.hpp"
#include "net/peer_auth.hpp"

namespace dws::node {

bool LogThrottle::due(const std::string& source, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = last_ms_.find(source);
  if (it != last_ms_.end() && now_ms - it->second < period_ms_) return false;
  if (it == last_ms_.end() && last_ms_.size() >= max_sources_) last_ms_.clear();
  last_ms_[source] = now_ms;
  return true;
}

PeerEndpoint::PeerEndpoint(std::shared_ptr<net::PeerAuth> auth, core::Clock& clock, Handler handler, Warn warn)
    : auth_(std::move(auth)), clock_(clock), handler_(std::move(handler)), warn_(std::move(warn)) {}

net::WireResponse PeerEndpoint::serve(const net::WireRequest& wire) {
  constexpr std::string_view kPublicRead = "/v1/ring/info";
  std::string nonce;
  const std::string* header = wire.header(net::kPeerProofHeader);
  const bool public_read = wire.path == kPublicRead && header == nullptr;
  const Status proof = public_read ? Status::Ok()
                                   : auth_->check(wire.method, wire.raw_target.empty() ? wire.target() : wire.raw_target,
                                                  wire.body, header, clock_.wall_ms(), &nonce);
  if (!proof.ok()) {
    const std::uint64_t refused = refused_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (warn_ && throttle_.due("", clock_.monotonic_ms()))
      warn_(fmt::format("refused {} {} from {}: {} ({} refused so far)", wire.method, wire.path,
                        wire.remote_address.empty() ? "?" : wire.remote_address, proof.message(), refused));
    // A bad proof on the public read still gets the public answer.
    if (wire.path != kPublicRead) return net::encode_error(proof);
  }
  net::WireResponse out = handler_(wire);
  if (!nonce.empty())
    out.headers.emplace_back(std::string(net::kPeerAnswerHeader), auth_->answer(nonce, out.status, out.body));
  return out;
}

}  // namespace dws::node
