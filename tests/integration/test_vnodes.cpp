// Nodes with several ring positions (NodeOptions::vnodes), in one process on
// loopback ports over real HTTP with real LMDB: the positions form one ring,
// peers reach each position by its "#i" address, every record's copies sit
// on distinct nodes (so a crash costs one copy, never two), and clients
// register, send and receive without knowing positions exist.
#include <doctest/doctest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/id.hpp"
#include "core/messages.hpp"
#include "core/record.hpp"
#include "dwhatsapp/client.hpp"
#include "dwhatsapp/node.hpp"
#include "net/http_transport.hpp"
#include "support/peer_support.hpp"
#include "support/signed_records.hpp"
#include "support/test_support.hpp"

using namespace std::chrono_literals;
using dws::Id;
using dws::Node;
using dws::NodeOptions;
using dws::core::Record;
using dws::test::TempDir;
using dws::test::wait_for;

namespace {

constexpr int kVnodes = 4;
constexpr auto kConverge = 60s;
constexpr dws::core::Deadline kCallDeadline{10'000};

NodeOptions vnode_options(const std::string& data_dir) {
  NodeOptions o;
  o.listen = "127.0.0.1:0";
  o.data_dir = data_dir;
  o.vnodes = kVnodes;
  o.stabilize_ms = 200;
  o.sync_ms = 500;
  o.discovery_port = 0;
  o.http_threads = 8;
  o.ring_secret_file = dws::test::ring_secret_file();
  o.log_level = std::getenv("DWS_TEST_LOG") ? std::getenv("DWS_TEST_LOG") : "warn";
  return o;
}

std::unique_ptr<Node> must(dws::Result<std::unique_ptr<Node>> r) {
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return std::move(r).value();
}

// `count` nodes of kVnodes positions each, the first making the ring.
struct Ring {
  TempDir dir{"dws-vnodes"};
  std::vector<std::unique_ptr<Node>> nodes;

  explicit Ring(int count) {
    for (int i = 0; i < count; ++i) {
      NodeOptions o = vnode_options(dir.sub("node" + std::to_string(i)));
      nodes.push_back(i == 0 ? must(Node::create(o)) : must(Node::join(o, nodes.front()->address())));
    }
  }
  std::vector<std::string> addresses() const {
    std::vector<std::string> out;
    for (const auto& n : nodes)
      if (n) out.push_back(n->address());
    return out;
  }
  // Every position of the live nodes, by ring id.
  std::map<Id, std::string> positions() const {
    std::map<Id, std::string> out;
    for (const auto& a : addresses())
      for (int i = 0; i < kVnodes; ++i) {
        const std::string p = dws::core::position_address(a, i);
        out.emplace(dws::core::node_id(p), p);
      }
    return out;
  }
};

// Empty when walking the ring from `from` visits exactly the expected
// positions in id order and comes back; otherwise what is wrong.
std::string ring_problem(const Ring& ring) {
  const auto want = ring.positions();
  auto walked = dws::walk_ring(ring.addresses().front(), 4 * static_cast<int>(want.size()),
                               dws::test::ring_secret_file());
  if (!walked.ok()) return "walk: " + walked.status().to_string();
  if (walked->size() != want.size())
    return "walked " + std::to_string(walked->size()) + " positions, expected " + std::to_string(want.size());
  std::vector<Id> ids;
  for (const auto& v : *walked) {
    if (!want.count(v.self.id)) return "walked into " + v.self.address + ", not a live position";
    if (want.at(v.self.id) != v.self.address) return v.self.address + " has the id of " + want.at(v.self.id);
    ids.push_back(v.self.id);
  }
  // In ring order: one step down where the ring wraps around, at most.
  int wraps = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) wraps += ids[(i + 1) % ids.size()] < ids[i];
  if (wraps != 1) return "the walk is not in ring order";
  return "";
}

void require_ring(const Ring& ring) {
  std::string problem;
  const bool ok = wait_for([&] { return (problem = ring_problem(ring)).empty(); }, kConverge, 100ms);
  REQUIRE_MESSAGE(ok, "no correct ring of ", ring.positions().size(), " positions; last problem: ", problem);
}

const dws::test::SignedUsers& signed_users() {
  static const dws::test::SignedUsers users;
  return users;
}

dws::Status put_through(dws::net::HttpTransport& transport, const std::string& entry, const Record& record) {
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  for (bool first = true;; first = false) {
    // Client back-off before a retry, not synchronization.
    if (!first) std::this_thread::sleep_for(50ms);
    auto r = transport.call(entry, dws::core::StorePutReq{record, false, true}, kCallDeadline);
    if (r.ok()) return dws::Status::Ok();
    if (r.status().code() != dws::Code::kUnavailable || std::chrono::steady_clock::now() > give_up)
      return r.status();
  }
}

dws::Result<std::optional<Record>> get_through(dws::net::HttpTransport& transport, const std::string& entry, Id key) {
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  for (bool first = true;; first = false) {
    if (!first) std::this_thread::sleep_for(50ms);
    auto r = transport.call(entry, dws::core::StoreGetReq{key, "", false, true}, kCallDeadline);
    if (r.ok()) return std::get<dws::core::StoreGetResp>(*r).record;
    if (r.status().code() != dws::Code::kUnavailable || std::chrono::steady_clock::now() > give_up)
      return r.status();
  }
}

// For each record, how many copies each node holds over all its positions
// (local reads at every "#i" address); empty nodes are left out.
std::vector<std::map<std::string, int>> copies_by_node(dws::net::HttpTransport& transport, const Ring& ring,
                                                       const std::vector<Record>& records) {
  std::vector<std::map<std::string, int>> out(records.size());
  for (const auto& [id, position] : ring.positions())
    for (std::size_t k = 0; k < records.size(); ++k) {
      auto r = transport.call(position, dws::core::StoreGetReq{records[k].key, "", true, false}, kCallDeadline);
      if (r.ok() && std::get<dws::core::StoreGetResp>(*r).record) ++out[k][std::string(dws::core::host_of(position))];
    }
  return out;
}

// Empty when every record has exactly one copy on each of `machines` distinct
// nodes; otherwise the first record that does not, and where its copies are.
std::string placement_problem(dws::net::HttpTransport& transport, const Ring& ring, const std::vector<Record>& records,
                              std::size_t machines) {
  const auto copies = copies_by_node(transport, ring, records);
  for (std::size_t k = 0; k < records.size(); ++k) {
    bool ok = copies[k].size() == machines;
    for (const auto& [node, n] : copies[k]) ok = ok && n == 1;
    if (ok) continue;
    std::ostringstream out;
    out << "record " << dws::core::to_hex(records[k].key) << " has copies at";
    for (const auto& [node, n] : copies[k]) out << " " << node << " x" << n;
    out << ", expected one on each of " << machines << " nodes";
    return out.str();
  }
  return "";
}

TEST_CASE("vnodes: 3 nodes of 4 positions make one ring; each record's 3 copies are on 3 distinct nodes; a crash "
          "loses nothing") {
  Ring ring(3);
  require_ring(ring);
  dws::net::HttpTransport transport(dws::test::member_transport());

  std::vector<Record> records;
  for (int i = 0; i < 150; ++i) records.push_back(signed_users().record("vn" + std::to_string(i)));
  for (const auto& r : records) REQUIRE_MESSAGE(put_through(transport, ring.addresses()[0], r).ok(), "put");

  std::string problem;
  bool placed = wait_for([&] { return (problem = placement_problem(transport, ring, records, 3)).empty(); }, kConverge,
                         200ms);
  REQUIRE_MESSAGE(placed, problem);
  std::uint64_t primaries = 0;
  std::uint64_t all = 0;
  for (const auto& n : ring.nodes) {
    const dws::RecordCounts c = n->record_counts();
    primaries += c.primary;
    all += c.primary + c.replica;
  }
  CHECK(primaries == records.size());
  CHECK(all == 3 * records.size());

  // A crash of one machine takes all four of its positions at once.
  const std::string gone = ring.nodes[1]->address();
  ring.nodes[1]->halt();
  ring.nodes[1].reset();
  for (const auto& r : records) {
    auto got = get_through(transport, ring.addresses()[0], r.key);
    REQUIRE_MESSAGE(got.ok(), "reading ", dws::core::to_hex(r.key), " after ", gone, " crashed: ", got.status().to_string());
    REQUIRE_MESSAGE(got->has_value(), "record ", dws::core::to_hex(r.key), " lost with ", gone);
    CHECK((*got)->payload == r.payload);
  }
  require_ring(ring);
  // Writes go on, and the copies the crash took are made again: one on each
  // of the two machines left.
  for (int i = 0; i < 30; ++i) {
    records.push_back(signed_users().record("after" + std::to_string(i)));
    REQUIRE_MESSAGE(put_through(transport, ring.addresses()[1], records.back()).ok(), "put after the crash");
  }
  placed = wait_for([&] { return (problem = placement_problem(transport, ring, records, 2)).empty(); }, kConverge,
                    200ms);
  CHECK_MESSAGE(placed, problem);
}

TEST_CASE("vnodes: a peer request names its position in the target; an unknown position is refused by name") {
  Ring ring(1);
  dws::net::HttpTransport transport(dws::test::member_transport());
  const std::string node = ring.addresses().front();
  for (int i = 0; i < kVnodes; ++i) {
    auto state = transport.call(dws::core::position_address(node, i), dws::core::StateReq{}, kCallDeadline);
    REQUIRE_MESSAGE(state.ok(), state.status().to_string());
    const auto& view = std::get<dws::core::StateResp>(*state).view;
    CHECK(view.self.address == dws::core::position_address(node, i));
    CHECK(view.self.id == dws::core::node_id(view.self.address));
  }
  auto missing = transport.call(node + "#9", dws::core::PingReq{}, kCallDeadline);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == dws::Code::kNotFound);
  CHECK(missing.status().message().find("no ring position #9") != std::string::npos);
  // Without the ring's proof the position's endpoints refuse, as the first's do.
  dws::net::HttpTransport outsider(dws::net::HttpTransportOptions{});
  auto refused = outsider.call(node + "#2", dws::core::StateReq{}, kCallDeadline);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == dws::Code::kUnauthenticated);
  // One machine: every position's records stay in its own range, no copies.
  REQUIRE(put_through(transport, node, signed_users().record("alone")).ok());
  CHECK(ring.nodes.front()->record_counts() == dws::RecordCounts{1, 0});
}

TEST_CASE("vnodes: clients register, send and receive through nodes of 4 positions and see only node addresses") {
  Ring ring(3);
  require_ring(ring);
  auto client = [&](const std::string& nick) {
    dws::ClientOptions o;
    o.data_dir = ring.dir.sub("client-" + nick);
    o.servers = ring.addresses();
    o.discovery_port = 0;
    o.poll_wait_s = 1;
    o.kdf_opslimit = 1;
    o.kdf_memlimit = 8192;
    auto c = dws::Client::open(o);
    REQUIRE_MESSAGE(c.ok(), c.status().to_string());
    REQUIRE((*c)->register_account(nick, "correct horse battery", nick).ok());
    return std::move(c).value();
  };
  auto alice = client("alice");
  auto bob = client("bob");
  constexpr int kMessages = 20;
  for (int i = 0; i < kMessages; ++i) REQUIRE(alice->send_message("bob", "hello #" + std::to_string(i)).ok());
  std::vector<std::string> got;
  wait_for(
      [&] {
        auto page = bob->receive(1);
        if (page.ok())
          for (const auto& m : *page) got.push_back(m.text);
        return got.size() >= kMessages;
      },
      kConverge);
  REQUIRE(got.size() == kMessages);
  for (int i = 0; i < kMessages; ++i) CHECK(got[static_cast<std::size_t>(i)] == "hello #" + std::to_string(i));

  // What clients are told: node addresses, never a position's "#i".
  for (const auto& address : ring.addresses()) {
    httplib::Client http("http://" + address);
    auto nodes = http.Get("/v1/ring/nodes");
    REQUIRE(nodes);
    CHECK(nodes->status == 200);
    CHECK(nodes->body.find('#') == std::string::npos);
    for (const auto& other : ring.addresses()) CHECK(nodes->body.find(other) != std::string::npos);
    auto where = http.Get("/v1/users/bob/node");
    REQUIRE(where);
    CHECK(where->status == 200);
    CHECK(where->body.find('#') == std::string::npos);
  }
}

}  // namespace
