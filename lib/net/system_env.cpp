#include "net/system_env.hpp"

#include <sodium.h>

#include <chrono>

#include "crypto/hash.hpp"

namespace dws::net {

std::int64_t SystemClock::monotonic_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t SystemClock::wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
std::uint64_t random_seed() {
  crypto::ensure_init();
  std::uint64_t seed = 0;
  randombytes_buf(&seed, sizeof seed);
  return seed;
}
}  // namespace

RandomRng::RandomRng() : state_(random_seed()) {}

std::uint64_t RandomRng::next() {
  // The same mixing as core::SplitMix64, with the increment done atomically.
  std::uint64_t z = state_.fetch_add(0x9e3779b97f4a7c15ULL, std::memory_order_relaxed) + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace dws::net
