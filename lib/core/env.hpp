// The small interfaces through which the protocol reaches the outside world.
// Production wires HTTP, the system clock and a random seed; the simulator
// wires an in-process transport, a virtual clock and a fixed seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/messages.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::core {

/// "host:port" as advertised by a node.
using Address = std::string;

/// How long a call may take, in milliseconds of the transport's clock.
struct Deadline {
  std::int64_t timeout_ms = 1000;
};

/// Sends one request to one node and waits for its answer.
/// Implementations must be safe to call from several threads at once and
/// must never be called with a lock held (a call can come back to the caller).
class Transport {
 public:
  virtual ~Transport() = default;
  /// Returns the peer's response, the peer's error Status, or kUnavailable
  /// when the peer could not be reached in time.
  virtual Result<Response> call(const Address& to, const Request& request, Deadline deadline) = 0;

  struct Call {
    Address to;
    Request request;
  };
  /// Sends several calls and returns their answers in order. Transports that
  /// can overlap them (HTTP) do; the default sends one after the other.
  virtual std::vector<Result<Response>> call_all(const std::vector<Call>& calls, Deadline deadline) {
    std::vector<Result<Response>> out;
    out.reserve(calls.size());
    for (const auto& c : calls) out.push_back(call(c.to, c.request, deadline));
    return out;
  }
};

/// Monotonic and wall time in milliseconds.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t monotonic_ms() = 0;
  virtual std::int64_t wall_ms() = 0;
};

/// A seeded 64-bit generator; never the global RNG.
class Rng {
 public:
  virtual ~Rng() = default;
  virtual std::uint64_t next() = 0;
  /// Uniform in [0, n). REQUIRES: n > 0.
  std::uint64_t uniform(std::uint64_t n) { return next() % n; }
};

/// splitmix64: small, fast, and good enough for protocol choices and tests.
class SplitMix64 final : public Rng {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() override {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

}  // namespace dws::core
