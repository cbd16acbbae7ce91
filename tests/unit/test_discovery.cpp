// Discovery datagrams: only a request for our ring gets an answer, and only
// well-formed answers are believed.
#include <doctest/doctest.h>

#include <string>

#include "net/discovery.hpp"

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
