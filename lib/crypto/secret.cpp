#include "crypto/secret.hpp"

#include <sodium.h>

#include "crypto/hash.hpp"

namespace dws::crypto {

void secure_zero(void* p, std::size_t n) { sodium_memzero(p, n); }

bool equal_ct(const void* a, const void* b, std::size_t n) {
  ensure_init();
  return sodium_memcmp(a, b, n) == 0;
}

}  // namespace dws::crypto
