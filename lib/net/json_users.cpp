// The user messages between nodes: a login checked by the user's primary,
// and the list of users.
#include <fmt/format.h>

#include "crypto/encoding.hpp"
#include "net/json_codec_parts.hpp"
#include "net/user_json.hpp"

namespace dws::net::codec {

namespace {

constexpr auto describe_login_answer = [](auto& v, auto& r) {
  v.int64("retry_after_s", r.retry_after_s, 0);
  v.boolean("ok", r.ok);
  v.bytes("sealed_secret", r.sealed_secret, 1024);
  v.bytes("public_key", r.public_key, 64);
  v.uint64("version", r.version);
};

constexpr auto describe_login_request = [](auto& v, auto& r) {
  v.string("nickname", r.nickname, 64);
  v.bytes("auth_key", r.auth_key, 32);
  v.string("source", r.source, 64);
};

}  // namespace

void write_body(Writer& w, const core::LoginResp& r) {
  write_object(w, describe_login_answer, r);
}
Result<core::LoginResp> read_body(const Value& v, Type<core::LoginResp>) {
  Reader r("node/login response");
  auto out = read_object<core::LoginResp>(r, v, "", describe_login_answer);
  return r.finish(std::move(out));
}

void write_body(Writer& w, const core::UserListResp& r) { write_user_list(w, r.users); }
Result<core::UserListResp> read_body(const Value& v, Type<core::UserListResp>) {
  Reader r("node/users response");
  core::UserListResp out;
  out.users = read_user_list(r, v, core::kMaxScanLimit);
  return r.finish(std::move(out));
}

void encode_login(const core::LoginReq& req, WireRequest& wire) {
  wire.body = to_json([&](Writer& w) { write_object(w, describe_login_request, req); });
}
Result<core::LoginReq> decode_login(const WireRequest& wire) {
  Reader r("node/login request");
  if (!r.parse(wire.body)) return r.status();
  auto req = read_object<core::LoginReq>(r, r.root(), "", describe_login_request);
  if (!r.failed() && req.auth_key.size() != 32)
    r.fail("auth_key", fmt::format("must hold 32 bytes, got {}", req.auth_key.size()));
  return r.finish(std::move(req));
}

void encode_user_list(const core::UserListReq& req, WireRequest& wire) {
  wire.query.emplace_back("prefix", req.prefix);
  wire.query.emplace_back("limit", std::to_string(req.limit));
}
Result<core::UserListReq> decode_user_list(const WireRequest& wire) {
  constexpr std::string_view kWhat = "node/users request";
  core::UserListReq req;
  for (Status s : {text_param(wire, kWhat, "prefix", 64, req.prefix),
                   count_param(wire, kWhat, "limit", core::kMaxScanLimit, req.limit)})
    if (!s.ok()) return s;
  return req;
}

}  // namespace dws::net::codec
