// UDP discovery (DESIGN.md section 3): "DWS1 DISCOVER <ring>" broadcast, and
// "DWS1 HERE <host:port> <16-hex-id>" answers from every node of that ring.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include <array>
#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include "dwhatsapp/status.hpp"
#include "dwhatsapp/types.hpp"

namespace dws::net {

/// The datagram a searcher broadcasts.
std::string discover_datagram(std::string_view ring_name);
/// The answer for `datagram` from a node of ring `ring_name`, or nullopt when
/// it is not a discovery request for that ring (anything else is ignored).
std::optional<std::string> answer_datagram(std::string_view datagram, std::string_view ring_name,
                                           const PeerInfo& self);
/// The "host:port" in a "DWS1 HERE" answer, or nullopt when malformed.
std::optional<std::string> parse_here(std::string_view datagram);

/// Answers discovery requests on 0.0.0.0:port, on the caller's io_context.
/// Several responders (nodes) on one host can share the port: each socket
/// sets SO_REUSEADDR and SO_REUSEPORT, and the kernel hands every broadcast
/// datagram to each of them.
class DiscoveryResponder {
 public:
  DiscoveryResponder(asio::io_context& io, std::string ring_name, PeerInfo self);
  ~DiscoveryResponder();
  DiscoveryResponder(const DiscoveryResponder&) = delete;
  DiscoveryResponder& operator=(const DiscoveryResponder&) = delete;

  /// Binds the port and starts answering. kUnavailable naming the port when
  /// it cannot be bound.
  Status start(int port);
  /// Closes the socket. REQUIRES: the io_context is not running (its thread
  /// stopped) or this is called on its thread.
  void stop();

 private:
  void receive();

  asio::ip::udp::socket socket_;
  std::string ring_name_;
  PeerInfo self_;
  asio::ip::udp::endpoint sender_;
  std::array<char, 1024> buf_{};
};

// dws::discover (include/dwhatsapp/node.hpp) is the searching side.

}  // namespace dws::net
