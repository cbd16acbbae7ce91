#include "dwhatsapp/node.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <variant>

#include "core/id.hpp"
#include "core/key_directory.hpp"
#include "core/record.hpp"
#include "core/replication.hpp"
#include "core/ring.hpp"
#include "core/validation.hpp"
#include "net/address.hpp"
#include "net/discovery.hpp"
#include "net/http_server.hpp"
#include "net/http_transport.hpp"
#include "net/json_codec.hpp"
#include "net/peer_auth.hpp"
#include "net/system_env.hpp"
#include "net/tls.hpp"
#include "net/timer.hpp"
#include "node/api.hpp"
#include "store/lmdb_store.hpp"
#include "store/memory_store.hpp"

namespace dws {

namespace {

constexpr int kDefaultReplicas = 3;
constexpr int kDefaultSuccessors = 4;
constexpr const char* kDefaultRing = "dwhatsapp";
// W: a write is acknowledged once this many copies hold it (DESIGN.md section 4).
constexpr int kWriteQuorum = 2;
constexpr std::uint64_t kMinMapSize = std::uint64_t{1} << 20;

enum class Level { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

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

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

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

std::string describe(const PeerInfo& p) { return fmt::format("{} ({})", p.address, core::to_hex(p.id)); }

Result<RingInfo> fetch_info(net::HttpTransport& transport, const std::string& peer) {
  auto r = transport.call(peer, core::InfoReq{}, core::Deadline{2000});
  if (!r.ok()) return r.status();
  const auto* info = std::get_if<core::InfoResp>(&*r);
  if (!info) return Status::Internal(fmt::format("peer {} answered /v1/ring/info with another message", peer));
  return info->info;
}

// TLS: the node serves HTTPS with its certificate and calls peers over
// HTTPS, verifying theirs against the ring's CA.
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

// Options checked once, with the defaults of a new ring filled in where
// `fill_ring_defaults` (join leaves 0 / empty for the peer to decide).
struct Checked {
  net::HostPort listen;
  std::optional<net::HostPort> advertise;
  Level level = Level::kInfo;
};

Result<Checked> check_options(const NodeOptions& o) {
  Checked c;
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
  if (Status s = check_tls_options(o); !s.ok()) return s;
  if (o.map_size != 0 && o.map_size < kMinMapSize)
    return Status::InvalidArgument(
        fmt::format("map_size {} bytes is too small: give at least 1 MiB (0: the default)", o.map_size));
  return c;
}

// The parameters of a new ring: explicit options, else the defaults.
RingInfo new_ring_info(const NodeOptions& o) {
  RingInfo info;
  info.ring_name = o.ring_name.empty() ? kDefaultRing : o.ring_name;
  info.replicas = o.replicas > 0 ? o.replicas : kDefaultReplicas;
  info.successor_list = o.successors > 0 ? o.successors : std::max(kDefaultSuccessors, info.replicas);
  info.stabilize_ms = o.stabilize_ms;
  return info;
}

// The parameters of the ring `peer` belongs to, with explicit options checked
// against them.
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

constexpr const char* kSecretFileName = "ring.secret";

// Who this node trusts: the ring's secret (or none, for an open ring) and
// where it came from, for the log.
struct RingTrust {
  std::shared_ptr<net::PeerAuth> auth;
  std::string secret_path;  // empty: open, or a secret kept in memory only
  bool created = false;
};

std::string secret_in(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / kSecretFileName).string();
}

// The secret of a new ring: the named file (created if absent), else
// <data_dir>/ring.secret (created if absent), else a fresh one in memory
// that no other node can learn: a ring of one until restarted with a file.
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
    std::error_code ec;
    if (!std::filesystem::exists(o.data_dir, ec)) {
      std::filesystem::create_directories(o.data_dir, ec);
      if (ec)
        return Status::InvalidArgument(fmt::format("cannot create data directory {}: {}", o.data_dir, ec.message()));
      std::filesystem::permissions(o.data_dir, std::filesystem::perms::owner_all, ec);
    }
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

// The secret a joiner holds: the named file, else its data directory's
// ring.secret if it has one (a member restarting), else none.
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

// The ring's parameters as `peer` states them, checked against what the
// joiner holds: a private ring needs its secret (and then the answer must
// prove the peer holds the same), an open ring needs none.
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

}  // namespace

struct Node::Impl {
  Impl(NodeOptions o, Level l, const RingTrust& t)
      : options(std::move(o)),
        level(l),
        secret_path(t.secret_path),
        secret_created(t.created),
        auth(t.auth),
        transport(transport_options(options, auth)),
        server(server_options(options)) {}
  ~Impl() { shutdown(/*graceful=*/false); }

  void log(Level l, std::string_view message) {
    if (l > level) return;
    const std::string line = fmt::format("{} {} {}: {}", timestamp(), self.address.empty() ? options.listen : self.address,
                                         level_name(l), message);
    std::lock_guard lock(log_mu);
    if (options.log) options.log(line);
    else std::fprintf(stderr, "%s\n", line.c_str());
  }

  void on_ring_event(const core::RingEvent& e) {
    using Kind = core::RingEvent::Kind;
    switch (e.kind) {
      case Kind::kSuccessor:
        log(Level::kInfo, e.peer ? "new successor " + describe(*e.peer) : std::string("no successor left"));
        break;
      case Kind::kPredecessor:
        log(Level::kInfo, e.peer ? "new predecessor " + describe(*e.peer) : std::string("predecessor cleared"));
        break;
      case Kind::kPeerDead:
        log(Level::kWarn, e.peer ? "peer " + describe(*e.peer) + " declared dead" : std::string("a peer died"));
        break;
      case Kind::kJoined: log(Level::kInfo, "joined the ring"); break;
      case Kind::kLeft: log(Level::kInfo, "left the ring"); break;
    }
  }

  // A refused record is counted always, but logged at most once a minute
  // per source, so a flood of forgeries cannot flood the log.
  void on_rejected(const core::Verdict& v, const std::string& source) {
    const std::int64_t now = clock.monotonic_ms();
    const std::string who = source.empty() ? std::string("unknown source") : source;
    {
      std::lock_guard lock(reject_log_mu);
      auto it = reject_logged.find(who);
      if (it != reject_logged.end() && now - it->second < 60'000) return;
      if (reject_logged.size() >= 1024) reject_logged.clear();
      reject_logged[who] = now;
    }
    log(Level::kWarn, fmt::format("refused a record from {}: {} (further refusals from it are counted in "
                                  "dws_records_rejected_total, logged again in a minute)",
                                  who, v.status.message()));
  }

  static bool is_store_request(const core::Request& r) {
    return std::holds_alternative<core::StorePutReq>(r) || std::holds_alternative<core::StoreGetReq>(r) ||
           std::holds_alternative<core::StoreSyncReq>(r) || std::holds_alternative<core::StoreScanReq>(r);
  }

  // Every endpoint of the codec serves authenticated peers only (but the
  // public GET /v1/ring/info): the proof is checked before the body is
  // parsed, and an answer to a proved request proves itself in turn.
  net::WireResponse protocol_endpoint(const net::WireRequest& wire) {
    std::string nonce;
    const std::string* header = wire.header(net::kPeerProofHeader);
    const bool public_read = wire.path == "/v1/ring/info" && header == nullptr;
    const Status proof = public_read ? Status::Ok()
                                     : auth->check(wire.method, wire.raw_target.empty() ? wire.target() : wire.raw_target,
                                                   wire.body, header, clock.wall_ms(), &nonce);
    if (!proof.ok()) {
      const std::uint64_t refused = peer_auth_failures.fetch_add(1, std::memory_order_relaxed) + 1;
      // At most one line a minute: a flood of bad proofs must not flood the log.
      const std::int64_t now = clock.monotonic_ms();
      std::int64_t last = last_auth_log_ms.load(std::memory_order_relaxed);
      if ((last == 0 || now - last >= 60'000) && last_auth_log_ms.compare_exchange_strong(last, now))
        log(Level::kWarn, fmt::format("refused {} {} from {}: {} ({} refused so far)", wire.method, wire.path,
                                      wire.remote_address.empty() ? "?" : wire.remote_address, proof.message(),
                                      refused));
      if (wire.path != "/v1/ring/info") return net::encode_error(proof);
    }
    net::WireResponse out = peer_endpoint(wire);
    if (!nonce.empty())
      out.headers.emplace_back(std::string(net::kPeerAnswerHeader), auth->answer(nonce, out.status, out.body));
    return out;
  }

  // Storage messages go to the replicator, the rest to the ring; ring state
  // is completed with what this node stores.
  net::WireResponse peer_endpoint(const net::WireRequest& wire) {
    auto request = net::decode_request(wire);
    if (!request.ok()) return net::encode_error(request.status());
    std::optional<Result<core::Response>> entry = forwarded(*request);
    Result<core::Response> response = entry                            ? std::move(*entry)
                                      : node::Api::handles(*request)   ? api->handle(*request)
                                      : is_store_request(*request)     ? replicator->handle(*request, wire.remote_address)
                                                                       : ring->handle(*request);
    if (!response.ok()) return net::encode_error(response.status());
    if (auto* state = std::get_if<core::StateResp>(&*response)) state->view.records = record_counts();
    return net::encode_response(*response);
  }

  // A client's put or get through this node as entry node: Replicator finds
  // the primary (and falls back to replicas for reads). nullopt: not such a request.
  // The client did not misdirect anything, so a primary that refused the
  // key after the replicator's retries (views still settling after a join or
  // a crash) is "try again", not "not responsible".
  static Status for_client(Status s) {
    if (s.code() != Code::kNotResponsible) return s;
    return Status::Unavailable("the ring is settling (" + s.message() + "); retry");
  }

  std::optional<Result<core::Response>> forwarded(const core::Request& request) {
    if (const auto* put = std::get_if<core::StorePutReq>(&request); put && put->forward) {
      auto r = replicator->put(put->record);
      if (!r.ok()) return Result<core::Response>(for_client(r.status()));
      return Result<core::Response>(core::Response(*r));
    }
    if (const auto* get = std::get_if<core::StoreGetReq>(&request); get && get->forward) {
      auto r = replicator->get(get->key, get->sub);
      if (!r.ok()) return Result<core::Response>(for_client(r.status()));
      return Result<core::Response>(core::Response(core::StoreGetResp{std::move(*r)}));
    }
    return std::nullopt;
  }

  RecordCounts record_counts() const {
    const core::HeldCounts held = replicator->held_counts();
    return RecordCounts{held.primary, held.replica};
  }

  // Two nodes on one data directory would each think the LMDB records are
  // theirs alone; <data_dir>/LOCK (flock, released by the kernel however the
  // process ends) refuses the second one.
  Status lock_data_dir() {
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    const std::string path = options.data_dir + "/LOCK";
    data_lock.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (data_lock.fd < 0) return Status::Internal(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    if (::flock(data_lock.fd, LOCK_EX | LOCK_NB) != 0)
      return Status::Unavailable(fmt::format("another dws-node is using the data directory {}: stop it first, or "
                                             "give this one another --data",
                                             options.data_dir));
    return Status::Ok();
  }

  // The record store: LMDB under <data_dir>/store, or memory without a data dir.
  Status open_store() {
    if (options.data_dir.empty()) {
      store = std::make_unique<store::MemoryStore>();
    } else {
      // The node's data (records, the ring secret) is its own: 0700.
      std::error_code ec;
      std::filesystem::create_directories(options.data_dir, ec);
      if (!ec)
        std::filesystem::permissions(options.data_dir, std::filesystem::perms::owner_all,
                                     std::filesystem::perm_options::replace, ec);
      if (ec)
        return Status::Internal(
            fmt::format("cannot create the data directory {} with mode 0700: {}", options.data_dir, ec.message()));
      if (Status s = lock_data_dir(); !s.ok()) return s;
      store::LmdbOptions lo;
      lo.fsync = options.fsync;
      if (options.map_size != 0) lo.map_size = options.map_size;
      auto lmdb = store::LmdbStore::open(options.data_dir, lo);
      if (!lmdb.ok()) return lmdb.status();
      store = std::move(lmdb).value();
    }
    auto rs = core::RecordStore::open(*store);
    if (!rs.ok())
      return Status(rs.status().code(),
                    fmt::format("cannot open the records in {}: {}",
                                options.data_dir.empty() ? std::string("memory") : options.data_dir,
                                rs.status().message()));
    records = std::move(rs).value();
    return Status::Ok();
  }

  void flush_store() {
    if (Status s = store->flush(); !s.ok()) log(Level::kError, "flushing the store failed: " + s.message());
  }

  std::vector<PeerInfo> known_nodes() const {
    const RingView v = ring->view(true);
    std::vector<PeerInfo> nodes{v.self};
    auto add = [&](const PeerInfo& p) {
      for (const auto& n : nodes)
        if (n.id == p.id) return;
      nodes.push_back(p);
    };
    if (v.predecessor) add(*v.predecessor);
    for (const auto& s : v.successors) add(s);
    for (const auto& f : v.fingers)
      if (f) add(*f);
    return nodes;
  }

  std::string metrics_text() const {
    const core::RingMetrics m = ring->metrics();
    std::string out;
    auto metric = [&](std::string_view name, std::string_view type, std::string_view help, std::uint64_t value) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
    };
    out += fmt::format(
        "# HELP dws_node_info This node's identity.\n# TYPE dws_node_info gauge\n"
        "dws_node_info{{id=\"{}\",address=\"{}\",ring=\"{}\"}} 1\n",
        core::to_hex(self.id), self.address, info.ring_name);
    metric("dws_ring_size_seen", "gauge",
           "Distinct ring members this node knows: itself, predecessor, successors, fingers.", known_nodes().size());
    metric("dws_lookups_total", "counter", "Lookups started at this node.", m.lookups);
    metric("dws_lookup_failures_total", "counter", "Lookups that found no responsible node.", m.lookup_failures);
    out += "# HELP dws_lookup_hops Nodes asked per lookup (the last bucket counts 15 or more hops as 15 in _sum).\n"
           "# TYPE dws_lookup_hops histogram\n";
    std::uint64_t cumulative = 0;
    std::uint64_t sum = 0;
    const std::size_t last = m.hops_histogram.size() - 1;
    for (std::size_t i = 0; i < m.hops_histogram.size(); ++i) {
      cumulative += m.hops_histogram[i];
      sum += m.hops_histogram[i] * i;
      if (i < last) out += fmt::format("dws_lookup_hops_bucket{{le=\"{}\"}} {}\n", i, cumulative);
    }
    out += fmt::format("dws_lookup_hops_bucket{{le=\"+Inf\"}} {}\ndws_lookup_hops_sum {}\ndws_lookup_hops_count {}\n",
                       cumulative, sum, cumulative);
    metric("dws_stabilize_rounds_total", "counter", "Stabilization rounds run.", m.stabilize_rounds);
    metric("dws_peer_call_errors_total", "counter", "Calls to peers that failed.", m.peer_call_errors);
    metric("dws_ring_changes_total", "counter", "Changes of successor or predecessor, and peers declared dead.",
           m.ring_changes);

    const core::ReplicationMetrics rm = replicator->metrics();
    const RecordCounts held = record_counts();
    metric("dws_records_primary", "gauge", "Records held whose ring id is in (predecessor, self].", held.primary);
    metric("dws_records_replica", "gauge", "Records held as copies of the predecessors' ranges.", held.replica);
    metric("dws_store_puts_total", "counter", "Writes this node coordinated as the key's primary or entry node.",
           rm.puts);
    metric("dws_write_quorum_failures_total", "counter", "Writes refused because fewer than W copies answered.",
           rm.quorum_failures);
    metric("dws_sync_rounds_total", "counter", "Anti-entropy rounds run.", rm.sync_rounds);
    metric("dws_sync_records_moved_total", "counter", "Records that anti-entropy merged with a change, either way.",
           rm.sync_records_moved);
    metric("dws_sync_bytes_moved_total", "counter", "Record bytes anti-entropy sent and received.",
           rm.sync_bytes_moved);
    metric("dws_handoff_records_total", "counter", "Records pushed to their new primary.", rm.handed_off);
    metric("dws_gc_records_total", "counter", "Records erased because no range held here covers them any more.",
           rm.gc_erased);
    metric("dws_peer_auth_failures_total", "counter",
           "Requests to peer endpoints refused for a missing or wrong proof of the ring secret.",
           peer_auth_failures.load(std::memory_order_relaxed));
    out += "# HELP dws_records_rejected_total Records refused by the record checks, by reason.\n"
           "# TYPE dws_records_rejected_total counter\n";
    for (int i = 0; i < core::kRejectReasons; ++i)
      out += fmt::format("dws_records_rejected_total{{reason=\"{}\"}} {}\n",
                         core::reason_name(static_cast<core::RejectReason>(i)), rm.rejected[static_cast<std::size_t>(i)]);
    metric("dws_gc_unconfirmed_total", "counter", "Records kept by garbage collection because a holder did not confirm.",
           rm.gc_unconfirmed);
    metric("dws_mailbox_waiters", "gauge", "Mailbox requests waiting for a message (long polls).", api->waiting());
    metric("dws_sessions", "gauge", "Client sessions open on this node (requests MACed instead of signed).",
           api->sessions());
    const node::Api::LimitCounts lc = api->limit_counts();
    out += "# HELP dws_limit_refusals_total Requests refused, or long polls ended early, by an abuse limit.\n"
           "# TYPE dws_limit_refusals_total counter\n";
    out += fmt::format("dws_limit_refusals_total{{limit=\"registrations_per_address\"}} {}\n", lc.registrations);
    out += fmt::format("dws_limit_refusals_total{{limit=\"failed_logins\"}} {}\n", lc.failed_logins);
    out += fmt::format("dws_limit_refusals_total{{limit=\"long_polls_per_address\"}} {}\n", lc.polls_per_address);
    out += fmt::format("dws_limit_refusals_total{{limit=\"long_polls_per_node\"}} {}\n", lc.polls_node_full);
    out += fmt::format("dws_limit_refusals_total{{limit=\"long_polls_per_user_preempted\"}} {}\n",
                       lc.polls_preempted);
    http_metrics(out);
    return out;
  }

  // The transport limits of the HTTP server (DESIGN.md section 12).
  void http_metrics(std::string& out) const {
    const net::HttpServerStats h = server.stats();
    auto metric = [&](std::string_view name, std::string_view type, std::string_view help, std::uint64_t value) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
    };
    metric("dws_http_connections_open", "gauge", "HTTP connections open now.", h.connections_open);
    metric("dws_http_connections_accepted_total", "counter", "HTTP connections accepted.", h.connections_accepted);
    out += fmt::format(
        "# HELP dws_http_connections_refused_total Connections refused over a cap, by cap.\n"
        "# TYPE dws_http_connections_refused_total counter\n"
        "dws_http_connections_refused_total{{reason=\"per_address\"}} {}\n"
        "dws_http_connections_refused_total{{reason=\"global\"}} {}\n",
        h.refused_per_address, h.refused_global);
    metric("dws_http_requests_total", "counter", "HTTP requests read completely and handled.", h.requests);
    metric("dws_http_header_timeouts_total", "counter",
           "Connections cut off for not sending their headers (or TLS handshake) in time.", h.header_timeouts);
    metric("dws_http_body_timeouts_total", "counter", "Connections cut off for not sending their body in time.",
           h.body_timeouts);
    metric("dws_http_write_timeouts_total", "counter", "Connections closed for not reading their answer in time.",
           h.write_timeouts);
    metric("dws_http_idle_closed_total", "counter", "Keep-alive connections closed after the idle timeout.",
           h.idle_closed);
    metric("dws_http_headers_too_large_total", "counter", "Requests refused with 431 (headers too large).",
           h.headers_too_large);
    metric("dws_http_bodies_too_large_total", "counter", "Requests refused with 413 before reading the body.",
           h.bodies_too_large);
    metric("dws_http_bad_requests_total", "counter",
           "Malformed or chunked requests, and plain HTTP on an HTTPS port.", h.bad_requests);
    metric("dws_http_tls_handshake_failures_total", "counter", "TLS handshakes that failed.",
           h.tls_handshake_failures);
  }

  void add_routes() {
    for (const auto& route : net::ring_routes())
      server.route(route.method, std::string(route.path),
                   [this](const net::WireRequest& w) { return protocol_endpoint(w); });
    api->add_routes(server);
    server.route("GET", "/v1/health", [this](const net::WireRequest&) {
      net::WireResponse r;
      r.body = net::encode_health(self);
      return r;
    });
    server.route("GET", "/v1/ring/nodes", [this](const net::WireRequest&) {
      net::WireResponse r;
      r.body = net::encode_peers(known_nodes());
      return r;
    });
    server.route("GET", "/metrics", [this](const net::WireRequest&) {
      net::WireResponse r;
      r.body = metrics_text();
      r.content_type = "text/plain; version=0.0.4";
      return r;
    });
  }

  // Binds, builds the ring, serves. `peer` empty: a new ring.
  // Joins through `peer`. Right after a neighbour of the joining position
  // left or crashed, the ring can still name it as the successor until the
  // next stabilization; while the peer itself answers, try again a few
  // stabilization periods later instead of failing the start.
  Status join_ring(const std::string& peer) {
    constexpr int kAttempts = 5;
    Status s = ring->join(peer);
    for (int attempt = 1; !s.ok() && s.code() == Code::kUnavailable && attempt < kAttempts; ++attempt) {
      if (!transport.call(peer, core::PingReq{}, core::Deadline{1000}).ok()) break;  // the peer is gone: say so now
      log(Level::kInfo, fmt::format("join through {} failed ({}); trying again", peer, s.message()));
      std::this_thread::sleep_for(std::chrono::milliseconds(options.stabilize_ms));
      s = ring->join(peer);
    }
    return s;
  }

  Status start(const Checked& checked, const std::string& peer) {
    if (Status s = open_store(); !s.ok()) return s;
    auto port = server.bind(checked.listen.host, checked.listen.port);
    if (!port.ok()) return port.status();
    std::string note;
    if (checked.advertise) {
      self.address = net::format_host_port(checked.advertise->host, checked.advertise->port);
    } else if (checked.listen.host == "0.0.0.0" || checked.listen.host == "::") {
      const std::string host = checked.listen.host == "::" ? "::1" : "127.0.0.1";
      self.address = net::format_host_port(host, *port);
      note = fmt::format(" (listening on all interfaces; advertising {}: set advertise for other hosts to reach it)",
                         self.address);
    } else {
      self.address = net::format_host_port(checked.listen.host, *port);
    }
    self.id = core::node_id(self.address);

    core::RingOptions ro;
    ro.successor_list = info.successor_list;
    ro.info = info;
    ring = std::make_unique<core::Ring>(self, ro, transport, clock, rng);
    ring->set_listener([this](const core::RingEvent& e) { on_ring_event(e); });
    core::ReplicationOptions rep;
    rep.replicas = info.replicas;
    rep.write_quorum = std::min(kWriteQuorum, info.replicas);
    // A replica keeps a range a primary synced to it for a few rounds; past
    // that, garbage collection asks the primary before dropping anything, so
    // a short hold costs a state request, never data.
    rep.held_range_ttl_ms = 4LL * options.sync_ms;
    replicator = std::make_unique<core::Replicator>(*ring, *records, transport, clock, rep);
    keys = std::make_unique<core::RingKeyDirectory>(*replicator, *records, clock);
    core::ValidationOptions vo;
    vo.message_ttl_ms = options.message_ttl_s * 1000;
    vo.tombstone_ttl_ms = rep.tombstone_ttl_ms;
    validator = std::make_unique<core::RecordValidator>(*keys, vo);
    replicator->set_validator(validator.get());
    replicator->set_on_rejected(
        [this](const core::Record&, const core::Verdict& v, const std::string& source) { on_rejected(v, source); });
    node::ApiOptions ao;
    ao.users.tombstone_ttl_ms = rep.tombstone_ttl_ms;
    ao.mailbox.message_ttl_ms = options.message_ttl_s * 1000;
    ao.mailbox.ack_ttl_ms = rep.tombstone_ttl_ms;
    ao.mailbox.quota = options.mailbox_quota;
    ao.max_waiters = options.max_long_polls;
    if (options.registration_burst == 0 || options.registrations_per_hour == 0) {
      ao.registrations.burst = 0;
    } else {
      ao.registrations.burst = options.registration_burst;
      ao.registrations.refill_ms = 3'600'000 / options.registrations_per_hour;
    }
    api = std::make_unique<node::Api>(*ring, *replicator, *records, transport, clock, ao);
    api->set_verified_cache(&validator->verified());
    replicator->set_on_stored([this](const core::Record& r) { api->on_stored(r); });
    add_routes();
    if (Status s = server.start(); !s.ok()) return s;

    if (peer.empty()) {
      ring->create();
    } else if (Status s = join_ring(peer); !s.ok()) {
      return Status(s.code(), fmt::format("cannot join the ring through {}: {}", peer, s.message()));
    }

    timer.every(std::chrono::milliseconds(options.stabilize_ms), [this] {
      ring->stabilize();
      ring->fix_fingers();
    });
    if (!options.fsync) timer.every(std::chrono::milliseconds(options.flush_ms), [this] { flush_store(); });
    // Anti-entropy has a thread of its own: a round waits on peers for up to
    // a deadline per call, and stabilization must not wait behind it.
    sync_timer.every(std::chrono::milliseconds(options.sync_ms), [this] { replicator->sync_round(); });
    if (options.discovery_port > 0) {
      discovery = std::make_unique<net::DiscoveryResponder>(timer.context(), info.ring_name, self, auth);
      if (Status s = discovery->start(options.discovery_port); !s.ok()) return s;
    }
    timer.start();
    sync_timer.start();
    running = true;
    const std::string storage =
        options.data_dir.empty()
            ? std::string("records in memory")
            : fmt::format("records in {}/store ({})", options.data_dir,
                          options.fsync ? "fsync per write" : fmt::format("flush every {} ms", options.flush_ms));
    log(Level::kInfo,
        fmt::format("serving {} on {}, id {}, ring '{}' (replicas {}, successors {}, stabilize {} ms, sync {} ms), {}{}{}{}",
                    options.tls_cert.empty() ? "HTTP" : "HTTPS", net::format_host_port(checked.listen.host, *port), core::to_hex(self.id), info.ring_name,
                    info.replicas, info.successor_list, info.stabilize_ms, options.sync_ms, storage,
                    peer.empty() ? ", new ring" : ", joined through " + peer,
                    options.discovery_port > 0 ? fmt::format(", discovery on UDP {}", options.discovery_port) : "",
                    note));
    log(Level::kInfo, trust_line());
    return Status::Ok();
  }

  // What the operator needs to know to add a node.
  std::string trust_line() const {
    if (auth->is_open())
      return fmt::format("open ring: anyone may join (dws-node join --peer {}), peers prove nothing and only the "
                         "record checks protect the data",
                         self.address);
    if (secret_path.empty())
      return "private ring with a secret kept in memory only: no other node can join (give a ring secret file "
             "or a data directory to share it)";
    return fmt::format("private ring, secret {} {}; join with: dws-node join --peer {} --ring-secret {}", secret_path,
                       secret_created ? "(created now)" : "(kept)", self.address, secret_path);
  }

  void shutdown(bool graceful) {
    {
      std::lock_guard lock(life_mu);
      if (stopped) return;
      stopped = true;
    }
    // Periodic work first, so that no stabilization runs during or after the
    // leave; the server keeps answering while neighbours splice us out.
    timer.stop();
    sync_timer.stop();
    if (graceful && ring && ring->joined()) {
      // Before leaving, while the successor still sees us as its predecessor
      // and accepts the range as a replica of ours.
      if (Status s = replicator->hand_off(); !s.ok())
        log(Level::kWarn, "hand-off before leaving incomplete (anti-entropy will repair it): " + s.message());
      ring->leave();
    }
    if (discovery) discovery->stop();
    // Waiting long polls are answered first; the server's stop() writes
    // those answers before it closes the connections.
    if (api) api->stop();
    server.stop();
    transport.clear();
    // A crash (halt) keeps only what LMDB wrote to the page cache, as a
    // killed process does; a graceful stop makes everything durable.
    if (graceful && store) flush_store();
    if (running) log(Level::kInfo, graceful ? "stopped" : "halted");
  }

  NodeOptions options;
  Level level;
  // Held for the node's life, released last (after the store closes).
  struct DataLock {
    int fd = -1;
    ~DataLock() {
      if (fd >= 0) ::close(fd);
    }
  } data_lock;
  std::string secret_path;  // where the ring secret is kept; empty: open or in memory
  bool secret_created = false;
  RingInfo info;
  PeerInfo self;
  std::mutex log_mu;
  std::mutex life_mu;
  std::mutex reject_log_mu;
  std::unordered_map<std::string, std::int64_t> reject_logged;  // source -> last logged, monotonic ms
  bool stopped = false;
  bool running = false;  // start() completed

  // Declaration order is destruction order reversed: everything that calls
  // into the ring goes before it.
  net::SystemClock clock;
  net::RandomRng rng;
  std::shared_ptr<net::PeerAuth> auth;  // the ring's secret, or an open ring
  std::atomic<std::uint64_t> peer_auth_failures{0};
  std::atomic<std::int64_t> last_auth_log_ms{0};  // monotonic; 0: never logged
  net::HttpTransport transport;
  std::unique_ptr<core::Store> store;
  std::unique_ptr<core::RecordStore> records;
  std::unique_ptr<core::Ring> ring;
  std::unique_ptr<core::Replicator> replicator;
  std::unique_ptr<core::RingKeyDirectory> keys;
  std::unique_ptr<core::RecordValidator> validator;
  std::unique_ptr<node::Api> api;
  net::HttpServer server;
  net::Timer timer;
  net::Timer sync_timer;
  std::unique_ptr<net::DiscoveryResponder> discovery;
};

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() { stop(); }

Result<std::unique_ptr<Node>> Node::create(NodeOptions options) {
  auto checked = check_options(options);
  if (!checked.ok()) return checked.status();
  auto trust = trust_new_ring(options);
  if (!trust.ok()) return trust.status();
  auto impl = std::make_unique<Impl>(options, checked->level, *trust);
  impl->info = new_ring_info(options);
  impl->info.open_ring = options.open_ring;
  if (Status s = impl->start(*checked, ""); !s.ok()) return s;
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Result<std::unique_ptr<Node>> Node::join(NodeOptions options, std::string peer) {
  auto checked = check_options(options);
  if (!checked.ok()) return checked.status();
  auto trust = trust_joiner(options);
  if (!trust.ok()) return trust.status();

  std::vector<std::string> candidates;
  if (!peer.empty()) {
    if (auto hp = net::parse_host_port(peer, "peer address"); !hp.ok()) return hp.status();
    candidates.push_back(peer);
  } else {
    if (options.discovery_port <= 0)
      return Status::InvalidArgument("no peer to join through, and discovery is off (discovery port 0)");
    const std::string& broadcast = options.discovery_broadcast;
    const std::string ring = options.ring_name.empty() ? kDefaultRing : options.ring_name;
    // Holding a secret, a joiner believes only members that prove it.
    auto found = trust->auth->is_open()
                     ? net::discover_nodes(ring, options.discovery_port, 1000, broadcast)
                     : net::discover_members(ring, options.discovery_port, 1000, broadcast, *trust->auth);
    if (!found.ok()) return found.status();
    for (auto& a : *found)
      if (a != options.advertise) candidates.push_back(a);
    if (candidates.empty())
      return Status::Unavailable(fmt::format("discovery for ring '{}' found only this node's own address", ring));
  }

  // The first candidate that tells us its ring's parameters is the one we join.
  Status last = Status::Unavailable("no peer");
  for (const auto& candidate : candidates) {
    RingTrust candidate_trust = *trust;
    auto ring_info = ring_info_for(options, candidate, candidate_trust);
    if (!ring_info.ok()) {
      if (ring_info.status().code() != Code::kUnavailable) return ring_info.status();
      last = ring_info.status();
      continue;
    }
    auto info = adopt_ring_info(options, *ring_info, candidate);
    if (!info.ok()) return info.status();
    // A member's data directory holds the ring's secret, so it restarts,
    // and `dws-node status --data` works, without naming the file again.
    if (!candidate_trust.auth->is_open() && !options.data_dir.empty() &&
        candidate_trust.secret_path != secret_in(options.data_dir)) {
      std::error_code ec;
      if (!std::filesystem::exists(options.data_dir, ec)) {
        std::filesystem::create_directories(options.data_dir, ec);
        std::filesystem::permissions(options.data_dir, std::filesystem::perms::owner_all, ec);
      }
      const Status saved = candidate_trust.auth->save(secret_in(options.data_dir));
      if (!saved.ok() && saved.code() != Code::kExists) return saved;
    }
    auto impl = std::make_unique<Impl>(options, checked->level, candidate_trust);
    impl->info = *info;
    if (Status s = impl->start(*checked, candidate); !s.ok()) {
      if (s.code() != Code::kUnavailable || peer.size() > 0) return s;
      last = s;
      continue;
    }
    return std::unique_ptr<Node>(new Node(std::move(impl)));
  }
  return last;
}

void Node::stop() { impl_->shutdown(/*graceful=*/true); }
void Node::halt() { impl_->shutdown(/*graceful=*/false); }
std::string Node::address() const { return impl_->self.address; }
Id Node::id() const { return impl_->self.id; }
RingView Node::view() const { return impl_->ring->view(true); }
RingInfo Node::info() const { return impl_->info; }
std::string Node::metrics_text() const { return impl_->metrics_text(); }
RecordCounts Node::record_counts() const { return impl_->record_counts(); }

namespace {

// The transport the free functions use: proving the secret in
// `ring_secret_file` (none: an open ring, or public endpoints only), over
// HTTPS verified against `tls_ca` when one is given.
Result<std::unique_ptr<net::HttpTransport>> transport_for(const std::string& ring_secret_file,
                                                         const std::string& tls_ca) {
  net::HttpTransportOptions o;
  o.tls_ca = tls_ca;
  if (!ring_secret_file.empty()) {
    auto auth = net::PeerAuth::load(ring_secret_file);
    if (!auth.ok()) return auth.status();
    o.auth = std::move(auth).value();
  }
  return std::make_unique<net::HttpTransport>(o);
}

}  // namespace

Result<RingInfo> fetch_ring_info(const std::string& peer, const std::string& ring_secret_file,
                                 const std::string& tls_ca) {
  if (auto hp = net::parse_host_port(peer, "peer address"); !hp.ok()) return hp.status();
  auto transport = transport_for(ring_secret_file, tls_ca);
  if (!transport.ok()) return transport.status();
  return fetch_info(**transport, peer);
}

Result<std::vector<RingView>> walk_ring(const std::string& peer, int max_nodes, const std::string& ring_secret_file,
                                        const std::string& tls_ca) {
  if (auto hp = net::parse_host_port(peer, "peer address"); !hp.ok()) return hp.status();
  auto transport = transport_for(ring_secret_file, tls_ca);
  if (!transport.ok()) return transport.status();
  auto state = [t = transport->get()](const std::string& address) -> Result<RingView> {
    auto r = t->call(address, core::StateReq{}, core::Deadline{2000});
    if (!r.ok()) return r.status();
    const auto* s = std::get_if<core::StateResp>(&*r);
    if (!s) return Status::Internal(fmt::format("peer {} answered /v1/ring/state with another message", address));
    return s->view;
  };
  auto first = state(peer);
  if (!first.ok()) return first.status();
  std::vector<RingView> ring{*first};
  while (static_cast<int>(ring.size()) < max_nodes) {
    // Follow the first successor that answers; a dead one is skipped.
    std::optional<RingView> next;
    bool closed = false;
    for (const auto& s : ring.back().successors) {
      const bool seen = std::any_of(ring.begin(), ring.end(), [&](const RingView& v) { return v.self.id == s.id; });
      if (seen) {
        closed = true;  // back at the start (or at a loop short of it)
        break;
      }
      auto v = state(s.address);
      if (v.ok()) {
        next = std::move(*v);
        break;
      }
    }
    if (closed || !next) break;
    ring.push_back(std::move(*next));
  }
  return ring;
}

Result<std::vector<std::string>> discover(const std::string& ring_name, int port, int timeout_ms,
                                          const std::string& broadcast_address) {
  return net::discover_nodes(ring_name, port, timeout_ms, broadcast_address);
}

Status make_ring_ca(const std::string& dir) { return net::make_ring_ca(dir); }

Status make_node_certificate(const std::string& ca_dir, const std::vector<std::string>& hosts,
                             const std::string& out_dir) {
  return net::make_node_certificate(ca_dir, hosts, out_dir);
}

}  // namespace dws
