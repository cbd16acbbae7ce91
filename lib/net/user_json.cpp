#include "net/user_json.hpp"

#include <limits>

namespace dws::net {

namespace {

// Text fields of a view are bounded far above any valid value: the
// core::from_view-style checks that follow say what exactly is wrong.
constexpr std::size_t kMaxViewText = 4096;
// An envelope of 64 KiB is about 88 KiB once base64'd.
constexpr std::size_t kMaxBoxText = 128 * 1024;

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

constexpr auto describe_account = [](auto& v, auto& a) {
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

constexpr auto describe_account_view = [](auto& v, auto& a) {
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

constexpr auto describe_kdf = [](auto& v, auto& k) {
  v.fixed("salt", k.salt);
  v.uint64("opslimit", k.limits.opslimit);
  v.uint64("memlimit", k.limits.memlimit);
};

constexpr auto describe_login_answer = [](auto& v, auto& l) {
  v.fixed("sealed_secret", l.sealed_secret);
  v.fixed("public_key", l.public_key);
  v.uint64("version", l.version);
};

constexpr auto describe_login_request = [](auto& v, auto& l) {
  v.text("nickname", l.nickname, 64);
  v.fixed("auth_key", l.auth_key);
};

constexpr auto describe_session_open = [](auto& v, auto& o) { v.fixed("client_key", o.client_key); };

constexpr auto describe_session_opened = [](auto& v, auto& o) {
  v.text("session", o.session, 64);
  v.fixed("node_key", o.node_key);
  v.int64("ttl_s", o.ttl_s, 1);
};

constexpr auto describe_deletion = [](auto& v, auto& d) {
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

constexpr auto describe_posted = [](auto& v, auto& p) {
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

std::string account_json(const core::Account& account) {
  return to_json([&](JsonWriter& w) { write_object(w, describe_account, account); });
}
core::Account read_account(Fields& f, const JsonValue& obj) {
  return read_object<core::Account>(f, obj, "", describe_account);
}

std::string account_view_json(const core::AccountView& view) {
  return to_json([&](JsonWriter& w) { write_object(w, describe_account_view, view); });
}
core::AccountView read_account_view(Fields& f, const JsonValue& obj) {
  return read_object<core::AccountView>(f, obj, "", describe_account_view);
}

std::string kdf_json(const core::KdfParams& kdf) {
  return to_json([&](JsonWriter& w) { write_object(w, describe_kdf, kdf); });
}
core::KdfParams read_kdf(Fields& f, const JsonValue& obj) {
  return read_object<core::KdfParams>(f, obj, "", describe_kdf);
}

std::string login_answer_json(const LoginAnswer& answer) {
  return to_json([&](JsonWriter& w) { write_object(w, describe_login_answer, answer); });
}
LoginAnswer read_login_answer(Fields& f, const JsonValue& obj) {
  return read_object<LoginAnswer>(f, obj, "", describe_login_answer);
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

std::string posted_json(const PostedAnswer& answer) {
  return to_json([&](JsonWriter& w) { write_object(w, describe_posted, answer); });
}

std::string login_request_json(const LoginRequest& login) {
  return to_json([&](JsonWriter& w) { write_object(w, describe_login_request, login); });
}
LoginRequest read_login_request(Fields& f, const JsonValue& obj) {
  return read_object<LoginRequest>(f, obj, "", describe_login_request);
}

std::string session_open_json(const SessionOpen& open) {
  return to_json([&](JsonWriter& w) { write_object(w, describe_session_open, open); });
}
SessionOpen read_session_open(Fields& f, const JsonValue& obj) {
  return read_object<SessionOpen>(f, obj, "", describe_session_open);
}

std::string session_opened_json(const SessionOpened& opened) {
  return to_json([&](JsonWriter& w) { write_object(w, describe_session_opened, opened); });
}
SessionOpened read_session_opened(Fields& f, const JsonValue& obj) {
  return read_object<SessionOpened>(f, obj, "", describe_session_opened);
}

std::string deletion_json(const DeletionProof& proof) {
  return to_json([&](JsonWriter& w) { write_object(w, describe_deletion, proof); });
}
DeletionProof read_deletion(Fields& f, const JsonValue& obj) {
  return read_object<DeletionProof>(f, obj, "", describe_deletion);
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

}  // namespace dws::net
