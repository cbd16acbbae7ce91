// An in-memory Store for the simulator and unit tests: the same contract as
// LmdbStore (core/store.hpp) over two std::maps, with nothing on disk.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "core/store.hpp"

namespace dws::store {

/// A Store in memory. Safe for concurrent access from multiple threads
/// without any external synchronization (one mutex; the simulator runs on one
/// thread anyway). A scan works on a copy of the range taken under the lock,
/// so like an LMDB read transaction it sees one snapshot and its callback may
/// call back into the store.
class MemoryStore final : public core::Store {
 public:
  /// LMDB's limit by default, so code that passes here also passes there.
  explicit MemoryStore(std::size_t max_key_size = 511) : max_key_(max_key_size) {}

  Result<std::optional<std::string>> get(std::string_view key) override;
  Status apply(const core::WriteBatch& batch) override;
  Status scan(std::string_view begin, std::string_view end, const core::ScanFn& fn) override;
  Result<std::optional<std::string>> get_meta(std::string_view key) override;
  Status put_meta(std::string_view key, std::string_view value) override;
  Status flush() override { return Status::Ok(); }
  Result<core::StoreStats> stats() override;
  std::size_t max_key_size() const override { return max_key_; }

 private:
  using Map = std::map<std::string, std::string, std::less<>>;
  Status check_key(std::string_view key, const char* space) const;

  std::size_t max_key_;
  std::mutex mu_;
  Map kv_;
  Map meta_;
};

}  // namespace dws::store
