// Hashing with libsodium's BLAKE2b (crypto_generichash).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace dws::crypto {

using Hash256 = std::array<std::uint8_t, 32>;

/// BLAKE2b with a 32-byte output, unkeyed.
Hash256 blake2b_256(std::string_view data);

/// Makes sure libsodium is initialised; safe to call from any thread, any
/// number of times. Every crypto entry point calls it.
void ensure_init();

}  // namespace dws::crypto
