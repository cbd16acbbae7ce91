#include <doctest/doctest.h>

#include <string>

#include "net/json_fields.hpp"
#include "net/user_json.hpp"

using namespace dws;

TEST_CASE("json_fields: the first problem wins and names the field's path inside arrays and objects") {
  net::Fields f("sample");
  REQUIRE(f.parse(R"({"list": [{"v": "AAAA"}, {"v": "A$AA"}, {"v": 3}]})"));
  f.each(f.root(), "", "list", 10, [&](const net::JsonValue& e, const std::string& at) { f.bytes(e, at, "v", 3); });
  REQUIRE(f.failed());
  CHECK(f.status().code() == Code::kInvalidArgument);
  CHECK(f.status().message() == "sample: field 'list[1].v' must be padded base64 (A-Z a-z 0-9 + /), and is corrupt or truncated");
}

TEST_CASE("json_fields: limits on strings, integers, arrays and decoded sizes are checked") {
  net::Fields f("s");
  REQUIRE(f.parse(R"({"s": "abcd", "i": 7, "a": [1, 2, 3], "b": "AAAAAA=="})"));
  f.text(f.root(), "", "s", 3);
  CHECK(f.status().message() == "s: field 's' must have at most 3 bytes, got 4");
  net::Fields g("s");
  REQUIRE(g.parse(R"({"i": 7})"));
  g.integer(g.root(), "", "i", 0, 5);
  CHECK(g.status().message() == "s: field 'i' must be in [0, 5], got 7");
  net::Fields h("s", Code::kUnavailable);
  REQUIRE(h.parse(R"({"a": [1, 2, 3], "b": "AAAAAA=="})"));
  h.array(h.root(), "", "a", 2);
  CHECK(h.status().code() == Code::kUnavailable);
  CHECK(h.status().message() == "s: field 'a' must have at most 2 entries, got 3");
  net::Fields k("s");
  REQUIRE(k.parse(R"({"b": "AAAA"})"));
  k.fixed<4>(k.root(), "", "b");
  CHECK(k.status().message() == "s: field 'b' must hold 4 bytes, got 3");
  net::Fields bad("s");
  CHECK_FALSE(bad.parse("[1]"));
  CHECK(bad.status().message() == "s: body must be a JSON object, got an array");
}

TEST_CASE("json_fields: one description writes and reads the same body") {
  net::DeletionProof proof{42, {}};
  proof.sig[0] = 9;
  const std::string body = net::json_body(proof);
  net::Fields f("delete");
  REQUIRE(f.parse(body));
  const net::DeletionProof back = net::read_json_body<net::DeletionProof>(f, f.root());
  REQUIRE_FALSE(f.failed());
  CHECK(back.version == 42);
  CHECK(back.sig == proof.sig);
  // A missing field names itself; nothing else is read after it.
  net::Fields g("delete");
  REQUIRE(g.parse(R"({"sig": "AAAA"})"));
  net::read_json_body<net::DeletionProof>(g, g.root());
  CHECK(g.status().message() == "delete: field 'version' is missing");
}
