// The peer protocol's door, with a real ring secret and a fake handler: a
// request without the right proof never reaches the handler and is
// counted; a proved one is answered with a proof of its own; refusals are
// logged once a minute, not once each.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "net/peer_auth.hpp"
#include "node/peer_endpoint.hpp"
#include "support/fake_core.hpp"

namespace dws::node {
namespace {

struct Door {
  test::FakeClock clock;
  std::shared_ptr<net::PeerAuth> auth = net::PeerAuth::random();
  std::vector<std::string> handled;  // paths the handler saw
  std::vector<std::string> warnings;
  PeerEndpoint endpoint{auth, clock,
                        [this](const net::WireRequest& w) {
                          handled.push_back(w.path);
                          net::WireResponse r;
                          r.body = R"({"answer":")" + w.path + "\"}";
                          return r;
                        },
                        [this](const std::string& line) { warnings.push_back(line); }};

  // A request as the server hands it over, proved with `signer` (none: unproved).
  net::WireRequest request(const std::string& method, const std::string& path, const std::string& body,
                           const net::PeerAuth* signer, std::string* nonce = nullptr) {
    net::WireRequest w;
    w.method = method;
    w.path = path;
    w.raw_target = path;
    w.body = body;
    w.remote_address = "127.0.0.9";
    if (signer) {
      auto proof = signer->sign(method, path, body, clock.wall_ms());
      w.headers.emplace_back(std::string(net::kPeerProofHeader), proof.header);
      if (nonce) *nonce = proof.nonce;
    }
    return w;
  }
};

const std::string* answer_header(const net::WireResponse& r) {
  for (const auto& [name, value] : r.headers)
    if (name == net::kPeerAnswerHeader) return &value;
  return nullptr;
}

TEST_CASE("peer endpoint: a proved request reaches the handler and its answer proves the secret") {
  Door d;
  std::string nonce;
  const auto r = d.endpoint.serve(d.request("POST", "/v1/store/put", "{}", d.auth.get(), &nonce));
  CHECK(r.status == 200);
  CHECK(d.handled == std::vector<std::string>{"/v1/store/put"});
  CHECK(d.auth->check_answer(nonce, r.status, r.body, answer_header(r)));
  CHECK(d.endpoint.refused() == 0);
}

TEST_CASE("peer endpoint: no proof, another ring's proof, a replay and a changed body are refused before the handler") {
  Door d;
  const auto other = net::PeerAuth::random();
  CHECK(d.endpoint.serve(d.request("POST", "/v1/store/put", "{}", nullptr)).status == 401);
  CHECK(d.endpoint.serve(d.request("POST", "/v1/store/put", "{}", other.get())).status == 401);
  net::WireRequest once = d.request("POST", "/v1/store/sync", "{}", d.auth.get());
  CHECK(d.endpoint.serve(once).status == 200);
  const auto replay = d.endpoint.serve(once);
  CHECK(replay.status == 401);
  CHECK(answer_header(replay) == nullptr);
  net::WireRequest changed = d.request("POST", "/v1/store/put", "{}", d.auth.get());
  changed.body = R"({"forged":true})";
  CHECK(d.endpoint.serve(changed).status == 401);
  CHECK(d.handled == std::vector<std::string>{"/v1/store/sync"});
  CHECK(d.endpoint.refused() == 4);
}

TEST_CASE("peer endpoint: GET /v1/ring/info is public without a proof, and still answered with a bad one") {
  Door d;
  const auto plain = d.endpoint.serve(d.request("GET", "/v1/ring/info", "", nullptr));
  CHECK(plain.status == 200);
  CHECK(answer_header(plain) == nullptr);
  CHECK(d.endpoint.refused() == 0);
  const auto other = net::PeerAuth::random();
  const auto bad = d.endpoint.serve(d.request("GET", "/v1/ring/info", "", other.get()));
  CHECK(bad.status == 200);
  CHECK(answer_header(bad) == nullptr);  // nothing proved: a joiner learns the secret is wrong
  CHECK(d.endpoint.refused() == 1);
  CHECK(d.handled.size() == 2);
}

TEST_CASE("peer endpoint: refusals are logged once a minute with the running count") {
  Door d;
  for (int i = 0; i < 5; ++i) (void)d.endpoint.serve(d.request("POST", "/v1/ring/notify", "{}", nullptr));
  REQUIRE(d.warnings.size() == 1);
  CHECK(d.warnings[0].find("refused POST /v1/ring/notify from 127.0.0.9") != std::string::npos);
  CHECK(d.warnings[0].find("(1 refused so far)") != std::string::npos);
  d.clock.now += 60'000;
  (void)d.endpoint.serve(d.request("POST", "/v1/ring/notify", "{}", nullptr));
  REQUIRE(d.warnings.size() == 2);
  CHECK(d.warnings[1].find("(6 refused so far)") != std::string::npos);
}

TEST_CASE("log throttle: once per period per source, bounded memory") {
  LogThrottle t(1000, 2);
  CHECK(t.due("a", 0));
  CHECK_FALSE(t.due("a", 999));
  CHECK(t.due("b", 10));
  CHECK(t.due("a", 1000));
  CHECK(t.due("c", 1001));  // the table was full: it starts again
  CHECK(t.due("a", 1002));  // forgotten, so logged early rather than kept
  CHECK_FALSE(t.due("c", 1003));
}

}  // namespace
}  // namespace dws::node
