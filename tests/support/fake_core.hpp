// Stand-ins for the environment lib/core is handed (DESIGN.md: the protocol
// never touches the system clock or sockets), shared by the unit tests that
// run a few protocol objects in one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "core/env.hpp"

namespace dws::test {

// Time moves only when a test sets `now`; wall time is a fixed epoch plus it.
class FakeClock final : public core::Clock {
 public:
  std::int64_t monotonic_ms() override { return now; }
  std::int64_t wall_ms() override { return 1'700'000'000'000 + now; }
  std::int64_t now = 0;
};

// Delivers each call to the handler registered for that address; an address
// without one is down.
class LocalTransport final : public core::Transport {
 public:
  using Handler = std::function<Result<core::Response>(const core::Request&)>;
  Result<core::Response> call(const core::Address& to, const core::Request& request, core::Deadline) override {
    auto it = nodes.find(to);
    if (it == nodes.end()) return Status::Unavailable("test: " + to + " is down");
    return it->second(request);
  }
  std::map<core::Address, Handler> nodes;
};

}  // namespace dws::test
