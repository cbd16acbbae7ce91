#include <doctest/doctest.h>

#include <string>

#include "core/auth.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"

using namespace dws;
using namespace dws::core;

namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;
const std::string kBody = R"({"to":"bob","id":"018bcfe5680000112233445566778899"})";

struct Signed {
  crypto::KeyPair keys = crypto::generate_keypair();
  std::string header;
  Authorization auth;

  explicit Signed(std::int64_t ts = kNow, std::string_view method = "POST", std::string_view target = "/v1/messages",
                  std::string_view body = kBody) {
    auto h = make_authorization("alice", keys.secret_key, method, target, ts, body);
    REQUIRE_MESSAGE(h.ok(), h.status().to_string());
    header = *h;
    auto a = parse_authorization(header);
    REQUIRE_MESSAGE(a.ok(), a.status().to_string());
    auth = *a;
  }
};

}  // namespace

TEST_CASE("auth: the string to sign is method, target, ts and the body's BLAKE2b-256 in hex") {
  const std::string s = request_signing_string("GET", "/v1/mailbox?after=&wait=30", 123, "");
  const crypto::Hash256 h = crypto::blake2b_256("");
  CHECK(s == "GET\n/v1/mailbox?after=&wait=30\n123\n" + crypto::to_hex(h));
  CHECK(crypto::to_hex(h) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
}

TEST_CASE("auth: a header round-trips and verifies") {
  Signed s;
  CHECK(s.header.rfind("DWS1 nick=alice, ts=1700000000000, sig=", 0) == 0);
  CHECK(s.auth.nick == "alice");
  CHECK(s.auth.ts_ms == kNow);
  CHECK(verify_request(s.auth, s.keys.public_key, "POST", "/v1/messages", kBody, kNow).ok());
}

TEST_CASE("auth: a signature by another key is refused") {
  Signed s;
  const crypto::KeyPair other = crypto::generate_keypair();
  const Status st = verify_request(s.auth, other.public_key, "POST", "/v1/messages", kBody, kNow);
  CHECK(st.code() == Code::kUnauthenticated);
  CHECK(st.message().find("signature does not verify for 'alice'") != std::string::npos);
  Authorization flipped = s.auth;
  flipped.sig[0] ^= 1;
  CHECK(verify_request(flipped, s.keys.public_key, "POST", "/v1/messages", kBody, kNow).code() ==
        Code::kUnauthenticated);
}

TEST_CASE("auth: a timestamp outside the window is refused either way, saying by how much") {
  Signed s;
  CHECK(verify_request(s.auth, s.keys.public_key, "POST", "/v1/messages", kBody, kNow + 120'000).ok());
  CHECK(verify_request(s.auth, s.keys.public_key, "POST", "/v1/messages", kBody, kNow - 120'000).ok());

  const Status old = verify_request(s.auth, s.keys.public_key, "POST", "/v1/messages", kBody, kNow + 121'500);
  CHECK(old.code() == Code::kUnauthenticated);
  CHECK(old.message().find("request timestamp is 121.5 s old: at most 120 s") != std::string::npos);

  const Status future = verify_request(s.auth, s.keys.public_key, "POST", "/v1/messages", kBody, kNow - 300'000);
  CHECK(future.code() == Code::kUnauthenticated);
  CHECK(future.message().find("300 s in the future") != std::string::npos);

  CHECK(verify_request(s.auth, s.keys.public_key, "POST", "/v1/messages", kBody, kNow + 5'000, 1'000).code() ==
        Code::kUnauthenticated);
}

TEST_CASE("auth: a replayed signature with a changed path, query, method or body is refused") {
  Signed s(kNow, "GET", "/v1/mailbox?after=&wait=30", "");
  CHECK(verify_request(s.auth, s.keys.public_key, "GET", "/v1/mailbox?after=&wait=30", "", kNow).ok());
  CHECK(verify_request(s.auth, s.keys.public_key, "GET", "/v1/users/alice", "", kNow).code() ==
        Code::kUnauthenticated);
  CHECK(verify_request(s.auth, s.keys.public_key, "GET", "/v1/mailbox?after=&wait=31", "", kNow).code() ==
        Code::kUnauthenticated);
  CHECK(verify_request(s.auth, s.keys.public_key, "DELETE", "/v1/mailbox?after=&wait=30", "", kNow).code() ==
        Code::kUnauthenticated);
  CHECK(verify_request(s.auth, s.keys.public_key, "GET", "/v1/mailbox?after=&wait=30", "x", kNow).code() ==
        Code::kUnauthenticated);

  Signed post;
  std::string other_body = kBody;
  other_body[8] = 'x';
  CHECK(verify_request(post.auth, post.keys.public_key, "POST", "/v1/messages", other_body, kNow).code() ==
        Code::kUnauthenticated);
  CHECK(verify_request(post.auth, post.keys.public_key, "POST", "/v1/mailbox/ack", kBody, kNow).code() ==
        Code::kUnauthenticated);
  // A changed timestamp is a different string to sign.
  Authorization later = post.auth;
  later.ts_ms += 1;
  CHECK(verify_request(later, post.keys.public_key, "POST", "/v1/messages", kBody, kNow).code() ==
        Code::kUnauthenticated);
}

TEST_CASE("auth: parameters may come in any order and the scheme in any case") {
  Signed s;
  const std::string sig = crypto::to_base64(s.auth.sig);
  auto a = parse_authorization("dws1   sig=" + sig + " ,ts=1700000000000,  nick=alice ");
  REQUIRE_MESSAGE(a.ok(), a.status().to_string());
  CHECK(a->nick == "alice");
  CHECK(a->ts_ms == kNow);
  CHECK(a->sig == s.auth.sig);
}

TEST_CASE("auth: a malformed header is refused naming the problem") {
  Signed s;
  const std::string sig = crypto::to_base64(s.auth.sig);
  auto code_of = [](std::string_view h) { return parse_authorization(h).status().code(); };
  auto message_of = [](std::string_view h) { return parse_authorization(h).status().message(); };

  CHECK(code_of("") == Code::kUnauthenticated);
  CHECK(code_of("Bearer abc") == Code::kUnauthenticated);
  CHECK(message_of("Bearer abc").find("scheme 'Bearer' is not DWS1") != std::string::npos);
  CHECK(code_of("DWS1") == Code::kInvalidArgument);
  CHECK(message_of("DWS1 nick=alice, ts=1700000000000") == "Authorization has no sig");
  CHECK(message_of("DWS1 nick=alice, sig=" + sig) == "Authorization has no ts");
  CHECK(message_of("DWS1 ts=1, sig=" + sig) == "Authorization has no nick");
  CHECK(message_of("DWS1 nick=alice, nick=bob, ts=1, sig=" + sig) == "Authorization has nick twice");
  CHECK(message_of("DWS1 nick=alice, ts=1, sig=" + sig + ", x=1").find("'x' is unknown") != std::string::npos);
  CHECK(message_of("DWS1 nick=Al ice, ts=1, sig=" + sig).find("has a space") != std::string::npos);
  CHECK(message_of("DWS1 nick=Alice, ts=1, sig=" + sig).find("upper-case") != std::string::npos);
  CHECK(message_of("DWS1 nick=alice, ts=-1, sig=" + sig).find("ts '-1' is not unix milliseconds") !=
        std::string::npos);
  CHECK(code_of("DWS1 nick=alice, ts=0123, sig=" + sig) == Code::kInvalidArgument);
  CHECK(code_of("DWS1 nick=alice, ts=99999999999999999999, sig=" + sig) == Code::kInvalidArgument);
  CHECK(message_of("DWS1 nick=alice, ts=1, sig=abc=").find("Authorization sig") != std::string::npos);
  CHECK(message_of("DWS1 nick=alice, ts=1, sig=" + crypto::to_base64(std::string(63, 's'))) ==
        "Authorization sig is 63 bytes: expected 64");
  CHECK(message_of("DWS1 nick=alice, ts=1, sig").find("is not name=value") != std::string::npos);
  CHECK(code_of("DWS1 nick=alice,, ts=1, sig=" + sig) == Code::kInvalidArgument);
  CHECK(code_of("DWS1 " + std::string(600, 'a')) == Code::kInvalidArgument);
}

TEST_CASE("auth: requests that cannot be signed unambiguously are refused") {
  const crypto::KeyPair k = crypto::generate_keypair();
  CHECK(make_authorization("alice", k.secret_key, "get", "/v1/x", 1, "").status().code() == Code::kInvalidArgument);
  CHECK(make_authorization("alice", k.secret_key, "GET", "v1/x", 1, "").status().code() == Code::kInvalidArgument);
  CHECK(make_authorization("alice", k.secret_key, "GET", "/v1/x\nGET", 1, "").status().code() ==
        Code::kInvalidArgument);
  CHECK(make_authorization("alice", k.secret_key, "GET", "/v1/x y", 1, "").status().code() ==
        Code::kInvalidArgument);
  CHECK(make_authorization("Alice", k.secret_key, "GET", "/v1/x", 1, "").status().code() == Code::kInvalidArgument);
  CHECK(make_authorization("alice", k.secret_key, "GET", "/v1/x", -1, "").status().code() == Code::kInvalidArgument);
  Signed s;
  CHECK(verify_request(s.auth, s.keys.public_key, "POST", "/v1/messages\n", kBody, kNow).code() ==
        Code::kInvalidArgument);
}
