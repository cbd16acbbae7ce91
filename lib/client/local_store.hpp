// The client's data directory (DESIGN.md section 7): one LMDB environment
// at <data_dir>/store and, while logged in, the unlocked secret key in
// <data_dir>/secret.key. Directories are mode 0700, files 0600.
//
// Key layout of the kv namespace (nicknames never hold '/'):
//   s/<host:port>         -> be64 unix ms of the last success    (servers)
//   k/<nick>              -> pinned key, display name, changed    (pins)
//   c/<nick>              -> alias                                (contacts)
//   t/<peer>              -> last message id, unread, activity ms (chats)
//   m/<peer>/<32 hex id>  -> one message                          (history)
//   h/<32 hex id>         -> "1": an incoming id already handed to the
//                            application (the seen set behind exactly-once);
//                            "p": in the history, its callback not yet done
//   o/<32 hex id>         -> peer and the POST /v1/messages body of an
//                            outgoing message no server took yet (outbox)
//   x/<32 hex id>         -> sender, reason, unix ms: an incoming envelope
//                            that did not verify or open (kept aside)
//   q/<peer>              -> 32 hex id: the newest message this account
//                            sent to peer (from this device, or learnt
//                            from another's copy), what the next names
// and meta "account" -> core::encode_account of the logged-in (or last)
// account.
//
// A LocalStore does no locking of its own beyond the Store's: callers that
// read, modify and write one key (chats, delivery states) serialize those
// sequences themselves.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/account.hpp"
#include "core/store.hpp"
#include "crypto/keys.hpp"
#include "dwhatsapp/client.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::client {

/// A peer's key as first seen (trust on first use).
struct Pin {
  crypto::PublicKey key{};
  std::string display_name;
  /// The ring was seen showing another key for this nickname.
  bool key_changed = false;
};

/// An outgoing message waiting for the ring: the envelope as it will be
/// posted, so a later attempt carries the same id and signature.
struct OutboxEntry {
  std::string id;
  std::string peer;
  std::string body;
};

/// The summary of one conversation.
struct ChatRow {
  std::string last_id;
  int unread = 0;
  std::int64_t activity_ms = 0;
};

class LocalStore {
 public:
  /// Opens or creates <data_dir> (0700), <data_dir>/store (0700) and the
  /// LMDB files in it (0600). kInvalidArgument for an empty path, kInternal
  /// naming the path otherwise.
  static Result<std::unique_ptr<LocalStore>> open(const std::string& data_dir);
  /// Creates <data_dir> (and missing parents) and makes it mode 0700, as
  /// open() does; for what must exist before the store opens (the lock).
  static Status make_data_dir(const std::string& data_dir);
  ~LocalStore();

  const std::string& data_dir() const { return data_dir_; }
  core::Store& raw() { return *store_; }

  // Account and unlocked key.
  Result<std::optional<core::Account>> account();
  Status save_account(const core::Account& account);
  /// Writes <data_dir>/secret.key (0600) through a temporary file and a
  /// rename, so a crash leaves either the old key or the new one.
  Status save_secret(const crypto::SecretKey& secret_key);
  Result<std::optional<crypto::SecretKey>> load_secret();
  /// Overwrites then unlinks the key file. Ok when there is none.
  Status remove_secret();

  // Servers with the unix ms of their last success (0: never), most
  // recent first.
  Result<std::vector<std::pair<std::string, std::int64_t>>> servers();
  Status put_server(const std::string& address, std::int64_t last_success_ms);

  // Pins and contacts.
  Result<std::optional<Pin>> pin(const std::string& nick);
  Status put_pin(const std::string& nick, const Pin& pin);
  Result<std::optional<std::string>> contact_alias(const std::string& nick);
  Status put_contact(const std::string& nick, const std::string& alias);
  Status remove_contact(const std::string& nick);
  /// (nickname, alias) in nickname order.
  Result<std::vector<std::pair<std::string, std::string>>> contact_list();

  // History and chats.
  Result<std::optional<Message>> message(const std::string& peer, const std::string& id);
  Result<std::optional<ChatRow>> chat(const std::string& peer);
  /// (peer, row) of every chat, unordered.
  Result<std::vector<std::pair<std::string, ChatRow>>> chat_list();
  /// Messages with `peer` older than `before` (all when empty), the newest
  /// `limit` of them, oldest first.
  Result<std::vector<Message>> history(const std::string& peer, const std::string& before, int limit);
  Result<bool> seen(const std::string& id);
  /// nullopt: never seen; false: stored, the application's callback not yet
  /// run to its end ("p"); true: handed to the application.
  Result<std::optional<bool>> seen_mark(const std::string& id);
  static void put_pending(core::WriteBatch& batch, const std::string& id);

  /// The outbox, oldest first (ids are time-ordered).
  Result<std::vector<OutboxEntry>> outbox();
  static void put_outbox(core::WriteBatch& batch, const OutboxEntry& entry);
  static void remove_outbox(core::WriteBatch& batch, const std::string& id);

  /// The newest id this account sent to `peer` as far as this device knows;
  /// nullopt before the first.
  Result<std::optional<std::string>> last_sent(const std::string& peer);
  static void put_last_sent(core::WriteBatch& batch, const std::string& peer, const std::string& id);

  /// Envelopes kept aside, oldest id first.
  Result<std::vector<RejectedEnvelope>> rejected();
  static void put_rejected(core::WriteBatch& batch, const RejectedEnvelope& entry);

  // Batch builders, so one transaction can hold a message, its chat and its
  // seen mark.
  static void put_message(core::WriteBatch& batch, const std::string& peer, const Message& message);
  static void put_chat(core::WriteBatch& batch, const std::string& peer, const ChatRow& row);
  static void put_seen(core::WriteBatch& batch, const std::string& id);

  static std::string encode_message(const Message& message);
  static Result<Message> decode_message(std::string_view bytes);

 private:
  LocalStore() = default;
  std::string secret_path() const;

  std::string data_dir_;
  std::unique_ptr<core::Store> store_;
};

}  // namespace dws::client
