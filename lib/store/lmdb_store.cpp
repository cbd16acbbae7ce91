#include "store/lmdb_store.hpp"

#include <lmdb.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace dws::store {

namespace {

MDB_val val_of(std::string_view s) {
  // LMDB never writes through mv_data of an input key or value.
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

std::string_view view_of(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

std::string mib(std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// Aborts a write transaction unless it was committed.
struct WriteTxn {
  MDB_txn* txn = nullptr;
  ~WriteTxn() {
    if (txn) mdb_txn_abort(txn);
  }
};

struct Cursor {
  MDB_cursor* cur = nullptr;
  ~Cursor() {
    if (cur) mdb_cursor_close(cur);
  }
};

// Hands a pooled read transaction back on every path out of a read.
class ReadGuard {
 public:
  ReadGuard(LmdbStore& s, MDB_txn* t, void (LmdbStore::*end)(MDB_txn*)) : s_(s), t_(t), end_(end) {}
  ~ReadGuard() { (s_.*end_)(t_); }
  ReadGuard(const ReadGuard&) = delete;
  ReadGuard& operator=(const ReadGuard&) = delete;

 private:
  LmdbStore& s_;
  MDB_txn* t_;
  void (LmdbStore::*end_)(MDB_txn*);
};

}  // namespace

Result<std::unique_ptr<LmdbStore>> LmdbStore::open(const std::string& data_dir, LmdbOptions options) {
  std::unique_ptr<LmdbStore> s(new LmdbStore());
  s->opt_ = options;
  s->path_ = (std::filesystem::path(data_dir) / options.subdir).string();

  std::error_code ec;
  std::filesystem::create_directories(s->path_, ec);
  if (ec) return Status::Internal("cannot create store directory " + s->path_ + ": " + ec.message());
  // Records are nobody else's business on a shared host: the directory is
  // 0700 and the files 0600, also for a store made before this rule.
  std::filesystem::permissions(s->path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace,
                               ec);
  if (ec) return Status::Internal("cannot make " + s->path_ + " private (mode 0700): " + ec.message());
  for (const char* name : {"data.mdb", "lock.mdb"}) {
    const auto file = std::filesystem::path(s->path_) / name;
    if (!std::filesystem::exists(file, ec)) continue;
    std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace, ec);
    if (ec) return Status::Internal("cannot make " + file.string() + " private (mode 0600): " + ec.message());
  }

  int rc = mdb_env_create(&s->env_);
  if (rc != 0) return Status::Internal("cannot create LMDB environment: " + std::string(mdb_strerror(rc)));
  const auto fail = [&](const char* what, int code) {
    return Status::Internal("cannot open store " + s->path_ + ": " + what + ": " + mdb_strerror(code));
  };
  if ((rc = mdb_env_set_maxdbs(s->env_, 2)) != 0) return fail("setting the database count", rc);
  if ((rc = mdb_env_set_maxreaders(s->env_, options.max_readers)) != 0) return fail("setting max_readers", rc);
  if ((rc = mdb_env_set_mapsize(s->env_, static_cast<std::size_t>(options.map_size))) != 0)
    return fail("setting map_size", rc);
  unsigned flags = MDB_NOTLS;
  if (!options.fsync) flags |= MDB_NOSYNC | MDB_NOMETASYNC;
  if ((rc = mdb_env_open(s->env_, s->path_.c_str(), flags, 0600)) != 0) return fail("mdb_env_open", rc);
  s->max_key_ = static_cast<std::size_t>(mdb_env_get_maxkeysize(s->env_));

  WriteTxn w;
  if ((rc = mdb_txn_begin(s->env_, nullptr, 0, &w.txn)) != 0) return fail("starting a transaction", rc);
  if ((rc = mdb_dbi_open(w.txn, "kv", MDB_CREATE, &s->kv_)) != 0) return fail("opening database kv", rc);
  if ((rc = mdb_dbi_open(w.txn, "meta", MDB_CREATE, &s->meta_)) != 0) return fail("opening database meta", rc);
  rc = mdb_txn_commit(w.txn);
  w.txn = nullptr;
  if (rc != 0) return fail("creating the databases", rc);
  return s;
}

LmdbStore::~LmdbStore() {
  for (MDB_txn* t : read_pool_) mdb_txn_abort(t);
  if (env_) mdb_env_close(env_);
}

Status LmdbStore::lmdb_error(const char* what, int rc) const {
  if (rc == MDB_MAP_FULL)
    return Status::Internal("store " + path_ + " is full: its map size of " + mib(opt_.map_size) +
                            " is used up; raise the map_size option and reopen (nothing of this write was applied)");
  if (rc == MDB_READERS_FULL)
    return Status::Internal("store " + path_ + ": more than " + std::to_string(opt_.max_readers) +
                            " concurrent readers; raise the max_readers option");
  return Status::Internal(std::string("store ") + path_ + ": " + what + ": " + mdb_strerror(rc));
}

Status LmdbStore::check_key(std::string_view key, const char* space) const {
  if (key.empty()) return Status::InvalidArgument(std::string("empty ") + space + " key; keys are 1 or more bytes");
  if (key.size() > max_key_)
    return Status::InvalidArgument(std::string(space) + " key of " + std::to_string(key.size()) + " bytes; LMDB keys are at most " +
                                   std::to_string(max_key_) + " bytes");
  return Status::Ok();
}

Result<MDB_txn*> LmdbStore::begin_read() {
  MDB_txn* txn = nullptr;
  {
    std::lock_guard lock(pool_mu_);
    if (!read_pool_.empty()) {
      txn = read_pool_.back();
      read_pool_.pop_back();
    }
  }
  if (txn) {
    const int rc = mdb_txn_renew(txn);
    if (rc == 0) return txn;
    mdb_txn_abort(txn);
    return lmdb_error("renewing a read transaction", rc);
  }
  const int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return lmdb_error("starting a read transaction", rc);
  return txn;
}

void LmdbStore::end_read(MDB_txn* txn) {
  mdb_txn_reset(txn);
  std::lock_guard lock(pool_mu_);
  read_pool_.push_back(txn);
}

Result<std::optional<std::string>> LmdbStore::get_in(unsigned dbi, std::string_view key) {
  Status st = check_key(key, dbi == kv_ ? "kv" : "meta");
  if (!st.ok()) return st;
  auto txn = begin_read();
  if (!txn.ok()) return txn.status();
  ReadGuard guard(*this, *txn, &LmdbStore::end_read);
  MDB_val k = val_of(key), v{};
  const int rc = mdb_get(*txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>();
  if (rc != 0) return lmdb_error("get", rc);
  return std::optional<std::string>(std::string(view_of(v)));
}

Result<std::optional<std::string>> LmdbStore::get(std::string_view key) { return get_in(kv_, key); }

Result<std::optional<std::string>> LmdbStore::get_meta(std::string_view key) { return get_in(meta_, key); }

// One submitted batch. The leader fills status and sets done under
// queue_mu_; the batch is read only by the leader, outside the lock.
struct LmdbStore::Writer final : core::Store::Pending {
  Writer(LmdbStore& s, core::WriteBatch b) : store(s), batch(std::move(b)) {}
  Status wait() override { return store.wait_for(*this); }

  LmdbStore& store;
  core::WriteBatch batch;
  Status status;
  bool done = false;
};

namespace {

// Bounds one group's write transaction (its dirty pages live in memory until
// the commit); writers past it form the next group.
constexpr std::size_t kMaxGroup = 512;

}  // namespace

Status LmdbStore::check_batch(const core::WriteBatch& batch) const {
  // Check every key first so a bad one rejects the batch before any I/O.
  for (const auto& op : batch.ops()) {
    Status st = check_key(op.key, op.space == core::WriteBatch::Space::kKv ? "kv" : "meta");
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Status LmdbStore::put_ops(MDB_txn* txn, const core::WriteBatch& batch) {
  for (const auto& op : batch.ops()) {
    const unsigned dbi = op.space == core::WriteBatch::Space::kKv ? kv_ : meta_;
    MDB_val k = val_of(op.key);
    if (op.value) {
      MDB_val v = val_of(*op.value);
      const int rc = mdb_put(txn, dbi, &k, &v, 0);
      if (rc != 0) return lmdb_error("put", rc);
    } else {
      const int rc = mdb_del(txn, dbi, &k, nullptr);
      if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error("delete", rc);
    }
  }
  return Status::Ok();
}

Status LmdbStore::apply_alone(const core::WriteBatch& batch) {
  WriteTxn w;
  int rc = mdb_txn_begin(env_, nullptr, 0, &w.txn);
  if (rc != 0) return lmdb_error("starting a write transaction", rc);
  if (Status st = put_ops(w.txn, batch); !st.ok()) return st;
  rc = mdb_txn_commit(w.txn);
  w.txn = nullptr;  // a failed commit frees the transaction too
  commits_.fetch_add(1, std::memory_order_relaxed);
  if (rc != 0) return lmdb_error("commit", rc);
  return Status::Ok();
}

Status LmdbStore::apply(const core::WriteBatch& batch) {
  if (batch.empty()) return Status::Ok();
  if (!grouped()) {
    if (Status st = check_batch(batch); !st.ok()) return st;
    return apply_alone(batch);
  }
  return submit(batch)->wait();
}

std::shared_ptr<core::Store::Pending> LmdbStore::submit(core::WriteBatch batch) {
  if (batch.empty()) return std::make_shared<core::detail::SettledApply>(Status::Ok());
  if (Status st = check_batch(batch); !st.ok()) return std::make_shared<core::detail::SettledApply>(st);
  if (!grouped()) return std::make_shared<core::detail::SettledApply>(apply_alone(batch));
  auto w = std::make_shared<Writer>(*this, std::move(batch));
  std::lock_guard lock(queue_mu_);
  queue_.push_back(w);
  return w;
}

Status LmdbStore::wait_for(Writer& w) {
  std::unique_lock lock(queue_mu_);
  // Any waiter may lead when no group is in flight: its own batch is still
  // queued (not done), so the group it takes includes it.
  queue_cv_.wait(lock, [&] { return w.done || !leading_; });
  if (w.done) return w.status;
  leading_ = true;
  const std::size_t n = std::min(queue_.size(), kMaxGroup);
  std::vector<std::shared_ptr<Writer>> group(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  lock.unlock();
  commit_group(group);
  lock.lock();
  for (auto& g : group) g->done = true;
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  leading_ = false;
  queue_cv_.notify_all();
  // kMaxGroup may have left our own batch for the next group.
  queue_cv_.wait(lock, [&] { return w.done || !leading_; });
  if (w.done) return w.status;
  lock.unlock();
  return wait_for(w);
}

void LmdbStore::commit_group(const std::vector<std::shared_ptr<Writer>>& group) {
  if (group.size() == 1) {
    group.front()->status = apply_alone(group.front()->batch);
    return;
  }
  const auto fail_all = [&](const Status& st) {
    for (auto& g : group)
      if (g->status.ok()) g->status = st;
  };
  WriteTxn parent;
  int rc = mdb_txn_begin(env_, nullptr, 0, &parent.txn);
  if (rc != 0) return fail_all(lmdb_error("starting a write transaction", rc));
  // Each batch in a nested transaction: a failing batch (map full, ...) is
  // rolled back alone and the parent carries on with the others.
  for (auto& g : group) {
    WriteTxn child;
    rc = mdb_txn_begin(env_, parent.txn, 0, &child.txn);
    if (rc != 0) {
      g->status = lmdb_error("starting a nested write transaction", rc);
      continue;
    }
    if (Status st = put_ops(child.txn, g->batch); !st.ok()) {
      g->status = st;
      continue;
    }
    rc = mdb_txn_commit(child.txn);
    child.txn = nullptr;
    if (rc != 0) g->status = lmdb_error("commit of a nested transaction", rc);
  }
  // One commit for the group: with fsync, LMDB's own durable commit (data
  // pages synced before the meta page that points at them).
  rc = mdb_txn_commit(parent.txn);
  parent.txn = nullptr;
  commits_.fetch_add(1, std::memory_order_relaxed);
  if (rc != 0) fail_all(lmdb_error("commit", rc));
}

Status LmdbStore::put_meta(std::string_view key, std::string_view value) {
  core::WriteBatch batch;
  batch.put_meta(std::string(key), std::string(value));
  return apply(batch);
}

Status LmdbStore::scan(std::string_view begin, std::string_view end, const core::ScanFn& fn) {
  if (begin.size() > max_key_) return check_key(begin, "scan begin");
  auto txn = begin_read();
  if (!txn.ok()) return txn.status();
  ReadGuard guard(*this, *txn, &LmdbStore::end_read);
  Cursor c;
  int rc = mdb_cursor_open(*txn, kv_, &c.cur);
  if (rc != 0) return lmdb_error("opening a cursor", rc);
  MDB_val k = val_of(begin), v{};
  rc = begin.empty() ? mdb_cursor_get(c.cur, &k, &v, MDB_FIRST) : mdb_cursor_get(c.cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    const std::string_view key = view_of(k);
    if (!end.empty() && key.compare(end) >= 0) break;
    if (!fn(key, view_of(v))) break;
    rc = mdb_cursor_get(c.cur, &k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error("scan", rc);
  return Status::Ok();
}

Status LmdbStore::flush() {
  const int rc = mdb_env_sync(env_, 1);
  if (rc != 0) return lmdb_error("flush (mdb_env_sync)", rc);
  return Status::Ok();
}

Result<core::StoreStats> LmdbStore::stats() {
  auto txn = begin_read();
  if (!txn.ok()) return txn.status();
  ReadGuard guard(*this, *txn, &LmdbStore::end_read);
  MDB_stat kv{}, meta{}, env{};
  MDB_envinfo info{};
  int rc = mdb_stat(*txn, kv_, &kv);
  if (rc == 0) rc = mdb_stat(*txn, meta_, &meta);
  if (rc == 0) rc = mdb_env_stat(env_, &env);
  if (rc == 0) rc = mdb_env_info(env_, &info);
  if (rc != 0) return lmdb_error("stats", rc);
  core::StoreStats s;
  s.entries = kv.ms_entries;
  s.meta_entries = meta.ms_entries;
  s.used_bytes = (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * env.ms_psize;
  s.map_bytes = info.me_mapsize;
  return s;
}

}  // namespace dws::store
