#include "sim/store_sim.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "core/id.hpp"

namespace dws::sim {

namespace {

bool is_store_request(const core::Request& r) {
  return std::holds_alternative<core::StorePutReq>(r) || std::holds_alternative<core::StoreGetReq>(r) ||
         std::holds_alternative<core::StoreSyncReq>(r);
}

std::string item_name(const core::Record& r) {
  return core::to_hex(r.key) + (r.sub.empty() ? std::string() : "/" + r.sub);
}

std::string join(const std::vector<Address>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s + "]";
}

}  // namespace

StoreSim::StoreSim(std::uint64_t seed, StoreSimOptions options)
    : opt_(options), ring_(seed, options.ring), order_rng_(seed ^ 0x73746f7265000000ULL) {}

StoreSim::~StoreSim() {
  for (auto& [a, n] : nodes_) stop(n);
}

void StoreSim::stop(Node& node) {
  // The replicator calls the validator, which asks the key directory,
  // which reads through the replicator: the caller goes first.
  node.replicator.reset();
  node.validator.reset();
  node.keys.reset();
  node.records.reset();
}

Status StoreSim::start(const Address& address) {
  Status st = ring_.start(address);
  if (!st.ok()) return st;
  Node& node = nodes_[address];
  if (!node.disk) node.disk = std::make_unique<store::MemoryStore>();
  auto records = core::RecordStore::open(*node.disk, core::RecordStoreOptions{opt_.fine_bits});
  if (!records.ok()) {
    ring_.crash(address);
    return records.status();
  }
  node.records = std::move(records).value();
  core::Ring* ring = ring_.ring(address);
  node.replicator = std::make_unique<core::Replicator>(*ring, *node.records, net().endpoint(address),
                                                       net().clock(), opt_.replication);
  core::Replicator* repl = node.replicator.get();
  if (opt_.validate) {
    node.keys = std::make_unique<core::RingKeyDirectory>(*repl, *node.records, net().clock());
    node.validator = std::make_unique<core::RecordValidator>(*node.keys, opt_.validation);
    repl->set_validator(node.validator.get());
  }
  // RingSim attached the ring alone; store messages go to the replicator.
  net().attach(address, [ring, repl](const core::Request& req) -> Result<core::Response> {
    return is_store_request(req) ? repl->handle(req) : ring->handle(req);
  });
  return Status::Ok();
}

void StoreSim::crash(const Address& address) {
  auto it = nodes_.find(address);
  net().detach(address);
  if (it != nodes_.end()) stop(it->second);
  ring_.crash(address);
}

Status StoreSim::leave(const Address& address) {
  auto it = nodes_.find(address);
  if (it == nodes_.end() || !it->second.replicator) return Status::NotFound("sim: " + address + " is not live");
  Status st = it->second.replicator->hand_off();
  stop(it->second);
  ring_.leave(address);
  nodes_.erase(it);
  return st;
}

bool StoreSim::may_crash(const Address& address) const {
  if (!ring_.live(address)) return false;
  std::vector<std::pair<Id, bool>> members;  // id, down after the crash
  for (const auto& a : ring_.live_nodes()) members.emplace_back(core::node_id(a), a == address);
  for (const auto& a : ring_.down_nodes()) members.emplace_back(core::node_id(a), true);
  std::sort(members.begin(), members.end());
  const std::size_t n = members.size();
  const std::size_t r = static_cast<std::size_t>(opt_.replication.replicas);
  if (n <= r) return false;
  std::size_t run = 0;
  for (std::size_t i = 0; i < 2 * n; ++i) {
    run = members[i % n].second ? run + 1 : 0;
    if (run >= r) return false;
  }
  // The ring's own bound (its successor list) must hold too.
  return ring_.may_crash(address);
}

void StoreSim::round() {
  ring_.round();
  ++rounds_;
  if (rounds_ % opt_.sync_every != 0) return;
  std::vector<Address> order = ring_.live_nodes();
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[order_rng_.uniform(i)]);
  for (const auto& a : order) {
    // An earlier node's round cannot crash this one, but stay defensive.
    if (auto* repl = replicator(a)) repl->sync_round();
  }
}

void StoreSim::sync_period() {
  do {
    round();
  } while (rounds_ % opt_.sync_every != 0);
}

core::Replicator* StoreSim::replicator(const Address& address) {
  auto it = nodes_.find(address);
  return it == nodes_.end() ? nullptr : it->second.replicator.get();
}

core::RecordStore* StoreSim::records(const Address& address) {
  auto it = nodes_.find(address);
  return it == nodes_.end() ? nullptr : it->second.records.get();
}

StoreTotals StoreSim::totals() const {
  StoreTotals t;
  for (const auto& [a, n] : nodes_) {
    if (!n.replicator) continue;
    const auto m = n.replicator->metrics();
    t.sync_records_moved += m.sync_records_moved;
    t.sync_bytes_moved += m.sync_bytes_moved;
    t.handed_off += m.handed_off;
    t.gc_erased += m.gc_erased;
    t.quorum_failures += m.quorum_failures;
    for (auto r : m.rejected) t.rejected += r;
    t.gc_unconfirmed += m.gc_unconfirmed;
  }
  return t;
}

std::string StoreSim::check_placement() {
  const std::vector<Address> live = ring_.live_nodes();  // in id order
  if (live.empty()) return "no live node";
  std::vector<PeerInfo> members;
  for (const auto& a : live) members.push_back(ring_.info(a));
  const std::size_t copies = std::min(live.size(), static_cast<std::size_t>(opt_.replication.replicas));

  struct Seen {
    core::Record record;
    std::vector<Address> holders;
    bool differ = false;
  };
  std::map<std::string, Seen> items;
  for (const auto& a : live) {
    core::RecordStore* rs = records(a);
    if (rs == nullptr) return a + ": expected a live node with a record store, seen none";
    Status st = rs->scan_range(0, 0, [&](const core::Record& r) {
      auto [it, fresh] = items.try_emplace(core::storage_key(r.key, r.sub), Seen{r, {}, false});
      if (!fresh && !(it->second.record == r)) it->second.differ = true;
      it->second.holders.push_back(a);
      return true;
    });
    if (!st.ok()) return a + ": scan failed: " + st.to_string();
  }
  for (auto& [skey, seen] : items) {
    const PeerInfo primary = RingSim::oracle(members, seen.record.key);
    const auto at = static_cast<std::size_t>(
        std::find_if(members.begin(), members.end(), [&](const PeerInfo& p) { return p.id == primary.id; }) -
        members.begin());
    std::vector<Address> want;
    for (std::size_t k = 0; k < copies; ++k) want.push_back(members[(at + k) % members.size()].address);
    std::vector<Address> seen_sorted = seen.holders;
    std::sort(want.begin(), want.end());
    std::sort(seen_sorted.begin(), seen_sorted.end());
    if (want != seen_sorted)
      return "item " + item_name(seen.record) + ": expected on " + join(want) + ", seen on " + join(seen_sorted);
    if (seen.differ) return "item " + item_name(seen.record) + ": copies on " + join(seen_sorted) + " differ";
  }
  return {};
}

}  // namespace dws::sim
