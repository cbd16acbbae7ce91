#include "core/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace dws::core {

double TokenBuckets::level(const Bucket& b, std::int64_t now_ms) const {
  const double refilled = static_cast<double>(std::max<std::int64_t>(0, now_ms - b.at_ms)) /
                          static_cast<double>(std::max<std::int64_t>(1, opt_.refill_ms));
  return std::min(opt_.burst, b.tokens + refilled);
}

std::int64_t TokenBuckets::full_ms(const Bucket& b) const {
  return b.at_ms + static_cast<std::int64_t>(std::ceil((opt_.burst - b.tokens) * static_cast<double>(opt_.refill_ms)));
}

std::int64_t TokenBuckets::take(std::string_view key_view, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  std::string key(key_view);
  Bucket b{opt_.burst, now_ms};
  if (auto it = buckets_.find(key); it != buckets_.end()) {
    b = it->second;
    by_full_.erase({full_ms(b), key});
    buckets_.erase(it);
    b = Bucket{level(b, now_ms), now_ms};
  } else {
    // A full bucket is what an unknown key gets anyway, so forgetting the
    // one that refills first loses the least.
    while (buckets_.size() >= std::max<std::size_t>(opt_.max_tracked, 1)) {
      auto first = by_full_.begin();
      buckets_.erase(first->second);
      by_full_.erase(first);
    }
  }
  std::int64_t wait = 0;
  if (b.tokens >= 1) b.tokens -= 1;
  else wait = static_cast<std::int64_t>(std::ceil((1 - b.tokens) * static_cast<double>(opt_.refill_ms)));
  by_full_.emplace(full_ms(b), key);
  buckets_.emplace(std::move(key), b);
  return wait;
}

std::size_t TokenBuckets::tracked() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace dws::core
