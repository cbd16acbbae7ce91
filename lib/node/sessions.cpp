#include "node/sessions.hpp"

#include <sodium.h>

#include <fmt/format.h>

#include "core/auth.hpp"
#include "crypto/encoding.hpp"

namespace dws::node {

SessionTable::SessionTable(SessionOptions options) : opt_(options) {}

Result<OpenedSession> SessionTable::open(const std::string& nick, const crypto::PublicKey& account_key,
                                         const crypto::KxPublicKey& client_key, std::int64_t now_ms) {
  const crypto::KxKeyPair mine = crypto::kx_keypair();
  auto key = crypto::kx_server_key(mine, client_key);
  if (!key.ok()) return key.status();

  std::array<std::uint8_t, core::kSessionIdSize> raw{};
  randombytes_buf(raw.data(), raw.size());
  OpenedSession out{crypto::to_hex(raw), mine.public_key, opt_.ttl_ms};

  std::lock_guard lock(mu_);
  if (sessions_.size() >= opt_.max_sessions) sweep_locked(now_ms);
  // The account's oldest makes room first. erase_locked drops the list
  // node holding that id (and the account's entry once empty): pass a copy,
  // and keep no reference into by_account_ across it.
  if (auto held = by_account_.find(nick); held != by_account_.end() && held->second.size() >= opt_.max_per_account)
    erase_locked(std::string(held->second.front()));
  if (sessions_.size() >= opt_.max_sessions)
    return Status::Unavailable(fmt::format(
        "this node holds {} sessions, its limit: sign requests instead (DWS1), or open one later",
        sessions_.size()));
  std::list<std::string>& list = by_account_[nick];
  list.push_back(out.sid);
  sessions_.emplace(out.sid, Entry{SessionInfo{nick, account_key, *key, now_ms + opt_.ttl_ms}, std::prev(list.end())});
  return out;
}

std::optional<SessionInfo> SessionTable::find(const std::string& sid, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  const auto it = sessions_.find(sid);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.info.expires_ms <= now_ms) {
    erase_locked(sid);
    return std::nullopt;
  }
  return it->second.info;
}

bool SessionTable::close(const std::string& sid, const std::string& nick) {
  std::lock_guard lock(mu_);
  const auto it = sessions_.find(sid);
  if (it == sessions_.end() || it->second.info.nick != nick) return false;
  erase_locked(sid);
  return true;
}

std::size_t SessionTable::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

void SessionTable::erase_locked(const std::string& sid) {
  const auto it = sessions_.find(sid);
  if (it == sessions_.end()) return;
  const std::string nick = it->second.info.nick;
  auto acct = by_account_.find(nick);
  if (acct != by_account_.end()) {
    acct->second.erase(it->second.in_account);
    if (acct->second.empty()) by_account_.erase(acct);
  }
  sessions_.erase(it);
}

// A full scan, at most once a second, and only when the table is full.
void SessionTable::sweep_locked(std::int64_t now_ms) {
  if (now_ms < next_sweep_ms_) return;
  next_sweep_ms_ = now_ms + 1000;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto next = std::next(it);
    if (it->second.info.expires_ms <= now_ms) erase_locked(it->first);
    it = next;
  }
}

}  // namespace dws::node
