#include "net/http_client.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>

#include "net/address.hpp"

namespace dws::net {

namespace {

std::string describe(httplib::Error err, int timeout_ms, const HttpClientOptions& o) {
  switch (err) {
    case httplib::Error::SSLConnection:
      return fmt::format("TLS handshake failed: the {} does not serve HTTPS, or not with a certificate we accept",
                         o.what);
    case httplib::Error::SSLLoadingCerts: return fmt::format("the TLS CA file '{}' does not load", o.tls_ca);
    case httplib::Error::SSLServerVerification:
      return fmt::format("the {}'s TLS certificate is not signed by {} in '{}', or does not name its address",
                         o.what, o.ca_label, o.tls_ca);
    case httplib::Error::Connection: return "cannot connect (refused or unreachable)";
    case httplib::Error::ConnectionTimeout: return fmt::format("no connection within {} ms", timeout_ms);
    case httplib::Error::Read: return fmt::format("no answer within {} ms, or the connection closed", timeout_ms);
    case httplib::Error::Write: return "sending the request failed";
    case httplib::Error::Canceled: return "cancelled";
    default: return "HTTP error " + httplib::to_string(err);
  }
}

void set_timeouts(httplib::Client& c, int ms, int connect_ms) {
  auto split = [](int v) { return std::pair<time_t, time_t>(v / 1000, static_cast<time_t>(v % 1000) * 1000); };
  const auto [sec, usec] = split(ms);
  const auto [csec, cusec] = split(connect_ms);
  c.set_connection_timeout(csec, cusec);
  c.set_read_timeout(sec, usec);
  c.set_write_timeout(sec, usec);
}

bool ieq(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

const std::string* HttpReply::find_header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (ieq(k, name)) return &v;
  return nullptr;
}

std::string HttpReply::header(std::string_view name) const {
  const std::string* v = find_header(name);
  return v ? *v : std::string();
}

void HttpCancel::cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  // httplib's stop() is the one call that may race a request in flight: it
  // shuts the socket down, which ends a blocked read at once.
  if (active_ != nullptr) active_->stop();
}

void HttpCancel::reset() {
  std::lock_guard lock(mu_);
  cancelled_ = false;
}

bool HttpCancel::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {}

HttpClient::~HttpClient() = default;

std::unique_ptr<httplib::Client> HttpClient::take(const std::string& server, bool& reused) {
  {
    std::lock_guard lock(mu_);
    auto& v = idle_[server];
    if (!v.empty()) {
      auto c = std::move(v.back());
      v.pop_back();
      reused = true;
      return c;
    }
  }
  reused = false;
  return nullptr;
}

void HttpClient::give_back(const std::string& server, std::unique_ptr<httplib::Client> conn) {
  std::lock_guard lock(mu_);
  auto& v = idle_[server];
  if (v.size() < options_.max_idle_per_server) v.push_back(std::move(conn));
}

void HttpClient::clear() {
  std::map<std::string, std::vector<std::unique_ptr<httplib::Client>>> idle;
  std::lock_guard lock(mu_);
  idle.swap(idle_);
}

Result<HttpReply> HttpClient::send(const std::string& server, const HttpRequest& req, HttpCancel* cancel,
                                   bool* reused_out) {
  auto hp = parse_host_port(server, options_.what + " address");
  if (!hp.ok()) return hp.status();
  httplib::Request hr;
  hr.method = req.method;
  hr.path = req.target;
  hr.body = req.body;
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT")
    hr.headers.emplace("Content-Type", "application/json");
  for (const auto& [k, v] : req.headers) hr.headers.emplace(k, v);
  const int timeout = std::max(1, req.timeout_ms);

  bool reused = false;
  std::unique_ptr<httplib::Client> conn = take(server, reused);
  if (reused_out != nullptr) *reused_out = reused;
  if (!conn) {
    // TLS: https:// and the CA, against which the certificate and its
    // name are verified; a client certificate when one is configured.
    conn = std::make_unique<httplib::Client>(
        fmt::format("{}://{}", options_.tls_ca.empty() ? "http" : "https", format_host_port(hp->host, hp->port)),
        options_.tls_cert, options_.tls_key);
    if (!options_.tls_ca.empty()) {
      conn->set_ca_cert_path(options_.tls_ca.c_str());
      conn->enable_server_certificate_verification(true);
    }
    conn->set_keep_alive(true);
    conn->set_tcp_nodelay(true);
    // Targets come already percent-encoded.
    conn->set_url_encode(false);
  }
  set_timeouts(*conn, timeout, req.connect_timeout_ms > 0 ? std::min(req.connect_timeout_ms, timeout) : timeout);
  if (cancel != nullptr) {
    std::lock_guard lock(cancel->mu_);
    if (cancel->cancelled_) return Status::Unavailable("cancelled");
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
    if (was_cancelled) return Status::Unavailable("cancelled");
    return Status::Unavailable(describe(res.error(), timeout, options_));
  }
  HttpReply out;
  out.status = res->status;
  out.body = std::move(res->body);
  out.headers.assign(res->headers.begin(), res->headers.end());
  // A stopped connection has its socket shut down: never reuse it.
  if (!was_cancelled) give_back(server, std::move(conn));
  return out;
}

}  // namespace dws::net
