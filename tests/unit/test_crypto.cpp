#include <doctest/doctest.h>

#include <sodium.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto/box.hpp"
#include "crypto/encoding.hpp"
#include "crypto/keys.hpp"
#include "crypto/verified_cache.hpp"
#include "crypto/pwhash.hpp"

using namespace dws;
using namespace dws::crypto;

namespace {

Seed seed_of(std::uint8_t b) {
  Seed s;
  for (std::size_t i = 0; i < s.size(); ++i) s.data()[i] = static_cast<std::uint8_t>(b + i);
  return s;
}

std::string hex(const auto& bytes) { return to_hex(std::span<const std::uint8_t>(bytes.data(), bytes.size())); }

}  // namespace

TEST_CASE("crypto: a signature verifies with the signer's key only") {
  const KeyPair alice = generate_keypair();
  const KeyPair bob = generate_keypair();
  const Signature sig = sign(alice.secret_key, "hello");
  CHECK(verify(alice.public_key, "hello", sig).ok());
  const Status other = verify(bob.public_key, "hello", sig);
  CHECK(other.code() == Code::kUnauthenticated);
  CHECK(other.message() == "signature does not verify");
}

TEST_CASE("crypto: changing any byte of the message or the signature breaks it") {
  const KeyPair kp = keypair_from_seed(seed_of(1));
  const std::string msg = "the quick brown fox";
  const Signature sig = sign(kp.secret_key, msg);
  for (std::size_t i = 0; i < msg.size(); ++i) {
    std::string m = msg;
    m[i] = static_cast<char>(m[i] ^ 0x01);
    CHECK_MESSAGE(!verify(kp.public_key, m, sig).ok(), "message byte " << i);
  }
  for (std::size_t i = 0; i < sig.size(); ++i) {
    Signature s = sig;
    s[i] ^= 0x80;
    CHECK_MESSAGE(!verify(kp.public_key, msg, s).ok(), "signature byte " << i);
  }
  CHECK(!verify(kp.public_key, msg + "!", sig).ok());
}

TEST_CASE("crypto: a seed determines the key pair, and the secret key carries the public one") {
  const KeyPair a = keypair_from_seed(seed_of(7));
  const KeyPair b = keypair_from_seed(seed_of(7));
  const KeyPair c = keypair_from_seed(seed_of(8));
  CHECK(a.public_key == b.public_key);
  CHECK(a.secret_key == b.secret_key);
  CHECK(a.public_key != c.public_key);
  CHECK(public_key_of(a.secret_key) == a.public_key);
  CHECK(sign(a.secret_key, "x") == sign(b.secret_key, "x"));  // Ed25519 is deterministic
}

TEST_CASE("crypto: the X25519 forms are libsodium's conversions and agree on a shared key") {
  const KeyPair alice = keypair_from_seed(seed_of(1));
  const KeyPair bob = keypair_from_seed(seed_of(2));
  BoxPublicKey expected{};
  REQUIRE(crypto_sign_ed25519_pk_to_curve25519(expected.data(), alice.public_key.data()) == 0);
  auto apub = to_box_public(alice.public_key);
  REQUIRE(apub.ok());
  CHECK(*apub == expected);
  // The secret's public point is the converted public key.
  const BoxSecretKey asec = to_box_secret(alice.secret_key);
  BoxPublicKey derived{};
  crypto_scalarmult_base(derived.data(), asec.data());
  CHECK(derived == expected);

  auto bpub = to_box_public(bob.public_key);
  REQUIRE(bpub.ok());
  auto k1 = shared_key(*bpub, asec);
  auto k2 = shared_key(*apub, to_box_secret(bob.secret_key));
  REQUIRE(k1.ok());
  REQUIRE(k2.ok());
  CHECK(*k1 == *k2);
}

TEST_CASE("crypto: a public key that is not an Ed25519 point cannot be a recipient") {
  PublicKey bad{};
  bad.fill(0xff);  // not a canonical field element
  auto r = to_box_public(bad);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
}

TEST_CASE("crypto: a box opens with the right keys and not with a wrong one") {
  const KeyPair alice = generate_keypair(), bob = generate_keypair(), eve = generate_keypair();
  const auto bob_pub = *to_box_public(bob.public_key);
  const auto alice_pub = *to_box_public(alice.public_key);
  auto sealed = box_seal("meet at noon", bob_pub, to_box_secret(alice.secret_key));
  REQUIRE(sealed.ok());
  CHECK(sealed->box.size() == 12 + kMacSize);
  auto opened = box_open(sealed->box, sealed->nonce, alice_pub, to_box_secret(bob.secret_key));
  REQUIRE(opened.ok());
  CHECK(*opened == "meet at noon");

  auto by_eve = box_open(sealed->box, sealed->nonce, alice_pub, to_box_secret(eve.secret_key));
  REQUIRE_FALSE(by_eve.ok());
  CHECK(by_eve.status().code() == Code::kUnauthenticated);
  // Bob believing it came from Eve fails too: the box authenticates the sender.
  CHECK_FALSE(box_open(sealed->box, sealed->nonce, *to_box_public(eve.public_key), to_box_secret(bob.secret_key)).ok());

  std::string flipped = sealed->box;
  flipped[3] = static_cast<char>(flipped[3] ^ 1);
  CHECK_FALSE(box_open(flipped, sealed->nonce, alice_pub, to_box_secret(bob.secret_key)).ok());
  Nonce other = sealed->nonce;
  other[0] ^= 1;
  CHECK_FALSE(box_open(sealed->box, other, alice_pub, to_box_secret(bob.secret_key)).ok());
  CHECK_FALSE(box_open("short", sealed->nonce, alice_pub, to_box_secret(bob.secret_key)).ok());
}

TEST_CASE("crypto: each box gets a fresh random nonce") {
  const KeyPair alice = generate_keypair(), bob = generate_keypair();
  const auto bob_pub = *to_box_public(bob.public_key);
  std::set<std::string> nonces;
  for (int i = 0; i < 50; ++i) {
    auto s = box_seal("same", bob_pub, to_box_secret(alice.secret_key));
    REQUIRE(s.ok());
    nonces.insert(hex(s->nonce));
  }
  CHECK(nonces.size() == 50);
}

TEST_CASE("crypto: the beforenm cache gives the same boxes as direct crypto_box") {
  const KeyPair alice = generate_keypair(), bob = generate_keypair();
  BoxCache alice_cache(alice.secret_key);
  BoxCache bob_cache(bob.secret_key);
  CHECK(alice_cache.own_public_key() == alice.public_key);

  // Cached seal, direct open.
  auto s1 = alice_cache.seal(bob.public_key, "via cache");
  REQUIRE(s1.ok());
  auto o1 = box_open(s1->box, s1->nonce, *to_box_public(alice.public_key), to_box_secret(bob.secret_key));
  REQUIRE(o1.ok());
  CHECK(*o1 == "via cache");

  // Direct seal, cached open; and the same nonce gives the same bytes.
  auto s2 = box_seal("direct", *to_box_public(bob.public_key), to_box_secret(alice.secret_key));
  REQUIRE(s2.ok());
  auto o2 = bob_cache.open(alice.public_key, s2->nonce, s2->box);
  REQUIRE(o2.ok());
  CHECK(*o2 == "direct");
  std::string again(s2->box.size(), '\0');
  auto key = *shared_key(*to_box_public(bob.public_key), to_box_secret(alice.secret_key));
  crypto_box_easy_afternm(reinterpret_cast<unsigned char*>(again.data()),
                          reinterpret_cast<const unsigned char*>("direct"), 6, s2->nonce.data(), key.data());
  CHECK(again == s2->box);

  // A wrong peer does not open it.
  const KeyPair eve = generate_keypair();
  auto o3 = bob_cache.open(eve.public_key, s2->nonce, s2->box);
  REQUIRE_FALSE(o3.ok());
  CHECK(o3.status().code() == Code::kUnauthenticated);
}

TEST_CASE("crypto: the box cache stays within its capacity and evicts the least recently used") {
  const KeyPair own = generate_keypair();
  BoxCache cache(own.secret_key, 3);
  std::vector<KeyPair> peers;
  for (int i = 0; i < 5; ++i) peers.push_back(generate_keypair());
  for (int i = 0; i < 3; ++i) REQUIRE(cache.seal(peers[static_cast<std::size_t>(i)].public_key, "x").ok());
  CHECK(cache.size() == 3);
  REQUIRE(cache.seal(peers[0].public_key, "x").ok());  // 0 is now the most recent
  REQUIRE(cache.seal(peers[3].public_key, "x").ok());  // evicts 1
  REQUIRE(cache.seal(peers[4].public_key, "x").ok());  // evicts 2
  CHECK(cache.size() == 3);
  // Whatever was evicted is recomputed correctly.
  auto s = cache.seal(peers[1].public_key, "after eviction");
  REQUIRE(s.ok());
  auto o = box_open(s->box, s->nonce, *to_box_public(own.public_key), to_box_secret(peers[1].secret_key));
  REQUIRE(o.ok());
  CHECK(*o == "after eviction");
  CHECK(cache.size() == 3);
}

TEST_CASE("crypto: the box cache is safe to use from several threads") {
  const KeyPair own = generate_keypair();
  std::vector<KeyPair> peers;
  for (int i = 0; i < 8; ++i) peers.push_back(generate_keypair());
  BoxCache cache(own.secret_key, 4);
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const KeyPair& p = peers[static_cast<std::size_t>((i * 7 + t) % 8)];
        auto s = cache.seal(p.public_key, "m");
        if (!s.ok()) {
          ++failures[static_cast<std::size_t>(t)];
          continue;
        }
        auto o = cache.open(p.public_key, s->nonce, s->box);  // own box to peer opens with the same shared key
        if (!o.ok() || *o != "m") ++failures[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) CHECK(f == 0);
  CHECK(cache.size() <= 4);
}

TEST_CASE("crypto: secretbox opens with its key into a buffer of the exact size") {
  SymmetricKey key, other;
  randombytes_buf(key.data(), key.size());
  randombytes_buf(other.data(), other.size());
  const std::array<std::uint8_t, 5> secret{1, 2, 3, 4, 5};
  const std::string sealed = secretbox_seal(secret, key);
  CHECK(sealed.size() == kNonceSize + kMacSize + secret.size());
  std::array<std::uint8_t, 5> out{};
  REQUIRE(secretbox_open(sealed, key, out).ok());
  CHECK(out == secret);
  CHECK(secretbox_open(sealed, other, out).code() == Code::kUnauthenticated);
  std::array<std::uint8_t, 4> small{};
  CHECK(secretbox_open(sealed, key, small).code() == Code::kInvalidArgument);
  std::string changed = sealed;
  changed.back() = static_cast<char>(changed.back() ^ 1);
  CHECK(secretbox_open(changed, key, out).code() == Code::kUnauthenticated);
}

TEST_CASE("crypto: password keys are deterministic for one salt and differ by password and salt") {
  const KdfLimits lim = KdfLimits::minimum();
  Salt salt{};
  salt.fill(0x42);
  Salt salt2 = salt;
  salt2[15] ^= 1;
  auto a = derive_password_keys("correct horse", salt, lim);
  auto b = derive_password_keys("correct horse", salt, lim);
  auto c = derive_password_keys("correct horsf", salt, lim);
  auto d = derive_password_keys("correct horse", salt2, lim);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  REQUIRE(d.ok());
  CHECK(a->auth_key == b->auth_key);
  CHECK(a->wrap_key == b->wrap_key);
  CHECK_FALSE(a->auth_key == a->wrap_key);
  CHECK_FALSE(a->auth_key == c->auth_key);
  CHECK_FALSE(a->wrap_key == c->wrap_key);
  CHECK_FALSE(a->auth_key == d->auth_key);
  CHECK_FALSE(a->wrap_key == d->wrap_key);

  // The split is crypto_pwhash's 64 bytes, first half then second half.
  std::array<std::uint8_t, 64> raw{};
  REQUIRE(crypto_pwhash(raw.data(), raw.size(), "correct horse", 13, salt.data(), lim.opslimit,
                        static_cast<std::size_t>(lim.memlimit), crypto_pwhash_ALG_ARGON2ID13) == 0);
  CHECK(std::equal(raw.begin(), raw.begin() + 32, a->auth_key.data()));
  CHECK(std::equal(raw.begin() + 32, raw.end(), a->wrap_key.data()));
  // auth_hash is BLAKE2b-256 of the auth key.
  CHECK(auth_hash_of(a->auth_key) ==
        blake2b_256(std::string_view(reinterpret_cast<const char*>(raw.data()), 32)));
}

TEST_CASE("crypto: the interactive limits are argon2id's and derive keys") {
  const KdfLimits lim = KdfLimits::interactive();
  CHECK(lim.opslimit == crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE);
  CHECK(lim.memlimit == crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE);
  const Salt salt = random_salt();
  auto a = derive_password_keys("pw", salt, lim);
  REQUIRE(a.ok());
  auto m = derive_password_keys("pw", salt, KdfLimits::minimum());
  REQUIRE(m.ok());
  CHECK_FALSE(a->auth_key == m->auth_key);  // the cost is part of the function
}

TEST_CASE("crypto: KDF limits outside the accepted range are refused") {
  CHECK(check_limits(KdfLimits::interactive()).ok());
  CHECK(check_limits(KdfLimits::minimum()).ok());
  const Status big = check_limits({2, std::uint64_t{1} << 31});
  CHECK(big.code() == Code::kInvalidArgument);
  CHECK(big.message().find("memlimit") != std::string::npos);
  CHECK(check_limits({0, 1 << 20}).code() == Code::kInvalidArgument);
  CHECK(check_limits({100, 1 << 20}).code() == Code::kInvalidArgument);
  CHECK(check_limits({2, 1024}).code() == Code::kInvalidArgument);
  CHECK(derive_password_keys("pw", random_salt(), {2, std::uint64_t{1} << 40}).status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("crypto: base64 round-trips and decoding is strict") {
  for (const std::string& s : {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
                              std::string("foob"), std::string("\x00\xff\x10", 3)}) {
    const std::string b = to_base64(s);
    auto back = from_base64(b);
    REQUIRE_MESSAGE(back.ok(), b);
    CHECK(*back == s);
  }
  CHECK(to_base64(std::string("foob")) == "Zm9vYg==");
  CHECK(to_base64(std::string("\xfb\xff", 2)) == "+/8=");  // the original alphabet, not URL-safe
  CHECK_FALSE(from_base64("Zm9vYg").ok());     // missing padding
  CHECK_FALSE(from_base64("Zm9vYg=").ok());    // short padding
  CHECK_FALSE(from_base64("Zm9vYh==").ok());   // non-zero padding bits
  CHECK_FALSE(from_base64("Zm9v Yg==").ok());  // whitespace
  CHECK_FALSE(from_base64("-_8=").ok());       // URL-safe alphabet
  CHECK_FALSE(from_base64("Zm9vYg==Zm9v").ok());
  auto wrong = from_base64_fixed<32>(to_base64(std::string(31, 'x')), "public_key");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().message() == "public_key is 31 bytes: expected 32");
}

TEST_CASE("crypto: secret bytes compare in constant time and are wiped on destruction") {
  SecretBytes<8> a, b;
  a.data()[3] = 7;
  CHECK_FALSE(a == b);
  b.data()[3] = 7;
  CHECK(a == b);
  alignas(SecretBytes<8>) unsigned char storage[sizeof(SecretBytes<8>)] = {};
  auto* s = new (storage) SecretBytes<8>(a);
  const std::uint8_t* bytes = s->data();
  CHECK(bytes[3] == 7);
  s->~SecretBytes<8>();
  // Read through volatile: the bytes outlive the object that wiped them.
  const volatile unsigned char* raw = storage;
  bool all_zero = true;
  for (std::size_t i = 0; i < 8; ++i) all_zero = all_zero && raw[i] == 0;
  CHECK(all_zero);
}

TEST_CASE("crypto: the verified cache verifies a triple once, remembers only successes, and forgets the oldest") {
  const dws::crypto::KeyPair k = dws::crypto::generate_keypair();
  const dws::crypto::Signature sig = dws::crypto::sign(k.secret_key, "hello");
  dws::crypto::VerifiedCache cache(2);
  CHECK(cache.verify(k.public_key, "hello", sig).ok());
  CHECK(cache.verify(k.public_key, "hello", sig).ok());
  CHECK(cache.counts().verified == 1);
  CHECK(cache.counts().hits == 1);
  // Another message, another key or a changed signature is verified (and refused).
  CHECK(cache.verify(k.public_key, "hellO", sig).code() == dws::Code::kUnauthenticated);
  CHECK(cache.verify(dws::crypto::generate_keypair().public_key, "hello", sig).code() ==
        dws::Code::kUnauthenticated);
  dws::crypto::Signature flipped = sig;
  flipped[0] ^= 1;
  CHECK(cache.verify(k.public_key, "hello", flipped).code() == dws::Code::kUnauthenticated);
  CHECK(cache.verify(k.public_key, "hello", flipped).code() == dws::Code::kUnauthenticated);  // not remembered
  CHECK(cache.counts().verified == 5);
  // Two generations of 2: the first triple survives two more, not four.
  for (const char* m : {"a", "b", "c", "d"}) CHECK(cache.verify(k.public_key, m, dws::crypto::sign(k.secret_key, m)).ok());
  const auto before = cache.counts().verified;
  CHECK(cache.verify(k.public_key, "hello", sig).ok());
  CHECK(cache.counts().verified == before + 1);
}
