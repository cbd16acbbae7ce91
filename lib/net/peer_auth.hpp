// Proof of the ring secret on node-to-node traffic (docs/design.md, "Peer
// authentication"). A private ring's members share a 32-byte secret; every
// peer request carries a MAC of what it asks, and every answer a MAC of what
// it says, both keyed BLAKE2b with keys derived from the secret. An open ring
// has no secret: nothing is signed and every request is admitted.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "dwhatsapp/status.hpp"

namespace dws::net {

inline constexpr std::size_t kRingSecretSize = 32;
/// "v1 <unix ms> <32-hex nonce> <64-hex mac>" on every peer request.
inline constexpr std::string_view kPeerProofHeader = "X-Dws-Peer-Proof";
/// "<64-hex mac>" on every answer to a request that carried a good proof.
inline constexpr std::string_view kPeerAnswerHeader = "X-Dws-Peer-Answer";

/// A ring's trust: its secret (or none, for an open ring) and the server
/// side's memory of recent nonces. Safe for concurrent use from any number
/// of threads.
class PeerAuth {
 public:
  /// How far a request's timestamp may lie from the receiver's clock.
  static constexpr std::int64_t kWindowMs = 60'000;
  /// Nonces remembered; when full, the oldest is dropped and requests no
  /// newer than it are refused, so memory stays bounded and no replay passes.
  static constexpr std::size_t kMaxNonces = 1 << 16;

  /// An open ring: sign() is never needed, check() admits every request.
  static std::shared_ptr<PeerAuth> open_ring();
  /// A private ring with this secret.
  static std::shared_ptr<PeerAuth> with_secret(const std::array<std::uint8_t, kRingSecretSize>& secret);
  /// A private ring with a fresh random secret (kept in memory only).
  static std::shared_ptr<PeerAuth> random();
  /// Reads a ring secret file: exactly 32 bytes, no access for group or
  /// others. kNotFound when it does not exist; kInvalidArgument naming the
  /// file and what is wrong with it otherwise.
  static Result<std::shared_ptr<PeerAuth>> load(const std::string& path);
  /// Loads `path`, or when it does not exist writes a fresh random secret
  /// there (mode 0600, never replacing a file) and loads that. `*created`
  /// says which happened.
  static Result<std::shared_ptr<PeerAuth>> load_or_create(const std::string& path, bool* created);

  /// Writes this ring's secret to a new file `path` (mode 0600; kExists if
  /// the file exists, which is never replaced). REQUIRES: !is_open().
  Status save(const std::string& path) const;

  explicit PeerAuth(std::optional<std::array<std::uint8_t, kRingSecretSize>> secret);
  PeerAuth(const PeerAuth&) = delete;
  PeerAuth& operator=(const PeerAuth&) = delete;

  bool is_open() const { return !secret_; }

  /// The header value that proves the secret for one request, and the nonce
  /// its answer must be checked against. REQUIRES: !is_open().
  struct Proof {
    std::string header;
    std::string nonce;
  };
  Proof sign(std::string_view method, std::string_view target, std::string_view body, std::int64_t now_ms) const;
  /// The same with the nonce given. For test vectors (docs/protocol.md)
  /// only: every request outside tests takes a fresh random nonce, since a
  /// receiver refuses one it has seen.
  Proof sign(std::string_view method, std::string_view target, std::string_view body, std::int64_t now_ms,
             const std::array<std::uint8_t, 16>& nonce) const;

  /// The labels the three MAC keys are derived under, and the derivation:
  /// keyed BLAKE2b-256 with the ring secret as key and the label as message.
  static constexpr std::string_view kRequestKeyLabel = "dwhatsapp ring v1: request mac key";
  static constexpr std::string_view kAnswerKeyLabel = "dwhatsapp ring v1: answer mac key";
  static constexpr std::string_view kDiscoveryKeyLabel = "dwhatsapp ring v1: discovery mac key";
  static std::array<std::uint8_t, 32> derive_key(const std::array<std::uint8_t, kRingSecretSize>& secret,
                                                 std::string_view label);

  /// Server side, before the body is parsed: Ok when `header` proves the
  /// secret for this method, target and body, its timestamp is within the
  /// window of `now_ms` and its nonce was not seen before (the nonce is then
  /// remembered and returned in `*nonce`). kUnauthenticated saying what is
  /// missing or wrong otherwise. An open ring admits everything (no nonce).
  Status check(std::string_view method, std::string_view target, std::string_view body, const std::string* header,
               std::int64_t now_ms, std::string* nonce);

  /// The answer header for a request whose proof carried `nonce`.
  /// REQUIRES: !is_open().
  std::string answer(std::string_view nonce, int status, std::string_view body) const;
  /// Client side: Ok when `header` proves that the answerer holds the secret
  /// and answered this request (its nonce) with this status and body.
  bool check_answer(std::string_view nonce, int status, std::string_view body, const std::string* header) const;

  /// MAC (hex) of a discovery datagram's text, under a key of its own.
  /// REQUIRES: !is_open().
  std::string discovery_mac(std::string_view text) const;
  bool check_discovery_mac(std::string_view text, std::string_view mac_hex) const;

 private:
  using Key = std::array<std::uint8_t, 32>;
  std::string mac_hex(const Key& key, std::string_view text) const;
  bool mac_matches(const Key& key, std::string_view text, std::string_view mac_hex) const;

  std::optional<std::array<std::uint8_t, kRingSecretSize>> secret_;
  Key request_key_{};
  Key answer_key_{};
  Key discovery_key_{};

  std::mutex mu_;
  std::unordered_set<std::string> nonces_;
  std::multimap<std::int64_t, std::string> by_time_;  // timestamp -> nonce, oldest first
  std::int64_t floor_ms_ = 0;                         // requests at or before this are refused
};

}  // namespace dws::net
