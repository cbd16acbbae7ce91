#include "store/memory_store.hpp"

#include <utility>
#include <vector>

namespace dws::store {

Status MemoryStore::check_key(std::string_view key, const char* space) const {
  if (key.empty()) return Status::InvalidArgument(std::string("empty ") + space + " key; keys are 1 or more bytes");
  if (key.size() > max_key_)
    return Status::InvalidArgument(std::string(space) + " key of " + std::to_string(key.size()) +
                                   " bytes; keys are at most " + std::to_string(max_key_) + " bytes");
  return Status::Ok();
}

Result<std::optional<std::string>> MemoryStore::get(std::string_view key) {
  Status st = check_key(key, "kv");
  if (!st.ok()) return st;
  std::lock_guard lock(mu_);
  auto it = kv_.find(key);
  if (it == kv_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Result<std::optional<std::string>> MemoryStore::get_meta(std::string_view key) {
  Status st = check_key(key, "meta");
  if (!st.ok()) return st;
  std::lock_guard lock(mu_);
  auto it = meta_.find(key);
  if (it == meta_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemoryStore::apply(const core::WriteBatch& batch) {
  // Validate everything first: a batch is all or nothing.
  for (const auto& op : batch.ops()) {
    Status st = check_key(op.key, op.space == core::WriteBatch::Space::kKv ? "kv" : "meta");
    if (!st.ok()) return st;
  }
  std::lock_guard lock(mu_);
  for (const auto& op : batch.ops()) {
    Map& m = op.space == core::WriteBatch::Space::kKv ? kv_ : meta_;
    if (op.value) {
      m.insert_or_assign(op.key, *op.value);
    } else {
      auto it = m.find(op.key);
      if (it != m.end()) m.erase(it);
    }
  }
  return Status::Ok();
}

Status MemoryStore::put_meta(std::string_view key, std::string_view value) {
  core::WriteBatch batch;
  batch.put_meta(std::string(key), std::string(value));
  return apply(batch);
}

Status MemoryStore::scan(std::string_view begin, std::string_view end, const core::ScanFn& fn) {
  if (begin.size() > max_key_) return check_key(begin, "scan begin");
  std::vector<std::pair<std::string, std::string>> snapshot;
  {
    std::lock_guard lock(mu_);
    auto it = kv_.lower_bound(begin);
    auto stop = end.empty() ? kv_.end() : kv_.lower_bound(end);
    // An end at or before begin is an empty range, as in LMDB's cursor walk.
    if (!end.empty() && end <= begin) stop = it;
    for (; it != stop; ++it) snapshot.emplace_back(it->first, it->second);
  }
  for (const auto& [k, v] : snapshot)
    if (!fn(k, v)) break;
  return Status::Ok();
}

Result<core::StoreStats> MemoryStore::stats() {
  std::lock_guard lock(mu_);
  core::StoreStats s;
  s.entries = kv_.size();
  s.meta_entries = meta_.size();
  for (const auto& [k, v] : kv_) s.used_bytes += k.size() + v.size();
  for (const auto& [k, v] : meta_) s.used_bytes += k.size() + v.size();
  return s;
}

}  // namespace dws::store
