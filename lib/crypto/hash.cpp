#include "crypto/hash.hpp"

#include <sodium.h>

#include <cstdlib>
#include <cstdio>

namespace dws::crypto {

void ensure_init() {
  static const bool ok = [] { return sodium_init() >= 0; }();
  if (!ok) {
    // Without a working RNG nothing we do is safe; this is not recoverable.
    std::fputs("dwhatsapp: libsodium failed to initialise\n", stderr);
    std::abort();
  }
}

Hash256 blake2b_256(std::string_view data) {
  ensure_init();
  Hash256 out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                     nullptr, 0);
  return out;
}

}  // namespace dws::crypto
