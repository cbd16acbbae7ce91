// Signatures one node has already verified. A record is checked on every
// path that stores it (DESIGN.md section 12), and on one node those paths
// meet: the API checks an envelope and then the replicator admits it as
// primary; anti-entropy offers records the node checked when they first
// came. Each (key, message, signature) is verified once here and then
// recognised by its BLAKE2b-256, which costs a hash instead of an Ed25519
// verification. Only successes are remembered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

#include "crypto/keys.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::crypto {

/// Safe for concurrent use. Bounded: two generations of at most
/// `generation_size` entries each; when the newer fills, the older is
/// dropped (recently verified signatures stay known).
class VerifiedCache {
 public:
  explicit VerifiedCache(std::size_t generation_size = 8192);

  /// crypto::verify, skipped when this exact triple verified before.
  Status verify(const PublicKey& public_key, std::string_view message, const Signature& signature);

  struct Counts {
    std::uint64_t hits = 0;
    std::uint64_t verified = 0;  // Ed25519 verifications run
  };
  Counts counts() const;

 private:
  const std::size_t generation_size_;
  mutable std::mutex mu_;
  std::unordered_set<std::string> current_, previous_;
  Counts counts_;
};

}  // namespace dws::crypto
