// dws::Client: an account on the ring, its contacts, chats and messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dwhatsapp/export.h"
#include "dwhatsapp/status.hpp"

namespace dws {

/// @brief How a client runs. Plain data; every field has a working default.
struct ClientOptions {
  /// Where the client keeps its LMDB store (account, servers, contacts,
  /// chats, messages). Created when missing; files are mode 0600.
  /// REQUIRES: not empty.
  std::string data_dir;
  /// Servers ("host:port") to try first, before the saved list. With none
  /// given and none saved, the client broadcasts UDP discovery.
  std::vector<std::string> servers;
  /// Ring name and UDP port for discovery.
  std::string ring_name = "dwhatsapp";
  int discovery_port = 37020;
  /// Long-poll wait of the background receiver, in seconds.
  int poll_wait_s = 20;
  /// Per-request timeout towards a server, in milliseconds.
  int request_timeout_ms = 5000;
  /// argon2id cost of new passwords (register_account, change_password):
  /// 0 keeps libsodium's interactive limits (2 passes, 64 MiB). Tests set
  /// the minimum (1 pass, 8192 bytes) to stay fast. Logins always use what
  /// the account records.
  std::uint64_t kdf_opslimit = 0;
  std::uint64_t kdf_memlimit = 0;
  /// PEM CA bundle: talk HTTPS to servers whose certificate chains to it.
  /// Empty: plain HTTP.
  std::string tls_ca;
  /// Send "read" receipts when mark_read() is called (as WhatsApp's setting).
  bool read_receipts = true;
  /// Where discovery broadcasts when no server is known: a subnet's
  /// broadcast address or "127.255.255.255" for servers on loopback. The
  /// library reads no environment; dws-chat fills this from
  /// --discovery-broadcast or DWS_DISCOVERY_BROADCAST.
  std::string discovery_broadcast = "255.255.255.255";
  /// What devices() shows for this device (at most 64 bytes of UTF-8).
  /// Empty: the host's name.
  std::string device_name;
  /// Authenticate sends, mailbox reads and acknowledgements with a session
  /// MAC per node (opened by one signed request, docs/protocol.md section
  /// 5.1) instead of an Ed25519 signature each. false: sign every request.
  bool request_sessions = true;
};

/// @brief Where a message is in its life, as the sender's history shows it.
enum class Delivery : int {
  kSending = 0,    ///< handed to send(), not yet stored by the ring
  kStored = 1,     ///< the ring acknowledged W copies
  kDelivered = 2,  ///< the recipient's client sent a receipt
  kReceived = 3,   ///< an incoming message (this client is the recipient)
  kRead = 4,       ///< outgoing: the recipient's client said it was read;
                   ///< incoming: shown here and marked by mark_read()
  kQueued = 5,     ///< no server was reachable: kept in the outbox, sent later
};

/// @brief One message of a conversation, as the local history keeps it.
struct Message {
  std::string id;        ///< 32 hex digits, time-ordered
  std::string from;
  std::string to;
  std::int64_t sent_at = 0;      ///< unix ms, the sender's clock
  std::int64_t received_at = 0;  ///< unix ms, this client's clock (0 for outgoing)
  std::string text;
  Delivery state = Delivery::kSending;
  bool outgoing = false;
};

/// @brief What send_message() did with a message.
struct SendResult {
  std::string id;
  /// kStored: the ring holds W copies. kQueued: no server was reachable; the
  /// message waits in the outbox and leaves, with this id, on the next call
  /// (or background receive cycle) that reaches the ring.
  Delivery state = Delivery::kStored;
};

/// @brief An incoming envelope that did not verify or open: kept aside
/// (committed locally) and only then acknowledged, so it never reaches the
/// application and is never lost without a trace.
struct RejectedEnvelope {
  std::string id;
  std::string from;    ///< as the envelope claims; unverified
  std::string reason;
  std::int64_t at_ms = 0;  ///< unix ms, when this client set it aside
};

/// @brief One device of the account: every device logged in to it receives
/// every message, and sees what the others sent.
struct DeviceInfo {
  std::string id;             ///< 16 hex digits, made once per data directory
  std::string name;           ///< ClientOptions::device_name when it was added
  std::int64_t added_at = 0;  ///< unix ms, when it was added (its own clock)
  bool this_device = false;
};

/// @brief A contact: a nickname with the public key pinned on first use.
struct Contact {
  std::string nickname;
  std::string alias;
  std::string public_key;  ///< base64 of the pinned Ed25519 key
  std::string display_name;
  /// True when the ring now shows another key for this nickname: the pinned
  /// key is kept and messages from the new key are refused until the user
  /// re-adds the contact.
  bool key_changed = false;
  /// A short fingerprint of the pinned key (20 digits in groups of five),
  /// to compare with the peer's own `safety_number()` out of band.
  std::string safety_number;
};

/// @brief A conversation: the peer, its last message and the unread count.
struct Chat {
  std::string peer;
  Message last;
  int unread = 0;
  std::string alias;         ///< the contact's alias, if any
  std::string display_name;  ///< the name the peer registered with, if known
};

/// @brief What the background receiver hands to the application. Each runs
/// on the receiver thread; any may be empty.
struct ReceiveHandlers {
  /// Once per new text message, in mailbox order.
  std::function<void(const Message&)> on_message;
  /// An outgoing message changed state (a receipt came back, or a queued
  /// message left the outbox): the message as the history now shows it.
  /// After the cycle's new messages.
  std::function<void(const Message&)> on_state;
  /// A receive cycle failed (the ring unreachable, ...); the receiver backs
  /// off and tries again. Not called for the cancellation stop_receiving() makes.
  std::function<void(const Status&)> on_error;
};

/// @brief The safety number of a public key (base64): 20 decimal digits in
/// four groups of five, from a hash of the key. Two people compare theirs
/// out of band to know that no one sits between them. "" for a malformed key.
DWS_API std::string safety_number_of(const std::string& public_key);

/// @brief The name of a delivery state, as the JSON outputs of dws-chat and
/// its web page spell it: "sending", "stored", "delivered", "received",
/// "read", "queued".
DWS_API const char* delivery_name(Delivery state);

/// @brief An account's view of the ring. A Client is safe for concurrent use
/// from multiple threads without external synchronization. Callbacks run on
/// the client's receiver thread; they must not call stop_receiving().
class DWS_API Client {
 public:
  /// @brief Opens (or creates) the data directory and locks it (<data_dir>/LOCK)
  /// for the Client's life. Does not contact any server.
  /// @return kInvalidArgument (no data_dir), kUnavailable (another Client,
  /// in this or another process, has the directory open), kInternal (cannot
  /// open the store).
  static Result<std::unique_ptr<Client>> open(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // --- Account ----------------------------------------------------------------

  /// @brief Creates the account on the ring and logs in.
  /// @return kInvalidArgument (bad nickname/password/display name), kExists
  /// (nickname taken, or the data directory holds another account's history), kUnavailable (no server reachable: the message lists
  /// the servers tried).
  Status register_account(const std::string& nickname, const std::string& password,
                          const std::string& display_name = "");
  /// @brief Recovers the account from the ring with the password (any device)
  /// and adds this device to the account's devices: from then on it receives
  /// every message sent to the account and copies of what the other devices
  /// send. Messages from before the login stay on the devices that had them
  /// (devices() says whether there are others).
  /// @return kExists (the data directory holds another account's history),
  /// kUnauthenticated "wrong nickname or password", kRateLimited
  /// (too many failures: retry later), kForbidden (the account already has
  /// 16 devices: remove one first), kUnavailable.
  Status login(const std::string& nickname, const std::string& password);
  /// @brief Removes this device from the account's devices (when the ring
  /// answers: otherwise another device can, with remove_device()) and
  /// forgets the unlocked key; local history stays.
  Status logout();
  /// The logged-in nickname, if any.
  std::optional<std::string> whoami() const;
  /// The safety number of the logged-in account's key ("" when logged out).
  std::string safety_number() const;
  /// @brief Re-seals the key under a new password (signed update).
  Status change_password(const std::string& old_password, const std::string& new_password);
  /// @brief Deletes the account and its mailbox from the ring, then logs out.
  Status delete_account(const std::string& password);

  // --- Devices ----------------------------------------------------------------
  /// @brief The account's devices as the ring lists them (signed by the
  /// account's key, checked here), oldest first.
  /// @return kUnauthenticated (not logged in), kUnavailable.
  Result<std::vector<DeviceInfo>> devices();
  /// @brief Removes a device from the account: the ring gives it nothing
  /// new, and it is logged out at its next mailbox fetch. Removing this
  /// device logs it out at once.
  /// @return kNotFound (no such device), kUnauthenticated, kUnavailable.
  Status remove_device(const std::string& id);
  /// This data directory's device id (16 hex digits).
  std::string device_id() const;

  // --- Messages ---------------------------------------------------------------

  /// @brief Encrypts, signs and stores a text message for `to` on the ring.
  /// @param[out] — returns the message id once the ring holds W copies.
  /// `to` may be a contact's alias (see resolve()).
  /// @return kInvalidArgument (blank text: only spaces, tabs and newlines; a
  /// bad nickname), kNotFound (no such user), kPayloadTooLarge (more than
  /// max_text_bytes(): the message says how many characters), kUnavailable,
  /// kForbidden (contact's key changed), kUnauthenticated (not logged in).
  /// With no server reachable the message is queued (see send_message) and
  /// its id returned too: history() shows it as Delivery::kQueued.
  Result<std::string> send(const std::string& to, const std::string& text);
  /// @brief As send(), saying whether the ring stored the message or it was
  /// queued in the outbox because no server was reachable (the recipient's
  /// key must be pinned already for that: a first message needs the ring).
  Result<SendResult> send_message(const std::string& to, const std::string& text);
  /// @brief Sends what the outbox holds, oldest first, each with its id.
  /// @return how many left the outbox; kUnavailable when the ring is still
  /// out of reach (what is left stays queued).
  Result<int> flush_outbox();
  /// @brief Envelopes set aside by receive cycles, oldest id first.
  Result<std::vector<RejectedEnvelope>> rejected() const;
  /// @brief One receive cycle: fetch the mailbox (waiting up to `wait_s`
  /// seconds when it is empty), verify, decrypt, store locally, acknowledge,
  /// send receipts, and return the new text messages (each id exactly once).
  Result<std::vector<Message>> receive(int wait_s = 0);
  /// @brief Starts the background receiver: it calls `callback` once per new
  /// text message, in mailbox order. Replaces any earlier callback.
  Status start_receiving(std::function<void(const Message&)> callback);
  /// @brief As above, with state changes and receiver errors reported too.
  Status start_receiving(ReceiveHandlers handlers);
  /// @brief Stops the background receiver and waits for it. Idempotent.
  void stop_receiving();
  /// @brief Called when a receipt moves one of the outgoing messages with
  /// `peer` to kDelivered or kRead (on the receiver thread), or when the
  /// outbox sends a queued one, kStored (on the thread whose call reached
  /// the ring). Replaces any earlier callback; an empty function removes it.
  void on_delivery(std::function<void(const std::string& peer, const std::string& id, Delivery state)> callback);
  /// @brief Called when the ring stops or starts answering (a receive cycle
  /// or a send failing with kUnavailable, then one succeeding again).
  void on_connection(std::function<void(bool reachable)> callback);
  /// False after the last attempt to reach the ring found no server.
  bool reachable() const;
  /// The longest text send() accepts, in bytes of UTF-8.
  static std::size_t max_text_bytes();

  // --- Contacts, chats, history ------------------------------------------------

  /// @brief Checks that the user exists and pins its key.
  Status add_contact(const std::string& nickname, const std::string& alias = "");
  /// @brief Checks with the ring that `name` (a nickname or a contact's
  /// alias) is a user, pins its key on first sight (which makes it a
  /// contact), and returns what is known of it.
  /// @return kNotFound "no user 'dave' on the ring", kForbidden (key
  /// changed), kUnavailable.
  Result<Contact> check_user(const std::string& name);
  /// @brief The nickname `name` stands for: a contact's nickname, else the
  /// contact whose alias it is (ignoring case), else `name` as a nickname.
  /// Every call below that takes a peer accepts an alias the same way.
  Result<std::string> resolve(const std::string& name) const;
  Result<std::vector<Contact>> contacts() const;
  Status remove_contact(const std::string& nickname);
  /// Every conversation, most recent first.
  Result<std::vector<Chat>> chats() const;
  /// Messages with `peer`, newest last: at most `limit`, older than the
  /// message id `before` when it is not empty.
  Result<std::vector<Message>> history(const std::string& peer, const std::string& before = "",
                                       int limit = 50) const;
  /// Sets the unread count of the chat with `peer` to zero and marks its
  /// incoming messages kRead; with read receipts on, tells the peer so.
  /// Ok when there is no chat with `peer` yet.
  Status mark_read(const std::string& peer);
  /// @brief Turns read receipts on or off (saved in the data directory:
  /// off there or in ClientOptions::read_receipts means off).
  Status set_read_receipts(bool on);
  bool read_receipts() const;

  /// Servers known, most recently successful first.
  std::vector<std::string> servers() const;

  struct Impl;

 private:
  friend struct ClientTestAccess;  // lib/client/test_access.hpp: tests only
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dws
