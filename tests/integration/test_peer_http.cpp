// Peer authentication over real HTTP (docs/design.md, "Peer authentication"):
// an outsider without the ring secret is refused on every peer endpoint and
// changes nothing; a node with the wrong secret, or none, cannot join a
// private ring; an open ring admits anyone and says so; the secret file's
// rules; discovery that members answer only for the secret.
#include <doctest/doctest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/id.hpp"
#include "core/messages.hpp"
#include "dwhatsapp/node.hpp"
#include "net/discovery.hpp"
#include "net/http_server.hpp"
#include "net/http_transport.hpp"
#include "net/json_codec.hpp"
#include "net/peer_auth.hpp"
#include "support/peer_support.hpp"
#include "support/signed_records.hpp"
#include "support/test_support.hpp"

using namespace std::chrono_literals;
using dws::Id;
using dws::Node;
using dws::NodeOptions;
using dws::PeerInfo;
using dws::core::Record;
using dws::test::wait_for;

namespace {

constexpr dws::core::Deadline kDeadline{5000};

NodeOptions test_options() {
  NodeOptions o;
  o.listen = "127.0.0.1:0";
  o.stabilize_ms = 100;
  o.sync_ms = 500;
  o.discovery_port = 0;
  o.http_threads = 4;
  o.ring_secret_file = dws::test::ring_secret_file();
  o.log_level = std::getenv("DWS_TEST_LOG") ? std::getenv("DWS_TEST_LOG") : "error";
  return o;
}

std::unique_ptr<Node> must(dws::Result<std::unique_ptr<Node>> r) {
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return std::move(r).value();
}

// True when the nodes form one settled ring: each one's predecessor is its
// neighbour in id order and its successor list holds all the others in order.
bool one_ring(const std::vector<Node*>& nodes) {
  std::vector<Node*> sorted = nodes;
  std::sort(sorted.begin(), sorted.end(), [](Node* a, Node* b) { return a->id() < b->id(); });
  const std::size_t n = sorted.size();
  for (std::size_t i = 0; i < n; ++i) {
    const dws::RingView v = sorted[i]->view();
    if (v.successors.size() != n - 1) return false;
    for (std::size_t k = 0; k + 1 < n; ++k)
      if (v.successors[k].id != sorted[(i + 1 + k) % n]->id()) return false;
    const Node* prev = sorted[(i + n - 1) % n];
    if (!v.predecessor || v.predecessor->id != prev->id()) return false;
  }
  return true;
}

std::vector<std::unique_ptr<Node>> start_ring(int count, NodeOptions o = test_options()) {
  std::vector<std::unique_ptr<Node>> nodes;
  nodes.push_back(must(Node::create(o)));
  for (int i = 1; i < count; ++i) nodes.push_back(must(Node::join(o, nodes[0]->address())));
  std::vector<Node*> raw;
  for (auto& n : nodes) raw.push_back(n.get());
  REQUIRE_MESSAGE(wait_for([&] { return one_ring(raw); }, 30s), "no ring of ", count, " within 30 s");
  return nodes;
}

httplib::Client client_for(const std::string& address) {
  const auto colon = address.rfind(':');
  httplib::Client c(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
  c.set_url_encode(false);
  return c;
}

std::string write_secret(const dws::test::TempDir& dir, const std::string& name, std::uint8_t fill) {
  const std::string path = dir.sub(name);
  std::ofstream(path, std::ios::binary) << std::string(dws::net::kRingSecretSize, static_cast<char>(fill));
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  return path;
}

// Every peer request an attacker would send: forged notifies and leaves
// naming a node that does not exist, a tombstone over a stored record,
// reads and scans of raw records, an anti-entropy push, a forwarded login.
std::vector<dws::core::Request> attacks(const std::vector<Node*>& ring, const Record& stored) {
  const std::string fake_address = "127.0.0.1:9";
  const PeerInfo fake{dws::core::node_id(fake_address), fake_address};
  const PeerInfo victim{ring[0]->id(), ring[0]->address()};
  Record tomb = stored;
  tomb.version = stored.version + 1000;
  tomb.tombstone = true;
  tomb.payload.clear();
  dws::core::StoreSyncReq push;
  push.phase = dws::core::StoreSyncReq::Phase::kPush;
  push.from = victim;
  push.a = victim.id - 1000;
  push.b = victim.id;
  push.records = {tomb};
  return {
      dws::core::PingReq{},
      dws::core::StateReq{true},
      dws::core::ClosestReq{stored.key, {}},
      dws::core::NotifyReq{fake},
      dws::core::LeaveReq{victim, fake, {fake}},
      dws::core::StorePutReq{tomb, false, true},
      dws::core::StorePutReq{tomb, true, false},
      dws::core::StoreGetReq{stored.key, "", false, true},
      dws::core::StoreGetReq{stored.key, "", true, false},
      dws::core::StoreScanReq{stored.key, "", "", 100, true},
      push,
      dws::core::LoginReq{"alice", std::string(32, 'x'), "127.0.0.1"},
      dws::core::UserListReq{"", 50},
  };
}

}  // namespace

TEST_CASE("peer auth: an outsider gets 401 on every peer endpoint and changes nothing") {
  auto owned = start_ring(3);
  std::vector<Node*> ring;
  for (auto& n : owned) ring.push_back(n.get());
  dws::net::HttpTransport member(dws::test::member_transport());
  // A record the nodes accept (a signed account) for the attacks to aim at.
  const dws::test::SignedUsers users;
  const Record stored = users.record(users.nick_in(ring[1]->id() - (Id{1} << 56), ring[1]->id(), "stored"), 1,
                                     "stored by a member");
  REQUIRE(wait_for([&] { return member.call(ring[2]->address(), dws::core::StorePutReq{stored, false, true}, kDeadline).ok(); },
                   10s));
  std::vector<dws::RingView> before;
  for (Node* n : ring) before.push_back(n->view());

  // Every route of the codec but the public info is covered by an attack.
  std::vector<std::string> covered;
  const auto requests = attacks(ring, stored);
  for (const auto& r : requests) covered.push_back(dws::net::encode_request(r).path);
  for (const auto& route : dws::net::ring_routes()) {
    if (route.path == "/v1/ring/info") continue;
    CHECK_MESSAGE(std::find(covered.begin(), covered.end(), route.path) != covered.end(), "no attack on ", route.path);
  }

  auto stranger = dws::net::PeerAuth::with_secret(std::array<std::uint8_t, dws::net::kRingSecretSize>{9});
  dws::net::HttpTransportOptions as_stranger;
  as_stranger.auth = stranger;
  dws::net::HttpTransport outsider(as_stranger);
  for (Node* n : ring) {
    auto http = client_for(n->address());
    for (const auto& r : requests) {
      const dws::net::WireRequest w = dws::net::encode_request(r);
      const std::string target = w.target();
      // No proof at all.
      auto res = w.method == "POST" ? http.Post(target.c_str(), w.body, "application/json") : http.Get(target.c_str());
      REQUIRE(res);
      CHECK_MESSAGE(res->status == 401, w.method, " ", target, " answered ", res->status, " ", res->body);
      CHECK(res->body.find(R"("code":"unauthenticated")") != std::string::npos);
      CHECK_MESSAGE(res->body.find("stored by a member") == std::string::npos, "leaked through ", target);
      CHECK_MESSAGE(res->body.find("\"record") == std::string::npos, "a record leaked through ", target);
      CHECK_FALSE(res->has_header(std::string(dws::net::kPeerAnswerHeader).c_str()));
      // A proof made with another secret.
      auto wrong = outsider.call(n->address(), r, kDeadline);
      CHECK_MESSAGE(wrong.status().code() == dws::Code::kUnauthenticated, target, ": ", wrong.status().to_string());
      // A member's proof replayed by an eavesdropper, against another body.
      const auto proof = dws::test::ring_auth()->sign(w.method, target, w.body, dws::test::now_ms());
      const httplib::Headers headers{{std::string(dws::net::kPeerProofHeader), proof.header}};
      auto first = w.method == "POST" ? http.Post(target.c_str(), headers, w.body + " ", "application/json")
                                      : http.Get((target + (target.find('?') == std::string::npos ? "?" : "&") + "x=1").c_str(),
                                                 headers);
      REQUIRE(first);
      CHECK_MESSAGE(first->status == 401, "changed request ", target, " answered ", first->status);
    }
  }

  // Nothing changed: the same ring, the record intact on its holders.
  for (std::size_t i = 0; i < ring.size(); ++i) {
    const dws::RingView now = ring[i]->view();
    CHECK(now.predecessor == before[i].predecessor);
    CHECK(now.successors == before[i].successors);
  }
  auto read = member.call(ring[0]->address(), dws::core::StoreGetReq{stored.key, "", false, true}, kDeadline);
  REQUIRE_MESSAGE(read.ok(), read.status().to_string());
  const auto& got = std::get<dws::core::StoreGetResp>(*read).record;
  REQUIRE(got.has_value());
  CHECK(*got == stored);
  CHECK(ring[0]->metrics_text().find("dws_peer_auth_failures_total 0\n") == std::string::npos);

  // The public surface stays public.
  auto http = client_for(ring[0]->address());
  for (const char* path : {"/v1/health", "/v1/ring/nodes", "/metrics", "/v1/ring/info"}) {
    auto res = http.Get(path);
    REQUIRE(res);
    CHECK_MESSAGE(res->status == 200, path, " answered ", res->status);
  }
  CHECK(http.Get("/v1/ring/info")->body.find(R"("open":false)") != std::string::npos);
  // A member's tools walk the ring with the secret; without it they are refused.
  CHECK(dws::walk_ring(ring[0]->address(), 16, dws::test::ring_secret_file()).ok());
  CHECK_FALSE(dws::walk_ring(ring[0]->address(), 16).ok());
}

TEST_CASE("peer auth: a node with the wrong secret, or none, cannot join a private ring") {
  auto owned = start_ring(2);
  dws::test::TempDir dir("dws-peer-wrong");
  NodeOptions wrong = test_options();
  wrong.ring_secret_file = write_secret(dir, "other.secret", 0x42);
  auto refused = Node::join(wrong, owned[0]->address());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == dws::Code::kInvalidArgument);
  CHECK_MESSAGE(refused.status().message().find("does not accept the ring secret") != std::string::npos,
                refused.status().message());

  NodeOptions none = test_options();
  none.ring_secret_file.clear();
  auto without = Node::join(none, owned[0]->address());
  REQUIRE_FALSE(without.ok());
  CHECK(without.status().code() == dws::Code::kInvalidArgument);
  CHECK_MESSAGE(without.status().message().find("--ring-secret") != std::string::npos, without.status().message());

  // Unusable files are named with what is wrong.
  NodeOptions readable = test_options();
  readable.ring_secret_file = write_secret(dir, "readable.secret", 0x42);
  REQUIRE(::chmod(readable.ring_secret_file.c_str(), 0644) == 0);
  auto mode = Node::join(readable, owned[0]->address());
  CHECK(mode.status().code() == dws::Code::kInvalidArgument);
  CHECK_MESSAGE(mode.status().message().find("chmod 600") != std::string::npos, mode.status().message());
  NodeOptions missing = test_options();
  missing.ring_secret_file = dir.sub("absent.secret");
  CHECK_FALSE(Node::join(missing, owned[0]->address()).ok());

  // The ring is as it was: two members.
  auto walk = dws::walk_ring(owned[0]->address(), 16, dws::test::ring_secret_file());
  REQUIRE(walk.ok());
  CHECK(walk->size() == 2);
}

TEST_CASE("peer auth: an open ring admits a joiner without a secret and says it is open") {
  NodeOptions o = test_options();
  o.ring_secret_file.clear();
  o.open_ring = true;
  auto first = must(Node::create(o));
  CHECK(first->info().open_ring);
  auto info = dws::fetch_ring_info(first->address());
  REQUIRE(info.ok());
  CHECK(info->open_ring);
  NodeOptions joiner = test_options();
  joiner.ring_secret_file.clear();
  auto second = must(Node::join(joiner, first->address()));
  CHECK(second->info().open_ring);
  REQUIRE(wait_for([&] { return one_ring({first.get(), second.get()}); }, 30s));
  auto walk = dws::walk_ring(first->address(), 16);
  REQUIRE_MESSAGE(walk.ok(), walk.status().to_string());
  CHECK(walk->size() == 2);

  NodeOptions both = test_options();
  both.open_ring = true;
  CHECK(Node::create(both).status().code() == dws::Code::kInvalidArgument);

  // Anyone may send peer requests to an open ring, but membership still
  // cannot be claimed: a notify naming an address where nobody answers, a
  // leave of a live node and a leave naming a dead successor change nothing.
  const dws::RingView v1 = first->view(), v2 = second->view();
  dws::net::HttpTransport anyone;
  const std::string dead = "127.0.0.1:9";
  const PeerInfo ghost{dws::core::node_id(dead), dead};
  const PeerInfo p1{first->id(), first->address()}, p2{second->id(), second->address()};
  for (const auto& r : std::vector<dws::core::Request>{dws::core::NotifyReq{ghost}, dws::core::LeaveReq{p2, ghost, {ghost}},
                                                       dws::core::LeaveReq{p1, ghost, {ghost}}}) {
    CHECK(anyone.call(first->address(), r, kDeadline).ok());
    CHECK(anyone.call(second->address(), r, kDeadline).ok());
  }
  const dws::core::NotifyReq misnamed{PeerInfo{first->id() - 1, dead}};
  CHECK(anyone.call(first->address(), misnamed, kDeadline).status().code() == dws::Code::kInvalidArgument);
  CHECK(first->view().predecessor == v1.predecessor);
  CHECK(first->view().successors == v1.successors);
  CHECK(second->view().predecessor == v2.predecessor);
  CHECK(second->view().successors == v2.successors);
}

TEST_CASE("peer auth: a new ring keeps its secret in <data>/ring.secret, 0600, and logs how to join") {
  dws::test::TempDir dir("dws-peer-data");
  std::mutex mu;
  std::vector<std::string> lines;
  NodeOptions o = test_options();
  o.ring_secret_file.clear();
  o.data_dir = dir.sub("n0");
  o.log_level = "info";
  o.log = [&](std::string_view line) {
    std::lock_guard lock(mu);
    lines.emplace_back(line);
  };
  const std::string path = dir.sub("n0") + "/ring.secret";
  std::string first_secret;
  {
    auto node = must(Node::create(o));
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(st.st_size == 32);
    std::ifstream f(path, std::ios::binary);
    first_secret.assign(std::istreambuf_iterator<char>(f), {});
    {
      std::lock_guard lock(mu);  // not held below: the node logs from its own threads
      const bool logged = std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
        return l.find("dws-node join --peer " + node->address() + " --ring-secret " + path) != std::string::npos;
      });
      CHECK_MESSAGE(logged, "no log line names the join command");
    }
    // A joiner restarting from a member's data directory finds the secret there.
    NodeOptions member = test_options();
    member.ring_secret_file.clear();
    member.data_dir = dir.sub("n1");
    std::filesystem::create_directories(member.data_dir);
    std::filesystem::copy_file(path, member.data_dir + "/ring.secret");
    auto second = must(Node::join(member, node->address()));
    // A joiner given the file elsewhere keeps a copy in its data directory.
    NodeOptions third_options = test_options();
    third_options.ring_secret_file = path;
    third_options.data_dir = dir.sub("n2");
    auto third = must(Node::join(third_options, node->address()));
    struct stat copied {};
    REQUIRE(::stat((dir.sub("n2") + "/ring.secret").c_str(), &copied) == 0);
    CHECK((copied.st_mode & 0777) == 0600);
    std::ifstream copy(dir.sub("n2") + "/ring.secret", std::ios::binary);
    CHECK(std::string(std::istreambuf_iterator<char>(copy), {}) == first_secret);
    CHECK(wait_for([&] { return one_ring({node.get(), second.get(), third.get()}); }, 30s));
  }
  auto again = must(Node::create(o));
  std::ifstream f(path, std::ios::binary);
  const std::string kept(std::istreambuf_iterator<char>(f), {});
  CHECK(kept == first_secret);
}

TEST_CASE("peer auth: discovery finds members only for the secret, and clients still find servers") {
  asio::io_context io;
  asio::ip::udp::socket probe(io, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0));
  const int port = probe.local_endpoint().port();
  probe.close();
  NodeOptions o = test_options();
  o.discovery_port = port;
  o.ring_name = "peerdisco";
  auto node = must(Node::create(o));

  auto clients = dws::discover("peerdisco", port, 1000, "127.255.255.255");
  REQUIRE_MESSAGE(clients.ok(), clients.status().to_string());
  CHECK(clients->front() == node->address());
  auto members = dws::net::discover_members("peerdisco", port, 1000, "127.255.255.255", *dws::test::ring_auth());
  REQUIRE_MESSAGE(members.ok(), members.status().to_string());
  CHECK(*members == std::vector<std::string>{node->address()});
  auto stranger = dws::net::PeerAuth::with_secret(std::array<std::uint8_t, dws::net::kRingSecretSize>{5});
  auto none = dws::net::discover_members("peerdisco", port, 500, "127.255.255.255", *stranger);
  CHECK(none.status().code() == dws::Code::kUnavailable);

  // A joiner holding another secret finds nobody to join.
  dws::test::TempDir dir("dws-peer-disco");
  NodeOptions wrong = o;
  wrong.ring_secret_file = write_secret(dir, "other.secret", 0x17);
  wrong.discovery_broadcast = "127.255.255.255";
  auto refused = Node::join(wrong, "");
  CHECK(refused.status().code() == dws::Code::kUnavailable);
}

TEST_CASE("peer auth: a member's transport believes only answers that prove the secret") {
  // A server answering pings as a node would: without a proof, with one
  // made under another secret (for the request's own nonce), or as a member.
  enum class Mode { kNone, kForged, kMember };
  Mode mode = Mode::kNone;
  auto stranger = dws::net::PeerAuth::with_secret(std::array<std::uint8_t, dws::net::kRingSecretSize>{6});
  auto same = dws::net::PeerAuth::load(dws::test::ring_secret_file());
  REQUIRE(same.ok());
  std::shared_ptr<dws::net::PeerAuth> member_side = *same;
  std::mutex mu;
  dws::net::HttpServer server;
  std::string address;
  server.route("GET", "/v1/ring/ping", [&](const dws::net::WireRequest& w) {
    dws::net::WireResponse r =
        dws::net::encode_response(dws::core::PingResp{PeerInfo{dws::core::node_id(address), address}});
    std::lock_guard lock(mu);
    const std::string* h = w.header(dws::net::kPeerProofHeader);
    if (mode == Mode::kForged && h != nullptr) {
      const std::string nonce = h->substr(h->find(' ', 3) + 1, 32);  // "v1 <ms> <nonce> <mac>"
      r.headers.emplace_back(std::string(dws::net::kPeerAnswerHeader), stranger->answer(nonce, r.status, r.body));
    } else if (mode == Mode::kMember) {
      std::string nonce;
      if (member_side->check(w.method, w.raw_target, w.body, h, dws::test::now_ms(), &nonce).ok())
        r.headers.emplace_back(std::string(dws::net::kPeerAnswerHeader), member_side->answer(nonce, r.status, r.body));
    }
    return r;
  });
  auto port = server.bind("127.0.0.1", 0);
  REQUIRE(port.ok());
  address = "127.0.0.1:" + std::to_string(*port);
  REQUIRE(server.start().ok());

  dws::net::HttpTransport member(dws::test::member_transport());
  auto unproved = member.call(address, dws::core::PingReq{}, kDeadline);
  CHECK(unproved.status().code() == dws::Code::kUnauthenticated);
  CHECK_MESSAGE(unproved.status().message().find(address) != std::string::npos, unproved.status().message());
  {
    std::lock_guard lock(mu);
    mode = Mode::kForged;
  }
  CHECK(member.call(address, dws::core::PingReq{}, kDeadline).status().code() == dws::Code::kUnauthenticated);
  {
    std::lock_guard lock(mu);
    mode = Mode::kMember;
  }
  auto proved = member.call(address, dws::core::PingReq{}, kDeadline);
  REQUIRE_MESSAGE(proved.ok(), proved.status().to_string());
  CHECK(std::get<dws::core::PingResp>(*proved).self.address == address);
  // An open ring's transport asks for no proof at all.
  dws::net::HttpTransport open;
  CHECK(open.call(address, dws::core::PingReq{}, kDeadline).ok());
  server.stop();
}
