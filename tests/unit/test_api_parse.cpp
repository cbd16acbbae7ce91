// The user surface's request parsers (node/api_parse.hpp): good bodies and
// parameters parse, and each refusal names what was wrong.
#include <doctest/doctest.h>

#include <string>

#include "crypto/encoding.hpp"
#include "node/api_parse.hpp"

using namespace dws;
namespace parse = dws::node::parse;

namespace {

std::string b64(std::size_t n, std::uint8_t fill) { return crypto::to_base64(std::string(n, static_cast<char>(fill))); }

net::WireRequest query(net::QueryParams q, std::string path = "/v1/mailbox") {
  net::WireRequest w;
  w.method = "GET";
  w.path = std::move(path);
  w.query = std::move(q);
  return w;
}

}  // namespace

TEST_CASE("api_parse: a login body gives the folded nickname and the key") {
  auto l = parse::login(R"({"nickname": "Alice", "auth_key": ")" + b64(32, 7) + R"("})");
  REQUIRE_MESSAGE(l.ok(), l.status().to_string());
  CHECK(l->nickname == "alice");
  CHECK(l->auth_key[31] == 7);
  auto bad = parse::login(R"({"nickname": "Alice"})");
  CHECK(bad.status().message() == "login: field 'auth_key' is missing");
}

TEST_CASE("api_parse: an ack body is refused at the entry that is wrong") {
  auto a = parse::acks(R"({"acks": [{"id": "0190f3c2a1b2c3d4e5f60718293a4b5c", "from": "bob", "sig": ")" +
                       b64(64, 1) + R"("}, {"id": "x", "from": "bob", "sig": ""}]})");
  REQUIRE_FALSE(a.ok());
  CHECK(a.status().code() == Code::kInvalidArgument);
  CHECK(a.status().message().starts_with("ack: field 'acks[1]."));
  CHECK(parse::acks(R"({"acks": {}})").status().message().find("must be an array") != std::string::npos);
  auto none = parse::acks(R"({"acks": []})");
  REQUIRE(none.ok());
  CHECK(none->entries.empty());
  CHECK(none->device.empty());
  auto dev = parse::acks(R"({"device": "0123456789abcdef", "acks": []})");
  REQUIRE(dev.ok());
  CHECK(dev->device == "0123456789abcdef");
  CHECK(parse::acks(R"({"device": "XYZ", "acks": []})").status().message().starts_with("ack: field 'device' "));
}

TEST_CASE("api_parse: a deletion proof needs a version and a signature") {
  auto d = parse::deletion(R"({"version": 4, "sig": ")" + b64(64, 2) + R"("})");
  REQUIRE_MESSAGE(d.ok(), d.status().to_string());
  CHECK(d->version == 4);
  CHECK(parse::deletion(R"({"version": -1})").status().message() ==
        "delete: field 'version' must be an integer in [0, 2^64), got -1");
  CHECK(parse::deletion("[").status().message().starts_with("delete: body is not valid JSON"));
}

TEST_CASE("api_parse: the nickname of a user path is folded; a path outside /v1/users/ is an error, not a throw") {
  auto n = parse::path_nick(query({}, "/v1/users/Bob/kdf"));
  REQUIRE(n.ok());
  CHECK(*n == "bob");
  auto outside = parse::path_nick(query({}, "/v1"));
  REQUIRE_FALSE(outside.ok());
  CHECK(outside.status().message().find("does not name a user") != std::string::npos);
}

TEST_CASE("api_parse: query parameters: integers within bounds, message ids, nickname prefixes") {
  CHECK(*parse::int_param(query({}), "limit", 50, 1, 500) == 50);
  CHECK(*parse::int_param(query({{"limit", "500"}}), "limit", 50, 1, 500) == 500);
  CHECK(parse::int_param(query({{"limit", "501"}}), "limit", 50, 1, 500).status().message() ==
        "parameter 'limit' must be an integer in [1, 500]");
  CHECK_FALSE(parse::int_param(query({{"limit", "5x"}}), "limit", 50, 1, 500).ok());
  CHECK(*parse::message_id_param(query({{"after", ""}}), "after") == "");
  CHECK(parse::message_id_param(query({{"after", "zz"}}), "after").status().message().starts_with("parameter 'after': "));
  CHECK(*parse::nick_prefix_param(query({{"prefix", "Al"}}), "prefix") == "al");
}

TEST_CASE("api_parse: a user path is the caller's own account or forbidden, naming both") {
  auto own = parse::own_path_nick(query({}, "/v1/users/Bob"), "bob", "change");
  REQUIRE(own.ok());
  CHECK(*own == "bob");
  auto other = parse::own_path_nick(query({}, "/v1/users/carol"), "bob", "delete");
  REQUIRE_FALSE(other.ok());
  CHECK(other.status().code() == Code::kForbidden);
  CHECK(other.status().message() == "'bob' cannot delete the account of 'carol'");
}
