#include "core/replication.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "core/id.hpp"

namespace dws::core {

namespace {

// Lookups and calls per put or get: a view that is stale for one lookup is
// usually right for the next, and merging the same record twice is harmless.
constexpr int kAttempts = 3;

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <typename... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string describe(const PeerInfo& p) { return p.address + " (" + to_hex(p.id) + ")"; }

std::string item_name(Id key, const std::string& sub) {
  return sub.empty() ? to_hex(key) : to_hex(key) + "/" + sub;
}

// What a record costs on the wire, near enough for a metric.
std::uint64_t wire_bytes(const Record& r) { return 24 + r.sub.size() + r.payload.size(); }

template <typename T>
Result<T> expect(Result<Response> r, const PeerInfo& peer, const char* what) {
  if (!r.ok()) return r.status();
  if (auto* v = std::get_if<T>(&r.value())) return std::move(*v);
  return Status::Internal(describe(peer) + " answered a " + what + " with another kind of message");
}

// Copies of a write: this node plus every replica that answered with Resp
// (a replica that answers holds the records or newer ones: merge never goes
// backwards), and the first failure, for the error message.
struct Copies {
  int copies = 1;
  std::string first_error;
};

template <typename Resp>
Copies count_copies(const std::vector<Result<Response>>& answers, const std::vector<PeerInfo>& peers,
                    const char* what) {
  Copies c;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    auto r = expect<Resp>(answers[i], peers[i], what);
    if (r.ok())
      ++c.copies;
    else if (c.first_error.empty())
      c.first_error = describe(peers[i]) + ": " + r.status().to_string();
  }
  return c;
}

// Position of an item in the order a sync of (a, b] walks: ring id from
// a + 1 around to b, then sub.
bool after_cursor(Id a, const Record& r, const ItemKey& cursor) {
  const Id ro = r.key - a - 1;
  const Id co = cursor.key - a - 1;
  if (ro != co) return ro > co;
  return r.sub > cursor.sub;
}

bool lies_in(Id a, Id b, Id key) { return in_half_open(a, key, b); }

struct LeafLess {
  bool operator()(const Hash128& x, const Hash128& y) const {
    return x.hi != y.hi ? x.hi < y.hi : x.lo < y.lo;
  }
};

}  // namespace

Replicator::Replicator(Ring& ring, RecordStore& records, Transport& transport, Clock& clock,
                       ReplicationOptions options)
    : ring_(ring), records_(records), transport_(transport), clock_(clock), opt_(options) {
  if (opt_.replicas < 1) opt_.replicas = 1;
  if (opt_.write_quorum < 1) opt_.write_quorum = 1;
  if (opt_.write_quorum > opt_.replicas) opt_.write_quorum = opt_.replicas;
  if (opt_.max_sync_records < 1) opt_.max_sync_records = 1;
  if (opt_.max_sync_passes < 1) opt_.max_sync_passes = 1;
}

Status Replicator::check_record(const Record& record) const {
  if (record.payload.size() > opt_.max_record_bytes)
    return Status::PayloadTooLarge("record " + item_name(record.key, record.sub) + " has a payload of " +
                                   std::to_string(record.payload.size()) + " bytes; the limit is " +
                                   std::to_string(opt_.max_record_bytes));
  return validate(record);
}

void Replicator::set_validator(RecordValidator* validator) { validator_ = validator; }

void Replicator::set_on_rejected(RejectFn fn) { on_rejected_ = std::move(fn); }

void Replicator::rejected(const Record& record, const Verdict& verdict, const std::string& source) {
  {
    std::lock_guard lock(mu_);
    ++metrics_.rejected[static_cast<std::size_t>(verdict.reason)];
  }
  if (on_rejected_) on_rejected_(record, verdict, source);
}

Verdict Replicator::admit(const Record& record, const std::string& source, bool cross) {
  Verdict v;
  if (Status st = check_record(record); !st.ok()) {
    v = Verdict{st, RejectReason::kMalformed};
  } else if (validator_) {
    v = validator_->check_alone(record, clock_.wall_ms());
    if (v.ok() && cross) v = cross_check(record);
  }
  if (!v.ok()) rejected(record, v, source);
  return v;
}

Verdict Replicator::cross_check(const Record& r) {
  if (!r.sub.empty()) return Verdict::Ok();
  const std::int64_t now = clock_.wall_ms();
  auto local = records_.get(r.key, "");
  // A copy here: check_replace decides against it at merge time.
  if (local.ok() && local->has_value() && !(*local)->expired(now)) return Verdict::Ok();
  const auto signer = user_record_signer(r);
  if (!signer) return Verdict::Ok();
  const PeerInfo self = ring_.self();
  auto primary = ring_.lookup(r.key);
  if (!primary.ok())
    return Verdict{Status::Unavailable("cannot cross-check the first copy of " + item_name(r.key, r.sub) +
                                       " here: no primary found (" + primary.status().message() + ")"),
                   RejectReason::kUnverifiable};
  // The primary decides, as it decides registrations; without its word,
  // any other holder's copy signed by another key, or newer, refuses it.
  PeerInfo node = primary->node;
  for (int i = 0; i < opt_.replicas; ++i) {
    if (node.id != self.id) {
      auto theirs = read_at(node, r.key, r.sub, true);
      if (theirs.ok() && theirs->has_value() && validator_->check_alone(**theirs, now).ok()) {
        const auto key = user_record_signer(**theirs);
        if (key && *key != *signer)
          return Verdict{Status::Forbidden("record " + item_name(r.key, r.sub) + " refused (wrong_key): " +
                                           describe(node) + " holds this user signed by another key"),
                         RejectReason::kWrongKey};
        if ((*theirs)->version > r.version)
          return Verdict{Status::Forbidden("record " + item_name(r.key, r.sub) + " refused (bad_version): " +
                                           describe(node) + " holds version " + std::to_string((*theirs)->version) +
                                           ", this is a replay of version " + std::to_string(r.version)),
                         RejectReason::kBadVersion};
        if (i == 0) return Verdict::Ok();
      }
    }
    if (i + 1 == opt_.replicas) break;
    auto next = ring_.lookup(node.id + 1);
    if (!next.ok() || next->node.id == primary->node.id) break;
    node = next->node;
  }
  return Verdict::Ok();
}

std::vector<Record> Replicator::admitted(std::vector<Record> in, const std::string& source, bool cross) {
  std::vector<Record> out;
  out.reserve(in.size());
  for (auto& r : in)
    if (admit(r, source, cross).ok()) out.push_back(std::move(r));
  return out;
}

Result<std::vector<MergeOutcome>> Replicator::merge_checked(std::span<const Record> records,
                                                            const std::string& source, std::vector<Verdict>* refused) {
  const std::int64_t now = clock_.wall_ms();
  std::vector<std::pair<const Record*, Verdict>> bad;
  MergeGuard guard;
  if (validator_)
    guard = [&](const Record& in, const Record* current) {
      Verdict v = validator_->check_replace(in, current, now);
      if (!v.ok()) bad.emplace_back(&in, v);
      return v.status;
    };
  auto out = records_.merge(records, now, guard);
  // Reported after the merge: the guard runs under the store's lock.
  for (const auto& [r, v] : bad) {
    rejected(*r, v, source);
    if (refused) refused->push_back(v);
  }
  return out;
}

std::vector<PeerInfo> replica_set(const PeerInfo& primary, const std::vector<PeerInfo>& successors, int replicas) {
  std::vector<PeerInfo> out;
  const std::size_t want = replicas > 1 ? static_cast<std::size_t>(replicas - 1) : 0;
  std::vector<std::string_view> hosts{host_of(primary.address)};
  for (const PeerInfo& p : successors) {
    if (out.size() >= want) break;
    const std::string_view host = host_of(p.address);
    if (std::find(hosts.begin(), hosts.end(), host) != hosts.end()) continue;
    hosts.push_back(host);
    out.push_back(p);
  }
  return out;
}

std::vector<PeerInfo> Replicator::replica_peers() const {
  return replica_set(ring_.self(), ring_.successors(), opt_.replicas);
}

std::vector<PeerInfo> Replicator::walk_replicas(const PeerInfo& primary, int count) {
  // Enough for a machine's run of positions: a replica set is found within
  // a few successors on any ring of more than two machines.
  constexpr int kMaxReplicaWalk = 64;
  std::vector<PeerInfo> after;
  if (count <= 0) return after;
  Id at = primary.id;
  for (int step = 0; step < kMaxReplicaWalk; ++step) {
    auto next = ring_.lookup(at + 1);
    if (!next.ok() || next->node.id == primary.id) break;
    at = next->node.id;
    after.push_back(next->node);
    if (replica_set(primary, after, count + 1).size() >= static_cast<std::size_t>(count)) break;
  }
  return replica_set(primary, after, count + 1);
}

// --- Writes -------------------------------------------------------------------

Result<StorePutResp> Replicator::put(const Record& record, const PutCondition& condition) {
  Status st = check_record(record);
  if (!st.ok()) return st;
  const std::int64_t now = clock_.wall_ms();
  if (record.expired(now))
    return Status::InvalidArgument("record " + item_name(record.key, record.sub) + " expired at " +
                                   std::to_string(record.expires_at) + " (now " + std::to_string(now) +
                                   "): set expires_at in the future, or 0 for never");
  Status last = Status::Unavailable("no primary found for " + to_hex(record.key));
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto primary = ring_.lookup(record.key);
    if (!primary.ok()) {
      last = primary.status();
      continue;
    }
    const bool here = primary->node.id == ring_.self().id;
    auto r = here ? put_as_primary(record, condition, "this node") : put_at(primary->node, record, condition);
    if (r.ok()) return r;
    last = r.status();
    if (last.code() != Code::kNotResponsible && last.code() != Code::kUnavailable) return last;
    if (here || last.code() != Code::kUnavailable) continue;
    // The primary does not answer (or not with W copies): write through the
    // node after it, which holds a replica and takes the primary's role for
    // this write once it cannot reach the primary either. A live primary
    // keeps its role: the holder refuses.
    auto next = ring_.lookup(primary->node.id + 1);
    if (!next.ok() || next->node.id == primary->node.id) continue;
    auto t = next->node.id == ring_.self().id ? put_as_primary(record, condition, "this node", primary->node.id)
                                              : put_at(next->node, record, condition, primary->node.id);
    if (t.ok()) return t;
    if (t.status().code() != Code::kNotResponsible && t.status().code() != Code::kUnavailable) return t.status();
  }
  return last;
}

Result<StorePutResp> Replicator::put_at(const PeerInfo& node, const Record& record, const PutCondition& condition,
                                        std::optional<Id> takeover) {
  StorePutReq req{record, false, false, condition};
  req.takeover = takeover;
  return expect<StorePutResp>(transport_.call(node.address, Request{std::move(req)}, opt_.deadline), node, "put");
}

Status Replicator::check_condition(const Record& record, const PutCondition& c, std::int64_t now) {
  auto stored = records_.get(record.key, record.sub);
  if (!stored.ok()) return stored.status();
  const bool present = stored->has_value() && !(*stored)->expired(now);
  if (c.if_absent && present && **stored != record) {
    const Record& s = **stored;
    if (s.tombstone)
      return Status::Exists("item " + item_name(record.key, record.sub) + " was deleted recently; it can be " +
                            "created again once its tombstone expires at " + std::to_string(s.expires_at) +
                            " (unix ms)");
    return Status::Exists("item " + item_name(record.key, record.sub) + " exists (version " +
                          std::to_string(s.version) + ")");
  }
  if (c.if_absent && stored->has_value() && !present) {
    // An expired tombstone would still win the merge by its version: the
    // item is gone, so make room for the new one.
    const ItemKey item{record.key, record.sub};
    if (auto erased = records_.erase(std::span<const ItemKey>(&item, 1)); !erased.ok()) return erased.status();
  }
  if (c.max_items > 0 && !present) {
    std::uint32_t live = 0;
    Status st = records_.scan_key(record.key, c.quota_prefix, [&](const Record& r) {
      if (r.sub.compare(0, c.quota_prefix.size(), c.quota_prefix) != 0) return false;
      if (!r.tombstone && !r.expired(now)) ++live;
      return live < c.max_items;
    });
    if (!st.ok()) return st;
    if (live >= c.max_items)
      return Status::RateLimited("key " + to_hex(record.key) + " holds " + std::to_string(live) +
                                 " live items under '" + c.quota_prefix + "', its quota; remove some first");
  }
  return Status::Ok();
}

void Replicator::set_on_stored(std::function<void(const Record&)> fn) { on_stored_ = std::move(fn); }

void Replicator::notify_stored(const Record& record, MergeOutcome outcome) {
  if (outcome == MergeOutcome::kStored && on_stored_) on_stored_(record);
}

void Replicator::notify_stored(std::span<const Record> records, const std::vector<MergeOutcome>& outcomes) {
  if (!on_stored_) return;
  for (std::size_t i = 0; i < records.size() && i < outcomes.size(); ++i) notify_stored(records[i], outcomes[i]);
}

Result<StorePutResp> Replicator::put_as_primary(const Record& record, const PutCondition& condition,
                                                const std::string& source, std::optional<Id> takeover) {
  if (!ring_.responsible_for(record.key) && !(takeover && ring_.may_take_over(record.key, *takeover)))
    return Status::NotResponsible("node " + describe(ring_.self()) + " is not the primary of key " +
                                  to_hex(record.key) + ": look it up again");
  const std::int64_t now = clock_.wall_ms();
  if (record.expired(now))
    return Status::InvalidArgument("record " + item_name(record.key, record.sub) + " expired at " +
                                   std::to_string(record.expires_at) + " before it reached its primary (now " +
                                   std::to_string(now) + ")");
  // A user record new to this primary (a registration, or a copy it lacks)
  // is cross-checked too: registrations are decided here, and the replicas
  // that may already hold the user must agree on its key.
  if (Verdict v = admit(record, source, record.sub.empty()); !v.ok()) return v.status;
  Result<std::vector<MergeOutcome>> merged = std::vector<MergeOutcome>{};
  std::vector<Verdict> refused;
  if (condition.active()) {
    std::lock_guard lock(cond_mu_);
    if (Status st = check_condition(record, condition, now); !st.ok()) return st;
    merged = merge_checked(std::span<const Record>(&record, 1), source, &refused);
  } else {
    merged = merge_checked(std::span<const Record>(&record, 1), source, &refused);
  }
  if (!merged.ok()) return merged.status();
  if (!refused.empty()) return refused.front().status;
  notify_stored(record, merged->front());
  auto stored = records_.get(record.key, record.sub);
  if (!stored.ok()) return stored.status();
  const std::uint64_t version = stored->has_value() ? (*stored)->version : record.version;

  const std::vector<PeerInfo> peers = replica_peers();
  std::vector<Transport::Call> calls;
  calls.reserve(peers.size());
  for (const auto& p : peers) calls.push_back({p.address, Request{StorePutReq{record, true}}});
  const auto answers = calls.empty() ? std::vector<Result<Response>>{} : transport_.call_all(calls, opt_.deadline);

  const Copies c = count_copies<StorePutResp>(answers, peers, "replica put");
  if (Status st = settle_quorum(c.copies, peers.size(), 1, "record " + item_name(record.key, record.sub),
                                c.first_error);
      !st.ok())
    return st;
  return StorePutResp{c.copies, version};
}

Status Replicator::settle_quorum(int copies, std::size_t replicas, std::uint64_t writes, const std::string& what,
                                 const std::string& first_error) {
  const int n = 1 + static_cast<int>(replicas);
  const int w = std::min(opt_.write_quorum, n);
  {
    std::lock_guard lock(mu_);
    metrics_.puts += writes;
    if (copies < w) ++metrics_.quorum_failures;
  }
  if (copies >= w) return Status::Ok();
  return Status::Unavailable(what + " stored on " + std::to_string(copies) + " of " + std::to_string(n) +
                             " copies, W = " + std::to_string(w) + " (" + first_error +
                             "); retrying the same write is safe");
}

Result<StorePutResp> Replicator::put_batch(std::span<const Record> records) {
  if (records.empty()) return StorePutResp{};
  const Id key = records.front().key;
  for (const Record& r : records) {
    if (r.key != key)
      return Status::InvalidArgument("put_batch takes records of one ring key: " + to_hex(key) + " and " +
                                     to_hex(r.key) + " differ");
    if (Status st = check_record(r); !st.ok()) return st;
  }
  const std::optional<PeerInfo> pred = ring_.predecessor();
  std::uint64_t bytes = 0;
  for (const Record& r : records) bytes += wire_bytes(r);
  // The replica copy travels as one sync push, so it must fit one.
  const bool fast = pred && ring_.responsible_for(key) && records.size() <= opt_.max_sync_records &&
                    bytes <= opt_.max_sync_bytes;
  if (!fast) {
    StorePutResp last;
    for (const Record& r : records) {
      auto put_one = put(r);
      if (!put_one.ok()) return put_one.status();
      last = *put_one;
    }
    return last;
  }

  for (const Record& r : records)
    if (Verdict v = admit(r, "this node"); !v.ok()) return v.status;
  Result<std::vector<MergeOutcome>> merged = std::vector<MergeOutcome>{};
  std::vector<Verdict> refused;
  {
    // Conditional puts check and merge under cond_mu_; a batch must not
    // slip between a check and its merge.
    std::lock_guard lock(cond_mu_);
    merged = merge_checked(records, "this node", &refused);
  }
  if (!merged.ok()) return merged.status();
  if (!refused.empty()) return refused.front().status;
  for (std::size_t i = 0; i < records.size(); ++i) notify_stored(records[i], (*merged)[i]);

  const PeerInfo self = ring_.self();
  const Id a = pred->id;
  const int bucket = bucket_of(a, self.id, key);
  const std::vector<PeerInfo> peers = replica_peers();
  std::vector<Transport::Call> calls;
  calls.reserve(peers.size());
  for (const auto& p : peers) {
    StoreSyncReq push;
    push.phase = StoreSyncReq::Phase::kPush;
    push.from = self;
    push.a = a;
    push.b = self.id;
    push.buckets = {bucket};
    push.records.assign(records.begin(), records.end());
    calls.push_back({p.address, Request{std::move(push)}});
  }
  const auto answers = calls.empty() ? std::vector<Result<Response>>{} : transport_.call_all(calls, opt_.deadline);
  const Copies c = count_copies<StoreSyncResp>(answers, peers, "replica batch");
  if (Status st = settle_quorum(c.copies, peers.size(), records.size(),
                                std::to_string(records.size()) + " records of key " + to_hex(key), c.first_error);
      !st.ok())
    return st;
  return StorePutResp{c.copies, records.back().version};
}

Result<StorePutResp> Replicator::put_as_replica(const Record& record, const std::string& source) {
  if (Verdict v = admit(record, source, true); !v.ok()) return v.status;
  std::vector<Verdict> refused;
  auto merged = merge_checked(std::span<const Record>(&record, 1), source, &refused);
  if (!merged.ok()) return merged.status();
  if (!refused.empty()) return refused.front().status;
  notify_stored(record, merged->front());
  auto stored = records_.get(record.key, record.sub);
  if (!stored.ok()) return stored.status();
  return StorePutResp{1, stored->has_value() ? (*stored)->version : 0};
}

// --- Reads --------------------------------------------------------------------

Result<std::optional<Record>> Replicator::read_local(Id key, const std::string& sub, bool local) {
  if (!local && !ring_.responsible_for(key))
    return Status::NotResponsible("node " + describe(ring_.self()) + " is not the primary of key " + to_hex(key) +
                                  ": look it up again");
  auto r = records_.get(key, sub);
  if (!r.ok()) return r.status();
  if (r->has_value() && (*r)->expired(clock_.wall_ms())) return std::optional<Record>();
  return r;
}

Result<std::optional<Record>> Replicator::read_at(const PeerInfo& node, Id key, const std::string& sub, bool local) {
  if (node.id == ring_.self().id) return read_local(key, sub, local);
  auto r = expect<StoreGetResp>(transport_.call(node.address, Request{StoreGetReq{key, sub, local}}, opt_.deadline),
                                node, "get");
  if (!r.ok()) return r.status();
  if (r->record && r->record->expired(clock_.wall_ms())) return std::optional<Record>();
  return std::move(r->record);
}

Result<std::optional<Record>> Replicator::get(Id key, const std::string& sub) {
  if (sub.size() > kMaxSubSize)
    return Status::InvalidArgument("sub is " + std::to_string(sub.size()) + " bytes; at most " +
                                   std::to_string(kMaxSubSize));
  Status last = Status::Unavailable("no primary found for " + to_hex(key));
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto primary = ring_.lookup(key);
    if (!primary.ok()) {
      last = primary.status();
      continue;
    }
    auto r = read_at(primary->node, key, sub, false);
    // A primary without a user record may be one that took over a range
    // whose copies it has not received yet: "no such user" is said only
    // when the replicas agree (what a sender's check and a login rest on).
    const bool ask_replicas_too = r.ok() && !r->has_value() && sub.empty();
    if (r.ok() && !ask_replicas_too && answer_passes(*r, primary->node)) return r;
    if (ask_replicas_too) {
      // (the primary's empty answer stands unless a replica has the record)
    } else if (r.ok()) {
      last = Status::Unavailable("the primary of " + to_hex(key) + " answered a record that fails the checks");
    } else {
      last = r.status();
      if (last.code() == Code::kNotResponsible) continue;
      if (last.code() != Code::kUnavailable) return last;
    }

    // The primary does not answer, answers a forgery, or has no user
    // record (above): ask the nodes
    // after it, which hold the replicas (and the first of which takes over
    // if the primary is gone), and return the newest good copy any has.
    std::optional<Record> best;
    bool answered = false;
    // (at least one: after a leave, the node after the primary took its range)
    for (const PeerInfo& holder : walk_replicas(primary->node, std::max(1, opt_.replicas - 1))) {
      auto c = read_at(holder, key, sub, true);
      if (!c.ok() || !answer_passes(*c, holder)) continue;
      answered = true;
      if (c->has_value()) best = best ? merge(*best, **c) : **c;
    }
    if (answered || ask_replicas_too) return best;
  }
  return last;
}

bool Replicator::answer_passes(const std::optional<Record>& answer, const PeerInfo& from) {
  if (!validator_ || !answer) return true;
  const std::int64_t now = clock_.wall_ms();
  if (answer->expired(now)) return true;
  const Verdict v = validator_->check_alone(*answer, now);
  // A key that cannot be fetched now is no proof of forgery.
  if (v.ok() || v.reason == RejectReason::kUnverifiable) return true;
  rejected(*answer, v, "the read answer of " + describe(from));
  return false;
}

Result<StoreScanResp> Replicator::scan_local(const StoreScanReq& req) {
  if (!req.local && !ring_.responsible_for(req.key))
    return Status::NotResponsible("node " + describe(ring_.self()) + " is not the primary of key " +
                                  to_hex(req.key) + ": look it up again");
  if (req.prefix.size() > kMaxSubSize || req.after.size() > kMaxSubSize)
    return Status::InvalidArgument("scan prefix and after must have at most " + std::to_string(kMaxSubSize) +
                                   " bytes");
  const std::uint32_t limit = std::clamp<std::uint32_t>(req.limit, 1, kMaxScanLimit);
  const std::int64_t now = clock_.wall_ms();
  const std::string& from = req.after > req.prefix ? req.after : req.prefix;
  StoreScanResp resp;
  std::size_t bytes = 0;
  Status st = records_.scan_key(req.key, from, [&](const Record& r) {
    if (r.sub.compare(0, req.prefix.size(), req.prefix) != 0) return false;
    if (!req.after.empty() && r.sub <= req.after) return true;
    if (r.tombstone || r.expired(now)) return true;
    if (resp.records.size() >= limit || (!resp.records.empty() && bytes + wire_bytes(r) > opt_.max_sync_bytes)) {
      resp.more = true;
      return false;
    }
    bytes += wire_bytes(r);
    resp.records.push_back(r);
    return true;
  });
  if (!st.ok()) return st;
  return resp;
}

Result<StoreScanResp> Replicator::scan(Id key, const std::string& prefix, const std::string& after,
                                       std::uint32_t limit) {
  Status last = Status::Unavailable("no primary found for " + to_hex(key));
  auto at = [&](const PeerInfo& node, bool local) -> Result<StoreScanResp> {
    StoreScanReq req{key, prefix, after, limit, local};
    if (node.id == ring_.self().id) return scan_local(req);
    return expect<StoreScanResp>(transport_.call(node.address, Request{std::move(req)}, opt_.deadline), node,
                                 "scan");
  };
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto primary = ring_.lookup(key);
    if (!primary.ok()) {
      last = primary.status();
      continue;
    }
    auto r = at(primary->node, false);
    if (r.ok()) return r;
    last = r.status();
    if (last.code() == Code::kNotResponsible) continue;
    if (last.code() != Code::kUnavailable) return last;
    Id after_id = primary->node.id;
    for (int i = 0; i < std::max(1, opt_.replicas - 1); ++i) {
      auto next = ring_.lookup(after_id + 1);
      if (!next.ok() || next->node.id == primary->node.id) break;
      after_id = next->node.id;
      auto c = at(next->node, true);
      if (c.ok()) return c;
    }
  }
  return last;
}

// --- Handlers -----------------------------------------------------------------

Result<Response> Replicator::handle(const Request& request, const std::string& source) {
  if (!ring_.joined()) return Status::Unavailable("node " + describe(ring_.self()) + " is not in a ring");
  return std::visit(
      Overloaded{
          [&](const StorePutReq& r) -> Result<Response> {
            auto out = r.replica ? put_as_replica(r.record, source)
                                 : put_as_primary(r.record, r.condition, source, r.takeover);
            if (!out.ok()) return out.status();
            return Response{*out};
          },
          [&](const StoreGetReq& r) -> Result<Response> {
            if (r.sub.size() > kMaxSubSize)
              return Status::InvalidArgument("sub is " + std::to_string(r.sub.size()) + " bytes; at most " +
                                             std::to_string(kMaxSubSize));
            auto out = read_local(r.key, r.sub, r.local);
            if (!out.ok()) return out.status();
            return Response{StoreGetResp{std::move(out).value()}};
          },
          [&](const StoreScanReq& r) -> Result<Response> {
            auto out = scan_local(r);
            if (!out.ok()) return out.status();
            return Response{std::move(out).value()};
          },
          [&](const StoreSyncReq& r) -> Result<Response> {
            auto out = handle_sync(r, source);
            if (!out.ok()) return out.status();
            return Response{std::move(out).value()};
          },
          [&](const auto&) -> Result<Response> {
            return Status::InvalidArgument("the store does not handle this request");
          },
      },
      request);
}

Result<StoreSyncResp> Replicator::handle_sync(const StoreSyncReq& req, const std::string& source) {
  const std::string range = "(" + to_hex(req.a) + ", " + to_hex(req.b) + "]";
  if (req.b != req.from.id)
    return Status::InvalidArgument("sync of " + range + " from " + describe(req.from) +
                                   ": a node syncs only the range it is primary for, which ends at its own id");
  if (req.a == req.b)
    return Status::InvalidArgument("sync of the whole ring from " + describe(req.from) +
                                   ": a node alone has no replicas to sync with");
  if (req.from.id == ring_.self().id)
    return Status::InvalidArgument("sync from " + describe(req.from) + " to itself");
  // A primary's range never holds its own successors: a claim that covers
  // this node would make it keep (and count as held) what is not its to keep.
  if (in_half_open(req.a, ring_.self().id, req.b))
    return Status::InvalidArgument("sync of " + range + " from " + describe(req.from) + " claims a range holding " +
                                   describe(ring_.self()) + ", one of its successors; nothing was applied");

  StoreSyncResp resp;
  const std::int64_t now = clock_.wall_ms();
  if (req.phase == StoreSyncReq::Phase::kPush) {
    if (req.records.size() > opt_.max_sync_records)
      return Status::PayloadTooLarge("sync push of " + std::to_string(req.records.size()) +
                                     " records; the limit is " + std::to_string(opt_.max_sync_records));
    for (int i : req.buckets)
      if (i < 0 || i >= kDigestBuckets)
        return Status::InvalidArgument("sync push names bucket " + std::to_string(i) + "; buckets are 0 to 63");
    for (std::size_t i = 0; i < req.records.size(); ++i) {
      const Record& r = req.records[i];
      if (!lies_in(req.a, req.b, r.key))
        return Status::InvalidArgument("sync push record " + std::to_string(i) + ", key " + to_hex(r.key) +
                                       ", lies outside the synced range " + range + "; nothing was applied");
      Status st = check_record(r);
      if (!st.ok())
        return Status(st.code(), "sync push record " + std::to_string(i) + ": " + st.message() +
                                     "; nothing was applied");
    }
  }

  {
    std::lock_guard lock(mu_);
    held_[req.b] = HeldRange{req.a, req.b, clock_.monotonic_ms() + opt_.held_range_ttl_ms};
  }

  if (req.phase == StoreSyncReq::Phase::kPush) {
    // One forged record must not stop the rest: it is dropped and counted.
    std::vector<Record> good;
    if (validator_) {
      good = admitted(req.records, source.empty() ? describe(req.from) : source, true);
    }
    const std::vector<Record>& in = validator_ ? good : req.records;
    auto outcomes = merge_checked(in, source.empty() ? describe(req.from) : source);
    if (!outcomes.ok()) return outcomes.status();
    for (auto o : *outcomes) resp.merged += o == MergeOutcome::kStored;
    notify_stored(in, *outcomes);
    return resp;
  }

  auto mine = records_.range_digest(req.a, req.b);
  if (!mine.ok()) return mine.status();
  resp.differing = differing_buckets(req.digests, *mine);
  Status failure;
  std::size_t bytes = 0;
  for (int i : resp.differing) {
    Status st = records_.scan_bucket(req.a, req.b, i, [&](const Record& r) {
      if (r.expired(now)) return true;
      if (req.after && !after_cursor(req.a, r, *req.after)) return true;
      if (resp.records.size() >= opt_.max_sync_records ||
          (!resp.records.empty() && bytes + wire_bytes(r) > opt_.max_sync_bytes)) {
        resp.more = true;
        return false;
      }
      bytes += wire_bytes(r);
      resp.records.push_back(r);
      return true;
    });
    if (!st.ok()) return st;
    if (resp.more) break;
  }
  return resp;
}

// --- Anti-entropy ---------------------------------------------------------------

Result<std::uint64_t> Replicator::push(const PeerInfo& self, Id a, Id b, const PeerInfo& peer,
                                       const std::vector<int>& buckets, const std::vector<Record>& records) {
  std::uint64_t merged = 0;
  for (std::size_t at = 0; at < records.size();) {
    StoreSyncReq req;
    req.phase = StoreSyncReq::Phase::kPush;
    req.from = self;
    req.a = a;
    req.b = b;
    req.buckets = buckets;
    // A batch ends at the record or the byte limit, whichever comes first,
    // and always carries at least one record.
    std::size_t end = at;
    std::uint64_t bytes = 0;
    while (end < records.size() && end - at < opt_.max_sync_records &&
           (end == at || bytes + wire_bytes(records[end]) <= opt_.max_sync_bytes)) {
      bytes += wire_bytes(records[end]);
      ++end;
    }
    req.records.assign(records.begin() + static_cast<std::ptrdiff_t>(at),
                       records.begin() + static_cast<std::ptrdiff_t>(end));
    at = end;
    auto resp = expect<StoreSyncResp>(transport_.call(peer.address, Request{std::move(req)}, opt_.deadline), peer,
                                      "sync push");
    if (!resp.ok()) return resp.status();
    merged += resp->merged;
    std::lock_guard lock(mu_);
    metrics_.sync_bytes_moved += bytes;
  }
  return merged;
}

bool Replicator::sync_with(const PeerInfo& self, Id a, Id b, const PeerInfo& peer) {
  std::optional<ItemKey> after;
  const std::int64_t now = clock_.wall_ms();
  for (int pass = 0; pass < opt_.max_sync_passes; ++pass) {
    auto digest = records_.range_digest(a, b);
    if (!digest.ok()) return false;
    StoreSyncReq req;
    req.phase = StoreSyncReq::Phase::kCompare;
    req.from = self;
    req.a = a;
    req.b = b;
    req.digests = *digest;
    req.after = after;
    auto resp = expect<StoreSyncResp>(transport_.call(peer.address, Request{std::move(req)}, opt_.deadline), peer,
                                      "sync compare");
    if (!resp.ok()) return false;
    if (resp->differing.empty()) return true;
    std::optional<ItemKey> cursor;
    if (resp->more && !resp->records.empty())
      cursor = ItemKey{resp->records.back().key, resp->records.back().sub};

    // Theirs, into our copy. A peer answering outside the range or with a
    // bad record is ignored for that record: the range is ours to guard.
    std::vector<Record> theirs;
    std::set<Hash128, LeafLess> identical;
    std::uint64_t bytes = 0;
    for (auto& r : resp->records) {
      bytes += wire_bytes(r);
      if (!lies_in(a, b, r.key)) continue;
      if (!admit(r, describe(peer), true).ok()) continue;
      identical.insert(leaf_hash(r));
      theirs.push_back(std::move(r));
    }
    std::uint64_t moved = 0;
    if (!theirs.empty()) {
      auto outcomes = merge_checked(theirs, describe(peer));
      if (!outcomes.ok()) return false;
      for (auto o : *outcomes) moved += o == MergeOutcome::kStored;
      notify_stored(theirs, *outcomes);
    }

    // Ours, into theirs: everything in the differing buckets that they did
    // not just show us identical. Earlier passes already pushed what lies
    // before the cursor.
    std::vector<Record> ours;
    for (int i : resp->differing) {
      Status st = records_.scan_bucket(a, b, i, [&](const Record& r) {
        if (r.expired(now)) return true;
        if (after && !after_cursor(a, r, *after)) return true;
        if (identical.count(leaf_hash(r)) == 0) ours.push_back(r);
        return true;
      });
      if (!st.ok()) return false;
    }
    auto pushed = push(self, a, b, peer, resp->differing, ours);
    {
      std::lock_guard lock(mu_);
      metrics_.sync_records_moved += moved + (pushed.ok() ? *pushed : 0);
      metrics_.sync_bytes_moved += bytes;
    }
    if (!pushed.ok()) return false;
    if (!cursor) return true;
    after = std::move(cursor);
  }
  return true;
}

bool Replicator::held(Id key, std::int64_t now_ms) const {
  std::lock_guard lock(mu_);
  for (const auto& [b, h] : held_)
    if (h.until_ms > now_ms && lies_in(h.a, h.b, key)) return true;
  return false;
}

void Replicator::collect_garbage(const PeerInfo& self, Id pred) {
  const std::int64_t now_mono = clock_.monotonic_ms();
  const std::int64_t now = clock_.wall_ms();
  // Candidates: everything outside (pred, self] that no primary synced to us
  // recently, in ring order from self + 1.
  std::vector<Record> candidates;
  Status st = records_.scan_range(self.id, pred, [&](const Record& r) {
    if (r.expired(now) || held(r.key, now_mono)) return true;
    candidates.push_back(r);
    return candidates.size() < opt_.gc_batch;
  });
  if (!st.ok() || candidates.empty()) return;

  // successor(k) is the same node for every k from a looked-up key up to the
  // node found, so one lookup serves a run of candidates.
  std::optional<std::pair<Id, PeerInfo>> span;
  std::map<Id, bool> holds_us;  // by primary: whether its replicas include this node
  std::vector<ItemKey> erase;
  std::uint64_t handed = 0;
  std::uint64_t unconfirmed = 0;
  for (const auto& r : candidates) {
    if (!span || distance(span->first, r.key) > distance(span->first, span->second.id)) {
      auto found = ring_.lookup(r.key);
      if (!found.ok()) {
        span.reset();
        continue;
      }
      span.emplace(r.key, found->node);
    }
    const PeerInfo& primary = span->second;
    // Our view and the lookup disagree about who is primary: keep the data
    // until the ring settles.
    if (primary.id == self.id) continue;
    auto known = holds_us.find(primary.id);
    if (known == holds_us.end()) {
      auto state = expect<StateResp>(transport_.call(primary.address, Request{StateReq{false}}, opt_.deadline),
                                     primary, "state request");
      bool ours = true;  // in doubt, keep
      if (state.ok()) {
        ours = false;
        for (const PeerInfo& p : replica_set(primary, state->view.successors, opt_.replicas))
          if (p.id == self.id) ours = true;
      }
      known = holds_us.emplace(primary.id, ours).first;
    }
    if (known->second) continue;
    // Hand it to the primary, which merges and replicates; but erase ours
    // only once every holder, asked directly, shows its copy: neither the
    // primary's answer nor its state is enough on its own.
    auto acked = put_at(primary, r, {});
    if (!acked.ok()) continue;
    ++handed;
    if (!confirmed_elsewhere(self, r)) {
      ++unconfirmed;
      continue;
    }
    erase.push_back(ItemKey{r.key, r.sub});
  }
  auto erased = records_.erase(erase);
  std::lock_guard lock(mu_);
  metrics_.handed_off += handed;
  metrics_.gc_unconfirmed += unconfirmed;
  if (erased.ok()) metrics_.gc_erased += *erased;
}

bool Replicator::confirmed_elsewhere(const PeerInfo& self, const Record& r) {
  auto primary = ring_.lookup(r.key);
  if (!primary.ok()) return false;
  std::vector<PeerInfo> holders{primary->node};
  for (PeerInfo& p : walk_replicas(primary->node, opt_.replicas - 1)) holders.push_back(std::move(p));
  for (const PeerInfo& node : holders) {
    // A holder by our own view: the copy is ours to keep.
    if (node.id == self.id) return false;
    auto theirs = read_at(node, r.key, r.sub, true);
    if (!theirs.ok() || !theirs->has_value() || (*theirs)->version < r.version) return false;
  }
  return true;
}

void Replicator::audit_batch() {
  if (!validator_ || audit_done_) return;
  const std::int64_t now = clock_.wall_ms();
  // (a, max]: from the cursor's key to the end of the ring, or all of it.
  const Id a = audit_cursor_ && audit_cursor_->key != 0 ? audit_cursor_->key - 1 : UINT64_MAX;
  std::vector<Record> batch;
  bool cut = false;
  Status st = records_.scan_range(a, UINT64_MAX, [&](const Record& r) {
    if (audit_cursor_ && (r.key < audit_cursor_->key || (r.key == audit_cursor_->key && r.sub <= audit_cursor_->sub)))
      return true;
    if (batch.size() >= opt_.gc_batch) {
      cut = true;
      return false;
    }
    batch.push_back(r);
    return true;
  });
  if (!st.ok()) return;
  std::vector<ItemKey> bad;
  for (const Record& r : batch) {
    if (r.expired(now)) continue;
    Verdict v = validator_->check_alone(r, now);
    // A key that cannot be fetched now is no proof of forgery: keep it.
    if (v.ok() || v.reason == RejectReason::kUnverifiable) continue;
    rejected(r, v, "this node's store");
    bad.push_back(ItemKey{r.key, r.sub});
  }
  if (!bad.empty()) (void)records_.erase(bad);
  std::lock_guard lock(mu_);
  metrics_.audited += batch.size();
  if (cut && !batch.empty()) {
    audit_cursor_ = ItemKey{batch.back().key, batch.back().sub};
  } else {
    audit_done_ = true;
  }
}

void Replicator::sync_round() {
  if (!ring_.joined()) return;
  const PeerInfo self = ring_.self();
  const auto pred = ring_.predecessor();
  const auto peers = replica_peers();
  const bool alone = ring_.successors().empty();
  std::uint64_t failures = 0;
  // Alone, everything is ours and there is nobody to sync with; with no
  // predecessor the range is unknown, and when in doubt data is kept.
  if (pred && !alone) {
    for (const auto& p : peers) failures += !sync_with(self, pred->id, self.id, p);
    collect_garbage(self, pred->id);
  }
  auto purged = records_.purge_expired(clock_.wall_ms(), opt_.gc_batch);
  audit_batch();

  std::lock_guard lock(mu_);
  ++metrics_.sync_rounds;
  metrics_.sync_failures += failures;
  if (purged.ok()) metrics_.expired_purged += *purged;
  const std::int64_t now_mono = clock_.monotonic_ms();
  for (auto it = held_.begin(); it != held_.end();) it = it->second.until_ms <= now_mono ? held_.erase(it) : ++it;
}

Status Replicator::hand_off() {
  if (!ring_.joined()) return Status::Ok();
  const PeerInfo self = ring_.self();
  const auto successors = ring_.successors();
  // The node's other positions leave with it: the range goes to another machine.
  std::vector<PeerInfo> peers;
  for (const PeerInfo& p : successors)
    if (host_of(p.address) != host_of(self.address)) peers.push_back(p);
  if (peers.empty()) return Status::Ok();  // alone: nobody to hand to
  // Without a predecessor the range is unknown: hand over everything but
  // what already belongs to the successor.
  const auto pred = ring_.predecessor();
  const Id a = pred ? pred->id : successors.front().id;
  const Id b = self.id;
  std::vector<int> all(kDigestBuckets);
  for (int i = 0; i < kDigestBuckets; ++i) all[static_cast<std::size_t>(i)] = i;

  // Batch by batch, resuming after the last item sent, so no transport call
  // happens inside a store scan.
  const std::int64_t now = clock_.wall_ms();
  std::optional<ItemKey> cursor;
  std::size_t next_peer = 0;
  std::string last_error;
  while (true) {
    std::vector<Record> batch;
    std::size_t batch_bytes = 0;
    bool cut = false;
    const Id from = cursor ? cursor->key - 1 : a;
    Status st = records_.scan_range(from, b, [&](const Record& r) {
      if (cursor && !after_cursor(a, r, *cursor)) return true;
      if (r.expired(now)) return true;
      if (batch.size() >= opt_.max_sync_records ||
          (!batch.empty() && batch_bytes + wire_bytes(r) > opt_.max_sync_bytes)) {
        cut = true;
        return false;
      }
      batch_bytes += wire_bytes(r);
      batch.push_back(r);
      return true;
    });
    if (!st.ok()) return st;
    if (batch.empty()) return Status::Ok();
    bool sent = false;
    while (!sent && next_peer < peers.size()) {
      auto merged = push(self, a, b, peers[next_peer], all, batch);
      if (merged.ok()) {
        sent = true;
        std::lock_guard lock(mu_);
        metrics_.handed_off += batch.size();
      } else {
        last_error = describe(peers[next_peer]) + ": " + merged.status().to_string();
        ++next_peer;
      }
    }
    if (!sent) return Status::Unavailable("hand-off of " + to_hex(a) + ".." + to_hex(b) + " failed: " + last_error);
    if (!cut) return Status::Ok();
    cursor = ItemKey{batch.back().key, batch.back().sub};
  }
}

// --- Introspection ---------------------------------------------------------------

ReplicationMetrics Replicator::metrics() const {
  std::lock_guard lock(mu_);
  return metrics_;
}

HeldCounts Replicator::held_counts() {
  HeldCounts out;
  const std::uint64_t total = records_.count();
  const auto pred = ring_.predecessor();
  if (ring_.successors().empty()) {
    out.primary = ring_.joined() ? total : 0;
  } else if (pred) {
    auto n = records_.count_range(pred->id, ring_.self().id);
    out.primary = n.ok() ? *n : 0;
  }
  out.replica = total - std::min(total, out.primary);
  return out;
}

}  // namespace dws::core
