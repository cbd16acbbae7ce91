#include "net/json_codec.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <tuple>
#include <type_traits>

#include "core/id.hpp"
#include "net/json_codec_parts.hpp"
#include "net/json_fields.hpp"
#include "net/json_writer.hpp"

namespace dws::net {

namespace codec {

Status id_param(const WireRequest& wire, std::string_view what, const char* name, Id& out) {
  const std::string* v = wire.param(name);
  if (!v) return Status::InvalidArgument(fmt::format("{}: parameter '{}' is missing (16 hex digits)", what, name));
  const auto id = core::parse_hex(*v);
  if (!id)
    return Status::InvalidArgument(
        fmt::format("{}: parameter '{}' must be 16 hex digits, got {}", what, name, quote(*v)));
  out = *id;
  return Status::Ok();
}

Status flag_param(const WireRequest& wire, std::string_view what, const char* name, bool& out) {
  const std::string* v = wire.param(name);
  if (!v) return Status::Ok();
  if (*v == "1" || *v == "true") out = true;
  else if (*v == "0" || *v == "false") out = false;
  else return Status::InvalidArgument(fmt::format("{}: parameter '{}' must be 0 or 1, got {}", what, name, quote(*v)));
  return Status::Ok();
}

Status text_param(const WireRequest& wire, std::string_view what, const char* name, std::size_t max_len,
                  std::string& out) {
  const std::string* v = wire.param(name);
  if (!v) return Status::Ok();
  if (v->size() > max_len)
    return Status::InvalidArgument(
        fmt::format("{}: parameter '{}' must have at most {} bytes, got {}", what, name, max_len, v->size()));
  out = *v;
  return Status::Ok();
}

Status count_param(const WireRequest& wire, std::string_view what, const char* name, std::uint32_t max,
                   std::uint32_t& out) {
  const std::string* v = wire.param(name);
  if (!v) return Status::Ok();
  std::uint32_t n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n < 1 || n > max)
    return Status::InvalidArgument(
        fmt::format("{}: parameter '{}' must be in [1, {}], got {}", what, name, max, quote(*v)));
  out = n;
  return Status::Ok();
}

}  // namespace codec

namespace {

using namespace codec;

// --- The table ------------------------------------------------------------------

template <typename Req, typename Resp>
struct Endpoint {
  using Request = Req;
  using Response = Resp;
  std::string_view method;
  std::string_view path;
  void (*encode)(const Req&, WireRequest&);
  Result<Req> (*decode)(const WireRequest&);
};

constexpr std::tuple kEndpoints{
    Endpoint<core::PingReq, core::PingResp>{"GET", "/v1/ring/ping", encode_ping, decode_ping},
    Endpoint<core::StateReq, core::StateResp>{"GET", "/v1/ring/state", encode_state, decode_state},
    Endpoint<core::ClosestReq, core::ClosestResp>{"GET", "/v1/ring/closest", encode_closest, decode_closest},
    Endpoint<core::NotifyReq, core::Ack>{"POST", "/v1/ring/notify", encode_notify, decode_notify},
    Endpoint<core::LeaveReq, core::Ack>{"POST", "/v1/ring/leave", encode_leave, decode_leave},
    Endpoint<core::InfoReq, core::InfoResp>{"GET", "/v1/ring/info", encode_info, decode_info},
    Endpoint<core::StorePutReq, core::StorePutResp>{"POST", "/v1/store/put", encode_store_put, decode_store_put},
    Endpoint<core::StoreGetReq, core::StoreGetResp>{"GET", "/v1/store/get", encode_store_get, decode_store_get},
    Endpoint<core::StoreSyncReq, core::StoreSyncResp>{"POST", "/v1/store/sync", encode_store_sync,
                                                      decode_store_sync},
    Endpoint<core::StoreScanReq, core::StoreScanResp>{"GET", "/v1/store/scan", encode_store_scan,
                                                      decode_store_scan},
    Endpoint<core::LoginReq, core::LoginResp>{"POST", "/v1/node/login", encode_login, decode_login},
    Endpoint<core::UserListReq, core::UserListResp>{"GET", "/v1/node/users", encode_user_list, decode_user_list},
};
constexpr std::size_t kEndpointCount = std::tuple_size_v<decltype(kEndpoints)>;

// The row that carries request type Req.
template <typename Req, std::size_t I = 0>
constexpr const auto& row_for() {
  static_assert(I < kEndpointCount, "a core::Request alternative has no row in kEndpoints");
  using Row = std::remove_cvref_t<decltype(std::get<I>(kEndpoints))>;
  if constexpr (std::is_same_v<typename Row::Request, Req>) return std::get<I>(kEndpoints);
  else return row_for<Req, I + 1>();
}

// Every request alternative must have a row (checked at compile time).
template <std::size_t... I>
constexpr bool all_requests_routed(std::index_sequence<I...>) {
  return ((row_for<std::variant_alternative_t<I, core::Request>>().path.size() > 0) && ...);
}
static_assert(all_requests_routed(std::make_index_sequence<std::variant_size_v<core::Request>>{}));

template <typename F, std::size_t... I>
void for_each_row(F&& f, std::index_sequence<I...>) {
  (f(std::get<I>(kEndpoints)), ...);
}
template <typename F>
void for_each_row(F&& f) {
  for_each_row(std::forward<F>(f), std::make_index_sequence<kEndpointCount>{});
}

bool unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == ',';
}

void append_encoded(std::string& out, std::string_view s) {
  for (char c : s) {
    if (unreserved(c)) out += c;
    else out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
}

}  // namespace

std::string WireRequest::target() const {
  std::string t = path;
  char sep = '?';
  for (const auto& [name, value] : query) {
    t += sep;
    sep = '&';
    append_encoded(t, name);
    t += '=';
    append_encoded(t, value);
  }
  return t;
}

const std::string* WireRequest::param(std::string_view name) const {
  for (const auto& [n, v] : query)
    if (n == name) return &v;
  return nullptr;
}

const std::string* WireRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < n.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(n[i])) == std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return &v;
  }
  return nullptr;
}

std::vector<Route> ring_routes() {
  std::vector<Route> routes;
  for_each_row([&](const auto& row) { routes.push_back({row.method, row.path}); });
  return routes;
}

WireRequest encode_request(const core::Request& request) {
  return std::visit(
      [](const auto& req) {
        const auto& row = row_for<std::decay_t<decltype(req)>>();
        WireRequest wire;
        wire.method = std::string(row.method);
        wire.path = std::string(row.path);
        row.encode(req, wire);
        return wire;
      },
      request);
}

Result<core::Request> decode_request(const WireRequest& wire) {
  Result<core::Request> out = Status::NotFound(fmt::format("no endpoint {} {}", wire.method, quote(wire.path)));
  for_each_row([&](const auto& row) {
    if (row.method != wire.method || row.path != wire.path) return;
    using Req = typename std::remove_cvref_t<decltype(row)>::Request;
    auto decoded = row.decode(wire);
    if (decoded.ok()) out = core::Request(std::in_place_type<Req>, std::move(decoded).value());
    else out = decoded.status();
  });
  return out;
}

WireResponse encode_response(const core::Response& response) {
  WireResponse out;
  out.body = to_json([&](Writer& w) { std::visit([&](const auto& r) { write_body(w, r); }, response); });
  return out;
}

WireResponse encode_error(const Status& status, std::string_view primary) {
  const Code code = status.ok() ? Code::kInternal : status.code();
  WireResponse out;
  out.status = http_status(code);
  out.body = to_json([&](Writer& w) {
    w.StartObject();
    w.Key("error");
    w.StartObject();
    w.Key("code");
    write_string(w, code_name(code));
    w.Key("message");
    write_string(w, status.ok() ? std::string_view("error without a cause") : std::string_view(status.message()));
    if (!primary.empty()) {
      w.Key("primary");
      write_string(w, primary);
    }
    w.EndObject();
    w.EndObject();
  });
  return out;
}

// The inverse of http_status (base/status.cpp's one code table); 500 and
// statuses no code answers with are kInternal.
Code code_for_http_status(int http) {
  for (int c = static_cast<int>(Code::kInvalidArgument); c <= static_cast<int>(Code::kInternal); ++c)
    if (http_status(static_cast<Code>(c)) == http) return static_cast<Code>(c);
  return Code::kInternal;
}

namespace {

Status decode_error(int http, std::string_view body) {
  if (auto err = read_error_body(body); err && err->code && err->message && !err->code->empty() &&
                                        err->code->size() <= 64) {
    Code c = code_from_name(*err->code);
    if (c == Code::kOk) c = Code::kInternal;
    return Status(c, *err->message);
  }
  return Status(code_for_http_status(http), fmt::format("HTTP {} without a JSON error body: {}", http, quote(body)));
}

}  // namespace

std::optional<ErrorBody> read_error_body(std::string_view body) {
  Fields f("error response");
  if (!f.parse(body)) return std::nullopt;
  const Value* err = f.optional(f.root(), "", "error");
  if (!err || !err->IsObject()) return std::nullopt;
  ErrorBody out;
  for (auto [name, field] : {std::pair{"code", &out.code}, std::pair{"message", &out.message},
                             std::pair{"primary", &out.primary}}) {
    const Value* v = f.optional(*err, "error", name);
    if (v && v->IsString()) *field = std::string(v->GetString(), v->GetStringLength());
  }
  return out;
}

Result<core::Response> decode_reply(const core::Request& request, int http, std::string_view body) {
  if (http < 200 || http > 299) return decode_error(http, body);
  return std::visit(
      [&](const auto& req) -> Result<core::Response> {
        using Resp = typename std::remove_cvref_t<decltype(row_for<std::decay_t<decltype(req)>>())>::Response;
        const auto& row = row_for<std::decay_t<decltype(req)>>();
        Fields f(fmt::format("response to {} {}", row.method, row.path));
        if (!f.parse(body)) return f.status();
        auto resp = read_body(f.root(), Type<Resp>{});
        if (!resp.ok()) return resp.status();
        return core::Response(std::move(resp).value());
      },
      request);
}

std::string encode_peers(const std::vector<PeerInfo>& peers) {
  return to_json([&](Writer& w) { write_peers(w, peers); });
}

std::string encode_peer(const PeerInfo& peer) {
  return to_json([&](Writer& w) { write_peer(w, peer); });
}

std::string encode_health(const PeerInfo& self) {
  return to_json([&](Writer& w) {
    w.StartObject();
    w.Key("status");
    w.String("ok");
    write_peer_fields(w, self);
    w.EndObject();
  });
}

}  // namespace dws::net
