// A node's options checked once, and the ring parameters they give: a new
// ring's from the options and the defaults, a joiner's from its peer with
// the options compared against them. No I/O but reading the TLS files'
// presence.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dwhatsapp/node.hpp"
#include "net/address.hpp"

namespace dws::net {
struct HttpServerOptions;
struct HttpTransportOptions;
class PeerAuth;
}  // namespace dws::net

namespace dws::node {

inline constexpr const char* kDefaultRing = "dwhatsapp";
/// Ring positions one node may take (NodeOptions::vnodes).
inline constexpr int kMaxVnodes = 64;
/// W: a write is acknowledged once this many copies hold it (DESIGN.md section 4).
inline constexpr int kWriteQuorum = 2;

enum class Level { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };
std::optional<Level> parse_level(std::string_view s);
std::string_view level_name(Level l);

/// What check_options parsed out of the strings.
struct CheckedOptions {
  net::HostPort listen;
  std::optional<net::HostPort> advertise;
  Level level = Level::kInfo;
};

/// Every option in range, addresses and names well formed, TLS files given
/// in pairs and readable; kInvalidArgument naming the first that is not.
Result<CheckedOptions> check_options(const NodeOptions& o);

/// The parameters of a new ring: explicit options, else the defaults.
RingInfo new_ring_info(const NodeOptions& o);

/// The parameters of the ring `peer` belongs to (`ring`, as it said them),
/// with explicit options checked against them: kInvalidArgument naming the
/// first that differs.
Result<RingInfo> adopt_ring_info(const NodeOptions& o, const RingInfo& ring, const std::string& peer);

/// The successor list each of a node's ring positions keeps: the ring's,
/// or with virtual nodes one long enough to reach replicas - 1 other
/// machines past a run of positions of one machine (at most 64).
int position_successors(const RingInfo& info, int vnodes);

/// The digest index size of each of a node's positions: 2^16 buckets for
/// one, fewer for several (each holds its share of the records), so the
/// node's index stays about 1.5 MiB whatever its vnodes (at least 2^10 each).
int position_digest_bits(int vnodes);

/// TLS: the node serves HTTPS with its certificate and calls peers over
/// HTTPS, verifying theirs against the ring's CA.
net::HttpServerOptions server_options(const NodeOptions& o);
net::HttpTransportOptions transport_options(const NodeOptions& o, std::shared_ptr<net::PeerAuth> auth);

}  // namespace dws::node
