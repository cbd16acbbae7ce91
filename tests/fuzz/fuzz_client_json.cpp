// What a client reads from a server (which may be hostile): every reader of
// lib/client/client_json.hpp. The first byte picks the reader.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "client/client_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  namespace c = dws::client;
  switch (data[0] % 8) {
    case 0: (void)c::parse_ids(body); break;
    case 1: (void)c::parse_account_view(body); break;
    case 2: (void)c::parse_kdf(body); break;
    case 3: (void)c::parse_login(body); break;
    case 4: (void)c::parse_mailbox(body); break;
    case 5: (void)c::parse_node_address(body); break;
    case 6: (void)c::parse_peer_addresses(body); break;
    default: (void)c::parse_error(400 + data[0] % 100, body); break;
  }
  return 0;
}
