// One HTTP/1.1 request over a plain socket bound to a chosen loopback source
// address (127.0.0.2, 127.0.0.3, ...), so tests of per-address limits can
// play several clients from one machine. Header-only, like the rest of
// tests/support; loopback only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

namespace dws::test {

struct RawReply {
  int status = 0;  // 0: no answer (connection failed or closed early)
  std::string headers;
  std::string body;
  std::string error;

  // The value of header `name` (give it as sent, e.g. "Retry-After"), or "".
  std::string header(const std::string& name) const {
    const auto at = headers.find("\r\n" + name + ": ");
    if (at == std::string::npos) return "";
    const auto start = at + name.size() + 4;
    return headers.substr(start, headers.find("\r\n", start) - start);
  }
};

// Sends `method target` with `body` from `source` ("127.0.0.2") to `address`
// ("127.0.0.1:7400", IPv4 loopback), waits up to `timeout_ms` for the whole
// answer (the server closes the connection: the request says so).
inline RawReply raw_request(const std::string& source, const std::string& address, const std::string& method,
                            const std::string& target, const std::string& body = "",
                            const std::vector<std::pair<std::string, std::string>>& headers = {},
                            int timeout_ms = 70'000) {
  RawReply r;
  const auto colon = address.rfind(':');
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(std::atoi(address.c_str() + colon + 1)));
  sockaddr_in from{};
  from.sin_family = AF_INET;
  if (::inet_pton(AF_INET, address.substr(0, colon).c_str(), &to.sin_addr) != 1 ||
      ::inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1) {
    r.error = "bad address " + address + " or source " + source;
    return r;
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return r.error = "socket failed", r;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) return r.error = "bind " + source, r;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) return r.error = "connect " + address, r;
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + address + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  for (std::size_t sent = 0; sent < req.size();) {
    const ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return r.error = "send failed", r;
    sent += static_cast<std::size_t>(n);
  }
  std::string in;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[16384];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return r.error = "timed out", r;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  const auto end = in.find("\r\n\r\n");
  if (in.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return r.error = "no HTTP answer: " + in, r;
  r.status = std::atoi(in.c_str() + 9);
  r.headers = in.substr(0, end + 2);
  r.body = in.substr(end + 4);
  return r;
}

}  // namespace dws::test
