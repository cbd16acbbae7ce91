// The KeyDirectory a node gives its RecordValidator: a user's current key
// from this node's own copy of the record when it holds one (it passed the
// checks when it was stored), else from the ring, checked and cached.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/env.hpp"
#include "core/record.hpp"
#include "core/replication.hpp"
#include "core/validation.hpp"

namespace dws::core {

class RingKeyDirectory final : public KeyDirectory {
 public:
  /// REQUIRES: replicator, records and clock outlive it.
  RingKeyDirectory(Replicator& replicator, RecordStore& records, Clock& clock, std::int64_t ttl_ms = 30'000,
                   std::size_t max_entries = 100'000)
      : replicator_(replicator), records_(records), clock_(clock), ttl_ms_(ttl_ms), max_(max_entries) {}

  Result<std::optional<crypto::PublicKey>> current_key(std::string_view nick) override;

  /// Lookups answered from the cache, and from the ring.
  std::uint64_t hits() const;
  std::uint64_t fetches() const;

 private:
  struct Cached {
    crypto::PublicKey key{};
    std::int64_t fetched_ms = 0;
  };

  Replicator& replicator_;
  RecordStore& records_;
  Clock& clock_;
  std::int64_t ttl_ms_;
  std::size_t max_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Cached> cache_;
  std::uint64_t hits_ = 0;
  std::uint64_t fetches_ = 0;
};

}  // namespace dws::core
