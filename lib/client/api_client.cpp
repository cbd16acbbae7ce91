#include "client/api_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "client/client_json.hpp"
#include "client/local_store.hpp"
#include "net/address.hpp"
#include "net/discovery.hpp"
#include "net/http_client.hpp"

namespace dws::client {

namespace {

constexpr std::size_t kMaxIdlePerServer = 16;
// The ring's membership changes slowly next to a client's requests.
constexpr std::int64_t kRefreshEveryMs = 30'000;
constexpr int kDiscoveryTimeoutMs = 1000;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ApiClient::ApiClient(LocalStore& store, ApiOptions options)
    : store_(store),
      options_(std::move(options)),
      http_(std::make_unique<net::HttpClient>(net::HttpClientOptions{
          .max_idle_per_server = kMaxIdlePerServer, .tls_ca = options_.tls_ca, .tls_cert = {}, .tls_key = {},
          .what = "server", .ca_label = "the CA"})) {
  order_ = options_.servers;
  if (auto saved = store_.servers(); saved.ok())
    for (const auto& [address, ms] : *saved)
      if (std::find(order_.begin(), order_.end(), address) == order_.end()) order_.push_back(address);
}

ApiClient::~ApiClient() = default;

Result<ApiReply> ApiClient::call(const std::string& server, const ApiRequest& req, Cancel* cancel) {
  auto reply = attempt(server, req, cancel);
  // One more attempt when the refusal was of a session the node no longer
  // holds: the authorizer opens a new one (or signs) for it.
  if (reply.ok() && reply->status == 401 && req.auth && req.auth->refused(server, req.method, req.target)) return attempt(server, req, cancel);
  return reply;
}

Result<ApiReply> ApiClient::attempt(const std::string& server, const ApiRequest& req, Cancel* cancel) {
  net::HttpRequest hr{req.method, req.target, req.body, {},
                      req.timeout_ms > 0 ? req.timeout_ms : options_.request_timeout_ms,
                      options_.request_timeout_ms};
  if (req.auth) {
    auto auth = req.auth->header(server, req.method, req.target, req.body);
    if (!auth.ok()) return auth.status();
    hr.headers.emplace_back("Authorization", *auth);
  }
  auto res = http_->send(server, hr, cancel);
  if (!res.ok()) {
    if (cancel != nullptr && cancel->cancelled()) return Status::Unavailable("request to " + server + " cancelled");
    return Status::Unavailable(fmt::format("{}: {}", server, res.status().message()));
  }
  ApiReply out;
  out.status = res->status;
  out.retry_after = res->header("Retry-After");
  out.body = std::move(res->body);
  out.server = server;
  return out;
}

std::vector<std::string> ApiClient::candidates() {
  {
    std::lock_guard lock(mu_);
    if (!order_.empty()) return order_;
  }
  // Nothing configured, nothing saved: ask the local network.
  auto found = net::discover_nodes(options_.ring_name, options_.discovery_port, kDiscoveryTimeoutMs,
                                   options_.discovery_broadcast);
  if (!found.ok()) return {};
  learn(*found);
  std::lock_guard lock(mu_);
  return order_;
}

int ApiClient::backoff_ms(int round) {
  if (round <= 0) return 0;
  return std::min(1000, 50 << std::min(round - 1, 5));
}

int ApiClient::retry_budget_ms() const {
  return options_.retry_budget_ms > 0 ? options_.retry_budget_ms : options_.request_timeout_ms;
}

Result<ApiReply> ApiClient::call_any(const ApiRequest& req) {
  const std::vector<std::string> servers = candidates();
  if (servers.empty())
    return Status::Unavailable(fmt::format(
        "no server known and none answered discovery of ring '{}' on UDP port {}: give a server (host:port)",
        options_.ring_name, options_.discovery_port));
  // A settling ring answers "retry", and an entry node whose forward met a
  // dead primary answers 503 until the ring has noticed (a stabilization
  // round or two): a round that got a 503 is worth another after a pause,
  // until the budget is spent. A round where no server answered at all
  // looks like the whole ring (or this host's network) down: that gets
  // kUnreachableRounds rounds only, so a send reaches the outbox quickly.
  constexpr int kMaxRounds = 64;
  constexpr int kUnreachableRounds = 3;
  const auto start = std::chrono::steady_clock::now();
  const auto budget = std::chrono::milliseconds(retry_budget_ms());
  std::string tried;
  int unreachable_rounds = 0;
  for (int round = 0; round < kMaxRounds; ++round) {
    if (round > 0) {
      if (unreachable_rounds >= kUnreachableRounds) break;
      const auto pause = std::chrono::milliseconds(backoff_ms(round));
      if (std::chrono::steady_clock::now() + pause - start > budget) break;
      std::this_thread::sleep_for(pause);
    }
    tried.clear();
    bool answered = false;
    for (const auto& server : servers) {
      auto r = call(server, req);
      std::string why;
      if (!r.ok()) {
        why = r.status().message();
      } else if (r->status == 503) {
        answered = true;
        why = parse_error(r->status, r->body).status.message();
      } else {
        note_success(server);
        return r;
      }
      if (!tried.empty()) tried += "; ";
      tried += why.rfind(server, 0) == 0 ? why : server + ": " + why;
    }
    unreachable_rounds = answered ? 0 : unreachable_rounds + 1;
  }
  return Status::Unavailable("no server reachable (tried " + tried + ")");
}

std::vector<std::string> ApiClient::servers() const {
  std::lock_guard lock(mu_);
  return order_;
}

void ApiClient::note_success(const std::string& server) {
  const std::int64_t now = wall_ms();
  bool moved = false;
  bool refresh = false;
  {
    std::lock_guard lock(mu_);
    auto it = std::find(order_.begin(), order_.end(), server);
    if (it != order_.begin()) {
      if (it != order_.end()) order_.erase(it);
      order_.insert(order_.begin(), server);
      moved = true;
    }
    if (now - last_refresh_ms_ >= kRefreshEveryMs) {
      last_refresh_ms_ = now;
      refresh = true;
    }
  }
  // Saving on every request would cost a write per message; the order only
  // matters when it changes.
  if (moved || refresh) (void)store_.put_server(server, now);
  if (refresh) refresh_from(server);
}

void ApiClient::refresh_from(const std::string& server) {
  ApiRequest req{"GET", "/v1/ring/nodes", "", nullptr, 0};
  auto r = call(server, req);
  if (!r.ok() || r->status != 200) return;
  auto addresses = parse_peer_addresses(r->body);
  if (addresses.ok()) learn(*addresses);
}

void ApiClient::learn(const std::vector<std::string>& addresses) {
  std::vector<std::string> added;
  {
    std::lock_guard lock(mu_);
    for (const auto& a : addresses) {
      if (!net::parse_host_port(a, "server").ok()) continue;
      if (std::find(order_.begin(), order_.end(), a) != order_.end()) continue;
      order_.push_back(a);
      added.push_back(a);
    }
  }
  for (const auto& a : added) (void)store_.put_server(a, 0);
}

}  // namespace dws::client
