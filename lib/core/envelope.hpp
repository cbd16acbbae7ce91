// Envelopes: one end-to-end encrypted message as nodes carry and store it
// (DESIGN.md section 6). The content is crypto_box'ed from the sender's to
// the recipient's X25519 key; every other field is in the clear for routing
// and bound to the sender by an Ed25519 signature over all of them, so a
// node can refuse spoofed senders without being able to read anything.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "core/env.hpp"
#include "crypto/box.hpp"
#include "crypto/keys.hpp"
#include "crypto/verified_cache.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::core {

/// The largest encode_envelope output accepted anywhere (64 KiB).
inline constexpr std::size_t kMaxEnvelopeSize = 64 * 1024;

/// What an envelope carries. The names are the JSON spelling.
enum class Kind : std::uint8_t {
  kText = 1,     // "text": a message a person wrote
  kReceipt = 2,  // "receipt": the recipient's client confirms delivery
  kCopy = 3,     // "copy": a sender's own other devices learn what it sent
  kText2 = 4,    // "text2": a text that names the sender's previous one to
                 // this recipient, so the recipient keeps per-sender order
};

std::string_view kind_name(Kind kind);
/// kInvalidArgument naming the known kinds when `name` is none of them.
Result<Kind> parse_kind(std::string_view name);

/// 48 bits of unix milliseconds then 80 random bits, big-endian, so byte
/// order (and the 32-digit hex form's order) is time order.
struct MessageId {
  std::array<std::uint8_t, 16> bytes{};

  /// 32 lower-case hex digits: the id on the wire and in mailbox keys.
  std::string hex() const;
  /// Exactly 32 lower-case hex digits; kInvalidArgument otherwise.
  static Result<MessageId> parse(std::string_view hex);
  /// The millisecond part.
  std::int64_t ms() const;

  auto operator<=>(const MessageId&) const = default;
};

/// Makes message ids for one sender: time-ordered and strictly increasing
/// even when the wall clock steps back (the id then keeps the last
/// millisecond and counts up in its random part, as monotonic ULIDs do).
///
/// Safe for concurrent use from multiple threads; the Clock and Rng it
/// holds are used under its lock only, and must outlive it.
class MessageIdGenerator {
 public:
  MessageIdGenerator(Clock& clock, Rng& rng) : clock_(clock), rng_(rng) {}
  MessageId next();

 private:
  std::mutex mu_;
  Clock& clock_;
  Rng& rng_;
  bool started_ = false;
  std::uint64_t ms_ = 0;
  std::uint64_t hi_ = 0;  // upper 16 bits of the random part
  std::uint64_t lo_ = 0;  // lower 64 bits
};

struct Envelope {
  MessageId id;
  std::string from;
  std::string to;
  std::int64_t sent_at = 0;  // unix ms, the sender's clock
  Kind kind = Kind::kText;
  crypto::Nonce nonce{};
  std::string box;  // crypto_box_easy ciphertext: plaintext + 16 bytes
  crypto::Signature sig{};

  bool operator==(const Envelope&) const = default;
};

/// Encrypts `plaintext` from `sender` (nickname `from`) to `to`, whose
/// identity key is `recipient`, and signs the result. With a `cache` (made
/// for `sender`) the shared key is computed once per peer.
/// kInvalidArgument for a bad nickname, negative sent_at, a recipient key
/// that is not a valid point, or a cache made for another key;
/// kPayloadTooLarge naming both sizes when the envelope would exceed
/// kMaxEnvelopeSize.
Result<Envelope> seal_envelope(const crypto::SecretKey& sender, std::string_view from, std::string_view to,
                               const crypto::PublicKey& recipient, Kind kind, std::string_view plaintext,
                               const MessageId& id, std::int64_t sent_at, crypto::BoxCache* cache = nullptr);

/// Field checks (nicknames in stored form, sent_at >= 0, box at least a MAC,
/// size), then the signature by `sender`. kUnauthenticated "envelope ... is
/// not signed by 'alice'" when the signature does not verify (spoofed `from`,
/// or any field changed). `verified`: the node's cache of signatures it
/// checked before (null: always verify).
Status verify_envelope(const Envelope& envelope, const crypto::PublicKey& sender,
                       crypto::VerifiedCache* verified = nullptr);

/// verify_envelope, then decrypts with the recipient's secret key (or
/// `cache`, made for the recipient). kUnauthenticated when the box does not
/// open. The caller checks that `to` is its own nickname.
Result<std::string> open_envelope(const Envelope& envelope, const crypto::SecretKey& recipient,
                                  const crypto::PublicKey& sender, crypto::BoxCache* cache = nullptr);

/// What the sender signs: a domain tag, then every field but sig, encoded
/// as in encode_envelope.
std::string envelope_signing_bytes(const Envelope& envelope);

/// Strict binary encoding: format byte, id (16), from, to (varint length +
/// bytes), sent_at (8, big-endian), kind (1), nonce (24), box (varint length
/// + bytes), sig (64).
std::string encode_envelope(const Envelope& envelope);
std::size_t encoded_size(const Envelope& envelope);
/// Strict inverse of encode_envelope. kPayloadTooLarge for more than
/// kMaxEnvelopeSize bytes; kInvalidArgument for anything malformed (with
/// the offset). Does not check the signature.
Result<Envelope> decode_envelope(std::string_view bytes);

/// The JSON form: id as 32 hex digits, kind by name, binary fields in
/// standard padded base64.
struct EnvelopeView {
  std::string id;
  std::string from;
  std::string to;
  std::int64_t sent_at = 0;
  std::string kind;
  std::string nonce;
  std::string box;
  std::string sig;

  bool operator==(const EnvelopeView&) const = default;
};

EnvelopeView to_view(const Envelope& envelope);
/// Strict: every field decoded and checked as decode_envelope would,
/// including the size limit. Does not check the signature.
Result<Envelope> from_view(const EnvelopeView& view);

}  // namespace dws::core
