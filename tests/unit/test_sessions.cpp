// Session MACs (docs/protocol.md section 5.1): the DWS1S header, and the
// table of sessions a node holds.
#include <doctest/doctest.h>

#include <string>

#include "core/auth.hpp"
#include "crypto/encoding.hpp"
#include "crypto/kx.hpp"
#include "node/sessions.hpp"

using namespace dws;

namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;
const std::string kSid = "00112233445566778899aabbccddeeff";
const std::string kBody = R"({"acks":[]})";

struct Exchange {
  crypto::KxKeyPair client = crypto::kx_keypair();
  crypto::KxKeyPair server = crypto::kx_keypair();
  crypto::SessionKey client_key = crypto::kx_client_key(client, server.public_key).value();
  crypto::SessionKey server_key = crypto::kx_server_key(server, client.public_key).value();
};

core::SessionAuthorization parsed(const std::string& header) {
  auto a = core::parse_session_authorization(header);
  REQUIRE_MESSAGE(a.ok(), a.status().to_string());
  return *a;
}

}  // namespace

TEST_CASE("sessions: both sides of the exchange derive the same key, and a third party another") {
  Exchange x;
  CHECK(x.client_key == x.server_key);
  const crypto::KxKeyPair eve = crypto::kx_keypair();
  CHECK_FALSE(crypto::kx_client_key(eve, x.server.public_key).value() == x.server_key);
  crypto::KxPublicKey zero{};
  CHECK(crypto::kx_client_key(x.client, zero).status().code() == Code::kInvalidArgument);
}

TEST_CASE("sessions: a DWS1S header round-trips and verifies; any change to the request is refused") {
  Exchange x;
  auto h = core::make_session_authorization(kSid, x.client_key, "POST", "/v1/mailbox/ack", kNow, kBody);
  REQUIRE_MESSAGE(h.ok(), h.status().to_string());
  CHECK(h->rfind("DWS1S sid=" + kSid + ", ts=1700000000000, mac=", 0) == 0);
  CHECK(core::is_session_authorization(*h));
  CHECK_FALSE(core::is_session_authorization("DWS1 nick=a, ts=1, sig=x"));
  const core::SessionAuthorization a = parsed(*h);
  CHECK(core::verify_session_request(a, x.server_key, "POST", "/v1/mailbox/ack", kBody, kNow).ok());

  CHECK(core::verify_session_request(a, x.server_key, "POST", "/v1/messages", kBody, kNow).code() ==
        Code::kUnauthenticated);
  CHECK(core::verify_session_request(a, x.server_key, "POST", "/v1/mailbox/ack", kBody + " ", kNow).code() ==
        Code::kUnauthenticated);
  CHECK(core::verify_session_request(a, x.server_key, "GET", "/v1/mailbox/ack", kBody, kNow).code() ==
        Code::kUnauthenticated);
  // Another session's key, or the same MAC under another session id.
  Exchange other;
  const Status wrong = core::verify_session_request(a, other.server_key, "POST", "/v1/mailbox/ack", kBody, kNow);
  CHECK(wrong.code() == Code::kUnauthenticated);
  CHECK(wrong.message().find("MAC does not verify for session " + kSid) != std::string::npos);
  core::SessionAuthorization moved = a;
  moved.sid = "ffeeddccbbaa99887766554433221100";
  CHECK(core::verify_session_request(moved, x.server_key, "POST", "/v1/mailbox/ack", kBody, kNow).code() ==
        Code::kUnauthenticated);
  core::SessionAuthorization flipped = a;
  flipped.mac[5] ^= 1;
  CHECK(core::verify_session_request(flipped, x.server_key, "POST", "/v1/mailbox/ack", kBody, kNow).code() ==
        Code::kUnauthenticated);
}

TEST_CASE("sessions: the timestamp window of signed requests holds for MACs too") {
  Exchange x;
  const auto a = parsed(*core::make_session_authorization(kSid, x.client_key, "GET", "/v1/mailbox", kNow, ""));
  CHECK(core::verify_session_request(a, x.server_key, "GET", "/v1/mailbox", "", kNow + 120'000).ok());
  const Status old = core::verify_session_request(a, x.server_key, "GET", "/v1/mailbox", "", kNow + 120'001);
  CHECK(old.code() == Code::kUnauthenticated);
  CHECK(old.message().find("old") != std::string::npos);
  CHECK(core::verify_session_request(a, x.server_key, "GET", "/v1/mailbox", "", kNow - 120'001).code() ==
        Code::kUnauthenticated);
}

TEST_CASE("sessions: a malformed DWS1S header is refused naming the problem") {
  const std::string mac = crypto::to_base64(std::string(32, 'x'));
  auto message = [](const std::string& h) { return core::parse_session_authorization(h).status().message(); };
  CHECK(message("DWS1S sid=" + kSid + ", ts=1") == "Authorization has no mac");
  CHECK(message("DWS1S sid=XYZ, ts=1, mac=" + mac).find("session id 'XYZ' is not 32 lower-case hex") !=
        std::string::npos);
  CHECK(message("DWS1S sid=" + kSid + ", ts=01, mac=" + mac).find("ts '01'") != std::string::npos);
  CHECK(message("DWS1S sid=" + kSid + ", ts=1, mac=abc").find("Authorization mac") != std::string::npos);
  CHECK(message("DWS1S sid=" + kSid + ", sid=" + kSid + ", ts=1, mac=" + mac) == "Authorization has sid twice");
  CHECK(message("DWS1S sid=" + kSid + ", ts=1, mac=" + mac + ", nick=a").find("'nick' is unknown") !=
        std::string::npos);
  CHECK(core::parse_session_authorization("DWS1 nick=a, ts=1, sig=x").status().code() == Code::kUnauthenticated);
  CHECK(parsed("dws1s   mac=" + mac + ",ts=7 , sid=" + kSid).ts_ms == 7);
  crypto::SessionKey key;
  CHECK(core::make_session_authorization("nothex", key, "GET", "/v1/mailbox", 1, "").status().code() ==
        Code::kInvalidArgument);
  CHECK(core::make_session_authorization(kSid, key, "get", "/v1/mailbox", 1, "").status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("sessions: the node's table finds, expires, caps per account and in all, and closes only its owner's") {
  node::SessionTable table({.max_sessions = 4, .max_per_account = 2, .ttl_ms = 1000});
  const crypto::PublicKey alice_key{1};
  const crypto::KxKeyPair client = crypto::kx_keypair();
  auto a1 = table.open("alice", alice_key, client.public_key, 0);
  REQUIRE(a1.ok());
  CHECK(a1->sid.size() == 32);
  CHECK(a1->ttl_ms == 1000);
  auto found = table.find(a1->sid, 999);
  REQUIRE(found);
  CHECK(found->nick == "alice");
  CHECK(found->account_key == alice_key);
  CHECK(found->key == crypto::kx_client_key(client, a1->node_key).value());
  CHECK_FALSE(table.find(a1->sid, 1000));  // expired, and gone
  CHECK(table.size() == 0);

  // A third session of one account ends its oldest, not anyone else's.
  auto b = table.open("bob", {}, client.public_key, 0);
  auto a2 = table.open("alice", alice_key, client.public_key, 0);
  auto a3 = table.open("alice", alice_key, client.public_key, 0);
  auto a4 = table.open("alice", alice_key, client.public_key, 0);
  REQUIRE((b.ok() && a2.ok() && a3.ok() && a4.ok()));
  CHECK_FALSE(table.find(a2->sid, 1));
  CHECK(table.find(a3->sid, 1));
  CHECK(table.find(b->sid, 1));
  CHECK(table.size() == 3);

  // Full of live sessions: refused, saying so; expired ones make room.
  REQUIRE(table.open("carol", {}, client.public_key, 0).ok());
  const auto full = table.open("dave", {}, client.public_key, 0);
  CHECK(full.status().code() == Code::kUnavailable);
  CHECK(full.status().message().find("holds 4 sessions, its limit") != std::string::npos);
  CHECK(table.open("dave", {}, client.public_key, 5000).ok());
  CHECK(table.size() == 1);

  auto d = table.find(table.open("erin", {}, client.public_key, 5000)->sid, 5000);
  REQUIRE(d);
  const crypto::KxPublicKey weak{};
  CHECK(table.open("erin", {}, weak, 5000).status().code() == Code::kInvalidArgument);
}

TEST_CASE("sessions: close ends a session only for the account that holds it") {
  node::SessionTable table;
  const auto s = table.open("alice", {}, crypto::kx_keypair().public_key, 0).value();
  CHECK_FALSE(table.close(s.sid, "bob"));
  CHECK(table.find(s.sid, 0));
  CHECK(table.close(s.sid, "alice"));
  CHECK_FALSE(table.find(s.sid, 0));
  CHECK_FALSE(table.close(s.sid, "alice"));
}
