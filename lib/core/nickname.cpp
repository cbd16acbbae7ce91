#include "core/nickname.hpp"

#include <cstdint>

#include "core/utf8.hpp"

namespace dws::core {

namespace {

constexpr std::string_view kAllowed = "use a-z, 0-9, '_', '.', '-'";

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }

bool allowed(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

// The nickname as it appears in a message: printable ASCII as is, other
// bytes escaped, long input cut, so an error line stays one short line.
std::string shown(std::string_view s) {
  constexpr std::size_t kMaxShown = 40;
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const auto b = static_cast<std::uint8_t>(s[i]);
    if (b >= 0x20 && b < 0x7f && b != '\\' && b != '\'') {
      out.push_back(static_cast<char>(b));
    } else if (b >= 0x80) {
      out.push_back(static_cast<char>(b));  // UTF-8 shown as typed
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    }
  }
  if (s.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

std::string what_is_wrong(std::string_view s, std::size_t i) {
  const char c = s[i];
  const auto b = static_cast<std::uint8_t>(c);
  if (c == ' ') return "has a space";
  if (b >= 0x80) {
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return "has a byte that is not UTF-8 (0x" + std::string(1, "0123456789abcdef"[b >> 4]) +
                       std::string(1, "0123456789abcdef"[b & 0xf]) + ")";
    return "has the non-ASCII character '" + std::string(s.substr(i, n)) + "'";
  }
  if (b < 0x20 || b == 0x7f) return "has a control character";
  return std::string("has the character '") + c + "'";
}

Status check(std::string_view s, bool allow_upper) {
  if (s.empty()) return Status::InvalidArgument("nickname is empty: " + std::string(kAllowed) + ", 1 to 32 of them");
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!allowed(s[i]) && !is_upper(s[i]))
      return Status::InvalidArgument("nickname " + shown(s) + " " + what_is_wrong(s, i) + ": " + std::string(kAllowed));
  }
  if (s.size() > kMaxNicknameLength)
    return Status::InvalidArgument("nickname " + shown(s) + " is " + std::to_string(s.size()) +
                                   " characters long: at most " + std::to_string(kMaxNicknameLength));
  if (!allow_upper) {
    for (const char c : s)
      if (is_upper(c))
        return Status::InvalidArgument("nickname " + shown(s) + " has the upper-case letter '" + std::string(1, c) +
                                       "': stored nicknames are lower case");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> fold_nickname(std::string_view typed) {
  if (Status st = check(typed, true); !st.ok()) return st;
  std::string out(typed);
  for (char& c : out)
    if (is_upper(c)) c = static_cast<char>(c - 'A' + 'a');
  return out;
}

Status check_nickname(std::string_view nickname) { return check(nickname, false); }

}  // namespace dws::core
