#include "core/key_directory.hpp"

#include "core/id.hpp"

namespace dws::core {

namespace {

// The key of a live user record for `nick`; nullopt for a tombstone, an
// expired record, or one that does not check out.
std::optional<crypto::PublicKey> live_key(const Record& r, std::string_view nick, std::int64_t now_ms) {
  if (r.tombstone || r.expired(now_ms)) return std::nullopt;
  auto acct = decode_account(r.payload);
  if (!acct.ok() || acct->nickname != nick || !verify_account(*acct).ok()) return std::nullopt;
  return acct->public_key;
}

}  // namespace

Result<std::optional<crypto::PublicKey>> RingKeyDirectory::current_key(std::string_view nick) {
  const std::int64_t mono = clock_.monotonic_ms();
  const std::string name(nick);
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(name);
    if (it != cache_.end() && mono - it->second.fetched_ms < ttl_ms_) {
      ++hits_;
      return std::optional<crypto::PublicKey>(it->second.key);
    }
  }
  const Id key = user_key(nick);
  const std::int64_t now = clock_.wall_ms();
  std::optional<crypto::PublicKey> found;
  auto local = records_.get(key, "");
  if (local.ok() && local->has_value() && !(*local)->expired(now)) {
    found = live_key(**local, nick, now);
  } else {
    auto remote = replicator_.get(key, "");
    if (!remote.ok()) return remote.status();
    if (remote->has_value()) found = live_key(**remote, nick, now);
  }
  std::lock_guard lock(mu_);
  ++fetches_;
  if (!found) return found;
  if (cache_.size() >= max_) cache_.clear();
  cache_[name] = Cached{*found, mono};
  return found;
}

std::uint64_t RingKeyDirectory::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

std::uint64_t RingKeyDirectory::fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

}  // namespace dws::core
