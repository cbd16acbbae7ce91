#include "node/options.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "net/http_server.hpp"
#include "net/http_transport.hpp"
#include "net/peer_auth.hpp"

namespace dws::node {

namespace {

constexpr int kDefaultReplicas = 3;
constexpr int kDefaultSuccessors = 4;
constexpr std::uint64_t kMinMapSize = std::uint64_t{1} << 20;

Status check_ring_name(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return Status::InvalidArgument(fmt::format("ring name '{}' must have 1 to 64 characters", name));
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok)
      return Status::InvalidArgument(
          fmt::format("ring name '{}' has a character that is not a-z, A-Z, 0-9, '_', '.', '-'", name));
  }
  return Status::Ok();
}

Status check_tls_options(const NodeOptions& o) {
  if (o.tls_cert.empty() != o.tls_key.empty())
    return Status::InvalidArgument("TLS needs both a certificate and its key: give --tls-cert and --tls-key");
  if (!o.tls_cert.empty() && o.tls_ca.empty())
    return Status::InvalidArgument(
        "a node serving HTTPS calls its peers over HTTPS too: give the ring's CA with --tls-ca");
  if (o.tls_cert.empty() && !o.tls_ca.empty())
    return Status::InvalidArgument(
        "--tls-ca without --tls-cert: a ring's nodes all serve HTTPS or none does; give --tls-cert and --tls-key");
  for (const std::string* f : {&o.tls_cert, &o.tls_key, &o.tls_ca}) {
    if (f->empty()) continue;
    std::FILE* fp = std::fopen(f->c_str(), "rb");
    if (fp == nullptr)
      return Status::InvalidArgument(fmt::format("TLS file '{}' cannot be read: {}", *f, std::strerror(errno)));
    std::fclose(fp);
  }
  return Status::Ok();
}

}  // namespace

std::optional<Level> parse_level(std::string_view s) {
  if (s == "error") return Level::kError;
  if (s == "warn") return Level::kWarn;
  if (s == "info") return Level::kInfo;
  if (s == "debug") return Level::kDebug;
  return std::nullopt;
}

std::string_view level_name(Level l) {
  switch (l) {
    case Level::kError: return "error";
    case Level::kWarn: return "warn";
    case Level::kInfo: return "info";
    case Level::kDebug: return "debug";
  }
  return "info";
}

Result<CheckedOptions> check_options(const NodeOptions& o) {
  CheckedOptions c;
  auto listen = net::parse_host_port(o.listen, "listen address", /*allow_zero_port=*/true);
  if (!listen.ok()) return listen.status();
  c.listen = *listen;
  if (!o.advertise.empty()) {
    auto adv = net::parse_host_port(o.advertise, "advertise address");
    if (!adv.ok()) return adv.status();
    if (adv->host == "0.0.0.0" || adv->host == "::")
      return Status::InvalidArgument(fmt::format(
          "advertise address '{}' is not reachable by other nodes: give this host's address", o.advertise));
    c.advertise = *adv;
  }
  const auto level = parse_level(o.log_level);
  if (!level)
    return Status::InvalidArgument(
        fmt::format("log level '{}' is not one of error, warn, info, debug", o.log_level));
  c.level = *level;
  if (!o.ring_name.empty())
    if (Status s = check_ring_name(o.ring_name); !s.ok()) return s;
  if (o.replicas < 0 || o.replicas > 64)
    return Status::InvalidArgument(fmt::format("replicas {} must be in 1..64 (0: default)", o.replicas));
  if (o.successors < 0 || o.successors > 64)
    return Status::InvalidArgument(fmt::format("successors {} must be in 1..64 (0: default)", o.successors));
  if (o.replicas > 0 && o.successors > 0 && o.successors < o.replicas)
    return Status::InvalidArgument(fmt::format(
        "successors {} must be at least replicas {}: each replica sits on a successor", o.successors, o.replicas));
  if (o.stabilize_ms < 1 || o.stabilize_ms > 3'600'000)
    return Status::InvalidArgument(fmt::format("stabilize_ms {} must be in 1..3600000", o.stabilize_ms));
  if (o.discovery_port < 0 || o.discovery_port > 65535)
    return Status::InvalidArgument(fmt::format("discovery port {} must be in 0..65535", o.discovery_port));
  if (o.http_threads < 1 || o.http_threads > 1024)
    return Status::InvalidArgument(fmt::format("http_threads {} must be in 1..1024", o.http_threads));
  if (o.max_connections < 1)
    return Status::InvalidArgument(fmt::format("max_connections {} must be at least 1", o.max_connections));
  if (o.sync_ms < 1 || o.sync_ms > 3'600'000)
    return Status::InvalidArgument(fmt::format("sync_ms {} must be in 1..3600000", o.sync_ms));
  if (o.flush_ms < 1 || o.flush_ms > 3'600'000)
    return Status::InvalidArgument(fmt::format("flush_ms {} must be in 1..3600000", o.flush_ms));
  if (o.message_ttl_s < 1 || o.message_ttl_s > 10LL * 365 * 24 * 3600)
    return Status::InvalidArgument(fmt::format("message_ttl_s {} must be in 1..315360000 (10 years)", o.message_ttl_s));
  if (o.mailbox_quota < 1)
    return Status::InvalidArgument("mailbox_quota must be at least 1 message");
  if (o.registration_burst < 0 || o.registrations_per_hour < 0 || o.registrations_per_hour > 3'600'000)
    return Status::InvalidArgument(fmt::format(
        "registration_burst {} and registrations_per_hour {} must be >= 0 (0: no limit), the rate at most 3600000",
        o.registration_burst, o.registrations_per_hour));
  if (o.vnodes < 1 || o.vnodes > kMaxVnodes)
    return Status::InvalidArgument(fmt::format("vnodes {} must be in 1..{}", o.vnodes, kMaxVnodes));
  if (Status s = check_tls_options(o); !s.ok()) return s;
  if (o.map_size != 0 && o.map_size < kMinMapSize)
    return Status::InvalidArgument(
        fmt::format("map_size {} bytes is too small: give at least 1 MiB (0: the default)", o.map_size));
  return c;
}

RingInfo new_ring_info(const NodeOptions& o) {
  RingInfo info;
  info.ring_name = o.ring_name.empty() ? kDefaultRing : o.ring_name;
  info.replicas = o.replicas > 0 ? o.replicas : kDefaultReplicas;
  info.successor_list = o.successors > 0 ? o.successors : std::max(kDefaultSuccessors, info.replicas);
  info.stabilize_ms = o.stabilize_ms;
  info.open_ring = o.open_ring;
  return info;
}

Result<RingInfo> adopt_ring_info(const NodeOptions& o, const RingInfo& ring, const std::string& peer) {
  auto conflict = [&](std::string_view what, const std::string& mine, const std::string& theirs) {
    return Status::InvalidArgument(fmt::format("{} {} was asked for, but the ring of {} uses {}: drop the option "
                                               "to adopt the ring's value",
                                               what, mine, peer, theirs));
  };
  if (!o.ring_name.empty() && o.ring_name != ring.ring_name)
    return conflict("ring name", "'" + o.ring_name + "'", "'" + ring.ring_name + "'");
  if (o.replicas > 0 && o.replicas != ring.replicas)
    return conflict("replicas", std::to_string(o.replicas), std::to_string(ring.replicas));
  if (o.successors > 0 && o.successors != ring.successor_list)
    return conflict("successors", std::to_string(o.successors), std::to_string(ring.successor_list));
  RingInfo info = ring;
  info.stabilize_ms = o.stabilize_ms;  // a local setting, not a ring-wide one
  return info;
}

int position_successors(const RingInfo& info, int vnodes) {
  if (vnodes <= 1) return info.successor_list;
  return std::min(64, std::max(info.successor_list, 2 * vnodes + 2 * info.replicas));
}

int position_digest_bits(int vnodes) {
  int bits = 16;
  for (int v = 1; v < vnodes && bits > 10; v *= 2) --bits;
  return bits;
}

net::HttpServerOptions server_options(const NodeOptions& o) {
  net::HttpServerOptions so;
  so.threads = o.http_threads;
  so.max_connections = o.max_connections;
  so.tls_cert_file = o.tls_cert;
  so.tls_key_file = o.tls_key;
  so.tls_client_ca_file = o.tls_ca;
  return so;
}

net::HttpTransportOptions transport_options(const NodeOptions& o, std::shared_ptr<net::PeerAuth> auth) {
  net::HttpTransportOptions to;
  to.auth = std::move(auth);
  to.tls_ca = o.tls_ca;
  to.tls_cert = o.tls_cert;
  to.tls_key = o.tls_key;
  return to;
}

}  // namespace dws::node
