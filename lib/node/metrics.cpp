#include "node/metrics.hpp"

#include <fmt/format.h>

#include <string_view>

#include "core/id.hpp"
#include "core/validation.hpp"

namespace dws::node {

namespace {

// A metric without labels: its HELP, TYPE and value lines.
void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            std::uint64_t value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
}

void ring_metrics(std::string& out, const NodeStats& s) {
  const core::RingMetrics& m = s.ring;
  out += fmt::format(
      "# HELP dws_node_info This node's identity.\n# TYPE dws_node_info gauge\n"
      "dws_node_info{{id=\"{}\",address=\"{}\",ring=\"{}\"}} 1\n",
      core::to_hex(s.self.id), s.self.address, s.ring_name);
  metric(out, "dws_ring_positions", "gauge", "Ring positions this node takes (virtual nodes).", s.positions);
  metric(out, "dws_ring_size_seen", "gauge",
         "Distinct ring positions this node's positions know: themselves, predecessors, successors, fingers.",
         s.ring_size_seen);
  metric(out, "dws_lookups_total", "counter", "Lookups started at this node.", m.lookups);
  metric(out, "dws_lookup_failures_total", "counter", "Lookups that found no responsible node.", m.lookup_failures);
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
  metric(out, "dws_stabilize_rounds_total", "counter", "Stabilization rounds run.", m.stabilize_rounds);
  metric(out, "dws_peer_call_errors_total", "counter", "Calls to peers that failed.", m.peer_call_errors);
  metric(out, "dws_ring_changes_total", "counter", "Changes of successor or predecessor, and peers declared dead.",
         m.ring_changes);
}

void store_metrics(std::string& out, const NodeStats& s) {
  const core::ReplicationMetrics& rm = s.replication;
  metric(out, "dws_records_primary", "gauge", "Records held whose ring id is in (predecessor, self].", s.held.primary);
  metric(out, "dws_records_replica", "gauge", "Records held as copies of the predecessors' ranges.", s.held.replica);
  metric(out, "dws_store_puts_total", "counter", "Writes this node coordinated as the key's primary or entry node.",
         rm.puts);
  metric(out, "dws_write_quorum_failures_total", "counter", "Writes refused because fewer than W copies answered.",
         rm.quorum_failures);
  metric(out, "dws_sync_rounds_total", "counter", "Anti-entropy rounds run.", rm.sync_rounds);
  metric(out, "dws_sync_records_moved_total", "counter", "Records that anti-entropy merged with a change, either way.",
         rm.sync_records_moved);
  metric(out, "dws_sync_bytes_moved_total", "counter", "Record bytes anti-entropy sent and received.",
         rm.sync_bytes_moved);
  metric(out, "dws_handoff_records_total", "counter", "Records pushed to their new primary.", rm.handed_off);
  metric(out, "dws_gc_records_total", "counter", "Records erased because no range held here covers them any more.",
         rm.gc_erased);
  metric(out, "dws_peer_auth_failures_total", "counter",
         "Requests to peer endpoints refused for a missing or wrong proof of the ring secret.", s.peer_auth_failures);
  out += "# HELP dws_records_rejected_total Records refused by the record checks, by reason.\n"
         "# TYPE dws_records_rejected_total counter\n";
  for (int i = 0; i < core::kRejectReasons; ++i)
    out += fmt::format("dws_records_rejected_total{{reason=\"{}\"}} {}\n",
                       core::reason_name(static_cast<core::RejectReason>(i)), rm.rejected[static_cast<std::size_t>(i)]);
  metric(out, "dws_gc_unconfirmed_total", "counter",
         "Records kept by garbage collection because a holder did not confirm.", rm.gc_unconfirmed);
}

void api_metrics(std::string& out, const NodeStats& s) {
  metric(out, "dws_mailbox_waiters", "gauge", "Mailbox requests waiting for a message (long polls).",
         s.mailbox_waiters);
  metric(out, "dws_sessions", "gauge", "Client sessions open on this node (requests MACed instead of signed).",
         s.sessions);
  const Api::LimitCounts& lc = s.limits;
  out += "# HELP dws_limit_refusals_total Requests refused, or long polls ended early, by an abuse limit.\n"
         "# TYPE dws_limit_refusals_total counter\n";
  out += fmt::format("dws_limit_refusals_total{{limit=\"registrations_per_address\"}} {}\n", lc.registrations);
  out += fmt::format("dws_limit_refusals_total{{limit=\"failed_logins\"}} {}\n", lc.failed_logins);
  out += fmt::format("dws_limit_refusals_total{{limit=\"long_polls_per_address\"}} {}\n", lc.polls_per_address);
  out += fmt::format("dws_limit_refusals_total{{limit=\"long_polls_per_node\"}} {}\n", lc.polls_node_full);
  out += fmt::format("dws_limit_refusals_total{{limit=\"long_polls_per_user_preempted\"}} {}\n", lc.polls_preempted);
}

// The transport limits of the HTTP server (DESIGN.md section 12).
void http_metrics(std::string& out, const net::HttpServerStats& h) {
  metric(out, "dws_http_connections_open", "gauge", "HTTP connections open now.", h.connections_open);
  metric(out, "dws_http_connections_accepted_total", "counter", "HTTP connections accepted.",
         h.connections_accepted);
  out += fmt::format(
      "# HELP dws_http_connections_refused_total Connections refused over a cap, by cap.\n"
      "# TYPE dws_http_connections_refused_total counter\n"
      "dws_http_connections_refused_total{{reason=\"per_address\"}} {}\n"
      "dws_http_connections_refused_total{{reason=\"global\"}} {}\n",
      h.refused_per_address, h.refused_global);
  metric(out, "dws_http_requests_total", "counter", "HTTP requests read completely and handled.", h.requests);
  metric(out, "dws_http_header_timeouts_total", "counter",
         "Connections cut off for not sending their headers (or TLS handshake) in time.", h.header_timeouts);
  metric(out, "dws_http_body_timeouts_total", "counter", "Connections cut off for not sending their body in time.",
         h.body_timeouts);
  metric(out, "dws_http_write_timeouts_total", "counter", "Connections closed for not reading their answer in time.",
         h.write_timeouts);
  metric(out, "dws_http_idle_closed_total", "counter", "Keep-alive connections closed after the idle timeout.",
         h.idle_closed);
  metric(out, "dws_http_headers_too_large_total", "counter", "Requests refused with 431 (headers too large).",
         h.headers_too_large);
  metric(out, "dws_http_bodies_too_large_total", "counter", "Requests refused with 413 before reading the body.",
         h.bodies_too_large);
  metric(out, "dws_http_bad_requests_total", "counter",
         "Malformed or chunked requests, and plain HTTP on an HTTPS port.", h.bad_requests);
  metric(out, "dws_http_tls_handshake_failures_total", "counter", "TLS handshakes that failed.",
         h.tls_handshake_failures);
}

}  // namespace

void add_to(core::RingMetrics& a, const core::RingMetrics& b) {
  a.lookups += b.lookups;
  a.lookup_failures += b.lookup_failures;
  for (std::size_t i = 0; i < a.hops_histogram.size(); ++i) a.hops_histogram[i] += b.hops_histogram[i];
  a.stabilize_rounds += b.stabilize_rounds;
  a.peer_call_errors += b.peer_call_errors;
  a.ring_changes += b.ring_changes;
}

void add_to(core::ReplicationMetrics& a, const core::ReplicationMetrics& b) {
  a.puts += b.puts;
  a.quorum_failures += b.quorum_failures;
  a.sync_rounds += b.sync_rounds;
  a.sync_records_moved += b.sync_records_moved;
  a.sync_bytes_moved += b.sync_bytes_moved;
  a.sync_failures += b.sync_failures;
  a.handed_off += b.handed_off;
  a.gc_erased += b.gc_erased;
  a.expired_purged += b.expired_purged;
  a.gc_unconfirmed += b.gc_unconfirmed;
  a.audited += b.audited;
  for (std::size_t i = 0; i < a.rejected.size(); ++i) a.rejected[i] += b.rejected[i];
}

std::string metrics_text(const NodeStats& s) {
  std::string out;
  ring_metrics(out, s);
  store_metrics(out, s);
  api_metrics(out, s);
  http_metrics(out, s.http);
  return out;
}

}  // namespace dws::node
