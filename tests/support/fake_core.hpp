// Stand-ins for the environment lib/core is handed (DESIGN.md: the protocol
// never touches the system clock or sockets), shared by the unit tests that
// run a few protocol objects in one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "core/env.hpp"
#include "core/id.hpp"
#include "core/ring.hpp"

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

// Ring options for tests whose two nodes carry hand-picked ids, "a" = 1000
// and "b" = 1'000'000, in place of core::node_id(address); any other address
// must carry its real id, so the ring's id check still runs.
inline core::RingOptions pair_ring_options() {
  core::RingOptions o;
  o.id_of = [](const core::Address& a) -> Id {
    if (a == "a") return 1000;
    if (a == "b") return 1'000'000;
    return core::node_id(a);
  };
  return o;
}

}  // namespace dws::test
