#include "core/validation.hpp"

#include "core/devices.hpp"
#include "core/id.hpp"
#include "core/nickname.hpp"
#include "core/wire.hpp"

namespace dws::core {

namespace {

constexpr std::uint8_t kProofFormat = 1;
constexpr std::string_view kDeleteTag{"dws1 delete\0", 12};
constexpr std::string_view kAckTag{"dws1 ack\0", 9};

std::string name_of(const Record& r) { return r.sub.empty() ? to_hex(r.key) : to_hex(r.key) + "/" + r.sub; }

Verdict reject(RejectReason reason, Code code, const Record& r, const std::string& why) {
  return Verdict{Status(code, "record " + name_of(r) + " refused (" + std::string(reason_name(reason)) + "): " + why),
                 reason};
}

Verdict check_expiry(const Record& r, std::int64_t now_ms, std::int64_t cap_ms, std::int64_t skew_ms,
                     const char* what) {
  if (r.expires_at == 0)
    return reject(RejectReason::kBadExpiry, Code::kInvalidArgument, r, std::string(what) + " must expire; it says never");
  if (r.expires_at > now_ms + cap_ms + skew_ms)
    return reject(RejectReason::kBadExpiry, Code::kInvalidArgument, r,
                  std::string(what) + " expires at " + std::to_string(r.expires_at) + ", past the cap of now + " +
                      std::to_string(cap_ms / 1000) + " s");
  return Verdict::Ok();
}

// A verify_* failure as a refusal: a signature that does not verify, or a
// field that is wrong.
Verdict refused_by(const Status& st, const Record& r) {
  const auto reason = st.code() == Code::kUnauthenticated ? RejectReason::kBadSignature : RejectReason::kMalformed;
  return reject(reason, st.code(), r, st.message());
}

}  // namespace

std::optional<crypto::PublicKey> user_record_signer(const Record& r) {
  if (!r.sub.empty()) return std::nullopt;
  if (r.tombstone) {
    auto p = decode_deletion_proof(r.payload);
    if (!p.ok()) return std::nullopt;
    return p->public_key;
  }
  auto a = decode_account(r.payload);
  if (!a.ok()) return std::nullopt;
  return a->public_key;
}

std::string_view reason_name(RejectReason reason) {
  switch (reason) {
    case RejectReason::kMalformed: return "malformed";
    case RejectReason::kMisaddressed: return "misaddressed";
    case RejectReason::kBadSignature: return "bad_signature";
    case RejectReason::kWrongKey: return "wrong_key";
    case RejectReason::kBadVersion: return "bad_version";
    case RejectReason::kBadExpiry: return "bad_expiry";
    case RejectReason::kUnknownSender: return "unknown_sender";
    case RejectReason::kExists: return "exists";
    case RejectReason::kUnverifiable: return "unverifiable";
  }
  return "unknown";
}

std::string mailbox_entry_sub(const MessageId& id, std::string_view sender) {
  std::string s(kMailboxSubPrefix);
  s += id.hex();
  s += '/';
  s += sender;
  return s;
}

Result<EntrySub> parse_entry_sub(std::string_view sub) {
  constexpr std::size_t kIdAt = kMailboxSubPrefix.size();
  if (sub.size() < kIdAt + 32 + 2 || sub.substr(0, kIdAt) != kMailboxSubPrefix || sub[kIdAt + 32] != '/')
    return Status::InvalidArgument("mailbox sub '" + std::string(sub.substr(0, 80)) +
                                   "' is not of the form m/<32 hex id>/<sender>");
  auto id = MessageId::parse(sub.substr(kIdAt, 32));
  if (!id.ok()) return Status::InvalidArgument("mailbox sub: " + id.status().message());
  EntrySub out{*id, std::string(sub.substr(kIdAt + 33))};
  if (Status st = check_nickname(out.sender); !st.ok()) return Status::InvalidArgument("mailbox sub: " + st.message());
  return out;
}

std::string deletion_signing_bytes(std::string_view nickname, std::uint64_t version) {
  wire::Writer w;
  w.raw(kDeleteTag);
  w.str(nickname);
  w.varint(version);
  return std::move(w.out());
}

DeletionProof make_deletion_proof(std::string_view nickname, std::uint64_t version, const crypto::SecretKey& key) {
  return DeletionProof{std::string(nickname), crypto::public_key_of(key),
                       crypto::sign(key, deletion_signing_bytes(nickname, version))};
}

std::string encode_deletion_proof(const DeletionProof& p) {
  wire::Writer w;
  w.byte(kProofFormat);
  w.str(p.nickname);
  w.fixed(p.public_key);
  w.fixed(p.signature);
  return std::move(w.out());
}

Result<DeletionProof> decode_deletion_proof(std::string_view bytes) {
  wire::Reader r(bytes);
  DeletionProof p;
  std::uint8_t format = 0;
  const bool ok = r.byte(format, "deletion proof format") &&
                  (format == kProofFormat || r.fail("deletion proof format", "unknown format")) &&
                  r.str(p.nickname, kMaxNicknameLength, "nickname") && r.fixed(p.public_key, "public_key") &&
                  r.fixed(p.signature, "signature") && r.end("deletion proof");
  if (!ok) return Status::InvalidArgument("deletion proof: " + r.error());
  return p;
}

std::string ack_signing_bytes(std::string_view owner, std::string_view sub) {
  wire::Writer w;
  w.raw(kAckTag);
  w.str(owner);
  w.str(sub);
  return std::move(w.out());
}

AckProof make_ack_proof(std::string_view owner, std::string_view sub, const crypto::SecretKey& key) {
  return AckProof{std::string(owner), crypto::sign(key, ack_signing_bytes(owner, sub))};
}

std::string encode_ack_proof(const AckProof& p) {
  wire::Writer w;
  w.byte(kProofFormat);
  w.str(p.owner);
  w.fixed(p.signature);
  return std::move(w.out());
}

Result<AckProof> decode_ack_proof(std::string_view bytes) {
  wire::Reader r(bytes);
  AckProof p;
  std::uint8_t format = 0;
  const bool ok = r.byte(format, "ack proof format") &&
                  (format == kProofFormat || r.fail("ack proof format", "unknown format")) &&
                  r.str(p.owner, kMaxNicknameLength, "owner") && r.fixed(p.signature, "signature") &&
                  r.end("ack proof");
  if (!ok) return Status::InvalidArgument("ack proof: " + r.error());
  return p;
}

Verdict RecordValidator::check(const Record& incoming, const Record* current, std::int64_t now_ms) {
  Verdict v = check_alone(incoming, now_ms);
  if (!v.ok()) return v;
  return check_replace(incoming, current, now_ms);
}

Verdict RecordValidator::check_alone(const Record& r, std::int64_t now_ms) {
  if (r.version == 0 || r.version > kMaxVersion)
    return reject(RejectReason::kBadVersion, Code::kInvalidArgument, r,
                  "version " + std::to_string(r.version) + " is outside 1 to 2^48");
  if (r.sub.empty()) return r.tombstone ? check_user_tombstone(r, now_ms) : check_user(r, now_ms);
  if (r.sub.compare(0, kMailboxSubPrefix.size(), kMailboxSubPrefix) == 0)
    return r.tombstone ? check_ack(r, now_ms) : check_entry(r, now_ms);
  if (r.sub == kDeviceListSub || r.sub.compare(0, kDeviceAckPrefix.size(), kDeviceAckPrefix) == 0) {
    if (r.tombstone)
      return reject(RejectReason::kMalformed, Code::kInvalidArgument, r,
                    "device lists and device acknowledgements are replaced or expire, never tombstoned");
    return r.sub == kDeviceListSub ? check_devices(r) : check_device_ack(r, now_ms);
  }
  return reject(RejectReason::kMalformed, Code::kInvalidArgument, r,
                "sub is none of a user record (\"\"), a mailbox entry (\"m/...\"), a device list (\"d\") or a "
                "device acknowledgement (\"a/...\")");
}

Verdict RecordValidator::check_devices(const Record& r) {
  auto list = decode_device_list(r.payload);
  if (!list.ok()) return reject(RejectReason::kMalformed, Code::kInvalidArgument, r, list.status().message());
  if (check_nickname(list->owner).ok() && user_key(list->owner) != r.key)
    return reject(RejectReason::kMisaddressed, Code::kInvalidArgument, r,
                  "the device list of '" + list->owner + "' belongs at key " + to_hex(user_key(list->owner)));
  if (list->version != r.version)
    return reject(RejectReason::kBadVersion, Code::kInvalidArgument, r,
                  "record version " + std::to_string(r.version) + " differs from the list's " +
                      std::to_string(list->version));
  if (r.expires_at != 0)
    return reject(RejectReason::kBadExpiry, Code::kInvalidArgument, r, "a device list never expires");
  if (Status st = verify_device_list(*list); !st.ok()) return refused_by(st, r);
  crypto::PublicKey owner{};
  if (Verdict v = signer_key(list->owner, owner, "the device list of '" + list->owner + "'"); !v.ok()) return v;
  if (owner != list->public_key)
    return reject(RejectReason::kWrongKey, Code::kForbidden, r,
                  "the device list is signed by another key than the account of '" + list->owner + "'");
  return Verdict::Ok();
}

Verdict RecordValidator::check_device_ack(const Record& r, std::int64_t now_ms) {
  auto sub = parse_device_ack_sub(r.sub);
  if (!sub.ok()) return reject(RejectReason::kMalformed, Code::kInvalidArgument, r, sub.status().message());
  if (r.version != kEntryVersion)
    return reject(RejectReason::kBadVersion, Code::kInvalidArgument, r,
                  "a device acknowledgement has version 1, not " + std::to_string(r.version));
  return check_ack_proof(r, now_ms, opt_.message_ttl_ms, "a device acknowledgement", "the acknowledgement " + r.sub,
                         sub->entry_sub);
}

Verdict RecordValidator::check_ack_proof(const Record& r, std::int64_t now_ms, std::int64_t ttl_ms, const char* what,
                                         const std::string& checking, std::string_view signed_sub) {
  auto proof = decode_ack_proof(r.payload);
  if (!proof.ok()) return reject(RejectReason::kMalformed, Code::kInvalidArgument, r, proof.status().message());
  if (Status st = check_nickname(proof->owner); !st.ok())
    return reject(RejectReason::kMalformed, Code::kInvalidArgument, r, st.message());
  if (user_key(proof->owner) != r.key)
    return reject(RejectReason::kMisaddressed, Code::kInvalidArgument, r,
                  "the acknowledgement is by '" + proof->owner + "', whose mailbox is at key " +
                      to_hex(user_key(proof->owner)));
  if (Verdict v = check_expiry(r, now_ms, ttl_ms, opt_.clock_skew_ms, what); !v.ok()) return v;
  crypto::PublicKey owner{};
  if (Verdict v = signer_key(proof->owner, owner, checking); !v.ok()) return v;
  if (!verified_.verify(owner, ack_signing_bytes(proof->owner, signed_sub), proof->signature).ok())
    return reject(RejectReason::kBadSignature, Code::kUnauthenticated, r,
                  "the acknowledgement is not signed by '" + proof->owner + "'");
  return Verdict::Ok();
}

Verdict RecordValidator::check_user(const Record& r, std::int64_t) {
  auto acct = decode_account(r.payload);
  if (!acct.ok()) return reject(RejectReason::kMalformed, Code::kInvalidArgument, r, acct.status().message());
  if (check_nickname(acct->nickname).ok() && user_key(acct->nickname) != r.key)
    return reject(RejectReason::kMisaddressed, Code::kInvalidArgument, r,
                  "the account of '" + acct->nickname + "' belongs at key " + to_hex(user_key(acct->nickname)));
  if (acct->version != r.version)
    return reject(RejectReason::kBadVersion, Code::kInvalidArgument, r,
                  "record version " + std::to_string(r.version) + " differs from the account's " +
                      std::to_string(acct->version));
  if (r.expires_at != 0)
    return reject(RejectReason::kBadExpiry, Code::kInvalidArgument, r, "a user record never expires");
  if (Status st = verify_account(*acct); !st.ok()) return refused_by(st, r);
  return Verdict::Ok();
}

Verdict RecordValidator::check_user_tombstone(const Record& r, std::int64_t now_ms) {
  auto proof = decode_deletion_proof(r.payload);
  if (!proof.ok()) return reject(RejectReason::kMalformed, Code::kInvalidArgument, r, proof.status().message());
  if (Status st = check_nickname(proof->nickname); !st.ok())
    return reject(RejectReason::kMalformed, Code::kInvalidArgument, r, st.message());
  if (user_key(proof->nickname) != r.key)
    return reject(RejectReason::kMisaddressed, Code::kInvalidArgument, r,
                  "the deletion of '" + proof->nickname + "' belongs at key " + to_hex(user_key(proof->nickname)));
  if (Verdict v = check_expiry(r, now_ms, opt_.tombstone_ttl_ms, opt_.clock_skew_ms, "a deletion tombstone");
      !v.ok())
    return v;
  if (!crypto::verify(proof->public_key, deletion_signing_bytes(proof->nickname, r.version), proof->signature).ok())
    return reject(RejectReason::kBadSignature, Code::kUnauthenticated, r,
                  "the deletion of '" + proof->nickname + "' at version " + std::to_string(r.version) +
                      " is not signed by the key it names");
  return Verdict::Ok();
}

Verdict RecordValidator::signer_key(std::string_view nick, crypto::PublicKey& out, const std::string& what) {
  auto key = keys_.current_key(nick);
  if (!key.ok())
    return Verdict{Status::Unavailable("cannot check " + what + ": the key of '" + std::string(nick) +
                                       "' is not available now (" + key.status().message() + ")"),
                   RejectReason::kUnverifiable};
  if (!key->has_value())
    return Verdict{Status::Unauthenticated("cannot check " + what + ": '" + std::string(nick) + "' is not a user"),
                   RejectReason::kUnknownSender};
  out = **key;
  return Verdict::Ok();
}

Verdict RecordValidator::check_entry(const Record& r, std::int64_t now_ms) {
  auto sub = parse_entry_sub(r.sub);
  if (!sub.ok()) return reject(RejectReason::kMalformed, Code::kInvalidArgument, r, sub.status().message());
  auto env = decode_envelope(r.payload);
  if (!env.ok()) return reject(RejectReason::kMalformed, Code::kInvalidArgument, r, env.status().message());
  if (env->id != sub->id || env->from != sub->sender)
    return reject(RejectReason::kMisaddressed, Code::kInvalidArgument, r,
                  "it holds envelope " + env->id.hex() + " from '" + env->from + "'");
  if (check_nickname(env->to).ok() && user_key(env->to) != r.key)
    return reject(RejectReason::kMisaddressed, Code::kInvalidArgument, r,
                  "the envelope is addressed to '" + env->to + "', whose mailbox is at key " +
                      to_hex(user_key(env->to)));
  if (r.version != kEntryVersion)
    return reject(RejectReason::kBadVersion, Code::kInvalidArgument, r,
                  "a mailbox entry has version 1, not " + std::to_string(r.version));
  if (Verdict v = check_expiry(r, now_ms, opt_.message_ttl_ms, opt_.clock_skew_ms, "a mailbox entry"); !v.ok())
    return v;
  crypto::PublicKey sender{};
  if (Verdict v = signer_key(env->from, sender, "envelope " + env->id.hex()); !v.ok()) return v;
  if (Status st = verify_envelope(*env, sender, &verified_); !st.ok()) return refused_by(st, r);
  return Verdict::Ok();
}

Verdict RecordValidator::check_ack(const Record& r, std::int64_t now_ms) {
  if (auto sub = parse_entry_sub(r.sub); !sub.ok())
    return reject(RejectReason::kMalformed, Code::kInvalidArgument, r, sub.status().message());
  if (r.version != kAckVersion)
    return reject(RejectReason::kBadVersion, Code::kInvalidArgument, r,
                  "a mailbox acknowledgement has version 2, not " + std::to_string(r.version));
  return check_ack_proof(r, now_ms, opt_.tombstone_ttl_ms, "an acknowledgement", "the acknowledgement of " + r.sub,
                         r.sub);
}

Verdict RecordValidator::check_replace(const Record& in, const Record* current, std::int64_t now_ms) const {
  if (current == nullptr || current->expired(now_ms)) return Verdict::Ok();
  if (in.sub.empty()) {
    const auto mine = user_record_signer(*current);
    // A stored record that does not decode protects nothing.
    if (!mine) return Verdict::Ok();
    const auto theirs = user_record_signer(in);
    if (!theirs || *theirs != *mine)
      return reject(RejectReason::kWrongKey, Code::kForbidden, in,
                    "it is not signed by the key of the record it replaces (version " +
                        std::to_string(current->version) + ")");
    if (in.version <= current->version)
      return reject(RejectReason::kBadVersion, Code::kForbidden, in,
                    "version " + std::to_string(in.version) + " does not raise the stored version " +
                        std::to_string(current->version));
    return Verdict::Ok();
  }
  if (in.sub == kDeviceListSub) {
    auto mine = decode_device_list(current->payload);
    auto theirs = decode_device_list(in.payload);
    // A list left by an earlier owner of the nickname (another key) gives
    // way; the owner's own list only to a higher version.
    if (mine.ok() && theirs.ok() && mine->public_key == theirs->public_key && in.version <= current->version)
      return reject(RejectReason::kBadVersion, Code::kForbidden, in,
                    "version " + std::to_string(in.version) + " does not raise the stored device list's " +
                        std::to_string(current->version));
    return Verdict::Ok();
  }
  // A retry of the same envelope may carry another expiry (set where it was
  // posted); any other content is a second entry under a taken key.
  if (!in.tombstone && (current->tombstone || current->payload != in.payload))
    return reject(RejectReason::kExists, Code::kExists, in,
                  "a different mailbox entry is stored under this key; entries are created only once");
  return Verdict::Ok();
}

}  // namespace dws::core
