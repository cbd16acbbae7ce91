#include "net/http_transport.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <utility>

#include "net/address.hpp"
#include "net/json_codec.hpp"

namespace dws::net {

struct HttpTransport::Connection {
  Connection(const std::string& host, int port) : client(host, port) {
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);
    // The codec already percent-encodes the query.
    client.set_url_encode(false);
  }
  httplib::Client client;
};

namespace {

std::string describe(httplib::Error err, std::int64_t timeout_ms) {
  switch (err) {
    case httplib::Error::Connection: return "cannot connect (refused or unreachable)";
    case httplib::Error::ConnectionTimeout: return fmt::format("no connection within {} ms", timeout_ms);
    case httplib::Error::Read: return fmt::format("no answer within {} ms, or the connection closed", timeout_ms);
    case httplib::Error::Write: return "sending the request failed";
    default: return "HTTP error " + httplib::to_string(err);
  }
}

}  // namespace

HttpTransport::HttpTransport(HttpTransportOptions options) : options_(options) {}

HttpTransport::~HttpTransport() = default;

std::unique_ptr<HttpTransport::Connection> HttpTransport::take(const core::Address& to, bool& reused) {
  {
    std::lock_guard lock(mu_);
    auto it = idle_.find(to);
    if (it != idle_.end() && !it->second.empty()) {
      auto conn = std::move(it->second.back());
      it->second.pop_back();
      reused = true;
      return conn;
    }
  }
  reused = false;
  return nullptr;
}

void HttpTransport::give_back(const core::Address& to, std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  auto& pool = idle_[to];
  if (pool.size() < options_.max_idle_per_peer) pool.push_back(std::move(conn));
}

void HttpTransport::clear() {
  std::map<core::Address, std::vector<std::unique_ptr<Connection>>> idle;
  {
    std::lock_guard lock(mu_);
    idle.swap(idle_);
  }
}

Result<core::Response> HttpTransport::call(const core::Address& to, const core::Request& request,
                                           core::Deadline deadline) {
  const auto hp = parse_host_port(to, "peer address");
  if (!hp.ok()) return hp.status();
  const WireRequest wire = encode_request(request);
  const std::string target = wire.target();
  const std::int64_t timeout_ms = deadline.timeout_ms > 0 ? deadline.timeout_ms : 1;
  const time_t sec = static_cast<time_t>(timeout_ms / 1000);
  const time_t usec = static_cast<time_t>((timeout_ms % 1000) * 1000);

  // A pooled connection the peer has closed meanwhile fails on first use;
  // one retry on a fresh connection tells that apart from a dead peer. Ring
  // requests are idempotent, so a retry is safe.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = false;
    std::unique_ptr<Connection> conn = take(to, reused);
    if (!conn) conn = std::make_unique<Connection>(hp->host, hp->port);
    auto& cli = conn->client;
    cli.set_connection_timeout(sec, usec);
    cli.set_read_timeout(sec, usec);
    cli.set_write_timeout(sec, usec);

    httplib::Result res = wire.method == "POST" ? cli.Post(target.c_str(), wire.body, "application/json")
                                                : cli.Get(target.c_str());
    if (!res) {
      if (reused && attempt == 0) continue;
      return Status::Unavailable(fmt::format("peer {}: {}", to, describe(res.error(), timeout_ms)));
    }
    const int status = res->status;
    const std::string body = std::move(res->body);
    give_back(to, std::move(conn));
    auto decoded = decode_reply(request, status, body);
    if (!decoded.ok() && status >= 200 && status <= 299)
      return Status::Unavailable(fmt::format("peer {} sent an answer that does not decode: {}", to,
                                             decoded.status().message()));
    return decoded;
  }
  return Status::Unavailable(fmt::format("peer {}: no answer", to));
}

}  // namespace dws::net
