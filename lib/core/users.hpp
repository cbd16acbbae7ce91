// User records over the ring (DESIGN.md section 5): register (first writer
// wins, decided by the primary), read, signed update, delete, login decided
// at the user's primary, and the ring-wide user list.
//
// Storage: Record{key = user_key(nick), sub = "", version = account.version,
// payload = encode_account(account)}; a deleted user is a tombstone with a
// higher version, carrying the owner's signed DeletionProof, that expires
// after the tombstone TTL, until which the nickname cannot be registered
// again.
//
// No threads, sockets or clock: time is passed in. Thread-safe (the login
// limiter locks itself; everything else goes through the Replicator).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/account.hpp"
#include "core/auth.hpp"
#include "core/login_limiter.hpp"
#include "core/env.hpp"
#include "core/messages.hpp"
#include "core/replication.hpp"
#include "core/ring.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::core {

struct UsersOptions {
  std::int64_t tombstone_ttl_ms = 30LL * 24 * 3600 * 1000;
  LoginLimiter::Options login;
  Deadline deadline{2000};
};

/// What a successful login returns to the client.
struct LoginResult {
  SealedSecret sealed_secret{};
  crypto::PublicKey public_key{};
  std::uint64_t version = 0;
};

class Users {
 public:
  /// REQUIRES: ring, replicator, records and transport outlive the Users.
  Users(Ring& ring, Replicator& replicator, RecordStore& records, Transport& transport, UsersOptions options);
  Users(const Users&) = delete;
  Users& operator=(const Users&) = delete;

  /// Stores a new record if the nickname is free. kInvalidArgument (fields,
  /// version not 1), kUnauthenticated (signature), kExists "nickname
  /// 'alice' is taken" or "... was deleted recently ...", kUnavailable.
  Status create(const Account& account, std::int64_t now_ms);
  /// The live record, nullopt for an unknown or deleted nickname.
  Result<std::optional<Account>> get(std::string_view nick);
  /// Replaces the record after core::check_update. kNotFound, kForbidden.
  Status update(const Account& proposed);
  /// Tombstones the record at `version` with the owner's signature over
  /// deletion_signing_bytes(nick, version). kNotFound when there is none,
  /// kForbidden when `version` does not raise the stored one,
  /// kUnauthenticated when the signature is not the owner's.
  Status remove(std::string_view nick, std::uint64_t version, const crypto::Signature& sig, std::int64_t now_ms);

  /// A login through this node: decided by the nickname's primary (this
  /// node or, forwarded, another). kUnauthenticated "wrong nickname or
  /// password" alike for an unknown nickname and a wrong auth_key;
  /// kRateLimited with the seconds in *retry_after_s. `source` is the
  /// client's address: failures are counted per (nickname, source).
  Result<LoginResult> login(const std::string& nick, const crypto::SecretBytes<32>& auth_key,
                            const std::string& source, std::int64_t now_ms, std::int64_t* retry_after_s);

  /// Users whose nickname starts with `prefix`, across the ring, sorted, at
  /// most `limit`; deleted users excluded.
  Result<std::vector<UserListEntry>> list(const std::string& prefix, std::uint32_t limit);

  /// Answers LoginReq (at the primary) and UserListReq (this node's primary
  /// range); anything else is kInvalidArgument.
  Result<Response> handle(const Request& request, std::int64_t now_ms);

  static bool handles(const Request& request) {
    return std::holds_alternative<LoginReq>(request) || std::holds_alternative<UserListReq>(request);
  }

 private:
  Result<LoginResp> login_at_primary(const LoginReq& req, std::int64_t now_ms);
  Result<UserListResp> list_here(const UserListReq& req);

  Ring& ring_;
  Replicator& replicator_;
  RecordStore& records_;
  Transport& transport_;
  UsersOptions opt_;
  LoginLimiter limiter_;
};

}  // namespace dws::core
