#include "core/ring.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "core/id.hpp"

namespace dws::core {

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// Dead peers are probed to merge rings after a partition heals; after this
// long the partition is presumed permanent (or the peer gone for good).
constexpr std::int64_t kDeadPeerMemoryMs = 600'000;

bool contains(const std::vector<Id>& ids, Id id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

Id finger_start(Id self, int i) { return self + (Id{1} << i); }

using LocalStep = std::function<Result<ClosestResp>(Id key, const std::vector<Id>& exclude)>;

// The iterative lookup shared by Ring::lookup (which answers its first step
// locally) and lookup_from (which starts at a remote address). `path` holds
// the nodes whose answers led to the current one, so that a node that does
// not answer is excluded and the node before it is asked again.
using Genuine = std::function<bool(const PeerInfo&)>;

Result<LookupResult> iterate(Transport& transport, const LocalStep* local, Id local_id, const Address& start,
                             Id key, std::vector<Id> exclude, int max_hops, Deadline deadline,
                             std::vector<PeerInfo>* unresponsive, const Genuine& genuine) {
  struct Step {
    bool local;
    bool id_known;
    PeerInfo node;
  };
  std::vector<Step> path;
  if (local != nullptr) {
    path.push_back({true, true, PeerInfo{local_id, {}}});
  } else {
    path.push_back({false, false, PeerInfo{0, start}});
  }
  int hops = 0;
  int steps = 0;
  const int max_steps = std::max(1, max_hops);
  while (!path.empty()) {
    if (steps++ >= max_steps)
      return Status::Unavailable("lookup of " + to_hex(key) + " gave up after " + std::to_string(max_steps) +
                                 " steps");
    const Step cur = path.back();
    Result<ClosestResp> answer = Status::Unavailable("no answer");
    if (cur.local) {
      answer = (*local)(key, exclude);
    } else {
      ++hops;
      auto r = transport.call(cur.node.address, ClosestReq{key, exclude}, deadline);
      if (r.ok()) {
        if (const auto* c = std::get_if<ClosestResp>(&r.value())) {
          answer = *c;
        } else {
          answer = Status::Internal("peer " + cur.node.address + " answered closest with another message");
        }
      } else {
        answer = r.status();
      }
    }
    bool usable = answer.ok();
    // A node named with an id that is not its address's is forged: the
    // answer that names it is as good as none.
    if (usable && !cur.local && !genuine(answer->node)) usable = false;
    if (usable && !answer->done) {
      // Every "ask m" must move strictly closer to the key; this is what
      // makes the walk terminate whatever the nodes believe.
      const PeerInfo& m = answer->node;
      if (contains(exclude, m.id) || (cur.id_known && !between(cur.node.id, m.id, key))) usable = false;
    }
    if (!usable) {
      if (cur.local) return answer.ok() ? Status::Unavailable("lookup of " + to_hex(key) + " made no progress")
                                        : answer.status();
      path.pop_back();
      if (path.empty())
        return Status::Unavailable("lookup of " + to_hex(key) + ": " + cur.node.address +
                                   " did not answer: " + answer.status().to_string());
      if (cur.id_known) {
        exclude.push_back(cur.node.id);
        if (unresponsive != nullptr) unresponsive->push_back(cur.node);
      }
      continue;
    }
    if (answer->done) return LookupResult{answer->node, hops};
    path.push_back({false, true, answer->node});
  }
  return Status::Unavailable("lookup of " + to_hex(key) + " found no live path");
}

}  // namespace

Ring::Ring(PeerInfo self, RingOptions options, Transport& transport, Clock& clock, Rng& rng)
    : self_(std::move(self)), opt_(std::move(options)), transport_(transport), clock_(clock), rng_(rng) {
  opt_.successor_list = std::max(1, opt_.successor_list);
  opt_.max_dead_peers = std::max(1, opt_.max_dead_peers);
}

void Ring::set_listener(std::function<void(const RingEvent&)> listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

void Ring::emit(const Events& events) {
  if (events.empty()) return;
  std::function<void(const RingEvent&)> listener;
  {
    std::lock_guard lock(mu_);
    listener = listener_;
  }
  if (!listener) return;
  for (const auto& e : events) listener(e);
}

// --- State changes (mu_ held) ----------------------------------------------

void Ring::reset_locked() {
  pred_.reset();
  succ_.clear();
  finger_.fill(std::nullopt);
  next_finger_ = 0;
  dead_.clear();
  next_probe_ = 0;
}

std::vector<PeerInfo> Ring::normalize(const std::vector<PeerInfo>& candidates) const {
  std::vector<PeerInfo> list;
  Id last = 0;  // distance from self of the last entry kept
  for (const auto& c : candidates) {
    if (static_cast<int>(list.size()) >= opt_.successor_list) break;
    const Id d = distance(self_.id, c.id);
    // Self (distance 0), a duplicate or an entry that wraps back past self
    // ends the list: what follows would not be in ring order.
    if (d == 0 || d <= last) break;
    list.push_back(c);
    last = d;
  }
  return list;
}

void Ring::set_successors_locked(std::vector<PeerInfo> list, Events& events) {
  const bool changed = succ_.empty() != list.empty() || (!list.empty() && succ_.front() != list.front());
  succ_ = std::move(list);
  if (changed) {
    ++metrics_.ring_changes;
    events.push_back({RingEvent::Kind::kSuccessor,
                      succ_.empty() ? std::optional<PeerInfo>(self_) : std::optional<PeerInfo>(succ_.front())});
  }
}

void Ring::set_predecessor_locked(std::optional<PeerInfo> pred, Events& events) {
  if (pred && pred->id == self_.id) pred.reset();
  if (pred_ == pred) return;
  pred_ = std::move(pred);
  ++metrics_.ring_changes;
  events.push_back({RingEvent::Kind::kPredecessor, pred_});
}

void Ring::remember_dead_locked(const PeerInfo& peer) {
  if (peer.id == self_.id) return;
  for (auto& [p, when] : dead_)
    if (p.id == peer.id) return;
  if (static_cast<int>(dead_.size()) >= opt_.max_dead_peers) dead_.erase(dead_.begin());
  dead_.emplace_back(peer, clock_.monotonic_ms());
}

void Ring::forget_finger_locked(Id id) {
  for (auto& f : finger_)
    if (f && f->id == id) f.reset();
}

void Ring::declare_dead_locked(const PeerInfo& peer, bool announce, Events& events) {
  std::vector<PeerInfo> rest;
  for (const auto& s : succ_)
    if (s.id != peer.id) rest.push_back(s);
  if (rest.size() != succ_.size()) set_successors_locked(std::move(rest), events);
  if (pred_ && pred_->id == peer.id) set_predecessor_locked(std::nullopt, events);
  forget_finger_locked(peer.id);
  remember_dead_locked(peer);
  if (announce) events.push_back({RingEvent::Kind::kPeerDead, peer});
}

Result<Response> Ring::call(const PeerInfo& peer, const Request& request) {
  auto r = transport_.call(peer.address, request, opt_.call_deadline);
  if (!r.ok()) {
    std::lock_guard lock(mu_);
    ++metrics_.peer_call_errors;
  }
  return r;
}

bool Ring::genuine(const PeerInfo& peer) const {
  if (peer.address.empty()) return false;
  return peer.id == (opt_.id_of ? opt_.id_of(peer.address) : node_id(peer.address));
}

bool Ring::answers_as(const PeerInfo& peer) {
  if (!genuine(peer)) return false;
  auto r = call(peer, PingReq{});
  if (!r.ok()) return false;
  const auto* pong = std::get_if<PingResp>(&r.value());
  return pong != nullptr && pong->self == peer;
}

std::vector<PeerInfo> Ring::checked_list(const std::vector<PeerInfo>& candidates, std::optional<Id> verified) {
  std::vector<PeerInfo> real;
  for (const auto& c : candidates)
    if (genuine(c)) real.push_back(c);
  std::vector<PeerInfo> list = normalize(real);
  std::vector<PeerInfo> current;
  {
    std::lock_guard lock(mu_);
    current = succ_;
  }
  std::vector<PeerInfo> out;
  for (const auto& p : list) {
    const bool known = std::find(current.begin(), current.end(), p) != current.end();
    if (known || (verified && p.id == *verified) || answers_as(p)) out.push_back(p);
  }
  return out;
}

// --- Membership ---------------------------------------------------------------

void Ring::create() {
  {
    std::lock_guard lock(mu_);
    reset_locked();
    joined_ = true;
  }
  emit({{RingEvent::Kind::kJoined, std::nullopt}});
}

Status Ring::join(const Address& bootstrap) {
  // Excluding self matters on a restart: the ring may still list this
  // address, and successor(self) must be the next node, not a stale self.
  // A successor that does not answer (it may have just left or crashed,
  // and the ring still names it until the next stabilization) is excluded
  // and the lookup repeated, a bounded number of times.
  std::vector<Id> exclude{self_.id};
  PeerInfo s;
  Result<Response> state = Status::Unavailable("no lookup made");
  for (int attempt = 0; attempt < opt_.successor_list + 1; ++attempt) {
    auto found = iterate(transport_, nullptr, 0, bootstrap, self_.id, exclude, opt_.max_hops, opt_.call_deadline,
                         nullptr, [this](const PeerInfo& p) { return genuine(p); });
    if (!found.ok())
      return Status::Unavailable("join through " + bootstrap + " failed: " + found.status().message());
    s = found->node;
    if (s.id == self_.id) return Status::Unavailable("join through " + bootstrap + ": the ring answered with self");
    state = call(s, StateReq{});
    if (state.ok()) {
      const auto* r = std::get_if<StateResp>(&state.value());
      if (r != nullptr && r->view.self == s) break;
      state = Status::Unavailable("it answered as another node");
    }
    exclude.push_back(s.id);
  }
  if (!state.ok())
    return Status::Unavailable("join: successor " + s.address + " did not answer: " + state.status().message());
  const auto* resp = std::get_if<StateResp>(&state.value());
  if (resp == nullptr) return Status::Internal("join: " + s.address + " answered state with another message");
  std::vector<PeerInfo> candidates{s};
  candidates.insert(candidates.end(), resp->view.successors.begin(), resp->view.successors.end());
  {
    std::lock_guard lock(mu_);
    reset_locked();  // the list is checked against no earlier one
  }
  std::vector<PeerInfo> list = checked_list(candidates, s.id);
  Events events{{RingEvent::Kind::kJoined, std::nullopt}};
  {
    std::lock_guard lock(mu_);
    reset_locked();
    joined_ = true;
    set_successors_locked(std::move(list), events);
  }
  emit(events);
  return Status::Ok();
}

void Ring::leave() {
  std::optional<PeerInfo> pred;
  std::vector<PeerInfo> succ;
  {
    std::lock_guard lock(mu_);
    if (!joined_) return;
    pred = pred_;
    succ = succ_;
    reset_locked();
    joined_ = false;
  }
  LeaveReq req{self_, pred, succ};
  if (!succ.empty()) call(succ.front(), req);
  if (pred && (succ.empty() || pred->id != succ.front().id)) call(*pred, req);
  emit({{RingEvent::Kind::kLeft, std::nullopt}});
}

// --- Stabilization ------------------------------------------------------------

void Ring::stabilize() {
  Events events;
  {
    std::lock_guard lock(mu_);
    if (!joined_) return;
    ++metrics_.stabilize_rounds;
    // How a ring of one grows: the first joiner notified us.
    if (succ_.empty() && pred_) set_successors_locked({*pred_}, events);
  }
  emit(events);

  std::vector<Id> failed;  // successors found dead this round
  bool fell_back = false;
  for (int attempt = 0; attempt < 2 * opt_.successor_list + 4; ++attempt) {
    std::optional<PeerInfo> s;
    {
      std::lock_guard lock(mu_);
      if (!succ_.empty()) s = succ_.front();
    }
    events.clear();
    if (!s) {
      if (failed.empty() || fell_back) break;  // alone, by design or for lack of anyone
      fell_back = true;
      auto found = find_successor_through_known(failed);
      if (!found) break;
      {
        std::lock_guard lock(mu_);
        set_successors_locked({*found}, events);
      }
      emit(events);
      continue;
    }
    auto state = call(*s, StateReq{});
    const StateResp* resp = state.ok() ? std::get_if<StateResp>(&state.value()) : nullptr;
    if (resp != nullptr && resp->view.self != *s) resp = nullptr;  // not the node we know at that address
    if (resp == nullptr) {
      {
        std::lock_guard lock(mu_);
        declare_dead_locked(*s, true, events);
      }
      emit(events);
      failed.push_back(s->id);
      continue;
    }
    std::vector<PeerInfo> candidates{*s};
    candidates.insert(candidates.end(), resp->view.successors.begin(), resp->view.successors.end());
    // A live predecessor of s between us and s is a closer successor. Zave's
    // rule takes one such step per round; following a few in one round
    // inserts a burst of joiners, or walks back over a gap, sooner.
    std::optional<PeerInfo> p = resp->view.predecessor;
    PeerInfo at = *s;
    for (int step = 0; step < 2 * opt_.successor_list && p && genuine(*p) && between(self_.id, p->id, at.id);
         ++step) {
      auto pstate = call(*p, StateReq{});
      const StateResp* presp = pstate.ok() ? std::get_if<StateResp>(&pstate.value()) : nullptr;
      if (presp == nullptr || presp->view.self != *p) break;
      at = *p;
      candidates.assign({at});
      candidates.insert(candidates.end(), presp->view.successors.begin(), presp->view.successors.end());
      p = presp->view.predecessor;
    }
    std::vector<PeerInfo> list = checked_list(candidates, at.id);
    {
      std::lock_guard lock(mu_);
      if (!joined_) return;  // left meanwhile
      set_successors_locked(std::move(list), events);
    }
    emit(events);
    break;
  }

  std::optional<PeerInfo> first;
  {
    std::lock_guard lock(mu_);
    if (!succ_.empty()) first = succ_.front();
  }
  if (first) call(*first, NotifyReq{self_});
  check_predecessor();
  probe_dead_peer();
  verify_successor();
}

std::optional<PeerInfo> Ring::find_successor_through_known(const std::vector<Id>& failed) {
  std::vector<PeerInfo> known;
  auto add = [&](const PeerInfo& p) {
    if (p.id == self_.id || contains(failed, p.id)) return;
    for (const auto& k : known)
      if (k.id == p.id) return;
    known.push_back(p);
  };
  {
    std::lock_guard lock(mu_);
    if (pred_) add(*pred_);
    for (const auto& f : finger_)
      if (f) add(*f);
    for (const auto& [p, when] : dead_) add(p);
  }
  // Nearest first: the closest known node that answers is a successor that
  // never skips more than the nodes we do not know about, and the ones in
  // between then find us through stabilization.
  std::sort(known.begin(), known.end(), [&](const PeerInfo& x, const PeerInfo& y) {
    return distance(self_.id, x.id) < distance(self_.id, y.id);
  });
  constexpr std::size_t kMaxTries = 8;
  std::optional<PeerInfo> best;
  std::size_t tries = 0;
  for (const auto& k : known) {
    if (tries++ >= kMaxTries) break;
    if (answers_as(k)) {
      best = k;
      break;
    }
  }
  if (!best) return std::nullopt;
  // The ring may know a closer one: successor(self + 1), self excluded.
  std::vector<Id> exclude = failed;
  exclude.push_back(self_.id);
  auto found = iterate(transport_, nullptr, 0, best->address, self_.id + 1, exclude, opt_.max_hops,
                       opt_.call_deadline, nullptr, [this](const PeerInfo& p) { return genuine(p); });
  if (found.ok() && found->node.id != self_.id && !contains(failed, found->node.id) &&
      between(self_.id, found->node.id, best->id) && answers_as(found->node))
    return found->node;
  return best;
}

void Ring::check_predecessor() {
  std::optional<PeerInfo> p;
  {
    std::lock_guard lock(mu_);
    p = pred_;
  }
  if (!p) return;
  if (answers_as(*p)) return;
  Events events;
  {
    std::lock_guard lock(mu_);
    if (pred_ && pred_->id == p->id) declare_dead_locked(*p, true, events);
  }
  emit(events);
}

void Ring::probe_dead_peer() {
  std::optional<PeerInfo> peer;
  {
    std::lock_guard lock(mu_);
    const std::int64_t now = clock_.monotonic_ms();
    std::erase_if(dead_, [&](const auto& d) { return now - d.second > kDeadPeerMemoryMs; });
    if (dead_.empty()) return;
    peer = dead_[next_probe_++ % dead_.size()].first;
  }
  if (!answers_as(*peer)) return;
  {
    std::lock_guard lock(mu_);
    std::erase_if(dead_, [&](const auto& d) { return d.first.id == peer->id; });
  }
  // The peer is back, perhaps in another ring (a healed partition): if its
  // ring knows a node that should be our successor, adopt it; stabilization
  // then zips the two rings together.
  adopt_successor_seen_by(*peer);
}

void Ring::verify_successor() {
  std::vector<PeerInfo> known;
  std::optional<PeerInfo> closer;  // a finger closer than the first successor
  {
    std::lock_guard lock(mu_);
    if (succ_.empty()) return;
    const Id s0 = succ_.front().id;
    for (const auto& f : finger_) {
      if (!f) continue;
      if (between(self_.id, f->id, s0) && (!closer || distance(self_.id, f->id) < distance(self_.id, closer->id)))
        closer = f;
      if (f->id != s0 && (known.empty() || known.back().id != f->id)) known.push_back(*f);
    }
    if (pred_) known.push_back(*pred_);
  }
  if (closer) {
    adopt_if_closer(*closer);
    return;
  }
  if (known.empty()) return;
  adopt_successor_seen_by(known[rng_.uniform(known.size())]);
}

void Ring::adopt_successor_seen_by(const PeerInfo& peer) {
  // successor(self + 1) with self excluded is the node that should follow us.
  auto found = iterate(transport_, nullptr, 0, peer.address, self_.id + 1, {self_.id}, opt_.max_hops,
                       opt_.call_deadline, nullptr, [this](const PeerInfo& p) { return genuine(p); });
  if (!found.ok() || found->node.id == self_.id) return;
  adopt_if_closer(found->node);
}

void Ring::adopt_if_closer(const PeerInfo& node) {
  {
    std::lock_guard lock(mu_);
    if (!succ_.empty() && !between(self_.id, node.id, succ_.front().id)) return;
  }
  // Hints come from stale lists and tables: adopt only a node that answers.
  if (!answers_as(node)) {
    std::lock_guard lock(mu_);
    forget_finger_locked(node.id);
    return;
  }
  Events events;
  {
    std::lock_guard lock(mu_);
    if (!joined_) return;
    if (succ_.empty() || between(self_.id, node.id, succ_.front().id)) {
      std::vector<PeerInfo> candidates{node};
      candidates.insert(candidates.end(), succ_.begin(), succ_.end());
      set_successors_locked(normalize(candidates), events);
    }
  }
  emit(events);
}

void Ring::rectify(const PeerInfo& from) {
  if (!genuine(from)) return;
  std::optional<PeerInfo> cur;
  bool closer = false;
  {
    std::lock_guard lock(mu_);
    cur = pred_;
    if (cur && cur->id == from.id) return;
    closer = !cur || between(cur->id, from.id, self_.id);
  }
  // `from` is no better than a live current predecessor; and a notify is a
  // claim, believed only once `from` answers at its address as itself.
  if (!closer && answers_as(*cur)) return;
  if (!answers_as(from)) return;
  Events events;
  {
    std::lock_guard lock(mu_);
    if (closer) {
      if (!pred_ || between(pred_->id, from.id, self_.id)) set_predecessor_locked(from, events);
    } else if (pred_ && pred_->id == cur->id) {
      declare_dead_locked(*cur, true, events);
      set_predecessor_locked(from, events);
    }
  }
  emit(events);
}

void Ring::splice_out(const LeaveReq& leave) {
  const PeerInfo& gone = leave.leaving;
  if (!genuine(gone)) return;
  bool was_pred = false;
  std::vector<PeerInfo> candidates;
  {
    std::lock_guard lock(mu_);
    was_pred = pred_ && pred_->id == gone.id;
    auto it = std::find_if(succ_.begin(), succ_.end(), [&](const PeerInfo& p) { return p.id == gone.id; });
    if (it != succ_.end()) {
      candidates.assign(succ_.begin(), it);
      for (const auto& s : leave.successors)
        if (s.id != gone.id) candidates.push_back(s);
      candidates.insert(candidates.end(), it + 1, succ_.end());
    }
    if (!was_pred && it == succ_.end()) return;  // not a neighbour: nothing to splice
  }
  // A node that leaves no longer answers as a member; one that does was not
  // leaving, whoever says so.
  if (answers_as(gone)) return;
  std::optional<PeerInfo> next = leave.predecessor;
  if (next && (next->id == gone.id || next->id == self_.id || !answers_as(*next))) next.reset();
  std::vector<PeerInfo> list;
  if (!candidates.empty()) list = checked_list(candidates, std::nullopt);
  Events events;
  {
    std::lock_guard lock(mu_);
    // Successor side: the leaving node's predecessor becomes ours.
    if (pred_ && pred_->id == gone.id) set_predecessor_locked(next, events);
    // Predecessor side: the leaving node's successors follow us instead.
    const bool still = std::any_of(succ_.begin(), succ_.end(), [&](const PeerInfo& p) { return p.id == gone.id; });
    if (still && !candidates.empty()) set_successors_locked(std::move(list), events);
    forget_finger_locked(gone.id);
  }
  emit(events);
}

void Ring::fix_fingers() {
  {
    std::lock_guard lock(mu_);
    if (!joined_) return;
    if (succ_.empty()) {
      finger_.fill(std::nullopt);
      return;
    }
  }
  auto refresh = [&](int i) -> int {
    const Id start = finger_start(self_.id, i);
    auto found = lookup_internal(start, {});
    std::lock_guard lock(mu_);
    if (!found.ok() || found->node.id == self_.id) {
      finger_[static_cast<size_t>(i)].reset();
      return i;
    }
    // Every following finger whose start still falls before the node found
    // has the same answer: one lookup fills a run of fingers.
    int j = i;
    finger_[static_cast<size_t>(i)] = found->node;
    while (j + 1 < 64 && in_half_open(self_.id, finger_start(self_.id, j + 1), found->node.id)) {
      ++j;
      finger_[static_cast<size_t>(j)] = found->node;
    }
    return j;
  };
  for (int n = 0; n < opt_.fingers_per_tick; ++n) {
    int i;
    {
      std::lock_guard lock(mu_);
      i = next_finger_;
    }
    const int last = refresh(i);
    std::lock_guard lock(mu_);
    next_finger_ = (last + 1) % 64;
  }
  refresh(static_cast<int>(rng_.uniform(64)));
}

// --- Lookups ----------------------------------------------------------------

Result<ClosestResp> Ring::closest_locked(Id key, const std::vector<Id>& exclude) const {
  if (succ_.empty()) return ClosestResp{true, self_};
  if (pred_ && in_half_open(pred_->id, key, self_.id)) return ClosestResp{true, self_};
  // key in (self, s_i]: s_i is responsible, or the first live one after it.
  Id prev = self_.id;
  bool in_range = false;
  for (const auto& s : succ_) {
    if (!in_range && in_half_open(prev, key, s.id)) in_range = true;
    if (in_range && !contains(exclude, s.id)) return ClosestResp{true, s};
    prev = s.id;
  }
  if (in_range) return Status::Unavailable("every known successor of " + to_hex(key) + " is excluded");
  // Otherwise the known node that precedes the key most closely.
  const PeerInfo* best = nullptr;
  Id best_distance = 0;
  auto consider = [&](const PeerInfo& m) {
    if (m.id == self_.id || contains(exclude, m.id) || !between(self_.id, m.id, key)) return;
    const Id d = distance(self_.id, m.id);
    if (best == nullptr || d > best_distance) {
      best = &m;
      best_distance = d;
    }
  };
  for (const auto& s : succ_) consider(s);
  for (const auto& f : finger_)
    if (f) consider(*f);
  if (best == nullptr) return Status::Unavailable("no live node known on the way to " + to_hex(key));
  return ClosestResp{false, *best};
}

Result<LookupResult> Ring::lookup_internal(Id key, std::vector<Id> exclude) {
  const LocalStep local = [this](Id k, const std::vector<Id>& ex) -> Result<ClosestResp> {
    std::lock_guard lock(mu_);
    if (!joined_) return Status::Unavailable("node " + self_.address + " is not in a ring");
    return closest_locked(k, ex);
  };
  std::vector<PeerInfo> unresponsive;
  auto result = iterate(transport_, &local, self_.id, self_.address, key, std::move(exclude), opt_.max_hops,
                        opt_.call_deadline, &unresponsive, [this](const PeerInfo& p) { return genuine(p); });
  if (!unresponsive.empty()) {
    // Fingers are hints: drop the dead ones now, and remember them so a
    // healed partition can be found again.
    std::lock_guard lock(mu_);
    metrics_.peer_call_errors += unresponsive.size();
    for (const auto& p : unresponsive) {
      forget_finger_locked(p.id);
      remember_dead_locked(p);
    }
  }
  return result;
}

Result<LookupResult> Ring::lookup(Id key) {
  auto result = lookup_internal(key, {});
  std::lock_guard lock(mu_);
  ++metrics_.lookups;
  if (!result.ok()) {
    ++metrics_.lookup_failures;
  } else {
    const auto bucket = std::min<std::size_t>(static_cast<std::size_t>(result->hops), metrics_.hops_histogram.size() - 1);
    ++metrics_.hops_histogram[bucket];
  }
  return result;
}

Result<LookupResult> lookup_from(Transport& transport, const Address& start, Id key, int max_hops,
                                 Deadline deadline, const std::function<Id(const Address&)>& id_of) {
  return iterate(transport, nullptr, 0, start, key, {}, max_hops, deadline, nullptr, [&](const PeerInfo& p) {
    return !p.address.empty() && p.id == (id_of ? id_of(p.address) : node_id(p.address));
  });
}

// --- Handlers ---------------------------------------------------------------

namespace {

Status misnamed(const char* what, const PeerInfo& p) {
  return Status::InvalidArgument(std::string(what) + ": node id " + to_hex(p.id) + " is not the id of its address '" +
                                 p.address + "' (a node's id is node_id(address))");
}

}  // namespace

Result<Response> Ring::handle(const Request& request) {
  if (std::holds_alternative<InfoReq>(request)) return Response{InfoResp{opt_.info}};
  {
    std::lock_guard lock(mu_);
    if (!joined_) return Status::Unavailable("node " + self_.address + " is not in a ring");
  }
  return std::visit(
      Overloaded{
          [&](const PingReq&) -> Result<Response> { return Response{PingResp{self_}}; },
          [&](const StateReq& r) -> Result<Response> { return Response{StateResp{view(r.with_fingers)}}; },
          [&](const ClosestReq& r) -> Result<Response> {
            std::lock_guard lock(mu_);
            auto c = closest_locked(r.key, r.exclude);
            if (!c.ok()) return c.status();
            return Response{*c};
          },
          [&](const NotifyReq& r) -> Result<Response> {
            if (!genuine(r.from)) return misnamed("notify", r.from);
            if (r.from.id != self_.id) rectify(r.from);
            return Response{Ack{}};
          },
          [&](const LeaveReq& r) -> Result<Response> {
            if (!genuine(r.leaving)) return misnamed("leave", r.leaving);
            if (r.leaving.id != self_.id) splice_out(r);
            return Response{Ack{}};
          },
          [&](const InfoReq&) -> Result<Response> { return Response{InfoResp{opt_.info}}; },
          [&](const auto&) -> Result<Response> {
            return Status::InvalidArgument("the ring does not handle this request");
          },
      },
      request);
}

// --- Introspection ----------------------------------------------------------

RingView Ring::view(bool with_fingers) const {
  std::lock_guard lock(mu_);
  RingView v;
  v.self = self_;
  v.predecessor = pred_;
  v.successors = succ_;
  if (with_fingers) v.fingers.assign(finger_.begin(), finger_.end());
  return v;
}

std::optional<PeerInfo> Ring::predecessor() const {
  std::lock_guard lock(mu_);
  return pred_;
}

std::vector<PeerInfo> Ring::successors() const {
  std::lock_guard lock(mu_);
  return succ_;
}

bool Ring::responsible_for(Id key) const {
  std::lock_guard lock(mu_);
  if (!joined_) return false;
  if (succ_.empty()) return true;
  return pred_ && in_half_open(pred_->id, key, self_.id);
}

bool Ring::may_take_over(Id key, Id gone) {
  std::optional<PeerInfo> p;
  {
    std::lock_guard lock(mu_);
    if (!joined_ || !pred_ || pred_->id != gone) return false;
    // Ours already, or past our own id: not the range `gone` held for us.
    if (in_half_open(pred_->id, key, self_.id)) return false;
    p = pred_;
  }
  return !answers_as(*p);
}

bool Ring::joined() const {
  std::lock_guard lock(mu_);
  return joined_;
}

RingMetrics Ring::metrics() const {
  std::lock_guard lock(mu_);
  return metrics_;
}

}  // namespace dws::core
