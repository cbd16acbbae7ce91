#include "client/request_auth.hpp"

#include <algorithm>

#include "client/client_json.hpp"
#include "core/auth.hpp"

namespace dws::client {

namespace {

// A node that would not open a session is asked again after this long.
constexpr std::int64_t kNoSessionRetryMs = 60'000;
// A session is replaced this long before the node would end it, so no
// request races its expiry.
constexpr std::int64_t kRenewMarginMs = 60'000;

}  // namespace

std::shared_ptr<RequestAuth> RequestAuth::create(ApiClient& api, core::Clock& clock, std::string nick,
                                                 const crypto::SecretKey& secret_key, bool use_sessions) {
  return std::shared_ptr<RequestAuth>(new RequestAuth(api, clock, std::move(nick), secret_key, use_sessions));
}

RequestAuth::RequestAuth(ApiClient& api, core::Clock& clock, std::string nick, const crypto::SecretKey& secret_key,
                         bool use_sessions)
    : api_(api), clock_(clock), nick_(std::move(nick)), secret_key_(secret_key), use_sessions_(use_sessions) {}

bool RequestAuth::session_eligible(const std::string& method, const std::string& target) {
  if (method == "POST") return target == "/v1/messages" || target == "/v1/mailbox/ack";
  if (method == "GET") return target == "/v1/mailbox" || target.rfind("/v1/mailbox?", 0) == 0;
  return false;
}

Result<std::string> RequestAuth::sign(const std::string& method, const std::string& target,
                                      const std::string& body) {
  return core::make_authorization(nick_, secret_key_, method, target, clock_.wall_ms(), body);
}

Result<std::string> RequestAuth::header(const std::string& server, const std::string& method,
                                        const std::string& target, const std::string& body) {
  if (use_sessions_ && session_eligible(method, target)) {
    if (auto open = session_for(server))
      return core::make_session_authorization(open->sid, open->key, method, target, clock_.wall_ms(), body);
  }
  return sign(method, target, body);
}

std::optional<RequestAuth::Open> RequestAuth::session_for(const std::string& server) {
  auto usable = [&]() -> std::optional<Open> {
    const std::int64_t now = clock_.monotonic_ms();
    std::lock_guard lock(mu_);
    if (auto it = sessions_.find(server); it != sessions_.end() && it->second.expires_ms > now) return it->second;
    return std::nullopt;
  };
  auto declined = [&] {
    std::lock_guard lock(mu_);
    auto it = no_session_until_.find(server);
    return it != no_session_until_.end() && it->second > clock_.monotonic_ms();
  };
  if (auto open = usable()) return open;
  if (declined()) return std::nullopt;

  std::lock_guard opening(open_mu_);
  if (auto open = usable()) return open;  // another thread opened it meanwhile
  if (declined()) return std::nullopt;
  auto decline = [&] {
    std::lock_guard lock(mu_);
    no_session_until_[server] = clock_.monotonic_ms() + kNoSessionRetryMs;
    return std::nullopt;
  };

  const crypto::KxKeyPair mine = crypto::kx_keypair();
  ApiRequest req{"POST", "/v1/sessions", session_json(mine.public_key), shared_from_this(), 0};
  auto reply = api_.call(server, req);
  if (!reply.ok()) return std::nullopt;  // unreachable: the signed request fails the same way
  if (reply->status != 201) return decline();
  auto parsed = parse_session(reply->body);
  if (!parsed.ok() || !core::check_session_id(parsed->session).ok() || parsed->ttl_s <= 0) return decline();
  auto key = crypto::kx_client_key(mine, parsed->node_key);
  if (!key.ok()) return decline();

  Open open{parsed->session, *key,
            clock_.monotonic_ms() + std::max<std::int64_t>(parsed->ttl_s * 1000 - kRenewMarginMs, 1000)};
  std::lock_guard lock(mu_);
  sessions_[server] = open;
  ++opened_;
  return open;
}

bool RequestAuth::refused(const std::string& server, const std::string& method, const std::string& target) {
  if (!use_sessions_ || !session_eligible(method, target)) return false;
  std::lock_guard lock(mu_);
  if (sessions_.erase(server) == 0) return false;
  ++dropped_;
  return true;
}

void RequestAuth::close_all() {
  std::map<std::string, Open> open;
  {
    std::lock_guard lock(mu_);
    open.swap(sessions_);
  }
  for (const auto& [server, s] : open) {
    ApiRequest req{"DELETE", "/v1/sessions/" + s.sid, "", shared_from_this(), 0};
    (void)api_.call(server, req);
  }
}

std::uint64_t RequestAuth::opened() const {
  std::lock_guard lock(mu_);
  return opened_;
}

std::uint64_t RequestAuth::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace dws::client
