// Identity keys: Ed25519 key pairs, detached signatures, and the X25519
// form of the same keys that crypto_box encrypts with (DESIGN.md section 5).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "crypto/secret.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::crypto {

inline constexpr std::size_t kPublicKeySize = 32;
inline constexpr std::size_t kSecretKeySize = 64;
inline constexpr std::size_t kSeedSize = 32;
inline constexpr std::size_t kSignatureSize = 64;

/// An Ed25519 public key: a user's identity.
using PublicKey = std::array<std::uint8_t, kPublicKeySize>;
/// An Ed25519 secret key in libsodium's form: the 32-byte seed, then the
/// public key.
using SecretKey = SecretBytes<kSecretKeySize>;
using Seed = SecretBytes<kSeedSize>;
using Signature = std::array<std::uint8_t, kSignatureSize>;

/// X25519 keys, derived from the Ed25519 ones, for crypto_box.
using BoxPublicKey = std::array<std::uint8_t, 32>;
using BoxSecretKey = SecretBytes<32>;

struct KeyPair {
  PublicKey public_key{};
  SecretKey secret_key;
};

/// A fresh key pair from libsodium's random generator.
KeyPair generate_keypair();
/// The key pair a seed determines (tests, and recovery from a stored seed).
KeyPair keypair_from_seed(const Seed& seed);
/// The public half carried inside a secret key.
PublicKey public_key_of(const SecretKey& secret_key);

/// Ed25519 detached signature of `message`.
Signature sign(const SecretKey& secret_key, std::string_view message);
/// kUnauthenticated "signature does not verify" when `signature` is not
/// `public_key`'s signature of `message`.
Status verify(const PublicKey& public_key, std::string_view message, const Signature& signature);

/// The X25519 public key of an Ed25519 public key. kInvalidArgument when the
/// bytes are not a usable Ed25519 point (crypto_box would be unsafe).
Result<BoxPublicKey> to_box_public(const PublicKey& public_key);
/// The X25519 secret key of an Ed25519 secret key.
BoxSecretKey to_box_secret(const SecretKey& secret_key);

}  // namespace dws::crypto
