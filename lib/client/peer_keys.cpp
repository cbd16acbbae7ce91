#include "client/peer_keys.hpp"

#include <fmt/format.h>

#include "client/local_store.hpp"
#include "core/account.hpp"
#include "core/env.hpp"

namespace dws::client {

Status key_changed_error(const std::string& nick) {
  return Status::Forbidden(fmt::format(
      "the key of '{}' changed: the ring shows another key than the one pinned when you first talked; if {} made a "
      "new account, add the contact again to trust the new key",
      nick, nick));
}

PeerKeys::PeerKeys(LocalStore& store, std::mutex& store_mu, core::Clock& clock, Fetch fetch)
    : store_(store), mu_(store_mu), clock_(clock), fetch_(std::move(fetch)) {}

Result<crypto::PublicKey> PeerKeys::key(const std::string& nick, bool recheck) {
  {
    std::lock_guard lock(mu_);
    auto pin = store_.pin(nick);
    if (!pin.ok()) return pin.status();
    if (*pin) {
      if ((*pin)->key_changed && recheck) return key_changed_error(nick);
      auto it = checked_.find(nick);
      const bool fresh = it != checked_.end() && clock_.monotonic_ms() - it->second < kRecheckKeyMs;
      if (!recheck || fresh) return (*pin)->key;
    }
  }
  auto user = fetch_(nick);
  if (!user.ok()) {
    // Out of reach is not a change: the pinned key still seals a message
    // for the outbox, and the check happens on a later send.
    if (user.status().code() == Code::kUnavailable) {
      std::lock_guard lock(mu_);
      auto pin = store_.pin(nick);
      if (pin.ok() && *pin && !(*pin)->key_changed) return (*pin)->key;
    }
    return user.status();
  }
  std::lock_guard lock(mu_);
  auto pin = store_.pin(nick);
  if (!pin.ok()) return pin.status();
  if (!*pin) {
    // First sight, by either side's first message: the peer becomes a
    // contact, so contacts() shows whom this account talks to.
    Pin p{user->public_key, user->display_name, false};
    if (Status s = store_.put_pin(nick, p); !s.ok()) return s;
    auto alias = store_.contact_alias(nick);
    if (!alias.ok()) return alias.status();
    if (!*alias) {
      if (Status s = store_.put_contact(nick, ""); !s.ok()) return s;
    }
  } else if ((*pin)->key != user->public_key) {
    Pin p = **pin;
    p.key_changed = true;
    if (Status s = store_.put_pin(nick, p); !s.ok()) return s;
    return key_changed_error(nick);
  }
  checked_[nick] = clock_.monotonic_ms();
  return user->public_key;
}

Status PeerKeys::add_contact(const std::string& nick, const std::string& alias) {
  auto user = fetch_(nick);
  if (!user.ok()) return user.status();
  std::lock_guard lock(mu_);
  auto pin = store_.pin(nick);
  if (!pin.ok()) return pin.status();
  if (*pin && (*pin)->key != user->public_key && !(*pin)->key_changed) {
    // First sight of the change: report it; adding again accepts it.
    Pin p = **pin;
    p.key_changed = true;
    if (Status s = store_.put_pin(nick, p); !s.ok()) return s;
    return key_changed_error(nick);
  }
  Pin p{user->public_key, user->display_name, false};
  if (Status s = store_.put_pin(nick, p); !s.ok()) return s;
  checked_[nick] = clock_.monotonic_ms();
  return store_.put_contact(nick, alias);
}

}  // namespace dws::client
