#include "core/mailbox.hpp"

#include <algorithm>

#include "core/id.hpp"

namespace dws::core {

namespace {

std::string entry_sub(const MessageId& id) { return std::string(kMailboxPrefix) + id.hex(); }

}  // namespace

Mailbox::Mailbox(Replicator& replicator, MailboxOptions options) : replicator_(replicator), opt_(options) {}

Result<StorePutResp> Mailbox::post(const Envelope& envelope, std::int64_t now_ms) {
  const Record rec{user_key(envelope.to), entry_sub(envelope.id), 1, false, now_ms + opt_.message_ttl_ms,
                   encode_envelope(envelope)};
  PutCondition quota;
  quota.max_items = opt_.quota;
  quota.quota_prefix = std::string(kMailboxPrefix);
  auto put = replicator_.put(rec, quota);
  if (!put.ok() && put.status().code() == Code::kRateLimited)
    return Status::RateLimited("mailbox of '" + envelope.to + "' is full (" + std::to_string(opt_.quota) +
                               " messages): the recipient has to read some first; retry later");
  return put;
}

Result<MailboxPage> Mailbox::list_here(std::string_view nick, const std::string& after, std::uint32_t limit) {
  StoreScanReq req;
  req.key = user_key(nick);
  req.prefix = std::string(kMailboxPrefix);
  req.after = after.empty() ? std::string() : std::string(kMailboxPrefix) + after;
  req.limit = std::clamp<std::uint32_t>(limit, 1, kMaxMailboxList);
  auto r = replicator_.handle(Request{req});
  if (!r.ok()) return r.status();
  auto* scan = std::get_if<StoreScanResp>(&*r);
  if (!scan) return Status::Internal("the store answered a scan with another kind of message");
  MailboxPage page;
  page.more = scan->more;
  for (const auto& rec : scan->records) {
    auto env = decode_envelope(rec.payload);
    // A corrupt entry is skipped rather than blocking the whole mailbox.
    if (!env.ok()) continue;
    page.messages.push_back(std::move(env).value());
  }
  return page;
}

Record Mailbox::tombstone_of(const Record& live, std::int64_t now_ms) const {
  return Record{live.key, live.sub, std::max<std::uint64_t>(live.version + 1, 2), true, now_ms + opt_.message_ttl_ms,
                ""};
}

Status Mailbox::tombstone(const Record& live, std::int64_t now_ms) {
  auto put = replicator_.put(tombstone_of(live, now_ms));
  return put.ok() ? Status::Ok() : put.status();
}

Result<std::uint32_t> Mailbox::ack(std::string_view nick, const std::vector<MessageId>& ids, std::int64_t now_ms) {
  const Id key = user_key(nick);
  // Every entry shares the owner's ring key, so all the tombstones go to
  // the primary and its replicas as one batch.
  std::vector<Record> tombs;
  tombs.reserve(ids.size());
  for (const auto& id : ids) {
    auto rec = replicator_.get(key, entry_sub(id));
    if (!rec.ok()) return rec.status();
    if (!rec->has_value() || (*rec)->tombstone) continue;
    tombs.push_back(tombstone_of(**rec, now_ms));
  }
  if (tombs.empty()) return 0u;
  auto put = replicator_.put_batch(tombs);
  if (!put.ok()) return put.status();
  return static_cast<std::uint32_t>(tombs.size());
}

Result<std::uint64_t> Mailbox::clear(std::string_view nick, std::int64_t now_ms) {
  const Id key = user_key(nick);
  std::uint64_t cleared = 0;
  std::string after;
  // Tombstoned entries drop out of the live scan, but paging by `after`
  // also bounds the walk if a put fails half-way.
  for (;;) {
    auto page = replicator_.scan(key, std::string(kMailboxPrefix), after, kMaxScanLimit);
    if (!page.ok()) return page.status();
    for (const auto& rec : page->records) {
      if (Status s = tombstone(rec, now_ms); !s.ok()) return s;
      ++cleared;
      after = rec.sub;
    }
    if (!page->more || page->records.empty()) return cleared;
  }
}

}  // namespace dws::core
