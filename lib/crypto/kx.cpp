#include "crypto/kx.hpp"

#include <sodium.h>

namespace dws::crypto {

KxKeyPair kx_keypair() {
  ensure_init();
  KxKeyPair kp;
  crypto_kx_keypair(kp.public_key.data(), kp.secret_key.data());
  return kp;
}

KxKeyPair kx_keypair_from_seed(const SecretBytes<32>& seed) {
  ensure_init();
  KxKeyPair kp;
  crypto_kx_seed_keypair(kp.public_key.data(), kp.secret_key.data(), seed.data());
  return kp;
}

Result<SessionKey> kx_client_key(const KxKeyPair& client, const KxPublicKey& server_public_key) {
  ensure_init();
  SessionKey rx, tx;
  if (crypto_kx_client_session_keys(rx.data(), tx.data(), client.public_key.data(), client.secret_key.data(),
                                    server_public_key.data()) != 0)
    return Status::InvalidArgument("the node's session key is not a usable X25519 public key");
  return tx;
}

Result<SessionKey> kx_server_key(const KxKeyPair& server, const KxPublicKey& client_public_key) {
  ensure_init();
  SessionKey rx, tx;
  if (crypto_kx_server_session_keys(rx.data(), tx.data(), server.public_key.data(), server.secret_key.data(),
                                    client_public_key.data()) != 0)
    return Status::InvalidArgument("'client_key' is not a usable X25519 public key");
  return rx;
}

Hash256 keyed_blake2b_256(std::span<const std::uint8_t> key, std::string_view text) {
  ensure_init();
  Hash256 out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                     key.data(), key.size());
  return out;
}

}  // namespace dws::crypto
