// Public-key encryption between two identities (crypto_box: X25519,
// XSalsa20-Poly1305) and secret-key sealing (crypto_secretbox). Nonces are
// random, from libsodium's generator: 24 bytes make collisions negligible.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "crypto/keys.hpp"
#include "crypto/secret.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::crypto {

inline constexpr std::size_t kNonceSize = 24;
inline constexpr std::size_t kMacSize = 16;

using Nonce = std::array<std::uint8_t, kNonceSize>;
/// The precomputed key of one (own secret, peer public) pair.
using SharedKey = SecretBytes<32>;
/// A 32-byte key for secretbox.
using SymmetricKey = SecretBytes<32>;

/// A fresh random nonce.
Nonce random_nonce();

/// What crypto_box produces: the nonce it used and the ciphertext, which is
/// kMacSize bytes longer than the plaintext.
struct Sealed {
  Nonce nonce{};
  std::string box;
};

/// crypto_box_beforenm: kInvalidArgument when the peer key is a weak point.
Result<SharedKey> shared_key(const BoxPublicKey& peer, const BoxSecretKey& own);

/// Encrypts to `peer` from `own` with a random nonce (crypto_box_easy).
Result<Sealed> box_seal(std::string_view plaintext, const BoxPublicKey& peer, const BoxSecretKey& own);
/// The same with the nonce given. For test vectors (docs/protocol.md) only:
/// a nonce must never be used twice with one key pair, and every caller
/// outside tests takes the random one above.
Result<Sealed> box_seal(std::string_view plaintext, const BoxPublicKey& peer, const BoxSecretKey& own,
                        const Nonce& nonce);
/// The same with a precomputed key (crypto_box_easy_afternm).
Sealed box_seal(std::string_view plaintext, const SharedKey& key);
/// kUnauthenticated "box does not open" when the box was not made for this
/// key pair or was changed on the way.
Result<std::string> box_open(std::string_view box, const Nonce& nonce, const BoxPublicKey& peer,
                             const BoxSecretKey& own);
Result<std::string> box_open(std::string_view box, const Nonce& nonce, const SharedKey& key);

/// crypto_box between this identity and any peer, addressed by the peers'
/// Ed25519 public keys, with the shared keys of the last `capacity` peers
/// kept (least recently used goes first). The X25519 point multiplication
/// that beforenm saves dominates a short message's cost.
///
/// Safe for concurrent use from multiple threads without external
/// synchronization.
class BoxCache {
 public:
  explicit BoxCache(const SecretKey& own, std::size_t capacity = 256);
  BoxCache(const BoxCache&) = delete;
  BoxCache& operator=(const BoxCache&) = delete;

  /// The Ed25519 public key of the identity this cache encrypts as.
  const PublicKey& own_public_key() const { return own_public_; }

  /// Encrypts to the peer with a random nonce.
  Result<Sealed> seal(const PublicKey& peer, std::string_view plaintext);
  /// Decrypts a box from the peer (kUnauthenticated when it does not open).
  Result<std::string> open(const PublicKey& peer, const Nonce& nonce, std::string_view box);

  std::size_t size() const;
  std::size_t capacity() const { return capacity_; }

 private:
  Result<SharedKey> key_for(const PublicKey& peer);

  struct PeerHash {
    std::size_t operator()(const PublicKey& k) const;
  };
  using Lru = std::list<std::pair<PublicKey, SharedKey>>;

  const PublicKey own_public_;
  const BoxSecretKey own_secret_;
  const std::size_t capacity_;
  mutable std::mutex mu_;
  Lru lru_;  // most recently used first
  std::unordered_map<PublicKey, Lru::iterator, PeerHash> index_;
};

/// secretbox of `plaintext` under `key` with a random nonce: the nonce, then
/// the ciphertext (kNonceSize + kMacSize + plaintext bytes).
std::string secretbox_seal(std::span<const std::uint8_t> plaintext, const SymmetricKey& key);
/// The same with the nonce given. For test vectors (docs/protocol.md) only,
/// as the box_seal overload with a nonce.
std::string secretbox_seal(std::span<const std::uint8_t> plaintext, const SymmetricKey& key, const Nonce& nonce);
/// Opens a secretbox_seal output into `out`, which must be exactly the
/// plaintext's size (so secrets land in memory the caller wipes).
/// kInvalidArgument on a wrong size; kUnauthenticated when the key is wrong
/// or the bytes were changed.
Status secretbox_open(std::string_view sealed, const SymmetricKey& key, std::span<std::uint8_t> out);

}  // namespace dws::crypto
