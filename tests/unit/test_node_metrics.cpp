// The /metrics page from one reading of the counters: every metric once,
// with HELP and TYPE, the values where they belong, the lookup histogram
// cumulative as Prometheus reads it.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>

#include "core/validation.hpp"
#include "node/metrics.hpp"

namespace dws::node {
namespace {

// sample name (with labels) -> value, and the metric names with a TYPE line.
struct Page {
  std::map<std::string, std::string> samples;
  std::set<std::string> typed;
  std::set<std::string> helped;
};

Page parse(const std::string& text) {
  Page p;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    REQUIRE_FALSE(line.empty());
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      CHECK_MESSAGE(p.typed.insert(name).second, "TYPE twice for ", name);
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) {
      p.helped.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    const auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    CHECK_MESSAGE(p.samples.emplace(line.substr(0, space), line.substr(space + 1)).second, "sample twice: ", line);
  }
  return p;
}

NodeStats reading() {
  NodeStats s;
  s.self = PeerInfo{0x0123456789abcdefULL, "127.0.0.1:7001"};
  s.ring_name = "lab";
  s.ring_size_seen = 5;
  s.ring.lookups = 10;
  s.ring.hops_histogram[0] = 2;
  s.ring.hops_histogram[1] = 3;
  s.ring.hops_histogram[15] = 1;  // 15 or more
  s.replication.puts = 77;
  s.replication.rejected[1] = 4;
  s.held = RecordCounts{100, 200};
  s.peer_auth_failures = 9;
  s.mailbox_waiters = 3;
  s.sessions = 8;
  s.limits.polls_node_full = 6;
  s.http.requests = 1234;
  s.http.refused_global = 2;
  return s;
}

TEST_CASE("node metrics: every sample belongs to a metric with HELP and TYPE, each once") {
  const Page p = parse(metrics_text(reading()));
  CHECK(p.typed == p.helped);
  CHECK(p.typed.size() >= 35);  // what the page had when this test was written
  for (const auto& [sample, value] : p.samples) {
    std::string name = sample.substr(0, sample.find('{'));
    for (const char* suffix : {"_bucket", "_sum", "_count"})
      if (!p.typed.count(name) && name.size() > std::string(suffix).size() &&
          name.compare(name.size() - std::string(suffix).size(), std::string::npos, suffix) == 0)
        name.erase(name.size() - std::string(suffix).size());
    CHECK_MESSAGE(p.typed.count(name) == 1, "no TYPE for ", sample);
  }
}

TEST_CASE("node metrics: the values read are the values shown") {
  const Page p = parse(metrics_text(reading()));
  auto at = [&](const std::string& sample) {
    auto it = p.samples.find(sample);
    return it == p.samples.end() ? std::string("missing") : it->second;
  };
  CHECK(at("dws_node_info{id=\"0123456789abcdef\",address=\"127.0.0.1:7001\",ring=\"lab\"}") == "1");
  CHECK(at("dws_ring_size_seen") == "5");
  CHECK(at("dws_lookups_total") == "10");
  CHECK(at("dws_store_puts_total") == "77");
  CHECK(at("dws_records_primary") == "100");
  CHECK(at("dws_records_replica") == "200");
  CHECK(at("dws_peer_auth_failures_total") == "9");
  CHECK(at("dws_mailbox_waiters") == "3");
  CHECK(at("dws_sessions") == "8");
  CHECK(at("dws_limit_refusals_total{limit=\"long_polls_per_node\"}") == "6");
  CHECK(at("dws_limit_refusals_total{limit=\"failed_logins\"}") == "0");
  CHECK(at("dws_http_requests_total") == "1234");
  CHECK(at("dws_http_connections_refused_total{reason=\"global\"}") == "2");
  CHECK(at("dws_records_rejected_total{reason=\"" + std::string(core::reason_name(static_cast<core::RejectReason>(1))) +
           "\"}") == "4");
}

TEST_CASE("node metrics: the lookup histogram is cumulative, the last bucket +Inf") {
  const Page p = parse(metrics_text(reading()));
  CHECK(p.samples.at("dws_lookup_hops_bucket{le=\"0\"}") == "2");
  CHECK(p.samples.at("dws_lookup_hops_bucket{le=\"1\"}") == "5");
  CHECK(p.samples.at("dws_lookup_hops_bucket{le=\"14\"}") == "5");
  CHECK(p.samples.count("dws_lookup_hops_bucket{le=\"15\"}") == 0);
  CHECK(p.samples.at("dws_lookup_hops_bucket{le=\"+Inf\"}") == "6");
  CHECK(p.samples.at("dws_lookup_hops_count") == "6");
  CHECK(p.samples.at("dws_lookup_hops_sum") == "18");  // 0*2 + 1*3 + 15*1
}

}  // namespace
}  // namespace dws::node
