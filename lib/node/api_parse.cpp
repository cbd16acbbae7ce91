#include "node/api_parse.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "core/devices.hpp"
#include "core/nickname.hpp"
#include "crypto/encoding.hpp"
#include "net/json_fields.hpp"
#include "net/user_json.hpp"

namespace dws::node::parse {

using net::Fields;
using net::JsonValue;

Result<core::Account> account(std::string_view body) {
  Fields f("account");
  if (!f.parse(body)) return f.status();
  auto a = net::read_json_body<core::Account>(f, f.root());
  return f.finish(std::move(a));
}

Result<core::Envelope> envelope(std::string_view body) {
  if (body.size() > kMaxMessageBody)
    return Status::PayloadTooLarge(fmt::format("message body of {} bytes: an envelope holds at most {} bytes",
                                               body.size(), core::kMaxEnvelopeSize));
  Fields f("envelope");
  if (!f.parse(body)) return f.status();
  auto v = net::read_envelope_view(f, f.root(), "");
  if (f.failed()) return f.status();
  return core::from_view(v);
}

Result<std::array<std::uint8_t, 32>> session_open(std::string_view body) {
  Fields f("session");
  if (!f.parse(body)) return f.status();
  const net::SessionOpen open = net::read_json_body<net::SessionOpen>(f, f.root());
  return f.finish(open.client_key);
}

Result<Login> login(std::string_view body) {
  Fields f("login");
  if (!f.parse(body)) return f.status();
  Login l = net::read_json_body<net::LoginRequest>(f, f.root());
  if (f.failed()) return f.status();
  auto nick = core::fold_nickname(l.nickname);
  if (!nick.ok()) return nick.status();
  l.nickname = std::move(*nick);
  return l;
}

Result<Deletion> deletion(std::string_view body) {
  Fields f("delete");
  if (!f.parse(body)) return f.status();
  Deletion d = net::read_json_body<net::DeletionProof>(f, f.root());
  return f.finish(d);
}

Result<Acks> acks(std::string_view body) {
  Fields f("ack");
  if (!f.parse(body)) return f.status();
  net::AckBody read = net::read_acks(f, f.root(), kMaxAckIds);
  Acks out;
  out.device = std::move(read.device);
  for (std::size_t i = 0; i < read.acks.size() && !f.failed(); ++i) {
    const std::string at = net::index_path("acks", i);
    auto id = core::MessageId::parse(read.acks[i].id);
    if (!id.ok()) f.fail(net::join_path(at, "id"), id.status().message());
    else if (Status st = core::check_nickname(read.acks[i].from); !st.ok()) f.fail(net::join_path(at, "from"), st.message());
    else out.entries.push_back(core::EntryAck{*id, std::move(read.acks[i].from), read.acks[i].sig});
  }
  if (!out.device.empty())
    if (Status st = core::check_device_id(out.device); !st.ok()) f.fail("device", st.message());
  return f.finish(std::move(out));
}

Result<std::string> device_param(const net::WireRequest& w) {
  const std::string* d = w.param("device");
  if (d == nullptr || d->empty()) return std::string();
  if (Status st = core::check_device_id(*d); !st.ok())
    return Status::InvalidArgument("parameter 'device': " + st.message());
  return *d;
}

Result<std::string> path_nick(const net::WireRequest& w) {
  constexpr std::string_view kPrefix = "/v1/users/";
  std::string_view rest = w.path;
  if (!rest.starts_with(kPrefix))
    return Status::InvalidArgument(fmt::format("path '{}' does not name a user: expected /v1/users/{{nick}}",
                                               rest.substr(0, std::min<std::size_t>(rest.size(), 100))));
  rest.remove_prefix(kPrefix.size());
  rest = rest.substr(0, rest.find('/'));
  return core::fold_nickname(rest);
}

Result<std::string> own_path_nick(const net::WireRequest& w, std::string_view caller, std::string_view verb) {
  auto nick = path_nick(w);
  if (!nick.ok()) return nick.status();
  if (caller != *nick)
    return Status::Forbidden(fmt::format("'{}' cannot {} the account of '{}'", caller, verb, *nick));
  return nick;
}

Result<std::int64_t> int_param(const net::WireRequest& w, const char* name, std::int64_t fallback, std::int64_t min,
                               std::int64_t max) {
  const std::string* v = w.param(name);
  if (!v) return fallback;
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n < min || n > max)
    return Status::InvalidArgument(fmt::format("parameter '{}' must be an integer in [{}, {}]", name, min, max));
  return n;
}

Result<std::string> message_id_param(const net::WireRequest& w, const char* name) {
  const std::string* v = w.param(name);
  if (!v || v->empty()) return std::string();
  auto id = core::MessageId::parse(*v);
  if (!id.ok()) return Status::InvalidArgument(fmt::format("parameter '{}': {}", name, id.status().message()));
  return id->hex();
}

Result<std::string> nick_prefix_param(const net::WireRequest& w, const char* name) {
  const std::string* v = w.param(name);
  if (!v || v->empty()) return std::string();
  return core::fold_nickname(*v);
}

}  // namespace dws::node::parse
