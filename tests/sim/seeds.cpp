#include "seeds.hpp"

#include <cstdlib>

namespace dws::sim {

std::vector<std::uint64_t> seeds_from_env(std::uint64_t first, int count) {
  if (const char* one = std::getenv("DWS_SIM_SEED"); one != nullptr && *one != '\0')
    return {std::strtoull(one, nullptr, 0)};
  if (const char* n = std::getenv("DWS_SIM_SEEDS"); n != nullptr && *n != '\0') count = std::atoi(n);
  std::vector<std::uint64_t> seeds;
  for (int i = 0; i < count; ++i) seeds.push_back(first + static_cast<std::uint64_t>(i));
  return seeds;
}

}  // namespace dws::sim
