#include "core/envelope.hpp"

#include <algorithm>
#include <utility>

#include "core/nickname.hpp"
#include "core/wire.hpp"
#include "crypto/encoding.hpp"

namespace dws::core {

namespace {

constexpr std::uint8_t kFormat = 1;
// Domain separation: an envelope signature can never pass for an account's
// or a request's.
constexpr std::string_view kSigningTag{"dws1 envelope\0", 14};
constexpr std::uint64_t kMaxMs = (std::uint64_t{1} << 48) - 1;

void write_unsigned(wire::Writer& w, const Envelope& e) {
  w.byte(kFormat);
  w.fixed(e.id.bytes);
  w.str(e.from);
  w.str(e.to);
  w.be64(static_cast<std::uint64_t>(e.sent_at));
  w.byte(static_cast<std::uint8_t>(e.kind));
  w.fixed(e.nonce);
  w.str(e.box);
}

std::size_t size_of(const Envelope& e) {
  auto varint_size = [](std::uint64_t v) {
    std::size_t n = 1;
    while (v >= 0x80) {
      v >>= 7;
      ++n;
    }
    return n;
  };
  return 1 + 16 + varint_size(e.from.size()) + e.from.size() + varint_size(e.to.size()) + e.to.size() + 8 + 1 +
         crypto::kNonceSize + varint_size(e.box.size()) + e.box.size() + crypto::kSignatureSize;
}

Status too_large(std::size_t size) {
  return Status::PayloadTooLarge("envelope is " + std::to_string(size) + " bytes encoded: at most " +
                                 std::to_string(kMaxEnvelopeSize) + " (send a shorter message)");
}

// Everything but the signature: what a node can check without keys.
Status check_fields(const Envelope& e) {
  if (Status st = check_nickname(e.from); !st.ok()) return Status::InvalidArgument("from: " + st.message());
  if (Status st = check_nickname(e.to); !st.ok()) return Status::InvalidArgument("to: " + st.message());
  if (e.sent_at < 0)
    return Status::InvalidArgument("sent_at is " + std::to_string(e.sent_at) + ": use unix milliseconds");
  if (!parse_kind(kind_name(e.kind)).ok())
    return Status::InvalidArgument("envelope kind " + std::to_string(static_cast<int>(e.kind)) + " is unknown");
  if (e.box.size() < crypto::kMacSize)
    return Status::InvalidArgument("box is " + std::to_string(e.box.size()) + " bytes: a box has at least " +
                                   std::to_string(crypto::kMacSize));
  if (const std::size_t n = size_of(e); n > kMaxEnvelopeSize) return too_large(n);
  return Status::Ok();
}

}  // namespace

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kText:
      return "text";
    case Kind::kReceipt:
      return "receipt";
    case Kind::kCopy:
      return "copy";
    case Kind::kText2:
      return "text2";
  }
  return "unknown";
}

Result<Kind> parse_kind(std::string_view name) {
  if (name == "text") return Kind::kText;
  if (name == "receipt") return Kind::kReceipt;
  if (name == "copy") return Kind::kCopy;
  if (name == "text2") return Kind::kText2;
  return Status::InvalidArgument("envelope kind '" + std::string(name) +
                                 "' is unknown: use 'text', 'text2', 'receipt' or 'copy'");
}

std::string MessageId::hex() const { return crypto::to_hex(bytes); }

Result<MessageId> MessageId::parse(std::string_view hex) {
  if (hex.size() != 32)
    return Status::InvalidArgument("message id '" + std::string(hex.substr(0, 40)) + "' has " +
                                   std::to_string(hex.size()) + " characters: expected 32 lower-case hex digits");
  MessageId id;
  for (std::size_t i = 0; i < 32; ++i) {
    const char c = hex[i];
    int v = 0;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      return Status::InvalidArgument("message id '" + std::string(hex) + "' has '" + std::string(1, c) +
                                     "' at " + std::to_string(i) + ": expected 32 lower-case hex digits");
    }
    id.bytes[i / 2] = static_cast<std::uint8_t>(id.bytes[i / 2] | (i % 2 == 0 ? v << 4 : v));
  }
  return id;
}

std::int64_t MessageId::ms() const {
  std::int64_t ms = 0;
  for (std::size_t i = 0; i < 6; ++i) ms = (ms << 8) | bytes[i];
  return ms;
}

MessageId MessageIdGenerator::next() {
  std::lock_guard lock(mu_);
  const std::int64_t wall = clock_.wall_ms();
  const std::uint64_t now = wall < 0 ? 0 : std::min(static_cast<std::uint64_t>(wall), kMaxMs);
  if (!started_ || now > ms_) {
    started_ = true;
    ms_ = now;
    hi_ = rng_.next() & 0xffff;
    lo_ = rng_.next();
  } else {
    // The same millisecond, or the clock stepped back: count up from the
    // last id. After 2^80 ids in one millisecond, borrow the next one.
    if (++lo_ == 0 && ++hi_ > 0xffff) {
      hi_ = 0;
      ms_ = std::min(ms_ + 1, kMaxMs);
    }
  }
  MessageId id;
  for (std::size_t i = 0; i < 6; ++i) id.bytes[i] = static_cast<std::uint8_t>(ms_ >> (8 * (5 - i)));
  id.bytes[6] = static_cast<std::uint8_t>(hi_ >> 8);
  id.bytes[7] = static_cast<std::uint8_t>(hi_);
  for (std::size_t i = 0; i < 8; ++i) id.bytes[8 + i] = static_cast<std::uint8_t>(lo_ >> (8 * (7 - i)));
  return id;
}

std::string envelope_signing_bytes(const Envelope& e) {
  wire::Writer w;
  w.raw(kSigningTag);
  write_unsigned(w, e);
  return std::move(w.out());
}

std::string encode_envelope(const Envelope& e) {
  wire::Writer w;
  w.out().reserve(size_of(e));
  write_unsigned(w, e);
  w.fixed(e.sig);
  return std::move(w.out());
}

std::size_t encoded_size(const Envelope& e) { return size_of(e); }

Result<Envelope> decode_envelope(std::string_view bytes) {
  if (bytes.size() > kMaxEnvelopeSize) return too_large(bytes.size());
  wire::Reader r(bytes);
  Envelope e;
  std::uint8_t format = 0, kind = 0;
  std::uint64_t sent_at = 0;
  const bool ok = r.byte(format, "envelope format") &&
                  (format == kFormat || r.fail("envelope format", "unknown format")) && r.fixed(e.id.bytes, "id") &&
                  r.str(e.from, kMaxNicknameLength, "from") && r.str(e.to, kMaxNicknameLength, "to") &&
                  r.be64(sent_at, "sent_at") && r.byte(kind, "kind") && r.fixed(e.nonce, "nonce") &&
                  r.str(e.box, kMaxEnvelopeSize, "box") && r.fixed(e.sig, "sig") && r.end("envelope");
  if (!ok) return Status::InvalidArgument("envelope: " + r.error());
  e.sent_at = static_cast<std::int64_t>(sent_at);
  e.kind = static_cast<Kind>(kind);
  if (Status st = check_fields(e); !st.ok()) return Status(st.code(), "envelope: " + st.message());
  return e;
}

Result<Envelope> seal_envelope(const crypto::SecretKey& sender, std::string_view from, std::string_view to,
                               const crypto::PublicKey& recipient, Kind kind, std::string_view plaintext,
                               const MessageId& id, std::int64_t sent_at, crypto::BoxCache* cache) {
  Envelope e;
  e.id = id;
  e.from = std::string(from);
  e.to = std::string(to);
  e.sent_at = sent_at;
  e.kind = kind;
  // Check size before encrypting: the box is exactly plaintext + MAC bytes.
  e.box.resize(plaintext.size() + crypto::kMacSize);
  if (Status st = check_fields(e); !st.ok()) return st;

  Result<crypto::Sealed> sealed = Status::Internal("not sealed");
  if (cache != nullptr) {
    if (cache->own_public_key() != crypto::public_key_of(sender))
      return Status::InvalidArgument("the box cache given belongs to another key than the sender's");
    sealed = cache->seal(recipient, plaintext);
  } else {
    auto peer = crypto::to_box_public(recipient);
    if (!peer.ok()) return Status::InvalidArgument("recipient '" + e.to + "': " + peer.status().message());
    sealed = crypto::box_seal(plaintext, *peer, crypto::to_box_secret(sender));
  }
  if (!sealed.ok()) return Status(sealed.status().code(), "recipient '" + e.to + "': " + sealed.status().message());
  e.nonce = sealed->nonce;
  e.box = std::move(sealed->box);
  e.sig = crypto::sign(sender, envelope_signing_bytes(e));
  return e;
}

Status verify_envelope(const Envelope& e, const crypto::PublicKey& sender, crypto::VerifiedCache* verified) {
  if (Status st = check_fields(e); !st.ok()) return st;
  const std::string bytes = envelope_signing_bytes(e);
  const Status ok = verified ? verified->verify(sender, bytes, e.sig) : crypto::verify(sender, bytes, e.sig);
  if (!ok.ok())
    return Status::Unauthenticated("envelope " + e.id.hex() + " is not signed by '" + e.from +
                                   "': spoofed sender or changed on the way");
  return Status::Ok();
}

Result<std::string> open_envelope(const Envelope& e, const crypto::SecretKey& recipient,
                                  const crypto::PublicKey& sender, crypto::BoxCache* cache) {
  if (Status st = verify_envelope(e, sender); !st.ok()) return st;
  if (cache != nullptr) {
    if (cache->own_public_key() != crypto::public_key_of(recipient))
      return Status::InvalidArgument("the box cache given belongs to another key than the recipient's");
    auto plain = cache->open(sender, e.nonce, e.box);
    if (!plain.ok()) return Status(plain.status().code(), "envelope " + e.id.hex() + ": " + plain.status().message());
    return plain;
  }
  auto peer = crypto::to_box_public(sender);
  if (!peer.ok()) return Status::InvalidArgument("sender '" + e.from + "': " + peer.status().message());
  auto plain = crypto::box_open(e.box, e.nonce, *peer, crypto::to_box_secret(recipient));
  if (!plain.ok()) return Status(plain.status().code(), "envelope " + e.id.hex() + ": " + plain.status().message());
  return plain;
}

EnvelopeView to_view(const Envelope& e) {
  EnvelopeView v;
  v.id = e.id.hex();
  v.from = e.from;
  v.to = e.to;
  v.sent_at = e.sent_at;
  v.kind = std::string(kind_name(e.kind));
  v.nonce = crypto::to_base64(e.nonce);
  v.box = crypto::to_base64(e.box);
  v.sig = crypto::to_base64(e.sig);
  return v;
}

Result<Envelope> from_view(const EnvelopeView& v) {
  // base64 of a box over the limit is over 4/3 of it: refuse before decoding.
  if (v.box.size() > kMaxEnvelopeSize / 3 * 4 + 4)
    return Status::PayloadTooLarge("envelope box is " + std::to_string(v.box.size()) +
                                   " base64 characters: an envelope holds at most " +
                                   std::to_string(kMaxEnvelopeSize) + " bytes (send a shorter message)");
  Envelope e;
  auto id = MessageId::parse(v.id);
  if (!id.ok()) return id.status();
  e.id = *id;
  e.from = v.from;
  e.to = v.to;
  e.sent_at = v.sent_at;
  auto kind = parse_kind(v.kind);
  if (!kind.ok()) return kind.status();
  e.kind = *kind;
  auto nonce = crypto::from_base64_fixed<crypto::kNonceSize>(v.nonce, "nonce");
  if (!nonce.ok()) return nonce.status();
  e.nonce = *nonce;
  auto box = crypto::from_base64(v.box, "box");
  if (!box.ok()) return box.status();
  e.box = std::move(*box);
  auto sig = crypto::from_base64_fixed<crypto::kSignatureSize>(v.sig, "sig");
  if (!sig.ok()) return sig.status();
  e.sig = *sig;
  if (Status st = check_fields(e); !st.ok()) return st;
  return e;
}

}  // namespace dws::core
