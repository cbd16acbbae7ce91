// Token buckets per key (a source address), in bounded memory: what limits
// registrations per address (DESIGN.md section 12). Pure: time is passed in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace dws::core {

/// Safe for concurrent use from multiple threads without external
/// synchronization.
class TokenBuckets {
 public:
  struct Options {
    double burst = 20;                 // tokens a new key starts with, and the most it holds
    std::int64_t refill_ms = 30'000;   // one token comes back this often
    std::size_t max_tracked = 10'000;  // keys; the bucket that refills first is forgotten first
  };

  explicit TokenBuckets(Options options) : opt_(options) {}

  /// Takes one token for `key`. 0 when it was there; otherwise the
  /// milliseconds until one is (nothing taken).
  std::int64_t take(std::string_view key, std::int64_t now_ms);
  std::size_t tracked() const;

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t at_ms = 0;  // when `tokens` was right
  };
  double level(const Bucket& b, std::int64_t now_ms) const;
  // When a bucket is full again, and so as good as forgotten.
  std::int64_t full_ms(const Bucket& b) const;

  const Options opt_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::set<std::pair<std::int64_t, std::string>> by_full_;
};

}  // namespace dws::core
