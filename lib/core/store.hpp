// The ordered key/value store the protocol keeps its records in (DESIGN.md
// sections 1 and 4). Production wires LMDB (lib/store/lmdb_store.hpp), the
// simulator an in-memory map (lib/store/memory_store.hpp); both follow the
// contract written here, and the tests run the same checks against both.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dwhatsapp/status.hpp"

namespace dws::core {

/// Puts and deletes that a Store applies as one transaction: all or nothing.
/// Operations apply in the order they were added, so a later put of the same
/// key wins over an earlier one. Keys and values are arbitrary bytes.
class WriteBatch {
 public:
  enum class Space : std::uint8_t { kKv, kMeta };
  struct Op {
    Space space = Space::kKv;
    std::string key;
    std::optional<std::string> value;  // nullopt: delete the key
  };

  void put(std::string key, std::string value) { ops_.push_back({Space::kKv, std::move(key), std::move(value)}); }
  /// Deleting a key that does not exist is not an error.
  void del(std::string key) { ops_.push_back({Space::kKv, std::move(key), std::nullopt}); }
  void put_meta(std::string key, std::string value) {
    ops_.push_back({Space::kMeta, std::move(key), std::move(value)});
  }
  void del_meta(std::string key) { ops_.push_back({Space::kMeta, std::move(key), std::nullopt}); }

  const std::vector<Op>& ops() const { return ops_; }
  std::size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  void clear() { ops_.clear(); }

 private:
  std::vector<Op> ops_;
};

/// What a store holds, for metrics and `dws-node status`.
struct StoreStats {
  std::uint64_t entries = 0;       // keys in the kv namespace
  std::uint64_t meta_entries = 0;  // keys in the meta namespace
  std::uint64_t used_bytes = 0;    // bytes of the file in use (0 when not meaningful)
  std::uint64_t map_bytes = 0;     // the configured size limit (0 when unlimited)
};

/// Called once per key in key order. The views are valid only during the
/// call. Return false to stop the scan early.
using ScanFn = std::function<bool(std::string_view key, std::string_view value)>;

/// An ordered byte-string key/value store with two namespaces: `kv` for the
/// records of the ring and `meta` for node-level values (DESIGN.md section 4).
/// Keys compare as unsigned bytes (memcmp order, shorter prefix first).
///
/// A Store is safe for concurrent access from multiple threads without any
/// external synchronization. Reads never block on writes; writes are
/// serialized. A scan sees one consistent snapshot, and its callback may call
/// back into the store (get, apply, even a nested scan).
///
/// Keys must be 1 to max_key_size() bytes (kInvalidArgument otherwise).
/// Environment failures (disk, map full) are kInternal with a message that
/// says what to change.
class Store {
 public:
  virtual ~Store() = default;

  /// The value of `key` in kv, or nullopt when there is none.
  virtual Result<std::optional<std::string>> get(std::string_view key) = 0;

  /// Applies every operation of `batch` in one transaction. On error nothing
  /// of the batch is applied. An empty batch is a no-op.
  virtual Status apply(const WriteBatch& batch) = 0;

  /// A write handed to submit(); wait() returns its Status once the batch is
  /// applied (and durable, for a store that syncs commits). wait() may be
  /// called again, from any thread, and returns the same Status.
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual Status wait() = 0;
  };
  /// Queues `batch` behind every batch submitted before it and returns at
  /// once; the batches commit in submit order. This lets a caller that orders
  /// its writes under its own lock release that lock before waiting for the
  /// commit (and its fsync), so concurrent writers can share one commit.
  /// REQUIRES: the returned Pending is waited on; until then the batch may not
  /// be visible to get(). The default applies the batch right away.
  virtual std::shared_ptr<Pending> submit(WriteBatch batch);

  /// Calls `fn` for every kv key in [begin, end) in key order. An empty `end`
  /// means "to the last key"; an empty `begin` means "from the first".
  virtual Status scan(std::string_view begin, std::string_view end, const ScanFn& fn) = 0;

  /// The value of `key` in the meta namespace, or nullopt.
  virtual Result<std::optional<std::string>> get_meta(std::string_view key) = 0;
  /// Sets one meta value in its own transaction.
  virtual Status put_meta(std::string_view key, std::string_view value) = 0;

  /// Makes everything applied so far durable (fsync). A no-op for stores
  /// that commit durably or have nothing to persist.
  virtual Status flush() = 0;

  virtual Result<StoreStats> stats() = 0;

  /// The longest key accepted (511 for LMDB).
  virtual std::size_t max_key_size() const = 0;
};

namespace detail {
// The Pending of a store that applies on submit: already settled.
class SettledApply final : public Store::Pending {
 public:
  explicit SettledApply(Status status) : status_(std::move(status)) {}
  Status wait() override { return status_; }

 private:
  Status status_;
};
}  // namespace detail

inline std::shared_ptr<Store::Pending> Store::submit(WriteBatch batch) {
  return std::make_shared<detail::SettledApply>(apply(batch));
}

}  // namespace dws::core
