// The server's request reading (net/http_parse.hpp): heads found however the
// bytes arrive, malformed request lines and headers refused with a message
// saying what was wrong.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <variant>

#include "net/http_parse.hpp"

using namespace dws;
using namespace dws::net;

namespace {

http::Head parse_ok(std::string_view head, std::size_t max_body = 1024) {
  auto r = http::parse_head(head, max_body);
  REQUIRE_MESSAGE(std::holds_alternative<http::Head>(r), std::get<http::HeadError>(r).error.to_string());
  return std::get<http::Head>(r);
}

http::HeadError parse_error(std::string_view head, std::size_t max_body = 1024) {
  auto r = http::parse_head(head, max_body);
  REQUIRE(std::holds_alternative<http::HeadError>(r));
  return std::get<http::HeadError>(r);
}

}  // namespace

TEST_CASE("http_parse: a request line and headers give method, decoded path and query, and the body length") {
  const http::Head h = parse_ok(
      "POST /v1/users%2Fx?prefix=al+i%63e&&flag HTTP/1.1\r\nHost: a\r\nContent-Length:  12 \r\n"
      "Expect: 100-continue\r\n");
  CHECK(h.wire.method == "POST");
  CHECK(h.wire.path == "/v1/users/x");
  CHECK(h.wire.raw_target == "/v1/users%2Fx?prefix=al+i%63e&&flag");
  CHECK(h.wire.query == QueryParams{{"prefix", "al ice"}, {"flag", ""}});
  REQUIRE(h.wire.header("content-length"));
  CHECK(*h.wire.header("content-length") == "12");
  CHECK(h.content_length == 12);
  CHECK(h.keep_alive);
  CHECK(h.expect_continue);
}

TEST_CASE("http_parse: HTTP/1.0 closes unless it asks for keep-alive; Connection: close always closes") {
  CHECK_FALSE(parse_ok("GET / HTTP/1.0\r\n").keep_alive);
  CHECK(parse_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n").keep_alive);
  CHECK_FALSE(parse_ok("GET / HTTP/1.1\r\nConnection: foo, close\r\n").keep_alive);
}

TEST_CASE("http_parse: malformed heads are refused, each with its reason and status") {
  CHECK(parse_error("GET /\r\n").error.message().find("malformed request line") != std::string::npos);
  CHECK(parse_error("GET x HTTP/1.1\r\n").error.message().find("must be a path starting with '/'") !=
        std::string::npos);
  CHECK(parse_error("GET / HTTP/2\r\n").error.message().find("unsupported HTTP version") != std::string::npos);
  CHECK(parse_error("GET / HTTP/1.1\r\n folded\r\n").error.message().find("folded") != std::string::npos);
  CHECK(parse_error("GET / HTTP/1.1\r\nContent-Length: -1\r\n").error.message().find("decimal") !=
        std::string::npos);
  CHECK(parse_error("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n").error.message().find(
            "two different") != std::string::npos);
  CHECK(parse_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n").status == 411);
  const http::HeadError big = parse_error("POST / HTTP/1.1\r\nContent-Length: 1025\r\n");
  CHECK(big.status == 413);
  CHECK(big.error.code() == Code::kPayloadTooLarge);
}

TEST_CASE("http_parse: a NUL byte is not a token character, in the method or a header name") {
  using namespace std::string_view_literals;
  CHECK(parse_error("G\0T / HTTP/1.1\r\n"sv).error.message().find("method is not a token") != std::string::npos);
  CHECK(parse_error("GET / HTTP/1.1\r\nContent-Length\0: 5\r\n"sv).error.message().find("malformed header name") !=
        std::string::npos);
}

TEST_CASE("http_parse: the end of a head is found when its blank line arrives split over reads") {
  const std::string request = "GET / HTTP/1.1\r\nHost: a\r\n\r\nbody";
  const std::size_t end = request.find("\r\n\r\n") + 4;
  for (std::size_t cut = 1; cut < end; ++cut) {
    std::size_t scanned = 0;
    CHECK(http::scan_head(std::string_view(request).substr(0, cut), scanned, 1024).kind ==
          http::HeadScan::Kind::kIncomplete);
    CHECK(scanned == cut);
    const http::HeadScan done = http::scan_head(request, scanned, 1024);
    CHECK(done.kind == http::HeadScan::Kind::kComplete);
    CHECK(done.head_end == end);
  }
}

TEST_CASE("http_parse: a head over the limit is too large, found or not") {
  std::size_t scanned = 0;
  CHECK(http::scan_head(std::string(100, 'x'), scanned, 64).kind == http::HeadScan::Kind::kTooLarge);
  scanned = 0;
  CHECK(http::scan_head("GET / HTTP/1.1\r\nX: " + std::string(60, 'x') + "\r\n\r\n", scanned, 64).kind ==
        http::HeadScan::Kind::kTooLarge);
}
