#include <doctest/doctest.h>

#include <string>

#include "core/login_limiter.hpp"

using dws::Code;
using dws::core::LoginLimiter;

namespace {
constexpr std::int64_t kT0 = 1'000'000;
LoginLimiter::Options small(std::size_t max_tracked = 100) {
  return {.free_failures = 3,
          .source_free_failures = 10,
          .base_backoff_ms = 1'000,
          .max_backoff_ms = 60'000,
          .forget_after_ms = 600'000,
          .max_tracked = max_tracked};
}
}  // namespace

TEST_CASE("login limiter: after the free failures each further failure doubles the wait") {
  LoginLimiter limiter(small());
  for (int i = 0; i < 2; ++i) limiter.record_failure("alice", "10.0.0.1", kT0);
  CHECK(limiter.retry_after_s("alice", "10.0.0.1", kT0) == 0);
  limiter.record_failure("alice", "10.0.0.1", kT0);
  CHECK(limiter.retry_after_s("alice", "10.0.0.1", kT0) == 1);
  CHECK(limiter.retry_after_s("alice", "10.0.0.1", kT0 + 1'000) == 0);
  limiter.record_failure("alice", "10.0.0.1", kT0 + 1'000);
  CHECK(limiter.retry_after_s("alice", "10.0.0.1", kT0 + 1'000) == 2);
  limiter.record_failure("alice", "10.0.0.1", kT0 + 3'000);
  CHECK(limiter.retry_after_s("alice", "10.0.0.1", kT0 + 3'000) == 4);
  const auto st = limiter.check("alice", "10.0.0.1", kT0 + 3'000);
  CHECK(st.code() == Code::kRateLimited);
  CHECK(st.message() == "too many failed logins for 'alice' from 10.0.0.1: retry in 4 s");
  // The wait is capped.
  for (int i = 0; i < 20; ++i) limiter.record_failure("alice", "10.0.0.1", kT0 + 10'000);
  CHECK(limiter.retry_after_s("alice", "10.0.0.1", kT0 + 10'000) == 60);
}

TEST_CASE("login limiter: guessing from one address does not lock the owner out from another") {
  LoginLimiter limiter(small());
  for (int i = 0; i < 9; ++i) limiter.record_failure("alice", "10.0.0.66", kT0);
  CHECK(limiter.retry_after_s("alice", "10.0.0.66", kT0) > 0);
  CHECK(limiter.retry_after_s("alice", "10.0.0.1", kT0) == 0);
  CHECK(limiter.check("alice", "10.0.0.1", kT0).ok());
}

TEST_CASE("login limiter: one address guessing across many nicknames is slowed as a whole") {
  LoginLimiter limiter(small());
  for (int i = 0; i < 10; ++i) limiter.record_failure("user" + std::to_string(i), "10.0.0.66", kT0);
  // Each nickname was tried once only, yet the source is over its budget.
  CHECK(limiter.retry_after_s("fresh", "10.0.0.66", kT0) == 1);
  CHECK(limiter.retry_after_s("fresh", "10.0.0.1", kT0) == 0);
}

TEST_CASE("login limiter: a correct password clears the pair's count, not the source's") {
  LoginLimiter limiter(small());
  limiter.record_failure("alice", "10.0.0.1", kT0);
  limiter.record_failure("alice", "10.0.0.1", kT0);
  limiter.record_success("alice", "10.0.0.1");
  limiter.record_failure("alice", "10.0.0.1", kT0);
  limiter.record_failure("alice", "10.0.0.1", kT0);
  CHECK(limiter.retry_after_s("alice", "10.0.0.1", kT0) == 0);
  limiter.record_failure("alice", "10.0.0.1", kT0);
  CHECK(limiter.retry_after_s("alice", "10.0.0.1", kT0) == 1);
}

TEST_CASE("login limiter: a quiet count is forgotten and starts afresh") {
  LoginLimiter limiter(small());
  for (int i = 0; i < 3; ++i) limiter.record_failure("alice", "10.0.0.1", kT0);
  CHECK(limiter.retry_after_s("alice", "10.0.0.1", kT0) > 0);
  const std::int64_t later = kT0 + 600'000 + 1;
  limiter.record_failure("alice", "10.0.0.1", later);
  CHECK(limiter.retry_after_s("alice", "10.0.0.1", later) == 0);
}

TEST_CASE("login limiter: junk nicknames cannot evict a waiting entry, and memory stays bounded") {
  LoginLimiter limiter(small(/*max_tracked=*/50));
  // The attacker's own address gets blocked: record it first.
  for (int i = 0; i < 5; ++i) limiter.record_failure("alice", "10.0.0.66", kT0);
  REQUIRE(limiter.retry_after_s("alice", "10.0.0.66", kT0) > 0);
  // 10,000 failures on junk nicknames, from many addresses.
  for (int i = 0; i < 10'000; ++i)
    limiter.record_failure("junk" + std::to_string(i), "10.1." + std::to_string(i % 250) + "." + std::to_string(i / 250),
                           kT0 + 1);
  CHECK(limiter.tracked().pairs <= 50);
  CHECK(limiter.tracked().sources <= 50);
  // The guesser is still slowed down: its entries were waiting, so kept.
  CHECK(limiter.retry_after_s("alice", "10.0.0.66", kT0 + 1) > 0);
}

TEST_CASE("login limiter: a table full of waiting entries makes new keys wait too") {
  LoginLimiter limiter(small(/*max_tracked=*/4));
  for (int a = 0; a < 4; ++a)
    for (int i = 0; i < 3; ++i) limiter.record_failure("alice", "10.0.0." + std::to_string(a), kT0);
  // Every pair entry is waiting; a new pair cannot be tracked, so it is
  // not a free guess either.
  CHECK(limiter.retry_after_s("bob", "10.0.0.9", kT0) > 0);
  CHECK(limiter.retry_after_s("bob", "10.0.0.9", kT0 + 2'000) == 0);
}
