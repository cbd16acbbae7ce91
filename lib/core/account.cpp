#include "core/account.hpp"

#include <cstring>
#include <utility>

#include "core/nickname.hpp"
#include "core/utf8.hpp"
#include "core/validation.hpp"
#include "core/wire.hpp"
#include "crypto/encoding.hpp"

namespace dws::core {

namespace {

constexpr std::uint8_t kFormat = 1;
// Domain separation: an account signature can never pass for an envelope's
// or a request's.
constexpr std::string_view kSigningTag{"dws1 account\0", 13};

Status check_password(std::string_view password) {
  if (password.empty()) return Status::InvalidArgument("password is empty: choose one");
  if (password.size() > kMaxPasswordBytes)
    return Status::InvalidArgument("password is " + std::to_string(password.size()) + " bytes: at most " +
                                   std::to_string(kMaxPasswordBytes));
  return Status::Ok();
}

// Code points, counting every byte that does not continue a UTF-8 sequence.
std::size_t characters(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

Status check_new_password(std::string_view password) {
  if (Status st = check_password(password); !st.ok()) return st;
  if (const std::size_t n = characters(password); n < kMinPasswordChars)
    return Status::InvalidArgument("password has " + std::to_string(n) + " characters: choose one of at least " +
                                   std::to_string(kMinPasswordChars));
  return Status::Ok();
}

// Seals the secret key under wrap_key; fills salt, limits, auth_hash and
// sealed_secret of `account`.
Status seal_under_password(Account& account, const crypto::SecretKey& secret_key, std::string_view password,
                           const crypto::KdfLimits& limits) {
  if (Status st = check_new_password(password); !st.ok()) return st;
  account.salt = crypto::random_salt();
  account.limits = limits;
  auto keys = crypto::derive_password_keys(password, account.salt, limits);
  if (!keys.ok()) return keys.status();
  account.auth_hash = crypto::auth_hash_of(keys->auth_key);
  const std::string sealed = crypto::secretbox_seal(secret_key.span(), keys->wrap_key);
  std::memcpy(account.sealed_secret.data(), sealed.data(), kSealedSecretSize);
  return Status::Ok();
}

Status check_owner(const Account& current, const crypto::SecretKey& secret_key) {
  if (crypto::public_key_of(secret_key) != current.public_key)
    return Status::InvalidArgument("the secret key given is not the key of '" + current.nickname + "'");
  return Status::Ok();
}

}  // namespace

Status check_display_name(std::string_view name) {
  if (name.size() > kMaxDisplayNameBytes)
    return Status::InvalidArgument("display name is " + std::to_string(name.size()) + " bytes: at most " +
                                   std::to_string(kMaxDisplayNameBytes) + " bytes of UTF-8");
  for (std::size_t i = 0; i < name.size();) {
    const auto b = static_cast<std::uint8_t>(name[i]);
    if (b < 0x20 || b == 0x7f)
      return Status::InvalidArgument("display name has a control character at byte " + std::to_string(i) +
                                     ": use printable text");
    const std::size_t n = utf8_sequence_length(name, i);
    if (n == 0)
      return Status::InvalidArgument("display name is not valid UTF-8 at byte " + std::to_string(i));
    i += n;
  }
  return Status::Ok();
}

Result<NewAccount> make_account(std::string_view nickname, std::string_view password, std::string_view display_name,
                                std::uint64_t version, const crypto::KdfLimits& limits) {
  auto nick = fold_nickname(nickname);
  if (!nick.ok()) return nick.status();
  if (Status st = check_display_name(display_name); !st.ok()) return st;
  if (version == 0) return Status::InvalidArgument("account version is 0: versions start at 1");
  if (Status st = crypto::check_limits(limits); !st.ok()) return st;

  crypto::KeyPair kp = crypto::generate_keypair();
  NewAccount out;
  out.record.nickname = std::move(*nick);
  out.record.public_key = kp.public_key;
  out.record.display_name = std::string(display_name);
  out.record.version = version;
  if (Status st = seal_under_password(out.record, kp.secret_key, password, limits); !st.ok()) return st;
  sign_account(out.record, kp.secret_key);
  out.secret_key = kp.secret_key;
  return out;
}

crypto::Hash256 secret_digest(const Account& account) {
  std::string buf;
  buf.append(reinterpret_cast<const char*>(account.auth_hash.data()), account.auth_hash.size());
  buf.append(reinterpret_cast<const char*>(account.sealed_secret.data()), account.sealed_secret.size());
  return crypto::blake2b_256(buf);
}

std::string account_signing_bytes(const Account& a) {
  wire::Writer w;
  w.raw(kSigningTag);
  w.str(a.nickname);
  w.fixed(a.public_key);
  w.fixed(a.salt);
  w.varint(a.limits.opslimit);
  w.varint(a.limits.memlimit);
  w.str(a.display_name);
  w.varint(a.version);
  w.fixed(secret_digest(a));
  return std::move(w.out());
}

void sign_account(Account& account, const crypto::SecretKey& secret_key) {
  account.signature = crypto::sign(secret_key, account_signing_bytes(account));
}

Status verify_account(const Account& a) {
  if (Status st = check_nickname(a.nickname); !st.ok()) return st;
  if (Status st = check_display_name(a.display_name); !st.ok()) return st;
  if (Status st = crypto::check_limits(a.limits); !st.ok()) return st;
  if (a.version == 0) return Status::InvalidArgument("account version is 0: versions start at 1");
  if (a.version > kMaxVersion)
    return Status::InvalidArgument("account version " + std::to_string(a.version) +
                                   " is above the limit 2^48: versions are bounded so they can always be raised");
  if (!crypto::verify(a.public_key, account_signing_bytes(a), a.signature).ok())
    return Status::Unauthenticated("account signature of '" + a.nickname +
                                   "' does not verify: the record was changed or not signed by its key");
  return Status::Ok();
}

std::string encode_account(const Account& a) {
  wire::Writer w;
  w.byte(kFormat);
  w.str(a.nickname);
  w.fixed(a.public_key);
  w.fixed(a.salt);
  w.varint(a.limits.opslimit);
  w.varint(a.limits.memlimit);
  w.fixed(a.auth_hash);
  w.fixed(a.sealed_secret);
  w.str(a.display_name);
  w.varint(a.version);
  w.fixed(a.signature);
  return std::move(w.out());
}

Result<Account> decode_account(std::string_view bytes) {
  wire::Reader r(bytes);
  Account a;
  std::uint8_t format = 0;
  bool ok = r.byte(format, "account format") &&
            (format == kFormat || r.fail("account format", "unknown format")) &&
            r.str(a.nickname, kMaxNicknameLength, "nickname") && r.fixed(a.public_key, "public_key") &&
            r.fixed(a.salt, "salt") && r.varint(a.limits.opslimit, "opslimit") &&
            r.varint(a.limits.memlimit, "memlimit") && r.fixed(a.auth_hash, "auth_hash") &&
            r.fixed(a.sealed_secret, "sealed_secret") &&
            r.str(a.display_name, kMaxDisplayNameBytes, "display_name") && r.varint(a.version, "version") &&
            r.fixed(a.signature, "signature") && r.end("account");
  if (!ok) return Status::InvalidArgument("account record: " + r.error());
  return a;
}

AccountView public_view(const Account& a) {
  AccountView v;
  v.nickname = a.nickname;
  v.public_key = crypto::to_base64(a.public_key);
  v.display_name = a.display_name;
  v.version = a.version;
  v.salt = crypto::to_base64(a.salt);
  v.opslimit = a.limits.opslimit;
  v.memlimit = a.limits.memlimit;
  v.secret_digest = crypto::to_base64(secret_digest(a));
  v.signature = crypto::to_base64(a.signature);
  return v;
}

Result<PublicAccount> verify_view(const AccountView& v) {
  if (Status st = check_nickname(v.nickname); !st.ok()) return st;
  if (Status st = check_display_name(v.display_name); !st.ok()) return st;
  auto pk = crypto::from_base64_fixed<crypto::kPublicKeySize>(v.public_key, "public_key");
  if (!pk.ok()) return pk.status();
  auto salt = crypto::from_base64_fixed<crypto::kSaltSize>(v.salt, "salt");
  if (!salt.ok()) return salt.status();
  auto digest = crypto::from_base64_fixed<32>(v.secret_digest, "secret_digest");
  if (!digest.ok()) return digest.status();
  auto sig = crypto::from_base64_fixed<crypto::kSignatureSize>(v.signature, "signature");
  if (!sig.ok()) return sig.status();
  const crypto::KdfLimits limits{v.opslimit, v.memlimit};
  if (Status st = crypto::check_limits(limits); !st.ok()) return st;
  if (v.version == 0) return Status::InvalidArgument("account version is 0: versions start at 1");

  wire::Writer w;
  w.raw(kSigningTag);
  w.str(v.nickname);
  w.fixed(*pk);
  w.fixed(*salt);
  w.varint(limits.opslimit);
  w.varint(limits.memlimit);
  w.str(v.display_name);
  w.varint(v.version);
  w.fixed(*digest);
  if (!crypto::verify(*pk, w.out(), *sig).ok())
    return Status::Unauthenticated("account signature of '" + v.nickname +
                                   "' does not verify: the record was changed or not signed by its key");
  return PublicAccount{v.nickname, *pk, v.display_name, v.version, KdfParams{*salt, limits}};
}

KdfParams kdf_params(const Account& account) { return {account.salt, account.limits}; }

Result<crypto::PasswordKeys> derive_keys(std::string_view password, const KdfParams& kdf) {
  if (Status st = check_password(password); !st.ok()) return st;
  return crypto::derive_password_keys(password, kdf.salt, kdf.limits);
}

Status check_login(const Account& account, const crypto::SecretBytes<32>& auth_key) {
  const crypto::Hash256 h = crypto::auth_hash_of(auth_key);
  if (!crypto::equal_ct(h.data(), account.auth_hash.data(), h.size()))
    return Status::Unauthenticated("wrong password for '" + account.nickname + "'");
  return Status::Ok();
}

Result<crypto::SecretKey> open_secret(const SealedSecret& sealed, const crypto::PublicKey& public_key,
                                      const crypto::PasswordKeys& keys) {
  crypto::SecretKey sk;
  const std::string_view bytes(reinterpret_cast<const char*>(sealed.data()), sealed.size());
  if (!crypto::secretbox_open(bytes, keys.wrap_key, std::span<std::uint8_t>(sk.data(), sk.size())).ok())
    return Status::Unauthenticated("sealed secret does not open: wrong password?");
  if (crypto::public_key_of(sk) != public_key)
    return Status::Unauthenticated("sealed secret holds a key other than the account's public key");
  return sk;
}

Result<crypto::SecretKey> open_secret(const Account& account, std::string_view password) {
  auto keys = derive_keys(password, kdf_params(account));
  if (!keys.ok()) return keys.status();
  return open_secret(account.sealed_secret, account.public_key, *keys);
}

Result<Account> change_display_name(const Account& current, const crypto::SecretKey& secret_key,
                                    std::string_view display_name) {
  if (Status st = check_owner(current, secret_key); !st.ok()) return st;
  if (current.version >= kMaxVersion) return Status::InvalidArgument("account version is at its limit 2^48");
  if (Status st = check_display_name(display_name); !st.ok()) return st;
  Account next = current;
  next.display_name = std::string(display_name);
  next.version = current.version + 1;
  sign_account(next, secret_key);
  return next;
}

Result<Account> change_password(const Account& current, const crypto::SecretKey& secret_key,
                                std::string_view new_password, const crypto::KdfLimits& limits) {
  if (Status st = check_owner(current, secret_key); !st.ok()) return st;
  if (current.version >= kMaxVersion) return Status::InvalidArgument("account version is at its limit 2^48");
  Account next = current;
  if (Status st = seal_under_password(next, secret_key, new_password, limits); !st.ok()) return st;
  next.version = current.version + 1;
  sign_account(next, secret_key);
  return next;
}

Status check_update(const Account& current, const Account& proposed) {
  if (Status st = verify_account(proposed); !st.ok()) return st;
  if (proposed.nickname != current.nickname)
    return Status::Forbidden("an update of '" + current.nickname + "' cannot rename it to '" + proposed.nickname + "'");
  if (proposed.public_key != current.public_key)
    return Status::Forbidden("an update of '" + current.nickname +
                             "' changes its public key: a record's key is fixed for life (delete and register anew)");
  if (proposed.version <= current.version)
    return Status::Forbidden("an update of '" + current.nickname + "' has version " +
                             std::to_string(proposed.version) + ", not above the stored version " +
                             std::to_string(current.version) + ": fetch the record and retry");
  return Status::Ok();
}

}  // namespace dws::core
