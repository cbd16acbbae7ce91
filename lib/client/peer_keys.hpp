// The peers' public keys as this client trusts them: pinned on first use
// (which makes the peer a contact), re-checked against the ring at most
// every kRecheckKeyMs per peer, and a changed key reported, never followed
// (DESIGN.md section 7). Not core::KeyDirectory: that one answers a node
// with the ring's current key; this one answers with the pinned key.
//
// Thread safety: every store access and the re-check times are guarded by
// the mutex handed in (the Client's, which also guards its other
// read-modify-write sequences on the store); it is never held while
// `fetch` runs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "crypto/keys.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::core {
class Clock;
struct PublicAccount;
}  // namespace dws::core

namespace dws::client {

class LocalStore;

/// kForbidden "the key of 'nick' changed: ...".
Status key_changed_error(const std::string& nick);

class PeerKeys {
 public:
  /// How often a recipient's key is re-checked against the ring, per peer:
  /// often enough that a re-registered nickname is noticed within a
  /// conversation, rarely enough that a send is one round trip, not two.
  static constexpr std::int64_t kRecheckKeyMs = 30'000;

  /// The user's record from the ring, verified (the network boundary).
  using Fetch = std::function<Result<core::PublicAccount>(const std::string& nick)>;

  /// REQUIRES: store, store_mu and clock outlive it.
  PeerKeys(LocalStore& store, std::mutex& store_mu, core::Clock& clock, Fetch fetch);

  /// The key to encrypt to or verify with. Pins on first use; with
  /// `recheck` compares the pin with the ring (at most every kRecheckKeyMs)
  /// and reports a change (kForbidden) instead of following it. With the
  /// ring out of reach the pinned key still answers.
  Result<crypto::PublicKey> key(const std::string& nick, bool recheck);

  /// Pins what the ring shows for `nick` and makes it a contact with
  /// `alias`. A key that differs from the pin is reported (kForbidden) the
  /// first time and accepted the next.
  Status add_contact(const std::string& nick, const std::string& alias);

 private:
  LocalStore& store_;
  std::mutex& mu_;
  core::Clock& clock_;
  const Fetch fetch_;
  std::map<std::string, std::int64_t> checked_;  // peer -> monotonic ms of the last ring check; guarded by mu_
};

}  // namespace dws::client
