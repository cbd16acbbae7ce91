// Several dws::Node in one process on loopback ports, over real HTTP: the
// ring forms, repairs after crashes, serves its endpoints, and nodes find
// each other by UDP broadcast on the loopback network.
#include <doctest/doctest.h>
#include <httplib.h>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/id.hpp"
#include "core/ring.hpp"
#include "dwhatsapp/node.hpp"
#include "net/http_server.hpp"
#include "net/http_transport.hpp"
#include "support/peer_support.hpp"
#include "support/test_support.hpp"

using namespace std::chrono_literals;
using dws::Node;
using dws::NodeOptions;
using dws::PeerInfo;
using dws::test::wait_for;

namespace {

constexpr auto kConverge = 30s;

NodeOptions test_options() {
  NodeOptions o;
  o.listen = "127.0.0.1:0";
  o.stabilize_ms = 200;
  o.discovery_port = 0;
  o.http_threads = 4;
  o.ring_secret_file = dws::test::ring_secret_file();
  o.log_level = std::getenv("DWS_TEST_LOG") ? std::getenv("DWS_TEST_LOG") : "warn";
  return o;
}

std::string hex(dws::Id id) { return dws::core::to_hex(id); }

std::string describe(const std::vector<Node*>& nodes) {
  std::ostringstream out;
  for (Node* n : nodes) {
    const dws::RingView v = n->view();
    out << "  " << hex(v.self.id) << " " << v.self.address << " pred="
        << (v.predecessor ? hex(v.predecessor->id) : std::string("none")) << " succ=[";
    for (const auto& s : v.successors) out << hex(s.id) << " ";
    out << "]\n";
  }
  return out.str();
}

// Empty when the live nodes form one correct ring: in id order, each node's
// successor list holds the next min(r, n-1) nodes and its predecessor is the
// node just before it. Otherwise what is wrong.
std::string ring_problem(std::vector<Node*> nodes) {
  std::sort(nodes.begin(), nodes.end(), [](Node* a, Node* b) { return a->id() < b->id(); });
  const std::size_t n = nodes.size();
  for (std::size_t i = 0; i < n; ++i) {
    const dws::RingView v = nodes[i]->view();
    const std::size_t want = std::min<std::size_t>(static_cast<std::size_t>(nodes[i]->info().successor_list), n - 1);
    if (v.successors.size() < want)
      return nodes[i]->address() + " has " + std::to_string(v.successors.size()) + " successors, expected " +
             std::to_string(want);
    for (std::size_t k = 0; k < want; ++k) {
      const Node* expected = nodes[(i + 1 + k) % n];
      if (v.successors[k].id != expected->id())
        return nodes[i]->address() + " successor " + std::to_string(k) + " is " + v.successors[k].address +
               ", expected " + expected->address();
    }
    const Node* pred = nodes[(i + n - 1) % n];
    if (!v.predecessor || v.predecessor->id != pred->id())
      return nodes[i]->address() + " predecessor is " + (v.predecessor ? v.predecessor->address : "none") +
             ", expected " + pred->address();
  }
  return "";
}

void require_ring(const std::vector<Node*>& nodes) {
  std::string problem;
  const bool ok = wait_for([&] { return (problem = ring_problem(nodes)).empty(); }, kConverge);
  REQUIRE_MESSAGE(ok, "no correct ring of ", nodes.size(), " nodes within 30 s; last problem: ", problem, "\n",
                  describe(nodes));
}

// Lookups over HTTP from every node agree with the ring order.
void check_lookups(const std::vector<Node*>& nodes, std::uint64_t seed) {
  std::vector<dws::Id> ids;
  for (Node* n : nodes) ids.push_back(n->id());
  std::sort(ids.begin(), ids.end());
  dws::net::HttpTransport transport(dws::test::member_transport());
  dws::core::SplitMix64 rng(seed);
  for (int i = 0; i < 40; ++i) {
    const dws::Id key = rng.next();
    const auto it = std::lower_bound(ids.begin(), ids.end(), key);
    const dws::Id oracle = it == ids.end() ? ids.front() : *it;
    Node* start = nodes[rng.uniform(nodes.size())];
    auto r = dws::core::lookup_from(transport, start->address(), key);
    REQUIRE_MESSAGE(r.ok(), "lookup of ", hex(key), " from ", start->address(), ": ", r.status().to_string());
    CHECK_MESSAGE(r->node.id == oracle, "lookup of ", hex(key), " from ", start->address(), " found ",
                  hex(r->node.id), ", expected ", hex(oracle));
  }
}

std::unique_ptr<Node> must(dws::Result<std::unique_ptr<Node>> r) {
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return std::move(r).value();
}

int free_udp_port() {
  asio::io_context io;
  asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0));
  return s.local_endpoint().port();
}

}  // namespace

TEST_CASE("integration: 8 nodes form one ring over HTTP and repair it after two crash") {
  std::vector<std::unique_ptr<Node>> owned;
  owned.push_back(must(Node::create(test_options())));
  for (int i = 1; i < 8; ++i) {
    // Join through different members, not always the first.
    const std::string peer = owned[static_cast<std::size_t>(i) / 2]->address();
    owned.push_back(must(Node::join(test_options(), peer)));
  }
  std::vector<Node*> live;
  for (auto& n : owned) live.push_back(n.get());
  require_ring(live);
  check_lookups(live, 1);

  // Walking the ring over HTTP from any node visits all 8 once, in id order.
  auto walk = dws::walk_ring(owned[5]->address(), 4096, dws::test::ring_secret_file());
  REQUIRE_MESSAGE(walk.ok(), walk.status().to_string());
  REQUIRE(walk->size() == 8);
  for (std::size_t i = 0; i + 1 < walk->size(); ++i) {
    const bool in_order = dws::core::between((*walk)[i].self.id, (*walk)[i + 1].self.id, (*walk)[0].self.id) ||
                          (*walk)[i + 1].self.id == (*walk)[0].self.id;
    CHECK_MESSAGE(in_order, "walk step ", i, " goes from ", hex((*walk)[i].self.id), " to ",
                  hex((*walk)[i + 1].self.id));
  }

  // Crash two nodes that are not ring neighbours.
  std::vector<Node*> by_id = live;
  std::sort(by_id.begin(), by_id.end(), [](Node* a, Node* b) { return a->id() < b->id(); });
  Node* crash_a = by_id[1];
  Node* crash_b = by_id[4];
  crash_a->halt();
  crash_b->halt();
  std::vector<Node*> survivors;
  for (Node* n : live)
    if (n != crash_a && n != crash_b) survivors.push_back(n);
  require_ring(survivors);
  check_lookups(survivors, 2);

  auto walk6 = dws::walk_ring(survivors[0]->address(), 4096, dws::test::ring_secret_file());
  REQUIRE(walk6.ok());
  CHECK(walk6->size() == 6);

  const std::string metrics = survivors[0]->metrics_text();
  CHECK(metrics.find("dws_stabilize_rounds_total ") != std::string::npos);
  CHECK(metrics.find("dws_ring_changes_total ") != std::string::npos);
  CHECK(metrics.find("dws_lookup_hops_bucket{le=\"+Inf\"}") != std::string::npos);

  // Graceful stop of the rest, one by one; each leave is told to neighbours.
  for (Node* n : survivors) n->stop();
}

TEST_CASE("integration: a node serves health, nodes and metrics, and answers errors as JSON") {
  auto node = must(Node::create(test_options()));
  const auto colon = node->address().rfind(':');
  httplib::Client cli(node->address().substr(0, colon), std::stoi(node->address().substr(colon + 1)));
  cli.set_tcp_nodelay(true);

  auto health = cli.Get("/v1/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->body == R"({"status":"ok","id":")" + hex(node->id()) + R"(","address":")" + node->address() + "\"}");

  auto nodes = cli.Get("/v1/ring/nodes");
  REQUIRE(nodes);
  CHECK(nodes->body == "[{\"id\":\"" + hex(node->id()) + "\",\"address\":\"" + node->address() + "\"}]");

  auto info = cli.Get("/v1/ring/info");
  REQUIRE(info);
  CHECK(info->body == R"({"ring":"dwhatsapp","id_bits":64,"replicas":3,"successor_list":4,"stabilize_ms":200,"open":false})");

  auto metrics = cli.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->get_header_value("Content-Type").find("text/plain") == 0);
  CHECK(metrics->body.find("dws_ring_size_seen 1\n") != std::string::npos);

  auto missing = cli.Get("/v1/nothing");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->body.find(R"("code":"not_found")") != std::string::npos);

  // Peer endpoints answer members only; a member's malformed request is a 400.
  auto unproved = cli.Get("/v1/ring/closest?key=zz");
  REQUIRE(unproved);
  CHECK(unproved->status == 401);
  CHECK(unproved->body.find(R"("code":"unauthenticated")") != std::string::npos);
  auto auth = dws::test::ring_auth();
  auto proof = [&](const char* method, const char* target, const std::string& body) {
    return httplib::Headers{{std::string(dws::net::kPeerProofHeader), auth->sign(method, target, body, dws::test::now_ms()).header}};
  };
  auto bad = cli.Get("/v1/ring/closest?key=zz", proof("GET", "/v1/ring/closest?key=zz", ""));
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK(bad->body.find("parameter 'key'") != std::string::npos);

  auto garbage = cli.Post("/v1/ring/notify", proof("POST", "/v1/ring/notify", "{\"id\":"), "{\"id\":",
                          "application/json");
  REQUIRE(garbage);
  CHECK(garbage->status == 400);
  CHECK(garbage->body.find("invalid_argument") != std::string::npos);

  auto huge = cli.Post("/v1/ring/notify", std::string(2 << 20, 'x'), "application/json");
  REQUIRE(huge);
  CHECK(huge->status == 413);
  CHECK(huge->body.find(R"("code":"payload_too_large")") != std::string::npos);
}

TEST_CASE("integration: bad options and busy ports are clear errors") {
  auto first = must(Node::create(test_options()));

  NodeOptions busy = test_options();
  busy.listen = first->address();
  auto r = Node::create(busy);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == dws::Code::kUnavailable);
  const std::string port = first->address().substr(first->address().rfind(':') + 1);
  CHECK_MESSAGE(r.status().message().find("port " + port + " is already in use") != std::string::npos,
                r.status().message());

  NodeOptions bad = test_options();
  bad.listen = "127.0.0.1";
  CHECK(Node::create(bad).status().code() == dws::Code::kInvalidArgument);
  bad.listen = "127.0.0.1:0";
  bad.log_level = "loud";
  CHECK(Node::create(bad).status().code() == dws::Code::kInvalidArgument);

  NodeOptions other_ring = test_options();
  other_ring.ring_name = "elsewhere";
  auto conflict = Node::join(other_ring, first->address());
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.status().code() == dws::Code::kInvalidArgument);
  CHECK_MESSAGE(conflict.status().message().find("'elsewhere'") != std::string::npos, conflict.status().message());
  CHECK_MESSAGE(conflict.status().message().find("'dwhatsapp'") != std::string::npos, conflict.status().message());

  NodeOptions more_replicas = test_options();
  more_replicas.replicas = 5;
  more_replicas.successors = 5;
  CHECK(Node::join(more_replicas, first->address()).status().code() == dws::Code::kInvalidArgument);

  // A port nobody listens on: the one `first` held, once it is gone.
  const std::string gone = first->address();
  first->halt();
  auto unreachable = Node::join(test_options(), gone);
  REQUIRE_FALSE(unreachable.ok());
  CHECK(unreachable.status().code() == dws::Code::kUnavailable);
  CHECK_MESSAGE(unreachable.status().message().find(gone) != std::string::npos, unreachable.status().message());
}

TEST_CASE("integration: a node is found by UDP broadcast on loopback and another joins through it") {
  const int port = free_udp_port();
  NodeOptions o = test_options();
  o.discovery_port = port;
  o.ring_name = "disco";
  auto first = must(Node::create(o));

  auto found = dws::discover("disco", port, 1000, "127.255.255.255");
  REQUIRE_MESSAGE(found.ok(), found.status().to_string());
  REQUIRE(found->size() == 1);
  CHECK(found->front() == first->address());

  auto other = dws::discover("not-disco", port, 300, "127.255.255.255");
  CHECK(other.status().code() == dws::Code::kUnavailable);

  // The second node also answers on the same port (SO_REUSEPORT), so a third
  // discovery sees both.
  NodeOptions o2 = test_options();
  o2.discovery_port = port;
  o2.ring_name = "disco";
  o2.discovery_broadcast = "127.255.255.255";
  auto second = must(Node::join(o2, ""));
  CHECK(second->info().ring_name == "disco");
  require_ring({first.get(), second.get()});

  auto both = dws::discover("disco", port, 1000, "127.255.255.255");
  REQUIRE(both.ok());
  CHECK(both->size() == 2);
  CHECK(std::find(both->begin(), both->end(), second->address()) != both->end());
}

TEST_CASE("http server: handler exceptions are 500 JSON, busy ports are named, stop ends kept-alive connections") {
  // An hour of keep-alive: stop() must end idle connections itself rather
  // than wait for them to time out (without that, this test hangs).
  dws::net::HttpServerOptions options;
  options.keep_alive_timeout_s = 3600;
  dws::net::HttpServer server(options);
  server.route("GET", "/boom", [](const dws::net::WireRequest&) -> dws::net::WireResponse {
    throw std::runtime_error("kaboom");
  });
  server.route("GET", "/echo", [](const dws::net::WireRequest& w) {
    dws::net::WireResponse r;
    r.body = std::string("{\"q\":\"") + (w.param("q") ? *w.param("q") : "") + "\"}";
    return r;
  });
  auto port = server.bind("127.0.0.1", 0);
  REQUIRE_MESSAGE(port.ok(), port.status().to_string());
  REQUIRE(*port > 0);
  REQUIRE(server.start().ok());

  dws::net::HttpServer second;
  auto busy = second.bind("127.0.0.1", *port);
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.status().code() == dws::Code::kUnavailable);
  CHECK_MESSAGE(busy.status().message().find("port " + std::to_string(*port) + " is already in use") !=
                    std::string::npos,
                busy.status().message());

  httplib::Client cli("127.0.0.1", *port);
  cli.set_keep_alive(true);
  cli.set_tcp_nodelay(true);
  auto boom = cli.Get("/boom");
  REQUIRE(boom);
  CHECK(boom->status == 500);
  CHECK(boom->body.find(R"("code":"internal")") != std::string::npos);
  CHECK(boom->body.find("kaboom") != std::string::npos);
  auto echo = cli.Get("/echo?q=a%20b");
  REQUIRE(echo);
  CHECK(echo->body == R"({"q":"a b"})");

  // The connection is kept alive; once the server stops, nothing answers on
  // it any more (a stopped node must not linger as a zombie).
  server.stop();
  auto after = cli.Get("/echo?q=late");
  CHECK_MESSAGE(!after, "a stopped server answered HTTP ", after ? after->status : 0);
}
