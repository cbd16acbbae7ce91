#include "crypto/keys.hpp"

#include <sodium.h>

#include "crypto/hash.hpp"

namespace dws::crypto {

static_assert(kPublicKeySize == crypto_sign_PUBLICKEYBYTES);
static_assert(kSecretKeySize == crypto_sign_SECRETKEYBYTES);
static_assert(kSeedSize == crypto_sign_SEEDBYTES);
static_assert(kSignatureSize == crypto_sign_BYTES);
static_assert(std::tuple_size_v<BoxPublicKey> == crypto_box_PUBLICKEYBYTES);
static_assert(BoxSecretKey::kSize == crypto_box_SECRETKEYBYTES);

KeyPair generate_keypair() {
  ensure_init();
  KeyPair kp;
  crypto_sign_keypair(kp.public_key.data(), kp.secret_key.data());
  return kp;
}

KeyPair keypair_from_seed(const Seed& seed) {
  ensure_init();
  KeyPair kp;
  crypto_sign_seed_keypair(kp.public_key.data(), kp.secret_key.data(), seed.data());
  return kp;
}

PublicKey public_key_of(const SecretKey& secret_key) {
  PublicKey pk{};
  crypto_sign_ed25519_sk_to_pk(pk.data(), secret_key.data());
  return pk;
}

Signature sign(const SecretKey& secret_key, std::string_view message) {
  ensure_init();
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       secret_key.data());
  return sig;
}

Status verify(const PublicKey& public_key, std::string_view message, const Signature& signature) {
  ensure_init();
  if (crypto_sign_verify_detached(signature.data(), reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size(), public_key.data()) != 0)
    return Status::Unauthenticated("signature does not verify");
  return Status::Ok();
}

Result<BoxPublicKey> to_box_public(const PublicKey& public_key) {
  ensure_init();
  BoxPublicKey out{};
  if (crypto_sign_ed25519_pk_to_curve25519(out.data(), public_key.data()) != 0)
    return Status::InvalidArgument("public key is not a valid Ed25519 point: it cannot receive encrypted messages");
  return out;
}

BoxSecretKey to_box_secret(const SecretKey& secret_key) {
  ensure_init();
  BoxSecretKey out;
  crypto_sign_ed25519_sk_to_curve25519(out.data(), secret_key.data());
  return out;
}

}  // namespace dws::crypto
