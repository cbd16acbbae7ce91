#include "core/id.hpp"

#include <array>

#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"

namespace dws::core {

Id id_of(std::string_view name) {
  const auto h = crypto::blake2b_256(name);
  Id id = 0;
  for (int i = 0; i < 8; ++i) id = (id << 8) | h[static_cast<size_t>(i)];
  return id;
}

Id node_id(std::string_view address) { return id_of(std::string("node:").append(address)); }
std::string position_address(std::string_view host_address, int position) {
  std::string out(host_address);
  if (position > 0) out.append("#").append(std::to_string(position));
  return out;
}

std::string_view host_of(std::string_view address) { return address.substr(0, address.find('#')); }

int position_of(std::string_view address) {
  const auto hash = address.find('#');
  if (hash == std::string_view::npos) return 0;
  const std::string_view digits = address.substr(hash + 1);
  if (digits.empty() || digits.size() > 3 || digits.front() == '0') return -1;
  int n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

Id user_key(std::string_view nickname) { return id_of(std::string("user:").append(nickname)); }

bool between(Id a, Id x, Id b) {
  // Unsigned wrap-around makes (x - a) the clockwise distance from a.
  if (a == b) return x != a;
  return (x - a) > 0 && (x - a) < (b - a);
}

bool in_half_open(Id a, Id x, Id b) {
  if (a == b) return true;
  return (x - a) > 0 && (x - a) <= (b - a);
}

// Ids print as their 8 big-endian bytes in hex.
std::string to_hex(Id id) {
  std::array<std::uint8_t, 8> bytes{};
  for (int i = 7; i >= 0; --i, id >>= 8) bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(id);
  return crypto::to_hex(bytes);
}

std::optional<Id> parse_hex(std::string_view text) {
  std::array<std::uint8_t, 8> bytes{};
  if (!crypto::from_hex(text, bytes)) return std::nullopt;
  Id id = 0;
  for (const auto b : bytes) id = (id << 8) | b;
  return id;
}

}  // namespace dws::core
