#include "net/user_json.hpp"

#include <limits>

#include "core/devices.hpp"
#include "core/mailbox.hpp"

namespace dws::net {

namespace {

// Text fields of a view are bounded far above any valid value: the
// core::from_view-style checks that follow say what exactly is wrong.
constexpr std::size_t kMaxViewText = 4096;
// An envelope of 64 KiB is about 88 KiB once base64'd.
constexpr std::size_t kMaxBoxText = 128 * 1024;

// The bodies that are one object each: description<Body> names, types and
// bounds its fields, for json_body and read_json_body below.
template <class Body>
constexpr auto description = nullptr;

constexpr auto describe_envelope = [](auto& v, auto& e) {
  v.text("id", e.id, 64);
  v.text("from", e.from, 64);
  v.text("to", e.to, 64);
  v.int64("sent_at", e.sent_at, std::numeric_limits<std::int64_t>::min());
  v.text("kind", e.kind, 32);
  v.text("nonce", e.nonce, 64);
  v.text("box", e.box, kMaxBoxText);
  v.text("sig", e.sig, 128);
};

template <>
constexpr auto description<core::Account> = [](auto& v, auto& a) {
  v.text("nickname", a.nickname, 64);
  v.fixed("public_key", a.public_key);
  v.fixed("salt", a.salt);
  v.uint64("opslimit", a.limits.opslimit);
  v.uint64("memlimit", a.limits.memlimit);
  v.fixed("auth_hash", a.auth_hash);
  v.fixed("sealed_secret", a.sealed_secret);
  v.text("display_name", a.display_name, 1024);
  v.uint64("version", a.version);
  v.fixed("signature", a.signature);
};

template <>
constexpr auto description<core::AccountView> = [](auto& v, auto& a) {
  v.text("nickname", a.nickname, 64);
  v.text("public_key", a.public_key, kMaxViewText);
  v.text("display_name", a.display_name, kMaxViewText);
  v.uint64("version", a.version);
  v.text("salt", a.salt, kMaxViewText);
  v.uint64("opslimit", a.opslimit);
  v.uint64("memlimit", a.memlimit);
  v.text("secret_digest", a.secret_digest, kMaxViewText);
  v.text("signature", a.signature, kMaxViewText);
};

template <>
constexpr auto description<core::KdfParams> = [](auto& v, auto& k) {
  v.fixed("salt", k.salt);
  v.uint64("opslimit", k.limits.opslimit);
  v.uint64("memlimit", k.limits.memlimit);
};

template <>
constexpr auto description<LoginAnswer> = [](auto& v, auto& l) {
  v.fixed("sealed_secret", l.sealed_secret);
  v.fixed("public_key", l.public_key);
  v.uint64("version", l.version);
};

template <>
constexpr auto description<LoginRequest> = [](auto& v, auto& l) {
  v.text("nickname", l.nickname, 64);
  v.fixed("auth_key", l.auth_key);
};

template <>
constexpr auto description<SessionOpen> = [](auto& v, auto& o) { v.fixed("client_key", o.client_key); };

template <>
constexpr auto description<SessionOpened> = [](auto& v, auto& o) {
  v.text("session", o.session, 64);
  v.fixed("node_key", o.node_key);
  v.int64("ttl_s", o.ttl_s, 1);
};

template <>
constexpr auto description<DeletionProof> = [](auto& v, auto& d) {
  v.uint64("version", d.version);
  v.fixed("sig", d.sig);
};

constexpr auto describe_ack = [](auto& v, auto& a) {
  v.text("id", a.id, 64);
  v.text("from", a.from, 64);
  v.fixed("sig", a.sig);
};

constexpr auto describe_user = [](auto& v, auto& u) {
  v.string("nickname", u.nickname, 64);
  v.text("display_name", u.display_name, 256);
};

template <>
constexpr auto description<MailboxPageBody> = [](auto& v, auto& p) {
  v.list("messages", p.messages, core::kMaxMailboxList, describe_envelope);
  v.boolean("more", p.more);
  v.integer("devices", p.devices, 0, static_cast<int>(core::kMaxDevices));
};

template <>
constexpr auto description<AccountChanged> = [](auto& v, auto& c) {
  v.text("nickname", c.nickname, 64);
  v.uint64("version", c.version);
};

template <>
constexpr auto description<AccountDeleted> = [](auto& v, auto& d) {
  v.text("nickname", d.nickname, 64);
  v.boolean("deleted", d.deleted);
};

template <>
constexpr auto description<AckedAnswer> = [](auto& v, auto& a) { v.uint64("acked", a.acked); };

template <>
constexpr auto description<DevicesSet> = [](auto& v, auto& d) {
  v.uint64("version", d.version);
  v.uint64("devices", d.devices);
};

template <>
constexpr auto description<PostedAnswer> = [](auto& v, auto& p) {
  v.text("id", p.id, 64);
  v.integer("copies", p.copies, 0, 64);
};

}  // namespace

void write_envelope_view(JsonWriter& w, const core::EnvelopeView& v) {
  write_object(w, describe_envelope, v);
}
core::EnvelopeView read_envelope_view(Fields& f, const JsonValue& obj, std::string_view path) {
  return read_object<core::EnvelopeView>(f, obj, path, describe_envelope);
}

void write_user_list(JsonWriter& w, const std::vector<core::UserListEntry>& users) {
  FieldWriter fw(w);
  w.StartObject();
  fw.list("users", users, 0, describe_user);
  w.EndObject();
}
std::vector<core::UserListEntry> read_user_list(Fields& f, const JsonValue& obj, std::size_t max_users) {
  std::vector<core::UserListEntry> out;
  FieldReader(f, obj).list("users", out, max_users, describe_user);
  return out;
}

std::string acks_json(const AckBody& body) {
  return to_json([&](JsonWriter& w) {
    FieldWriter fw(w);
    w.StartObject();
    if (!body.device.empty()) fw.text("device", body.device, 0);
    fw.list("acks", body.acks, 0, describe_ack);
    w.EndObject();
  });
}
AckBody read_acks(Fields& f, const JsonValue& obj, std::size_t max_acks) {
  AckBody out;
  FieldReader fr(f, obj);
  fr.list("acks", out.acks, max_acks, describe_ack);
  // Optional: an account without devices reads as one device.
  if (f.optional(obj, "", "device")) fr.text("device", out.device, 64);
  return out;
}

template <class Body>
std::string json_body(const Body& body) {
  return to_json([&](JsonWriter& w) { write_object(w, description<Body>, body); });
}
template <class Body>
Body read_json_body(Fields& f, const JsonValue& obj) {
  return read_object<Body>(f, obj, "", description<Body>);
}

// One line a body: both directions of every body the header lists.
#define DWS_USER_BODY(Body) \
  template std::string json_body<Body>(const Body&); \
  template Body read_json_body<Body>(Fields&, const JsonValue&);
DWS_USER_BODY(core::Account)
DWS_USER_BODY(core::AccountView)
DWS_USER_BODY(core::KdfParams)
DWS_USER_BODY(LoginAnswer)
DWS_USER_BODY(LoginRequest)
DWS_USER_BODY(SessionOpen)
DWS_USER_BODY(SessionOpened)
DWS_USER_BODY(DeletionProof)
DWS_USER_BODY(PostedAnswer)
DWS_USER_BODY(MailboxPageBody)
DWS_USER_BODY(AccountChanged)
DWS_USER_BODY(AccountDeleted)
DWS_USER_BODY(AckedAnswer)
DWS_USER_BODY(DevicesSet)
#undef DWS_USER_BODY

}  // namespace dws::net
