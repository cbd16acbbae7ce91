#include "client/outbox.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "client/client_json.hpp"
#include "client/local_store.hpp"
#include "core/env.hpp"
#include "core/envelope.hpp"
#include "core/store.hpp"

namespace dws::client {

namespace {

// Receipts only ever move a message forward: a "delivered" that arrives
// after a "read" changes nothing.
int rank(Delivery d) {
  switch (d) {
    case Delivery::kQueued: return 0;
    case Delivery::kSending: return 1;
    case Delivery::kStored: return 2;
    case Delivery::kDelivered: return 3;
    case Delivery::kRead: return 4;
    case Delivery::kReceived: return -1;
  }
  return -1;
}

}  // namespace

Outbox::Outbox(LocalStore& store, std::mutex& store_mu, core::Clock& clock, Notify notify)
    : store_(store), mu_(store_mu), clock_(clock), notify_(std::move(notify)) {}

void Outbox::note_state_locked(Message m) {
  if (!keep_states_) return;
  if (state_changes_.size() >= kMaxStateChanges) state_changes_.erase(state_changes_.begin());
  state_changes_.push_back(std::move(m));
}

void Outbox::keep_state_changes_locked(bool keep) {
  keep_states_ = keep;
  if (!keep) state_changes_.clear();
}

std::vector<Message> Outbox::take_state_changes_locked() {
  std::vector<Message> out;
  out.swap(state_changes_);
  return out;
}

Status Outbox::record_locked(const std::string& peer, Message m, core::WriteBatch* extra) {
  if (auto it = early_.find(m.id); it != early_.end()) {
    if (rank(it->second) > rank(m.state)) m.state = it->second;
    early_.erase(it);
    note_state_locked(m);
  }
  auto row = store_.chat(peer);
  if (!row.ok()) return row.status();
  ChatRow chat = row->value_or(ChatRow{});
  chat.last_id = std::max(chat.last_id, m.id);
  chat.activity_ms = std::max(chat.activity_ms, clock_.wall_ms());
  core::WriteBatch local;
  core::WriteBatch& b = extra != nullptr ? *extra : local;
  // The next message to `peer` names the newest one recorded, queued or
  // stored, sent here or on another device (its copy).
  auto last = store_.last_sent(peer);
  if (!last.ok()) return last.status();
  if (!*last || **last < m.id) LocalStore::put_last_sent(b, peer, m.id);
  LocalStore::put_message(b, peer, m);
  LocalStore::put_chat(b, peer, chat);
  return store_.raw().apply(b);
}

bool Outbox::pending() {
  std::lock_guard lock(mu_);
  auto listed = store_.outbox();
  return listed.ok() && !listed->empty();
}

// Two flushes at once would post the same envelopes twice (harmless, the
// mailbox keeps one per id, but wasteful).
Result<int> Outbox::flush(const Post& post) {
  std::lock_guard flush(flush_mu_);
  std::vector<OutboxEntry> due;
  {
    std::lock_guard lock(mu_);
    auto listed = store_.outbox();
    if (!listed.ok()) return listed.status();
    due = std::move(listed).value();
  }
  int sent = 0;
  for (const auto& e : due) {
    Status st = post(e.peer, e.body);
    if (!st.ok() && st.code() == Code::kUnavailable) return st;
    // Refused for good (the recipient deleted the account, the envelope
    // expired in the queue): it can never leave, so it leaves the outbox
    // and its history entry stays kQueued.
    bool stored = false;
    {
      std::lock_guard lock(mu_);
      core::WriteBatch b;
      LocalStore::remove_outbox(b, e.id);
      std::optional<Message> changed;
      if (st.ok()) {
        auto m = store_.message(e.peer, e.id);
        if (!m.ok()) return m.status();
        if (*m && (*m)->state == Delivery::kQueued) {
          (*m)->state = Delivery::kStored;
          LocalStore::put_message(b, e.peer, **m);
          changed = **m;
        }
        ++sent;
      }
      if (Status w = store_.raw().apply(b); !w.ok()) return w;
      if (changed) {
        note_state_locked(std::move(*changed));
        stored = true;
      }
    }
    // The chat views move the queued tick in place, as they do for receipts.
    if (stored && notify_) notify_(e.peer, e.id, Delivery::kStored);
  }
  return sent;
}

Result<std::vector<std::string>> Outbox::apply_receipt(const std::string& peer, const Receipt& receipt) {
  const Delivery target = receipt.read ? Delivery::kRead : Delivery::kDelivered;
  std::vector<std::string> moved;
  std::lock_guard lock(mu_);
  core::WriteBatch b;
  std::vector<Message> changed;
  for (const auto& id : receipt.ids) {
    if (!core::MessageId::parse(id).ok()) continue;
    auto m = store_.message(peer, id);
    if (!m.ok()) return m.status();
    if (!*m) {
      if (early_.size() >= kMaxEarlyReceipts) early_.clear();
      Delivery& early = early_.try_emplace(id, target).first->second;
      if (rank(target) > rank(early)) early = target;
      continue;
    }
    if (!(*m)->outgoing || rank((*m)->state) >= rank(target)) continue;
    (*m)->state = target;
    LocalStore::put_message(b, peer, **m);
    moved.push_back(id);
    changed.push_back(**m);
  }
  if (Status st = store_.raw().apply(b); !st.ok()) return st;
  for (auto& m : changed) note_state_locked(std::move(m));
  return moved;
}

}  // namespace dws::client
