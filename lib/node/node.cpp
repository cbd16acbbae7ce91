#include "dwhatsapp/node.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <optional>
#include <thread>
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
#include "node/metrics.hpp"
#include "node/node_store.hpp"
#include "node/options.hpp"
#include "node/peer_endpoint.hpp"
#include "node/positions.hpp"
#include "node/trust.hpp"

namespace dws {

namespace {

using node::Level;
using node::level_name;

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

std::string describe(const PeerInfo& p) { return fmt::format("{} ({})", p.address, core::to_hex(p.id)); }

}  // namespace

struct Node::Impl {
  Impl(NodeOptions o, Level l, const node::RingTrust& t)
      : options(std::move(o)),
        level(l),
        secret_path(t.secret_path),
        secret_created(t.created),
        auth(t.auth),
        peer_door(
            auth, clock, [this](const net::WireRequest& w) { return peer_endpoint(w); },
            [this](const std::string& line) { log(Level::kWarn, line); }),
        transport(node::transport_options(options, auth)),
        peers(transport, [this](std::size_t i, const core::Request& r) { return dispatch(i, r, "this node"); }),
        server(node::server_options(options)) {}
  ~Impl() { shutdown(/*graceful=*/false); }

  void log(Level l, std::string_view message) {
    if (l > level) return;
    const std::string line = fmt::format("{} {} {}: {}", timestamp(), self.address.empty() ? options.listen : self.address,
                                         level_name(l), message);
    std::lock_guard lock(log_mu);
    if (options.log) options.log(line);
    else std::fprintf(stderr, "%s\n", line.c_str());
  }

  // `where`: "" for a node with one position, else "position #i: ".
  void on_ring_event(const std::string& where, const core::RingEvent& e) {
    using Kind = core::RingEvent::Kind;
    switch (e.kind) {
      case Kind::kSuccessor:
        log(Level::kInfo, where + (e.peer ? "new successor " + describe(*e.peer) : std::string("no successor left")));
        break;
      case Kind::kPredecessor:
        log(Level::kInfo,
            where + (e.peer ? "new predecessor " + describe(*e.peer) : std::string("predecessor cleared")));
        break;
      case Kind::kPeerDead:
        log(Level::kWarn,
            where + (e.peer ? "peer " + describe(*e.peer) + " declared dead" : std::string("a peer died")));
        break;
      case Kind::kJoined: log(Level::kInfo, where + "joined the ring"); break;
      case Kind::kLeft: log(Level::kInfo, where + "left the ring"); break;
    }
  }

  // A refused record is counted always, but logged at most once a minute
  // per source, so a flood of forgeries cannot flood the log.
  void on_rejected(const core::Verdict& v, const std::string& source) {
    const std::string who = source.empty() ? std::string("unknown source") : source;
    if (!reject_log.due(who, clock.monotonic_ms())) return;
    log(Level::kWarn, fmt::format("refused a record from {}: {} (further refusals from it are counted in "
                                  "dws_records_rejected_total, logged again in a minute)",
                                  who, v.status.message()));
  }

  static bool is_store_request(const core::Request& r) {
    return std::holds_alternative<core::StorePutReq>(r) || std::holds_alternative<core::StoreGetReq>(r) ||
           std::holds_alternative<core::StoreSyncReq>(r) || std::holds_alternative<core::StoreScanReq>(r);
  }

  // The ring position a peer request is for: ?at=i on its target, none
  // for the first.
  Result<std::size_t> position_param(const net::WireRequest& wire) const {
    const std::string* at = wire.param("at");
    if (at == nullptr) return std::size_t{0};
    const int i = core::position_of("#" + *at);
    if (i <= 0 || static_cast<std::size_t>(i) >= positions.size())
      return Status::NotFound(fmt::format("this node has no ring position #{} (it has {}: #0 to #{})", *at,
                                          positions.size(), positions.size() - 1));
    return static_cast<std::size_t>(i);
  }

  net::WireResponse peer_endpoint(const net::WireRequest& wire) {
    auto position = position_param(wire);
    if (!position.ok()) return net::encode_error(position.status());
    auto request = net::decode_request(wire);
    if (!request.ok()) return net::encode_error(request.status());
    auto response = dispatch(*position, *request, wire.remote_address);
    if (!response.ok()) return net::encode_error(response.status());
    return net::encode_response(*response);
  }

  // A peer request for position `i`, from the network or from another of
  // this node's positions: storage messages go to its replicator, the rest
  // to its ring; ring state is completed with what the position stores.
  Result<core::Response> dispatch(std::size_t i, const core::Request& request, const std::string& source) {
    node::Position& at = *positions[i];
    std::optional<Result<core::Response>> entry = forwarded(at, request);
    Result<core::Response> response = entry                          ? std::move(*entry)
                                      : node::Api::handles(request)  ? api->handle(request, i)
                                      : is_store_request(request)    ? at.replicator->handle(request, source)
                                                                     : at.ring->handle(request);
    if (response.ok())
      if (auto* state = std::get_if<core::StateResp>(&*response)) state->view.records = record_counts(at);
    return response;
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

  std::optional<Result<core::Response>> forwarded(node::Position& at, const core::Request& request) {
    if (const auto* put = std::get_if<core::StorePutReq>(&request); put && put->forward) {
      auto r = at.replicator->put(put->record);
      if (!r.ok()) return Result<core::Response>(for_client(r.status()));
      return Result<core::Response>(core::Response(*r));
    }
    if (const auto* get = std::get_if<core::StoreGetReq>(&request); get && get->forward) {
      auto r = at.replicator->get(get->key, get->sub);
      if (!r.ok()) return Result<core::Response>(for_client(r.status()));
      return Result<core::Response>(core::Response(core::StoreGetResp{std::move(*r)}));
    }
    return std::nullopt;
  }

  static RecordCounts record_counts(node::Position& at) {
    const core::HeldCounts held = at.replicator->held_counts();
    return RecordCounts{held.primary, held.replica};
  }

  // Over all positions.
  RecordCounts record_counts() const {
    RecordCounts sum;
    for (const auto& p : positions) {
      const RecordCounts c = record_counts(*p);
      sum.primary += c.primary;
      sum.replica += c.replica;
    }
    return sum;
  }

  void flush_store() {
    for (const auto& p : positions)
      if (Status s = p->store->flush(); !s.ok())
        log(Level::kError, fmt::format("flushing the store of {} failed: {}", p->self.address, s.message()));
  }

  // The ring positions this node's positions know: themselves, predecessors,
  // successors, fingers.
  std::vector<PeerInfo> known_positions() const {
    std::vector<PeerInfo> nodes;
    auto add = [&](const PeerInfo& p) {
      for (const auto& n : nodes)
        if (n.id == p.id) return;
      nodes.push_back(p);
    };
    for (const auto& at : positions) {
      const RingView v = at->ring->view(true);
      add(v.self);
      if (v.predecessor) add(*v.predecessor);
      for (const auto& s : v.successors) add(s);
      for (const auto& f : v.fingers)
        if (f) add(*f);
    }
    return nodes;
  }

  // The nodes behind them, once each, at their own addresses (what clients
  // connect to: GET /v1/ring/nodes).
  std::vector<PeerInfo> known_nodes() const {
    std::vector<PeerInfo> nodes;
    for (const PeerInfo& p : known_positions()) {
      const std::string host(core::host_of(p.address));
      if (std::none_of(nodes.begin(), nodes.end(), [&](const PeerInfo& n) { return n.address == host; }))
        nodes.push_back(PeerInfo{core::node_id(host), host});
    }
    return nodes;
  }

  std::string metrics_text() const {
    core::RingMetrics ring_sum;
    core::ReplicationMetrics replication_sum;
    for (const auto& p : positions) {
      node::add_to(ring_sum, p->ring->metrics());
      node::add_to(replication_sum, p->replicator->metrics());
    }
    return node::metrics_text(node::NodeStats{
        .self = self,
        .ring_name = info.ring_name,
        .ring_size_seen = known_positions().size(),
        .ring = ring_sum,
        .replication = replication_sum,
        .held = record_counts(),
        .peer_auth_failures = peer_door.refused(),
        .mailbox_waiters = api->waiting(),
        .sessions = api->sessions(),
        .limits = api->limit_counts(),
        .http = server.stats(),
        .positions = positions.size(),
    });
  }

  void add_routes() {
    for (const auto& route : net::ring_routes())
      server.route(route.method, std::string(route.path),
                   [this](const net::WireRequest& w) { return peer_door.serve(w); });
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
  Status join_ring(core::Ring& ring, const std::string& peer) {
    constexpr int kAttempts = 5;
    Status s = ring.join(peer);
    for (int attempt = 1; !s.ok() && s.code() == Code::kUnavailable && attempt < kAttempts; ++attempt) {
      if (!peers.call(peer, core::PingReq{}, core::Deadline{1000}).ok()) break;  // the peer is gone: say so now
      log(Level::kInfo, fmt::format("join through {} failed ({}); trying again", peer, s.message()));
      std::this_thread::sleep_for(std::chrono::milliseconds(options.stabilize_ms));
      s = ring.join(peer);
    }
    return s;
  }

  Status start(const node::CheckedOptions& checked, const std::string& peer) {
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

    core::ReplicationOptions rep;
    rep.replicas = info.replicas;
    rep.write_quorum = std::min(node::kWriteQuorum, info.replicas);
    // A replica keeps a range a primary synced to it for a few rounds; past
    // that, garbage collection asks the primary before dropping anything, so
    // a short hold costs a state request, never data.
    rep.held_range_ttl_ms = 4LL * options.sync_ms;
    core::RingOptions ro;
    ro.successor_list = node::position_successors(info, options.vnodes);
    ro.info = info;
    std::vector<std::string> addresses;
    for (int i = 0; i < options.vnodes; ++i) {
      auto at = std::make_unique<node::Position>();
      at->self.address = core::position_address(self.address, i);
      at->self.id = core::node_id(at->self.address);
      NodeOptions own = options;
      if (i > 0 && !options.data_dir.empty()) own.data_dir = fmt::format("{}/v{}", options.data_dir, i);
      auto opened = node::NodeStore::open(own, node::position_digest_bits(options.vnodes));
      if (!opened.ok()) return opened.status();
      at->store = std::move(opened).value();
      at->ring = std::make_unique<core::Ring>(at->self, ro, peers, clock, rng);
      const std::string where = options.vnodes > 1 ? fmt::format("position #{}: ", i) : std::string();
      at->ring->set_listener([this, where](const core::RingEvent& e) { on_ring_event(where, e); });
      at->replicator = std::make_unique<core::Replicator>(*at->ring, at->store->records(), peers, clock, rep);
      addresses.push_back(at->self.address);
      positions.push_back(std::move(at));
    }
    peers.set_addresses(std::move(addresses));
    node::Position& first = *positions.front();
    // One key directory and validator for all positions: an envelope the API
    // verified is admitted by whichever position stores it without a second
    // verification.
    keys = std::make_unique<core::RingKeyDirectory>(*first.replicator, first.store->records(), clock);
    core::ValidationOptions vo;
    vo.message_ttl_ms = options.message_ttl_s * 1000;
    vo.tombstone_ttl_ms = rep.tombstone_ttl_ms;
    validator = std::make_unique<core::RecordValidator>(*keys, vo);
    for (const auto& at : positions) {
      at->replicator->set_validator(validator.get());
      at->replicator->set_on_rejected(
          [this](const core::Record&, const core::Verdict& v, const std::string& source) { on_rejected(v, source); });
    }
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
    api = std::make_unique<node::Api>(*first.ring, *first.replicator, first.store->records(), peers, clock, ao);
    for (std::size_t i = 1; i < positions.size(); ++i)
      api->add_position(*positions[i]->ring, *positions[i]->replicator, positions[i]->store->records());
    api->set_verified_cache(&validator->verified());
    for (const auto& at : positions) at->replicator->set_on_stored([this](const core::Record& r) { api->on_stored(r); });
    add_routes();
    if (Status s = server.start(); !s.ok()) return s;

    if (peer.empty()) {
      first.ring->create();
    } else if (Status s = join_ring(*first.ring, peer); !s.ok()) {
      return Status(s.code(), fmt::format("cannot join the ring through {}: {}", peer, s.message()));
    }
    // The other positions join through the first, in process.
    for (std::size_t i = 1; i < positions.size(); ++i)
      if (Status s = join_ring(*positions[i]->ring, first.self.address); !s.ok())
        return Status(s.code(), fmt::format("position {} cannot join the ring: {}", positions[i]->self.address,
                                            s.message()));

    timer.every(std::chrono::milliseconds(options.stabilize_ms), [this] {
      for (const auto& at : positions) {
        at->ring->stabilize();
        at->ring->fix_fingers();
      }
    });
    if (!options.fsync) timer.every(std::chrono::milliseconds(options.flush_ms), [this] { flush_store(); });
    // Anti-entropy has a thread of its own: a round waits on peers for up to
    // a deadline per call, and stabilization must not wait behind it.
    sync_timer.every(std::chrono::milliseconds(options.sync_ms), [this] {
      for (const auto& at : positions) at->replicator->sync_round();
    });
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
        fmt::format("serving {} on {}, id {}{}, ring '{}' (replicas {}, successors {}, stabilize {} ms, sync {} ms), {}{}{}{}",
                    options.tls_cert.empty() ? "HTTP" : "HTTPS", net::format_host_port(checked.listen.host, *port),
                    core::to_hex(self.id),
                    options.vnodes > 1 ? fmt::format(" and {} more ring positions ({}#1 to #{}, records in {}/v<i>)",
                                                     options.vnodes - 1, self.address, options.vnodes - 1,
                                                     options.data_dir.empty() ? "memory" : options.data_dir)
                                       : std::string(),
                    info.ring_name, info.replicas, ro.successor_list, info.stabilize_ms, options.sync_ms, storage,
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
    if (graceful) {
      // Every position hands off before any leaves, while the successors
      // still see them as predecessors and accept the ranges as replicas.
      for (const auto& at : positions)
        if (at->ring->joined())
          if (Status s = at->replicator->hand_off(); !s.ok())
            log(Level::kWarn, fmt::format("hand-off of {} before leaving incomplete (anti-entropy will repair it): {}",
                                          at->self.address, s.message()));
      for (const auto& at : positions)
        if (at->ring->joined()) at->ring->leave();
    }
    if (discovery) discovery->stop();
    // Waiting long polls are answered first; the server's stop() writes
    // those answers before it closes the connections.
    if (api) api->stop();
    server.stop();
    transport.clear();
    // A crash (halt) keeps only what LMDB wrote to the page cache, as a
    // killed process does; a graceful stop makes everything durable.
    if (graceful) flush_store();
    if (running) log(Level::kInfo, graceful ? "stopped" : "halted");
  }

  NodeOptions options;
  Level level;
  std::string secret_path;  // where the ring secret is kept; empty: open or in memory
  bool secret_created = false;
  RingInfo info;
  PeerInfo self;
  std::mutex log_mu;
  std::mutex life_mu;
  node::LogThrottle reject_log;  // by source
  bool stopped = false;
  bool running = false;  // start() completed

  // Declaration order is destruction order reversed: everything that calls
  // into the ring goes before it.
  net::SystemClock clock;
  net::RandomRng rng;
  std::shared_ptr<net::PeerAuth> auth;  // the ring's secret, or an open ring
  node::PeerEndpoint peer_door;  // the proof check before peer_endpoint
  net::HttpTransport transport;
  node::PositionTransport peers;  // transport, or in process to our own positions
  std::vector<std::unique_ptr<node::Position>> positions;  // [0] at the node's address
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
  auto checked = node::check_options(options);
  if (!checked.ok()) return checked.status();
  auto trust = node::trust_new_ring(options);
  if (!trust.ok()) return trust.status();
  auto impl = std::make_unique<Impl>(options, checked->level, *trust);
  impl->info = node::new_ring_info(options);
  if (Status s = impl->start(*checked, ""); !s.ok()) return s;
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Result<std::unique_ptr<Node>> Node::join(NodeOptions options, std::string peer) {
  auto checked = node::check_options(options);
  if (!checked.ok()) return checked.status();
  auto trust = node::trust_joiner(options);
  if (!trust.ok()) return trust.status();

  std::vector<std::string> candidates;
  if (!peer.empty()) {
    if (auto hp = net::parse_host_port(peer, "peer address"); !hp.ok()) return hp.status();
    candidates.push_back(peer);
  } else {
    if (options.discovery_port <= 0)
      return Status::InvalidArgument("no peer to join through, and discovery is off (discovery port 0)");
    const std::string& broadcast = options.discovery_broadcast;
    const std::string ring = options.ring_name.empty() ? node::kDefaultRing : options.ring_name;
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
    node::RingTrust candidate_trust = *trust;
    auto ring_info = node::ring_info_for(options, candidate, candidate_trust);
    if (!ring_info.ok()) {
      if (ring_info.status().code() != Code::kUnavailable) return ring_info.status();
      last = ring_info.status();
      continue;
    }
    auto info = node::adopt_ring_info(options, *ring_info, candidate);
    if (!info.ok()) return info.status();
    if (Status s = node::keep_secret(options, candidate_trust); !s.ok()) return s;
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
RingView Node::view() const { return impl_->positions.front()->ring->view(true); }
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
  return node::fetch_info(**transport, peer);
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
