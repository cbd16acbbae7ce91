// The JSON codec: every core message survives a round trip, and malformed
// input is refused with a message that names the field.
#include <doctest/doctest.h>

#include <string>

#include "core/id.hpp"
#include "net/address.hpp"
#include "net/json_codec.hpp"

using namespace dws;
using namespace dws::net;

namespace {

PeerInfo peer(const std::string& address) { return PeerInfo{core::node_id(address), address}; }

// Sends `request` through both halves of the codec, as client and server do.
core::Request through_wire(const core::Request& request) {
  const WireRequest wire = encode_request(request);
  // The server sees the decoded query, not the target string.
  auto decoded = decode_request(wire);
  REQUIRE_MESSAGE(decoded.ok(), decoded.status().to_string());
  return *decoded;
}

core::Response reply_through_wire(const core::Request& request, const core::Response& response) {
  const WireResponse wire = encode_response(response);
  CHECK(wire.status == 200);
  auto decoded = decode_reply(request, wire.status, wire.body);
  REQUIRE_MESSAGE(decoded.ok(), decoded.status().to_string(), " body: ", wire.body);
  return *decoded;
}

WireRequest post(const std::string& path, const std::string& body) {
  WireRequest w;
  w.method = "POST";
  w.path = path;
  w.body = body;
  return w;
}

WireRequest get(const std::string& path, QueryParams query = {}) {
  WireRequest w;
  w.method = "GET";
  w.path = path;
  w.query = std::move(query);
  return w;
}

// The request must be refused as invalid_argument with `needle` in the message.
void check_rejected(const WireRequest& wire, const std::string& needle) {
  auto r = decode_request(wire);
  REQUIRE_MESSAGE(!r.ok(), "accepted ", wire.method, " ", wire.target(), " body ", wire.body);
  CHECK_MESSAGE(r.status().code() == Code::kInvalidArgument, "expected invalid_argument, got ", r.status().to_string());
  CHECK_MESSAGE(r.status().message().find(needle) != std::string::npos, "expected '", needle, "' in '",
                r.status().message(), "'");
}

void check_reply_rejected(const core::Request& request, const std::string& body, const std::string& needle) {
  auto r = decode_reply(request, 200, body);
  REQUIRE_MESSAGE(!r.ok(), "accepted body ", body);
  CHECK_MESSAGE(r.status().code() == Code::kInvalidArgument, "expected invalid_argument, got ", r.status().to_string());
  CHECK_MESSAGE(r.status().message().find(needle) != std::string::npos, "expected '", needle, "' in '",
                r.status().message(), "'");
}

}  // namespace

TEST_CASE("codec: every request type has a route and survives a round trip") {
  CHECK(ring_routes().size() == std::variant_size_v<core::Request>);

  CHECK(std::holds_alternative<core::PingReq>(through_wire(core::PingReq{})));
  CHECK(std::holds_alternative<core::InfoReq>(through_wire(core::InfoReq{})));

  for (bool fingers : {false, true}) {
    auto r = through_wire(core::StateReq{fingers});
    REQUIRE(std::holds_alternative<core::StateReq>(r));
    CHECK(std::get<core::StateReq>(r).with_fingers == fingers);
  }

  core::ClosestReq closest{0xfedcba9876543210ULL, {0x0ULL, 0xffffffffffffffffULL, 0x0123456789abcdefULL}};
  auto c = through_wire(closest);
  REQUIRE(std::holds_alternative<core::ClosestReq>(c));
  CHECK(std::get<core::ClosestReq>(c).key == closest.key);
  CHECK(std::get<core::ClosestReq>(c).exclude == closest.exclude);
  CHECK(std::get<core::ClosestReq>(through_wire(core::ClosestReq{7, {}})).exclude.empty());

  core::NotifyReq notify{peer("127.0.0.1:7001")};
  auto n = through_wire(notify);
  REQUIRE(std::holds_alternative<core::NotifyReq>(n));
  CHECK(std::get<core::NotifyReq>(n).from == notify.from);

  for (bool with_pred : {false, true}) {
    core::LeaveReq leave;
    leave.leaving = peer("10.0.0.1:7000");
    if (with_pred) leave.predecessor = peer("[::1]:7002");
    leave.successors = {peer("10.0.0.2:7000"), peer("host-name.example:65535")};
    auto l = through_wire(leave);
    REQUIRE(std::holds_alternative<core::LeaveReq>(l));
    const auto& got = std::get<core::LeaveReq>(l);
    CHECK(got.leaving == leave.leaving);
    CHECK(got.predecessor == leave.predecessor);
    CHECK(got.successors == leave.successors);
  }
}

TEST_CASE("codec: requests go to the documented method, path and query") {
  const WireRequest closest = encode_request(core::ClosestReq{0x00000000000000ffULL, {1, 2}});
  CHECK(closest.method == "GET");
  CHECK(closest.target() == "/v1/ring/closest?key=00000000000000ff&exclude=0000000000000001,0000000000000002");
  CHECK(encode_request(core::StateReq{true}).target() == "/v1/ring/state?fingers=1");
  CHECK(encode_request(core::StateReq{false}).target() == "/v1/ring/state");
  CHECK(encode_request(core::PingReq{}).target() == "/v1/ring/ping");
  CHECK(encode_request(core::InfoReq{}).target() == "/v1/ring/info");
  const WireRequest notify = encode_request(core::NotifyReq{PeerInfo{0xabcULL, "127.0.0.1:9"}});
  CHECK(notify.method == "POST");
  CHECK(notify.path == "/v1/ring/notify");
  CHECK(notify.body == R"({"id":"0000000000000abc","address":"127.0.0.1:9"})");
  CHECK(encode_request(core::LeaveReq{}).path == "/v1/ring/leave");
}

TEST_CASE("codec: every response type survives a round trip") {
  auto ack = reply_through_wire(core::NotifyReq{}, core::Ack{});
  CHECK(std::holds_alternative<core::Ack>(ack));

  core::PingResp ping{peer("127.0.0.1:7000")};
  auto p = reply_through_wire(core::PingReq{}, ping);
  REQUIRE(std::holds_alternative<core::PingResp>(p));
  CHECK(std::get<core::PingResp>(p).self == ping.self);

  core::StateResp state;
  state.view.self = peer("127.0.0.1:7000");
  state.view.predecessor = peer("127.0.0.1:7003");
  state.view.successors = {peer("127.0.0.1:7001"), peer("127.0.0.1:7002")};
  state.view.fingers.assign(64, std::nullopt);
  state.view.fingers[0] = peer("127.0.0.1:7001");
  state.view.fingers[63] = peer("127.0.0.1:7005");
  auto s = reply_through_wire(core::StateReq{true}, state);
  REQUIRE(std::holds_alternative<core::StateResp>(s));
  const RingView& v = std::get<core::StateResp>(s).view;
  CHECK(v.self == state.view.self);
  CHECK(v.predecessor == state.view.predecessor);
  CHECK(v.successors == state.view.successors);
  CHECK(v.fingers == state.view.fingers);

  core::StateResp alone;
  alone.view.self = peer("127.0.0.1:7000");
  auto a = reply_through_wire(core::StateReq{false}, alone);
  CHECK_FALSE(std::get<core::StateResp>(a).view.predecessor.has_value());
  CHECK(std::get<core::StateResp>(a).view.successors.empty());

  for (bool done : {false, true}) {
    core::ClosestResp closest{done, peer("127.0.0.1:7004")};
    auto c = reply_through_wire(core::ClosestReq{1, {}}, closest);
    REQUIRE(std::holds_alternative<core::ClosestResp>(c));
    CHECK(std::get<core::ClosestResp>(c).done == done);
    CHECK(std::get<core::ClosestResp>(c).node == closest.node);
  }

  core::InfoResp info;
  info.info = RingInfo{"test-ring", 64, 5, 6, 200};
  auto i = reply_through_wire(core::InfoReq{}, info);
  REQUIRE(std::holds_alternative<core::InfoResp>(i));
  const RingInfo& got = std::get<core::InfoResp>(i).info;
  CHECK(got.ring_name == "test-ring");
  CHECK(got.id_bits == 64);
  CHECK(got.replicas == 5);
  CHECK(got.successor_list == 6);
  CHECK(got.stabilize_ms == 200);
  CHECK_FALSE(got.open_ring);
  info.info.open_ring = true;
  auto open = reply_through_wire(core::InfoReq{}, info);
  CHECK(std::get<core::InfoResp>(open).info.open_ring);
  CHECK(encode_response(info).body.find(R"("open":true)") != std::string::npos);
}

TEST_CASE("codec: ids in JSON are 16 lower-case hex digits") {
  const auto wire = encode_response(core::PingResp{PeerInfo{0xABCDEF0123456789ULL, "127.0.0.1:1"}});
  CHECK(wire.body == R"({"id":"abcdef0123456789","address":"127.0.0.1:1"})");
}

TEST_CASE("codec: an error travels as its code, HTTP status and message") {
  for (const Status& s : {Status::NotFound("user alice"), Status::Unavailable("quorum not met"),
                          Status::InvalidArgument("bad"), Status::NotResponsible("ask 127.0.0.1:7001")}) {
    const WireResponse wire = encode_error(s);
    CHECK(wire.status == http_status(s.code()));
    auto back = decode_reply(core::PingReq{}, wire.status, wire.body);
    REQUIRE_FALSE(back.ok());
    CHECK(back.status().code() == s.code());
    CHECK(back.status().message() == s.message());
  }
  CHECK(encode_error(Status::NotFound("x")).body == R"({"error":{"code":"not_found","message":"x"}})");

  // A message with quotes, control bytes and invalid UTF-8 still makes JSON
  // that decodes to an error of the same code.
  const WireResponse odd = encode_error(Status::Internal(std::string("a\"b\n\x01\xff", 6)));
  auto back = decode_reply(core::PingReq{}, odd.status, odd.body);
  CHECK(back.status().code() == Code::kInternal);
}

TEST_CASE("codec: an error status without a JSON body maps to the status's code") {
  auto r = decode_reply(core::PingReq{}, 503, "Service Unavailable");
  CHECK(r.status().code() == Code::kUnavailable);
  CHECK(r.status().message().find("503") != std::string::npos);
  CHECK(decode_reply(core::PingReq{}, 404, "").status().code() == Code::kNotFound);
  CHECK(decode_reply(core::PingReq{}, 500, R"({"error":"flat"})").status().code() == Code::kInternal);
}

TEST_CASE("codec: an unknown method or path is not_found") {
  auto r = decode_request(get("/v1/ring/nothing"));
  CHECK(r.status().code() == Code::kNotFound);
  CHECK(r.status().message().find("/v1/ring/nothing") != std::string::npos);
  CHECK(decode_request(post("/v1/ring/ping", "{}")).status().code() == Code::kNotFound);
}

TEST_CASE("codec: malformed request bodies are refused naming the field") {
  check_rejected(post("/v1/ring/notify", "not json"), "not valid JSON");
  check_rejected(post("/v1/ring/notify", ""), "not valid JSON");
  check_rejected(post("/v1/ring/notify", R"({"id":"0000000000000001","address":"a:1"} trailing)"), "not valid JSON");
  check_rejected(post("/v1/ring/notify", "[]"), "must be a JSON object");
  check_rejected(post("/v1/ring/notify", R"({"address":"127.0.0.1:1"})"), "field 'id' is missing");
  check_rejected(post("/v1/ring/notify", R"({"id":"0000000000000001"})"), "field 'address' is missing");
  check_rejected(post("/v1/ring/notify", R"({"id":1,"address":"127.0.0.1:1"})"), "field 'id' must be 16 hex");
  check_rejected(post("/v1/ring/notify", R"({"id":"xyz","address":"127.0.0.1:1"})"), "field 'id' must be 16 hex");
  check_rejected(post("/v1/ring/notify", R"({"id":"000000000000000g","address":"127.0.0.1:1"})"), "'000000000000000g'");
  check_rejected(post("/v1/ring/notify", R"({"id":"00000000000000011","address":"127.0.0.1:1"})"), "field 'id'");
  check_rejected(post("/v1/ring/notify", R"({"id":"0000000000000001","address":"no-port"})"), "field 'address'");
  check_rejected(post("/v1/ring/notify", R"({"id":"0000000000000001","address":"h:99999"})"), "field 'address'");
  check_rejected(post("/v1/ring/notify", R"({"id":"0000000000000001","address":["h:1"]})"), "must be a \"host:port\"");

  check_rejected(post("/v1/ring/leave", R"({"predecessor":null,"successors":[]})"), "field 'leaving' is missing");
  check_rejected(post("/v1/ring/leave", R"({"leaving":{"id":"0000000000000001","address":"a:1"},"predecessor":null,
                                           "successors":{}})"),
                 "field 'successors' must be an array");
  check_rejected(post("/v1/ring/leave", R"({"leaving":{"id":"0000000000000001","address":"a:1"},"predecessor":7,
                                           "successors":[]})"),
                 "field 'predecessor' must be an {\"id\",\"address\"} object");
  check_rejected(post("/v1/ring/leave", R"({"leaving":{"id":"0000000000000001","address":"a:1"},"predecessor":null,
                                           "successors":[{"id":"0000000000000002","address":"b:2"},
                                                         {"id":"0000000000000003"}]})"),
                 "field 'successors[1].address' is missing");
}

TEST_CASE("codec: a hostile body does not exhaust the stack") {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  check_rejected(post("/v1/ring/notify", deep), "must be a JSON object");
  const std::string unclosed = "{\"id\":" + std::string(100000, '[');
  check_rejected(post("/v1/ring/notify", unclosed), "not valid JSON");
}

TEST_CASE("codec: malformed query parameters are refused naming the parameter") {
  check_rejected(get("/v1/ring/closest"), "parameter 'key' is missing");
  check_rejected(get("/v1/ring/closest", {{"key", "123"}}), "parameter 'key' must be 16 hex digits, got '123'");
  check_rejected(get("/v1/ring/closest", {{"key", "00000000000000zz"}}), "parameter 'key'");
  check_rejected(get("/v1/ring/closest", {{"key", "0000000000000001"}, {"exclude", "0000000000000002,zz"}}),
                 "parameter 'exclude'");
  check_rejected(get("/v1/ring/closest", {{"key", "0000000000000001"}, {"exclude", "0000000000000002,"}}),
                 "parameter 'exclude'");
  check_rejected(get("/v1/ring/state", {{"fingers", "yes"}}), "parameter 'fingers' must be 0 or 1");
}

TEST_CASE("codec: malformed response bodies are refused naming the field") {
  check_reply_rejected(core::PingReq{}, "{", "not valid JSON");
  check_reply_rejected(core::PingReq{}, R"({"id":"0000000000000001"})", "field 'address' is missing");
  check_reply_rejected(core::StateReq{}, R"({"id":"0000000000000001","address":"a:1","predecessor":null,
      "successors":[{"id":"0000000000000002","address":"b:2"},{"id":"bad","address":"c:3"}],"fingers":[]})",
                       "field 'successors[1].id' must be 16 hex digits, got 'bad'");
  check_reply_rejected(core::StateReq{}, R"({"id":"0000000000000001","address":"a:1","predecessor":null,
      "successors":[],"fingers":[null,{"id":"0000000000000002"}]})",
                       "field 'fingers[1].address' is missing");
  check_reply_rejected(core::StateReq{}, R"({"id":"0000000000000001","address":"a:1","predecessor":null,
      "successors":[]})",
                       "field 'fingers' is missing");
  check_reply_rejected(core::ClosestReq{}, R"({"done":"yes","node":{"id":"0000000000000001","address":"a:1"}})",
                       "field 'done' must be true or false");
  check_reply_rejected(core::ClosestReq{}, R"({"done":true})", "field 'node' is missing");
  check_reply_rejected(core::InfoReq{}, R"({"ring":"r","id_bits":32,"replicas":3,"successor_list":4,"stabilize_ms":1})",
                       "field 'id_bits' must be in [64, 64], got 32");
  check_reply_rejected(core::InfoReq{}, R"({"ring":"","id_bits":64,"replicas":3,"successor_list":4,"stabilize_ms":1})",
                       "field 'ring' must have 1 to 64 characters");
  check_reply_rejected(core::InfoReq{}, R"({"ring":"r","id_bits":64,"replicas":3.5,"successor_list":4,
      "stabilize_ms":1})",
                       "field 'replicas' must be an integer");
  check_reply_rejected(core::InfoReq{}, R"({"ring":"r","id_bits":64,"replicas":3,"stabilize_ms":1})",
                       "field 'successor_list' is missing");
}

TEST_CASE("codec: query values are percent-encoded on the request line") {
  WireRequest w = get("/v1/x", {{"a b", "c&d=e"}, {"k", "1,2"}});
  CHECK(w.target() == "/v1/x?a%20b=c%26d%3De&k=1,2");
  CHECK(*w.param("k") == "1,2");
  CHECK(w.param("missing") == nullptr);
}

TEST_CASE("address: host:port forms are parsed and garbage is named") {
  auto v4 = parse_host_port("127.0.0.1:7000", "peer");
  REQUIRE(v4.ok());
  CHECK(v4->host == "127.0.0.1");
  CHECK(v4->port == 7000);
  auto v6 = parse_host_port("[::1]:80", "peer");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(format_host_port(v6->host, v6->port) == "[::1]:80");
  CHECK(parse_host_port("localhost:0", "listen address", true).ok());

  auto expect_bad = [](std::string_view text, std::string_view needle) {
    auto r = parse_host_port(text, "listen address");
    REQUIRE_MESSAGE(!r.ok(), "accepted '", text, "'");
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_MESSAGE(r.status().message().find(needle) != std::string::npos, "expected '", needle, "' in '",
                  r.status().message(), "'");
    CHECK(r.status().message().find("listen address") != std::string::npos);
  };
  expect_bad("", "is empty");
  expect_bad("127.0.0.1", "has no port");
  expect_bad("127.0.0.1:", "has no valid port");
  expect_bad(":7000", "has no host");
  expect_bad("127.0.0.1:70000", "above 65535");
  expect_bad("127.0.0.1:7x", "not a number");
  expect_bad("127.0.0.1:0", "port 0");
  expect_bad("::1:80", "IPv6 without brackets");
  expect_bad("[::1:80", "without ']'");
  expect_bad("bad host:80", "cannot be in a host name");
}

// --- Storage messages -----------------------------------------------------------

namespace {

core::Record sample_record(std::uint64_t key, std::string sub, std::string payload) {
  core::Record r;
  r.key = key;
  r.sub = std::move(sub);
  r.version = 0xfffffffffffffff0ULL;  // beyond 2^53: must not pass through a double
  r.tombstone = false;
  r.expires_at = 1'900'000'000'123LL;
  r.payload = std::move(payload);
  return r;
}

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
  return s;
}

core::StoreSyncReq push_req(std::vector<core::Record> records) {
  core::StoreSyncReq req;
  req.phase = core::StoreSyncReq::Phase::kPush;
  req.from = peer("127.0.0.1:7000");
  req.a = 0x10;
  req.b = 0x20;
  req.buckets = {0, 5, 63};
  req.records = std::move(records);
  return req;
}

}  // namespace

TEST_CASE("codec: storage requests survive a round trip") {
  for (bool replica : {false, true}) {
    core::StorePutReq put{sample_record(0xfedcba9876543210ULL, "msg/1 é", all_bytes()), replica};
    put.record.tombstone = replica;  // both values of both flags
    auto p = through_wire(put);
    REQUIRE(std::holds_alternative<core::StorePutReq>(p));
    CHECK(std::get<core::StorePutReq>(p).record == put.record);
    CHECK(std::get<core::StorePutReq>(p).replica == replica);
  }
  core::StorePutReq empty{sample_record(0, "", ""), false};
  empty.record.expires_at = 0;
  CHECK(std::get<core::StorePutReq>(through_wire(empty)).record == empty.record);

  for (bool local : {false, true}) {
    core::StoreGetReq get_req{0x0123456789abcdefULL, "a b&c=d/é", local};
    auto g = through_wire(get_req);
    REQUIRE(std::holds_alternative<core::StoreGetReq>(g));
    CHECK(std::get<core::StoreGetReq>(g).key == get_req.key);
    CHECK(std::get<core::StoreGetReq>(g).sub == get_req.sub);
    CHECK(std::get<core::StoreGetReq>(g).local == local);
  }

  core::StoreSyncReq compare;
  compare.phase = core::StoreSyncReq::Phase::kCompare;
  compare.from = peer("127.0.0.1:7000");
  compare.a = 0xffffffffffffff00ULL;
  compare.b = 0x100;
  for (int i = 0; i < core::kDigestBuckets; ++i)
    compare.digests[i] = core::Hash128{static_cast<std::uint64_t>(i) * 0x1111, ~static_cast<std::uint64_t>(i)};
  auto c = through_wire(compare);
  REQUIRE(std::holds_alternative<core::StoreSyncReq>(c));
  const auto& cg = std::get<core::StoreSyncReq>(c);
  CHECK(cg.phase == core::StoreSyncReq::Phase::kCompare);
  CHECK(cg.from == compare.from);
  CHECK(cg.a == compare.a);
  CHECK(cg.b == compare.b);
  CHECK(cg.digests == compare.digests);
  CHECK_FALSE(cg.after.has_value());

  // A resumed compare carries its cursor.
  compare.after = core::ItemKey{0xfffffffffffffff0ULL, "0192abcd"};
  auto resumed = through_wire(compare);
  REQUIRE(std::holds_alternative<core::StoreSyncReq>(resumed));
  const auto& rg = std::get<core::StoreSyncReq>(resumed);
  REQUIRE(rg.after.has_value());
  CHECK(*rg.after == *compare.after);

  const auto push = push_req({sample_record(0x11, "", "x"), sample_record(0x12, "s", all_bytes())});
  auto s = through_wire(push);
  REQUIRE(std::holds_alternative<core::StoreSyncReq>(s));
  const auto& sg = std::get<core::StoreSyncReq>(s);
  CHECK(sg.phase == core::StoreSyncReq::Phase::kPush);
  CHECK(sg.buckets == push.buckets);
  CHECK(sg.records == push.records);
  CHECK(std::get<core::StoreSyncReq>(through_wire(push_req({}))).records.empty());
}

TEST_CASE("codec: storage requests go to the documented method, path and query") {
  const WireRequest put = encode_request(core::StorePutReq{sample_record(0xab, "s", "hi"), true});
  CHECK(put.method == "POST");
  CHECK(put.path == "/v1/store/put");
  CHECK(put.body == R"({"key":"00000000000000ab","sub":"s","version":18446744073709551600,"tombstone":false,)"
                    R"("expires_at":1900000000123,"payload":"aGk=","replica":true})");
  CHECK(encode_request(core::StoreGetReq{0xab, "", false}).target() == "/v1/store/get?key=00000000000000ab&sub=");
  CHECK(encode_request(core::StoreGetReq{0xab, "x/y", true}).target() ==
        "/v1/store/get?key=00000000000000ab&sub=x%2Fy&local=1");
  const WireRequest sync = encode_request(push_req({}));
  CHECK(sync.method == "POST");
  CHECK(sync.path == "/v1/store/sync");
  CHECK(sync.body.find(R"("phase":"push")") != std::string::npos);
  // A get without sub reads the key's main item.
  auto g = decode_request(get("/v1/store/get", {{"key", "00000000000000ab"}}));
  REQUIRE(g.ok());
  CHECK(std::get<core::StoreGetReq>(*g).sub.empty());
  CHECK_FALSE(std::get<core::StoreGetReq>(*g).local);
}

TEST_CASE("codec: storage responses survive a round trip") {
  core::StorePutResp put{3, 0xfffffffffffffff0ULL};
  auto p = reply_through_wire(core::StorePutReq{}, put);
  REQUIRE(std::holds_alternative<core::StorePutResp>(p));
  CHECK(std::get<core::StorePutResp>(p).copies == 3);
  CHECK(std::get<core::StorePutResp>(p).version == put.version);

  core::StoreGetResp found{sample_record(0x42, "sub", all_bytes())};
  found.record->tombstone = true;
  auto f = reply_through_wire(core::StoreGetReq{}, found);
  REQUIRE(std::holds_alternative<core::StoreGetResp>(f));
  CHECK(std::get<core::StoreGetResp>(f).record == found.record);
  auto none = reply_through_wire(core::StoreGetReq{}, core::StoreGetResp{});
  CHECK_FALSE(std::get<core::StoreGetResp>(none).record.has_value());
  CHECK(encode_response(core::StoreGetResp{}).body == R"({"record":null})");

  core::StoreSyncResp sync;
  sync.differing = {1, 2, 63};
  sync.records = {sample_record(1, "", ""), sample_record(2, "z", all_bytes())};
  sync.more = true;
  sync.merged = 0xfffffffffffffff0ULL;
  auto s = reply_through_wire(core::StoreSyncReq{}, sync);
  REQUIRE(std::holds_alternative<core::StoreSyncResp>(s));
  const auto& sg = std::get<core::StoreSyncResp>(s);
  CHECK(sg.differing == sync.differing);
  CHECK(sg.records == sync.records);
  CHECK(sg.more);
  CHECK(sg.merged == sync.merged);
}

TEST_CASE("codec: ring state carries record counts when the node reports them") {
  core::StateResp state;
  state.view.self = peer("127.0.0.1:7000");
  state.view.records = RecordCounts{12, 34};
  auto s = reply_through_wire(core::StateReq{}, state);
  CHECK(std::get<core::StateResp>(s).view.records == state.view.records);
  state.view.records.reset();
  CHECK_FALSE(std::get<core::StateResp>(reply_through_wire(core::StateReq{}, state)).view.records.has_value());
  check_reply_rejected(core::StateReq{}, R"({"id":"0000000000000001","address":"a:1","predecessor":null,
      "successors":[],"fingers":[],"records":{"primary":-1,"replica":0}})",
                       "field 'records.primary' must be an integer");
}

TEST_CASE("codec: malformed storage bodies are refused naming the field") {
  const std::string ok_put =
      R"({"key":"00000000000000ab","sub":"","version":1,"tombstone":false,"expires_at":0,"payload":"aGk=",)"
      R"("replica":false})";
  REQUIRE(decode_request(post("/v1/store/put", ok_put)).ok());
  auto put_with = [&](const std::string& field, const std::string& value) {
    std::string body = ok_put;
    const auto at = body.find("\"" + field + "\":");
    REQUIRE(at != std::string::npos);
    const auto start = at + field.size() + 3;
    const auto end = body.find_first_of(",}", start);
    return post("/v1/store/put", body.substr(0, start) + value + body.substr(end));
  };
  check_rejected(post("/v1/store/put", ok_put.substr(0, ok_put.size() - 10)), "not valid JSON");
  check_rejected(put_with("key", R"("abc")"), "field 'key' must be 16 hex digits");
  check_rejected(put_with("version", "-1"), "field 'version' must be an integer");
  check_rejected(put_with("version", "1.5"), "field 'version' must be an integer");
  check_rejected(put_with("version", "18446744073709551616"), "field 'version'");
  check_rejected(put_with("expires_at", "-5"), "field 'expires_at' must be at least 0");
  check_rejected(put_with("tombstone", "0"), "field 'tombstone' must be true or false");
  check_rejected(put_with("payload", R"("aGk")"), "field 'payload' must be padded base64");
  check_rejected(put_with("payload", R"("a$k=")"), "field 'payload' must be padded base64");
  check_rejected(put_with("payload", R"("aGk=aGk=")"), "field 'payload'");
  check_rejected(put_with("payload", R"("aGk= ")"), "field 'payload'");
  check_rejected(put_with("payload", "7"), "field 'payload' must be a base64 string");
  check_rejected(put_with("sub", "\"" + std::string(core::kMaxSubSize + 1, 's') + "\""),
                 "field 'sub' must have at most 503 bytes");
  check_rejected(post("/v1/store/put", R"({"key":"00000000000000ab","sub":"","version":1,"tombstone":false,
                                          "expires_at":0,"payload":""})"),
                 "field 'replica' is missing");

  check_rejected(get("/v1/store/get"), "parameter 'key' is missing");
  check_rejected(get("/v1/store/get", {{"key", "zz"}}), "parameter 'key' must be 16 hex digits");
  check_rejected(get("/v1/store/get", {{"key", "00000000000000ab"}, {"local", "yes"}}), "parameter 'local'");
  check_rejected(get("/v1/store/get", {{"key", "00000000000000ab"}, {"sub", std::string(600, 's')}}),
                 "parameter 'sub' must have at most 503 bytes");
}

TEST_CASE("codec: a corrupt or truncated sync body is refused naming the field") {
  const WireRequest good = encode_request(push_req({sample_record(0x11, "a", "payload one"),
                                                    sample_record(0x12, "b", "payload two")}));
  REQUIRE(decode_request(good).ok());

  // Truncated anywhere: never accepted, never a crash.
  for (std::size_t n = 0; n < good.body.size(); n += 7)
    CHECK_FALSE(decode_request(post("/v1/store/sync", good.body.substr(0, n))).ok());

  // Valid base64 of bytes that are not a record encoding.
  auto with_records = [&](const std::string& b64) {
    const auto at = good.body.find(R"("records":")") + 11;
    const auto end = good.body.find('"', at);
    return post("/v1/store/sync", good.body.substr(0, at) + b64 + good.body.substr(end));
  };
  check_rejected(with_records("AAAA"), "field 'records' does not hold valid records");
  // The real encoding cut short by a few bytes, re-encoded as valid base64.
  std::string bin = core::encode_records(std::vector<core::Record>{sample_record(0x11, "a", "payload one")});
  bin.resize(bin.size() - 3);
  std::string b64;
  {
    const WireRequest cut = encode_request(core::StorePutReq{sample_record(1, "", bin), false});
    const auto at = cut.body.find(R"("payload":")") + 11;
    b64 = cut.body.substr(at, cut.body.find('"', at) - at);
  }
  check_rejected(with_records(b64), "field 'records' does not hold valid records");
  check_rejected(with_records("!!!!"), "field 'records' must be padded base64");

  const std::string head = R"({"phase":"push","from":{"id":"0000000000000001","address":"127.0.0.1:1"},)";
  check_rejected(post("/v1/store/sync", head + R"("a":"0000000000000001","b":"0000000000000002","records":""})"),
                 "field 'buckets' is missing");
  check_rejected(post("/v1/store/sync", head + R"("a":"0000000000000001","b":"0000000000000002","buckets":[64],
                                                  "records":""})"),
                 "field 'buckets[0]' must be a bucket index");
  check_rejected(post("/v1/store/sync", head + R"("a":"01","b":"0000000000000002","buckets":[],"records":""})"),
                 "field 'a' must be 16 hex digits");
  check_rejected(post("/v1/store/sync", R"({"phase":"merge","from":{"id":"0000000000000001","address":"a:1"},
                                           "a":"0000000000000001","b":"0000000000000002"})"),
                 "field 'phase' must be \"compare\" or \"push\"");
  const std::string cmp = R"({"phase":"compare","from":{"id":"0000000000000001","address":"127.0.0.1:1"},)"
                          R"("a":"0000000000000001","b":"0000000000000002",)";
  check_rejected(post("/v1/store/sync", cmp + R"("buckets":[]})"), "field 'digests' is missing");
  check_rejected(post("/v1/store/sync", cmp + R"("digests":["00000000000000000000000000000000"]})"),
                 "field 'digests' must have exactly 64 entries");
  std::string digests = "[";
  for (int i = 0; i < 64; ++i) digests += std::string(i ? "," : "") + (i == 9 ? "\"xyz\"" : "\"" + std::string(32, '0') + "\"");
  check_rejected(post("/v1/store/sync", cmp + R"("digests":)" + digests + "]}"), "field 'digests[9]' must be 32 hex");
}

TEST_CASE("codec: malformed storage responses are refused naming the field") {
  check_reply_rejected(core::StorePutReq{}, R"({"copies":2})", "field 'version' is missing");
  check_reply_rejected(core::StoreGetReq{}, R"({})", "field 'record' is missing");
  check_reply_rejected(core::StoreGetReq{}, R"({"record":{"key":"0000000000000001"}})", "field 'record.sub' is missing");
  check_reply_rejected(core::StoreSyncReq{}, R"({"differing":[],"records":"AAAA","more":false,"merged":0})",
                       "field 'records' does not hold valid records");
}

TEST_CASE("codec: a client's put or get through an entry node carries forward") {
  core::StorePutReq put{sample_record(0xab, "", "hi"), false, true};
  auto p = through_wire(put);
  CHECK(std::get<core::StorePutReq>(p).forward);
  CHECK(encode_request(put).body.find(R"("forward":true)") != std::string::npos);
  // Node-to-node puts leave it out; a client may too.
  CHECK(encode_request(core::StorePutReq{}).body.find("forward") == std::string::npos);
  CHECK_FALSE(std::get<core::StorePutReq>(through_wire(core::StorePutReq{})).forward);

  core::StoreGetReq g{0xab, "s", false, true};
  CHECK(encode_request(g).target() == "/v1/store/get?key=00000000000000ab&sub=s&forward=1");
  CHECK(std::get<core::StoreGetReq>(through_wire(g)).forward);

  const std::string replica_forward =
      R"({"key":"00000000000000ab","sub":"","version":1,"tombstone":false,"expires_at":0,"payload":"",)"
      R"("replica":true,"forward":true})";
  check_rejected(post("/v1/store/put", replica_forward), "field 'forward' must be false when 'replica' is true");
  check_rejected(get("/v1/store/get", {{"key", "00000000000000ab"}, {"local", "1"}, {"forward", "1"}}),
                 "'local' and 'forward' exclude each other");
}
