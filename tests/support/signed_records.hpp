// Records that pass core::RecordValidator, for tests and benchmarks that
// need many stored items: user records of real signed accounts. The fields
// a password would give (salt, auth_hash, sealed secret) are fixed bytes, so
// a record costs one Ed25519 signature and no argon2id.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "core/account.hpp"
#include "core/id.hpp"
#include "core/record.hpp"
#include "crypto/keys.hpp"
#include "dwhatsapp/types.hpp"

namespace dws::test {

class SignedUsers {
 public:
  SignedUsers() : keys_(crypto::generate_keypair()) {}

  /// The signed record of `nick` (stored form: lower case) at `version`.
  core::Record record(const std::string& nick, std::uint64_t version = 1,
                      const std::string& display_name = "") const {
    core::Account a;
    a.nickname = nick;
    a.public_key = keys_.public_key;
    a.limits = crypto::KdfLimits::minimum();
    a.display_name = display_name;
    a.version = version;
    core::sign_account(a, keys_.secret_key);
    return core::Record{core::user_key(nick), "", version, false, 0, core::encode_account(a)};
  }

  /// The first nickname prefix + n (n = 0, 1, ...) whose key lies in (lo, hi].
  std::string nick_in(Id lo, Id hi, const std::string& prefix) const {
    for (int n = 0; n < 10'000'000; ++n) {
      std::string nick = prefix + std::to_string(n);
      if (core::in_half_open(lo, core::user_key(nick), hi)) return nick;
    }
    throw std::runtime_error("no nickname " + prefix + "N has a key in the range");
  }

  const crypto::KeyPair& keys() const { return keys_; }

 private:
  crypto::KeyPair keys_;
};

}  // namespace dws::test
