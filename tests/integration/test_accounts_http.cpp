// Accounts, signed requests and mailboxes over real HTTP and LMDB: three
// dws::Node in one process on loopback, each with its own data directory,
// driven with httplib::Client exactly as the API contract says a client
// talks to them.
#include <doctest/doctest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/account.hpp"
#include "core/auth.hpp"
#include "core/envelope.hpp"
#include "core/id.hpp"
#include "core/validation.hpp"
#include "crypto/encoding.hpp"
#include "crypto/kx.hpp"
#include "dwhatsapp/node.hpp"
#include "net/http_transport.hpp"
#include "net/system_env.hpp"
#include "support/peer_support.hpp"
#include "support/test_support.hpp"

using namespace std::chrono_literals;
using dws::Node;
using dws::NodeOptions;
using dws::test::TempDir;
using dws::test::wait_for;
namespace core = dws::core;
namespace crypto = dws::crypto;

namespace {

constexpr auto kConverge = 60s;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Reply {
  int status = 0;  // 0: no answer
  std::string body;
  std::string retry_after;

  rapidjson::Document json() const {
    rapidjson::Document d;
    d.Parse(body.c_str());
    return d;
  }
};

std::string describe(const Reply& r) { return std::to_string(r.status) + " " + r.body; }

Reply send(const std::string& address, const std::string& method, const std::string& target,
           const std::string& body = "", const std::string& authorization = "") {
  const auto colon = address.rfind(':');
  httplib::Client c(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
  c.set_read_timeout(70, 0);
  c.set_connection_timeout(5, 0);
  httplib::Headers h;
  if (!authorization.empty()) h.emplace("Authorization", authorization);
  auto call = [&]() {
    if (method == "POST") return c.Post(target.c_str(), h, body, "application/json");
    if (method == "PUT") return c.Put(target.c_str(), h, body, "application/json");
    if (method == "DELETE") return c.Delete(target.c_str(), h, body, "application/json");
    return c.Get(target.c_str(), h);
  };
  const httplib::Result res = call();
  Reply r;
  if (!res) return r;
  r.status = res->status;
  r.body = res->body;
  r.retry_after = res->get_header_value("Retry-After");
  return r;
}

// A user as a client holds it: the record and the secret key it seals.
struct User {
  std::string nick;
  std::string password;
  core::Account record;
  crypto::SecretKey sk;
};

User make_user(const std::string& nick, const std::string& password = "correct horse") {
  auto made = core::make_account(nick, password, "Display " + nick, 1, crypto::KdfLimits::minimum());
  REQUIRE_MESSAGE(made.ok(), made.status().to_string());
  return User{nick, password, made->record, made->secret_key};
}

std::string account_json(const core::Account& a) {
  auto b64 = [](const auto& x) { return crypto::to_base64(std::span<const std::uint8_t>(x.data(), x.size())); };
  return "{\"nickname\":\"" + a.nickname + "\",\"public_key\":\"" + b64(a.public_key) + "\",\"salt\":\"" +
         b64(a.salt) + "\",\"opslimit\":" + std::to_string(a.limits.opslimit) +
         ",\"memlimit\":" + std::to_string(a.limits.memlimit) + ",\"auth_hash\":\"" + b64(a.auth_hash) +
         "\",\"sealed_secret\":\"" + b64(a.sealed_secret) + "\",\"display_name\":\"" + a.display_name +
         "\",\"version\":" + std::to_string(a.version) + ",\"signature\":\"" + b64(a.signature) + "\"}";
}

std::string envelope_json(const core::Envelope& e) {
  const core::EnvelopeView v = core::to_view(e);
  return "{\"id\":\"" + v.id + "\",\"from\":\"" + v.from + "\",\"to\":\"" + v.to +
         "\",\"sent_at\":" + std::to_string(v.sent_at) + ",\"kind\":\"" + v.kind + "\",\"nonce\":\"" + v.nonce +
         "\",\"box\":\"" + v.box + "\",\"sig\":\"" + v.sig + "\"}";
}

std::string auth_header(const User& u, const std::string& method, const std::string& target, const std::string& body,
                        std::int64_t ts = now_ms()) {
  auto h = core::make_authorization(u.nick, u.sk, method, target, ts, body);
  REQUIRE_MESSAGE(h.ok(), h.status().to_string());
  return *h;
}

Reply signed_send(const std::string& address, const User& u, const std::string& method, const std::string& target,
                  const std::string& body = "") {
  return send(address, method, target, body, auth_header(u, method, target, body));
}

std::string login_body(const std::string& nick, const crypto::PasswordKeys& keys) {
  return "{\"nickname\":\"" + nick + "\",\"auth_key\":\"" + crypto::to_base64(keys.auth_key.span()) + "\"}";
}

crypto::PasswordKeys keys_for(const User& u, const std::string& password) {
  auto k = core::derive_keys(password, core::kdf_params(u.record));
  REQUIRE_MESSAGE(k.ok(), k.status().to_string());
  return std::move(k).value();
}

class Ids {
 public:
  core::MessageId next() { return gen_.next(); }

 private:
  dws::net::SystemClock clock_;
  dws::net::RandomRng rng_;
  core::MessageIdGenerator gen_{clock_, rng_};
};

core::Envelope seal(const User& from, const User& to, const std::string& text, const core::MessageId& id) {
  auto e = core::seal_envelope(from.sk, from.nick, to.nick, to.record.public_key, core::Kind::kText, text, id,
                               now_ms());
  REQUIRE_MESSAGE(e.ok(), e.status().to_string());
  return std::move(e).value();
}

// Three nodes in one correct ring, each with LMDB in its own directory.
class Ring {
 public:
  explicit Ring(std::uint32_t mailbox_quota = 10000, int count = 3) {
    for (int i = 0; i < count; ++i) {
      NodeOptions o;
      o.listen = "127.0.0.1:0";
      o.data_dir = dir_.sub("n" + std::to_string(i));
      o.stabilize_ms = 100;
      o.sync_ms = 500;
      o.discovery_port = 0;
      o.http_threads = 8;
      o.mailbox_quota = mailbox_quota;
      o.ring_secret_file = dws::test::ring_secret_file();
      o.log_level = std::getenv("DWS_TEST_LOG") ? std::getenv("DWS_TEST_LOG") : "error";
      auto n = i == 0 ? Node::create(o) : Node::join(o, nodes_[0]->address());
      REQUIRE_MESSAGE(n.ok(), n.status().to_string());
      nodes_.push_back(std::move(n).value());
    }
    std::string problem;
    const bool ok = wait_for([&] { return (problem = ring_problem()).empty(); }, kConverge);
    REQUIRE_MESSAGE(ok, "no correct ring within the limit: ", problem);
  }

  std::string address(std::size_t i) const { return nodes_[i]->address(); }
  Node& node(std::size_t i) { return *nodes_[i]; }
  std::size_t size() const { return nodes_.size(); }

  // Index of the node GET /v1/users/{nick}/node names, asked at node `via`.
  std::size_t primary_of(const std::string& nick, std::size_t via = 0) const {
    const Reply r = send(address(via), "GET", "/v1/users/" + nick + "/node");
    REQUIRE_MESSAGE(r.status == 200, describe(r));
    const std::string where = r.json()["address"].GetString();
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i] && nodes_[i]->address() == where) return i;
    FAIL("primary ", where, " of '", nick, "' is not one of the nodes");
    return 0;
  }

  void register_user(const User& u, std::size_t via) {
    const Reply r = send(address(via), "POST", "/v1/users", account_json(u.record));
    REQUIRE_MESSAGE(r.status == 201, "registering ", u.nick, ": ", describe(r));
  }

 private:
  std::string ring_problem() const {
    std::vector<Node*> ring;
    for (const auto& n : nodes_) ring.push_back(n.get());
    std::sort(ring.begin(), ring.end(), [](Node* a, Node* b) { return a->id() < b->id(); });
    const std::size_t n = ring.size();
    for (std::size_t i = 0; i < n; ++i) {
      const dws::RingView v = ring[i]->view();
      if (v.successors.empty() || v.successors[0].id != ring[(i + 1) % n]->id())
        return ring[i]->address() + " has the wrong successor";
      if (!v.predecessor || v.predecessor->id != ring[(i + n - 1) % n]->id())
        return ring[i]->address() + " has the wrong predecessor";
    }
    return "";
  }

  TempDir dir_{"dws-accounts-http"};
  std::vector<std::unique_ptr<Node>> nodes_;
};

std::vector<std::string> listed_ids(const Reply& r) {
  std::vector<std::string> out;
  auto d = r.json();
  REQUIRE_MESSAGE((d.IsObject() && d.HasMember("messages")), describe(r));
  for (const auto& m : d["messages"].GetArray()) out.emplace_back(m["id"].GetString());
  return out;
}

// The owner's signed acknowledgement of entries from `from`, as the client makes it.
std::string ack_body(const User& owner, const std::vector<std::string>& ids, const std::string& from = "alice") {
  std::string b = "{\"acks\":[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string sub = core::mailbox_entry_sub(core::MessageId::parse(ids[i]).value(), from);
    b += std::string(i ? "," : "") + "{\"id\":\"" + ids[i] + "\",\"from\":\"" + from + "\",\"sig\":\"" +
         crypto::to_base64(crypto::sign(owner.sk, core::ack_signing_bytes(owner.nick, sub))) + "\"}";
  }
  return b + "]}";
}

// The owner's signed deletion proof for `version`.
std::string delete_body(const User& owner, std::uint64_t version) {
  return "{\"version\":" + std::to_string(version) + ",\"sig\":\"" +
         crypto::to_base64(crypto::sign(owner.sk, core::deletion_signing_bytes(owner.nick, version))) + "\"}";
}

std::uint64_t metric(Node& n, const std::string& name) {
  const std::string text = n.metrics_text();
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(text.substr(at + name.size() + 2));
}

}  // namespace

TEST_CASE("accounts: register, read the public part, login, and failed logins are rate-limited ring-wide") {
  Ring ring;
  const User alice = make_user("alice");
  const User bob = make_user("bob");
  ring.register_user(alice, 0);
  ring.register_user(bob, 1);

  const User alice2 = make_user("alice", "another password");
  const Reply again = send(ring.address(2), "POST", "/v1/users", account_json(alice2.record));
  CHECK_MESSAGE(again.status == 409, "second registration of alice: ", describe(again));
  CHECK_MESSAGE(again.body.find("taken") != std::string::npos, describe(again));

  for (std::size_t i = 0; i < ring.size(); ++i) {
    const Reply r = send(ring.address(i), "GET", "/v1/users/Alice");
    REQUIRE_MESSAGE(r.status == 200, describe(r));
    CHECK_MESSAGE(r.body.find("auth_hash") == std::string::npos, "GET /v1/users/alice leaks auth_hash: ", r.body);
    CHECK_MESSAGE(r.body.find("sealed_secret") == std::string::npos, "leaks sealed_secret: ", r.body);
    auto d = r.json();
    CHECK(std::string(d["nickname"].GetString()) == "alice");
    CHECK(std::string(d["public_key"].GetString()) == crypto::to_base64(alice.record.public_key));
  }
  const Reply missing = send(ring.address(0), "GET", "/v1/users/nobody");
  CHECK_MESSAGE(missing.status == 404, describe(missing));
  const Reply bad = send(ring.address(0), "GET", "/v1/users/al%20ice");
  CHECK_MESSAGE(bad.status == 400, describe(bad));
  CHECK_MESSAGE(bad.body.find("space") != std::string::npos, "should name the bad character: ", bad.body);

  const Reply kdf = send(ring.address(1), "GET", "/v1/users/alice/kdf");
  REQUIRE_MESSAGE(kdf.status == 200, describe(kdf));
  CHECK(std::string(kdf.json()["salt"].GetString()) == crypto::to_base64(alice.record.salt));
  CHECK(kdf.json()["opslimit"].GetUint64() == alice.record.limits.opslimit);
  CHECK(send(ring.address(1), "GET", "/v1/users/nobody/kdf").status == 404);

  // The right password: the sealed secret opens to alice's key.
  const Reply ok = send(ring.address(2), "POST", "/v1/login", login_body("alice", keys_for(alice, alice.password)));
  REQUIRE_MESSAGE(ok.status == 200, describe(ok));
  auto sealed = crypto::from_base64_fixed<core::kSealedSecretSize>(ok.json()["sealed_secret"].GetString(), "sealed");
  REQUIRE(sealed.ok());
  auto opened = core::open_secret(*sealed, alice.record.public_key, keys_for(alice, alice.password));
  REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
  CHECK(*opened == alice.sk);

  // A wrong password and an unknown nickname look exactly alike.
  const Reply wrong = send(ring.address(0), "POST", "/v1/login", login_body("alice", keys_for(alice, "guess")));
  const Reply unknown = send(ring.address(0), "POST", "/v1/login", login_body("nobody", keys_for(alice, "guess")));
  CHECK_MESSAGE(wrong.status == 401, describe(wrong));
  CHECK_MESSAGE(unknown.status == 401, describe(unknown));
  CHECK_MESSAGE(wrong.body == unknown.body, "wrong password: ", wrong.body, " unknown user: ", unknown.body);

  // Five failures for bob through one node, the sixth attempt is refused,
  // through that node and through another one alike.
  const auto bad_keys = keys_for(bob, "not bob's");
  for (int i = 0; i < 5; ++i) {
    const Reply r = send(ring.address(i % 2), "POST", "/v1/login", login_body("bob", bad_keys));
    CHECK_MESSAGE(r.status == 401, "failure ", i + 1, ": ", describe(r));
  }
  for (std::size_t via = 0; via < ring.size(); ++via) {
    const Reply r = send(ring.address(via), "POST", "/v1/login", login_body("bob", keys_for(bob, bob.password)));
    CHECK_MESSAGE(r.status == 429, "login after 5 failures through node ", via, ": ", describe(r));
    CHECK_MESSAGE(!r.retry_after.empty(), "429 without Retry-After: ", describe(r));
    if (!r.retry_after.empty()) CHECK(std::stoi(r.retry_after) >= 1);
  }
}

TEST_CASE("messages: stored at the recipient's primary, listed in order, acknowledged, long-polled") {
  Ring ring;
  const User alice = make_user("alice");
  const User bob = make_user("bob");
  ring.register_user(alice, 0);
  ring.register_user(bob, 1);
  const std::size_t primary = ring.primary_of("bob");
  const std::size_t other = (primary + 1) % ring.size();
  const std::string at = ring.address(primary);
  Ids ids;

  const core::Envelope first = seal(alice, bob, "hello bob", ids.next());
  const std::string body = envelope_json(first);
  const Reply sent = signed_send(ring.address(other), alice, "POST", "/v1/messages", body);
  REQUIRE_MESSAGE(sent.status == 201, describe(sent));
  CHECK(std::string(sent.json()["id"].GetString()) == first.id.hex());
  CHECK(sent.json()["copies"].GetInt() >= 2);

  Reply list = signed_send(at, bob, "GET", "/v1/mailbox");
  REQUIRE_MESSAGE(list.status == 200, describe(list));
  CHECK(listed_ids(list) == std::vector<std::string>{first.id.hex()});
  {
    auto d = list.json();
    const auto& m = d["messages"][0];
    CHECK(std::string(m["from"].GetString()) == "alice");
    CHECK(std::string(m["box"].GetString()) == core::to_view(first).box);
  }

  const Reply misdirected = signed_send(ring.address(other), bob, "GET", "/v1/mailbox");
  CHECK_MESSAGE(misdirected.status == 421, describe(misdirected));
  {
    auto d = misdirected.json();
    REQUIRE((d.IsObject() && d.HasMember("error") && d["error"].HasMember("primary")));
    CHECK(std::string(d["error"]["primary"].GetString()) == at);
    CHECK(std::string(d["error"]["message"].GetString()).find(at) != std::string::npos);
  }

  const Reply acked = signed_send(at, bob, "POST", "/v1/mailbox/ack", ack_body(bob, {first.id.hex()}));
  REQUIRE_MESSAGE(acked.status == 200, describe(acked));
  CHECK(acked.json()["acked"].GetInt() == 1);
  list = signed_send(at, bob, "GET", "/v1/mailbox");
  CHECK_MESSAGE(listed_ids(list).empty(), "acknowledged message still listed: ", list.body);
  // A retry of an acknowledged envelope does not bring it back.
  CHECK(signed_send(ring.address(other), alice, "POST", "/v1/messages", body).status == 201);
  CHECK(listed_ids(signed_send(at, bob, "GET", "/v1/mailbox")).empty());

  // The same envelope twice: one entry.
  const core::Envelope twice = seal(alice, bob, "once", ids.next());
  CHECK(signed_send(ring.address(other), alice, "POST", "/v1/messages", envelope_json(twice)).status == 201);
  CHECK(signed_send(at, alice, "POST", "/v1/messages", envelope_json(twice)).status == 201);
  list = signed_send(at, bob, "GET", "/v1/mailbox");
  CHECK(listed_ids(list) == std::vector<std::string>{twice.id.hex()});

  // FIFO: several messages list in id (send) order, and pages continue with after.
  std::vector<std::string> sent_ids{twice.id.hex()};
  for (int i = 0; i < 4; ++i) {
    const core::Envelope e = seal(alice, bob, "message " + std::to_string(i), ids.next());
    REQUIRE(signed_send(ring.address(i % 3), alice, "POST", "/v1/messages", envelope_json(e)).status == 201);
    sent_ids.push_back(e.id.hex());
  }
  list = signed_send(at, bob, "GET", "/v1/mailbox");
  CHECK(listed_ids(list) == sent_ids);
  const Reply page = signed_send(at, bob, "GET", "/v1/mailbox?after=" + sent_ids[1] + "&limit=2");
  CHECK(listed_ids(page) == std::vector<std::string>{sent_ids[2], sent_ids[3]});
  CHECK(page.json()["more"].GetBool());
  CHECK(signed_send(at, bob, "POST", "/v1/mailbox/ack", ack_body(bob, sent_ids)).json()["acked"].GetInt() == 5);

  // Long poll: an empty mailbox waits; a message posted meanwhile ends the wait.
  Reply polled;
  std::chrono::steady_clock::time_point returned;
  std::thread poller([&] {
    polled = signed_send(at, bob, "GET", "/v1/mailbox?wait=5");
    returned = std::chrono::steady_clock::now();
  });
  const bool waiting = wait_for([&] { return metric(ring.node(primary), "dws_mailbox_waiters") == 1; }, 10s);
  const core::Envelope late = seal(alice, bob, "are you there?", ids.next());
  const Reply posted = signed_send(ring.address(other), alice, "POST", "/v1/messages", envelope_json(late));
  const auto posted_at = std::chrono::steady_clock::now();
  poller.join();
  CHECK_MESSAGE(waiting, "the long poll never showed up in dws_mailbox_waiters");
  REQUIRE_MESSAGE(posted.status == 201, describe(posted));
  REQUIRE_MESSAGE(polled.status == 200, describe(polled));
  CHECK(listed_ids(polled) == std::vector<std::string>{late.id.hex()});
  MESSAGE("long poll returned ",
          std::chrono::duration_cast<std::chrono::microseconds>(returned - posted_at).count(),
          " us after the POST was answered (negative: before the answer reached the sender)");
  CHECK(metric(ring.node(primary), "dws_mailbox_waiters") == 0);
}

TEST_CASE("security: signatures, timestamps, other users, replays, spoofed senders, size and quota") {
  Ring ring(/*mailbox_quota=*/3);
  const User alice = make_user("alice");
  const User bob = make_user("bob");
  ring.register_user(alice, 0);
  ring.register_user(bob, 2);
  const std::string at = ring.address(ring.primary_of("bob"));
  const std::string any = ring.address(1);
  Ids ids;

  // Bad signature: alice's name, bob's key.
  {
    User forged = alice;
    forged.sk = bob.sk;
    const Reply r = signed_send(any, forged, "GET", "/v1/mailbox");
    CHECK_MESSAGE(r.status == 401, describe(r));
    const Reply none = send(any, "GET", "/v1/mailbox");
    CHECK_MESSAGE(none.status == 401, describe(none));
    const Reply garbage = send(any, "GET", "/v1/mailbox", "", "DWS1 nick=alice, ts=1, sig=AAAA");
    CHECK_MESSAGE(garbage.status == 401, describe(garbage));
  }
  // Timestamps outside +-120 s, both ways.
  for (std::int64_t skew : {-200'000LL, 200'000LL}) {
    const std::string target = "/v1/users/alice";
    const std::string body = account_json(alice.record);
    const Reply r = send(any, "PUT", target, body, auth_header(alice, "PUT", target, body, now_ms() + skew));
    CHECK_MESSAGE(r.status == 401, "skew ", skew, " ms: ", describe(r));
  }
  // Alice acting for bob.
  {
    auto changed = core::change_display_name(bob.record, bob.sk, "hijacked");
    REQUIRE(changed.ok());
    const Reply put = signed_send(any, alice, "PUT", "/v1/users/bob", account_json(*changed));
    CHECK_MESSAGE(put.status == 403, describe(put));
    const Reply del = signed_send(any, alice, "DELETE", "/v1/users/bob", delete_body(alice, 2));
    CHECK_MESSAGE(del.status == 403, describe(del));
    CHECK(send(any, "GET", "/v1/users/bob").status == 200);
  }
  // A signature replayed on another target.
  {
    const std::string header = auth_header(bob, "GET", "/v1/mailbox?limit=1", "");
    CHECK(send(at, "GET", "/v1/mailbox?limit=1", "", header).status == 200);
    const Reply r = send(at, "GET", "/v1/mailbox?limit=2", "", header);
    CHECK_MESSAGE(r.status == 401, describe(r));
    // And a signed body replayed with another body.
    const core::Envelope e = seal(alice, bob, "original", ids.next());
    const core::Envelope other = seal(alice, bob, "substituted", ids.next());
    const std::string h = auth_header(alice, "POST", "/v1/messages", envelope_json(e));
    const Reply swapped = send(any, "POST", "/v1/messages", envelope_json(other), h);
    CHECK_MESSAGE(swapped.status == 401, describe(swapped));
  }
  // Spoofed sender: an envelope claiming alice, made with bob's key.
  {
    User fake_alice = alice;
    fake_alice.sk = bob.sk;
    const core::Envelope spoof = seal(fake_alice, bob, "I am alice", ids.next());
    const Reply as_bob = signed_send(any, bob, "POST", "/v1/messages", envelope_json(spoof));
    CHECK_MESSAGE(as_bob.status == 403, describe(as_bob));
    const Reply as_alice = signed_send(any, alice, "POST", "/v1/messages", envelope_json(spoof));
    CHECK_MESSAGE(as_alice.status == 401, describe(as_alice));
    const core::Envelope to_nobody = seal(alice, make_user("nobody"), "hi", ids.next());
    const Reply nobody = signed_send(any, alice, "POST", "/v1/messages", envelope_json(to_nobody));
    CHECK_MESSAGE(nobody.status == 404, describe(nobody));
  }
  // Over 64 KiB.
  {
    core::Envelope big = seal(alice, bob, "x", ids.next());
    big.box.assign(70 * 1024, 'b');
    const Reply r = signed_send(any, alice, "POST", "/v1/messages", envelope_json(big));
    CHECK_MESSAGE(r.status == 413, describe(r));
  }
  // Quota 3: the fourth live message is refused, a retry of a stored one is not.
  {
    std::vector<core::Envelope> held;
    for (int i = 0; i < 3; ++i) {
      held.push_back(seal(alice, bob, "m" + std::to_string(i), ids.next()));
      const Reply r = signed_send(any, alice, "POST", "/v1/messages", envelope_json(held.back()));
      REQUIRE_MESSAGE(r.status == 201, "message ", i, ": ", describe(r));
    }
    const Reply full = signed_send(any, alice, "POST", "/v1/messages", envelope_json(seal(alice, bob, "m3", ids.next())));
    CHECK_MESSAGE(full.status == 429, describe(full));
    CHECK_MESSAGE(full.body.find("mailbox of 'bob' is full (3 messages)") != std::string::npos, full.body);
    CHECK(signed_send(any, alice, "POST", "/v1/messages", envelope_json(held[0])).status == 201);
    // Reading frees room.
    CHECK(signed_send(at, bob, "POST", "/v1/mailbox/ack", ack_body(bob, {held[0].id.hex()})).status == 200);
    CHECK(signed_send(any, alice, "POST", "/v1/messages", envelope_json(seal(alice, bob, "m4", ids.next()))).status ==
          201);
  }
}

TEST_CASE("accounts: signed updates raise the version, delete removes record and mailbox, the list walks the ring") {
  Ring ring;
  User alice = make_user("alice");
  const User bob = make_user("bob");
  ring.register_user(alice, 0);
  ring.register_user(bob, 1);
  ring.register_user(make_user("anna"), 2);
  const User alan = make_user("alan");
  ring.register_user(alan, 1);

  auto renamed = core::change_display_name(alice.record, alice.sk, "Alice A.");
  REQUIRE(renamed.ok());
  Reply r = signed_send(ring.address(1), alice, "PUT", "/v1/users/alice", account_json(*renamed));
  REQUIRE_MESSAGE(r.status == 200, describe(r));
  CHECK(r.json()["version"].GetUint64() == 2);
  r = send(ring.address(2), "GET", "/v1/users/alice");
  CHECK(std::string(r.json()["display_name"].GetString()) == "Alice A.");
  CHECK(r.json()["version"].GetUint64() == 2);

  auto repassed = core::change_password(*renamed, alice.sk, "new password", crypto::KdfLimits::minimum());
  REQUIRE(repassed.ok());
  r = signed_send(ring.address(2), alice, "PUT", "/v1/users/alice", account_json(*repassed));
  REQUIRE_MESSAGE(r.status == 200, describe(r));
  CHECK(r.json()["version"].GetUint64() == 3);
  User after = alice;
  after.record = *repassed;
  CHECK(send(ring.address(0), "POST", "/v1/login", login_body("alice", keys_for(after, "new password"))).status ==
        200);
  CHECK(send(ring.address(0), "POST", "/v1/login", login_body("alice", keys_for(after, alice.password))).status ==
        401);

  // Version 2 again, below the stored 3.
  auto stale = core::change_display_name(alice.record, alice.sk, "Older");
  REQUIRE(stale.ok());
  r = signed_send(ring.address(0), alice, "PUT", "/v1/users/alice", account_json(*stale));
  CHECK_MESSAGE(r.status == 403, describe(r));

  r = send(ring.address(1), "GET", "/v1/users?prefix=a&limit=10");
  REQUIRE_MESSAGE(r.status == 200, describe(r));
  auto names = [](const Reply& reply) {
    std::vector<std::string> out;
    auto d = reply.json();
    for (const auto& u : d["users"].GetArray()) out.emplace_back(u["nickname"].GetString());
    return out;
  };
  CHECK(names(r) == std::vector<std::string>{"alan", "alice", "anna"});
  CHECK(names(send(ring.address(2), "GET", "/v1/users?prefix=a&limit=2")) == std::vector<std::string>{"alan", "alice"});

  // Delete alan, who has a message waiting.
  Ids ids;
  const core::Envelope e = seal(bob, alan, "bye", ids.next());
  REQUIRE(signed_send(ring.address(0), bob, "POST", "/v1/messages", envelope_json(e)).status == 201);
  // The node cannot acknowledge for alan, so a deleting client drains its
  // mailbox first (dws::Client::delete_account does); what is left expires.
  REQUIRE(signed_send(ring.address(0), alan, "POST", "/v1/mailbox/ack", ack_body(alan, {e.id.hex()}, "bob")).status ==
          200);
  // A deletion proof signed by someone else, or for a version that does not
  // rise, deletes nothing.
  r = signed_send(ring.address(2), alan, "DELETE", "/v1/users/alan", delete_body(bob, 2));
  CHECK_MESSAGE(r.status == 401, describe(r));
  std::uint64_t refused = 0;
  for (std::size_t i = 0; i < ring.size(); ++i)
    refused += metric(ring.node(i), "dws_records_rejected_total{reason=\"bad_signature\"}");
  CHECK_MESSAGE(refused >= 1, "the forged deletion was not counted in dws_records_rejected_total");
  r = signed_send(ring.address(2), alan, "DELETE", "/v1/users/alan", delete_body(alan, 1));
  CHECK_MESSAGE(r.status == 403, describe(r));
  r = signed_send(ring.address(2), alan, "DELETE", "/v1/users/alan", delete_body(alan, 2));
  REQUIRE_MESSAGE(r.status == 200, describe(r));
  CHECK(r.json()["deleted"].GetBool());
  for (std::size_t i = 0; i < ring.size(); ++i) CHECK(send(ring.address(i), "GET", "/v1/users/alan").status == 404);
  CHECK(names(send(ring.address(0), "GET", "/v1/users?prefix=a")) == std::vector<std::string>{"alice", "anna"});
  // Every node's own copy of alan's mailbox is empty.
  dws::net::HttpTransport transport(dws::test::member_transport());
  for (std::size_t i = 0; i < ring.size(); ++i) {
    auto s = transport.call(ring.address(i), core::StoreScanReq{core::user_key("alan"), "m/", "", 100, true},
                            core::Deadline{5000});
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    CHECK_MESSAGE(std::get<core::StoreScanResp>(*s).records.empty(), "node ", i, " still lists alan's mailbox");
  }
  const Reply reuse = send(ring.address(0), "POST", "/v1/users", account_json(make_user("alan").record));
  CHECK_MESSAGE(reuse.status == 409, describe(reuse));
  CHECK_MESSAGE(reuse.body.find("deleted") != std::string::npos, reuse.body);
}

TEST_CASE("messages: stopping the recipient's primary loses no acknowledged message") {
  Ring ring;
  const User alice = make_user("alice");
  const User bob = make_user("bob");
  const std::size_t primary = ring.primary_of("bob");
  const std::size_t entry = (primary + 1) % ring.size();
  ring.register_user(alice, entry);
  ring.register_user(bob, entry);
  Ids ids;
  std::vector<std::string> stored;
  auto post = [&](const std::string& text) {
    const core::Envelope e = seal(alice, bob, text, ids.next());
    Reply r;
    // Posting retries on 503 while the ring settles, as a client does.
    const bool ok = wait_for(
        [&] { return (r = signed_send(ring.address(entry), alice, "POST", "/v1/messages", envelope_json(e))).status ==
                     201; },
        30s);
    REQUIRE_MESSAGE(ok, "posting '", text, "': ", describe(r));
    stored.push_back(e.id.hex());
  };
  for (int i = 0; i < 5; ++i) post("before " + std::to_string(i));
  const std::string old_primary = ring.address(primary);
  ring.node(primary).stop();
  for (int i = 0; i < 5; ++i) post("after " + std::to_string(i));

  std::string now_primary;
  const bool moved = wait_for(
      [&] {
        const Reply r = send(ring.address(entry), "GET", "/v1/users/bob/node");
        if (r.status != 200) return false;
        now_primary = r.json()["address"].GetString();
        return now_primary != old_primary;
      },
      30s);
  REQUIRE_MESSAGE(moved, "bob's primary is still ", now_primary);
  Reply list;
  const bool all = wait_for(
      [&] {
        list = signed_send(now_primary, bob, "GET", "/v1/mailbox");
        return list.status == 200 && listed_ids(list) == stored;
      },
      30s);
  CHECK_MESSAGE(all, "mailbox at the new primary ", now_primary, ": ", describe(list));
}

namespace {

// A session as a client opens it: POST /v1/sessions signed by `u`, the
// X25519 exchange, the MAC key.
struct OpenSession {
  std::string sid;
  crypto::SessionKey key;
};

Reply open_session_at(const std::string& address, const User& u, const crypto::KxKeyPair& kx) {
  return signed_send(address, u, "POST", "/v1/sessions",
                     "{\"client_key\":\"" + crypto::to_base64(kx.public_key) + "\"}");
}

OpenSession open_session(const std::string& address, const User& u) {
  const crypto::KxKeyPair kx = crypto::kx_keypair();
  const Reply r = open_session_at(address, u, kx);
  REQUIRE_MESSAGE(r.status == 201, describe(r));
  auto d = r.json();
  CHECK(d["ttl_s"].GetInt64() > 0);
  auto node_key = crypto::from_base64_fixed<32>(d["node_key"].GetString(), "node_key");
  REQUIRE(node_key.ok());
  return OpenSession{d["session"].GetString(), crypto::kx_client_key(kx, *node_key).value()};
}

Reply mac_send(const std::string& address, const OpenSession& s, const std::string& method, const std::string& target,
               const std::string& body = "") {
  auto h = core::make_session_authorization(s.sid, s.key, method, target, now_ms(), body);
  REQUIRE_MESSAGE(h.ok(), h.status().to_string());
  return send(address, method, target, body, *h);
}

}  // namespace

TEST_CASE("sessions: a MAC stands in for a signature on send, receive and ack only, for its account on its node") {
  Ring ring;
  const User alice = make_user("alice");
  const User bob = make_user("bob");
  ring.register_user(alice, 0);
  ring.register_user(bob, 0);
  const std::size_t primary = ring.primary_of("bob");
  const std::string at = ring.address(primary);
  const std::string elsewhere = ring.address((primary + 1) % ring.size());
  Ids ids;

  // Opening takes a signature; without one, or with a MAC, it is refused.
  CHECK(send(at, "POST", "/v1/sessions", "{\"client_key\":\"x\"}").status == 401);
  const std::uint64_t open_before = metric(ring.node(primary), "dws_sessions");
  const OpenSession alice_s = open_session(at, alice);
  const OpenSession bob_s = open_session(at, bob);
  CHECK(metric(ring.node(primary), "dws_sessions") == open_before + 2);
  const Reply by_mac = mac_send(at, alice_s, "POST", "/v1/sessions", "{}");
  CHECK_MESSAGE(by_mac.status == 401, describe(by_mac));
  const Reply bad_key = signed_send(at, alice, "POST", "/v1/sessions", "{\"client_key\":\"AAAA\"}");
  CHECK_MESSAGE(bad_key.status == 400, describe(bad_key));
  CHECK(bad_key.body.find("client_key") != std::string::npos);

  // Send, receive and acknowledge with MACs only.
  const core::Envelope e = seal(alice, bob, "over a session", ids.next());
  const Reply sent = mac_send(at, alice_s, "POST", "/v1/messages", envelope_json(e));
  REQUIRE_MESSAGE(sent.status == 201, describe(sent));
  Reply list = mac_send(at, bob_s, "GET", "/v1/mailbox?wait=0");
  REQUIRE_MESSAGE(list.status == 200, describe(list));
  CHECK(listed_ids(list) == std::vector<std::string>{e.id.hex()});
  const Reply acked = mac_send(at, bob_s, "POST", "/v1/mailbox/ack", ack_body(bob, {e.id.hex()}));
  REQUIRE_MESSAGE(acked.status == 200, describe(acked));
  CHECK(acked.json()["acked"].GetInt() == 1);
  CHECK(listed_ids(signed_send(at, bob, "GET", "/v1/mailbox")).empty());

  // Alice's session is hers: her MAC reads her mailbox, not bob's; a send
  // under it still needs an envelope signed by its sender.
  const std::string alice_home = ring.address(ring.primary_of("alice"));
  CHECK(listed_ids(mac_send(alice_home, open_session(alice_home, alice), "GET", "/v1/mailbox")).empty());
  const core::Envelope spoofed = seal(bob, alice, "not from alice's key", ids.next());
  core::Envelope as_alice = seal(alice, bob, "x", ids.next());
  as_alice.from = "bob";
  const Reply forged_from = mac_send(at, alice_s, "POST", "/v1/messages", envelope_json(as_alice));
  CHECK_MESSAGE(forged_from.status >= 400, describe(forged_from));
  CHECK(listed_ids(signed_send(at, bob, "GET", "/v1/mailbox")).empty());
  (void)spoofed;

  // Anything else needs a signature, whoever's session it is.
  auto renamed = core::change_display_name(alice.record, alice.sk, "Alice by MAC");
  REQUIRE(renamed.ok());
  const Reply put = mac_send(at, alice_s, "PUT", "/v1/users/alice", account_json(*renamed));
  CHECK_MESSAGE(put.status == 401, describe(put));
  CHECK(put.body.find("needs a signature") != std::string::npos);
  CHECK(send(at, "GET", "/v1/users/alice").json()["version"].GetUint64() == 1);
  CHECK(mac_send(at, alice_s, "GET", "/v1/devices").status == 401);

  // Forgeries: bob's key under alice's id, a flipped MAC, a session another
  // node never opened, a stale timestamp.
  const Reply swapped = mac_send(at, OpenSession{alice_s.sid, bob_s.key}, "GET", "/v1/mailbox");
  CHECK_MESSAGE(swapped.status == 401, describe(swapped));
  CHECK(swapped.body.find("MAC does not verify") != std::string::npos);
  auto h = core::make_session_authorization(alice_s.sid, alice_s.key, "GET", "/v1/mailbox", now_ms(), "");
  std::string flipped = *h;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  CHECK(send(at, "GET", "/v1/mailbox", "", flipped).status == 401);
  const Reply other_node = mac_send(elsewhere, alice_s, "GET", "/v1/mailbox");
  CHECK_MESSAGE(other_node.status == 401, describe(other_node));
  CHECK(other_node.body.find("not open on this node") != std::string::npos);
  auto stale = core::make_session_authorization(alice_s.sid, alice_s.key, "GET", "/v1/mailbox", now_ms() - 200'000, "");
  CHECK(send(at, "GET", "/v1/mailbox", "", *stale).status == 401);

  // Closing: only by its owner; then its MACs are refused.
  CHECK(signed_send(at, bob, "DELETE", "/v1/sessions/" + alice_s.sid).status == 404);
  // (At bob's primary alice's mailbox read is misdirected, 421, which is
  // answered only after the MAC passed.)
  CHECK(mac_send(at, alice_s, "GET", "/v1/mailbox").status != 401);
  CHECK(signed_send(at, alice, "DELETE", "/v1/sessions/" + alice_s.sid).status == 200);
  const Reply closed = mac_send(at, alice_s, "GET", "/v1/mailbox");
  CHECK_MESSAGE(closed.status == 401, describe(closed));
  CHECK(closed.body.find("not open on this node") != std::string::npos);

  // A deleted account's sessions end with it (the name cannot be taken
  // again for 30 days, so no other key can inherit them).
  const OpenSession before = open_session(at, alice);
  CHECK(mac_send(at, before, "GET", "/v1/mailbox").status != 401);
  const Reply deleted = signed_send(at, alice, "DELETE", "/v1/users/alice", delete_body(alice, 2));
  REQUIRE_MESSAGE(deleted.status == 200, describe(deleted));
  const Reply after = mac_send(at, before, "GET", "/v1/mailbox");
  CHECK_MESSAGE(after.status == 401, describe(after));
  CHECK(after.body.find("no longer a user") != std::string::npos);
}
