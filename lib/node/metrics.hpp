// The node's /metrics page (Prometheus text exposition, version 0.0.4):
// what the ring, the replicator, the API and the HTTP server count, read
// into one plain struct and rendered here, so the page is tested without a
// node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/replication.hpp"
#include "core/ring.hpp"
#include "dwhatsapp/types.hpp"
#include "net/http_server.hpp"
#include "node/api.hpp"

namespace dws::node {

/// One reading of everything the page shows.
struct NodeStats {
  PeerInfo self;
  std::string ring_name;
  std::size_t ring_size_seen = 0;  // itself, predecessor, successors, fingers
  core::RingMetrics ring;
  core::ReplicationMetrics replication;
  RecordCounts held;
  std::uint64_t peer_auth_failures = 0;
  std::size_t mailbox_waiters = 0;
  std::size_t sessions = 0;
  Api::LimitCounts limits;
  net::HttpServerStats http;
  std::size_t positions = 1;  // ring positions (virtual nodes); the counters above are summed over them
};

/// Adds `b`'s counters to `a`'s (a node's positions, summed for the page).
void add_to(core::RingMetrics& a, const core::RingMetrics& b);
void add_to(core::ReplicationMetrics& a, const core::ReplicationMetrics& b);

/// The page: every metric with its HELP and TYPE lines.
std::string metrics_text(const NodeStats& s);

}  // namespace dws::node
