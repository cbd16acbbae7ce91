#include "crypto/pwhash.hpp"

#include <sodium.h>

#include <cstring>

namespace dws::crypto {

static_assert(kSaltSize == crypto_pwhash_argon2id_SALTBYTES);

KdfLimits KdfLimits::interactive() {
  return {crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE, crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
}

KdfLimits KdfLimits::minimum() { return {crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MIN}; }

Status check_limits(const KdfLimits& limits) {
  constexpr std::uint64_t kMaxOps = crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE;
  constexpr std::uint64_t kMaxMem = crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
  if (limits.opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN || limits.opslimit > kMaxOps)
    return Status::InvalidArgument("KDF opslimit " + std::to_string(limits.opslimit) + " is out of range: use " +
                                   std::to_string(crypto_pwhash_argon2id_OPSLIMIT_MIN) + " to " +
                                   std::to_string(kMaxOps));
  if (limits.memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN || limits.memlimit > kMaxMem)
    return Status::InvalidArgument("KDF memlimit " + std::to_string(limits.memlimit) + " bytes is out of range: use " +
                                   std::to_string(crypto_pwhash_argon2id_MEMLIMIT_MIN) + " to " +
                                   std::to_string(kMaxMem));
  return Status::Ok();
}

Salt random_salt() {
  ensure_init();
  Salt s{};
  randombytes_buf(s.data(), s.size());
  return s;
}

Result<PasswordKeys> derive_password_keys(std::string_view password, const Salt& salt, const KdfLimits& limits) {
  ensure_init();
  if (Status st = check_limits(limits); !st.ok()) return st;
  SecretBytes<64> out;
  if (crypto_pwhash(out.data(), out.size(), password.data(), password.size(), salt.data(), limits.opslimit,
                    static_cast<std::size_t>(limits.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0)
    return Status::Internal("argon2id could not allocate " + std::to_string(limits.memlimit) + " bytes");
  PasswordKeys keys;
  std::memcpy(keys.auth_key.data(), out.data(), 32);
  std::memcpy(keys.wrap_key.data(), out.data() + 32, 32);
  return keys;
}

Hash256 auth_hash_of(const SecretBytes<32>& auth_key) {
  return blake2b_256(std::string_view(reinterpret_cast<const char*>(auth_key.data()), auth_key.size()));
}

}  // namespace dws::crypto
