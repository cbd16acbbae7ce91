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

namespace {

// This node's copy when it is the key's primary (what it stores passed the
// checks), else a read through the ring.
Result<std::optional<Record>> read_item(Replicator& replicator, Id key, const std::string& sub) {
  auto r = replicator.handle(Request{StoreGetReq{key, sub, false, false}});
  if (!r.ok() && r.status().code() == Code::kNotResponsible) return replicator.get(key, sub);
  if (!r.ok()) return r.status();
  auto* got = std::get_if<StoreGetResp>(&*r);
  if (!got) return Status::Internal("the store answered a get with another kind of message");
  return std::move(got->record);
}

bool live(const std::optional<Record>& r) { return r.has_value() && !r->tombstone; }

}  // namespace

Result<std::optional<DeviceList>> Mailbox::devices(std::string_view nick) {
  const Id key = user_key(nick);
  auto account = read_item(replicator_, key, "");
  if (!account.ok()) return account.status();
  if (!live(*account)) return std::optional<DeviceList>();
  auto acct = decode_account((*account)->payload);
  if (!acct.ok()) return std::optional<DeviceList>();
  auto rec = read_item(replicator_, key, std::string(kDeviceListSub));
  if (!rec.ok()) return rec.status();
  if (!live(*rec)) return std::optional<DeviceList>();
  auto list = decode_device_list((*rec)->payload);
  // A list signed by another key was left by an earlier owner of the nickname.
  if (!list.ok() || list->public_key != acct->public_key)
    return std::optional<DeviceList>();
  return std::optional<DeviceList>(std::move(list).value());
}

Result<StorePutResp> Mailbox::set_devices(const DeviceList& list) {
  // An older version would lose the merge without a word; the writer has to
  // hear that its list is stale. Two writers of one version meet in the
  // store's check instead (the second does not raise the version).
  auto current = devices(list.owner);
  if (!current.ok()) return current.status();
  if (*current && (*current)->public_key == list.public_key && list.version <= (*current)->version)
    return Status::Forbidden("device list version " + std::to_string(list.version) +
                             " does not raise the stored version " + std::to_string((*current)->version) +
                             ": read the list again");
  return replicator_.put(Record{user_key(list.owner), std::string(kDeviceListSub), list.version, false, 0,
                                encode_device_list(list)});
}

Status Mailbox::check_device(std::string_view nick, std::string_view device, const std::optional<DeviceList>& list) {
  if (device.empty() || !list || list->devices.empty() || list->has(device)) return Status::Ok();
  return Status::Forbidden("device " + std::string(device) + " is not a device of '" + std::string(nick) +
                           "': it was removed from the account (log in again to add it back)");
}

Result<bool> Mailbox::acked_by_others(Id key, const DeviceList& list, std::string_view except, const EntrySub& entry,
                                      std::string* proof) {
  for (const auto& d : list.devices) {
    if (d.id == except) continue;
    auto a = read_item(replicator_, key, device_ack_sub(d.id, entry.id, entry.sender));
    if (!a.ok()) return a.status();
    if (!live(*a)) return false;
    if (proof != nullptr && proof->empty()) *proof = (*a)->payload;
  }
  return true;
}

Result<MailboxPage> Mailbox::list_here(std::string_view nick, std::string_view device, const std::string& after,
                                       std::uint32_t limit, std::int64_t now_ms) {
  const Id key = user_key(nick);
  auto list = devices(nick);
  if (!list.ok()) return list.status();
  if (Status st = check_device(nick, device, *list); !st.ok()) return st;
  // A device reads for itself even where no list is found: a device only
  // reads once it is listed, so no list here is a copy that missed it (a
  // new primary before anti-entropy), and the entries it acknowledged
  // stay hidden from it all the same.
  const bool per_device = !device.empty();
  const bool listed = list->has_value() && !(*list)->devices.empty();
  limit = std::clamp<std::uint32_t>(limit, 1, kMaxMailboxList);

  MailboxPage page;
  page.devices = *list ? static_cast<std::uint32_t>((*list)->devices.size()) : 0;
  std::vector<Record> done;  // entries every device has: their tombstones
  StoreScanReq req;
  req.key = key;
  req.prefix = std::string(kMailboxPrefix);
  // '~' sorts after every nickname character: past every sender of `after`.
  req.after = after.empty() ? std::string() : std::string(kMailboxPrefix) + after + "/~";
  req.limit = limit;
  // Entries this device already acknowledged are passed over; the scan goes
  // on until the page is full, bounded by the quota.
  for (std::uint32_t scanned = 0; page.messages.size() < limit && scanned <= opt_.quota;) {
    auto r = replicator_.handle(Request{req});
    if (!r.ok()) return r.status();
    auto* scan = std::get_if<StoreScanResp>(&*r);
    if (!scan) return Status::Internal("the store answered a scan with another kind of message");
    for (const auto& rec : scan->records) {
      ++scanned;
      req.after = rec.sub;
      if (page.messages.size() >= limit) {
        page.more = true;
        break;
      }
      if (per_device) {
        auto entry = parse_entry_sub(rec.sub);
        if (!entry.ok()) continue;
        auto mine = read_item(replicator_, key, device_ack_sub(device, entry->id, entry->sender));
        if (!mine.ok()) return mine.status();
        if (live(*mine)) {
          if (!listed) continue;
          std::string proof;
          auto all = acked_by_others(key, **list, device, *entry, &proof);
          if (!all.ok()) return all.status();
          if (*all)
            done.push_back(Record{key, rec.sub, kAckVersion, true, now_ms + opt_.ack_ttl_ms, (*mine)->payload});
          continue;
        }
      }
      auto env = decode_envelope(rec.payload);
      // A corrupt entry is skipped rather than blocking the whole mailbox.
      if (!env.ok()) continue;
      page.messages.push_back(std::move(env).value());
    }
    if (!scan->more || page.more) break;
    // A full page with more in the store: say so, as the store did.
    if (page.messages.size() >= limit) page.more = true;
  }
  // Best effort: an entry left here is found again by the next listing.
  if (!done.empty()) (void)replicator_.put_batch(done);
  return page;
}

Result<std::uint32_t> Mailbox::ack(std::string_view nick, std::string_view device, const std::vector<EntryAck>& acks,
                                   std::int64_t now_ms) {
  const Id key = user_key(nick);
  auto list = devices(nick);
  if (!list.ok()) return list.status();
  if (Status st = check_device(nick, device, *list); !st.ok()) return st;
  // As in list_here: a device acknowledges for itself alone where no list
  // is found; the entry goes when a listing or an ack at a node that has
  // the list sees every device's mark (or with its TTL).
  const bool per_device = !device.empty();
  const bool listed = list->has_value() && !(*list)->devices.empty();
  // Every item shares the owner's ring key, so all the writes go to the
  // primary and its replicas as one batch.
  std::vector<Record> writes;
  writes.reserve(acks.size());
  std::uint32_t live_entries = 0;
  for (const auto& a : acks) {
    const std::string sub = mailbox_entry_sub(a.id, a.from);
    auto rec = read_item(replicator_, key, sub);
    if (!rec.ok()) return rec.status();
    if (!live(*rec)) continue;
    ++live_entries;
    const std::string proof = encode_ack_proof(AckProof{std::string(nick), a.sig});
    if (per_device) {
      bool last = false;
      if (listed) {
        auto all = acked_by_others(key, **list, device, EntrySub{a.id, a.from}, nullptr);
        if (!all.ok()) return all.status();
        last = *all;
      }
      // This device's mark, expiring with the entry, while another device
      // still lacks it; from the last device, the tombstone alone (a mark
      // would only outlive the entry: a lone device writes one record per
      // ack, as before devices).
      if (!last) {
        writes.push_back(Record{key, device_ack_sub(device, a.id, a.from), kEntryVersion, false,
                                std::max((*rec)->expires_at, now_ms + 1), proof});
        continue;
      }
    }
    writes.push_back(Record{key, sub, kAckVersion, true, now_ms + opt_.ack_ttl_ms, proof});
  }
  if (writes.empty()) return 0u;
  auto put = replicator_.put_batch(writes);
  if (!put.ok()) return put.status();
  return live_entries;
}

}  // namespace dws::core
