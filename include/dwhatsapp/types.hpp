// Small value types shared by the public C++ API.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dws {

/// A position on the ring: 64 bits, arithmetic modulo 2^64.
using Id = std::uint64_t;

/// A ring member as others see it: its id and advertised "host:port".
struct PeerInfo {
  Id id = 0;
  std::string address;
  bool operator==(const PeerInfo&) const = default;
};

/// Records a node holds, by role (DESIGN.md section 4).
struct RecordCounts {
  std::uint64_t primary = 0;  ///< ring ids in (predecessor, self]
  std::uint64_t replica = 0;  ///< copies of the predecessors' ranges
  bool operator==(const RecordCounts&) const = default;
};

/// One node's view of the ring (GET /v1/ring/state).
struct RingView {
  PeerInfo self;
  std::optional<PeerInfo> predecessor;
  std::vector<PeerInfo> successors;
  /// finger[i] = successor(self + 2^i), when known.
  std::vector<std::optional<PeerInfo>> fingers;
  /// What the node stores, when it reports it (a node with storage does).
  std::optional<RecordCounts> records;
};

/// Ring-wide parameters (GET /v1/ring/info).
struct RingInfo {
  std::string ring_name = "dwhatsapp";
  int id_bits = 64;
  int replicas = 3;
  int successor_list = 4;
  int stabilize_ms = 1000;
  /// true: anyone may join (no ring secret, no proofs between peers); false:
  /// a private ring, whose peers prove they hold its secret.
  bool open_ring = false;
};

}  // namespace dws
