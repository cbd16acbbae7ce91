#include "client/api_client.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "client/client_json.hpp"
#include "client/local_store.hpp"
#include "net/address.hpp"
#include "net/discovery.hpp"

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

std::string describe(httplib::Error err, int timeout_ms, const std::string& tls_ca) {
  switch (err) {
    case httplib::Error::SSLConnection:
      return "TLS handshake failed: the server does not serve HTTPS, or not with a certificate we accept";
    case httplib::Error::SSLLoadingCerts: return fmt::format("the TLS CA file '{}' does not load", tls_ca);
    case httplib::Error::SSLServerVerification:
      return fmt::format("the server's TLS certificate is not signed by the CA in '{}', or does not name its address",
                         tls_ca);
    case httplib::Error::Connection: return "cannot connect (refused or unreachable)";
    case httplib::Error::ConnectionTimeout: return fmt::format("no connection within {} ms", timeout_ms);
    case httplib::Error::Read: return fmt::format("no answer within {} ms, or the connection closed", timeout_ms);
    case httplib::Error::Write: return "sending the request failed";
    case httplib::Error::Canceled: return "cancelled";
    default: return "HTTP error " + httplib::to_string(err);
  }
}

void set_timeout(httplib::Client& c, int ms, bool connect) {
  const time_t sec = ms / 1000;
  const time_t usec = static_cast<time_t>(ms % 1000) * 1000;
  if (connect) c.set_connection_timeout(sec, usec);
  c.set_read_timeout(sec, usec);
  c.set_write_timeout(sec, usec);
}

}  // namespace

void Cancel::cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  // httplib's stop() is the one call that may race a request in flight: it
  // shuts the socket down, which ends a blocked read at once.
  if (active_ != nullptr) active_->stop();
}

void Cancel::reset() {
  std::lock_guard lock(mu_);
  cancelled_ = false;
}

bool Cancel::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

struct ApiClient::Pool {
  explicit Pool(std::string ca) : tls_ca(std::move(ca)) {}
  const std::string tls_ca;
  std::mutex mu;
  std::map<std::string, std::vector<std::unique_ptr<httplib::Client>>> idle;

  Result<std::unique_ptr<httplib::Client>> take(const std::string& server, int connect_timeout_ms) {
    {
      std::lock_guard lock(mu);
      auto& v = idle[server];
      if (!v.empty()) {
        auto c = std::move(v.back());
        v.pop_back();
        return c;
      }
    }
    auto hp = net::parse_host_port(server, "server");
    if (!hp.ok()) return hp.status();
    // TLS: https:// and the ring's CA, against which the server's certificate
    // and its name are verified.
    auto c = std::make_unique<httplib::Client>(
        fmt::format("{}://{}", tls_ca.empty() ? "http" : "https", net::format_host_port(hp->host, hp->port)));
    if (!tls_ca.empty()) {
      c->set_ca_cert_path(tls_ca.c_str());
      c->enable_server_certificate_verification(true);
    }
    c->set_keep_alive(true);
    c->set_tcp_nodelay(true);
    // Targets are built already encoded (nicknames and ids need no escapes).
    c->set_url_encode(false);
    set_timeout(*c, connect_timeout_ms, true);
    return c;
  }

  void give_back(const std::string& server, std::unique_ptr<httplib::Client> c) {
    std::lock_guard lock(mu);
    auto& v = idle[server];
    if (v.size() < kMaxIdlePerServer) v.push_back(std::move(c));
  }
};

ApiClient::ApiClient(LocalStore& store, ApiOptions options)
    : store_(store), options_(std::move(options)), pool_(std::make_unique<Pool>(options_.tls_ca)) {
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
  const int timeout = req.timeout_ms > 0 ? req.timeout_ms : options_.request_timeout_ms;
  httplib::Request hr;
  hr.method = req.method;
  hr.path = req.target;
  hr.body = req.body;
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT")
    hr.headers.emplace("Content-Type", "application/json");
  if (req.auth) {
    auto auth = req.auth->header(server, req.method, req.target, req.body);
    if (!auth.ok()) return auth.status();
    hr.headers.emplace("Authorization", *auth);
  }

  auto taken = pool_->take(server, options_.request_timeout_ms);
  if (!taken.ok()) return taken.status();
  std::unique_ptr<httplib::Client> conn = std::move(taken).value();
  set_timeout(*conn, timeout, false);

  if (cancel != nullptr) {
    std::lock_guard lock(cancel->mu_);
    if (cancel->cancelled_) return Status::Unavailable("request to " + server + " cancelled");
    cancel->active_ = conn.get();
  }
  httplib::Result res = conn->send(hr);
  bool was_cancelled = false;
  if (cancel != nullptr) {
    std::lock_guard lock(cancel->mu_);
    cancel->active_ = nullptr;
    was_cancelled = cancel->cancelled_;
  }
  if (!res) {
    if (was_cancelled) return Status::Unavailable("request to " + server + " cancelled");
    return Status::Unavailable(fmt::format("{}: {}", server, describe(res.error(), timeout, options_.tls_ca)));
  }
  ApiReply out;
  out.status = res->status;
  out.body = std::move(res->body);
  out.retry_after = res->get_header_value("Retry-After");
  out.server = server;
  // A stopped connection has its socket shut down: never reuse it.
  if (!was_cancelled) pool_->give_back(server, std::move(conn));
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
