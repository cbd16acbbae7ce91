// One Ring against a scripted transport: each rule of the protocol in
// isolation. Whole rings under churn are tested in tests/sim.
#include <doctest/doctest.h>

#include <functional>
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/id.hpp"
#include "core/ring.hpp"
#include "support/fake_core.hpp"

using namespace dws;
using namespace dws::core;

namespace {

using dws::test::FakeClock;

// Peers are scripted handlers by address; an address without one is down.
class FakeTransport final : public Transport {
 public:
  using Handler = std::function<Result<Response>(const Request&)>;
  Result<Response> call(const Address& to, const Request& request, Deadline) override {
    sent.emplace_back(to, request);
    if (reentry) reentry();
    auto it = peers.find(to);
    if (it == peers.end()) return Status::Unavailable("fake: " + to + " is down");
    return it->second(request);
  }
  // A peer that answers ping and state from a fixed view, and acks the rest.
  void add_static(const RingView& view) {
    peers[view.self.address] = [view](const Request& r) -> Result<Response> {
      if (std::holds_alternative<PingReq>(r)) return Response{PingResp{view.self}};
      if (std::holds_alternative<StateReq>(r)) return Response{StateResp{view}};
      return Response{Ack{}};
    };
  }
  template <typename T>
  std::vector<T> sent_of(const Address& to) const {
    std::vector<T> out;
    for (const auto& [a, r] : sent)
      if (a == to && std::holds_alternative<T>(r)) out.push_back(std::get<T>(r));
    return out;
  }
  std::map<Address, Handler> peers;
  std::vector<std::pair<Address, Request>> sent;
  std::function<void()> reentry;  // runs inside every call, as a peer calling back would
};

// The tests name their peers by hand (small ids in a readable order); the
// ring is told these names in place of core::node_id, so its rule that an
// id must follow from the address still runs: a PeerInfo made without
// peer() (a forged one) fails it.
std::map<std::string, Id>& names() {
  static std::map<std::string, Id> m;
  return m;
}
PeerInfo peer(Id id, std::string address) {
  names()[address] = id;
  return PeerInfo{id, std::move(address)};
}
Id named_id(const Address& a) {
  auto it = names().find(a);
  return it == names().end() ? node_id(a) : it->second;
}

const PeerInfo kX = peer(1000, "x");  // the node under test
const PeerInfo kS = peer(2000, "s");
const PeerInfo kA = peer(3000, "a");
const PeerInfo kB = peer(4000, "b");
const PeerInfo kC = peer(5000, "c");
const PeerInfo kD = peer(6000, "d");
const PeerInfo kP = peer(500, "p");

RingView view_of(const PeerInfo& self, std::optional<PeerInfo> pred, std::vector<PeerInfo> succ) {
  RingView v;
  v.self = self;
  v.predecessor = std::move(pred);
  v.successors = std::move(succ);
  return v;
}

struct Fixture {
  FakeTransport net;
  FakeClock clock;
  SplitMix64 rng{7};
  RingOptions opts;
  std::unique_ptr<Ring> ring;
  std::vector<RingEvent> events;

  Fixture() {
    opts.successor_list = 4;
    opts.id_of = named_id;
    ring = std::make_unique<Ring>(kX, opts, net, clock, rng);
    ring->set_listener([this](const RingEvent& e) { events.push_back(e); });
  }

  // Joins through "boot", which says S is successor(x); S has `s_view`.
  Status join_via(const RingView& s_view) {
    net.peers["boot"] = [s = s_view.self](const Request& r) -> Result<Response> {
      if (const auto* c = std::get_if<ClosestReq>(&r)) {
        if (c->key != kX.id) return Status::InvalidArgument("unexpected key");
        return Response{ClosestResp{true, s}};
      }
      return Status::InvalidArgument("boot only answers closest");
    };
    net.add_static(s_view);
    // The nodes S lists are alive unless a test says otherwise: a joiner
    // adopts only successors that answer a ping as themselves.
    for (const auto& p : s_view.successors)
      if (p.id != kX.id && !net.peers.count(p.address)) net.add_static(view_of(p, std::nullopt, {}));
    return ring->join("boot");
  }

  ClosestResp closest(Id key, std::vector<Id> exclude = {}) {
    auto r = ring->handle(ClosestReq{key, std::move(exclude)});
    REQUIRE_MESSAGE(r.ok(), "expected an answer for key " << key << ", seen " << r.status().to_string());
    return std::get<ClosestResp>(r.value());
  }

  bool saw(RingEvent::Kind kind, const PeerInfo& p) const {
    for (const auto& e : events)
      if (e.kind == kind && e.peer && *e.peer == p) return true;
    return false;
  }
};

std::vector<Id> ids(const std::vector<PeerInfo>& v) {
  std::vector<Id> out;
  for (const auto& p : v) out.push_back(p.id);
  return out;
}

}  // namespace

TEST_CASE("ring: join adopts the successor and the first r-1 entries of its list") {
  Fixture f;
  REQUIRE(f.join_via(view_of(kS, kP, {kA, kB, kC, kD})).ok());
  CHECK(f.ring->joined());
  CHECK(ids(f.ring->successors()) == std::vector<Id>{2000, 3000, 4000, 5000});
  CHECK_FALSE(f.ring->predecessor().has_value());
  CHECK(f.saw(RingEvent::Kind::kSuccessor, kS));
  // The lookup excluded the joiner itself, so a stale entry for it is skipped.
  const auto asked = f.net.sent_of<ClosestReq>("boot");
  REQUIRE(asked.size() == 1);
  CHECK(asked[0].exclude == std::vector<Id>{kX.id});
}

TEST_CASE("ring: a joiner's list stops where the successor's list comes back to it") {
  Fixture f;
  REQUIRE(f.join_via(view_of(kS, kP, {kA, kX, kP})).ok());
  CHECK(ids(f.ring->successors()) == std::vector<Id>{2000, 3000});
}

TEST_CASE("ring: join fails cleanly when the successor does not answer") {
  Fixture f;
  f.net.peers["boot"] = [](const Request&) -> Result<Response> { return Response{ClosestResp{true, kS}}; };
  const Status s = f.ring->join("boot");
  CHECK(s.code() == Code::kUnavailable);
  CHECK_FALSE(f.ring->joined());
}

TEST_CASE("ring: closest answers the successor list entry responsible for the key") {
  Fixture f;
  REQUIRE(f.join_via(view_of(kS, kP, {kA, kB, kC})).ok());
  auto r = f.closest(1500);
  CHECK(r.done);
  CHECK(r.node == kS);
  CHECK(f.closest(2000).node == kS);  // the successor itself is responsible for its own id
  r = f.closest(3500);
  CHECK(r.done);
  CHECK(r.node == kB);
  // A dead (excluded) successor hands its range to the next one.
  r = f.closest(1500, {kS.id});
  CHECK(r.done);
  CHECK(r.node == kA);
  // Past the list: ask the known node that precedes the key most closely.
  r = f.closest(9000);
  CHECK_FALSE(r.done);
  CHECK(r.node == kC);
  r = f.closest(9000, {kC.id});
  CHECK_FALSE(r.done);
  CHECK(r.node == kB);
  // Every successor up to the key excluded: no answer rather than a wrong one.
  auto none = f.ring->handle(ClosestReq{1500, {kS.id, kA.id, kB.id, kC.id}});
  CHECK(none.status().code() == Code::kUnavailable);
}

TEST_CASE("ring: closest answers self for keys between the predecessor and self, even at the wrap") {
  Fixture f;
  REQUIRE(f.join_via(view_of(kS, kP, {kA, kB, kC})).ok());
  // Without a predecessor a key just before self goes around the ring.
  auto r = f.closest(900);
  CHECK_FALSE(r.done);
  CHECK(r.node == kC);
  f.net.add_static(view_of(kP, std::nullopt, {kX}));
  REQUIRE(f.ring->handle(NotifyReq{kP}).ok());
  REQUIRE(f.ring->predecessor() == kP);
  r = f.closest(900);
  CHECK(r.done);
  CHECK(r.node == kX);
  CHECK(f.closest(1000).node == kX);
  CHECK_FALSE(f.closest(500).done);  // the predecessor's own id is not ours
  CHECK(f.ring->responsible_for(1000));
  CHECK_FALSE(f.ring->responsible_for(500));
  CHECK_FALSE(f.ring->responsible_for(1001));
}

TEST_CASE("ring: a ring of one answers every key with itself") {
  Fixture f;
  f.ring->create();
  for (Id key : {Id{0}, Id{999}, Id{1000}, Id{1001}, ~Id{0}}) {
    auto r = f.closest(key);
    CHECK(r.done);
    CHECK(r.node == kX);
    CHECK(f.ring->responsible_for(key));
  }
}

TEST_CASE("ring: rectify takes a closer predecessor, keeps a live one, replaces a dead one") {
  Fixture f;
  f.ring->create();
  const PeerInfo p1 = peer(500, "p1"), p2 = peer(800, "p2"), p3 = peer(600, "p3");
  f.net.add_static(view_of(p1, std::nullopt, {}));
  f.net.add_static(view_of(p2, std::nullopt, {}));
  f.net.add_static(view_of(p3, std::nullopt, {}));
  REQUIRE(f.ring->handle(NotifyReq{p1}).ok());
  CHECK(f.ring->predecessor() == p1);
  REQUIRE(f.ring->handle(NotifyReq{p2}).ok());  // 800 lies between 500 and 1000
  CHECK(f.ring->predecessor() == p2);
  REQUIRE(f.ring->handle(NotifyReq{p3}).ok());  // 600 does not, and p2 answers
  CHECK(f.ring->predecessor() == p2);
  f.net.peers.erase("p2");
  REQUIRE(f.ring->handle(NotifyReq{p3}).ok());  // p2 no longer answers
  CHECK(f.ring->predecessor() == p3);
  CHECK(f.saw(RingEvent::Kind::kPeerDead, p2));
  CHECK(f.saw(RingEvent::Kind::kPredecessor, p3));
}

TEST_CASE("ring: a predecessor across the zero point is replaced by a closer one") {
  Fixture f;
  f.ring->create();
  const PeerInfo far = peer(~Id{0} - 10, "far"), near = peer(10, "near");
  f.net.add_static(view_of(far, std::nullopt, {}));
  f.net.add_static(view_of(near, std::nullopt, {}));
  REQUIRE(f.ring->handle(NotifyReq{far}).ok());
  REQUIRE(f.ring->handle(NotifyReq{near}).ok());
  CHECK(f.ring->predecessor() == near);
}

TEST_CASE("ring: stabilize adopts the successor's closer predecessor and notifies it") {
  Fixture f;
  const PeerInfo m = peer(1500, "m");
  REQUIRE(f.join_via(view_of(kS, m, {kA, kB, kC})).ok());
  f.net.add_static(view_of(m, peer(900, "q"), {kS, kA, kB, kC}));
  f.ring->stabilize();
  CHECK(ids(f.ring->successors()) == std::vector<Id>{1500, 2000, 3000, 4000});
  CHECK(f.net.sent_of<NotifyReq>("m").size() == 1);
  CHECK(f.net.sent_of<NotifyReq>("s").empty());
  CHECK(f.ring->metrics().stabilize_rounds == 1);
}

TEST_CASE("ring: stabilize declares a dead successor and continues with the next") {
  Fixture f;
  REQUIRE(f.join_via(view_of(kS, kX, {kA, kB, kC})).ok());
  f.net.peers.erase("s");
  f.net.add_static(view_of(kA, kX, {kB, kC, kD}));
  f.net.add_static(view_of(kD, std::nullopt, {}));
  f.ring->stabilize();
  CHECK(ids(f.ring->successors()) == std::vector<Id>{3000, 4000, 5000, 6000});
  CHECK(f.saw(RingEvent::Kind::kPeerDead, kS));
  CHECK(f.saw(RingEvent::Kind::kSuccessor, kA));
  CHECK(f.net.sent_of<NotifyReq>("a").size() == 1);
}

TEST_CASE("ring: a lone node takes its first notifier as successor") {
  Fixture f;
  f.ring->create();
  f.net.add_static(view_of(kS, kX, {kX}));
  REQUIRE(f.ring->handle(NotifyReq{kS}).ok());
  f.ring->stabilize();
  CHECK(ids(f.ring->successors()) == std::vector<Id>{2000});
  CHECK(f.ring->predecessor() == kS);
}

TEST_CASE("ring: a leaving successor is replaced by its successor list") {
  Fixture f;
  REQUIRE(f.join_via(view_of(kS, kX, {kA, kB, kC})).ok());
  f.net.add_static(view_of(kD, std::nullopt, {}));
  f.net.peers.erase("s");  // a leaving node no longer answers as a member
  REQUIRE(f.ring->handle(LeaveReq{kS, kX, {kA, kB, kC, kD}}).ok());
  CHECK(ids(f.ring->successors()) == std::vector<Id>{3000, 4000, 5000, 6000});
  CHECK(f.saw(RingEvent::Kind::kSuccessor, kA));
}

TEST_CASE("ring: a leaving predecessor is replaced by its own predecessor") {
  Fixture f;
  REQUIRE(f.join_via(view_of(kS, kX, {kA, kB, kC})).ok());
  f.net.add_static(view_of(kP, std::nullopt, {kX}));
  REQUIRE(f.ring->handle(NotifyReq{kP}).ok());
  const PeerInfo q = peer(300, "q");
  f.net.add_static(view_of(q, std::nullopt, {kP}));
  f.net.peers.erase("p");
  REQUIRE(f.ring->handle(LeaveReq{kP, q, {kX, kS}}).ok());
  CHECK(f.ring->predecessor() == q);
}

TEST_CASE("ring: a notify naming a node that does not answer, or with an id not its address's, is not adopted") {
  Fixture f;
  f.ring->create();
  const PeerInfo ghost = peer(700, "ghost");  // named right, but nobody answers there
  REQUIRE(f.ring->handle(NotifyReq{ghost}).ok());
  CHECK_FALSE(f.ring->predecessor().has_value());
  CHECK(f.net.sent_of<PingReq>("ghost").size() == 1);
  const PeerInfo forged{900, "p"};  // "p" is 500: a claimed id, not the address's
  f.net.add_static(view_of(forged, std::nullopt, {}));
  const auto refused = f.ring->handle(NotifyReq{forged});
  CHECK(refused.status().code() == Code::kInvalidArgument);
  CHECK_MESSAGE(refused.status().message().find("is not the id of its address 'p'") != std::string::npos,
                refused.status().message());
  CHECK_FALSE(f.ring->predecessor().has_value());
  CHECK(f.net.sent_of<PingReq>("p").empty());  // refused before any call
  // A node answering at the address as someone else is not the named node.
  const PeerInfo liar = peer(800, "liar");
  f.net.peers["liar"] = [](const Request&) -> Result<Response> { return Response{PingResp{kS}}; };
  REQUIRE(f.ring->handle(NotifyReq{liar}).ok());
  CHECK_FALSE(f.ring->predecessor().has_value());
  f.net.add_static(view_of(kP, std::nullopt, {}));
  REQUIRE(f.ring->handle(NotifyReq{kP}).ok());
  CHECK(f.ring->predecessor() == kP);
}

TEST_CASE("ring: a forged leave of a live node, or one naming dead or forged pointers, changes nothing") {
  Fixture f;
  REQUIRE(f.join_via(view_of(kS, kX, {kA, kB, kC})).ok());
  f.net.add_static(view_of(kP, std::nullopt, {kX}));
  REQUIRE(f.ring->handle(NotifyReq{kP}).ok());
  REQUIRE(f.ring->predecessor() == kP);
  const auto before = ids(f.ring->successors());
  // S still answers: it is not leaving, whatever the message says.
  const PeerInfo ghost = peer(2500, "ghost");
  REQUIRE(f.ring->handle(LeaveReq{kS, peer(200, "nobody"), {ghost}}).ok());
  CHECK(ids(f.ring->successors()) == before);
  // P still answers too.
  REQUIRE(f.ring->handle(LeaveReq{kP, peer(200, "nobody"), {kX}}).ok());
  CHECK(f.ring->predecessor() == kP);
  // A leaver named with a forged id is ignored outright.
  CHECK(f.ring->handle(LeaveReq{PeerInfo{2000, "elsewhere"}, std::nullopt, {ghost}}).status().code() ==
        Code::kInvalidArgument);
  CHECK(ids(f.ring->successors()) == before);
  // S really gone: the listed ghost (no answer) and a forged entry are
  // dropped, the live ones kept.
  f.net.peers.erase("s");
  REQUIRE(f.ring->handle(LeaveReq{kS, kX, {ghost, PeerInfo{2600, "a"}, kA, kB}}).ok());
  CHECK(ids(f.ring->successors()) == std::vector<Id>{3000, 4000});
  // P really gone, naming a predecessor that does not answer: none is adopted.
  f.net.peers.erase("p");
  REQUIRE(f.ring->handle(LeaveReq{kP, peer(200, "nobody"), {kX}}).ok());
  CHECK_FALSE(f.ring->predecessor().has_value());
}

TEST_CASE("ring: a successor list naming a node that does not answer, or a forged id, is not adopted") {
  Fixture f;
  const PeerInfo ghost = peer(3500, "ghost2");
  // S's list names a forged entry (id 2500 at a's address) and a dead ghost.
  f.net.peers["ghost2"] = [](const Request&) -> Result<Response> { return Status::Unavailable("down"); };
  REQUIRE(f.join_via(view_of(kS, kX, {PeerInfo{2500, "a"}, ghost, kB})).ok());
  CHECK(ids(f.ring->successors()) == std::vector<Id>{2000, 4000});
  CHECK(f.net.sent_of<PingReq>("a").empty());
  f.net.add_static(view_of(kS, kX, {ghost, kB, kC}));
  f.net.add_static(view_of(kC, std::nullopt, {}));
  f.ring->stabilize();
  CHECK(ids(f.ring->successors()) == std::vector<Id>{2000, 4000, 5000});
  // Lookups do not believe forged nodes either.
  FakeTransport net;
  net.peers["n1"] = [](const Request&) -> Result<Response> { return Response{ClosestResp{true, PeerInfo{1, "t"}}}; };
  CHECK(lookup_from(net, "n1", 8000, 16, {}, named_id).status().code() == Code::kUnavailable);
}

TEST_CASE("ring: leave tells both neighbours what they need, then forgets everything") {
  Fixture f;
  REQUIRE(f.join_via(view_of(kS, kX, {kA, kB, kC})).ok());
  f.net.add_static(view_of(kP, std::nullopt, {kX}));
  REQUIRE(f.ring->handle(NotifyReq{kP}).ok());
  f.ring->leave();
  const auto to_s = f.net.sent_of<LeaveReq>("s");
  const auto to_p = f.net.sent_of<LeaveReq>("p");
  REQUIRE(to_s.size() == 1);
  REQUIRE(to_p.size() == 1);
  CHECK(to_s[0].leaving == kX);
  CHECK(to_s[0].predecessor == kP);
  CHECK(ids(to_p[0].successors) == std::vector<Id>{2000, 3000, 4000, 5000});
  CHECK_FALSE(f.ring->joined());
  CHECK(f.ring->successors().empty());
  CHECK(f.ring->handle(PingReq{}).status().code() == Code::kUnavailable);
}

TEST_CASE("ring: handlers answer ping, state and info") {
  Fixture f;
  f.opts.info.ring_name = "test";
  f.ring = std::make_unique<Ring>(kX, f.opts, f.net, f.clock, f.rng);
  CHECK(f.ring->handle(PingReq{}).status().code() == Code::kUnavailable);  // not in a ring yet
  auto info = f.ring->handle(InfoReq{});
  REQUIRE(info.ok());
  CHECK(std::get<InfoResp>(info.value()).info.ring_name == "test");
  f.ring->create();
  auto ping = f.ring->handle(PingReq{});
  REQUIRE(ping.ok());
  CHECK(std::get<PingResp>(ping.value()).self == kX);
  auto state = f.ring->handle(StateReq{false});
  REQUIRE(state.ok());
  CHECK(std::get<StateResp>(state.value()).view.fingers.empty());
  auto with = f.ring->handle(StateReq{true});
  REQUIRE(with.ok());
  CHECK(std::get<StateResp>(with.value()).view.fingers.size() == 64);
}

TEST_CASE("ring: lookup_from skips a node that does not answer and asks the previous one again") {
  FakeTransport net;
  const PeerInfo n1 = peer(100, "n1"), m1 = peer(5000, "m1"), m2 = peer(4000, "m2"), t = peer(9000, "t");
  net.peers["n1"] = [&](const Request& r) -> Result<Response> {
    const auto& c = std::get<ClosestReq>(r);
    const bool m1_excluded = std::find(c.exclude.begin(), c.exclude.end(), m1.id) != c.exclude.end();
    return Response{ClosestResp{false, m1_excluded ? m2 : m1}};
  };
  net.peers["m2"] = [&](const Request&) -> Result<Response> { return Response{ClosestResp{true, t}}; };
  auto r = lookup_from(net, "n1", 8000, 128, {}, named_id);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  CHECK(r->node == t);
  CHECK(r->hops == 4);  // n1, m1 (down), n1 again, m2
  const auto again = net.sent_of<ClosestReq>("n1");
  REQUIRE(again.size() == 2);
  CHECK(again[1].exclude == std::vector<Id>{m1.id});
}

TEST_CASE("ring: lookup_from refuses answers that do not move closer to the key") {
  FakeTransport net;
  net.peers["n1"] = [](const Request&) -> Result<Response> { return Response{ClosestResp{false, peer(50, "n1")}}; };
  auto r = lookup_from(net, "n1", 8000, 16, {}, named_id);
  CHECK(r.status().code() == Code::kUnavailable);
  CHECK(net.sent.size() <= 16);
}

TEST_CASE("ring: lookup records hops and failures in the metrics") {
  Fixture f;
  REQUIRE(f.join_via(view_of(kS, kX, {kA, kB, kC})).ok());
  auto r = f.ring->lookup(1500);  // answered by the local successor list
  REQUIRE(r.ok());
  CHECK(r->node == kS);
  CHECK(r->hops == 0);
  auto far = f.ring->lookup(9000);  // C must be asked, and C is down
  CHECK_FALSE(far.ok());
  const auto m = f.ring->metrics();
  CHECK(m.lookups == 2);
  CHECK(m.lookup_failures == 1);
  CHECK(m.hops_histogram[0] == 1);
}

TEST_CASE("ring: a dead peer that answers again is probed and merged back (a healed partition)") {
  Fixture f;
  REQUIRE(f.join_via(view_of(kS, kX, {})).ok());
  f.net.peers.erase("s");
  f.ring->stabilize();  // S is declared dead and nobody else is known: alone
  REQUIRE(f.ring->successors().empty());
  REQUIRE(f.saw(RingEvent::Kind::kPeerDead, kS));
  // S's side of the partition comes back: S says it is successor(x + 1).
  f.net.peers["s"] = [](const Request& r) -> Result<Response> {
    if (std::holds_alternative<PingReq>(r)) return Response{PingResp{kS}};
    if (std::holds_alternative<ClosestReq>(r)) return Response{ClosestResp{true, kS}};
    if (std::holds_alternative<StateReq>(r)) return Response{StateResp{view_of(kS, std::nullopt, {kX})}};
    return Response{Ack{}};
  };
  f.clock.now += 1000;
  f.ring->stabilize();
  CHECK(ids(f.ring->successors()) == std::vector<Id>{2000});
}

TEST_CASE("ring: dead peers are forgotten after ten minutes") {
  Fixture f;
  REQUIRE(f.join_via(view_of(kS, kX, {kA})).ok());
  f.net.add_static(view_of(kA, kX, {kB}));
  f.net.peers.erase("s");
  f.ring->stabilize();
  REQUIRE(f.saw(RingEvent::Kind::kPeerDead, kS));
  f.clock.now += 1000;
  f.net.sent.clear();
  f.ring->stabilize();
  CHECK(f.net.sent_of<PingReq>("s").size() == 1);  // still remembered, probed
  f.clock.now += 601'000;
  f.net.sent.clear();
  f.ring->stabilize();
  CHECK(f.net.sent_of<PingReq>("s").empty());
}

TEST_CASE("ring: no lock is held across a transport call (a call can come back)") {
  Fixture f;
  int reentered = 0;
  // Were the ring's mutex held during a call, these would deadlock.
  f.net.reentry = [&] {
    ++reentered;
    (void)f.ring->handle(PingReq{});
    (void)f.ring->handle(ClosestReq{42, {}});
    (void)f.ring->view();
    (void)f.ring->metrics();
  };
  REQUIRE(f.join_via(view_of(kS, peer(1500, "m"), {kA, kB})).ok());
  f.net.add_static(view_of(peer(1500, "m"), kX, {kS, kA, kB}));
  f.net.add_static(view_of(kP, std::nullopt, {kX}));
  REQUIRE(f.ring->handle(NotifyReq{kP}).ok());
  REQUIRE(f.ring->handle(NotifyReq{peer(700, "gone")}).ok());  // pings P
  f.ring->stabilize();
  f.ring->fix_fingers();
  (void)f.ring->lookup(9000);
  f.ring->leave();
  CHECK(reentered > 5);
}
