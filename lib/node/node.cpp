#include "dwhatsapp/node.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include "core/id.hpp"
#include "core/record.hpp"
#include "core/replication.hpp"
#include "core/ring.hpp"
#include "net/address.hpp"
#include "net/discovery.hpp"
#include "net/http_server.hpp"
#include "net/http_transport.hpp"
#include "net/json_codec.hpp"
#include "net/system_env.hpp"
#include "net/timer.hpp"
#include "node/api.hpp"
#include "store/lmdb_store.hpp"
#include "store/memory_store.hpp"

namespace dws {

namespace {

constexpr int kDefaultReplicas = 3;
constexpr int kDefaultSuccessors = 4;
constexpr const char* kDefaultRing = "dwhatsapp";
constexpr const char* kBroadcastEnv = "DWS_DISCOVERY_BROADCAST";
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
  if (o.sync_ms < 1 || o.sync_ms > 3'600'000)
    return Status::InvalidArgument(fmt::format("sync_ms {} must be in 1..3600000", o.sync_ms));
  if (o.flush_ms < 1 || o.flush_ms > 3'600'000)
    return Status::InvalidArgument(fmt::format("flush_ms {} must be in 1..3600000", o.flush_ms));
  if (o.message_ttl_s < 1 || o.message_ttl_s > 10LL * 365 * 24 * 3600)
    return Status::InvalidArgument(fmt::format("message_ttl_s {} must be in 1..315360000 (10 years)", o.message_ttl_s));
  if (o.mailbox_quota < 1)
    return Status::InvalidArgument("mailbox_quota must be at least 1 message");
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

Result<core::Response> call(const std::string& peer, const core::Request& request, std::int64_t timeout_ms = 2000) {
  static net::HttpTransport transport;  // shared by the free functions: pooled, thread-safe
  return transport.call(peer, request, core::Deadline{timeout_ms});
}

}  // namespace

struct Node::Impl {
  explicit Impl(NodeOptions o, Level l)
      : options(std::move(o)),
        level(l),
        server(net::HttpServerOptions{.threads = options.http_threads}) {}
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

  static bool is_store_request(const core::Request& r) {
    return std::holds_alternative<core::StorePutReq>(r) || std::holds_alternative<core::StoreGetReq>(r) ||
           std::holds_alternative<core::StoreSyncReq>(r) || std::holds_alternative<core::StoreScanReq>(r);
  }

  // Every endpoint of the codec: storage messages go to the replicator, the
  // rest to the ring; ring state is completed with what this node stores.
  net::WireResponse protocol_endpoint(const net::WireRequest& wire) {
    auto request = net::decode_request(wire);
    if (!request.ok()) return net::encode_error(request.status());
    std::optional<Result<core::Response>> entry = forwarded(*request);
    Result<core::Response> response = entry                            ? std::move(*entry)
                                      : node::Api::handles(*request)   ? api->handle(*request)
                                      : is_store_request(*request)     ? replicator->handle(*request)
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
    metric("dws_mailbox_waiters", "gauge", "Mailbox requests waiting for a message (long polls).", api->waiting());
    return out;
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
    node::ApiOptions ao;
    ao.users.tombstone_ttl_ms = rep.tombstone_ttl_ms;
    ao.mailbox.message_ttl_ms = options.message_ttl_s * 1000;
    ao.mailbox.quota = options.mailbox_quota;
    api = std::make_unique<node::Api>(*ring, *replicator, *records, transport, clock, ao);
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
      discovery = std::make_unique<net::DiscoveryResponder>(timer.context(), info.ring_name, self);
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
        fmt::format("serving on {}, id {}, ring '{}' (replicas {}, successors {}, stabilize {} ms, sync {} ms), {}{}{}{}",
                    net::format_host_port(checked.listen.host, *port), core::to_hex(self.id), info.ring_name,
                    info.replicas, info.successor_list, info.stabilize_ms, options.sync_ms, storage,
                    peer.empty() ? ", new ring" : ", joined through " + peer,
                    options.discovery_port > 0 ? fmt::format(", discovery on UDP {}", options.discovery_port) : "",
                    note));
    return Status::Ok();
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
    // Long polls hold HTTP workers, which the server joins.
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
  RingInfo info;
  PeerInfo self;
  std::mutex log_mu;
  std::mutex life_mu;
  bool stopped = false;
  bool running = false;  // start() completed

  // Declaration order is destruction order reversed: everything that calls
  // into the ring goes before it.
  net::SystemClock clock;
  net::RandomRng rng;
  net::HttpTransport transport;
  std::unique_ptr<core::Store> store;
  std::unique_ptr<core::RecordStore> records;
  std::unique_ptr<core::Ring> ring;
  std::unique_ptr<core::Replicator> replicator;
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
  auto impl = std::make_unique<Impl>(options, checked->level);
  impl->info = new_ring_info(options);
  if (Status s = impl->start(*checked, ""); !s.ok()) return s;
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Result<std::unique_ptr<Node>> Node::join(NodeOptions options, std::string peer) {
  auto checked = check_options(options);
  if (!checked.ok()) return checked.status();

  std::vector<std::string> candidates;
  if (!peer.empty()) {
    if (auto hp = net::parse_host_port(peer, "peer address"); !hp.ok()) return hp.status();
    candidates.push_back(peer);
  } else {
    if (options.discovery_port <= 0)
      return Status::InvalidArgument("no peer to join through, and discovery is off (discovery port 0)");
    const char* env = std::getenv(kBroadcastEnv);
    const std::string broadcast = env && *env ? env : "255.255.255.255";
    const std::string ring = options.ring_name.empty() ? kDefaultRing : options.ring_name;
    auto found = discover(ring, options.discovery_port, 1000, broadcast);
    if (!found.ok()) return found.status();
    for (auto& a : *found)
      if (a != options.advertise) candidates.push_back(a);
    if (candidates.empty())
      return Status::Unavailable(fmt::format("discovery for ring '{}' found only this node's own address", ring));
  }

  // The first candidate that tells us its ring's parameters is the one we join.
  Status last = Status::Unavailable("no peer");
  for (const auto& candidate : candidates) {
    auto ring_info = fetch_ring_info(candidate);
    if (!ring_info.ok()) {
      last = ring_info.status();
      continue;
    }
    auto info = adopt_ring_info(options, *ring_info, candidate);
    if (!info.ok()) return info.status();
    auto impl = std::make_unique<Impl>(options, checked->level);
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

Result<RingInfo> fetch_ring_info(const std::string& peer) {
  if (auto hp = net::parse_host_port(peer, "peer address"); !hp.ok()) return hp.status();
  auto r = call(peer, core::InfoReq{});
  if (!r.ok()) return r.status();
  const auto* info = std::get_if<core::InfoResp>(&*r);
  if (!info) return Status::Internal(fmt::format("peer {} answered /v1/ring/info with another message", peer));
  return info->info;
}

Result<std::vector<RingView>> walk_ring(const std::string& peer, int max_nodes) {
  if (auto hp = net::parse_host_port(peer, "peer address"); !hp.ok()) return hp.status();
  auto state = [](const std::string& address) -> Result<RingView> {
    auto r = call(address, core::StateReq{});
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

}  // namespace dws
