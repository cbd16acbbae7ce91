// The user API's abuse limits (DESIGN.md section 12) over real HTTP, with
// clients at several loopback source addresses (127.0.0.x): registrations
// per address, failed logins per (nickname, address), long polls per
// account and per address. Judged by effects: who can still register, log
// in and read their mailbox.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/account.hpp"
#include "core/auth.hpp"
#include "core/envelope.hpp"
#include "crypto/encoding.hpp"
#include "dwhatsapp/node.hpp"
#include "net/system_env.hpp"
#include "support/raw_http.hpp"
#include "support/test_support.hpp"

using namespace std::chrono_literals;
using dws::test::raw_request;
using dws::test::RawReply;
namespace core = dws::core;
namespace crypto = dws::crypto;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string describe(const RawReply& r) {
  return r.status ? std::to_string(r.status) + " " + r.body : "no answer: " + r.error;
}

struct User {
  std::string nick;
  core::Account record;
  crypto::SecretKey sk;
};

constexpr const char* kPassword = "limits password";

User make_user(const std::string& nick) {
  auto made = core::make_account(nick, kPassword, "", 1, crypto::KdfLimits::minimum());
  REQUIRE_MESSAGE(made.ok(), made.status().to_string());
  return User{nick, made->record, made->secret_key};
}

std::string account_json(const core::Account& a) {
  auto b64 = [](const auto& x) { return crypto::to_base64(std::span<const std::uint8_t>(x.data(), x.size())); };
  return "{\"nickname\":\"" + a.nickname + "\",\"public_key\":\"" + b64(a.public_key) + "\",\"salt\":\"" +
         b64(a.salt) + "\",\"opslimit\":" + std::to_string(a.limits.opslimit) +
         ",\"memlimit\":" + std::to_string(a.limits.memlimit) + ",\"auth_hash\":\"" + b64(a.auth_hash) +
         "\",\"sealed_secret\":\"" + b64(a.sealed_secret) + "\",\"display_name\":\"\",\"version\":" +
         std::to_string(a.version) + ",\"signature\":\"" + b64(a.signature) + "\"}";
}

std::string login_body(const User& u, const std::string& password) {
  auto k = core::derive_keys(password, core::kdf_params(u.record));
  REQUIRE_MESSAGE(k.ok(), k.status().to_string());
  return "{\"nickname\":\"" + u.nick + "\",\"auth_key\":\"" + crypto::to_base64(k->auth_key.span()) + "\"}";
}

RawReply signed_request(const std::string& source, const std::string& address, const User& u,
                        const std::string& method, const std::string& target, const std::string& body = "") {
  auto h = core::make_authorization(u.nick, u.sk, method, target, now_ms(), body);
  REQUIRE_MESSAGE(h.ok(), h.status().to_string());
  return raw_request(source, address, method, target, body, {{"Authorization", *h}});
}

std::uint64_t refusals(const dws::Node& n, const std::string& limit) {
  const std::string text = n.metrics_text();
  const std::string name = "dws_limit_refusals_total{limit=\"" + limit + "\"} ";
  const auto at = text.find(name);
  REQUIRE_MESSAGE(at != std::string::npos, "no metric ", name);
  return std::strtoull(text.c_str() + at + name.size(), nullptr, 10);
}

// One node is a whole ring: limits are per entry node.
std::unique_ptr<dws::Node> start_node(std::size_t max_long_polls = dws::NodeOptions{}.max_long_polls) {
  dws::NodeOptions o;
  o.max_long_polls = max_long_polls;
  o.listen = "127.0.0.1:0";
  o.stabilize_ms = 100;
  o.discovery_port = 0;
  o.registration_burst = 5;
  o.registrations_per_hour = 60;
  o.log_level = std::getenv("DWS_TEST_LOG") ? std::getenv("DWS_TEST_LOG") : "error";
  auto n = dws::Node::create(o);
  REQUIRE_MESSAGE(n.ok(), n.status().to_string());
  return std::move(n).value();
}

std::uint64_t waiters(const dws::Node& n) {
  const std::string text = n.metrics_text();
  const auto at = text.find("\ndws_mailbox_waiters ");
  REQUIRE_MESSAGE(at != std::string::npos, "no metric dws_mailbox_waiters");
  return std::strtoull(text.c_str() + at + 21, nullptr, 10);
}

std::string envelope_body(const User& from, const User& to, const std::string& text, std::string* id = nullptr) {
  dws::net::SystemClock clock;
  dws::net::RandomRng rng;
  core::MessageIdGenerator ids(clock, rng);
  auto env = core::seal_envelope(from.sk, from.nick, to.nick, to.record.public_key, core::Kind::kText, text,
                                 ids.next(), now_ms());
  REQUIRE(env.ok());
  const core::EnvelopeView v = core::to_view(*env);
  if (id) *id = v.id;
  return "{\"id\":\"" + v.id + "\",\"from\":\"" + v.from + "\",\"to\":\"" + v.to +
         "\",\"sent_at\":" + std::to_string(v.sent_at) + ",\"kind\":\"" + v.kind + "\",\"nonce\":\"" + v.nonce +
         "\",\"box\":\"" + v.box + "\",\"sig\":\"" + v.sig + "\"}";
}

}  // namespace

TEST_CASE("long poll: a message wakes its recipient's poll only, and a poll without wait answers at once") {
  auto node = start_node();
  const std::string at = node->address();
  const User alice = make_user("alice"), bob = make_user("bob"), carol = make_user("carol");
  for (const User* u : {&alice, &bob, &carol})
    REQUIRE(raw_request("127.0.0.1", at, "POST", "/v1/users", account_json(u->record)).status == 201);
  const RawReply empty = signed_request("127.0.0.1", at, alice, "GET", "/v1/mailbox?wait=0");
  REQUIRE_MESSAGE(empty.status == 200, describe(empty));
  CHECK(empty.body == R"({"messages":[],"more":false,"devices":0})");

  RawReply for_alice, for_bob;
  std::thread a([&] { for_alice = signed_request("127.0.0.1", at, alice, "GET", "/v1/mailbox?wait=30"); });
  std::thread b([&] { for_bob = signed_request("127.0.0.1", at, bob, "GET", "/v1/mailbox?wait=30"); });
  REQUIRE(dws::test::wait_for([&] { return waiters(*node) == 2; }, 20s));
  std::string id;
  const auto sent_at = std::chrono::steady_clock::now();
  const RawReply sent = signed_request("127.0.0.1", at, carol, "POST", "/v1/messages", envelope_body(carol, alice, "hi", &id));
  REQUIRE_MESSAGE(sent.status == 201, describe(sent));
  a.join();
  CHECK(std::chrono::steady_clock::now() - sent_at < 5s);
  CHECK_MESSAGE(for_alice.status == 200, describe(for_alice));
  CHECK(for_alice.body.find(id) != std::string::npos);
  CHECK(waiters(*node) == 1);  // bob still waits
  const RawReply now = signed_request("127.0.0.1", at, alice, "GET", "/v1/mailbox?wait=0");
  CHECK(now.body == for_alice.body);  // the long poll answered what a poll lists
  // Stopping answers bob's poll (the node has left its ring by then, so
  // with a 503 saying so) instead of leaving it to time out.
  const auto stopped_at = std::chrono::steady_clock::now();
  node->stop();
  b.join();
  CHECK(std::chrono::steady_clock::now() - stopped_at < 10s);
  CHECK_MESSAGE((for_bob.status == 200 || for_bob.status == 503), describe(for_bob));
}

TEST_CASE("long poll: the wait ends with the empty page, and a client gone while waiting is no longer counted") {
  auto node = start_node();
  const std::string at = node->address();
  const User alice = make_user("alice");
  REQUIRE(raw_request("127.0.0.1", at, "POST", "/v1/users", account_json(alice.record)).status == 201);
  const auto start = std::chrono::steady_clock::now();
  const RawReply ended = signed_request("127.0.0.1", at, alice, "GET", "/v1/mailbox?wait=1");
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK_MESSAGE(ended.status == 200, describe(ended));
  CHECK(ended.body == R"({"messages":[],"more":false,"devices":0})");
  CHECK(took >= 1s);
  CHECK(took < 3s);
  CHECK(waiters(*node) == 0);

  // The client gives up after 300 ms and closes: the node drops its waiter
  // then, not at the end of the wait.
  const RawReply gave_up = [&] {
    auto h = core::make_authorization(alice.nick, alice.sk, "GET", "/v1/mailbox?wait=60", now_ms(), "");
    REQUIRE(h.ok());
    return raw_request("127.0.0.1", at, "GET", "/v1/mailbox?wait=60", "", {{"Authorization", *h}}, 300);
  }();
  CHECK(gave_up.status == 0);
  CHECK(dws::test::wait_for([&] { return waiters(*node) == 0; }, 5s));
}

TEST_CASE("limits: long polls over the node's cap get a 503 naming it, and a poll without wait is still served") {
  auto node = start_node(3);
  const std::string at = node->address();
  std::vector<User> users;
  for (int i = 0; i < 4; ++i) {
    users.push_back(make_user("capped" + std::to_string(i)));
    REQUIRE(raw_request("127.0.0.1", at, "POST", "/v1/users", account_json(users.back().record)).status == 201);
  }
  std::vector<std::thread> polls;
  std::vector<RawReply> replies(3);
  for (int i = 0; i < 3; ++i)
    polls.emplace_back([&, i] { replies[i] = signed_request("127.0.0.1", at, users[i], "GET", "/v1/mailbox?wait=30"); });
  REQUIRE(dws::test::wait_for([&] { return waiters(*node) == 3; }, 20s));
  const RawReply over = signed_request("127.0.0.1", at, users[3], "GET", "/v1/mailbox?wait=30");
  CHECK_MESSAGE(over.status == 503, describe(over));
  CHECK(over.body.find("this node already holds 3 waiting mailbox requests, its limit") != std::string::npos);
  CHECK(signed_request("127.0.0.1", at, users[3], "GET", "/v1/mailbox").status == 200);
  CHECK(refusals(*node, "long_polls_per_node") == 1);
  node->stop();
  for (auto& t : polls) t.join();
  for (const auto& r : replies) CHECK_MESSAGE((r.status == 200 || r.status == 503), describe(r));
}

TEST_CASE("limits: registrations are limited per source address, and another address still registers") {
  auto node = start_node();
  const std::string at = node->address();
  for (int i = 0; i < 5; ++i) {
    const User u = make_user("burst" + std::to_string(i));
    const RawReply r = raw_request("127.0.0.2", at, "POST", "/v1/users", account_json(u.record));
    REQUIRE_MESSAGE(r.status == 201, describe(r));
  }
  const User late = make_user("late");
  const RawReply refused = raw_request("127.0.0.2", at, "POST", "/v1/users", account_json(late.record));
  CHECK_MESSAGE(refused.status == 429, describe(refused));
  CHECK(refused.body.find("too many registrations from 127.0.0.2") != std::string::npos);
  CHECK(std::atoi(refused.header("Retry-After").c_str()) >= 1);
  // Nothing was stored for the refused one: the nickname is still free.
  CHECK(raw_request("127.0.0.1", at, "GET", "/v1/users/late").status == 404);
  const RawReply other = raw_request("127.0.0.3", at, "POST", "/v1/users", account_json(late.record));
  CHECK_MESSAGE(other.status == 201, describe(other));
  CHECK(refusals(*node, "registrations_per_address") == 1);
}

TEST_CASE("limits: guessing a password from one address neither locks the owner out nor goes on unslowed") {
  auto node = start_node();
  const std::string at = node->address();
  const User alice = make_user("alice");
  REQUIRE(raw_request("127.0.0.1", at, "POST", "/v1/users", account_json(alice.record)).status == 201);
  const std::string wrong = login_body(alice, "not her password");
  int refused = 0;
  for (int i = 0; i < 12; ++i) {
    const RawReply r = raw_request("127.0.0.66", at, "POST", "/v1/login", wrong);
    REQUIRE_MESSAGE((r.status == 401 || r.status == 429), describe(r));
    if (r.status == 429) {
      ++refused;
      CHECK(std::atoi(r.header("Retry-After").c_str()) >= 1);
    }
  }
  CHECK_MESSAGE(refused >= 6, "only ", refused, " of 12 guesses were refused");
  // Even the right password waits at the guesser's address...
  CHECK(raw_request("127.0.0.66", at, "POST", "/v1/login", login_body(alice, kPassword)).status == 429);
  // ...while the owner, elsewhere, logs in and gets the sealed secret.
  const RawReply mine = raw_request("127.0.0.1", at, "POST", "/v1/login", login_body(alice, kPassword));
  REQUIRE_MESSAGE(mine.status == 200, describe(mine));
  CHECK(mine.body.find("sealed_secret") != std::string::npos);
  CHECK(refusals(*node, "failed_logins") >= 7);
}

TEST_CASE("limits: holding many long polls of an account does not lock its owner out of the mailbox") {
  auto node = start_node();
  const std::string at = node->address();
  const User alice = make_user("alice");
  const User bob = make_user("bob");
  REQUIRE(raw_request("127.0.0.1", at, "POST", "/v1/users", account_json(alice.record)).status == 201);
  REQUIRE(raw_request("127.0.0.1", at, "POST", "/v1/users", account_json(bob.record)).status == 201);

  // Someone holding alice's signed requests keeps 8 long polls open.
  std::atomic<int> hog_done{0};
  std::vector<std::thread> hogs;
  for (int i = 0; i < 8; ++i)
    hogs.emplace_back([&] {
      signed_request("127.0.0.7", at, alice, "GET", "/v1/mailbox?wait=30");
      ++hog_done;
    });
  // Wait until the node holds them (at most 4 at a time for one account).
  REQUIRE(dws::test::wait_for([&] { return refusals(*node, "long_polls_per_user_preempted") >= 4; }, 20s));

  // The owner's own long poll is served and sees a message sent meanwhile.
  RawReply owner;
  std::thread reader([&] { owner = signed_request("127.0.0.1", at, alice, "GET", "/v1/mailbox?wait=30"); });
  REQUIRE(dws::test::wait_for([&] { return node->metrics_text().find("dws_mailbox_waiters 4") != std::string::npos; },
                              20s));
  dws::net::SystemClock clock;
  dws::net::RandomRng rng;
  core::MessageIdGenerator ids(clock, rng);
  auto env = core::seal_envelope(bob.sk, "bob", "alice", alice.record.public_key, core::Kind::kText, "hi alice",
                                 ids.next(), now_ms());
  REQUIRE(env.ok());
  const core::EnvelopeView v = core::to_view(*env);
  const std::string body = "{\"id\":\"" + v.id + "\",\"from\":\"" + v.from + "\",\"to\":\"" + v.to +
                           "\",\"sent_at\":" + std::to_string(v.sent_at) + ",\"kind\":\"" + v.kind +
                           "\",\"nonce\":\"" + v.nonce + "\",\"box\":\"" + v.box + "\",\"sig\":\"" + v.sig + "\"}";
  const RawReply sent = signed_request("127.0.0.1", at, bob, "POST", "/v1/messages", body);
  REQUIRE_MESSAGE(sent.status == 201, describe(sent));
  reader.join();
  CHECK_MESSAGE(owner.status == 200, describe(owner));
  CHECK(owner.body.find(v.id) != std::string::npos);
  for (auto& t : hogs) t.join();
  CHECK(hog_done == 8);
}

TEST_CASE("limits: long polls per source address are capped with a clear error") {
  auto node = start_node();
  const std::string at = node->address();
  // 9 accounts from three addresses (the registration burst is per address).
  std::vector<User> users;
  for (int i = 0; i < 9; ++i) {
    users.push_back(make_user("poller" + std::to_string(i)));
    const RawReply r = raw_request("127.0.0." + std::to_string(10 + i / 3), at, "POST", "/v1/users",
                                   account_json(users.back().record));
    REQUIRE_MESSAGE(r.status == 201, describe(r));
  }
  // 8 accounts x 4 polls from one address: the per-address cap of 32.
  std::vector<std::thread> polls;
  for (int u = 0; u < 8; ++u)
    for (int i = 0; i < 4; ++i)
      polls.emplace_back([&, u] { signed_request("127.0.0.20", at, users[u], "GET", "/v1/mailbox?wait=30"); });
  REQUIRE(dws::test::wait_for(
      [&] { return node->metrics_text().find("dws_mailbox_waiters 32") != std::string::npos; }, 20s));
  const RawReply over = signed_request("127.0.0.20", at, users[8], "GET", "/v1/mailbox?wait=30");
  CHECK_MESSAGE(over.status == 429, describe(over));
  CHECK(over.body.find("127.0.0.20 already holds 32 waiting mailbox requests") != std::string::npos);
  // Another address is not affected.
  const RawReply elsewhere = signed_request("127.0.0.21", at, users[8], "GET", "/v1/mailbox?wait=0");
  CHECK_MESSAGE(elsewhere.status == 200, describe(elsewhere));
  CHECK(refusals(*node, "long_polls_per_address") == 1);
  node->stop();  // ends the waiting polls
  for (auto& t : polls) t.join();
}
