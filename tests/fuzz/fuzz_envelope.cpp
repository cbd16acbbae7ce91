// The binary envelope and account codecs (what mailbox entries and user
// records hold): strict and canonical, so whatever decodes encodes back to
// the same bytes; verification against a stranger's key must fail.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/account.hpp"
#include "core/envelope.hpp"
#include "crypto/keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const dws::crypto::KeyPair stranger = dws::crypto::generate_keypair();
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto env = dws::core::decode_envelope(in);
  if (env.ok()) {
    if (dws::core::encode_envelope(*env) != in) __builtin_trap();
    if (dws::core::verify_envelope(*env, stranger.public_key).ok()) __builtin_trap();
    auto back = dws::core::from_view(dws::core::to_view(*env));
    if (!back.ok() || dws::core::encode_envelope(*back) != in) __builtin_trap();
  }
  auto acct = dws::core::decode_account(in);
  if (acct.ok()) {
    if (dws::core::encode_account(*acct) != in) __builtin_trap();
    (void)dws::core::verify_account(*acct);
  }
  return 0;
}
