// Mailboxes (DESIGN.md section 6): envelopes stored under the recipient's
// ring key, one item per message id, so storing is idempotent and listing is
// in id order.
//
// Storage: Record{key = user_key(to), sub = "m/" + id (32 hex), version 1,
// expires_at = now + message TTL, payload = encode_envelope}. An ack turns it
// into a tombstone (version 2, empty payload, expires_at = now + TTL), which
// a late retry of the same envelope (version 1) cannot bring back.
//
// No threads, sockets or clock: time is passed in. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/envelope.hpp"
#include "core/replication.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::core {

inline constexpr std::string_view kMailboxPrefix = "m/";
inline constexpr std::uint32_t kMaxMailboxList = 1000;

struct MailboxOptions {
  std::int64_t message_ttl_ms = 30LL * 24 * 3600 * 1000;
  std::uint32_t quota = 10000;  // live entries per mailbox
};

/// One page of a mailbox.
struct MailboxPage {
  std::vector<Envelope> messages;
  bool more = false;
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
  /// at most `limit`. Served by the primary only: kNotResponsible elsewhere.
  Result<MailboxPage> list_here(std::string_view nick, const std::string& after, std::uint32_t limit);

  /// Tombstones the live entries among `ids` (message ids, validated by the
  /// caller); unknown ids are skipped. Returns how many were live.
  Result<std::uint32_t> ack(std::string_view nick, const std::vector<MessageId>& ids, std::int64_t now_ms);

  /// Tombstones every live entry (account deletion). Returns how many.
  Result<std::uint64_t> clear(std::string_view nick, std::int64_t now_ms);

  /// True when `record` is a live mailbox entry (what wakes a long poll).
  static bool is_entry(const Record& record) {
    return !record.tombstone && record.sub.compare(0, kMailboxPrefix.size(), kMailboxPrefix) == 0;
  }

 private:
  Record tombstone_of(const Record& live, std::int64_t now_ms) const;
  Status tombstone(const Record& live, std::int64_t now_ms);

  Replicator& replicator_;
  MailboxOptions opt_;
};

}  // namespace dws::core
