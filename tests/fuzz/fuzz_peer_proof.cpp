// The peer proof of a private ring (lib/net/peer_auth.hpp): the request's
// X-Dws-Peer-Proof header and the answer's X-Dws-Peer-Answer, both parsed
// from arbitrary text and checked against a fixed secret, and the MAC of a
// discovery datagram. None may ever pass without the secret (a random input
// that passes is a forgery), and none may crash.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/peer_auth.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto auth = dws::net::PeerAuth::with_secret(std::array<std::uint8_t, dws::net::kRingSecretSize>{7});
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nl = in.find('\n');
  const std::string header(in.substr(0, nl));
  const std::string_view body = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  std::string nonce;
  // A timestamp inside the window of any plausible header, so the MAC is what decides.
  for (const std::int64_t now : {std::int64_t{1'700'000'000'000}, std::int64_t{0}})
    if (auth->check("POST", "/v1/store/put", body, &header, now, &nonce).ok()) __builtin_trap();
  if (auth->check_answer(header, 200, body, &header)) __builtin_trap();
  if (auth->check_discovery_mac(body, header)) __builtin_trap();
  return 0;
}
