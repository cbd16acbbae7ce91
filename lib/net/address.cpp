#include "net/address.hpp"

#include <fmt/format.h>

namespace dws::net {

namespace {

bool valid_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_' || c == ':';
}

}  // namespace

Result<HostPort> parse_host_port(std::string_view text, std::string_view what, bool allow_zero_port) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("{} '{}' {}: use host:port, e.g. 127.0.0.1:7000", what, text, why));
  };
  if (text.empty()) return bad("is empty");
  if (text.size() > 300) return bad("is too long");
  HostPort hp;
  std::string_view port_text;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad("has '[' without ']'");
    hp.host = std::string(text.substr(1, close - 1));
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad("has no port");
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("has no port");
    hp.host = std::string(text.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) return bad("looks like IPv6 without brackets");
    port_text = text.substr(colon + 1);
  }
  if (hp.host.empty()) return bad("has no host");
  for (char c : hp.host)
    if (!valid_host_char(c)) return bad("has a character that cannot be in a host name");
  if (port_text.empty() || port_text.size() > 5) return bad("has no valid port");
  int port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return bad("has a port that is not a number");
    port = port * 10 + (c - '0');
  }
  if (port > 65535) return bad("has a port above 65535");
  if (port == 0 && !allow_zero_port) return bad("has port 0");
  hp.port = port;
  return hp;
}

std::string format_host_port(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

}  // namespace dws::net
