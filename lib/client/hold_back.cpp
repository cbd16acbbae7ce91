#include "client/hold_back.hpp"

#include <algorithm>
#include <set>

namespace dws::client {

std::vector<Decision> HoldBack::decide(const std::vector<Arrival>& batch,
                                       const std::function<bool(const core::MessageId&)>& delivered,
                                       std::int64_t now_ms) {
  std::vector<std::size_t> order(batch.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return batch[a].id < batch[b].id; });

  std::vector<Decision> out;
  out.reserve(batch.size());
  std::vector<bool> done(batch.size(), false);
  std::set<core::MessageId> handed;  // in this batch, so far
  auto ready = [&](const Arrival& a) { return !a.prev || handed.count(*a.prev) != 0 || delivered(*a.prev); };
  auto due = [&](const Arrival& a) {
    const std::int64_t sent = a.id.ms();
    if (sent - now_ms >= hold_ms_) return true;
    auto it = deadline_.find(a.id);
    const std::int64_t deadline = it != deadline_.end() ? it->second : std::min(now_ms, sent) + hold_ms_;
    return now_ms >= deadline;
  };
  auto emit = [&](std::size_t i, Verdict v) {
    done[i] = true;
    handed.insert(batch[i].id);
    deadline_.erase(batch[i].id);
    if (v == Verdict::kRelease) ++released_total_;
    out.push_back({i, v});
  };
  for (;;) {
    // Everything whose predecessor is out goes, in id order, as often as
    // that frees the next one of a chain.
    bool progress = true;
    while (progress) {
      progress = false;
      for (std::size_t i : order) {
        if (done[i] || !ready(batch[i])) continue;
        emit(i, Verdict::kDeliver);
        progress = true;
      }
    }
    // Then the oldest whose hold ran out, which may free its successors.
    auto next = std::find_if(order.begin(), order.end(), [&](std::size_t i) { return !done[i] && due(batch[i]); });
    if (next == order.end()) break;
    emit(*next, Verdict::kRelease);
  }
  std::set<core::MessageId> held;
  for (std::size_t i : order) {
    if (done[i]) continue;
    const Arrival& a = batch[i];
    held.insert(a.id);
    if (deadline_.emplace(a.id, std::min(now_ms, a.id.ms()) + hold_ms_).second) ++held_total_;
    out.push_back({i, Verdict::kHold});
  }
  // A held message that left the mailbox some other way (its TTL) is not
  // listed again: forget it once its hold is well over.
  std::erase_if(deadline_, [&](const auto& kv) { return held.count(kv.first) == 0 && now_ms >= kv.second + hold_ms_; });
  return out;
}

std::optional<std::int64_t> HoldBack::next_release() const {
  std::optional<std::int64_t> earliest;
  for (const auto& [id, deadline] : deadline_) earliest = earliest ? std::min(*earliest, deadline) : deadline;
  return earliest;
}

}  // namespace dws::client
