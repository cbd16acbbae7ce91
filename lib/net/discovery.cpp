#include "net/discovery.hpp"

#include <fmt/format.h>

#include <asio/ip/address_v4.hpp>
#include <asio/socket_base.hpp>
#include <asio/steady_timer.hpp>

#include <sodium.h>
#include <sys/socket.h>

#include <charconv>
#include <chrono>
#include <functional>

#include "core/id.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "net/address.hpp"
#include "net/peer_auth.hpp"

namespace dws::net {

namespace {

constexpr std::string_view kDiscover = "DWS1 DISCOVER ";
constexpr std::string_view kHere = "DWS1 HERE ";
constexpr std::string_view kPeers = "DWS1 PEERS ";
constexpr std::string_view kPeer = "DWS1 PEER ";

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// Tolerates one trailing newline, so that `echo ... | nc -u` works by hand.
std::string_view trim_newline(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

// The words of `s` split at single spaces.
std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto space = s.find(' ', start);
    const auto end = space == std::string_view::npos ? s.size() : space;
    out.push_back(s.substr(start, end - start));
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  return out;
}

// The answer to a joiner's challenge "<ring> <ms> <nonce> <mac>" (after the
// prefix), or nullopt when it does not prove the secret now.
std::optional<std::string> answer_challenge(std::string_view rest, std::string_view ring_name, const PeerInfo& self,
                                            const PeerAuth& auth, std::int64_t now_ms) {
  const auto w = words(rest);
  if (w.size() != 4 || w[0] != ring_name || w[2].size() != 32) return std::nullopt;
  const std::string text = fmt::format("{}{} {} {}", kPeers, w[0], w[1], w[2]);
  if (!auth.check_discovery_mac(text, w[3])) return std::nullopt;
  std::int64_t ts = 0;
  const auto [end, ec] = std::from_chars(w[1].data(), w[1].data() + w[1].size(), ts);
  if (ec != std::errc{} || end != w[1].data() + w[1].size()) return std::nullopt;
  if (ts < now_ms - PeerAuth::kWindowMs || ts > now_ms + PeerAuth::kWindowMs) return std::nullopt;
  const std::string answer = fmt::format("{}{} {} {}", kPeer, self.address, core::to_hex(self.id), w[2]);
  return fmt::format("{} {}", answer, auth.discovery_mac(answer));
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string discover_datagram(std::string_view ring_name) { return fmt::format("{}{}", kDiscover, ring_name); }

std::optional<std::string> answer_datagram(std::string_view datagram, std::string_view ring_name,
                                           const PeerInfo& self, const PeerAuth* auth, std::int64_t now_ms) {
  datagram = trim_newline(datagram);
  if (datagram.substr(0, kPeers.size()) == kPeers) {
    if (auth == nullptr || auth->is_open()) return std::nullopt;
    return answer_challenge(datagram.substr(kPeers.size()), ring_name, self, *auth, now_ms);
  }
  if (datagram.substr(0, kDiscover.size()) != kDiscover) return std::nullopt;
  if (datagram.substr(kDiscover.size()) != ring_name) return std::nullopt;
  return fmt::format("{}{} {}", kHere, self.address, core::to_hex(self.id));
}

std::optional<std::string> parse_here(std::string_view datagram) {
  datagram = trim_newline(datagram);
  if (datagram.substr(0, kHere.size()) != kHere) return std::nullopt;
  const std::string_view rest = datagram.substr(kHere.size());
  const auto space = rest.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view address = rest.substr(0, space);
  if (!core::parse_hex(rest.substr(space + 1))) return std::nullopt;
  if (!parse_host_port(address, "address").ok()) return std::nullopt;
  return std::string(address);
}

std::string challenge_datagram(std::string_view ring_name, const PeerAuth& auth, std::int64_t now_ms,
                               std::string* nonce) {
  crypto::ensure_init();
  std::array<std::uint8_t, 16> raw{};
  randombytes_buf(raw.data(), raw.size());
  *nonce = crypto::to_hex(raw);
  const std::string text = fmt::format("{}{} {} {}", kPeers, ring_name, now_ms, *nonce);
  return fmt::format("{} {}", text, auth.discovery_mac(text));
}

std::optional<std::string> parse_peer(std::string_view datagram, std::string_view nonce, const PeerAuth& auth) {
  datagram = trim_newline(datagram);
  if (datagram.substr(0, kPeer.size()) != kPeer) return std::nullopt;
  const auto w = words(datagram.substr(kPeer.size()));
  if (w.size() != 4 || w[2] != nonce) return std::nullopt;
  const std::string_view text = datagram.substr(0, datagram.size() - w[3].size() - 1);
  if (!auth.check_discovery_mac(text, w[3])) return std::nullopt;
  if (!core::parse_hex(w[1]) || !parse_host_port(w[0], "address").ok()) return std::nullopt;
  return std::string(w[0]);
}

DiscoveryResponder::DiscoveryResponder(asio::io_context& io, std::string ring_name, PeerInfo self,
                                       std::shared_ptr<const PeerAuth> auth)
    : socket_(io), ring_name_(std::move(ring_name)), self_(std::move(self)), auth_(std::move(auth)) {}

DiscoveryResponder::~DiscoveryResponder() { stop(); }

Status DiscoveryResponder::start(int port) {
  if (port <= 0 || port > 65535)
    return Status::InvalidArgument(fmt::format("discovery port {} is not in 1..65535", port));
  std::error_code ec;
  const auto fail = [&](std::string_view step) {
    std::error_code ignored;
    socket_.close(ignored);
    return Status::Unavailable(fmt::format("cannot answer discovery on UDP port {}: {}: {}", port, step, ec.message()));
  };
  socket_.open(asio::ip::udp::v4(), ec);
  if (ec) return fail("open");
  socket_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("SO_REUSEADDR");
  socket_.set_option(ReusePort(true), ec);
  if (ec) return fail("SO_REUSEPORT");
  socket_.bind(asio::ip::udp::endpoint(asio::ip::address_v4::any(), static_cast<unsigned short>(port)), ec);
  if (ec) return fail("bind");
  receive();
  return Status::Ok();
}

void DiscoveryResponder::stop() {
  std::error_code ignored;
  if (socket_.is_open()) socket_.close(ignored);
}

void DiscoveryResponder::receive() {
  socket_.async_receive_from(asio::buffer(buf_), sender_, [this](const std::error_code& ec, std::size_t n) {
    if (ec == asio::error::operation_aborted || !socket_.is_open()) return;
    // A datagram that fills the buffer may have been cut short: not ours.
    if (!ec && n < buf_.size()) {
      if (auto answer = answer_datagram(std::string_view(buf_.data(), n), ring_name_, self_, auth_.get(), wall_ms())) {
        std::error_code ignored;
        socket_.send_to(asio::buffer(*answer), sender_, 0, ignored);
      }
    }
    receive();
  });
}

}  // namespace dws::net

namespace dws::net {

namespace {

// Broadcasts `request` three times over `timeout_ms` and collects the
// distinct addresses `parse` finds in the answers, first answer first.
Result<std::vector<std::string>> search(const std::string& ring_name, int port, int timeout_ms,
                                        const std::string& broadcast_address, const std::string& request,
                                        const std::function<std::optional<std::string>(std::string_view)>& parse) {
  using asio::ip::udp;
  if (port <= 0 || port > 65535)
    return Status::InvalidArgument(fmt::format("discovery port {} is not in 1..65535", port));
  if (timeout_ms <= 0) return Status::InvalidArgument(fmt::format("discovery timeout {} ms must be positive", timeout_ms));
  std::error_code ec;
  const auto target_ip = asio::ip::make_address_v4(broadcast_address, ec);
  if (ec)
    return Status::InvalidArgument(
        fmt::format("broadcast address '{}' is not an IPv4 address such as 192.168.1.255", broadcast_address));
  const udp::endpoint target(target_ip, static_cast<unsigned short>(port));

  asio::io_context io;
  udp::socket sock(io);
  sock.open(udp::v4(), ec);
  if (!ec) sock.set_option(asio::socket_base::broadcast(true), ec);
  if (!ec) sock.bind(udp::endpoint(asio::ip::address_v4::any(), 0), ec);
  if (ec) return Status::Unavailable(fmt::format("cannot open a UDP socket for discovery: {}", ec.message()));

  std::vector<std::string> found;
  std::string send_error;
  std::array<char, 1024> buf{};
  udp::endpoint from;

  // Three sends spread over the timeout: one lost datagram does not lose the
  // answer.
  asio::steady_timer resend(io);
  int sends_left = 3;
  std::function<void()> send = [&] {
    std::error_code err;
    sock.send_to(asio::buffer(request), target, 0, err);
    if (err && send_error.empty()) send_error = err.message();
    if (--sends_left == 0) return;
    resend.expires_after(std::chrono::milliseconds(timeout_ms / 3));
    resend.async_wait([&](const std::error_code& e) {
      if (!e) send();
    });
  };

  std::function<void()> receive = [&] {
    sock.async_receive_from(asio::buffer(buf), from, [&](const std::error_code& e, std::size_t n) {
      if (e == asio::error::operation_aborted || !sock.is_open()) return;
      if (!e && n < buf.size()) {
        if (auto address = parse(std::string_view(buf.data(), n))) {
          bool seen = false;
          for (const auto& a : found) seen = seen || a == *address;
          if (!seen) found.push_back(std::move(*address));
        }
      }
      receive();
    });
  };

  asio::steady_timer deadline(io);
  deadline.expires_after(std::chrono::milliseconds(timeout_ms));
  deadline.async_wait([&](const std::error_code&) {
    std::error_code ignored;
    resend.cancel();
    sock.close(ignored);
  });

  send();
  receive();
  io.run();

  if (found.empty()) {
    std::string why = send_error.empty() ? "" : fmt::format(" (sending failed: {})", send_error);
    return Status::Unavailable(fmt::format("no node of ring '{}' answered discovery on {}:{} within {} ms{}",
                                           ring_name, broadcast_address, port, timeout_ms, why));
  }
  return found;
}

}  // namespace

Result<std::vector<std::string>> discover_members(const std::string& ring_name, int port, int timeout_ms,
                                                  const std::string& broadcast_address, const PeerAuth& auth) {
  std::string nonce;
  const std::string request = challenge_datagram(ring_name, auth, wall_ms(), &nonce);
  return search(ring_name, port, timeout_ms, broadcast_address, request,
                [&](std::string_view d) { return parse_peer(d, nonce, auth); });
}

Result<std::vector<std::string>> discover_nodes(const std::string& ring_name, int port, int timeout_ms,
                                                const std::string& broadcast_address) {
  return search(ring_name, port, timeout_ms, broadcast_address, discover_datagram(ring_name),
                [](std::string_view d) { return parse_here(d); });
}

}  // namespace dws::net
