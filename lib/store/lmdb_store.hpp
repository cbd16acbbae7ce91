// The production Store: one LMDB environment with databases `kv` and `meta`
// (DESIGN.md section 4).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/store.hpp"

struct MDB_env;
struct MDB_txn;

namespace dws::store {

struct LmdbOptions {
  /// Upper bound of the data file. Only address space is reserved, so the
  /// default is generous: about 64 GiB of small records.
  std::uint64_t map_size = std::uint64_t{64} << 30;
  /// false (default): commits skip fsync (MDB_NOSYNC | MDB_NOMETASYNC); a
  /// killed process loses nothing, a power cut loses what flush() had not
  /// yet synced. true: every commit is durable before apply() returns.
  bool fsync = false;
  /// Threads that may read at once (LMDB reader slots).
  unsigned max_readers = 256;
  /// The environment directory under the data directory.
  std::string subdir = "store";
  /// With fsync, true (default): concurrent apply() calls share one write
  /// transaction and one sync (group commit, see apply()). false: one
  /// transaction per apply(), as before group commit; kept to measure the
  /// difference. Without fsync every apply() commits alone either way.
  bool group_commit = true;
};

/// A Store over LMDB. Safe for concurrent access from multiple threads
/// without any external synchronization: readers run in parallel on their own
/// snapshots (MDB_NOTLS, so any thread may use any reader), and LMDB
/// serializes writers.
class LmdbStore final : public core::Store {
 public:
  /// Opens (creating directories and databases as needed) the environment
  /// at `<data_dir>/<options.subdir>`. kInternal naming the path and LMDB's
  /// reason when that fails (permissions, another map size in use, ...).
  static Result<std::unique_ptr<LmdbStore>> open(const std::string& data_dir, LmdbOptions options = {});
  ~LmdbStore() override;

  LmdbStore(const LmdbStore&) = delete;
  LmdbStore& operator=(const LmdbStore&) = delete;

  Result<std::optional<std::string>> get(std::string_view key) override;
  /// Map full aborts the whole batch and says how to raise map_size.
  ///
  /// With fsync and group_commit, concurrent calls are gathered (leader/follower): the
  /// first waiter finding no group in flight takes every queued batch,
  /// applies each in its own nested transaction of one write transaction (a
  /// batch that fails is rolled back alone), commits once (with fsync: one
  /// sync for the group) and hands each waiter its own Status. Batches that
  /// arrive meanwhile form the next group; a lone writer commits alone, with
  /// no wait for company. Returns once the batch is committed (durable with
  /// fsync) and visible to get().
  Status apply(const core::WriteBatch& batch) override;
  /// Queues the batch for the next group (see apply()); checks keys first.
  std::shared_ptr<Pending> submit(core::WriteBatch batch) override;
  Status scan(std::string_view begin, std::string_view end, const core::ScanFn& fn) override;
  Result<std::optional<std::string>> get_meta(std::string_view key) override;
  Status put_meta(std::string_view key, std::string_view value) override;
  /// mdb_env_sync(force): everything committed so far reaches the disk.
  Status flush() override;
  Result<core::StoreStats> stats() override;
  std::size_t max_key_size() const override { return max_key_; }

  const std::string& path() const { return path_; }
  const LmdbOptions& options() const { return opt_; }
  /// Write transactions committed so far (a group counts once); with fsync,
  /// the syncs paid for writes.
  std::uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }

 private:
  LmdbStore() = default;

  // Read transactions are reset and reused rather than created per read:
  // with MDB_NOTLS a reset transaction keeps its reader slot, which makes a
  // get a lookup instead of a trip through the reader table's lock.
  Result<MDB_txn*> begin_read();
  void end_read(MDB_txn* txn);
  Result<std::optional<std::string>> get_in(unsigned dbi, std::string_view key);
  Status check_key(std::string_view key, const char* space) const;
  Status lmdb_error(const char* what, int rc) const;
  Status check_batch(const core::WriteBatch& batch) const;
  // Puts the batch's operations into `txn`; on error the caller aborts it.
  Status put_ops(MDB_txn* txn, const core::WriteBatch& batch);
  Status apply_alone(const core::WriteBatch& batch);
  // Without fsync a commit costs microseconds: grouping gained ~10% in
  // store_bench but put a leader's descheduling into other writers' p99
  // (4 ms against 10 us on 2 cores), so only fsync mode groups.
  bool grouped() const { return opt_.fsync && opt_.group_commit; }

  struct Writer;
  Status wait_for(Writer& w);
  void commit_group(const std::vector<std::shared_ptr<Writer>>& group);

  MDB_env* env_ = nullptr;
  unsigned kv_ = 0;
  unsigned meta_ = 0;
  std::size_t max_key_ = 511;
  std::string path_;
  LmdbOptions opt_;
  std::mutex pool_mu_;
  std::vector<MDB_txn*> read_pool_;
  std::atomic<std::uint64_t> commits_{0};

  // The group commit queue: batches not yet committed, in submit order. Only
  // the leader (leading_) pops, and only what it committed.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::shared_ptr<Writer>> queue_;
  bool leading_ = false;
};

}  // namespace dws::store
