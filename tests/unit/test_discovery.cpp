// Discovery datagrams: only a request for our ring gets an answer, and only
// well-formed answers are believed.
#include <doctest/doctest.h>

#include <string>

#include "net/discovery.hpp"
#include "net/peer_auth.hpp"

using namespace dws;
using namespace dws::net;

TEST_CASE("discovery: a node answers a request for its own ring only") {
  const PeerInfo self{0x0123456789abcdefULL, "127.0.0.1:7000"};
  CHECK(discover_datagram("dwhatsapp") == "DWS1 DISCOVER dwhatsapp");
  auto answer = answer_datagram("DWS1 DISCOVER dwhatsapp", "dwhatsapp", self);
  REQUIRE(answer.has_value());
  CHECK(*answer == "DWS1 HERE 127.0.0.1:7000 0123456789abcdef");
  CHECK(answer_datagram("DWS1 DISCOVER dwhatsapp\n", "dwhatsapp", self).has_value());

  for (std::string garbage : {"DWS1 DISCOVER other", "DWS1 DISCOVER dwhatsapp2", "DWS1 DISCOVER ", "DWS1 DISCOVER",
                              "DWS2 DISCOVER dwhatsapp", "dws1 discover dwhatsapp", "", "\xff\xfe",
                              "DWS1 HERE 127.0.0.1:7000 0123456789abcdef", " DWS1 DISCOVER dwhatsapp"}) {
    CHECK_MESSAGE(!answer_datagram(garbage, "dwhatsapp", self).has_value(), "answered '", garbage, "'");
  }
  CHECK(!answer_datagram(std::string("DWS1 DISCOVER dwhatsapp\0x", 25), "dwhatsapp", self).has_value());
}

TEST_CASE("discovery: answers are parsed strictly") {
  auto a = parse_here("DWS1 HERE 10.0.0.7:7000 0123456789abcdef");
  REQUIRE(a.has_value());
  CHECK(*a == "10.0.0.7:7000");
  CHECK(parse_here("DWS1 HERE [::1]:7000 0123456789abcdef\n").value_or("") == "[::1]:7000");
  for (std::string garbage : {"DWS1 HERE 10.0.0.7:7000", "DWS1 HERE 10.0.0.7:7000 xyz", "DWS1 HERE 10.0.0.7 0123456789abcdef",
                              "DWS1 HERE  0123456789abcdef", "DWS1 DISCOVER dwhatsapp", "", "DWS1 HERE "}) {
    CHECK_MESSAGE(!parse_here(garbage).has_value(), "believed '", garbage, "'");
  }
}

TEST_CASE("discovery: members answer only a challenge proving the secret, and joiners believe only proved answers") {
  auto ring = PeerAuth::with_secret(std::array<std::uint8_t, kRingSecretSize>{1});
  auto stranger = PeerAuth::with_secret(std::array<std::uint8_t, kRingSecretSize>{2});
  const PeerInfo self{0x0123456789abcdefULL, "127.0.0.1:7000"};
  constexpr std::int64_t now = 1'800'000'000'000;

  std::string nonce;
  const std::string challenge = challenge_datagram("dwhatsapp", *ring, now, &nonce);
  auto answer = answer_datagram(challenge, "dwhatsapp", self, ring.get(), now + 500);
  REQUIRE(answer.has_value());
  CHECK(parse_peer(*answer, nonce, *ring).value_or("") == "127.0.0.1:7000");
  // A stranger's answer, an answer to another challenge, or a changed one is not believed.
  CHECK_FALSE(parse_peer(*answer, nonce, *stranger).has_value());
  std::string other_nonce;
  challenge_datagram("dwhatsapp", *ring, now, &other_nonce);
  CHECK_FALSE(parse_peer(*answer, other_nonce, *ring).has_value());
  std::string moved = *answer;
  moved.replace(moved.find("7000"), 4, "7001");
  CHECK_FALSE(parse_peer(moved, nonce, *ring).has_value());
  CHECK_FALSE(parse_peer("DWS1 HERE 127.0.0.1:7000 0123456789abcdef", nonce, *ring).has_value());

  // Members do not answer a stranger's challenge, a stale one, another
  // ring's, or any challenge when they have no secret (an open ring).
  std::string n2;
  CHECK_FALSE(answer_datagram(challenge_datagram("dwhatsapp", *stranger, now, &n2), "dwhatsapp", self, ring.get(), now)
                  .has_value());
  CHECK_FALSE(answer_datagram(challenge, "dwhatsapp", self, ring.get(), now + PeerAuth::kWindowMs + 1).has_value());
  CHECK_FALSE(answer_datagram(challenge_datagram("other", *ring, now, &n2), "dwhatsapp", self, ring.get(), now)
                  .has_value());
  CHECK_FALSE(answer_datagram(challenge, "dwhatsapp", self, nullptr, now).has_value());
  std::string tampered = challenge;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  CHECK_FALSE(answer_datagram(tampered, "dwhatsapp", self, ring.get(), now).has_value());
  // Clients, who hold no secret, still find servers.
  CHECK(answer_datagram("DWS1 DISCOVER dwhatsapp", "dwhatsapp", self, ring.get(), now).has_value());
}
