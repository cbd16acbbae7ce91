// Self-certifying records (DESIGN.md section 12): the rules every node
// applies before it stores a record, whoever sent it, so that a member of
// the ring cannot forge, delete or hide anybody's data.
//
//   user record (sub "")      an account signed by its own key, at the key
//                             of its nickname, version = account version
//                             <= kMaxVersion, never expiring; an update
//                             keeps the public key of the record it
//                             replaces and raises the version.
//   user tombstone            a DeletionProof signed by the key of the
//                             record it replaces, raising the version,
//                             expiring within the tombstone TTL.
//   mailbox entry             sub "m/<id>/<sender>", version 1, an envelope
//                             addressed to this key, signed by the sender's
//                             current key, expiring within the message TTL,
//                             created only if absent.
//   mailbox tombstone         version 2, an AckProof signed by the owner,
//                             expiring within the tombstone TTL.
//   device list (sub "d")     a DeviceList signed by the owner's current
//                             key, never expiring; an update by the same
//                             key raises the version (core/devices.hpp).
//   device acknowledgement    sub "a/<device>/<id>/<sender>", version 1, an
//                             AckProof by the owner over the entry's sub,
//                             expiring within the message TTL, created once.
//
// Pure: no I/O. The one outside fact a rule needs, a user's current public
// key, comes through the KeyDirectory interface.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/account.hpp"
#include "core/envelope.hpp"
#include "core/record.hpp"
#include "crypto/verified_cache.hpp"
#include "crypto/keys.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::core {

/// Mailbox items share the owner's ring key under this sub prefix.
inline constexpr std::string_view kMailboxSubPrefix = "m/";
/// Versions stay far below 2^64, so raising one can never overflow.
inline constexpr std::uint64_t kMaxVersion = std::uint64_t{1} << 48;
/// A mailbox entry is version 1 and its acknowledgement version 2, always.
inline constexpr std::uint64_t kEntryVersion = 1;
inline constexpr std::uint64_t kAckVersion = 2;

/// Why a record was refused; the names are the metric label values.
enum class RejectReason : std::uint8_t {
  kMalformed,       // "malformed": payload or sub does not decode
  kMisaddressed,    // "misaddressed": stored at a key or sub it does not name
  kBadSignature,    // "bad_signature": the signature or proof does not verify
  kWrongKey,        // "wrong_key": not signed by the key of the record it replaces
  kBadVersion,      // "bad_version": not raised, over kMaxVersion, or not the fixed one
  kBadExpiry,       // "bad_expiry": never expiring, or beyond its cap
  kUnknownSender,   // "unknown_sender": the signer has no current record
  kExists,          // "exists": a different entry under a key created only once
  kUnverifiable,    // "unverifiable": the signer's key could not be fetched now
};
inline constexpr int kRejectReasons = 9;
std::string_view reason_name(RejectReason reason);

/// The outcome of one check: ok, or a reason and a message naming the record.
struct Verdict {
  Status status;
  RejectReason reason = RejectReason::kMalformed;
  bool ok() const { return status.ok(); }
  static Verdict Ok() { return {}; }
};

/// Where a validator finds a user's current public key (for envelopes, the
/// sender's; for acknowledgements, the mailbox owner's).
class KeyDirectory {
 public:
  virtual ~KeyDirectory() = default;
  /// The key of `nick`'s live record; nullopt when there is none (unknown
  /// or deleted); kUnavailable when it cannot be found out now.
  virtual Result<std::optional<crypto::PublicKey>> current_key(std::string_view nick) = 0;
};

struct ValidationOptions {
  std::int64_t message_ttl_ms = 30LL * 24 * 3600 * 1000;
  std::int64_t tombstone_ttl_ms = 30LL * 24 * 3600 * 1000;
  /// Clocks of different nodes disagree this much at most.
  std::int64_t clock_skew_ms = 10LL * 60 * 1000;
};

/// "m/" + id + "/" + sender: two senders never collide, and the order of
/// subs is the order of ids.
std::string mailbox_entry_sub(const MessageId& id, std::string_view sender);
/// The parts of a mailbox sub; kInvalidArgument unless it is exactly that form.
struct EntrySub {
  MessageId id;
  std::string sender;
};
Result<EntrySub> parse_entry_sub(std::string_view sub);

/// The payload of a user tombstone: the deleted record's owner says
/// "delete nickname at version v", signed with the record's key.
struct DeletionProof {
  std::string nickname;
  crypto::PublicKey public_key{};
  crypto::Signature signature{};
};
std::string deletion_signing_bytes(std::string_view nickname, std::uint64_t version);
DeletionProof make_deletion_proof(std::string_view nickname, std::uint64_t version, const crypto::SecretKey& key);
std::string encode_deletion_proof(const DeletionProof& proof);
Result<DeletionProof> decode_deletion_proof(std::string_view bytes);

/// The payload of a mailbox tombstone: the owner acknowledges the entry
/// `sub` of their mailbox, signed with their key.
struct AckProof {
  std::string owner;
  crypto::Signature signature{};
};
std::string ack_signing_bytes(std::string_view owner, std::string_view sub);
AckProof make_ack_proof(std::string_view owner, std::string_view sub, const crypto::SecretKey& key);
std::string encode_ack_proof(const AckProof& proof);
Result<AckProof> decode_ack_proof(std::string_view bytes);

/// The key a user record (its account's) or a user tombstone (its proof's)
/// speaks for; nullopt for anything else or what does not decode.
std::optional<crypto::PublicKey> user_record_signer(const Record& record);

/// The rules above. Thread-safe if the KeyDirectory is.
class RecordValidator {
 public:
  /// REQUIRES: keys outlives the validator.
  RecordValidator(KeyDirectory& keys, ValidationOptions options) : keys_(keys), opt_(options) {}

  /// Everything the record says about itself, signatures included (may ask
  /// the KeyDirectory). Run before the merge, with no lock held.
  Verdict check_alone(const Record& record, std::int64_t now_ms);
  /// Whether `incoming` may replace `current` (nullptr: nothing stored, or
  /// only an expired record): same key for users, a raised version, an
  /// entry created only once. Pure and cheap: run under the store's lock at
  /// merge time, only for records that would win the merge.
  Verdict check_replace(const Record& incoming, const Record* current, std::int64_t now_ms) const;
  /// check_alone then check_replace.
  Verdict check(const Record& incoming, const Record* current, std::int64_t now_ms);

  const ValidationOptions& options() const { return opt_; }
  /// The signatures this node has verified (envelopes and ack proofs), for
  /// the API's own checks of what it will hand to the validator next.
  crypto::VerifiedCache& verified() { return verified_; }

 private:
  Verdict check_user(const Record& r, std::int64_t now_ms);
  Verdict check_user_tombstone(const Record& r, std::int64_t now_ms);
  Verdict check_entry(const Record& r, std::int64_t now_ms);
  Verdict check_ack(const Record& r, std::int64_t now_ms);
  Verdict check_devices(const Record& r);
  Verdict check_device_ack(const Record& r, std::int64_t now_ms);
  // What a mailbox tombstone and a device acknowledgement share: the
  // owner's AckProof in the payload, for this key, expiring within
  // `ttl_ms` (`what` names the record), signed over `signed_sub`
  // (`checking` names the check when the owner's key cannot be had).
  Verdict check_ack_proof(const Record& r, std::int64_t now_ms, std::int64_t ttl_ms, const char* what,
                          const std::string& checking, std::string_view signed_sub);
  Verdict signer_key(std::string_view nick, crypto::PublicKey& out, const std::string& what);

  KeyDirectory& keys_;
  ValidationOptions opt_;
  crypto::VerifiedCache verified_;
};

}  // namespace dws::core
