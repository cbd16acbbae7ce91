#include <doctest/doctest.h>

#include <string>

#include "core/rate_limit.hpp"

using dws::core::TokenBuckets;

TEST_CASE("token buckets: a burst, then one token per refill period") {
  TokenBuckets b({.burst = 3, .refill_ms = 1'000, .max_tracked = 100});
  for (int i = 0; i < 3; ++i) CHECK(b.take("10.0.0.1", 0) == 0);
  CHECK(b.take("10.0.0.1", 0) == 1'000);
  CHECK(b.take("10.0.0.1", 500) == 500);
  CHECK(b.take("10.0.0.1", 1'000) == 0);
  CHECK(b.take("10.0.0.1", 1'000) == 1'000);
  CHECK(b.take("10.0.0.2", 1'000) == 0);  // per key
  // Refills stop at the burst.
  for (int i = 0; i < 3; ++i) CHECK(b.take("10.0.0.1", 100'000) == 0);
  CHECK(b.take("10.0.0.1", 100'000) > 0);
}

TEST_CASE("token buckets: memory is bounded and an empty bucket outlives full ones") {
  TokenBuckets b({.burst = 2, .refill_ms = 60'000, .max_tracked = 10});
  CHECK(b.take("attacker", 0) == 0);
  CHECK(b.take("attacker", 0) == 0);
  CHECK(b.take("attacker", 0) > 0);
  for (int i = 0; i < 1'000; ++i) b.take("other" + std::to_string(i), 1);
  CHECK(b.tracked() <= 10);
  // The attacker's bucket refills last, so it was not the one forgotten.
  CHECK(b.take("attacker", 2) > 0);
}
