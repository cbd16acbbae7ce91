// Proof of the ring secret: what a request's and an answer's MAC cover, the
// replay window and cache, and the secret file's rules.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "net/peer_auth.hpp"
#include "support/test_support.hpp"

using namespace dws;
using namespace dws::net;

namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;

std::array<std::uint8_t, kRingSecretSize> secret(std::uint8_t fill) {
  std::array<std::uint8_t, kRingSecretSize> s{};
  s.fill(fill);
  return s;
}

Status check(PeerAuth& auth, const PeerAuth::Proof& p, std::string_view method = "POST",
             std::string_view target = "/v1/ring/notify", std::string_view body = "{}", std::int64_t now = kNow) {
  std::string nonce;
  return auth.check(method, target, body, &p.header, now, &nonce);
}

void write_file(const std::string& path, const std::string& bytes, mode_t mode) {
  std::ofstream(path, std::ios::binary) << bytes;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

}  // namespace

TEST_CASE("peer auth: a proof made with the ring's secret is accepted once, and its answer checks") {
  auto sender = PeerAuth::with_secret(secret(7));
  auto receiver = PeerAuth::with_secret(secret(7));
  const auto p = sender->sign("POST", "/v1/ring/notify", "{}", kNow);
  std::string nonce;
  REQUIRE(receiver->check("POST", "/v1/ring/notify", "{}", &p.header, kNow + 1000, &nonce).ok());
  CHECK(nonce == p.nonce);
  const std::string answer = receiver->answer(nonce, 200, R"({"ok":true})");
  CHECK(sender->check_answer(p.nonce, 200, R"({"ok":true})", &answer));
}

TEST_CASE("peer auth: a wrong secret, a changed method, target or body, or no proof at all is refused") {
  auto sender = PeerAuth::with_secret(secret(7));
  auto receiver = PeerAuth::with_secret(secret(7));
  auto stranger = PeerAuth::with_secret(secret(8));
  const auto p = sender->sign("POST", "/v1/ring/notify", "{}", kNow);
  const auto s = check(*receiver, stranger->sign("POST", "/v1/ring/notify", "{}", kNow));
  CHECK(s.code() == Code::kUnauthenticated);
  CHECK_MESSAGE(s.message().find("does not match") != std::string::npos, s.message());
  CHECK(check(*receiver, p, "GET").code() == Code::kUnauthenticated);
  CHECK(check(*receiver, p, "POST", "/v1/ring/leave").code() == Code::kUnauthenticated);
  CHECK(check(*receiver, p, "POST", "/v1/ring/notify", R"({"x":1})").code() == Code::kUnauthenticated);
  std::string nonce;
  const auto none = receiver->check("POST", "/v1/ring/notify", "{}", nullptr, kNow, &nonce);
  CHECK(none.code() == Code::kUnauthenticated);
  CHECK_MESSAGE(none.message().find(std::string(kPeerProofHeader)) != std::string::npos, none.message());
  for (std::string bad : {"", "v1", "v2 1 00 00", "v1 x 00000000000000000000000000000000 00", "v1 1 short 00"}) {
    CHECK_MESSAGE(receiver->check("POST", "/v1/ring/notify", "{}", &bad, kNow, &nonce).code() ==
                      Code::kUnauthenticated,
                  bad);
  }
  // None of the refusals used up the good proof's nonce.
  CHECK(check(*receiver, p).ok());
}

TEST_CASE("peer auth: a proof outside the window of the receiver's clock is refused") {
  auto a = PeerAuth::with_secret(secret(1));
  CHECK(check(*a, a->sign("GET", "/v1/ring/ping", "", kNow - PeerAuth::kWindowMs - 1)).code() ==
        Code::kUnauthenticated);
  CHECK(check(*a, a->sign("GET", "/v1/ring/ping", "", kNow + PeerAuth::kWindowMs + 1)).code() ==
        Code::kUnauthenticated);
  CHECK(check(*a, a->sign("GET", "/v1/ring/ping", "", kNow - PeerAuth::kWindowMs + 1), "GET", "/v1/ring/ping", "")
            .ok());
}

TEST_CASE("peer auth: a replayed proof is refused, also after the nonce cache overflowed") {
  auto a = PeerAuth::with_secret(secret(2));
  const auto first = a->sign("GET", "/v1/ring/ping", "", kNow - 10'000);
  REQUIRE(check(*a, first, "GET", "/v1/ring/ping", "").ok());
  const auto again = check(*a, first, "GET", "/v1/ring/ping", "");
  CHECK(again.code() == Code::kUnauthenticated);
  CHECK_MESSAGE(again.message().find("replay") != std::string::npos, again.message());
  // Fill the cache with newer proofs: the first one's nonce is forgotten,
  // but its time is now below what the cache covers, so it stays refused.
  for (std::size_t i = 0; i < PeerAuth::kMaxNonces; ++i)
    REQUIRE(check(*a, a->sign("GET", "/v1/ring/ping", "", kNow), "GET", "/v1/ring/ping", "").ok());
  CHECK(check(*a, first, "GET", "/v1/ring/ping", "").code() == Code::kUnauthenticated);
  CHECK(check(*a, a->sign("GET", "/v1/ring/ping", "", kNow + 1), "GET", "/v1/ring/ping", "").ok());
}

TEST_CASE("peer auth: a forged answer (another secret, nonce, status or body) is not believed") {
  auto a = PeerAuth::with_secret(secret(3));
  auto stranger = PeerAuth::with_secret(secret(4));
  const auto p = a->sign("GET", "/v1/store/get?key=00", "", kNow);
  const std::string good = a->answer(p.nonce, 200, "{}");
  CHECK(a->check_answer(p.nonce, 200, "{}", &good));
  const std::string forged = stranger->answer(p.nonce, 200, "{}");
  CHECK_FALSE(a->check_answer(p.nonce, 200, "{}", &forged));
  CHECK_FALSE(a->check_answer(p.nonce, 404, "{}", &good));
  CHECK_FALSE(a->check_answer(p.nonce, 200, R"({"record":null})", &good));
  const auto other = a->sign("GET", "/v1/store/get?key=00", "", kNow);
  CHECK_FALSE(a->check_answer(other.nonce, 200, "{}", &good));
  CHECK_FALSE(a->check_answer(p.nonce, 200, "{}", nullptr));
}

TEST_CASE("peer auth: an open ring admits requests without proof") {
  auto open = PeerAuth::open_ring();
  CHECK(open->is_open());
  std::string nonce;
  CHECK(open->check("POST", "/v1/ring/notify", "{}", nullptr, kNow, &nonce).ok());
  CHECK(nonce.empty());
}

TEST_CASE("peer auth: a secret file is created 0600 and kept; a wrong size or mode is a clear error") {
  dws::test::TempDir dir("peer-auth");
  const std::string path = dir.sub("ring.secret");
  bool created = false;
  auto made = PeerAuth::load_or_create(path, &created);
  REQUIRE_MESSAGE(made.ok(), made.status().to_string());
  CHECK(created);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_size == static_cast<off_t>(kRingSecretSize));
  auto kept = PeerAuth::load_or_create(path, &created);
  REQUIRE(kept.ok());
  CHECK_FALSE(created);
  // Same secret: one's proof passes the other's check.
  CHECK(check(**kept, (*made)->sign("POST", "/v1/ring/notify", "{}", kNow)).ok());

  auto missing = PeerAuth::load(dir.sub("nope"));
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().message().find(dir.sub("nope")) != std::string::npos);

  write_file(dir.sub("short"), std::string(31, 'x'), 0600);
  auto short_file = PeerAuth::load(dir.sub("short"));
  CHECK(short_file.status().code() == Code::kInvalidArgument);
  CHECK_MESSAGE(short_file.status().message().find("31 bytes") != std::string::npos, short_file.status().message());

  write_file(dir.sub("open"), std::string(32, 'x'), 0644);
  auto readable = PeerAuth::load(dir.sub("open"));
  CHECK(readable.status().code() == Code::kInvalidArgument);
  CHECK_MESSAGE(readable.status().message().find("chmod 600") != std::string::npos, readable.status().message());
  CHECK_FALSE(PeerAuth::load_or_create(dir.sub("open"), &created).ok());  // never replaced
}
