// dws::Node: one member of the ring, embeddable in any process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dwhatsapp/export.h"
#include "dwhatsapp/status.hpp"
#include "dwhatsapp/types.hpp"

namespace dws {

/// @brief How a node runs. Plain data; every field has a working default.
struct NodeOptions {
  /// "host:port" to listen on; port 0 lets the OS pick a free one.
  std::string listen = "127.0.0.1:0";
  /// "host:port" other nodes use to reach this one; default: the listen host
  /// and the bound port. The node id is derived from it.
  std::string advertise;
  /// Where the node keeps its data (records in <data_dir>/store, an LMDB
  /// environment, created as needed); empty: records live in memory and
  /// are gone when the node stops.
  std::string data_dir;
  /// Ring-wide parameters. For a new ring, 0 / empty means the default
  /// (ring "dwhatsapp", 3 replicas, 4 successors). When joining, 0 / empty
  /// adopts the ring's value and anything else must match it.
  std::string ring_name;
  int replicas = 0;
  int successors = 0;
  /// Period of stabilization (and of finger refresh) in milliseconds.
  int stabilize_ms = 1000;
  /// UDP port that answers discovery broadcasts; 0 turns the responder off.
  int discovery_port = 37020;
  /// HTTP worker threads.
  int http_threads = 16;
  /// Period of anti-entropy rounds (DESIGN.md section 4) in milliseconds.
  int sync_ms = 5000;
  /// false: commits skip fsync and a flush every flush_ms makes them durable
  /// (a killed process loses nothing, a power cut at most flush_ms of writes).
  /// true: every write is durable on disk before it is acknowledged.
  bool fsync = false;
  /// Period of the flush when fsync is false, in milliseconds.
  int flush_ms = 100;
  /// Upper bound of the LMDB data file in bytes (address space only);
  /// 0: the store's default (64 GiB).
  std::uint64_t map_size = 0;
  /// How long an undelivered message waits in a mailbox, in seconds
  /// (default 30 days); acknowledged entries stay as tombstones as long.
  std::int64_t message_ttl_s = 30LL * 24 * 3600;
  /// Live (unacknowledged) messages one mailbox may hold; more are refused
  /// with kRateLimited until the owner reads some.
  std::uint32_t mailbox_quota = 10000;
  /// "error", "warn", "info" or "debug".
  std::string log_level = "info";
  /// Receives each log line (without newline); default: stderr.
  std::function<void(std::string_view line)> log;

  // Trust (DESIGN.md section 12).
  /// File holding the private ring's 32-byte secret (mode 0600; anything
  /// else is kInvalidArgument). A new ring uses this file, creating it with
  /// a fresh secret if absent; with this empty, <data_dir>/ring.secret (the
  /// same way); with no data_dir either, a fresh secret in memory that no
  /// other node can learn (a ring of one: in-process rings name a file).
  /// A joiner reads this file, else <data_dir>/ring.secret if present (and
  /// keeps a copy there once admitted); a private ring refuses a joiner
  /// without its secret (kInvalidArgument).
  std::string ring_secret_file;
  /// A new ring that anyone may join (no secret): only the record checks
  /// protect it. Said in the log and in GET /v1/ring/info.
  bool open_ring = false;
  /// PEM certificate chain and private key: serve HTTPS instead of HTTP.
  std::string tls_cert;
  std::string tls_key;
  /// PEM CA bundle that peers' certificates must chain to; set with tls_cert
  /// to talk HTTPS to peers.
  std::string tls_ca;

  // Abuse limits (DESIGN.md section 12).
  /// Accounts one source address may register through this node: at most
  /// registration_burst at once, then one more every
  /// 3600 / registrations_per_hour seconds. Either 0: no limit.
  int registration_burst = 20;
  int registrations_per_hour = 120;

  /// Where join() with no peer broadcasts its discovery datagram: a subnet's
  /// broadcast address ("10.213.0.255") or "127.255.255.255" for nodes on
  /// loopback. The library reads no environment; dws-node fills this from
  /// --discovery-broadcast or DWS_DISCOVERY_BROADCAST.
  std::string discovery_broadcast = "255.255.255.255";

  /// HTTP connections open at once (the server keeps at most 3/4 of
  /// RLIMIT_NOFILE); more are refused with 503.
  int max_connections = 16384;
  /// Long polls (GET /v1/mailbox?wait=N) waiting at once; more get 503. A
  /// waiting poll holds a connection and no thread.
  std::size_t max_long_polls = 12'000;
  /// Ring positions this node takes (virtual nodes, 1..64): the first at
  /// its address, the others at "<address>#1", "#2", ..., each with a range
  /// and a record store of its own (<data_dir>/v<i> past the first), so a
  /// node carries about its share of records even on a small ring. The
  /// copies of a record go to distinct nodes, never to two positions of one.
  int vnodes = 1;
};

/// @brief A running ring member: HTTP server, periodic stabilization,
/// replicated record store with anti-entropy, UDP discovery responder. A Node is safe for concurrent use from multiple
/// threads without external synchronization; many Nodes may live in one process.
class DWS_API Node {
 public:
  /// @brief Starts a node that forms a new ring of one.
  /// @return the running node, or kInvalidArgument (bad address or option),
  /// kUnavailable (port busy).
  static Result<std::unique_ptr<Node>> create(NodeOptions options);

  /// @brief Starts a node and joins the ring through `peer` ("host:port").
  /// With an empty `peer`, finds a member by UDP broadcast discovery on
  /// options.discovery_port. Adopts the ring's parameters from the peer's
  /// GET /v1/ring/info; a conflicting explicit option is kInvalidArgument.
  /// @return the running node, or kUnavailable (peer unreachable, nothing
  /// discovered), kInvalidArgument.
  static Result<std::unique_ptr<Node>> join(NodeOptions options, std::string peer);

  /// Leaves gracefully (if still running) and releases everything.
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// @brief Graceful stop: pushes this node's primary range to its
  /// successor, tells neighbours, stops serving, flushes the store. Idempotent.
  void stop();
  /// @brief Stops serving at once without telling anyone, as a crash would
  /// (for tests of failure handling). Idempotent.
  void halt();

  /// The advertised "host:port".
  std::string address() const;
  /// The ring id, id("node:" + address()).
  Id id() const;
  /// This node's current view: predecessor, successors, fingers.
  RingView view() const;
  /// The ring-wide parameters this node runs with.
  RingInfo info() const;
  /// Prometheus text exposition, as GET /metrics serves it.
  std::string metrics_text() const;
  /// Records this node holds as primary and as replica.
  RecordCounts record_counts() const;

  struct Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// @brief Walks the ring from `peer` along first successors and returns each
/// node's view (with its record counts), in ring order, stopping when it comes back to the start (or
/// after `max_nodes`). Used by `dws-node status`.
/// @return kUnavailable when `peer` does not answer; a node that does not
/// answer mid-walk is skipped using its predecessor's next successor.
/// A private ring's members answer only a caller proving its secret: give
/// the ring's secret file (empty: an open ring). With `tls_ca`, the walk
/// goes over HTTPS and verifies each node's certificate against that PEM CA
/// bundle (`dws-node status --tls-ca`). kInvalidArgument when a file is
/// unusable, kUnauthenticated when the ring refuses the secret.
DWS_API Result<std::vector<RingView>> walk_ring(const std::string& peer, int max_nodes = 4096,
                                                const std::string& ring_secret_file = {},
                                                const std::string& tls_ca = {});

/// @brief Fetches GET /v1/ring/info from `peer` (public on every ring). With
/// `ring_secret_file`, the answer must prove that `peer` holds that secret;
/// with `tls_ca`, over HTTPS verified against it.
DWS_API Result<RingInfo> fetch_ring_info(const std::string& peer, const std::string& ring_secret_file = {},
                                         const std::string& tls_ca = {});

/// @brief Broadcasts "DWS1 DISCOVER <ring_name>" on UDP `port` to
/// `broadcast_address` and returns the "host:port" addresses that answered
/// within `timeout_ms`, first answer first.
/// @return kUnavailable when nobody answered.
DWS_API Result<std::vector<std::string>> discover(const std::string& ring_name, int port, int timeout_ms = 1000,
                                                  const std::string& broadcast_address = "255.255.255.255");

/// @brief Makes a private ring CA for TLS (`dws-node gen-cert --ca-dir DIR`):
/// `dir`/ca.crt, which every node and client is given as tls_ca, and
/// `dir`/ca.key (mode 0600), which signs node certificates. ECDSA P-256.
/// @return kExists if `dir` already holds a CA (never overwritten), kInternal.
DWS_API Status make_ring_ca(const std::string& dir);

/// @brief Makes a node certificate signed by the CA in `ca_dir`, valid for
/// `hosts` (IP addresses or DNS names, the ones peers and clients call it
/// by): `out_dir`/node.crt and `out_dir`/node.key (mode 0600), for
/// NodeOptions::tls_cert and tls_key.
/// @return kInvalidArgument (no host, a bad one), kNotFound (no CA), kInternal.
DWS_API Status make_node_certificate(const std::string& ca_dir, const std::vector<std::string>& hosts,
                                     const std::string& out_dir);

}  // namespace dws
