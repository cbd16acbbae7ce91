#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/envelope.hpp"
#include "crypto/encoding.hpp"

using namespace dws;
using namespace dws::core;

namespace {

struct ManualClock final : Clock {
  std::int64_t wall = 1'700'000'000'000;
  std::int64_t monotonic_ms() override { return 0; }
  std::int64_t wall_ms() override { return wall; }
};

struct Parties {
  crypto::KeyPair alice = crypto::generate_keypair();
  crypto::KeyPair bob = crypto::generate_keypair();
  crypto::KeyPair eve = crypto::generate_keypair();
};

MessageId fixed_id() { return *MessageId::parse("018bcfe5680000112233445566778899"); }

Envelope seal_text(const Parties& p, std::string_view text, crypto::BoxCache* cache = nullptr) {
  auto e = seal_envelope(p.alice.secret_key, "alice", "bob", p.bob.public_key, Kind::kText, text, fixed_id(),
                         1'700'000'000'000, cache);
  REQUIRE_MESSAGE(e.ok(), e.status().to_string());
  return std::move(e).value();
}

}  // namespace

TEST_CASE("envelope: seal, verify and open round-trip") {
  Parties p;
  const Envelope e = seal_text(p, "hi bob");
  CHECK(e.from == "alice");
  CHECK(e.to == "bob");
  CHECK(e.kind == Kind::kText);
  CHECK(e.id == fixed_id());
  CHECK(e.box.find("hi bob") == std::string::npos);
  CHECK(verify_envelope(e, p.alice.public_key).ok());
  auto text = open_envelope(e, p.bob.secret_key, p.alice.public_key);
  REQUIRE(text.ok());
  CHECK(*text == "hi bob");
}

TEST_CASE("envelope: box caches on both sides give the same results") {
  Parties p;
  crypto::BoxCache alice_cache(p.alice.secret_key), bob_cache(p.bob.secret_key);
  const Envelope e = seal_text(p, "cached", &alice_cache);
  auto direct = open_envelope(e, p.bob.secret_key, p.alice.public_key);
  auto cached = open_envelope(e, p.bob.secret_key, p.alice.public_key, &bob_cache);
  REQUIRE(direct.ok());
  REQUIRE(cached.ok());
  CHECK(*direct == "cached");
  CHECK(*cached == "cached");
  // A cache made for someone else is refused rather than silently misused.
  auto wrong = seal_envelope(p.alice.secret_key, "alice", "bob", p.bob.public_key, Kind::kText, "x", fixed_id(), 1,
                             &bob_cache);
  CHECK(wrong.status().code() == Code::kInvalidArgument);
  CHECK(open_envelope(e, p.bob.secret_key, p.alice.public_key, &alice_cache).status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("envelope: a spoofed from (signed by another key) is rejected") {
  Parties p;
  // Eve claims to be alice, signing with her own key.
  auto e = seal_envelope(p.eve.secret_key, "alice", "bob", p.bob.public_key, Kind::kText, "it's alice", fixed_id(),
                         1, nullptr);
  REQUIRE(e.ok());
  const Status st = verify_envelope(*e, p.alice.public_key);
  CHECK(st.code() == Code::kUnauthenticated);
  CHECK(st.message().find("is not signed by 'alice'") != std::string::npos);
  CHECK(open_envelope(*e, p.bob.secret_key, p.alice.public_key).status().code() == Code::kUnauthenticated);
}

TEST_CASE("envelope: a changed to, id, kind, sent_at, nonce or box byte is rejected") {
  Parties p;
  const Envelope e = seal_text(p, "pay 10 to carol");
  auto rejected = [&](const Envelope& x, const char* what) {
    const Status st = verify_envelope(x, p.alice.public_key);
    CHECK_MESSAGE(st.code() == Code::kUnauthenticated, what << ": " << st.to_string());
    CHECK_MESSAGE(!open_envelope(x, p.bob.secret_key, p.alice.public_key).ok(), what);
  };
  Envelope x = e;
  x.to = "eve";
  rejected(x, "to");
  x = e;
  x.from = "alicf";
  rejected(x, "from");
  x = e;
  x.id.bytes[15] ^= 1;
  rejected(x, "id");
  x = e;
  x.kind = Kind::kReceipt;
  rejected(x, "kind");
  x = e;
  x.sent_at += 1;
  rejected(x, "sent_at");
  x = e;
  x.nonce[0] ^= 1;
  rejected(x, "nonce");
  for (std::size_t i = 0; i < e.box.size(); ++i) {
    x = e;
    x.box[i] = static_cast<char>(x.box[i] ^ 0x01);
    rejected(x, "box byte");
  }
  x = e;
  x.sig[10] ^= 1;
  rejected(x, "sig");
}

TEST_CASE("envelope: only the recipient's key opens it") {
  Parties p;
  const Envelope e = seal_text(p, "for bob only");
  auto r = open_envelope(e, p.eve.secret_key, p.alice.public_key);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kUnauthenticated);
  CHECK(r.status().message().find("box does not open") != std::string::npos);
}

TEST_CASE("envelope: binary codec round-trips and is strict") {
  Parties p;
  const Envelope e = seal_text(p, "codec");
  const std::string bytes = encode_envelope(e);
  CHECK(bytes.size() == encoded_size(e));
  auto back = decode_envelope(bytes);
  REQUIRE(back.ok());
  CHECK(*back == e);
  CHECK(verify_envelope(*back, p.alice.public_key).ok());
  for (std::size_t n = 0; n < bytes.size(); ++n) CHECK_MESSAGE(!decode_envelope(bytes.substr(0, n)).ok(), n);
  CHECK(decode_envelope(bytes + std::string(1, '\0')).status().message().find("trailing") != std::string::npos);
  std::string bad_kind = bytes;
  bad_kind[1 + 16 + 1 + 5 + 1 + 3 + 8] = 9;  // format, id, "alice", "bob", sent_at, then kind
  CHECK(decode_envelope(bad_kind).status().message().find("kind 9 is unknown") != std::string::npos);
  std::string upper = bytes;
  upper[1 + 16 + 1] = 'A';
  CHECK(decode_envelope(upper).status().code() == Code::kInvalidArgument);
}

TEST_CASE("envelope: the JSON view round-trips and is strict") {
  Parties p;
  const Envelope e = seal_text(p, "json");
  const EnvelopeView v = to_view(e);
  CHECK(v.id == "018bcfe5680000112233445566778899");
  CHECK(v.kind == "text");
  CHECK(v.sent_at == 1'700'000'000'000);
  auto back = from_view(v);
  REQUIRE(back.ok());
  CHECK(*back == e);

  EnvelopeView x = v;
  x.id = "018BCFE5680000112233445566778899";
  CHECK(from_view(x).status().code() == Code::kInvalidArgument);
  x = v;
  x.id = "018bcfe568000011223344556677889";
  CHECK(from_view(x).status().code() == Code::kInvalidArgument);
  x = v;
  x.kind = "sticker";
  CHECK(from_view(x).status().message() == "envelope kind 'sticker' is unknown: use 'text', 'text2', 'receipt' or 'copy'");
  x = v;
  x.nonce = crypto::to_base64(std::string(23, 'n'));
  CHECK(from_view(x).status().message() == "nonce is 23 bytes: expected 24");
  x = v;
  x.sig = "%%%%";
  CHECK(from_view(x).status().code() == Code::kInvalidArgument);
  x = v;
  x.sent_at = -1;
  CHECK(from_view(x).status().code() == Code::kInvalidArgument);
  x = v;
  x.from = "Al ice";
  CHECK(from_view(x).status().message().find("from: nickname 'Al ice' has a space") != std::string::npos);
  x = v;
  x.box = crypto::to_base64(std::string(3, 'b'));
  CHECK(from_view(x).status().message().find("a box has at least 16") != std::string::npos);
}

TEST_CASE("envelope: over 64 KiB encoded is payload_too_large naming both sizes") {
  Parties p;
  // alice -> bob: 1 + 16 + 6 + 4 + 8 + 1 + 24 + 3 (varint) + box + 64 bytes.
  const std::size_t overhead = 1 + 16 + 6 + 4 + 8 + 1 + 24 + 3 + 64;
  const std::size_t fits = kMaxEnvelopeSize - overhead - crypto::kMacSize;
  auto ok = seal_envelope(p.alice.secret_key, "alice", "bob", p.bob.public_key, Kind::kText, std::string(fits, 'a'),
                          fixed_id(), 1, nullptr);
  REQUIRE_MESSAGE(ok.ok(), ok.status().to_string());
  CHECK(encoded_size(*ok) == kMaxEnvelopeSize);
  CHECK(decode_envelope(encode_envelope(*ok)).ok());
  CHECK(from_view(to_view(*ok)).ok());

  auto big = seal_envelope(p.alice.secret_key, "alice", "bob", p.bob.public_key, Kind::kText,
                           std::string(fits + 1, 'a'), fixed_id(), 1, nullptr);
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().code() == Code::kPayloadTooLarge);
  CHECK(big.status().message() == "envelope is 65537 bytes encoded: at most 65536 (send a shorter message)");

  Envelope forged = *ok;
  forged.box.push_back('x');
  CHECK(decode_envelope(encode_envelope(forged)).status().code() == Code::kPayloadTooLarge);
  CHECK(from_view(to_view(forged)).status().code() == Code::kPayloadTooLarge);
  CHECK(verify_envelope(forged, p.alice.public_key).code() == Code::kPayloadTooLarge);
}

TEST_CASE("envelope: message ids carry the millisecond and print as 32 lower-case hex digits") {
  ManualClock clock;
  SplitMix64 rng(1);
  MessageIdGenerator gen(clock, rng);
  const MessageId id = gen.next();
  CHECK(id.ms() == clock.wall);
  const std::string hex = id.hex();
  CHECK(hex.size() == 32);
  CHECK(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
  auto back = MessageId::parse(hex);
  REQUIRE(back.ok());
  CHECK(*back == id);
}

TEST_CASE("envelope: message ids strictly increase even when the clock steps back") {
  ManualClock clock;
  SplitMix64 rng(42);
  MessageIdGenerator gen(clock, rng);
  std::vector<MessageId> ids;
  const std::int64_t steps[] = {0, 0, 0, 1, 0, -5000, 0, -1, 0, 10, 0, 0, -100000, 3, 20000, -20000};
  for (int round = 0; round < 20; ++round) {
    for (const std::int64_t step : steps) {
      clock.wall += step;
      ids.push_back(gen.next());
    }
  }
  for (std::size_t i = 1; i < ids.size(); ++i) {
    CHECK_MESSAGE(ids[i - 1] < ids[i], "id " << i - 1 << " " << ids[i - 1].hex() << " vs " << ids[i].hex());
    CHECK(ids[i - 1].hex() < ids[i].hex());  // the text form sorts the same way
  }
  // After a step back the millisecond stays at the last one seen.
  ManualClock c2;
  MessageIdGenerator g2(c2, rng);
  const MessageId before = g2.next();
  c2.wall -= 60'000;
  const MessageId after = g2.next();
  CHECK(after.ms() == before.ms());
  CHECK(before < after);
}

TEST_CASE("envelope: kind names round-trip") {
  for (const Kind k : {Kind::kText, Kind::kReceipt, Kind::kCopy, Kind::kText2}) {
    auto back = parse_kind(kind_name(k));
    REQUIRE(back.ok());
    CHECK(*back == k);
  }
  CHECK(kind_name(Kind::kReceipt) == "receipt");
  CHECK(kind_name(Kind::kText2) == "text2");
  auto unknown = parse_kind("text3");
  REQUIRE_FALSE(unknown.ok());
  CHECK_MESSAGE(unknown.status().message().find("'text2'") != std::string::npos,
                "expected the error to list text2 among the kinds, seen " << unknown.status().message());
}
