#include "core/record.hpp"

#include <cstring>
#include <map>
#include <utility>

#include "core/id.hpp"
#include "core/wire.hpp"
#include "crypto/hash.hpp"

namespace dws::core {

namespace {

constexpr std::uint8_t kValueFormat = 1;
constexpr std::uint8_t kRecordFormat = 1;
constexpr std::uint8_t kFlagTombstone = 0x01;

using wire::get_be64;
using wire::put_be64;
using wire::put_varint;
using wire::Reader;

bool read_value(Reader& r, Record& out) {
  std::uint8_t format = 0, flags = 0;
  if (!r.byte(format, "record format")) return false;
  if (format != kValueFormat) return r.fail("record format", "unknown format");
  if (!r.byte(flags, "record flags")) return false;
  if ((flags & ~kFlagTombstone) != 0) return r.fail("record flags", "unknown flag bits");
  std::uint64_t version = 0, expires = 0, len = 0;
  if (!r.varint(version, "version")) return false;
  if (!r.varint(expires, "expires_at")) return false;
  if (expires > static_cast<std::uint64_t>(INT64_MAX)) return r.fail("expires_at", "out of range");
  if (!r.varint(len, "payload length")) return false;
  std::string_view payload;
  if (!r.bytes(static_cast<std::size_t>(len), payload, "payload")) return false;
  out.version = version;
  out.tombstone = (flags & kFlagTombstone) != 0;
  out.expires_at = static_cast<std::int64_t>(expires);
  out.payload.assign(payload);
  return true;
}

Hash128 leaf_of(std::string_view skey, std::string_view value) {
  std::string buf;
  buf.reserve(skey.size() + value.size());
  buf.append(skey).append(value);
  const auto h = crypto::blake2b_256(buf);
  Hash128 out;
  for (int i = 0; i < 8; ++i) {
    out.hi = (out.hi << 8) | h[static_cast<std::size_t>(i)];
    out.lo = (out.lo << 8) | h[static_cast<std::size_t>(8 + i)];
  }
  return out;
}

// [begin, end) storage-key segments covering ring ids (a, b], in ring order
// from a + 1. One segment, or two when the range wraps past 2^64 - 1.
std::vector<std::pair<std::string, std::string>> segments(Id a, Id b) {
  std::vector<std::pair<std::string, std::string>> out;
  const Id first = a + 1;
  if (a == b) {
    out.emplace_back(storage_prefix(first), std::string());
    if (first != 0) out.emplace_back(std::string(), storage_prefix(first));
    return out;
  }
  const Id last = b;
  const std::string end = last == UINT64_MAX ? std::string() : storage_prefix(last + 1);
  if (first <= last) {
    out.emplace_back(storage_prefix(first), end);
  } else {
    out.emplace_back(storage_prefix(first), std::string());
    out.emplace_back(std::string(), end);
  }
  return out;
}

Status corrupt(std::string_view skey, const Status& why) {
  std::string where = skey.size() >= 8 ? to_hex(get_be64(skey)) : std::string("(short key)");
  return Status::Internal("stored record " + where + " (key of " + std::to_string(skey.size()) +
                          " bytes) is corrupt: " + why.message());
}

Result<Record> decode_stored(std::string_view skey, std::string_view value) {
  auto item = parse_storage_key(skey);
  if (!item.ok()) return corrupt(skey, item.status());
  Record rec;
  Status st = decode_value(value, rec);
  if (!st.ok()) return corrupt(skey, st);
  rec.key = item->key;
  rec.sub = std::move(item->sub);
  return rec;
}

}  // namespace

Status validate(const Record& record) {
  if (record.sub.size() > kMaxSubSize)
    return Status::InvalidArgument("record sub is " + std::to_string(record.sub.size()) + " bytes; at most " +
                                   std::to_string(kMaxSubSize) + " fit in a store key");
  if (record.expires_at < 0)
    return Status::InvalidArgument("record expires_at is " + std::to_string(record.expires_at) +
                                   "; use unix milliseconds, or 0 for never");
  return Status::Ok();
}

std::string storage_key(Id key, std::string_view sub) {
  std::string out;
  out.reserve(8 + sub.size());
  put_be64(out, key);
  out.append(sub);
  return out;
}

std::string storage_prefix(Id key) { return storage_key(key, {}); }

Result<ItemKey> parse_storage_key(std::string_view key) {
  if (key.size() < 8)
    return Status::InvalidArgument("storage key of " + std::to_string(key.size()) +
                                   " bytes; expected at least the 8-byte ring id");
  return ItemKey{get_be64(key), std::string(key.substr(8))};
}

std::string encode_value(const Record& record) {
  std::string out;
  out.reserve(2 + 3 * 10 + record.payload.size());
  out.push_back(static_cast<char>(kValueFormat));
  out.push_back(static_cast<char>(record.tombstone ? kFlagTombstone : 0));
  put_varint(out, record.version);
  put_varint(out, static_cast<std::uint64_t>(record.expires_at));
  put_varint(out, record.payload.size());
  out.append(record.payload);
  return out;
}

Status decode_value(std::string_view in, Record& out) {
  Reader r(in);
  if (!read_value(r, out)) return Status::InvalidArgument("record value: " + r.error());
  if (!r.at_end())
    return Status::InvalidArgument("record value: " + std::to_string(in.size() - r.pos()) +
                                   " trailing bytes after the payload");
  return Status::Ok();
}

void append_record(std::string& out, const Record& record) {
  out.push_back(static_cast<char>(kRecordFormat));
  put_be64(out, record.key);
  put_varint(out, record.sub.size());
  out.append(record.sub);
  const std::string value = encode_value(record);
  put_varint(out, value.size());
  out.append(value);
}

std::string encode_records(std::span<const Record> records) {
  std::string out;
  for (const auto& r : records) append_record(out, r);
  return out;
}

Result<std::vector<Record>> decode_records(std::string_view in, std::size_t max_records) {
  std::vector<Record> out;
  Reader r(in);
  while (!r.at_end()) {
    const std::size_t start = r.pos();
    if (out.size() >= max_records)
      return Status::InvalidArgument("more than " + std::to_string(max_records) + " records in one message");
    std::uint8_t format = 0;
    std::string_view key_bytes, sub, value;
    std::uint64_t sub_len = 0, value_len = 0;
    Record rec;
    bool ok = r.byte(format, "record format") &&
              (format == kRecordFormat || r.fail("record format", "unknown format")) &&
              r.bytes(8, key_bytes, "ring key") && r.varint(sub_len, "sub length") &&
              (sub_len <= kMaxSubSize || r.fail("sub length", "longer than 503 bytes")) &&
              r.bytes(static_cast<std::size_t>(sub_len), sub, "sub") && r.varint(value_len, "value length") &&
              r.bytes(static_cast<std::size_t>(value_len), value, "value");
    if (!ok)
      return Status::InvalidArgument("record " + std::to_string(out.size()) + " at byte " + std::to_string(start) +
                                     ": " + r.error());
    Status st = decode_value(value, rec);
    if (!st.ok())
      return Status::InvalidArgument("record " + std::to_string(out.size()) + " at byte " + std::to_string(start) +
                                     ": " + st.message());
    rec.key = get_be64(key_bytes);
    rec.sub.assign(sub);
    out.push_back(std::move(rec));
  }
  return out;
}

std::array<std::uint8_t, 32> content_hash(const Record& record) {
  return crypto::blake2b_256(encode_value(record));
}

int compare(const Record& a, const Record& b) {
  if (a.version != b.version) return a.version < b.version ? -1 : 1;
  const auto ha = content_hash(a);
  const auto hb = content_hash(b);
  const int c = std::memcmp(ha.data(), hb.data(), ha.size());
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

const Record& merge(const Record& a, const Record& b) { return compare(a, b) >= 0 ? a : b; }

Hash128 leaf_hash(const Record& record) {
  return leaf_of(storage_key(record.key, record.sub), encode_value(record));
}

// --- RecordStore ------------------------------------------------------------

RecordStore::RecordStore(Store& store, RecordStoreOptions options) : store_(store), index_(options.fine_bits) {}

Result<std::unique_ptr<RecordStore>> RecordStore::open(Store& store, RecordStoreOptions options) {
  if (options.fine_bits < 1 || options.fine_bits > 24)
    return Status::InvalidArgument("fine_bits is " + std::to_string(options.fine_bits) + "; use 1 to 24");
  std::unique_ptr<RecordStore> rs(new RecordStore(store, options));
  Status st = rs->rebuild();
  if (!st.ok()) return st;
  return rs;
}

Status RecordStore::rebuild() {
  std::lock_guard lock(mu_);
  return rebuild_locked();
}

void RecordStore::drain(std::unique_lock<std::mutex>& lock) {
  ++draining_;
  idle_cv_.wait(lock, [this] { return in_flight_ == 0; });
  --draining_;
  // A write that failed after the index counted it: recount from the store,
  // which now holds every committed write and nothing else.
  if (index_stale_ && rebuild_locked().ok()) index_stale_ = false;
  idle_cv_.notify_all();
}

Status RecordStore::rebuild_locked() {
  index_.clear();
  Status failure;
  Status st = store_.scan({}, {}, [&](std::string_view k, std::string_view v) {
    auto rec = decode_stored(k, v);
    if (!rec.ok()) {
      failure = rec.status();
      return false;
    }
    index_.add(rec->key, leaf_of(k, v));
    return true;
  });
  if (!st.ok()) return st;
  return failure;
}

Result<std::optional<Record>> RecordStore::get(Id key, std::string_view sub) {
  const std::string skey = storage_key(key, sub);
  auto value = store_.get(skey);
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::optional<Record>();
  auto rec = decode_stored(skey, **value);
  if (!rec.ok()) return rec.status();
  return std::optional<Record>(std::move(rec).value());
}

Result<MergeOutcome> RecordStore::merge(const Record& record, std::int64_t now_ms, const MergeGuard& guard) {
  auto out = merge(std::span<const Record>(&record, 1), now_ms, guard);
  if (!out.ok()) return out.status();
  return out->front();
}

Result<std::vector<MergeOutcome>> RecordStore::merge(std::span<const Record> records, std::int64_t now_ms,
                                                     const MergeGuard& guard) {
  for (std::size_t i = 0; i < records.size(); ++i) {
    Status st = validate(records[i]);
    if (!st.ok()) return Status::InvalidArgument("record " + std::to_string(i) + ": " + st.message());
  }

  struct Slot {
    std::optional<Record> stored;   // what the store holds now, or will once `queued` commits
    const Record* winner = nullptr; // set when an incoming record beats it
    std::shared_ptr<Store::Pending> queued;  // an earlier merge's write of this key, not yet committed
  };
  std::vector<MergeOutcome> outcomes;
  outcomes.reserve(records.size());

  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return draining_ == 0; });
  std::map<std::string, Slot> slots;
  for (const auto& rec : records) {
    if (rec.expired(now_ms)) {
      outcomes.push_back(MergeOutcome::kExpired);
      continue;
    }
    std::string skey = storage_key(rec.key, rec.sub);
    auto it = slots.find(skey);
    if (it == slots.end()) {
      Slot slot;
      if (auto p = pending_.find(skey); p != pending_.end()) {
        slot.stored = p->second.winner;
        slot.queued = p->second.ticket;
        it = slots.emplace(std::move(skey), std::move(slot)).first;
      }
    }
    if (it == slots.end()) {
      Slot slot;
      auto value = store_.get(skey);
      if (!value.ok()) return value.status();
      if (value->has_value()) {
        auto stored = decode_stored(skey, **value);
        if (!stored.ok()) return stored.status();
        slot.stored = std::move(stored).value();
      }
      it = slots.emplace(std::move(skey), std::move(slot)).first;
    }
    Slot& slot = it->second;
    const Record* current = slot.winner ? slot.winner : (slot.stored ? &*slot.stored : nullptr);
    const int c = current ? compare(rec, *current) : 1;
    if (c > 0 && guard && !guard(rec, current).ok()) {
      outcomes.push_back(MergeOutcome::kRejected);
    } else if (c > 0) {
      slot.winner = &rec;
      outcomes.push_back(MergeOutcome::kStored);
    } else {
      outcomes.push_back(c == 0 ? MergeOutcome::kUnchanged : MergeOutcome::kStale);
    }
  }

  WriteBatch batch;
  struct Change {
    Id id;
    std::optional<Hash128> old_leaf;
    Hash128 new_leaf;
  };
  std::vector<Change> changes;
  for (const auto& [skey, slot] : slots) {
    if (!slot.winner) continue;
    std::string value = encode_value(*slot.winner);
    Change ch{slot.winner->key, std::nullopt, leaf_of(skey, value)};
    if (slot.stored) ch.old_leaf = leaf_hash(*slot.stored);
    changes.push_back(ch);
    batch.put(skey, std::move(value));
  }
  // Outcomes decided against a queued write hold only once it commits.
  std::vector<std::pair<std::string, std::shared_ptr<Store::Pending>>> depends;
  for (const auto& [skey, slot] : slots)
    if (slot.queued && !slot.winner) depends.emplace_back(skey, slot.queued);
  std::shared_ptr<Store::Pending> ticket;
  const std::uint64_t seq = ++next_seq_;
  if (!batch.empty()) {
    // Queued under mu_, so batches commit in the order they were decided.
    ticket = store_.submit(std::move(batch));
    for (const auto& [skey, slot] : slots)
      if (slot.winner) pending_[skey] = PendingWrite{*slot.winner, ticket, seq};
    // The index counts the write now, in decision order (its removes must
    // follow their adds); should the write fail, index_stale_ recounts.
    for (const auto& ch : changes) {
      if (ch.old_leaf) index_.remove(ch.id, *ch.old_leaf);
      index_.add(ch.id, ch.new_leaf);
    }
  }
  if (!ticket && depends.empty()) return outcomes;

  ++in_flight_;
  lock.unlock();
  const Status own = ticket ? ticket->wait() : Status::Ok();
  Status st = own;
  for (const auto& [skey, dep] : depends) {
    if (!st.ok()) break;
    // Committed already (it was queued first); this only reads its Status.
    if (Status d = dep->wait(); !d.ok()) {
      auto item = parse_storage_key(skey);
      const std::string name = item.ok() ? to_hex(item->key) : "(storage key unreadable)";
      st = Status(d.code(), "record " + name + " was merged against an earlier write of it that failed (" +
                                d.message() + "); retrying is safe");
    }
  }
  lock.lock();
  if (ticket) {
    for (const auto& [skey, slot] : slots) {
      if (!slot.winner) continue;
      auto p = pending_.find(skey);
      if (p != pending_.end() && p->second.seq == seq) pending_.erase(p);
    }
    if (!own.ok()) index_stale_ = true;
  }
  if (--in_flight_ == 0) {
    if (index_stale_ && rebuild_locked().ok()) index_stale_ = false;
    idle_cv_.notify_all();
  }
  if (!st.ok()) return st;
  return outcomes;
}

Result<std::uint64_t> RecordStore::erase(std::span<const ItemKey> items) {
  // Reads the store itself, so no merge may have a write queued.
  std::unique_lock lock(mu_);
  drain(lock);
  std::map<std::string, std::pair<Id, Hash128>> found;
  for (const auto& item : items) {
    std::string skey = storage_key(item.key, item.sub);
    if (found.count(skey)) continue;
    auto value = store_.get(skey);
    if (!value.ok()) return value.status();
    if (!value->has_value()) continue;
    const Hash128 leaf = leaf_of(skey, **value);
    found.emplace(std::move(skey), std::make_pair(item.key, leaf));
  }
  if (found.empty()) return std::uint64_t{0};
  WriteBatch batch;
  for (const auto& entry : found) batch.del(entry.first);
  Status st = store_.apply(batch);
  if (!st.ok()) return st;
  for (const auto& entry : found) index_.remove(entry.second.first, entry.second.second);
  return static_cast<std::uint64_t>(found.size());
}

Result<std::uint64_t> RecordStore::erase_matching(Id a, Id b, std::uint64_t max,
                                                  const std::function<bool(const Record&)>& pred) {
  // Reads the store itself, so no merge may have a write queued.
  std::unique_lock lock(mu_);
  drain(lock);
  struct Victim {
    std::string skey;
    Id id;
    Hash128 leaf;
  };
  std::vector<Victim> victims;
  Status failure;
  for (const auto& [begin, end] : segments(a, b)) {
    if (victims.size() >= max) break;
    Status st = store_.scan(begin, end, [&](std::string_view k, std::string_view v) {
      auto rec = decode_stored(k, v);
      if (!rec.ok()) {
        failure = rec.status();
        return false;
      }
      if (pred(*rec)) victims.push_back({std::string(k), rec->key, leaf_of(k, v)});
      return victims.size() < max;
    });
    if (!st.ok()) return st;
    if (!failure.ok()) return failure;
  }
  if (victims.empty()) return std::uint64_t{0};
  WriteBatch batch;
  for (const auto& v : victims) batch.del(v.skey);
  Status st = store_.apply(batch);
  if (!st.ok()) return st;
  for (const auto& v : victims) index_.remove(v.id, v.leaf);
  return static_cast<std::uint64_t>(victims.size());
}

Result<std::uint64_t> RecordStore::erase_range(Id a, Id b, std::uint64_t max) {
  return erase_matching(a, b, max, [](const Record&) { return true; });
}

Result<std::uint64_t> RecordStore::purge_expired(std::int64_t now_ms, std::uint64_t max) {
  return erase_matching(0, 0, max, [now_ms](const Record& r) { return r.expired(now_ms); });
}

Status RecordStore::scan_range(Id a, Id b, const RecordFn& fn) {
  for (const auto& [begin, end] : segments(a, b)) {
    Status failure;
    bool stopped = false;
    Status st = store_.scan(begin, end, [&](std::string_view k, std::string_view v) {
      auto rec = decode_stored(k, v);
      if (!rec.ok()) {
        failure = rec.status();
        return false;
      }
      if (!fn(*rec)) stopped = true;
      return !stopped;
    });
    if (!st.ok()) return st;
    if (!failure.ok()) return failure;
    if (stopped) break;
  }
  return Status::Ok();
}

Status RecordStore::scan_key(Id key, std::string_view sub_from, const RecordFn& fn) {
  const std::string begin = storage_key(key, sub_from);
  const std::string end = key == UINT64_MAX ? std::string() : storage_prefix(key + 1);
  Status failure;
  Status st = store_.scan(begin, end, [&](std::string_view k, std::string_view v) {
    auto rec = decode_stored(k, v);
    if (!rec.ok()) {
      failure = rec.status();
      return false;
    }
    return fn(*rec);
  });
  if (!st.ok()) return st;
  return failure;
}

Status RecordStore::scan_bucket(Id a, Id b, int i, const RecordFn& fn) {
  if (i < 0 || i >= kDigestBuckets)
    return Status::InvalidArgument("bucket " + std::to_string(i) + "; buckets are 0 to 63");
  const Bucket bucket = bucket_bounds(a, b, i);
  if (bucket.empty()) return Status::Ok();
  return scan_range(bucket.lo, bucket.hi, fn);
}

Status RecordStore::scan_leaves(Id lo, Id hi, const LeafFn& fn) {
  for (const auto& [begin, end] : segments(lo, hi)) {
    Status st = store_.scan(begin, end, [&](std::string_view k, std::string_view v) {
      if (k.size() >= 8) fn(get_be64(k), leaf_of(k, v));
      return true;
    });
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Result<RangeSummary> RecordStore::range_summary(Id a, Id b) {
  std::lock_guard lock(mu_);
  return index_.summarize(a, b, [this](Id lo, Id hi, const LeafFn& fn) { return scan_leaves(lo, hi, fn); });
}

Result<RangeDigest> RecordStore::range_digest(Id a, Id b) {
  auto summary = range_summary(a, b);
  if (!summary.ok()) return summary.status();
  return digests_of(*summary);
}

Result<std::uint64_t> RecordStore::count_range(Id a, Id b) {
  auto summary = range_summary(a, b);
  if (!summary.ok()) return summary.status();
  std::uint64_t n = 0;
  for (const auto& s : *summary) n += s.count;
  return n;
}

std::uint64_t RecordStore::count() const {
  std::lock_guard lock(mu_);
  return index_.total();
}

}  // namespace dws::core
