// Keys from a password: argon2id (crypto_pwhash) stretched to 64 bytes, the
// first half proving the password to a node (auth_key), the second sealing
// the identity's secret key (wrap_key). DESIGN.md section 5.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "crypto/hash.hpp"
#include "crypto/secret.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::crypto {

inline constexpr std::size_t kSaltSize = 16;
using Salt = std::array<std::uint8_t, kSaltSize>;

/// argon2id cost: passes over memory and bytes of memory.
struct KdfLimits {
  std::uint64_t opslimit = 0;
  std::uint64_t memlimit = 0;

  /// libsodium's interactive limits (2 passes, 64 MiB): the default.
  static KdfLimits interactive();
  /// The smallest limits argon2id accepts (1 pass, 8 KiB): tests only.
  static KdfLimits minimum();
  bool operator==(const KdfLimits&) const = default;
};

/// Limits come from the user record, i.e. from a node: a client refuses
/// costs below argon2id's minimum or above libsodium's moderate memory
/// (256 MiB) and sensitive passes (4), so a node cannot make a login eat
/// the device. kInvalidArgument naming the bound otherwise.
Status check_limits(const KdfLimits& limits);

/// A fresh random salt.
Salt random_salt();

/// What a password yields. Wiped when destroyed.
struct PasswordKeys {
  SecretBytes<32> auth_key;
  SecretBytes<32> wrap_key;
};

/// argon2id(password, salt, limits) -> 64 bytes, split. kInvalidArgument for
/// limits out of range; kInternal when argon2id cannot get its memory.
Result<PasswordKeys> derive_password_keys(std::string_view password, const Salt& salt, const KdfLimits& limits);

/// What a node stores to check an auth_key: BLAKE2b-256(auth_key).
Hash256 auth_hash_of(const SecretBytes<32>& auth_key);

}  // namespace dws::crypto
