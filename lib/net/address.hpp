// "host:port" strings: parsing and validation, shared by the codec, the
// server, the transport and discovery so that every layer rejects the same
// garbage with the same words.
#pragma once

#include <string>
#include <string_view>

#include "dwhatsapp/status.hpp"

namespace dws::net {

struct HostPort {
  std::string host;  // without brackets for IPv6 ("::1")
  int port = 0;
};

/// Parses "host:port" or "[v6]:port". `what` names the field in errors
/// ("listen address", "peer"). Port 0 is allowed only when `allow_zero_port`.
Result<HostPort> parse_host_port(std::string_view text, std::string_view what, bool allow_zero_port = false);

/// "host:port", bracketing IPv6 hosts.
std::string format_host_port(const std::string& host, int port);

}  // namespace dws::net
