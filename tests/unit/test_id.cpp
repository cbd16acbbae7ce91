#include <doctest/doctest.h>

#include "core/id.hpp"

using dws::Id;
using namespace dws::core;

namespace {
constexpr Id kMax = ~Id{0};
}

TEST_CASE("id: between is open and follows the ring clockwise") {
  CHECK(between(10, 11, 20));
  CHECK(between(10, 19, 20));
  CHECK_FALSE(between(10, 10, 20));  // endpoints are outside
  CHECK_FALSE(between(10, 20, 20));
  CHECK_FALSE(between(10, 5, 20));
  CHECK_FALSE(between(10, 25, 20));
}

TEST_CASE("id: between wraps around zero when a > b") {
  CHECK(between(kMax - 5, kMax, 5));
  CHECK(between(kMax - 5, 0, 5));
  CHECK(between(kMax - 5, 4, 5));
  CHECK_FALSE(between(kMax - 5, kMax - 5, 5));
  CHECK_FALSE(between(kMax - 5, 5, 5));
  CHECK_FALSE(between(kMax - 5, 6, 5));
  CHECK_FALSE(between(kMax - 5, kMax - 6, 5));
}

TEST_CASE("id: between with a == b is the whole ring but a") {
  CHECK(between(7, 8, 7));
  CHECK(between(7, 6, 7));
  CHECK(between(7, 0, 7));
  CHECK(between(7, kMax, 7));
  CHECK_FALSE(between(7, 7, 7));
  CHECK_FALSE(between(0, 0, 0));
}

TEST_CASE("id: in_half_open includes b, excludes a, and wraps") {
  CHECK(in_half_open(10, 20, 20));
  CHECK_FALSE(in_half_open(10, 10, 20));
  CHECK(in_half_open(10, 11, 20));
  CHECK_FALSE(in_half_open(10, 21, 20));
  CHECK(in_half_open(kMax - 1, kMax, 1));
  CHECK(in_half_open(kMax - 1, 0, 1));
  CHECK(in_half_open(kMax - 1, 1, 1));
  CHECK_FALSE(in_half_open(kMax - 1, kMax - 1, 1));
  CHECK_FALSE(in_half_open(kMax - 1, 2, 1));
  CHECK(in_half_open(kMax, 0, 0));
}

TEST_CASE("id: in_half_open with a == b is the whole ring") {
  CHECK(in_half_open(7, 7, 7));
  CHECK(in_half_open(7, 8, 7));
  CHECK(in_half_open(7, 0, 7));
  CHECK(in_half_open(0, kMax, 0));
}

TEST_CASE("id: distance is clockwise modulo 2^64") {
  CHECK(distance(10, 20) == 10);
  CHECK(distance(20, 10) == kMax - 9);
  CHECK(distance(kMax, 0) == 1);
  CHECK(distance(5, 5) == 0);
}

TEST_CASE("id: to_hex writes 16 lower-case digits and parse_hex reads them back") {
  CHECK(to_hex(0) == "0000000000000000");
  CHECK(to_hex(kMax) == "ffffffffffffffff");
  CHECK(to_hex(0x0123456789abcdefULL) == "0123456789abcdef");
  for (Id v : {Id{0}, Id{1}, Id{0xdeadbeef}, kMax, kMax - 1, Id{0x8000000000000000ULL}}) {
    CAPTURE(v);
    auto back = parse_hex(to_hex(v));
    REQUIRE(back.has_value());
    CHECK(*back == v);
  }
  auto upper = parse_hex("0123456789ABCDEF");
  REQUIRE(upper.has_value());
  CHECK(*upper == 0x0123456789abcdefULL);
}

TEST_CASE("id: parse_hex rejects wrong lengths and non-hex digits") {
  CHECK_FALSE(parse_hex("").has_value());
  CHECK_FALSE(parse_hex("123").has_value());
  CHECK_FALSE(parse_hex("0123456789abcde").has_value());    // 15 digits
  CHECK_FALSE(parse_hex("0123456789abcdef0").has_value());  // 17 digits
  CHECK_FALSE(parse_hex("0123456789abcdeg").has_value());
  CHECK_FALSE(parse_hex("0x23456789abcdef").has_value());
  CHECK_FALSE(parse_hex(" 123456789abcdef").has_value());
  CHECK_FALSE(parse_hex("-123456789abcdef").has_value());
}

// Expected values computed independently with Python's hashlib:
//   hashlib.blake2b(s, digest_size=32).hexdigest()[:16]
TEST_CASE("id: ids are the first 8 bytes of BLAKE2b-256, big-endian (fixed vectors)") {
  CHECK(to_hex(id_of("node:127.0.0.1:7000")) == "e13068a18c4cf3b1");
  CHECK(to_hex(node_id("127.0.0.1:7000")) == "e13068a18c4cf3b1");
  CHECK(node_id("127.0.0.1:7000") == 0xe13068a18c4cf3b1ULL);
  CHECK(to_hex(user_key("alice")) == "8bacd39b8f14facf");
  CHECK(to_hex(id_of("node:10.0.0.1:1")) == "338763f32cfa74a8");
  CHECK(to_hex(id_of("")) == "0e5751c026e543b2");
}

TEST_CASE("id: ring positions of one node share its address up to '#'") {
  CHECK(position_address("10.0.0.1:7000", 0) == "10.0.0.1:7000");
  CHECK(position_address("10.0.0.1:7000", 3) == "10.0.0.1:7000#3");
  CHECK(host_of("10.0.0.1:7000#3") == "10.0.0.1:7000");
  CHECK(host_of("[::1]:7000") == "[::1]:7000");
  CHECK(position_of("10.0.0.1:7000") == 0);
  CHECK(position_of("10.0.0.1:7000#12") == 12);
  for (const char* bad : {"h:1#", "h:1#0", "h:1#01", "h:1#x", "h:1#1000", "h:1#-1", "h:1#1#2"})
    CHECK_MESSAGE(position_of(bad) == -1, bad);
  CHECK(node_id(position_address("h:1", 1)) != node_id("h:1"));
}
