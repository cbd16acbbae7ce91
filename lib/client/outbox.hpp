// The outgoing side's bookkeeping: what a sent message records (history,
// chat, the peer's last sent id), the outbox of messages the ring did not
// take yet and how it drains, and the receipts that move sent messages to
// delivered and read, including those that arrive before their message is
// recorded. State changes of outgoing messages wait here for the Client's
// on_state handler.
//
// Thread safety: every store access, the early receipts and the state
// changes are guarded by the mutex handed in (the Client's, which also
// guards its other read-modify-write sequences on the store); it is never
// held while a Post or the Notify runs. A second, own mutex serializes
// flushes and is held across their posts.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "dwhatsapp/client.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::core {
class Clock;
class WriteBatch;
}  // namespace dws::core

namespace dws::client {

class LocalStore;
struct Receipt;

class Outbox {
 public:
  /// Receipts for ids not recorded yet kept at most (the recipient can be
  /// faster than send() records; a peer can send receipts for ids that
  /// never existed). At the bound they are all dropped.
  static constexpr std::size_t kMaxEarlyReceipts = 100'000;
  /// State changes kept for the on_state handler at most; with nobody
  /// draining them, the oldest go first.
  static constexpr std::size_t kMaxStateChanges = 10'000;

  /// Posts one envelope body to `peer`'s mailbox. kUnavailable: the ring
  /// cannot take it now; any other failure is final for that envelope.
  using Post = std::function<Status(const std::string& peer, const std::string& body)>;
  /// Tells the application that the message `id` to `peer` reached `state`.
  using Notify = std::function<void(const std::string& peer, const std::string& id, Delivery state)>;

  /// REQUIRES: store, store_mu and clock outlive it.
  Outbox(LocalStore& store, std::mutex& store_mu, core::Clock& clock, Notify notify);

  /// Records an outgoing message and its chat, and moves the peer's last
  /// sent id forward, in one transaction with what `extra` holds (the
  /// outbox entries of a queued send). A receipt that came first is
  /// applied to it. REQUIRES: store_mu held.
  Status record_locked(const std::string& peer, Message m, core::WriteBatch* extra = nullptr);

  /// Whether any entry waits in the outbox (false when it cannot be read).
  bool pending();

  /// Posts the outbox, oldest first, through `post`; stops at the first
  /// kUnavailable (returned) and keeps that entry and the later ones. An
  /// entry refused for good leaves the outbox and its message stays
  /// kQueued; one taken moves its message from kQueued to kStored and is
  /// notified. Returns how many were taken. `post` is the caller's, bound
  /// to the session it holds: a logout during a flush must not turn the
  /// rest of the outbox into refusals. One flush at a time.
  Result<int> flush(const Post& post);

  /// Moves the outgoing messages a receipt from `peer` lists to delivered
  /// (or read), never backwards; an id not recorded yet keeps the receipt
  /// for record_locked. Returns the ids that moved.
  Result<std::vector<std::string>> apply_receipt(const std::string& peer, const Receipt& receipt);

  /// Queues an outgoing message's new state for take_state_changes_locked,
  /// when they are kept. REQUIRES: store_mu held.
  void note_state_locked(Message m);
  /// Whether state changes are kept (an on_state handler is set); off
  /// drops those kept. REQUIRES: store_mu held.
  void keep_state_changes_locked(bool keep);
  /// The state changes queued since the last call, oldest first.
  /// REQUIRES: store_mu held.
  std::vector<Message> take_state_changes_locked();

 private:
  LocalStore& store_;
  std::mutex& mu_;
  core::Clock& clock_;
  const Notify notify_;
  std::mutex flush_mu_;  // serializes flushes; held across posts, guards no state
  // Guarded by mu_.
  std::map<std::string, Delivery> early_;  // id -> the furthest state a receipt said
  bool keep_states_ = false;
  std::vector<Message> state_changes_;
};

}  // namespace dws::client
