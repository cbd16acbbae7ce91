// Which seeds a simulation test runs. The environment is read here, in the
// test program, because the library (lib/sim included) reads none.
#pragma once

#include <cstdint>
#include <vector>

namespace dws::sim {

/// DWS_SIM_SEED=<n> replays one seed; DWS_SIM_SEEDS=<count> changes how
/// many (e.g. fewer under sanitizers); otherwise `count` seeds from `first`.
std::vector<std::uint64_t> seeds_from_env(std::uint64_t first, int count);

}  // namespace dws::sim
