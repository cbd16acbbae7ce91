#include "net/json_codec.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <tuple>
#include <type_traits>

#include "core/id.hpp"
#include "net/address.hpp"

namespace dws::net {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using Value = rapidjson::Value;

// Bounds on list lengths a peer may send; far above any sane ring setting,
// low enough that a hostile body cannot make us allocate much.
constexpr std::size_t kMaxListEntries = 256;
constexpr std::size_t kMaxFingers = 64;
constexpr std::size_t kMaxRingName = 64;

// Input echoed in an error message: printable ASCII only (the message goes
// back out as JSON and into logs) and short.
std::string quote(std::string_view text) {
  std::string out = "'";
  const std::size_t n = text.size() < 40 ? text.size() : 40;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  out += text.size() > n ? "'..." : "'";
  return out;
}

std::string_view type_name(const Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "a boolean";
    case rapidjson::kObjectType: return "an object";
    case rapidjson::kArrayType: return "an array";
    case rapidjson::kStringType: return "a string";
    case rapidjson::kNumberType: return "a number";
  }
  return "unknown";
}

// Reads fields out of a parsed document, remembering the first problem so
// that decoders read straight through and check once at the end.
class Reader {
 public:
  explicit Reader(std::string what) : what_(std::move(what)) {}

  bool failed() const { return !error_.empty(); }

  void fail(std::string_view path, std::string_view why) {
    if (error_.empty()) error_ = fmt::format("{}: field '{}' {}", what_, path, why);
  }

  Status status() const { return Status::InvalidArgument(error_); }

  template <typename T>
  Result<T> finish(T value) const {
    if (failed()) return status();
    return value;
  }

  // The member `name` of object `obj`; nullptr (and an error) when missing.
  const Value* member(const Value& obj, std::string_view path, const char* name) {
    if (failed()) return nullptr;
    if (!obj.IsObject()) {
      fail(path, fmt::format("must be an object, got {}", type_name(obj)));
      return nullptr;
    }
    const auto it = obj.FindMember(name);
    if (it == obj.MemberEnd()) {
      fail(join(path, name), "is missing");
      return nullptr;
    }
    return &it->value;
  }

  std::string string(const Value& obj, std::string_view path, const char* name, std::size_t max_len) {
    const Value* v = member(obj, path, name);
    if (!v) return {};
    if (!v->IsString()) {
      fail(join(path, name), fmt::format("must be a string, got {}", type_name(*v)));
      return {};
    }
    std::string s(v->GetString(), v->GetStringLength());
    if (s.empty() || s.size() > max_len)
      fail(join(path, name), fmt::format("must have 1 to {} characters, got {}", max_len, s.size()));
    return s;
  }

  Id id(const Value& obj, std::string_view path, const char* name) {
    const Value* v = member(obj, path, name);
    if (!v) return 0;
    if (!v->IsString()) {
      fail(join(path, name), fmt::format("must be 16 hex digits in a string, got {}", type_name(*v)));
      return 0;
    }
    const std::string_view s(v->GetString(), v->GetStringLength());
    const auto parsed = core::parse_hex(s);
    if (!parsed) {
      fail(join(path, name), fmt::format("must be 16 hex digits, got {}", quote(s)));
      return 0;
    }
    return *parsed;
  }

  std::string address(const Value& obj, std::string_view path, const char* name) {
    const Value* v = member(obj, path, name);
    if (!v) return {};
    if (!v->IsString()) {
      fail(join(path, name), fmt::format("must be a \"host:port\" string, got {}", type_name(*v)));
      return {};
    }
    std::string s(v->GetString(), v->GetStringLength());
    const auto hp = parse_host_port(s, "address");
    if (!hp.ok()) fail(join(path, name), fmt::format("must be host:port, got {}", quote(s)));
    return s;
  }

  int integer(const Value& obj, std::string_view path, const char* name, int min, int max) {
    const Value* v = member(obj, path, name);
    if (!v) return 0;
    if (!v->IsInt()) {
      fail(join(path, name), fmt::format("must be an integer, got {}", type_name(*v)));
      return 0;
    }
    const int i = v->GetInt();
    if (i < min || i > max) fail(join(path, name), fmt::format("must be in [{}, {}], got {}", min, max, i));
    return i;
  }

  bool boolean(const Value& obj, std::string_view path, const char* name) {
    const Value* v = member(obj, path, name);
    if (!v) return false;
    if (!v->IsBool()) {
      fail(join(path, name), fmt::format("must be true or false, got {}", type_name(*v)));
      return false;
    }
    return v->GetBool();
  }

  // A {"id","address"} object at `path`.
  PeerInfo peer(const Value& v, std::string_view path) {
    PeerInfo p;
    if (failed()) return p;
    if (!v.IsObject()) {
      fail(path, fmt::format("must be an {{\"id\",\"address\"}} object, got {}", type_name(v)));
      return p;
    }
    p.id = id(v, path, "id");
    p.address = address(v, path, "address");
    return p;
  }

  PeerInfo peer_member(const Value& obj, std::string_view path, const char* name) {
    const Value* v = member(obj, path, name);
    if (!v) return {};
    return peer(*v, join(path, name));
  }

  std::optional<PeerInfo> optional_peer(const Value& obj, std::string_view path, const char* name) {
    const Value* v = member(obj, path, name);
    if (!v || v->IsNull()) return std::nullopt;
    return peer(*v, join(path, name));
  }

  const Value* array(const Value& obj, std::string_view path, const char* name, std::size_t max_len) {
    const Value* v = member(obj, path, name);
    if (!v) return nullptr;
    if (!v->IsArray()) {
      fail(join(path, name), fmt::format("must be an array, got {}", type_name(*v)));
      return nullptr;
    }
    if (v->Size() > max_len) {
      fail(join(path, name), fmt::format("must have at most {} entries, got {}", max_len, v->Size()));
      return nullptr;
    }
    return v;
  }

  std::vector<PeerInfo> peers(const Value& obj, std::string_view path, const char* name) {
    std::vector<PeerInfo> out;
    const Value* arr = array(obj, path, name, kMaxListEntries);
    if (!arr) return out;
    const std::string base = join(path, name);
    for (rapidjson::SizeType i = 0; i < arr->Size() && !failed(); ++i)
      out.push_back(peer((*arr)[i], fmt::format("{}[{}]", base, i)));
    return out;
  }

  static std::string join(std::string_view path, std::string_view name) {
    if (path.empty()) return std::string(name);
    return fmt::format("{}.{}", path, name);
  }

 private:
  std::string what_;
  std::string error_;
};

// Parses a whole body as one JSON object. The iterative parser keeps a
// deeply nested hostile body from exhausting the stack.
Status parse_object(rapidjson::Document& doc, std::string_view body, std::string_view what) {
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError())
    return Status::InvalidArgument(fmt::format("{}: body is not valid JSON ({} at offset {})", what,
                                               rapidjson::GetParseError_En(doc.GetParseError()),
                                               doc.GetErrorOffset()));
  if (!doc.IsObject())
    return Status::InvalidArgument(fmt::format("{}: body must be a JSON object, got {}", what, type_name(doc)));
  return Status::Ok();
}

// --- JSON writers -------------------------------------------------------------

void write_peer_fields(Writer& w, const PeerInfo& p) {
  const std::string hex = core::to_hex(p.id);
  w.Key("id");
  w.String(hex.data(), static_cast<rapidjson::SizeType>(hex.size()));
  w.Key("address");
  w.String(p.address.data(), static_cast<rapidjson::SizeType>(p.address.size()));
}

void write_peer(Writer& w, const PeerInfo& p) {
  w.StartObject();
  write_peer_fields(w, p);
  w.EndObject();
}

void write_optional_peer(Writer& w, const std::optional<PeerInfo>& p) {
  if (p) write_peer(w, *p);
  else w.Null();
}

void write_peers(Writer& w, const std::vector<PeerInfo>& peers) {
  w.StartArray();
  for (const auto& p : peers) write_peer(w, p);
  w.EndArray();
}

void write_string(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

template <typename F>
std::string to_json(F&& write) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  write(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// --- Response bodies: one writer and one reader per response type ---------------

template <typename T>
struct Type {};

void write_body(Writer& w, const core::Ack&) {
  w.StartObject();
  w.EndObject();
}
Result<core::Ack> read_body(const Value&, Type<core::Ack>) { return core::Ack{}; }

void write_body(Writer& w, const core::PingResp& r) { write_peer(w, r.self); }
Result<core::PingResp> read_body(const Value& v, Type<core::PingResp>) {
  Reader r("ping response");
  core::PingResp out;
  out.self = r.peer(v, "");
  return r.finish(out);
}

void write_body(Writer& w, const core::StateResp& r) {
  w.StartObject();
  write_peer_fields(w, r.view.self);
  w.Key("predecessor");
  write_optional_peer(w, r.view.predecessor);
  w.Key("successors");
  write_peers(w, r.view.successors);
  w.Key("fingers");
  w.StartArray();
  for (const auto& f : r.view.fingers) write_optional_peer(w, f);
  w.EndArray();
  w.EndObject();
}
Result<core::StateResp> read_body(const Value& v, Type<core::StateResp>) {
  Reader r("state response");
  core::StateResp out;
  out.view.self = r.peer(v, "");
  out.view.predecessor = r.optional_peer(v, "", "predecessor");
  out.view.successors = r.peers(v, "", "successors");
  if (const Value* fingers = r.array(v, "", "fingers", kMaxFingers)) {
    for (rapidjson::SizeType i = 0; i < fingers->Size() && !r.failed(); ++i) {
      const Value& f = (*fingers)[i];
      if (f.IsNull()) out.view.fingers.emplace_back(std::nullopt);
      else out.view.fingers.emplace_back(r.peer(f, fmt::format("fingers[{}]", i)));
    }
  }
  return r.finish(out);
}

void write_body(Writer& w, const core::ClosestResp& r) {
  w.StartObject();
  w.Key("done");
  w.Bool(r.done);
  w.Key("node");
  write_peer(w, r.node);
  w.EndObject();
}
Result<core::ClosestResp> read_body(const Value& v, Type<core::ClosestResp>) {
  Reader r("closest response");
  core::ClosestResp out;
  out.done = r.boolean(v, "", "done");
  out.node = r.peer_member(v, "", "node");
  return r.finish(out);
}

void write_body(Writer& w, const core::InfoResp& r) {
  w.StartObject();
  w.Key("ring");
  write_string(w, r.info.ring_name);
  w.Key("id_bits");
  w.Int(r.info.id_bits);
  w.Key("replicas");
  w.Int(r.info.replicas);
  w.Key("successor_list");
  w.Int(r.info.successor_list);
  w.Key("stabilize_ms");
  w.Int(r.info.stabilize_ms);
  w.EndObject();
}
Result<core::InfoResp> read_body(const Value& v, Type<core::InfoResp>) {
  Reader r("info response");
  core::InfoResp out;
  out.info.ring_name = r.string(v, "", "ring", kMaxRingName);
  out.info.id_bits = r.integer(v, "", "id_bits", 64, 64);
  out.info.replicas = r.integer(v, "", "replicas", 1, 64);
  out.info.successor_list = r.integer(v, "", "successor_list", 1, static_cast<int>(kMaxListEntries));
  out.info.stabilize_ms = r.integer(v, "", "stabilize_ms", 1, 3600 * 1000);
  return r.finish(out);
}

// --- Requests: query or body, one encoder and decoder per request type --------

void encode_ping(const core::PingReq&, WireRequest&) {}
Result<core::PingReq> decode_ping(const WireRequest&) { return core::PingReq{}; }

void encode_state(const core::StateReq& req, WireRequest& wire) {
  if (req.with_fingers) wire.query.emplace_back("fingers", "1");
}
Result<core::StateReq> decode_state(const WireRequest& wire) {
  core::StateReq req;
  if (const std::string* f = wire.param("fingers")) {
    if (*f == "1" || *f == "true") req.with_fingers = true;
    else if (*f == "0" || *f == "false") req.with_fingers = false;
    else
      return Status::InvalidArgument(
          fmt::format("ring/state request: parameter 'fingers' must be 0 or 1, got {}", quote(*f)));
  }
  return req;
}

void encode_closest(const core::ClosestReq& req, WireRequest& wire) {
  wire.query.emplace_back("key", core::to_hex(req.key));
  if (!req.exclude.empty()) {
    std::string list;
    for (Id id : req.exclude) {
      if (!list.empty()) list += ',';
      list += core::to_hex(id);
    }
    wire.query.emplace_back("exclude", std::move(list));
  }
}
Result<core::ClosestReq> decode_closest(const WireRequest& wire) {
  core::ClosestReq req;
  const std::string* key = wire.param("key");
  if (!key) return Status::InvalidArgument("ring/closest request: parameter 'key' is missing (16 hex digits)");
  const auto k = core::parse_hex(*key);
  if (!k)
    return Status::InvalidArgument(
        fmt::format("ring/closest request: parameter 'key' must be 16 hex digits, got {}", quote(*key)));
  req.key = *k;
  if (const std::string* ex = wire.param("exclude"); ex && !ex->empty()) {
    std::string_view rest = *ex;
    while (true) {
      const auto comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      const auto id = core::parse_hex(item);
      if (!id)
        return Status::InvalidArgument(fmt::format(
            "ring/closest request: parameter 'exclude' must be comma-separated 16-hex-digit ids, got {}",
            quote(item)));
      if (req.exclude.size() >= kMaxListEntries)
        return Status::InvalidArgument(
            fmt::format("ring/closest request: parameter 'exclude' has more than {} ids", kMaxListEntries));
      req.exclude.push_back(*id);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return req;
}

void encode_notify(const core::NotifyReq& req, WireRequest& wire) {
  wire.body = to_json([&](Writer& w) { write_peer(w, req.from); });
}
Result<core::NotifyReq> decode_notify(const WireRequest& wire) {
  rapidjson::Document doc;
  if (Status s = parse_object(doc, wire.body, "ring/notify request"); !s.ok()) return s;
  Reader r("ring/notify request");
  core::NotifyReq req;
  req.from = r.peer(doc, "");
  return r.finish(req);
}

void encode_leave(const core::LeaveReq& req, WireRequest& wire) {
  wire.body = to_json([&](Writer& w) {
    w.StartObject();
    w.Key("leaving");
    write_peer(w, req.leaving);
    w.Key("predecessor");
    write_optional_peer(w, req.predecessor);
    w.Key("successors");
    write_peers(w, req.successors);
    w.EndObject();
  });
}
Result<core::LeaveReq> decode_leave(const WireRequest& wire) {
  rapidjson::Document doc;
  if (Status s = parse_object(doc, wire.body, "ring/leave request"); !s.ok()) return s;
  Reader r("ring/leave request");
  core::LeaveReq req;
  req.leaving = r.peer_member(doc, "", "leaving");
  req.predecessor = r.optional_peer(doc, "", "predecessor");
  req.successors = r.peers(doc, "", "successors");
  return r.finish(req);
}

void encode_info(const core::InfoReq&, WireRequest&) {}
Result<core::InfoReq> decode_info(const WireRequest&) { return core::InfoReq{}; }

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

WireResponse encode_error(const Status& status) {
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
    w.EndObject();
    w.EndObject();
  });
  return out;
}

Code code_for_http_status(int http) {
  switch (http) {
    case 400: return Code::kInvalidArgument;
    case 401: return Code::kUnauthenticated;
    case 403: return Code::kForbidden;
    case 404: return Code::kNotFound;
    case 409: return Code::kExists;
    case 413: return Code::kPayloadTooLarge;
    case 421: return Code::kNotResponsible;
    case 429: return Code::kRateLimited;
    case 503: return Code::kUnavailable;
    default: return Code::kInternal;
  }
}

namespace {

Status decode_error(int http, std::string_view body) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    Reader r("error response");
    const Value* err = r.member(doc, "", "error");
    std::string code;
    std::string message;
    if (err) {
      code = r.string(*err, "error", "code", 64);
      const Value* m = r.member(*err, "error", "message");
      if (m && m->IsString()) message.assign(m->GetString(), m->GetStringLength());
      else r.fail("error.message", "must be a string");
    }
    if (!r.failed()) {
      Code c = code_from_name(code);
      if (c == Code::kOk) c = Code::kInternal;
      return Status(c, message);
    }
  }
  return Status(code_for_http_status(http), fmt::format("HTTP {} without a JSON error body: {}", http, quote(body)));
}

}  // namespace

Result<core::Response> decode_reply(const core::Request& request, int http, std::string_view body) {
  if (http < 200 || http > 299) return decode_error(http, body);
  return std::visit(
      [&](const auto& req) -> Result<core::Response> {
        using Resp = typename std::remove_cvref_t<decltype(row_for<std::decay_t<decltype(req)>>())>::Response;
        const auto& row = row_for<std::decay_t<decltype(req)>>();
        rapidjson::Document doc;
        const std::string what = fmt::format("response to {} {}", row.method, row.path);
        if (Status s = parse_object(doc, body, what); !s.ok()) return s;
        auto resp = read_body(doc, Type<Resp>{});
        if (!resp.ok()) return resp.status();
        return core::Response(std::move(resp).value());
      },
      request);
}

std::string encode_peers(const std::vector<PeerInfo>& peers) {
  return to_json([&](Writer& w) { write_peers(w, peers); });
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
