#include "node/api_parse.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "core/devices.hpp"
#include "core/nickname.hpp"
#include "crypto/encoding.hpp"

namespace dws::node::parse {

namespace {

using Value = rapidjson::Value;

// Reads fields of one JSON object; the first problem wins and names the field.
class Fields {
 public:
  Fields(std::string_view body, std::string what) : what_(std::move(what)) {
    doc_.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
    if (doc_.HasParseError()) fail_all("body is not valid JSON");
    else if (!doc_.IsObject()) fail_all("body must be a JSON object");
  }

  const Value* get(const char* name) {
    if (!error_.empty()) return nullptr;
    auto it = doc_.FindMember(name);
    if (it == doc_.MemberEnd()) {
      fail(name, "is missing");
      return nullptr;
    }
    return &it->value;
  }
  std::string string(const char* name, std::size_t max = 4096) {
    const Value* v = get(name);
    if (!v) return {};
    if (!v->IsString()) return fail(name, "must be a string"), std::string();
    if (v->GetStringLength() > max) return fail(name, fmt::format("must have at most {} bytes", max)), std::string();
    return std::string(v->GetString(), v->GetStringLength());
  }
  std::uint64_t uint64(const char* name) {
    const Value* v = get(name);
    if (!v) return 0;
    if (!v->IsUint64()) return fail(name, "must be a non-negative integer"), 0;
    return v->GetUint64();
  }
  std::int64_t int64(const char* name) {
    const Value* v = get(name);
    if (!v) return 0;
    if (!v->IsInt64()) return fail(name, "must be an integer"), 0;
    return v->GetInt64();
  }
  template <std::size_t N>
  std::array<std::uint8_t, N> bytes(const char* name) {
    const std::string text = string(name, N * 2 + 8);
    if (!error_.empty()) return {};
    auto b = crypto::from_base64_fixed<N>(text, fmt::format("field '{}'", name));
    if (!b.ok()) return fail_all(b.status().message()), std::array<std::uint8_t, N>{};
    return *b;
  }
  const Value& doc() const { return doc_; }
  bool failed() const { return !error_.empty(); }
  Status status() const { return Status::InvalidArgument(what_ + ": " + error_); }
  void fail(std::string_view name, std::string_view why) {
    if (error_.empty()) error_ = fmt::format("field '{}' {}", name, why);
  }
  void fail_all(std::string_view why) {
    if (error_.empty()) error_ = std::string(why);
  }

 private:
  std::string what_;
  std::string error_;
  rapidjson::Document doc_;
};

}  // namespace

Result<core::Account> account(std::string_view body) {
  Fields f(body, "account");
  core::Account a;
  a.nickname = f.string("nickname", 64);
  a.public_key = f.bytes<crypto::kPublicKeySize>("public_key");
  a.salt = f.bytes<crypto::kSaltSize>("salt");
  a.limits.opslimit = f.uint64("opslimit");
  a.limits.memlimit = f.uint64("memlimit");
  a.auth_hash = f.bytes<32>("auth_hash");
  a.sealed_secret = f.bytes<core::kSealedSecretSize>("sealed_secret");
  a.display_name = f.string("display_name", 1024);
  a.version = f.uint64("version");
  a.signature = f.bytes<crypto::kSignatureSize>("signature");
  if (f.failed()) return f.status();
  return a;
}

Result<core::Envelope> envelope(std::string_view body) {
  if (body.size() > kMaxMessageBody)
    return Status::PayloadTooLarge(fmt::format("message body of {} bytes: an envelope holds at most {} bytes",
                                               body.size(), core::kMaxEnvelopeSize));
  Fields f(body, "envelope");
  core::EnvelopeView v;
  v.id = f.string("id", 64);
  v.from = f.string("from", 64);
  v.to = f.string("to", 64);
  v.sent_at = f.int64("sent_at");
  v.kind = f.string("kind", 32);
  v.nonce = f.string("nonce", 64);
  v.box = f.string("box", kMaxMessageBody);
  v.sig = f.string("sig", 128);
  if (f.failed()) return f.status();
  return core::from_view(v);
}

Result<std::array<std::uint8_t, 32>> session_open(std::string_view body) {
  Fields f(body, "session");
  const auto key = f.bytes<32>("client_key");
  if (f.failed()) return f.status();
  return key;
}

Result<Login> login(std::string_view body) {
  Fields f(body, "login");
  const std::string typed = f.string("nickname", 64);
  Login l;
  l.auth_key = f.bytes<32>("auth_key");
  if (f.failed()) return f.status();
  auto nick = core::fold_nickname(typed);
  if (!nick.ok()) return nick.status();
  l.nickname = std::move(*nick);
  return l;
}

Result<Deletion> deletion(std::string_view body) {
  Fields f(body, "delete");
  Deletion d;
  d.version = f.uint64("version");
  d.sig = f.bytes<crypto::kSignatureSize>("sig");
  if (f.failed()) return f.status();
  return d;
}

Result<Acks> acks(std::string_view body) {
  Fields f(body, "ack");
  const Value* acks = f.get("acks");
  if (f.failed()) return f.status();
  if (!acks->IsArray())
    return Status::InvalidArgument("ack: field 'acks' must be an array of {id, from, sig} objects");
  if (acks->Size() > kMaxAckIds)
    return Status::InvalidArgument(
        fmt::format("ack: field 'acks' has {} entries; at most {} per request", acks->Size(), kMaxAckIds));
  std::vector<core::EntryAck> parsed;
  parsed.reserve(acks->Size());
  for (rapidjson::SizeType i = 0; i < acks->Size(); ++i) {
    const Value& v = (*acks)[i];
    auto field = [&](const char* name) -> const Value* {
      if (!v.IsObject()) return nullptr;
      auto it = v.FindMember(name);
      return it != v.MemberEnd() && it->value.IsString() ? &it->value : nullptr;
    };
    const Value* id_v = field("id");
    const Value* from_v = field("from");
    const Value* sig_v = field("sig");
    if (!id_v || !from_v || !sig_v)
      return Status::InvalidArgument(
          fmt::format("ack: acks[{}] must be an object with string fields 'id', 'from' and 'sig'", i));
    auto id = core::MessageId::parse(std::string_view(id_v->GetString(), id_v->GetStringLength()));
    if (!id.ok()) return Status::InvalidArgument(fmt::format("ack: acks[{}].id: {}", i, id.status().message()));
    const std::string from(from_v->GetString(), from_v->GetStringLength());
    if (Status st = core::check_nickname(from); !st.ok())
      return Status::InvalidArgument(fmt::format("ack: acks[{}].from: {}", i, st.message()));
    auto sig = crypto::from_base64_fixed<crypto::kSignatureSize>(
        std::string_view(sig_v->GetString(), sig_v->GetStringLength()), fmt::format("ack: acks[{}].sig", i));
    if (!sig.ok()) return Status::InvalidArgument(sig.status().message());
    parsed.push_back(core::EntryAck{*id, from, *sig});
  }
  Acks out{std::move(parsed), {}};
  if (auto it = f.doc().FindMember("device"); it != f.doc().MemberEnd()) {
    if (!it->value.IsString()) return Status::InvalidArgument("ack: field 'device' must be a string of 16 hex digits");
    out.device.assign(it->value.GetString(), it->value.GetStringLength());
    if (Status st = core::check_device_id(out.device); !st.ok())
      return Status::InvalidArgument("ack: field 'device': " + st.message());
  }
  return out;
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
