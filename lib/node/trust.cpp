#include "node/trust.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <variant>

#include "net/http_transport.hpp"
#include "net/peer_auth.hpp"
#include "node/options.hpp"

namespace dws::node {

namespace {

constexpr const char* kSecretFileName = "ring.secret";

// The data directory, made 0700 when it does not exist yet.
Status make_data_dir(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) return Status::Ok();
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::InvalidArgument(fmt::format("cannot create data directory {}: {}", dir, ec.message()));
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  return Status::Ok();
}

}  // namespace

std::string secret_in(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / kSecretFileName).string();
}

Result<RingTrust> trust_new_ring(const NodeOptions& o) {
  RingTrust t;
  if (o.open_ring) {
    if (!o.ring_secret_file.empty())
      return Status::InvalidArgument(fmt::format(
          "open_ring and ring_secret_file ({}) exclude each other: an open ring has no secret", o.ring_secret_file));
    t.auth = net::PeerAuth::open_ring();
    return t;
  }
  if (!o.ring_secret_file.empty()) {
    t.secret_path = o.ring_secret_file;
  } else if (!o.data_dir.empty()) {
    if (Status s = make_data_dir(o.data_dir); !s.ok()) return s;
    t.secret_path = secret_in(o.data_dir);
  } else {
    t.auth = net::PeerAuth::random();
    return t;
  }
  auto a = net::PeerAuth::load_or_create(t.secret_path, &t.created);
  if (!a.ok()) return a.status();
  t.auth = std::move(a).value();
  return t;
}

Result<RingTrust> trust_joiner(const NodeOptions& o) {
  RingTrust t;
  if (o.open_ring)
    return Status::InvalidArgument(
        "open_ring is chosen by a ring's first node (dws-node up --open-ring): a joiner takes the ring as it is");
  std::error_code ec;
  if (!o.ring_secret_file.empty()) t.secret_path = o.ring_secret_file;
  else if (!o.data_dir.empty() && std::filesystem::exists(secret_in(o.data_dir), ec)) t.secret_path = secret_in(o.data_dir);
  if (t.secret_path.empty()) {
    t.auth = net::PeerAuth::open_ring();
    return t;
  }
  auto a = net::PeerAuth::load(t.secret_path);
  if (!a.ok()) return a.status();
  t.auth = std::move(a).value();
  return t;
}

Result<RingInfo> fetch_info(net::HttpTransport& transport, const std::string& peer) {
  auto r = transport.call(peer, core::InfoReq{}, core::Deadline{2000});
  if (!r.ok()) return r.status();
  const auto* info = std::get_if<core::InfoResp>(&*r);
  if (!info) return Status::Internal(fmt::format("peer {} answered /v1/ring/info with another message", peer));
  return info->info;
}

Result<RingInfo> ring_info_for(const NodeOptions& o, const std::string& peer, RingTrust& t) {
  net::HttpTransport asking(transport_options(o, nullptr));
  auto info = fetch_info(asking, peer);
  if (!info.ok()) return info.status();
  if (info->open_ring) {
    t.auth = net::PeerAuth::open_ring();
    return *info;
  }
  if (t.auth->is_open())
    return Status::InvalidArgument(fmt::format(
        "the ring of {} is private: give its secret file with --ring-secret FILE (NodeOptions::ring_secret_file; "
        "dws-node up wrote it to <data>/ring.secret)",
        peer));
  net::HttpTransport proved(transport_options(o, t.auth));
  auto checked = proved.call(peer, core::InfoReq{}, core::Deadline{2000});
  if (!checked.ok()) {
    if (checked.status().code() == Code::kUnauthenticated)
      return Status::InvalidArgument(fmt::format("the ring of {} does not accept the ring secret in {}: give that "
                                                 "ring's own ring.secret ({})",
                                                 peer, t.secret_path, checked.status().message()));
    return checked.status();
  }
  return *info;
}

Status keep_secret(const NodeOptions& o, const RingTrust& t) {
  if (t.auth->is_open() || o.data_dir.empty() || t.secret_path == secret_in(o.data_dir)) return Status::Ok();
  if (Status s = make_data_dir(o.data_dir); !s.ok()) return s;
  const Status saved = t.auth->save(secret_in(o.data_dir));
  if (!saved.ok() && saved.code() != Code::kExists) return saved;
  return Status::Ok();
}

}  // namespace dws::node
