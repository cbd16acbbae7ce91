#include "dwhatsapp/client.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "client/api_client.hpp"
#include "client/client_json.hpp"
#include "client/hold_back.hpp"
#include "client/inbox.hpp"
#include "client/local_store.hpp"
#include "client/outbox.hpp"
#include "client/peer_keys.hpp"
#include "client/receipt_sender.hpp"
#include "client/receiver.hpp"
#include "client/request_auth.hpp"
#include "client/test_access.hpp"
#include "core/account.hpp"
#include "core/auth.hpp"
#include "core/devices.hpp"
#include "core/envelope.hpp"
#include "core/nickname.hpp"
#include "core/validation.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "net/devices_json.hpp"
#include "net/system_env.hpp"

namespace dws {

namespace {

constexpr int kMailboxLimit = 100;
constexpr int kMaxPollWaitS = 60;
// What an envelope holds besides the text: header, nicknames of up to 32
// bytes, nonce, MAC and signature stay under this, so a text of
// kMaxEnvelopeSize - kEnvelopeOverhead bytes always fits.
constexpr std::size_t kEnvelopeOverhead = 256 + client::kSentCopyOverhead;
// How far back mark_read looks for incoming messages not yet marked read.
constexpr int kReadScan = 500;
// How long a text whose predecessor from the same sender has not arrived is
// held back: three anti-entropy rounds at the nodes' default sync_ms, which
// is what brings a write that the new primary missed after a failover.
constexpr std::int64_t kHoldMs = 15'000;

std::size_t utf8_length(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

Status not_logged_in() {
  return Status::Unauthenticated("not logged in: register an account or log in first");
}

Status reply_status(const client::ApiReply& r) { return client::parse_error(r.status, r.body).status; }

}  // namespace

struct Client::Impl {
  // <data_dir>/LOCK, held with flock for the Client's life: two clients on
  // one directory would split the incoming messages between them. First
  // member, so it is released after everything else has closed.
  struct DataLock {
    int fd = -1;
    ~DataLock() {
      if (fd >= 0) ::close(fd);
    }
  } data_lock;

  // What a login unlocks. Immutable once made, shared with requests in
  // flight so that a logout never pulls a key from under them.
  struct Session {
    std::string nick;
    crypto::SecretKey secret_key;
    core::Account account;
    std::unique_ptr<crypto::BoxCache> cache;
    std::shared_ptr<client::RequestAuth> auth;  // signs, or MACs under a session per node
  };
  using SessionPtr = std::shared_ptr<const Session>;

  ClientOptions options;
  crypto::KdfLimits new_limits;
  std::unique_ptr<client::LocalStore> store;
  std::unique_ptr<client::ApiClient> api;
  net::SystemClock clock;
  net::RandomRng rng;
  core::MessageIdGenerator ids{clock, rng};

  // Client state; never held across an HTTP call.
  mutable std::mutex mu;
  // Made by open() once the store is: pins and re-checks, under `mu`.
  std::unique_ptr<client::PeerKeys> keys;
  SessionPtr session;
  std::string primary;                          // of the own mailbox, "" = ask
  // Where each recipient's mailbox lives, with when it was learnt: sends go
  // there directly and skip the entry node's forwarding hop.
  std::map<std::string, std::pair<std::string, std::int64_t>> peer_primary;
  std::function<void(const Message&)> callback;
  // Made by open() once the store is: records sent messages, drains the
  // outbox, applies receipts; under `mu`.
  std::unique_ptr<client::Outbox> outbox;
  // Made by open() too: a mailbox page into messages and store writes.
  std::unique_ptr<client::Inbox> inbox;
  // What start_receiving(ReceiveHandlers) adds; state changes wait in the
  // outbox for the next background cycle to hand them out.
  std::function<void(const Message&)> on_state;
  std::function<void(const Status&)> on_error;
  std::function<void(const std::string&, const std::string&, Delivery)> delivery_callback;
  std::function<void(bool)> connection_callback;
  bool is_reachable = true;
  std::atomic<bool> read_receipts{true};
  // This data directory's device (made once, kept in the store's meta) and
  // how many devices the account listed when last seen: with more than one,
  // every send also posts a copy to the account's own mailbox.
  std::string device_id;
  std::string device_name;
  std::atomic<std::uint32_t> device_count{0};
  std::atomic<bool> joined{false};  // this session listed the device (or found it listed)

  // Serializes receive cycles (background and explicit) so that the
  // application sees messages in mailbox order. Held across HTTP, but it
  // guards no state.
  std::mutex receive_mu;
  // Test hook: runs after a receive cycle's local commit (and callbacks),
  // before the ack; false aborts the cycle there, as a crash would.
  std::function<bool()> before_ack;
  // Texts held back until their sender's previous one is handed out;
  // guarded by mu.
  client::HoldBack hold{kHoldMs};
  std::mutex receiver_mu;  // guards `receiver`
  std::unique_ptr<client::Receiver> receiver;

  // Declared last: destroyed first, so its thread, which reads the
  // session and posts through `api`, ends before they go.
  std::unique_ptr<client::ReceiptSender> receipts;

  Impl()
      : receipts(std::make_unique<client::ReceiptSender>(
            [this](const std::string& peer, const client::Receipt& r) { return send_receipt(peer, r); })) {}
  ~Impl() { receipts->stop(); }

  SessionPtr current() const {
    std::lock_guard lock(mu);
    return session;
  }

  std::shared_ptr<client::Authorizer> signer(const SessionPtr& s) { return s->auth; }

  Status establish(const core::Account& account, const crypto::SecretKey& secret_key) {
    auto s = std::make_shared<Session>();
    s->nick = account.nickname;
    s->secret_key = secret_key;
    s->account = account;
    s->cache = std::make_unique<crypto::BoxCache>(secret_key);
    s->auth = client::RequestAuth::create(*api, clock, account.nickname, secret_key, options.request_sessions);
    std::lock_guard lock(mu);
    if (Status st = store->save_account(account); !st.ok()) return st;
    if (Status st = store->save_secret(secret_key); !st.ok()) return st;
    session = std::move(s);
    primary.clear();
    joined = false;
    return Status::Ok();
  }

  // --- Devices ----------------------------------------------------------------

  // The list as the ring holds it, checked: signed by the account's own
  // key, for this account. nullopt: the account lists no devices yet.
  Result<std::optional<core::DeviceList>> fetch_devices(const SessionPtr& s) {
    auto r = api->call_any({"GET", "/v1/devices", "", signer(s), 0});
    if (!r.ok()) return r.status();
    if (r->status != 200) return reply_status(*r);
    auto doc = r->body;
    if (doc == R"({"list":null})") return std::optional<core::DeviceList>();
    constexpr std::string_view kOpen = R"({"list":)";
    if (doc.size() < kOpen.size() + 1 || doc.compare(0, kOpen.size(), kOpen) != 0 || doc.back() != '}')
      return Status::Unavailable("the answer of " + r->server + " to GET /v1/devices is malformed");
    auto list = net::parse_device_list_json(std::string_view(doc).substr(kOpen.size(), doc.size() - kOpen.size() - 1));
    if (!list.ok()) return Status::Unavailable("the answer of " + r->server + ": " + list.status().message());
    if (list->owner != s->nick || list->public_key != s->account.public_key ||
        !core::verify_device_list(*list).ok())
      return Status::Unauthenticated("the device list " + r->server + " answered is not signed by '" + s->nick + "'");
    return std::optional<core::DeviceList>(std::move(list).value());
  }

  void note_device_count(std::size_t n) {
    device_count = static_cast<std::uint32_t>(n);
    std::lock_guard lock(mu);
    (void)store->raw().put_meta("device_count", std::to_string(n));
  }

  // Reads the list, applies `change` (false: nothing to write), signs and
  // stores it; another device's change in between (the version did not
  // rise) starts over from the new list.
  Result<core::DeviceList> change_devices(const SessionPtr& s,
                                          const std::function<Result<bool>(core::DeviceList&)>& change) {
    Status last;
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto current = fetch_devices(s);
      if (!current.ok()) return current.status();
      core::DeviceList list = current->value_or(core::DeviceList{});
      list.owner = s->nick;
      auto changed = change(list);
      if (!changed.ok()) return changed.status();
      if (!*changed) return list;
      list.version += 1;
      core::sign_device_list(list, s->secret_key);
      auto r = api->call_any({"PUT", "/v1/devices", net::device_list_json(list), signer(s), 0});
      if (!r.ok()) return r.status();
      if (r->status == 200) return list;
      last = reply_status(*r);
      if (last.code() != Code::kForbidden || last.message().find("does not raise") == std::string::npos) return last;
    }
    return Status::Unavailable("the device list of '" + s->nick + "' kept changing while this device wrote it: " +
                               last.message());
  }

  // Lists this device in the account's devices (a login's last step).
  Status join_devices(const SessionPtr& s) {
    auto list = change_devices(s, [&](core::DeviceList& l) -> Result<bool> {
      if (l.has(device_id)) return false;
      if (l.devices.size() >= core::kMaxDevices)
        return Status::Forbidden(fmt::format(
            "'{}' already has {} devices, the most an account can have: remove one on another device "
            "(dws-chat devices --remove ID) and log in again",
            s->nick, l.devices.size()));
      l.devices.push_back(core::Device{device_id, device_name, clock.wall_ms()});
      return true;
    });
    if (!list.ok()) return list.status();
    note_device_count(list->devices.size());
    joined = true;
    // Remembered: a later process on this directory must not list the
    // device again after another device removed it (only a login does).
    std::lock_guard lock(mu);
    if (Status st = store->raw().put_meta("device_listed_version", std::to_string(list->version)); !st.ok()) return st;
    return store->raw().put_meta("device_listed", s->nick);
  }

  // Whether a process before this one listed the device for `nick`.
  bool listed_before(const std::string& nick) {
    std::lock_guard lock(mu);
    auto m = store->raw().get_meta("device_listed");
    return m.ok() && *m && **m == nick;
  }

  void forget_listed() {
    std::lock_guard lock(mu);
    (void)store->raw().put_meta("device_listed", "");
  }

  // The device was removed by another: forget the key, as a logout does
  // (the receiver, if any, finds no session on its next cycle).
  Status removed(const SessionPtr& s, const Status& why) {
    // A node that became the primary before the list reached it may hold
    // an older list, one from before this device was added: only a list at
    // least as new as the one this device joined, without it, is a removal.
    std::uint64_t joined_at = 0;
    {
      std::lock_guard lock(mu);
      if (auto v = store->raw().get_meta("device_listed_version"); v.ok() && *v)
        joined_at = std::strtoull((*v)->c_str(), nullptr, 10);
    }
    auto now = fetch_devices(s);
    if (!now.ok() || !*now || (*now)->has(device_id) || (*now)->version < joined_at)
      return Status::Unavailable("the ring's device list of '" + s->nick + "' is not settled yet (" +
                                 why.message() + "); retry shortly");
    {
      std::lock_guard lock(mu);
      if (session == s) {
        session.reset();
        primary.clear();
        (void)store->remove_secret();
        (void)store->raw().put_meta("device_listed", "");
      }
    }
    return Status::Forbidden("this device (" + device_id + ") was removed from the account '" + s->nick +
                             "' and is logged out; log in again to add it back (" + why.message() + ")");
  }

  // --- Users ------------------------------------------------------------------

  Result<core::PublicAccount> fetch_user(const std::string& nick) {
    auto r = api->call_any({"GET", "/v1/users/" + nick, "", nullptr, 0});
    if (!r.ok()) return r.status();
    if (r->status != 200) return reply_status(*r);
    auto view = client::parse_account_view(r->body);
    if (!view.ok()) return view.status();
    auto checked_view = core::verify_view(*view);
    if (!checked_view.ok())
      return Status::Unauthenticated(
          fmt::format("the record of '{}' from {} does not verify: {}", nick, r->server, checked_view.status().message()));
    if (checked_view->nickname != nick)
      return Status::Unauthenticated(
          fmt::format("asked {} for '{}' and got the record of '{}'", r->server, nick, checked_view->nickname));
    return std::move(checked_view).value();
  }

  Result<crypto::PublicKey> peer_key(const std::string& nick, bool recheck) { return keys->key(nick, recheck); }

  // --- Messages ---------------------------------------------------------------

  // Posts one envelope, trying the servers in turn; a retry carries the same
  // envelope (same id), so the mailbox stores it once.
  Status post_envelope(const SessionPtr& s, const core::Envelope& envelope) {
    return post_body(s, envelope.to, client::envelope_json(envelope));
  }

  Status post_body(const SessionPtr& s, const std::string& to, const std::string& body) {
    const client::ApiRequest req{"POST", "/v1/messages", body, signer(s), 0};
    // Straight to the recipient's primary when known; any trouble there
    // (gone, moved, busy) drops the cached address and falls back to any
    // server, which forwards (call_any retries with backoff).
    if (const std::string where = recipient_primary(to); !where.empty()) {
      auto direct = api->call(where, req);
      if (direct.ok() && (direct->status == 200 || direct->status == 201)) return Status::Ok();
      if (direct.ok() && direct->status != 503 && direct->status != 421) return reply_status(*direct);
      std::lock_guard lock(mu);
      peer_primary.erase(to);
    }
    auto r = api->call_any(req);
    if (!r.ok()) return r.status();
    if (r->status != 200 && r->status != 201) return reply_status(*r);
    return Status::Ok();
  }

  // The primary of `nick`'s mailbox, cached for kPeerPrimaryTtlMs; "" when
  // it cannot be learnt now (the caller then goes through any server).
  std::string recipient_primary(const std::string& nick) {
    constexpr std::int64_t kPeerPrimaryTtlMs = 30'000;
    const std::int64_t now = clock.monotonic_ms();
    {
      std::lock_guard lock(mu);
      auto it = peer_primary.find(nick);
      if (it != peer_primary.end() && now - it->second.second < kPeerPrimaryTtlMs) return it->second.first;
    }
    auto r = api->call_any({"GET", "/v1/users/" + nick + "/node", "", nullptr, 0});
    if (!r.ok() || r->status != 200) return "";
    auto address = client::parse_node_address(r->body);
    if (!address.ok()) return "";
    std::lock_guard lock(mu);
    if (peer_primary.size() >= 10'000) peer_primary.clear();  // bounded; it refills on demand
    peer_primary[nick] = {*address, now};
    return *address;
  }

  Result<SendResult> send(const std::string& typed_to, const std::string& text) {
    SessionPtr s = current();
    if (!s) return not_logged_in();
    if (blank(text)) return Status::InvalidArgument("the message is blank: type some text to send");
    if (text.size() > max_text_bytes())
      return Status::PayloadTooLarge(fmt::format(
          "the message is {} characters ({} bytes): at most {} bytes fit, that is {} characters of plain ASCII; "
          "send it in parts",
          utf8_length(text), text.size(), max_text_bytes(), max_text_bytes()));
    auto to = resolve(typed_to);
    if (!to.ok()) return to.status();
    auto key = peer_key(*to, true);
    note_reachable(key.status());
    if (!key.ok()) return key.status();
    client::ChainedText chained{std::nullopt, text};
    {
      std::lock_guard lock(mu);
      auto last = store->last_sent(*to);
      if (!last.ok()) return last.status();
      if (*last) chained.prev = core::MessageId::parse(**last).value();
    }
    const core::MessageId id = ids.next();
    const std::int64_t sent_at = clock.wall_ms();
    auto envelope = core::seal_envelope(s->secret_key, s->nick, *to, *key, core::Kind::kText2,
                                        client::encode_chained_text(chained), id, sent_at, s->cache.get());
    if (!envelope.ok()) return envelope.status();

    Message m;
    m.id = id.hex();
    m.from = s->nick;
    m.to = *to;
    m.sent_at = sent_at;
    m.text = text;
    m.outgoing = true;
    const std::string body = client::envelope_json(*envelope);
    // The account's other devices get a copy through its own mailbox.
    std::optional<client::OutboxEntry> copy;
    if (device_count > 1 && *to != s->nick) {
      auto sealed = core::seal_envelope(s->secret_key, s->nick, s->nick, s->account.public_key, core::Kind::kCopy,
                                        client::encode_sent_copy({*to, id, sent_at, text}), ids.next(), sent_at,
                                        s->cache.get());
      if (!sealed.ok()) return sealed.status();
      copy = client::OutboxEntry{sealed->id.hex(), s->nick, client::envelope_json(*sealed)};
    }
    // What is queued leaves first, so a conversation keeps its order: while
    // the outbox cannot drain, this message joins it.
    auto flushed = flush_outbox(s);
    Status posted = flushed.ok() ? post_body(s, *to, body) : flushed.status();
    note_reachable(posted);
    if (!posted.ok() && posted.code() != Code::kUnavailable) return posted;
    // The copy waits in the outbox when it cannot leave now.
    const bool copy_waits = copy && (!posted.ok() || !post_body(s, s->nick, copy->body).ok());

    std::lock_guard lock(mu);
    if (copy_waits && posted.ok()) {
      core::WriteBatch b;
      client::LocalStore::put_outbox(b, *copy);
      (void)store->raw().apply(b);
    }
    if (!posted.ok()) {
      m.state = Delivery::kQueued;
      core::WriteBatch b;
      client::LocalStore::put_outbox(b, {m.id, *to, body});
      if (copy) client::LocalStore::put_outbox(b, *copy);
      if (Status st = outbox->record_locked(*to, m, &b); !st.ok())
        return Status::Internal("no server was reachable and message " + m.id +
                                " could not be queued either: " + st.message());
      return SendResult{m.id, Delivery::kQueued};
    }
    m.state = Delivery::kStored;
    if (Status st = outbox->record_locked(*to, std::move(m)); !st.ok())
      return Status::Internal("the ring stored message " + id.hex() + " but the local history did not: " +
                              st.message());
    return SendResult{id.hex(), Delivery::kStored};
  }

  // Drains the outbox as session `s`, which its posts keep.
  Result<int> flush_outbox(const SessionPtr& s) {
    return outbox->flush(
        [this, &s](const std::string& peer, const std::string& body) { return post_body(s, peer, body); });
  }

  // Records whether the ring answered, and tells the application when that
  // changes. A non-network error (a refusal) still means the ring answered.
  void note_reachable(const Status& st) {
    const bool now = st.code() != Code::kUnavailable;
    std::function<void(bool)> cb;
    {
      std::lock_guard lock(mu);
      if (now == is_reachable) return;
      is_reachable = now;
      cb = connection_callback;
    }
    if (cb) cb(now);
  }

  Result<std::string> resolve(const std::string& name) const {
    auto nick = core::fold_nickname(name);
    std::lock_guard lock(mu);
    if (nick.ok()) {
      auto alias = store->contact_alias(*nick);
      if (!alias.ok()) return alias.status();
      if (*alias) return *nick;
    }
    auto list = store->contact_list();
    if (!list.ok()) return list.status();
    auto lower = [](std::string v) {
      for (char& c : v) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      return v;
    };
    const std::string wanted = lower(name);
    for (const auto& [n, alias] : *list)
      if (!alias.empty() && lower(alias) == wanted) return n;
    if (!nick.ok())
      return Status::InvalidArgument(nick.status().message() + " (and no contact has it as alias)");
    return *nick;
  }

  Result<std::string> find_primary(const SessionPtr& s) {
    {
      std::lock_guard lock(mu);
      if (!primary.empty()) return primary;
    }
    auto r = api->call_any({"GET", "/v1/users/" + s->nick + "/node", "", nullptr, 0});
    if (!r.ok()) return r.status();
    if (r->status != 200) return reply_status(*r);
    auto address = client::parse_node_address(r->body);
    if (!address.ok()) return address.status();
    std::lock_guard lock(mu);
    primary = *address;
    return primary;
  }

  void set_primary(const std::string& address) {
    std::lock_guard lock(mu);
    primary = address;
  }

  // GET /v1/mailbox at the primary, following 421s and failovers and
  // waiting out a settling ring, with backoff, within the retry budget.
  Result<client::MailboxReply> fetch_mailbox(const SessionPtr& s, int wait_s, client::Cancel* cancel) {
    const std::string target = fmt::format("/v1/mailbox?wait={}&limit={}&device={}", wait_s, kMailboxLimit, device_id);
    constexpr int kMaxAttempts = 8;
    Status last;
    const std::int64_t start = clock.monotonic_ms();
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      if (attempt > 0) {
        const int pause = client::ApiClient::backoff_ms(attempt);
        if (clock.monotonic_ms() + pause - start > api->retry_budget_ms()) break;
        if (cancel != nullptr && cancel->cancelled()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(pause));
      }
      auto where = find_primary(s);
      if (!where.ok()) return where.status();
      client::ApiRequest req{"GET", target, "", signer(s), wait_s * 1000 + options.request_timeout_ms};
      auto r = api->call(*where, req, cancel);
      if (!r.ok()) {
        if (cancel != nullptr && cancel->cancelled()) return r.status();
        last = r.status();
        set_primary("");  // it may be gone: ask the ring again
        continue;
      }
      if (r->status == 421) {
        auto err = client::parse_error(r->status, r->body);
        last = err.status;
        set_primary(err.primary);
        continue;
      }
      if (r->status == 503) {  // settling, or a range moving: ask again shortly
        last = reply_status(*r);
        set_primary("");
        continue;
      }
      if (r->status == 403) return removed(s, reply_status(*r));
      if (r->status != 200) return reply_status(*r);
      api->note_success(*where);
      auto box = client::parse_mailbox(r->body);
      if (box.ok() && box->devices != device_count) note_device_count(box->devices);
      return box;
    }
    return Status::Unavailable("cannot reach the mailbox's primary: " + last.message());
  }

  // Receive cycles until one hands something out, fails, or finds nothing
  // but held texts. Held texts stay live in the mailbox, so the long poll
  // answers at once while they are there: then this waits (backing off from
  // 250 ms to 2 s, never past the earliest hold's end nor the caller's
  // wait) and lists again, instead of spinning on the same listing.
  Result<std::vector<Message>> receive(int wait_s, client::Cancel* cancel,
                                       const std::function<void(const Message&)>& deliver = {}) {
    wait_s = std::clamp(wait_s, 0, kMaxPollWaitS);
    const std::int64_t end = clock.monotonic_ms() + std::int64_t{wait_s} * 1000;
    for (int round = 0;; ++round) {
      bool only_held = false;
      const int left_s = static_cast<int>(std::max<std::int64_t>(0, end - clock.monotonic_ms()) / 1000);
      auto got = receive_cycle(round == 0 ? wait_s : left_s, cancel, deliver, &only_held);
      if (!got.ok() || !got->empty() || !only_held) return got;
      std::int64_t pause = std::min<std::int64_t>(250LL << std::min(round, 3), end - clock.monotonic_ms());
      {
        std::lock_guard lock(mu);
        if (auto release = hold.next_release()) pause = std::min(pause, *release - clock.wall_ms() + 1);
      }
      if (pause <= 0 && end <= clock.monotonic_ms()) return got;
      for (const std::int64_t until = clock.monotonic_ms() + std::max<std::int64_t>(pause, 0);
           clock.monotonic_ms() < until;) {
        if (cancel != nullptr && cancel->cancelled()) return got;
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<std::int64_t>(50, until - clock.monotonic_ms())));
      }
    }
  }

  // One cycle: the fetch, the page through the inbox, the ack, the
  // receipts and delivery callbacks. `deliver` (the application's callback)
  // runs once per new message after the local commit and before the ack: a
  // crash in between brings the entries back, and the seen set hides them.
  // `only_held`: the listing held texts back and the cycle handed out and
  // acknowledged nothing.
  Result<std::vector<Message>> receive_cycle(int wait_s, client::Cancel* cancel,
                                             const std::function<void(const Message&)>& deliver, bool* only_held) {
    std::lock_guard cycle(receive_mu);
    SessionPtr s = current();
    if (!s) return not_logged_in();
    wait_s = std::clamp(wait_s, 0, kMaxPollWaitS);
    // Any call that reaches the ring drains the outbox; this one is the
    // background receiver's way back after an outage.
    if (outbox->pending()) (void)flush_outbox(s);
    // Listed first: the ring keeps entries for listed devices only. A
    // device listed by an earlier process is not listed again here: if
    // another device removed it since, the fetch says so.
    if (!joined) {
      if (listed_before(s->nick)) {
        joined = true;
      } else if (Status st = join_devices(s); !st.ok()) {
        return st;
      }
    }
    auto box = fetch_mailbox(s, wait_s, cancel);
    if (!box.ok()) return box.status();

    auto page = inbox->take({s->nick, s->secret_key, s->account.public_key, s->cache.get()}, box->messages, deliver);
    if (!page.ok()) return page.status();
    if (only_held != nullptr) *only_held = page->only_held;

    std::function<bool()> hook;
    {
      std::lock_guard lock(mu);
      hook = before_ack;
    }
    if (hook && !hook()) return Status::Internal("receive cycle aborted before the ack (test hook)");

    if (!page->acks.empty()) {
      client::ApiRequest req{"POST", "/v1/mailbox/ack", client::acks_json(page->acks, device_id), signer(s), 0};
      std::string where;
      {
        std::lock_guard lock(mu);
        where = primary;
      }
      // Any node accepts an ack; a failed one only means the entries come
      // back and the seen set drops them.
      auto r = where.empty() ? api->call_any(req) : api->call(where, req);
      if (!where.empty() && (!r.ok() || r->status == 503)) (void)api->call_any(req);
    }
    if (!page->receipts.empty()) receipts->queue(page->receipts, false);
    if (!page->moved.empty()) {
      std::function<void(const std::string&, const std::string&, Delivery)> cb;
      {
        std::lock_guard lock(mu);
        cb = delivery_callback;
      }
      if (cb)
        for (const auto& [peer, id, state] : page->moved) cb(peer, id, state);
    }
    return std::move(page->fresh);
  }

  // kUnavailable when the ring could not take it now (the caller tries
  // again later); any other failure is final for this receipt.
  // No session (logged out meanwhile): final, the receipt is dropped.
  Status send_receipt(const std::string& peer, const client::Receipt& receipt) {
    SessionPtr s = current();
    if (!s) return not_logged_in();
    auto key = peer_key(peer, false);
    if (!key.ok()) return key.status();
    auto envelope = core::seal_envelope(s->secret_key, s->nick, peer, *key, core::Kind::kReceipt,
                                        client::receipt_json(receipt), ids.next(), clock.wall_ms(), s->cache.get());
    if (!envelope.ok()) return envelope.status();
    return post_envelope(s, *envelope);
  }

  Status cycle(client::Cancel& cancel) {
    std::function<void(const Message&)> cb;
    {
      std::lock_guard lock(mu);
      cb = callback;
    }
    auto got = receive(options.poll_wait_s, &cancel, cb);
    if (!cancel.cancelled()) note_reachable(got.status());
    std::function<void(const Message&)> state_cb;
    std::function<void(const Status&)> error_cb;
    std::vector<Message> changes;
    {
      std::lock_guard lock(mu);
      state_cb = on_state;
      error_cb = on_error;
      changes = outbox->take_state_changes_locked();
    }
    if (!got.ok()) {
      if (error_cb && !cancel.cancelled()) error_cb(got.status());
    }
    if (state_cb)
      for (const auto& m : changes) state_cb(m);
    return got.status();
  }

  void stop_receiver() {
    std::unique_ptr<client::Receiver> r;
    {
      std::lock_guard lock(receiver_mu);
      r = std::move(receiver);
    }
    if (r) r->stop();
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() { impl_->stop_receiver(); }

Result<std::unique_ptr<Client>> Client::open(ClientOptions options) {
  auto impl = std::make_unique<Impl>();
  if (options.data_dir.empty()) return Status::InvalidArgument("no data directory given");
  // The lock comes before LMDB, which must not be opened twice in one process.
  if (Status st = client::LocalStore::make_data_dir(options.data_dir); !st.ok()) return st;
  const std::string lock_path = options.data_dir + "/LOCK";
  impl->data_lock.fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (impl->data_lock.fd < 0)
    return Status::Internal(fmt::format("cannot open {}: {}", lock_path, std::strerror(errno)));
  if (::flock(impl->data_lock.fd, LOCK_EX | LOCK_NB) != 0)
    return Status::Unavailable(fmt::format(
        "the data directory {} is in use by another dws-chat (or another program on this account): close that "
        "one first, or use another data directory",
        options.data_dir));
  auto store = client::LocalStore::open(options.data_dir);
  if (!store.ok()) return store.status();
  impl->store = std::move(store).value();
  Impl* raw = impl.get();
  impl->keys = std::make_unique<client::PeerKeys>(*impl->store, impl->mu, impl->clock,
                                                  [raw](const std::string& nick) { return raw->fetch_user(nick); });
  impl->outbox = std::make_unique<client::Outbox>(
      *impl->store, impl->mu, impl->clock, [raw](const std::string& peer, const std::string& id, Delivery state) {
        std::function<void(const std::string&, const std::string&, Delivery)> cb;
        {
          std::lock_guard lock(raw->mu);
          cb = raw->delivery_callback;
        }
        if (cb) cb(peer, id, state);
      });
  impl->inbox = std::make_unique<client::Inbox>(
      *impl->store, impl->mu, impl->clock, impl->hold, *impl->outbox,
      [raw](const std::string& nick, bool recheck) { return raw->peer_key(nick, recheck); });
  impl->new_limits = crypto::KdfLimits::interactive();
  if (options.kdf_opslimit != 0) impl->new_limits.opslimit = options.kdf_opslimit;
  if (options.kdf_memlimit != 0) impl->new_limits.memlimit = options.kdf_memlimit;
  if (Status s = crypto::check_limits(impl->new_limits); !s.ok()) return s;
  if (options.poll_wait_s < 0) options.poll_wait_s = 0;
  if (options.request_timeout_ms <= 0) options.request_timeout_ms = 5000;
  client::ApiOptions ao;
  ao.servers = options.servers;
  ao.ring_name = options.ring_name;
  ao.discovery_port = options.discovery_port;
  ao.request_timeout_ms = options.request_timeout_ms;
  ao.tls_ca = options.tls_ca;
  ao.discovery_broadcast = options.discovery_broadcast;
  impl->api = std::make_unique<client::ApiClient>(*impl->store, std::move(ao));
  impl->read_receipts = options.read_receipts;
  auto setting = impl->store->raw().get_meta("read_receipts");
  if (!setting.ok()) return setting.status();
  if (*setting && **setting == "off") impl->read_receipts = false;
  // This data directory's device id, made once.
  auto device = impl->store->raw().get_meta("device_id");
  if (!device.ok()) return device.status();
  if (*device && core::check_device_id(**device).ok()) {
    impl->device_id = **device;
  } else {
    impl->device_id = fmt::format("{:016x}", impl->rng.next());
    if (Status st = impl->store->raw().put_meta("device_id", impl->device_id); !st.ok()) return st;
  }
  impl->device_name = options.device_name;
  if (impl->device_name.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) impl->device_name = host;
    if (impl->device_name.size() > core::kMaxDeviceNameBytes || !core::check_device_name(impl->device_name).ok())
      impl->device_name = "device";
  } else if (Status st = core::check_device_name(impl->device_name); !st.ok()) {
    return Status::InvalidArgument("ClientOptions::device_name: " + st.message());
  }
  if (auto n = impl->store->raw().get_meta("device_count"); n.ok() && *n)
    impl->device_count = static_cast<std::uint32_t>(std::strtoul((*n)->c_str(), nullptr, 10));
  impl->options = std::move(options);

  // A previous login on this data directory is still unlocked.
  auto account = impl->store->account();
  if (!account.ok()) return account.status();
  auto secret = impl->store->load_secret();
  if (!secret.ok()) return secret.status();
  if (*account && *secret && crypto::public_key_of(**secret) == (*account)->public_key) {
    if (Status s = impl->establish(**account, **secret); !s.ok()) return s;
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

namespace {

// A data directory keeps one account's history, contacts and chats:
// another account there would show them as its own.
Status check_same_account(client::LocalStore& store, const std::string& typed) {
  auto nick = core::fold_nickname(typed);
  if (!nick.ok()) return nick.status();
  auto account = store.account();
  if (!account.ok()) return account.status();
  if (*account && (*account)->nickname != *nick)
    return Status::Exists(fmt::format(
        "the data directory {} holds the account '{}' (its chats and contacts): use another data directory for "
        "'{}'",
        store.data_dir(), (*account)->nickname, *nick));
  return Status::Ok();
}

}  // namespace

Status Client::register_account(const std::string& nickname, const std::string& password,
                                const std::string& display_name) {
  if (Status st = check_same_account(*impl_->store, nickname); !st.ok()) return st;
  auto made = core::make_account(nickname, password, display_name, 1, impl_->new_limits);
  if (!made.ok()) return made.status();
  auto r = impl_->api->call_any({"POST", "/v1/users", client::account_json(made->record), nullptr, 0});
  if (!r.ok()) return r.status();
  if (r->status != 201 && r->status != 200) return reply_status(*r);
  if (Status st = impl_->establish(made->record, made->secret_key); !st.ok()) return st;
  // The first device; if the ring cannot take the list now, the first
  // receive cycle lists it.
  (void)impl_->join_devices(impl_->current());
  return Status::Ok();
}

Status Client::login(const std::string& nickname, const std::string& password) {
  if (Status st = check_same_account(*impl_->store, nickname); !st.ok()) return st;
  auto nick = core::fold_nickname(nickname);
  if (!nick.ok()) return nick.status();
  const Status wrong = Status::Unauthenticated("wrong nickname or password");
  auto r = impl_->api->call_any({"GET", "/v1/users/" + *nick + "/kdf", "", nullptr, 0});
  if (!r.ok()) return r.status();
  if (r->status == 404) return wrong;
  if (r->status != 200) return reply_status(*r);
  auto kdf = client::parse_kdf(r->body);
  if (!kdf.ok()) return kdf.status();
  auto keys = core::derive_keys(password, *kdf);
  if (!keys.ok()) return keys.status();

  r = impl_->api->call_any(
      {"POST", "/v1/login", client::login_json(*nick, keys->auth_key.span()), nullptr, 0});
  if (!r.ok()) return r.status();
  if (r->status == 401) return wrong;
  if (r->status == 429) {
    Status s = reply_status(*r);
    return Status::RateLimited(s.message());
  }
  if (r->status != 200) return reply_status(*r);
  auto reply = client::parse_login(r->body);
  if (!reply.ok()) return reply.status();
  auto secret = core::open_secret(reply->sealed_secret, reply->public_key, *keys);
  if (!secret.ok()) return wrong;

  // The full record (for later signed updates): the public part from the
  // ring, the private part from this login, checked by its signature.
  r = impl_->api->call_any({"GET", "/v1/users/" + *nick, "", nullptr, 0});
  if (!r.ok()) return r.status();
  if (r->status != 200) return reply_status(*r);
  auto view = client::parse_account_view(r->body);
  if (!view.ok()) return view.status();
  auto signature = crypto::from_base64_fixed<crypto::kSignatureSize>(view->signature, "signature");
  if (!signature.ok()) return Status::Unavailable("server answer: signature " + signature.status().message());
  core::Account account;
  account.nickname = *nick;
  account.public_key = reply->public_key;
  account.salt = kdf->salt;
  account.limits = kdf->limits;
  account.auth_hash = crypto::auth_hash_of(keys->auth_key);
  account.sealed_secret = reply->sealed_secret;
  account.display_name = view->display_name;
  account.version = view->version;
  account.signature = *signature;
  if (!core::verify_account(account).ok())
    return Status::Unavailable("the account of '" + *nick + "' changed during the login: log in again");
  if (Status st = impl_->establish(account, *secret); !st.ok()) return st;
  // This device joins the account's devices; one too many is refused here,
  // anything else is retried by the first receive cycle.
  if (Status st = impl_->join_devices(impl_->current()); !st.ok() && st.code() == Code::kForbidden) {
    (void)logout();
    return st;
  }
  return Status::Ok();
}

Result<std::vector<DeviceInfo>> Client::devices() {
  auto s = impl_->current();
  if (!s) return not_logged_in();
  auto list = impl_->fetch_devices(s);
  impl_->note_reachable(list.status());
  if (!list.ok()) return list.status();
  std::vector<DeviceInfo> out;
  if (!*list) return out;
  impl_->note_device_count((*list)->devices.size());
  for (const auto& d : (*list)->devices) out.push_back({d.id, d.name, d.added_at, d.id == impl_->device_id});
  return out;
}

Status Client::remove_device(const std::string& id) {
  auto s = impl_->current();
  if (!s) return not_logged_in();
  if (Status st = core::check_device_id(id); !st.ok()) return st;
  auto list = impl_->change_devices(s, [&](core::DeviceList& l) -> Result<bool> {
    auto it = std::find_if(l.devices.begin(), l.devices.end(), [&](const core::Device& d) { return d.id == id; });
    if (it == l.devices.end())
      return Status::NotFound("'" + s->nick + "' has no device " + id + ": see dws-chat devices for the list");
    l.devices.erase(it);
    return true;
  });
  impl_->note_reachable(list.status());
  if (!list.ok()) return list.status();
  impl_->note_device_count(list->devices.size());
  if (id == impl_->device_id) return logout();
  return Status::Ok();
}

std::string Client::device_id() const { return impl_->device_id; }

Status Client::logout() {
  impl_->stop_receiver();
  // Off the account's devices, so the ring keeps nothing waiting for this
  // one; best effort: without the ring the device stays listed until
  // another device removes it (devices(), remove_device()).
  if (auto s = impl_->current(); s && impl_->joined) {
    (void)impl_->change_devices(s, [&](core::DeviceList& l) -> Result<bool> {
      auto it = std::find_if(l.devices.begin(), l.devices.end(),
                             [&](const core::Device& d) { return d.id == impl_->device_id; });
      if (it == l.devices.end()) return false;
      l.devices.erase(it);
      return true;
    });
  }
  impl_->joined = false;
  impl_->forget_listed();
  if (auto s = impl_->current()) s->auth->close_all();
  std::lock_guard lock(impl_->mu);
  impl_->session.reset();
  impl_->primary.clear();
  return impl_->store->remove_secret();
}

std::optional<std::string> Client::whoami() const {
  auto s = impl_->current();
  if (!s) return std::nullopt;
  return s->nick;
}

std::string Client::safety_number() const {
  auto s = impl_->current();
  if (!s) return "";
  return safety_number_of(crypto::to_base64(s->account.public_key));
}

const char* delivery_name(Delivery state) {
  switch (state) {
    case Delivery::kSending: return "sending";
    case Delivery::kStored: return "stored";
    case Delivery::kDelivered: return "delivered";
    case Delivery::kReceived: return "received";
    case Delivery::kRead: return "read";
    case Delivery::kQueued: return "queued";
  }
  return "";
}

std::string safety_number_of(const std::string& public_key) {
  auto key = crypto::from_base64_fixed<crypto::kPublicKeySize>(public_key, "public key");
  if (!key.ok()) return "";
  const std::string_view bytes(reinterpret_cast<const char*>(key->data()), key->size());
  const crypto::Hash256 h = crypto::blake2b_256(std::string("dwhatsapp safety number\n") + std::string(bytes));
  std::string out;
  for (int group = 0; group < 4; ++group) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | h[static_cast<std::size_t>(group * 4 + i)];
    out += fmt::format("{}{:05}", group == 0 ? "" : " ", v % 100000);
  }
  return out;
}

Status Client::change_password(const std::string& old_password, const std::string& new_password) {
  auto s = impl_->current();
  if (!s) return not_logged_in();
  if (!core::open_secret(s->account, old_password).ok()) return Status::Unauthenticated("wrong password");
  auto updated = core::change_password(s->account, s->secret_key, new_password, impl_->new_limits);
  if (!updated.ok()) return updated.status();
  auto r = impl_->api->call_any(
      {"PUT", "/v1/users/" + s->nick, client::account_json(*updated), impl_->signer(s), 0});
  if (!r.ok()) return r.status();
  if (r->status != 200) return reply_status(*r);
  return impl_->establish(*updated, s->secret_key);
}

Status Client::delete_account(const std::string& password) {
  auto s = impl_->current();
  if (!s) return not_logged_in();
  if (!core::open_secret(s->account, password).ok()) return Status::Unauthenticated("wrong password");
  impl_->stop_receiver();
  // Nodes cannot acknowledge for us, so drain the mailbox first (bounded);
  // whatever arrives after is left to expire within the message TTL.
  for (int page = 0; page < 20; ++page) {
    auto got = impl_->receive(0, nullptr);
    if (!got.ok() || got->empty()) break;
  }
  // The owner's proof, for the version after the one this device knows;
  // the nodes store it as the tombstone and check it on every copy.
  const std::uint64_t version = s->account.version + 1;
  const std::string body =
      client::deletion_json(version, crypto::sign(s->secret_key, core::deletion_signing_bytes(s->nick, version)));
  auto r = impl_->api->call_any({"DELETE", "/v1/users/" + s->nick, body, impl_->signer(s), 0});
  if (!r.ok()) return r.status();
  if (r->status != 200) return reply_status(*r);
  return logout();
}

Result<std::string> Client::send(const std::string& to, const std::string& text) {
  auto r = impl_->send(to, text);
  if (!r.ok()) return r.status();
  return r->id;
}

Result<SendResult> Client::send_message(const std::string& to, const std::string& text) {
  return impl_->send(to, text);
}

Result<int> Client::flush_outbox() {
  auto s = impl_->current();
  if (!s) return not_logged_in();
  return impl_->flush_outbox(s);
}

Result<std::vector<RejectedEnvelope>> Client::rejected() const {
  std::lock_guard lock(impl_->mu);
  return impl_->store->rejected();
}

void ClientTestAccess::set_before_ack(Client& c, std::function<bool()> hook) {
  std::lock_guard lock(c.impl_->mu);
  c.impl_->before_ack = std::move(hook);
}

void ClientTestAccess::set_hold_ms(Client& c, std::int64_t hold_ms) {
  std::lock_guard lock(c.impl_->mu);
  c.impl_->hold.set_hold_ms(hold_ms);
}

ClientTestAccess::HoldCounts ClientTestAccess::hold_counts(Client& c) {
  std::lock_guard lock(c.impl_->mu);
  return {c.impl_->hold.held_total(), c.impl_->hold.released_total(), c.impl_->hold.holding()};
}

ClientTestAccess::SessionCounts ClientTestAccess::session_counts(Client& c) {
  auto s = c.impl_->current();
  if (!s) return {};
  return {s->auth->opened(), s->auth->dropped()};
}

Result<std::vector<Message>> Client::receive(int wait_s) { return impl_->receive(wait_s, nullptr); }

Status Client::start_receiving(std::function<void(const Message&)> callback) {
  return start_receiving(ReceiveHandlers{std::move(callback), {}, {}});
}

Status Client::start_receiving(ReceiveHandlers handlers) {
  if (!impl_->current()) return not_logged_in();
  {
    std::lock_guard lock(impl_->mu);
    impl_->callback = std::move(handlers.on_message);
    impl_->on_state = std::move(handlers.on_state);
    impl_->on_error = std::move(handlers.on_error);
    impl_->outbox->keep_state_changes_locked(static_cast<bool>(impl_->on_state));
  }
  std::lock_guard lock(impl_->receiver_mu);
  if (!impl_->receiver) {
    Impl* impl = impl_.get();
    impl_->receiver = std::make_unique<client::Receiver>([impl](client::Cancel& c) { return impl->cycle(c); });
    impl_->receiver->start();
  }
  return Status::Ok();
}

void Client::stop_receiving() { impl_->stop_receiver(); }

void Client::on_delivery(std::function<void(const std::string&, const std::string&, Delivery)> callback) {
  std::lock_guard lock(impl_->mu);
  impl_->delivery_callback = std::move(callback);
}

void Client::on_connection(std::function<void(bool)> callback) {
  std::lock_guard lock(impl_->mu);
  impl_->connection_callback = std::move(callback);
}

bool Client::reachable() const {
  std::lock_guard lock(impl_->mu);
  return impl_->is_reachable;
}

std::size_t Client::max_text_bytes() { return core::kMaxEnvelopeSize - kEnvelopeOverhead; }

Result<std::string> Client::resolve(const std::string& name) const { return impl_->resolve(name); }

Result<Contact> Client::check_user(const std::string& name) {
  auto nick = impl_->resolve(name);
  if (!nick.ok()) return nick.status();
  auto key = impl_->peer_key(*nick, true);
  impl_->note_reachable(key.status());
  if (!key.ok()) {
    if (key.status().code() == Code::kNotFound) return Status::NotFound("no user '" + *nick + "' on the ring");
    return key.status();
  }
  std::lock_guard lock(impl_->mu);
  Contact c;
  c.nickname = *nick;
  auto alias = impl_->store->contact_alias(*nick);
  if (!alias.ok()) return alias.status();
  c.alias = alias->value_or("");
  auto pin = impl_->store->pin(*nick);
  if (!pin.ok()) return pin.status();
  if (*pin) {
    c.public_key = crypto::to_base64((*pin)->key);
    c.display_name = (*pin)->display_name;
    c.key_changed = (*pin)->key_changed;
    c.safety_number = safety_number_of(c.public_key);
  }
  return c;
}

Status Client::add_contact(const std::string& nickname, const std::string& alias) {
  auto nick = core::fold_nickname(nickname);
  if (!nick.ok()) return nick.status();
  return impl_->keys->add_contact(*nick, alias);
}

Result<std::vector<Contact>> Client::contacts() const {
  std::lock_guard lock(impl_->mu);
  auto list = impl_->store->contact_list();
  if (!list.ok()) return list.status();
  std::vector<Contact> out;
  for (const auto& [nick, alias] : *list) {
    Contact c;
    c.nickname = nick;
    c.alias = alias;
    auto pin = impl_->store->pin(nick);
    if (!pin.ok()) return pin.status();
    if (*pin) {
      c.public_key = crypto::to_base64((*pin)->key);
      c.display_name = (*pin)->display_name;
      c.key_changed = (*pin)->key_changed;
      c.safety_number = safety_number_of(c.public_key);
    }
    out.push_back(std::move(c));
  }
  return out;
}

Status Client::remove_contact(const std::string& nickname) {
  auto nick = impl_->resolve(nickname);
  if (!nick.ok()) return nick.status();
  std::lock_guard lock(impl_->mu);
  auto alias = impl_->store->contact_alias(*nick);
  if (!alias.ok()) return alias.status();
  if (!*alias) return Status::NotFound("'" + *nick + "' is not a contact");
  // The pin stays: forgetting a contact must not make a later key change
  // look like a first meeting.
  return impl_->store->remove_contact(*nick);
}

Result<std::vector<Chat>> Client::chats() const {
  std::lock_guard lock(impl_->mu);
  auto rows = impl_->store->chat_list();
  if (!rows.ok()) return rows.status();
  std::sort(rows->begin(), rows->end(), [](const auto& a, const auto& b) {
    if (a.second.activity_ms != b.second.activity_ms) return a.second.activity_ms > b.second.activity_ms;
    return a.second.last_id > b.second.last_id;
  });
  std::vector<Chat> out;
  for (const auto& [peer, row] : *rows) {
    Chat c;
    c.peer = peer;
    c.unread = row.unread;
    auto alias = impl_->store->contact_alias(peer);
    if (!alias.ok()) return alias.status();
    c.alias = alias->value_or("");
    auto pin = impl_->store->pin(peer);
    if (!pin.ok()) return pin.status();
    if (*pin) c.display_name = (*pin)->display_name;
    auto last = impl_->store->message(peer, row.last_id);
    if (!last.ok()) return last.status();
    if (*last) c.last = **last;
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<Message>> Client::history(const std::string& peer, const std::string& before, int limit) const {
  auto nick = impl_->resolve(peer);
  if (!nick.ok()) return nick.status();
  if (!before.empty() && !core::MessageId::parse(before).ok())
    return Status::InvalidArgument("'before' must be a message id (32 hex digits), got '" + before + "'");
  return impl_->store->history(*nick, before, limit);
}

Status Client::mark_read(const std::string& peer) {
  auto nick = impl_->resolve(peer);
  if (!nick.ok()) return nick.status();
  std::vector<std::string> read;
  {
    std::lock_guard lock(impl_->mu);
    auto row = impl_->store->chat(*nick);
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();  // nothing to read yet
    client::ChatRow r = **row;
    r.unread = 0;
    core::WriteBatch b;
    client::LocalStore::put_chat(b, *nick, r);
    auto recent = impl_->store->history(*nick, "", kReadScan);
    if (!recent.ok()) return recent.status();
    for (Message& m : *recent) {
      if (m.outgoing || m.state != Delivery::kReceived) continue;
      m.state = Delivery::kRead;
      client::LocalStore::put_message(b, *nick, m);
      read.push_back(m.id);
    }
    if (Status st = impl_->store->raw().apply(b); !st.ok()) return st;
  }
  if (impl_->read_receipts && !read.empty()) impl_->receipts->queue({{*nick, read}}, true);
  return Status::Ok();
}

Status Client::set_read_receipts(bool on) {
  if (Status st = impl_->store->raw().put_meta("read_receipts", on ? "on" : "off"); !st.ok()) return st;
  impl_->read_receipts = on && impl_->options.read_receipts;
  return Status::Ok();
}

bool Client::read_receipts() const { return impl_->read_receipts; }

std::vector<std::string> Client::servers() const { return impl_->api->servers(); }

}  // namespace dws
