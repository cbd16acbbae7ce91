// Session keys: an X25519 key exchange (libsodium's crypto_kx) between a
// logged-in client and one node, and the keyed BLAKE2b MAC that requests
// carry under the key it yields (docs/protocol.md section 5.1).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "crypto/hash.hpp"
#include "crypto/secret.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::crypto {

inline constexpr std::size_t kKxKeySize = 32;

using KxPublicKey = std::array<std::uint8_t, kKxKeySize>;
/// The 32-byte key a session's requests are MACed with.
using SessionKey = SecretBytes<32>;

struct KxKeyPair {
  KxPublicKey public_key{};
  SecretBytes<kKxKeySize> secret_key;
};

/// A fresh exchange key pair (one per session, never reused).
KxKeyPair kx_keypair();
/// The key pair a 32-byte seed determines (the protocol's test vectors).
KxKeyPair kx_keypair_from_seed(const SecretBytes<32>& seed);

/// The client's side: the key it MACs requests to the server with
/// (crypto_kx_client_session_keys' tx key). kInvalidArgument when the
/// server's public key is not usable (a low-order point).
Result<SessionKey> kx_client_key(const KxKeyPair& client, const KxPublicKey& server_public_key);
/// The server's side: the same key (crypto_kx_server_session_keys' rx key).
Result<SessionKey> kx_server_key(const KxKeyPair& server, const KxPublicKey& client_public_key);

/// BLAKE2b-256 of `text` keyed with `key` (16 to 64 bytes); what Python's
/// hashlib.blake2b(text, key=key, digest_size=32) computes too.
Hash256 keyed_blake2b_256(std::span<const std::uint8_t> key, std::string_view text);

}  // namespace dws::crypto
