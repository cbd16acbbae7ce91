// Mailboxes (DESIGN.md section 6): envelopes stored under the recipient's
// ring key, one item per message id, so storing is idempotent and listing is
// in id order.
//
// Storage: Record{key = user_key(to), sub = "m/" + id (32 hex) + "/" + from,
// version 1, expires_at = now + message TTL, payload = encode_envelope}, so
// two senders never collide. An ack turns it into a tombstone (version 2,
// payload the owner's signed AckProof, expires_at = now + tombstone TTL),
// which a late retry of the same envelope (version 1) cannot bring back.
// Every node checks both (core/validation.hpp).
//
// No threads, sockets or clock: time is passed in. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/devices.hpp"
#include "core/envelope.hpp"
#include "core/replication.hpp"
#include "core/validation.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::core {

inline constexpr std::string_view kMailboxPrefix = kMailboxSubPrefix;
inline constexpr std::uint32_t kMaxMailboxList = 1000;

struct MailboxOptions {
  std::int64_t message_ttl_ms = 30LL * 24 * 3600 * 1000;
  std::uint32_t quota = 10000;  // live entries per mailbox
  std::int64_t ack_ttl_ms = 30LL * 24 * 3600 * 1000;  // acknowledgements live the tombstone TTL
};

/// The owner's acknowledgement of one entry: its id, its sender and the
/// owner's signature over ack_signing_bytes(owner, mailbox_entry_sub(id, from)).
struct EntryAck {
  MessageId id;
  std::string from;
  crypto::Signature sig{};
};

/// One page of a mailbox.
struct MailboxPage {
  std::vector<Envelope> messages;
  bool more = false;
  /// How many devices the account lists (0: none, the account reads as one).
  std::uint32_t devices = 0;
};

class Mailbox {
 public:
  /// REQUIRES: replicator outlives the Mailbox.
  Mailbox(Replicator& replicator, MailboxOptions options);

  /// Stores an envelope in its recipient's mailbox (the caller has checked
  /// the sender). Copies that hold it; kRateLimited "mailbox of 'bob' is
  /// full (N messages): ..." over the quota; kUnavailable under W copies.
  Result<StorePutResp> post(const Envelope& envelope, std::int64_t now_ms);

  /// Live entries of `nick`'s mailbox after `after` (a message id, or empty),
  /// at most `limit`, that `device` has not acknowledged. With an empty
  /// `device`, or an account that lists no devices, every live entry.
  /// Entries every listed device acknowledged (one removed since, say) are
  /// tombstoned on the way. Served by the primary only: kNotResponsible
  /// elsewhere; kForbidden "device ... is not a device of 'bob' ..." when
  /// the account lists devices and `device` is not one of them.
  Result<MailboxPage> list_here(std::string_view nick, std::string_view device, const std::string& after,
                                std::uint32_t limit, std::int64_t now_ms);

  /// Acknowledges the live entries among `acks` for `device`, each with
  /// the owner's signed proof: an entry becomes a tombstone once every
  /// listed device acknowledged it (at once with an empty `device` or no
  /// device list). Unknown entries are skipped. Returns how many were live.
  /// A proof that does not verify is refused by the store (kUnauthenticated);
  /// kForbidden for an unlisted device, as list_here.
  Result<std::uint32_t> ack(std::string_view nick, std::string_view device, const std::vector<EntryAck>& acks,
                            std::int64_t now_ms);

  /// The account's device list as the ring holds it (possibly with no
  /// device left); nullopt when it has none, or only one an earlier owner
  /// of the nickname left.
  Result<std::optional<DeviceList>> devices(std::string_view nick);
  /// Stores a new device list (every node checks it: signed by the
  /// account's key, version raised). kForbidden "version 3 does not raise
  /// ..." when another device changed the list first: read it again.
  Result<StorePutResp> set_devices(const DeviceList& list);

  /// True when `record` is a live mailbox entry (what wakes a long poll).
  static bool is_entry(const Record& record) {
    return !record.tombstone && record.sub.compare(0, kMailboxPrefix.size(), kMailboxPrefix) == 0;
  }

 private:
  // kForbidden unless `device` may read: listed, or no list to be listed in.
  static Status check_device(std::string_view nick, std::string_view device, const std::optional<DeviceList>& list);
  // Whether every device of `list` but `except` holds an acknowledgement of
  // `entry_sub`, and one of their proofs (for the tombstone).
  Result<bool> acked_by_others(Id key, const DeviceList& list, std::string_view except, const EntrySub& entry,
                               std::string* proof);

  Replicator& replicator_;
  MailboxOptions opt_;
};

}  // namespace dws::core
