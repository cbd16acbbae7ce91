#include "client/client_json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "core/nickname.hpp"
#include "core/wire.hpp"
#include "crypto/encoding.hpp"
#include "net/json_codec.hpp"
#include "net/json_fields.hpp"
#include "net/json_writer.hpp"
#include "net/user_json.hpp"

namespace dws::client {

namespace {

using Writer = net::JsonWriter;
using net::Fields;
using net::JsonValue;
using net::to_json;
constexpr auto str = net::write_string;

// A server's answer read field by field; a garbled one is kUnavailable.
Fields answer() { return Fields("server answer", Code::kUnavailable); }

// A whole answer that one net/user_json reader reads.
template <class Read>
auto read_answer(std::string_view body, Read read) -> Result<decltype(read(std::declval<Fields&>(), std::declval<const JsonValue&>()))> {
  Fields f = answer();
  if (!f.parse(body)) return f.status();
  auto value = read(f, f.root());
  return f.finish(std::move(value));
}

}  // namespace

std::string account_json(const core::Account& a) { return net::json_body(a); }

std::string envelope_json(const core::Envelope& envelope) {
  return to_json([&](Writer& w) { net::write_envelope_view(w, core::to_view(envelope)); });
}

std::string session_json(const crypto::KxPublicKey& client_key) {
  return net::json_body(net::SessionOpen{client_key});
}

std::string login_json(std::string_view nickname, std::span<const std::uint8_t, 32> auth_key) {
  net::LoginRequest login{std::string(nickname), {}};
  std::copy(auth_key.begin(), auth_key.end(), login.auth_key.begin());
  return net::json_body(login);
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
  return net::acks_json(net::AckBody{acks, std::string(device)});
}

std::string deletion_json(std::uint64_t version, const crypto::Signature& sig) {
  return net::json_body(net::DeletionProof{version, sig});
}

Result<std::vector<std::string>> parse_ids(std::string_view body) {
  Fields f = answer();
  std::vector<std::string> out;
  if (f.parse(body))
    f.each(f.root(), "", "ids", std::numeric_limits<rapidjson::SizeType>::max(), [&](const JsonValue& v, const std::string& at) {
      if (!v.IsString()) return f.fail(at, "must be a string");
      out.emplace_back(v.GetString(), v.GetStringLength());
    });
  return f.finish(std::move(out));
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
  Fields f = answer();
  f.parse(body);
  // Lenient: a receipt without a boolean "read" says delivered.
  const JsonValue* read = f.optional(f.root(), "", "read");
  r.read = read && read->IsBool() && read->GetBool();
  return r;
}

Result<core::AccountView> parse_account_view(std::string_view body) {
  return read_answer(body, net::read_json_body<core::AccountView>);
}

Result<core::KdfParams> parse_kdf(std::string_view body) { return read_answer(body, net::read_json_body<core::KdfParams>); }

Result<LoginReply> parse_login(std::string_view body) { return read_answer(body, net::read_json_body<net::LoginAnswer>); }

Result<SessionReply> parse_session(std::string_view body) { return read_answer(body, net::read_json_body<net::SessionOpened>); }

Result<MailboxReply> parse_mailbox(std::string_view body) {
  auto page = read_answer(body, net::read_json_body<net::MailboxPageBody>);
  if (!page.ok()) return page.status();
  return MailboxReply{std::move(page->messages), page->more, static_cast<std::uint32_t>(page->devices)};
}

Result<std::string> parse_node_address(std::string_view body) {
  Fields f = answer();
  if (!f.parse(body)) return f.status();
  auto address = f.text(f.root(), "", "address", 1024);
  return f.finish(std::move(address));
}

Result<std::vector<std::string>> parse_peer_addresses(std::string_view body) {
  Fields f = answer();
  if (!f.parse(body, false)) return f.status();
  if (!f.root().IsArray()) return Status::Unavailable("server answer: ring nodes is not a JSON array");
  std::vector<std::string> out;
  for (rapidjson::SizeType i = 0; i < f.root().Size() && !f.failed(); ++i)
    out.push_back(f.text(f.root()[i], net::index_path("", i), "address", 1024));
  return f.finish(std::move(out));
}

ErrorReply parse_error(int http_status, std::string_view body) {
  ErrorReply out;
  if (auto err = net::read_error_body(body)) {
    Code c = err->code ? code_from_name(*err->code) : Code::kOk;
    if (c == Code::kOk) c = net::code_for_http_status(http_status);
    out.status = Status(c, err->message ? *err->message : fmt::format("HTTP {}", http_status));
    out.primary = err->primary.value_or("");
    return out;
  }
  // Not a dws-node (a web server, a proxy's error page): its body is not
  // shown, since it may be a page of HTML or hold terminal escapes.
  out.status = Status::Unavailable(fmt::format(
      "the server answered HTTP {} with a body that is not a dwhatsapp answer: is the address that of a dws-node?",
      http_status));
  return out;
}

}  // namespace dws::client
