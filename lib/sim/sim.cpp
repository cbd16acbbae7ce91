#include "sim/sim.hpp"

#include <algorithm>
#include <sstream>

#include "core/id.hpp"

namespace dws::sim {

namespace {

std::string name(const PeerInfo& p) { return p.address + "(" + core::to_hex(p.id).substr(0, 6) + ")"; }

std::string names(const std::vector<PeerInfo>& list) {
  std::string s = "[";
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i > 0) s += ", ";
    s += name(list[i]);
  }
  return s + "]";
}

std::string name(const std::optional<PeerInfo>& p) { return p ? name(*p) : std::string("none"); }

}  // namespace

// --- SimNetwork ---------------------------------------------------------------

class SimNetwork::Endpoint final : public core::Transport {
 public:
  Endpoint(SimNetwork& net, Address self) : net_(net), self_(std::move(self)) {}
  Result<core::Response> call(const Address& to, const core::Request& request, core::Deadline deadline) override {
    return net_.deliver(self_, to, request, deadline);
  }

 private:
  SimNetwork& net_;
  Address self_;
};

SimNetwork::SimNetwork(std::uint64_t seed) : rng_(seed) {}
SimNetwork::~SimNetwork() = default;

core::Transport& SimNetwork::endpoint(const Address& self) {
  auto& e = endpoints_[self];
  if (!e) e = std::make_unique<Endpoint>(*this, self);
  return *e;
}

void SimNetwork::attach(const Address& address, Handler handler) { handlers_[address] = std::move(handler); }
void SimNetwork::detach(const Address& address) { handlers_.erase(address); }
bool SimNetwork::attached(const Address& address) const { return handlers_.count(address) != 0; }

void SimNetwork::cut(const Address& a, const Address& b) {
  cuts_.emplace(a, b);
  cuts_.emplace(b, a);
}

void SimNetwork::partition(const std::vector<Address>& side) {
  side_ = std::set<Address>(side.begin(), side.end());
  partitioned_ = true;
}

void SimNetwork::heal() {
  cuts_.clear();
  side_.clear();
  partitioned_ = false;
}

bool SimNetwork::reachable(const Address& from, const Address& to) const {
  if (partitioned_ && side_.count(from) != side_.count(to)) return false;
  return cuts_.empty() || cuts_.count({from, to}) == 0;
}

bool SimNetwork::chance(double p) {
  if (p <= 0.0) return false;
  return static_cast<double>(rng_.next() >> 11) * 0x1.0p-53 < p;
}

Result<core::Response> SimNetwork::deliver(const Address& from, const Address& to, const core::Request& request,
                                           core::Deadline deadline) {
  ++stats_.calls;
  auto it = handlers_.find(to);
  if (it == handlers_.end() || !reachable(from, to)) {
    ++stats_.unreachable;
    return Status::Unavailable("sim: " + to + " is unreachable from " + from);
  }
  if (chance(faults_.request_loss)) {
    ++stats_.lost;
    return Status::Unavailable("sim: request from " + from + " to " + to + " lost");
  }
  if (faults_.max_delay_ms > 0) {
    const std::int64_t span = std::max<std::int64_t>(0, faults_.max_delay_ms - faults_.min_delay_ms);
    const std::int64_t delay =
        faults_.min_delay_ms + static_cast<std::int64_t>(rng_.uniform(static_cast<std::uint64_t>(span) + 1));
    if (delay > deadline.timeout_ms) {
      clock_.advance(deadline.timeout_ms);
      ++stats_.timeouts;
      return Status::Unavailable("sim: call from " + from + " to " + to + " timed out");
    }
    clock_.advance(delay);
  }
  // A copy: the handler may run nested calls that attach or detach nodes.
  Handler handler = it->second;
  auto result = handler(request);
  if (chance(faults_.duplicate)) {
    ++stats_.duplicates;
    result = handler(request);
  }
  if (chance(faults_.response_loss)) {
    ++stats_.lost;
    return Status::Unavailable("sim: response from " + to + " to " + from + " lost");
  }
  ++stats_.delivered;
  return result;
}

// --- RingSim ------------------------------------------------------------------

RingSim::RingSim(std::uint64_t seed, RingSimOptions options)
    : opt_(options),
      net_(seed ^ 0x6e6574776f726b00ULL),
      rng_(seed),
      check_rng_(seed ^ 0x636865636b000000ULL),
      next_port_(options.base_port) {}

RingSim::~RingSim() = default;

Address RingSim::new_address() { return "127.0.0.1:" + std::to_string(next_port_++); }

bool RingSim::live(const Address& address) const {
  auto it = nodes_.find(address);
  return it != nodes_.end() && it->second.ring != nullptr;
}

core::Ring* RingSim::ring(const Address& address) {
  auto it = nodes_.find(address);
  return it == nodes_.end() ? nullptr : it->second.ring.get();
}

PeerInfo RingSim::info(const Address& address) const { return PeerInfo{core::node_id(address), address}; }

std::vector<Address> RingSim::live_nodes() const {
  std::vector<std::pair<Id, Address>> v;
  for (const auto& [a, n] : nodes_)
    if (n.ring) v.emplace_back(n.info.id, a);
  std::sort(v.begin(), v.end());
  std::vector<Address> out;
  for (auto& [id, a] : v) out.push_back(a);
  return out;
}

std::vector<Address> RingSim::down_nodes() const {
  std::vector<Address> out;
  for (const auto& [a, n] : nodes_)
    if (!n.ring) out.push_back(a);
  return out;
}

bool RingSim::may_crash(const Address& address) const {
  if (!live(address)) return false;
  std::vector<std::pair<Id, bool>> members;  // id, down after the crash
  for (const auto& [a, n] : nodes_) members.emplace_back(n.info.id, !n.ring || a == address);
  std::sort(members.begin(), members.end());
  const std::size_t n = members.size();
  const std::size_t r = static_cast<std::size_t>(opt_.successor_list);
  if (n <= r) return false;
  // Longest circular run of down members.
  std::size_t run = 0;
  for (std::size_t i = 0; i < 2 * n; ++i) {
    run = members[i % n].second ? run + 1 : 0;
    if (run >= r) return false;
  }
  return true;
}

Status RingSim::start(const Address& address) {
  if (live(address)) return Status::Exists("sim: " + address + " is already running");
  auto& node = nodes_[address];
  node.info = info(address);
  node.rng = std::make_unique<core::SplitMix64>(rng_.next());
  core::RingOptions ro;
  ro.successor_list = opt_.successor_list;
  ro.fingers_per_tick = opt_.fingers_per_tick;
  ro.info.successor_list = opt_.successor_list;
  ro.info.stabilize_ms = static_cast<int>(opt_.stabilize_ms);
  auto ring = std::make_unique<core::Ring>(node.info, ro, net_.endpoint(address), net_.clock(), *node.rng);
  std::vector<Address> others = live_nodes();
  if (others.empty()) {
    ring->create();
  } else {
    const Address& via = others[rng_.uniform(others.size())];
    Status s = ring->join(via);
    if (!s.ok()) return s;
  }
  core::Ring* raw = ring.get();
  net_.attach(address, [raw](const core::Request& req) { return raw->handle(req); });
  node.ring = std::move(ring);
  return Status::Ok();
}

void RingSim::crash(const Address& address) {
  auto it = nodes_.find(address);
  if (it == nodes_.end()) return;
  net_.detach(address);
  it->second.ring.reset();
}

void RingSim::leave(const Address& address) {
  auto it = nodes_.find(address);
  if (it == nodes_.end() || !it->second.ring) return;
  it->second.ring->leave();
  net_.detach(address);
  nodes_.erase(it);
}

void RingSim::round() {
  std::vector<Address> order = live_nodes();
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng_.uniform(i)]);
  for (const auto& a : order) {
    core::Ring* r = ring(a);
    if (r == nullptr) continue;
    r->stabilize();
    r->fix_fingers();
  }
  net_.clock().advance(opt_.stabilize_ms);
  ++rounds_;
}

std::vector<PeerInfo> RingSim::sorted(const std::vector<Address>& members) const {
  std::vector<PeerInfo> out;
  for (const auto& a : members.empty() ? live_nodes() : members) out.push_back(info(a));
  std::sort(out.begin(), out.end(), [](const PeerInfo& x, const PeerInfo& y) { return x.id < y.id; });
  return out;
}

PeerInfo RingSim::oracle(const std::vector<PeerInfo>& members, Id key) {
  auto it = std::lower_bound(members.begin(), members.end(), key,
                             [](const PeerInfo& p, Id k) { return p.id < k; });
  return it == members.end() ? members.front() : *it;
}

std::string RingSim::check_pointers(const std::vector<Address>& members) {
  const auto ring_order = sorted(members);
  const std::size_t n = ring_order.size();
  for (std::size_t i = 0; i < n; ++i) {
    const PeerInfo& me = ring_order[i];
    core::Ring* r = ring(me.address);
    if (r == nullptr || !r->joined()) return name(me) + ": expected a joined live node, seen not joined";
    const auto succ = r->successors();
    const PeerInfo want = ring_order[(i + 1) % n];
    const PeerInfo seen = succ.empty() ? me : succ.front();
    if (seen != want) return name(me) + ": first successor expected " + name(want) + ", seen " + name(seen);
    const std::optional<PeerInfo> want_pred =
        n == 1 ? std::nullopt : std::optional<PeerInfo>(ring_order[(i + n - 1) % n]);
    const auto pred = r->predecessor();
    if (pred != want_pred) return name(me) + ": predecessor expected " + name(want_pred) + ", seen " + name(pred);
  }
  return {};
}

std::string RingSim::check(int lookups, const std::vector<Address>& members) {
  const auto ring_order = sorted(members);
  const std::size_t n = ring_order.size();
  if (n == 0) return "no live node";
  const std::size_t r = static_cast<std::size_t>(opt_.successor_list);
  // Successor lists: the true next min(r, n-1) nodes, in order.
  for (std::size_t i = 0; i < n; ++i) {
    const PeerInfo& me = ring_order[i];
    core::Ring* ring_i = ring(me.address);
    if (ring_i == nullptr || !ring_i->joined()) return name(me) + ": expected a joined live node, seen not joined";
    std::vector<PeerInfo> want;
    for (std::size_t k = 1; k <= std::min(r, n - 1); ++k) want.push_back(ring_order[(i + k) % n]);
    const auto seen = ring_i->successors();
    if (seen != want) return name(me) + ": successors expected " + names(want) + ", seen " + names(seen);
  }
  // One ring: following first successors visits every node once and returns.
  {
    const std::size_t start = check_rng_.uniform(n);
    std::set<Id> visited;
    PeerInfo at = ring_order[start];
    for (std::size_t step = 0; step < n; ++step) {
      if (!visited.insert(at.id).second)
        return "walk from " + name(ring_order[start]) + ": revisited " + name(at) + " after " +
               std::to_string(step) + " steps, expected " + std::to_string(n) + " distinct nodes";
      core::Ring* ring_at = ring(at.address);
      if (ring_at == nullptr) return "walk from " + name(ring_order[start]) + ": reached dead node " + name(at);
      const auto succ = ring_at->successors();
      at = succ.empty() ? at : succ.front();
    }
    if (at != ring_order[start])
      return "walk from " + name(ring_order[start]) + ": expected to be back after " + std::to_string(n) +
             " steps, seen " + name(at);
  }
  // Predecessors: the live node just before.
  for (std::size_t i = 0; i < n; ++i) {
    const PeerInfo& me = ring_order[i];
    const std::optional<PeerInfo> want =
        n == 1 ? std::nullopt : std::optional<PeerInfo>(ring_order[(i + n - 1) % n]);
    const auto seen = ring(me.address)->predecessor();
    if (seen != want) return name(me) + ": predecessor expected " + name(want) + ", seen " + name(seen);
  }
  // Lookups from random nodes agree with the oracle.
  for (int k = 0; k < lookups; ++k) {
    const PeerInfo& from = ring_order[check_rng_.uniform(n)];
    const Id key = check_rng_.next();
    const PeerInfo want = oracle(ring_order, key);
    auto got = ring(from.address)->lookup(key);
    if (!got.ok())
      return "lookup of " + core::to_hex(key) + " from " + name(from) + ": expected " + name(want) + ", seen error " +
             got.status().to_string();
    if (got->node != want)
      return "lookup of " + core::to_hex(key) + " from " + name(from) + ": expected " + name(want) + ", seen " +
             name(got->node);
  }
  return {};
}

int RingSim::converge(int max_rounds, std::string* why, const std::vector<Address>& members) {
  for (int k = 0;; ++k) {
    std::string violation = check(32, members);
    if (violation.empty()) return k;
    if (k >= max_rounds) {
      if (why != nullptr) *why = violation;
      return -1;
    }
    round();
  }
}

}  // namespace dws::sim
