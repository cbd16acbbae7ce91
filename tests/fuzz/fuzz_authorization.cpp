// The `Authorization: DWS1 nick=..., ts=..., sig=...` header of signed user
// requests and the `DWS1S sid=..., ts=..., mac=...` header of session MACs:
// parsed from arbitrary text, then checked against a fixed key (which must
// refuse, never crash).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/auth.hpp"
#include "crypto/keys.hpp"
#include "crypto/kx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const dws::crypto::KeyPair keys = dws::crypto::generate_keypair();
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  auto auth = dws::core::parse_authorization(header);
  if (auth.ok()) {
    const dws::Status s = dws::core::verify_request(*auth, keys.public_key, "GET", "/v1/mailbox", "", auth->ts_ms);
    if (s.ok()) __builtin_trap();  // nobody signed anything with this key
  }
  static const dws::crypto::SessionKey session_key = [] {
    const auto client = dws::crypto::kx_keypair();
    return dws::crypto::kx_client_key(client, dws::crypto::kx_keypair().public_key).value();
  }();
  auto session = dws::core::parse_session_authorization(header);
  if (session.ok()) {
    const dws::Status s =
        dws::core::verify_session_request(*session, session_key, "GET", "/v1/mailbox", "", session->ts_ms);
    if (s.ok()) __builtin_trap();  // nobody MACed anything with this key
  }
  return 0;
}
