#include "client/client_json.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/nickname.hpp"
#include "core/wire.hpp"
#include "crypto/encoding.hpp"
#include "net/json_writer.hpp"
#include "net/json_codec.hpp"

namespace dws::client {

namespace {

using Writer = net::JsonWriter;
using net::to_json;
constexpr auto str = net::write_string;


void field(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  str(w, value);
}


Status bad(std::string_view what, std::string_view why) {
  return Status::Unavailable(fmt::format("server answer: {} {}", what, why));
}

Result<rapidjson::Document> parse_object(std::string_view body) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return bad("body", "is not a JSON object");
  return doc;
}

Result<std::string> get_string(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return bad(key, "is missing or not a string");
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

Result<std::uint64_t> get_u64(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsUint64()) return bad(key, "is missing or not an unsigned integer");
  return it->value.GetUint64();
}

Result<std::int64_t> get_i64(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsInt64()) return bad(key, "is missing or not an integer");
  return it->value.GetInt64();
}

// Fills `out` from obj[key] or returns the error from the enclosing function.
#define DWS_TRY_ASSIGN(out, expr)        \
  do {                                   \
    auto r_ = (expr);                    \
    if (!r_.ok()) return r_.status();    \
    out = std::move(r_).value();         \
  } while (0)

Result<core::EnvelopeView> read_envelope(const rapidjson::Value& v) {
  if (!v.IsObject()) return bad("message", "is not an object");
  core::EnvelopeView e;
  DWS_TRY_ASSIGN(e.id, get_string(v, "id"));
  DWS_TRY_ASSIGN(e.from, get_string(v, "from"));
  DWS_TRY_ASSIGN(e.to, get_string(v, "to"));
  DWS_TRY_ASSIGN(e.sent_at, get_i64(v, "sent_at"));
  DWS_TRY_ASSIGN(e.kind, get_string(v, "kind"));
  DWS_TRY_ASSIGN(e.nonce, get_string(v, "nonce"));
  DWS_TRY_ASSIGN(e.box, get_string(v, "box"));
  DWS_TRY_ASSIGN(e.sig, get_string(v, "sig"));
  return e;
}

}  // namespace

std::string account_json(const core::Account& a) {
  return to_json([&](Writer& w) {
    w.StartObject();
    field(w, "nickname", a.nickname);
    field(w, "public_key", crypto::to_base64(a.public_key));
    field(w, "salt", crypto::to_base64(a.salt));
    w.Key("opslimit");
    w.Uint64(a.limits.opslimit);
    w.Key("memlimit");
    w.Uint64(a.limits.memlimit);
    field(w, "auth_hash", crypto::to_base64(a.auth_hash));
    field(w, "sealed_secret", crypto::to_base64(a.sealed_secret));
    field(w, "display_name", a.display_name);
    w.Key("version");
    w.Uint64(a.version);
    field(w, "signature", crypto::to_base64(a.signature));
    w.EndObject();
  });
}

std::string envelope_json(const core::Envelope& envelope) {
  const core::EnvelopeView v = core::to_view(envelope);
  return to_json([&](Writer& w) {
    w.StartObject();
    field(w, "id", v.id);
    field(w, "from", v.from);
    field(w, "to", v.to);
    w.Key("sent_at");
    w.Int64(v.sent_at);
    field(w, "kind", v.kind);
    field(w, "nonce", v.nonce);
    field(w, "box", v.box);
    field(w, "sig", v.sig);
    w.EndObject();
  });
}

std::string session_json(std::string_view client_key_b64) {
  return to_json([&](Writer& w) {
    w.StartObject();
    field(w, "client_key", client_key_b64);
    w.EndObject();
  });
}

std::string login_json(std::string_view nickname, std::string_view auth_key_b64) {
  return to_json([&](Writer& w) {
    w.StartObject();
    field(w, "nickname", nickname);
    field(w, "auth_key", auth_key_b64);
    w.EndObject();
  });
}

std::string ids_json(const std::vector<std::string>& ids) {
  return to_json([&](Writer& w) {
    w.StartObject();
    w.Key("ids");
    w.StartArray();
    for (const auto& id : ids) str(w, id);
    w.EndArray();
    w.EndObject();
  });
}

std::string acks_json(const std::vector<AckJson>& acks, std::string_view device) {
  return to_json([&](Writer& w) {
    w.StartObject();
    if (!device.empty()) {
      w.Key("device");
      str(w, device);
    }
    w.Key("acks");
    w.StartArray();
    for (const auto& a : acks) {
      w.StartObject();
      w.Key("id");
      str(w, a.id);
      w.Key("from");
      str(w, a.from);
      w.Key("sig");
      str(w, a.sig_b64);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  });
}

std::string deletion_json(std::uint64_t version, std::string_view sig_b64) {
  return to_json([&](Writer& w) {
    w.StartObject();
    w.Key("version");
    w.Uint64(version);
    w.Key("sig");
    str(w, sig_b64);
    w.EndObject();
  });
}

Result<std::vector<std::string>> parse_ids(std::string_view body) {
  auto doc = parse_object(body);
  if (!doc.ok()) return doc.status();
  auto it = doc->FindMember("ids");
  if (it == doc->MemberEnd() || !it->value.IsArray()) return bad("ids", "is missing or not an array");
  std::vector<std::string> out;
  for (const auto& v : it->value.GetArray()) {
    if (!v.IsString()) return bad("ids", "holds a non-string");
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

std::string receipt_json(const Receipt& receipt) {
  return to_json([&](Writer& w) {
    w.StartObject();
    w.Key("ids");
    w.StartArray();
    for (const auto& id : receipt.ids) str(w, id);
    w.EndArray();
    if (receipt.read) {
      w.Key("read");
      w.Bool(true);
    }
    w.EndObject();
  });
}

std::string encode_sent_copy(const SentCopy& c) {
  core::wire::Writer w;
  w.byte(1);
  w.str(c.to);
  w.fixed(c.id.bytes);
  w.varint(static_cast<std::uint64_t>(c.sent_at));
  w.raw(c.text);
  return std::move(w.out());
}

Result<SentCopy> decode_sent_copy(std::string_view bytes) {
  core::wire::Reader r(bytes);
  SentCopy c;
  std::uint8_t format = 0;
  std::uint64_t sent_at = 0;
  std::string_view text;
  const bool ok = r.byte(format, "format") && (format == 1 || r.fail("format", "unknown format")) &&
                  r.str(c.to, core::kMaxNicknameLength, "to") && r.fixed(c.id.bytes, "id") &&
                  r.varint(sent_at, "sent_at") && (sent_at < (std::uint64_t{1} << 62) || r.fail("sent_at", "out of range")) &&
                  r.bytes(bytes.size() - r.pos(), text, "text");
  if (!ok) return Status::InvalidArgument("sent copy: " + r.error());
  if (Status st = core::check_nickname(c.to); !st.ok()) return Status::InvalidArgument("sent copy: " + st.message());
  c.sent_at = static_cast<std::int64_t>(sent_at);
  c.text.assign(text);
  return c;
}

std::string encode_chained_text(const ChainedText& t) {
  core::wire::Writer w;
  w.byte(1);
  w.byte(t.prev ? 1 : 0);
  if (t.prev) w.fixed(t.prev->bytes);
  w.raw(t.text);
  return std::move(w.out());
}

Result<ChainedText> decode_chained_text(std::string_view bytes) {
  core::wire::Reader r(bytes);
  ChainedText t;
  std::uint8_t format = 0, has_prev = 0;
  std::string_view text;
  bool ok = r.byte(format, "format") && (format == 1 || r.fail("format", "unknown format")) &&
            r.byte(has_prev, "prev flag") && (has_prev <= 1 || r.fail("prev flag", "neither 0 nor 1"));
  if (ok && has_prev == 1) {
    core::MessageId prev;
    ok = r.fixed(prev.bytes, "prev");
    t.prev = prev;
  }
  ok = ok && r.bytes(bytes.size() - r.pos(), text, "text");
  if (!ok) return Status::InvalidArgument("text2 content: " + r.error());
  t.text.assign(text);
  return t;
}

Result<Receipt> parse_receipt(std::string_view body) {
  auto ids = parse_ids(body);
  if (!ids.ok()) return ids.status();
  Receipt r;
  r.ids = std::move(ids).value();
  auto doc = parse_object(body);
  if (!doc.ok()) return doc.status();
  auto it = doc->FindMember("read");
  r.read = it != doc->MemberEnd() && it->value.IsBool() && it->value.GetBool();
  return r;
}

Result<core::AccountView> parse_account_view(std::string_view body) {
  auto doc = parse_object(body);
  if (!doc.ok()) return doc.status();
  core::AccountView v;
  DWS_TRY_ASSIGN(v.nickname, get_string(*doc, "nickname"));
  DWS_TRY_ASSIGN(v.public_key, get_string(*doc, "public_key"));
  DWS_TRY_ASSIGN(v.display_name, get_string(*doc, "display_name"));
  DWS_TRY_ASSIGN(v.version, get_u64(*doc, "version"));
  DWS_TRY_ASSIGN(v.salt, get_string(*doc, "salt"));
  DWS_TRY_ASSIGN(v.opslimit, get_u64(*doc, "opslimit"));
  DWS_TRY_ASSIGN(v.memlimit, get_u64(*doc, "memlimit"));
  DWS_TRY_ASSIGN(v.secret_digest, get_string(*doc, "secret_digest"));
  DWS_TRY_ASSIGN(v.signature, get_string(*doc, "signature"));
  return v;
}

Result<core::KdfParams> parse_kdf(std::string_view body) {
  auto doc = parse_object(body);
  if (!doc.ok()) return doc.status();
  std::string salt;
  core::KdfParams kdf;
  DWS_TRY_ASSIGN(salt, get_string(*doc, "salt"));
  DWS_TRY_ASSIGN(kdf.limits.opslimit, get_u64(*doc, "opslimit"));
  DWS_TRY_ASSIGN(kdf.limits.memlimit, get_u64(*doc, "memlimit"));
  auto raw = crypto::from_base64_fixed<crypto::kSaltSize>(salt, "salt");
  if (!raw.ok()) return bad("salt", raw.status().message());
  kdf.salt = *raw;
  return kdf;
}

Result<LoginReply> parse_login(std::string_view body) {
  auto doc = parse_object(body);
  if (!doc.ok()) return doc.status();
  LoginReply r;
  DWS_TRY_ASSIGN(r.sealed_secret, get_string(*doc, "sealed_secret"));
  DWS_TRY_ASSIGN(r.public_key, get_string(*doc, "public_key"));
  DWS_TRY_ASSIGN(r.version, get_u64(*doc, "version"));
  return r;
}

Result<SessionReply> parse_session(std::string_view body) {
  auto doc = parse_object(body);
  if (!doc.ok()) return doc.status();
  SessionReply r;
  DWS_TRY_ASSIGN(r.session, get_string(*doc, "session"));
  DWS_TRY_ASSIGN(r.node_key, get_string(*doc, "node_key"));
  DWS_TRY_ASSIGN(r.ttl_s, get_i64(*doc, "ttl_s"));
  return r;
}

Result<MailboxReply> parse_mailbox(std::string_view body) {
  auto doc = parse_object(body);
  if (!doc.ok()) return doc.status();
  MailboxReply out;
  auto it = doc->FindMember("messages");
  if (it == doc->MemberEnd() || !it->value.IsArray()) return bad("messages", "is missing or not an array");
  for (const auto& v : it->value.GetArray()) {
    auto e = read_envelope(v);
    if (!e.ok()) return e.status();
    out.messages.push_back(std::move(e).value());
  }
  auto more = doc->FindMember("more");
  out.more = more != doc->MemberEnd() && more->value.IsBool() && more->value.GetBool();
  auto devices = doc->FindMember("devices");
  if (devices != doc->MemberEnd() && devices->value.IsUint()) out.devices = devices->value.GetUint();
  return out;
}

Result<std::string> parse_node_address(std::string_view body) {
  auto doc = parse_object(body);
  if (!doc.ok()) return doc.status();
  return get_string(*doc, "address");
}

Result<std::vector<std::string>> parse_peer_addresses(std::string_view body) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsArray()) return bad("ring nodes", "is not a JSON array");
  std::vector<std::string> out;
  for (const auto& v : doc.GetArray()) {
    if (!v.IsObject()) return bad("ring node", "is not an object");
    auto a = get_string(v, "address");
    if (!a.ok()) return a.status();
    out.push_back(std::move(a).value());
  }
  return out;
}

ErrorReply parse_error(int http_status, std::string_view body) {
  ErrorReply out;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    auto err = doc.FindMember("error");
    if (err != doc.MemberEnd() && err->value.IsObject()) {
      auto code = get_string(err->value, "code");
      auto message = get_string(err->value, "message");
      Code c = code.ok() ? code_from_name(*code) : net::code_for_http_status(http_status);
      if (c == Code::kOk) c = net::code_for_http_status(http_status);
      out.status = Status(c, message.ok() ? *message : fmt::format("HTTP {}", http_status));
      if (auto primary = get_string(err->value, "primary"); primary.ok()) out.primary = *primary;
      return out;
    }
  }
  // Not a dws-node (a web server, a proxy's error page): its body is not
  // shown, since it may be a page of HTML or hold terminal escapes.
  out.status = Status::Unavailable(fmt::format(
      "the server answered HTTP {} with a body that is not a dwhatsapp answer: is the address that of a dws-node?",
      http_status));
  return out;
}

}  // namespace dws::client
