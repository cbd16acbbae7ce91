// The `Authorization: DWS1 nick=..., ts=..., sig=...` header of signed user
// requests: parsed from arbitrary text, then checked against a fixed key
// (which must refuse, never crash).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/auth.hpp"
#include "crypto/keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const dws::crypto::KeyPair keys = dws::crypto::generate_keypair();
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  auto auth = dws::core::parse_authorization(header);
  if (auth.ok()) {
    const dws::Status s = dws::core::verify_request(*auth, keys.public_key, "GET", "/v1/mailbox", "", auth->ts_ms);
    if (s.ok()) __builtin_trap();  // nobody signed anything with this key
  }
  return 0;
}
