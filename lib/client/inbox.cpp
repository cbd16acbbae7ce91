#include "client/inbox.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "client/hold_back.hpp"
#include "client/local_store.hpp"
#include "client/outbox.hpp"
#include "core/env.hpp"
#include "core/envelope.hpp"
#include "core/nickname.hpp"
#include "core/store.hpp"
#include "core/validation.hpp"
#include "crypto/box.hpp"

namespace dws::client {

namespace {

struct Opened {
  core::Envelope envelope;
  std::string text;
  std::optional<core::MessageId> prev;  // kText2: the sender's previous text to us
};

}  // namespace

Inbox::Inbox(LocalStore& store, std::mutex& store_mu, core::Clock& clock, HoldBack& hold, Outbox& outbox, Key key)
    : store_(store), mu_(store_mu), clock_(clock), hold_(hold), outbox_(outbox), key_(std::move(key)) {}

Result<Inbox::Page> Inbox::take(const Self& self, const std::vector<core::EnvelopeView>& listing,
                                const Deliver& deliver) {
  // Verify and open outside the lock: a sender's key may need the ring.
  std::vector<AckJson> ack;  // into the page once the held texts are out
  std::vector<Opened> texts;
  std::vector<SentCopy> copies;  // what the account's other devices sent
  std::vector<std::tuple<std::string, std::string, Delivery>> delivered;  // (peer, id, state)
  std::vector<RejectedEnvelope> rejected;
  const std::int64_t now_ms = clock_.wall_ms();
  for (const auto& view : listing) {
    // Every entry handled is acknowledged, each with our signature over
    // its mailbox key, which every replica checks before it drops it; an
    // entry without a valid id and sender cannot be, and expires.
    auto id = core::MessageId::parse(view.id);
    if (!id.ok() || !core::check_nickname(view.from).ok()) continue;
    const std::string sub = core::mailbox_entry_sub(*id, view.from);
    ack.push_back({view.id, view.from, crypto::sign(self.secret_key, core::ack_signing_bytes(self.nick, sub))});
    auto reject = [&](std::string why) { rejected.push_back({view.id, view.from, std::move(why), now_ms}); };
    auto envelope = core::from_view(view);
    if (!envelope.ok()) {
      reject("malformed envelope: " + envelope.status().message());
      continue;
    }
    if (envelope->to != self.nick) {
      reject("addressed to '" + envelope->to + "', not to '" + self.nick + "'");
      continue;
    }
    // The account's own envelopes (copies from its other devices) are
    // checked with its own key, which is no contact.
    auto key = envelope->from == self.nick ? Result<crypto::PublicKey>(self.public_key) : key_(envelope->from, false);
    if (!key.ok()) {
      if (key.status().code() == Code::kUnavailable) return key.status();  // try again later, unacked
      reject("the sender's key cannot be had: " + key.status().message());
      continue;
    }
    auto text = core::open_envelope(*envelope, self.secret_key, *key, self.cache);
    if (!text.ok()) {
      // Signed by another key than the pinned one: see whether the ring
      // shows a new key, so contacts() can report it.
      (void)key_(envelope->from, true);
      reject("does not verify or open: " + text.status().message());
      continue;
    }
    if (envelope->kind == core::Kind::kReceipt) {
      auto receipt = parse_receipt(*text);
      if (receipt.ok()) {
        auto moved = outbox_.apply_receipt(envelope->from, *receipt);
        if (!moved.ok()) return moved.status();
        for (auto& id : *moved)
          delivered.emplace_back(envelope->from, std::move(id), receipt->read ? Delivery::kRead : Delivery::kDelivered);
      }
      continue;
    }
    if (envelope->kind == core::Kind::kCopy) {
      if (envelope->from != self.nick) {
        reject("a copy of a sent message must come from '" + self.nick + "' itself, not from '" + envelope->from + "'");
        continue;
      }
      auto copy = decode_sent_copy(*text);
      if (!copy.ok()) {
        reject(copy.status().message());
        continue;
      }
      copies.push_back(std::move(copy).value());
      continue;
    }
    if (envelope->kind != core::Kind::kText && envelope->kind != core::Kind::kText2) continue;
    Opened o{std::move(envelope).value(), std::move(text).value(), std::nullopt};
    if (o.envelope.kind == core::Kind::kText2) {
      auto chained = decode_chained_text(o.text);
      if (!chained.ok()) {
        reject(chained.status().message());
        continue;
      }
      o.text = std::move(chained->text);
      o.prev = chained->prev;
    }
    texts.push_back(std::move(o));
  }

  // Store every new message, its chat and its seen mark in one
  // transaction before anything is acknowledged or handed out. With a
  // callback the mark is "pending" until the callback returns: a crash in
  // between brings the entry back (unacked) and the callback runs again,
  // without a second copy in the history.
  Page page;
  std::vector<Message>& fresh = page.fresh;
  std::set<std::pair<std::string, std::string>> held;  // (id, sender) of texts held back
  {
    std::lock_guard lock(mu_);
    core::WriteBatch b;
    std::map<std::string, ChatRow> chats;
    std::set<std::string> in_batch;
    const std::int64_t now = clock_.wall_ms();
    std::vector<Opened*> unseen;
    std::vector<Arrival> arrivals;
    for (auto& o : texts) {
      const std::string id = o.envelope.id.hex();
      auto seen = store_.seen_mark(id);
      if (!seen.ok()) return seen.status();
      if ((*seen && **seen) || !in_batch.insert(id).second) continue;
      if (*seen) {  // stored by a cycle that did not finish: hand it out again
        auto kept = store_.message(o.envelope.from, id);
        if (!kept.ok()) return kept.status();
        if (*kept) {
          if (!deliver) LocalStore::put_seen(b, id);
          fresh.push_back(std::move(**kept));
          continue;
        }
      }
      unseen.push_back(&o);
      arrivals.push_back({o.envelope.id, o.prev});
    }
    // Per-sender order: a text whose predecessor this device has not
    // handed out yet waits (unacknowledged) for a later listing.
    Status seen_error;
    const auto decisions = hold_.decide(
        arrivals,
        [&](const core::MessageId& prev) {
          auto mark = store_.seen_mark(prev.hex());
          if (!mark.ok()) seen_error = mark.status();
          return mark.ok() && mark->has_value();
        },
        now);
    if (!seen_error.ok()) return seen_error;
    for (const Decision& d : decisions) {
      Opened& o = *unseen[d.index];
      const std::string id = o.envelope.id.hex();
      if (d.verdict == Verdict::kHold) {
        held.emplace(id, o.envelope.from);
        continue;
      }
      Message m;
      m.id = id;
      m.from = o.envelope.from;
      m.to = o.envelope.to;
      m.sent_at = o.envelope.sent_at;
      m.received_at = now;
      m.text = std::move(o.text);
      m.state = Delivery::kReceived;
      auto it = chats.find(m.from);
      if (it == chats.end()) {
        auto row = store_.chat(m.from);
        if (!row.ok()) return row.status();
        it = chats.emplace(m.from, row->value_or(ChatRow{})).first;
      }
      it->second.last_id = std::max(it->second.last_id, id);
      it->second.unread += 1;
      it->second.activity_ms = std::max(it->second.activity_ms, now);
      LocalStore::put_message(b, m.from, m);
      if (deliver)
        LocalStore::put_pending(b, id);
      else
        LocalStore::put_seen(b, id);
      fresh.push_back(std::move(m));
    }
    for (const auto& [peer, row] : chats) LocalStore::put_chat(b, peer, row);
    // Kept aside in the same transaction, before the ack drops them.
    for (const auto& r : rejected) LocalStore::put_rejected(b, r);
    if (Status st = store_.raw().apply(b); !st.ok()) return st;
  }
  // A held text is neither acknowledged nor receipted: it is not here yet.
  std::erase_if(ack, [&](const AckJson& a) { return held.count({a.id, a.from}) != 0; });
  for (const auto& o : texts) {
    const std::string id = o.envelope.id.hex();
    if (held.count({id, o.envelope.from}) == 0) page.receipts[o.envelope.from].push_back(id);
  }
  page.only_held = !held.empty() && fresh.empty() && ack.empty();
  page.acks = std::move(ack);
  if (deliver && !fresh.empty()) {
    for (const auto& m : fresh) deliver(m);
    std::lock_guard lock(mu_);
    core::WriteBatch b;
    for (const auto& m : fresh) LocalStore::put_seen(b, m.id);
    if (Status st = store_.raw().apply(b); !st.ok()) return st;
  }
  // What the other devices sent joins the history as outgoing, once.
  if (!copies.empty()) {
    std::lock_guard lock(mu_);
    for (auto& c : copies) {
      const std::string id = c.id.hex();
      auto kept = store_.message(c.to, id);
      if (!kept.ok()) return kept.status();
      if (*kept) continue;
      Message m;
      m.id = id;
      m.from = self.nick;
      m.to = c.to;
      m.sent_at = c.sent_at;
      m.text = std::move(c.text);
      m.state = Delivery::kStored;
      m.outgoing = true;
      if (Status st = outbox_.record_locked(c.to, m); !st.ok()) return st;
      outbox_.note_state_locked(std::move(m));
      page.moved.emplace_back(c.to, id, Delivery::kStored);
    }
  }
  page.moved.insert(page.moved.end(), delivered.begin(), delivered.end());
  return page;
}

}  // namespace dws::client
