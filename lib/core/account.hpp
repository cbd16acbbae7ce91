// The user record (DESIGN.md section 5): who a nickname belongs to, what
// proves the password to a node, the sealed secret key only the password
// opens, and the owner's signature over all of it.
//
// Everything here is pure: keys and salts come from libsodium's generator,
// nothing is stored or sent. Nodes keep encode_account bytes; clients see
// public_view and, after a login, the sealed secret.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/box.hpp"
#include "crypto/hash.hpp"
#include "crypto/keys.hpp"
#include "crypto/pwhash.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::core {

/// secretbox(wrap_key, Ed25519 secret key): nonce, MAC, 64 bytes of key.
inline constexpr std::size_t kSealedSecretSize = crypto::kNonceSize + crypto::kMacSize + crypto::kSecretKeySize;
/// Display names are free UTF-8 text without control characters, this many
/// bytes at most.
inline constexpr std::size_t kMaxDisplayNameBytes = 64;
/// Bounds the work a password costs before argon2id sees it.
inline constexpr std::size_t kMaxPasswordBytes = 1024;
/// A new password (register, change) has at least this many characters
/// (Unicode code points). Nodes never see passwords: the client enforces it.
inline constexpr std::size_t kMinPasswordChars = 8;

using SealedSecret = std::array<std::uint8_t, kSealedSecretSize>;

/// The full record as nodes store it. `signature` is the owner's Ed25519
/// signature over account_signing_bytes (every other field).
struct Account {
  std::string nickname;
  crypto::PublicKey public_key{};
  crypto::Salt salt{};
  crypto::KdfLimits limits;
  crypto::Hash256 auth_hash{};
  SealedSecret sealed_secret{};
  std::string display_name;
  std::uint64_t version = 0;
  crypto::Signature signature{};

  bool operator==(const Account&) const = default;
};

/// A new record and the secret key it seals (the client keeps the key).
struct NewAccount {
  Account record;
  crypto::SecretKey secret_key;
};

/// Where the password's keys come from: salt and argon2id limits
/// (GET /v1/users/{nick}/kdf).
struct KdfParams {
  crypto::Salt salt{};
  crypto::KdfLimits limits;
};

/// kInvalidArgument when a display name is longer than kMaxDisplayNameBytes,
/// not UTF-8, or holds a control character (saying which).
Status check_display_name(std::string_view display_name);

/// Makes a key pair, a salt, the password's keys, and the signed record.
/// `nickname` is folded (fold_nickname). kInvalidArgument for a bad
/// nickname, display name, empty or over-long password, or limits.
Result<NewAccount> make_account(std::string_view nickname, std::string_view password, std::string_view display_name,
                                std::uint64_t version = 1,
                                const crypto::KdfLimits& limits = crypto::KdfLimits::interactive());

/// What the owner signs: a domain tag, then nickname, public key, salt,
/// limits, display name, version, and BLAKE2b-256(auth_hash || sealed_secret)
/// so that the public view can be checked without the private fields.
std::string account_signing_bytes(const Account& account);
/// BLAKE2b-256(auth_hash || sealed_secret).
crypto::Hash256 secret_digest(const Account& account);
/// Sets account.signature with `secret_key`.
void sign_account(Account& account, const crypto::SecretKey& secret_key);

/// Field checks (nickname in stored form, limits, display name, version >= 1)
/// then the signature by account.public_key. kInvalidArgument naming the
/// field, or kUnauthenticated "account signature does not verify".
Status verify_account(const Account& account);

/// Strict binary encoding: format byte, then the fields in declaration order.
std::string encode_account(const Account& account);
/// Strict inverse of encode_account: kInvalidArgument for truncated,
/// trailing, non-canonical or unknown-format input (with the offset). Does
/// not check the signature: call verify_account.
Result<Account> decode_account(std::string_view bytes);

/// What GET /v1/users/{nick} returns: never auth_hash or sealed_secret.
/// Binary fields are standard padded base64. Anyone can check it with
/// verify_view.
struct AccountView {
  std::string nickname;
  std::string public_key;
  std::string display_name;
  std::uint64_t version = 0;
  std::string salt;
  std::uint64_t opslimit = 0;
  std::uint64_t memlimit = 0;
  std::string secret_digest;
  std::string signature;

  bool operator==(const AccountView&) const = default;
};

/// The checked content of an AccountView.
struct PublicAccount {
  std::string nickname;
  crypto::PublicKey public_key{};
  std::string display_name;
  std::uint64_t version = 0;
  KdfParams kdf;
};

AccountView public_view(const Account& account);
/// Decodes strictly and checks the owner's signature. kInvalidArgument
/// naming the field, kUnauthenticated when the signature does not verify.
Result<PublicAccount> verify_view(const AccountView& view);

KdfParams kdf_params(const Account& account);

/// argon2id of the password under the record's salt and limits (checked:
/// a node cannot make the client spend more than check_limits allows).
Result<crypto::PasswordKeys> derive_keys(std::string_view password, const KdfParams& kdf);

/// The node's side of a login: BLAKE2b-256(auth_key) against auth_hash in
/// constant time. kUnauthenticated "wrong password for 'alice'".
Status check_login(const Account& account, const crypto::SecretBytes<32>& auth_key);

/// Opens a sealed secret with the password's wrap_key and checks that it is
/// the secret half of `public_key`. kUnauthenticated "sealed secret does not
/// open: wrong password?" or when the key inside is not `public_key`'s.
Result<crypto::SecretKey> open_secret(const SealedSecret& sealed, const crypto::PublicKey& public_key,
                                      const crypto::PasswordKeys& keys);
/// derive_keys then open_secret on a full record (one argon2id call).
Result<crypto::SecretKey> open_secret(const Account& account, std::string_view password);

/// A signed update that changes the display name; version + 1.
/// kInvalidArgument when `secret_key` is not the record's or the name is bad.
Result<Account> change_display_name(const Account& current, const crypto::SecretKey& secret_key,
                                    std::string_view display_name);
/// A signed update that re-seals the same key under a new password with a
/// new salt, and a new auth_hash; version + 1.
Result<Account> change_password(const Account& current, const crypto::SecretKey& secret_key,
                                std::string_view new_password,
                                const crypto::KdfLimits& limits = crypto::KdfLimits::interactive());

/// Whether `proposed` may replace `current`: it verifies (so it is signed by
/// its public key), the nickname and the public key are unchanged
/// (kForbidden: a record's key is fixed for life), and the version rises
/// (kForbidden naming both versions).
Status check_update(const Account& current, const Account& proposed);

}  // namespace dws::core
