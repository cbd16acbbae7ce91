#include "core/id.hpp"

#include "crypto/hash.hpp"

namespace dws::core {

Id id_of(std::string_view name) {
  const auto h = crypto::blake2b_256(name);
  Id id = 0;
  for (int i = 0; i < 8; ++i) id = (id << 8) | h[static_cast<size_t>(i)];
  return id;
}

Id node_id(std::string_view address) { return id_of(std::string("node:").append(address)); }
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

std::string to_hex(Id id) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i) {
    s[static_cast<size_t>(i)] = digits[id & 0xf];
    id >>= 4;
  }
  return s;
}

std::optional<Id> parse_hex(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  Id id = 0;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return std::nullopt;
    id = (id << 4) | static_cast<Id>(v);
  }
  return id;
}

}  // namespace dws::core
