#include "core/login_limiter.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace dws::core {

std::int64_t LoginLimiter::Table::release_ms(const Entry& e) const {
  return std::max(e.until_ms, e.last_ms + opt_.forget_after_ms);
}

void LoginLimiter::Table::erase(std::unordered_map<std::string, Entry>::iterator it) {
  by_release_.erase({release_ms(it->second), it->first});
  entries_.erase(it);
}

std::int64_t LoginLimiter::Table::blocked_until(const std::string& key, std::int64_t now_ms) const {
  auto it = entries_.find(key);
  if (it != entries_.end()) return it->second.until_ms > now_ms ? it->second.until_ms : 0;
  // Untracked because the table is full of entries still waiting: an
  // attacker who filled it must not gain free guesses under new names, so
  // a new key waits until the first of those is released.
  if (entries_.size() >= std::max<std::size_t>(opt_.max_tracked, 1) && !by_release_.empty()) {
    const auto& first = *by_release_.begin();
    const Entry& e = entries_.at(first.second);
    if (e.until_ms > now_ms) return e.until_ms;
  }
  return 0;
}

void LoginLimiter::Table::fail(const std::string& key, std::int64_t now_ms) {
  auto it = entries_.find(key);
  Entry e;
  if (it != entries_.end()) {
    e = it->second;
    erase(it);
    if (now_ms >= release_ms(e)) e = Entry{};  // quiet long enough: a fresh start
  } else {
    // Make room: drop what was released longest ago, never an entry whose
    // wait is still running.
    while (entries_.size() >= std::max<std::size_t>(opt_.max_tracked, 1)) {
      auto oldest = by_release_.begin();
      auto victim = entries_.find(oldest->second);
      if (victim->second.until_ms > now_ms) return;  // full of waiting entries: blocked_until covers the new key
      erase(victim);
    }
  }
  ++e.failures;
  e.last_ms = now_ms;
  if (e.failures >= free_) {
    const int doublings = std::min(e.failures - free_, 30);
    const std::int64_t wait = std::min(opt_.max_backoff_ms, opt_.base_backoff_ms << doublings);
    e.until_ms = now_ms + wait;
  }
  by_release_.emplace(release_ms(e), key);
  entries_.emplace(key, e);
}

void LoginLimiter::Table::clear(const std::string& key) {
  auto it = entries_.find(key);
  if (it != entries_.end()) erase(it);
}

LoginLimiter::LoginLimiter(Options options)
    : options_(options), pairs_(options_.free_failures, options_), sources_(options_.source_free_failures, options_) {}

std::string LoginLimiter::pair_key(std::string_view nick, std::string_view source) {
  std::string key(nick);
  key += '\0';
  key += source;
  return key;
}

std::int64_t LoginLimiter::until_locked(std::string_view nick, std::string_view source, std::int64_t now_ms) const {
  return std::max(pairs_.blocked_until(pair_key(nick, source), now_ms),
                  sources_.blocked_until(std::string(source), now_ms));
}

std::int64_t LoginLimiter::retry_after_s(std::string_view nick, std::string_view source, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  const std::int64_t until = until_locked(nick, source, now_ms);
  if (until <= now_ms) return 0;
  return std::max<std::int64_t>(1, (until - now_ms + 999) / 1000);
}

Status LoginLimiter::check(std::string_view nick, std::string_view source, std::int64_t now_ms) {
  const std::int64_t s = retry_after_s(nick, source, now_ms);
  if (s == 0) return Status::Ok();
  return Status::RateLimited(
      fmt::format("too many failed logins for '{}' from {}: retry in {} s", nick, source.empty() ? "here" : source, s));
}

void LoginLimiter::record_failure(std::string_view nick, std::string_view source, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  pairs_.fail(pair_key(nick, source), now_ms);
  sources_.fail(std::string(source), now_ms);
}

void LoginLimiter::record_success(std::string_view nick, std::string_view source) {
  std::lock_guard lock(mu_);
  pairs_.clear(pair_key(nick, source));
}

LoginLimiter::Counts LoginLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return Counts{pairs_.size(), sources_.size()};
}

}  // namespace dws::core
