// The production Clock and Rng handed to lib/core.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/env.hpp"

namespace dws::net {

/// Monotonic time from steady_clock, wall time from system_clock.
class SystemClock final : public core::Clock {
 public:
  std::int64_t monotonic_ms() override;
  std::int64_t wall_ms() override;
};

/// splitmix64 seeded from libsodium's randombytes_buf. Lock-free and safe to
/// call from several threads: each call claims its own step of the sequence.
class RandomRng final : public core::Rng {
 public:
  RandomRng();
  std::uint64_t next() override;

 private:
  std::atomic<std::uint64_t> state_;
};

}  // namespace dws::net
