// UDP discovery (DESIGN.md section 3): "DWS1 DISCOVER <ring>" broadcast, and
// "DWS1 HERE <host:port> <16-hex-id>" answers from every node of that ring:
// how clients, which hold no secret, find servers (each node names only its
// own public address). A node joining a private ring sends a challenge
// instead, "DWS1 PEERS <ring> <unix ms> <nonce> <mac>", which members answer
// only when the MAC proves the ring secret and the time is within the
// window, with "DWS1 PEER <host:port> <id> <nonce> <mac>", which the joiner
// believes only when that MAC proves the secret and echoes its nonce.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dwhatsapp/status.hpp"
#include "dwhatsapp/types.hpp"

namespace dws::net {

class PeerAuth;

/// The datagram a searcher broadcasts.
std::string discover_datagram(std::string_view ring_name);
/// The answer for `datagram` from a node of ring `ring_name`, or nullopt when
/// it is not a discovery request for that ring (anything else is ignored).
/// With `auth` (a private ring's secret) a node also answers a challenge
/// whose MAC and time (`now_ms`) are good.
std::optional<std::string> answer_datagram(std::string_view datagram, std::string_view ring_name,
                                           const PeerInfo& self, const PeerAuth* auth = nullptr,
                                           std::int64_t now_ms = 0);
/// The "host:port" in a "DWS1 HERE" answer, or nullopt when malformed.
std::optional<std::string> parse_here(std::string_view datagram);

/// A joiner's challenge, with the nonce its answers must echo.
/// REQUIRES: auth is a private ring's.
std::string challenge_datagram(std::string_view ring_name, const PeerAuth& auth, std::int64_t now_ms,
                               std::string* nonce);
/// The "host:port" of a "DWS1 PEER" answer to the challenge with `nonce`,
/// or nullopt when it is malformed or its MAC does not prove the secret.
std::optional<std::string> parse_peer(std::string_view datagram, std::string_view nonce, const PeerAuth& auth);

/// Broadcasts "DWS1 DISCOVER <ring>" to `broadcast_address`:`port` and
/// returns the "host:port" of every node that answered within
/// `timeout_ms`, first answer first; kUnavailable when nobody did. The
/// searching side of dws::discover, of a client with no server, and of a
/// joiner of an open ring.
Result<std::vector<std::string>> discover_nodes(const std::string& ring_name, int port, int timeout_ms,
                                                const std::string& broadcast_address);

/// discover_nodes for a joiner holding a private ring's secret: broadcasts
/// the challenge and returns only members that proved the secret.
Result<std::vector<std::string>> discover_members(const std::string& ring_name, int port, int timeout_ms,
                                                  const std::string& broadcast_address, const PeerAuth& auth);

/// Answers discovery requests on 0.0.0.0:port, on the caller's io_context.
/// Several responders (nodes) on one host can share the port: each socket
/// sets SO_REUSEADDR and SO_REUSEPORT, and the kernel hands every broadcast
/// datagram to each of them.
class DiscoveryResponder {
 public:
  /// `auth`: the ring's trust; a private ring also answers challenges.
  DiscoveryResponder(asio::io_context& io, std::string ring_name, PeerInfo self,
                     std::shared_ptr<const PeerAuth> auth = nullptr);
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
  std::shared_ptr<const PeerAuth> auth_;
  asio::ip::udp::endpoint sender_;
  std::array<char, 1024> buf_{};
};

// dws::discover (include/dwhatsapp/node.hpp) is the searching side.

}  // namespace dws::net
