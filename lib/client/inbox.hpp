// The incoming side of a receive cycle, between the fetch and the ack: one
// mailbox page checked and opened into messages, receipts and copies from
// the account's other devices; the new messages, their chats, seen marks
// and the envelopes kept aside written in one transaction before anything
// is handed out or acknowledged; texts held back for per-sender order.
// What to acknowledge, which receipts are due and which sent messages
// moved come back for the caller to finish the cycle with.
//
// Thread safety: every store access and the hold-back are guarded by the
// mutex handed in (the Client's); it is never held while `key` or the
// application's `deliver` runs. REQUIRES: one take() at a time (the
// Client's receive mutex), so that messages are handed out in mailbox
// order.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "client/client_json.hpp"
#include "crypto/keys.hpp"
#include "dwhatsapp/client.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::core {
class Clock;
}  // namespace dws::core

namespace dws::crypto {
class BoxCache;
}  // namespace dws::crypto

namespace dws::client {

class HoldBack;
class LocalStore;
class Outbox;

class Inbox {
 public:
  /// The key to verify `nick`'s envelopes with (PeerKeys::key): kUnavailable
  /// ends the page unacknowledged, to be listed again later.
  using Key = std::function<Result<crypto::PublicKey>(const std::string& nick, bool recheck)>;
  /// The application's callback, once per new message.
  using Deliver = std::function<void(const Message&)>;

  /// The account the page belongs to, for one take().
  struct Self {
    const std::string& nick;
    const crypto::SecretKey& secret_key;
    const crypto::PublicKey& public_key;  // verifies the copies from its other devices
    crypto::BoxCache* cache;              // made for secret_key, or null
  };

  /// What a page came to.
  struct Page {
    /// New messages (and those a cycle stored but did not finish handing
    /// out), in the order handed out.
    std::vector<Message> fresh;
    /// Every entry handled, signed; held texts are left out.
    std::vector<AckJson> acks;
    /// "delivered" receipts due, ids per sender; none for held texts.
    std::map<std::string, std::vector<std::string>> receipts;
    /// Sent messages that moved: (peer, id, state), copies from the other
    /// devices (kStored) first, then those receipts moved.
    std::vector<std::tuple<std::string, std::string, Delivery>> moved;
    /// The page held texts back and handed out and acknowledged nothing.
    bool only_held = false;
  };

  /// REQUIRES: store, store_mu, clock, hold and outbox outlive it; `hold`
  /// is guarded by store_mu.
  Inbox(LocalStore& store, std::mutex& store_mu, core::Clock& clock, HoldBack& hold, Outbox& outbox, Key key);

  /// Takes in one listing of the own mailbox. An entry without a valid id
  /// and sender is neither handled nor acknowledged (it expires); one that
  /// does not verify or open is kept aside (LocalStore::rejected) and
  /// acknowledged. With `deliver`, each new message is stored with a
  /// pending mark, handed to `deliver` after the commit, then marked seen;
  /// a crash in between brings it back, and it is handed out again without
  /// a second copy in the history.
  Result<Page> take(const Self& self, const std::vector<core::EnvelopeView>& listing, const Deliver& deliver);

 private:
  LocalStore& store_;
  std::mutex& mu_;
  core::Clock& clock_;
  HoldBack& hold_;
  Outbox& outbox_;
  const Key key_;
};

}  // namespace dws::client
