// The limiter on failed logins (DESIGN.md section 12): failures count per
// (nickname, source address) and per source address, each with exponential
// backoff, so guessing from one address slows down without locking the
// owner out from another, in bounded memory that a flood of junk nicknames
// cannot evict. Pure: time is always passed in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "dwhatsapp/status.hpp"

namespace dws::core {

/// Safe for concurrent use from multiple threads without external
/// synchronization.
class LoginLimiter {
 public:
  struct Options {
    /// Failures for one (nickname, source) allowed before backoff starts.
    int free_failures = 5;
    /// Failures from one source, over all nicknames, before backoff starts.
    int source_free_failures = 30;
    /// The first wait; each further failure doubles it, up to max_backoff_ms.
    std::int64_t base_backoff_ms = 1'000;
    std::int64_t max_backoff_ms = 15LL * 60'000;
    /// A count with no failure for this long (and no wait left) is forgotten.
    std::int64_t forget_after_ms = 15LL * 60'000;
    /// Entries per table (pairs, sources). When a table is full, the entry
    /// released longest ago goes; entries still waiting are never evicted.
    std::size_t max_tracked = 10'000;
  };

  struct Counts {
    std::size_t pairs = 0;
    std::size_t sources = 0;
  };

  LoginLimiter() : LoginLimiter(Options{}) {}
  explicit LoginLimiter(Options options);

  /// 0 when `nick` may be tried from `source` now; otherwise the whole
  /// seconds (at least 1) until it may: the Retry-After value.
  std::int64_t retry_after_s(std::string_view nick, std::string_view source, std::int64_t now_ms);
  /// kRateLimited "too many failed logins for 'alice' from 10.0.0.1: retry in 4 s", or Ok.
  Status check(std::string_view nick, std::string_view source, std::int64_t now_ms);
  void record_failure(std::string_view nick, std::string_view source, std::int64_t now_ms);
  /// A correct password clears the (nickname, source) count, not the source's.
  void record_success(std::string_view nick, std::string_view source);
  Counts tracked() const;

 private:
  // One table of failure counts with backoff, bounded in size.
  class Table {
   public:
    Table(int free_failures, const Options& options) : free_(free_failures), opt_(options) {}
    std::int64_t blocked_until(const std::string& key, std::int64_t now_ms) const;
    void fail(const std::string& key, std::int64_t now_ms);
    void clear(const std::string& key);
    std::size_t size() const { return entries_.size(); }

   private:
    struct Entry {
      int failures = 0;
      std::int64_t last_ms = 0;
      std::int64_t until_ms = 0;  // no attempt before this
    };
    // When an entry may be dropped: its wait is over and it has gone quiet.
    std::int64_t release_ms(const Entry& e) const;
    void erase(std::unordered_map<std::string, Entry>::iterator it);

    const int free_;
    const Options& opt_;
    std::unordered_map<std::string, Entry> entries_;
    std::set<std::pair<std::int64_t, std::string>> by_release_;
  };

  static std::string pair_key(std::string_view nick, std::string_view source);
  std::int64_t until_locked(std::string_view nick, std::string_view source, std::int64_t now_ms) const;

  const Options options_;
  mutable std::mutex mu_;
  Table pairs_;
  Table sources_;
};

}  // namespace dws::core
