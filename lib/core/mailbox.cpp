#include "core/mailbox.hpp"

#include <algorithm>

#include "core/id.hpp"

namespace dws::core {

Mailbox::Mailbox(Replicator& replicator, MailboxOptions options) : replicator_(replicator), opt_(options) {}

Result<StorePutResp> Mailbox::post(const Envelope& envelope, std::int64_t now_ms) {
  const Record rec{user_key(envelope.to), mailbox_entry_sub(envelope.id, envelope.from), kEntryVersion, false,
                   now_ms + opt_.message_ttl_ms, encode_envelope(envelope)};
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
  // '~' sorts after every nickname character: past every sender of `after`.
  req.after = after.empty() ? std::string() : std::string(kMailboxPrefix) + after + "/~";
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

Result<std::uint32_t> Mailbox::ack(std::string_view nick, const std::vector<EntryAck>& acks, std::int64_t now_ms) {
  const Id key = user_key(nick);
  // Every entry shares the owner's ring key, so all the tombstones go to
  // the primary and its replicas as one batch.
  std::vector<Record> tombs;
  tombs.reserve(acks.size());
  for (const auto& a : acks) {
    const std::string sub = mailbox_entry_sub(a.id, a.from);
    auto rec = replicator_.get(key, sub);
    if (!rec.ok()) return rec.status();
    if (!rec->has_value() || (*rec)->tombstone) continue;
    tombs.push_back(Record{key, sub, kAckVersion, true, now_ms + opt_.ack_ttl_ms,
                           encode_ack_proof(AckProof{std::string(nick), a.sig})});
  }
  if (tombs.empty()) return 0u;
  auto put = replicator_.put_batch(tombs);
  if (!put.ok()) return put.status();
  return static_cast<std::uint32_t>(tombs.size());
}

}  // namespace dws::core
