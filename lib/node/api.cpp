#include "node/api.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/account.hpp"
#include "core/auth.hpp"
#include "core/envelope.hpp"
#include "core/id.hpp"
#include "core/nickname.hpp"
#include "crypto/encoding.hpp"
#include "net/devices_json.hpp"
#include "net/json_writer.hpp"
#include "net/user_json.hpp"
#include "node/api_parse.hpp"

namespace dws::node {

namespace {

using Writer = net::JsonWriter;
using net::to_json;
constexpr auto str = net::write_string;
using net::WireRequest;
using net::WireResponse;
using parse::int_param;
using parse::path_nick;

constexpr std::uint32_t kDefaultMailboxLimit = 100;
constexpr std::uint32_t kDefaultUserLimit = 50;
constexpr std::uint32_t kMaxUserLimit = 500;
// How often the deadlines of waiting long polls are checked: an ended wait
// is answered at most this late.
constexpr auto kSweepEvery = std::chrono::milliseconds(20);



WireResponse reply(int status, std::string body, net::QueryParams headers = {}) {
  WireResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

WireResponse error(const Status& s) { return net::encode_error(s); }

// Client-facing form of a status: a primary still settling is "retry".
Status for_client(Status s) {
  if (s.code() != Code::kNotResponsible) return s;
  return Status::Unavailable("the ring is settling (" + s.message() + "); retry");
}

}  // namespace

Api::Api(core::Ring& ring, core::Replicator& replicator, core::RecordStore& records, core::Transport& transport,
         core::Clock& clock, ApiOptions options)
    : transport_(transport),
      clock_(clock),
      opt_(options),
      sessions_(options.sessions) {
  add_position(ring, replicator, records);
  if (opt_.registrations.burst > 0) registrations_ = std::make_unique<core::TokenBuckets>(opt_.registrations);
  sweeper_.every(kSweepEvery, [this] { expire(); });
  sweeper_.start();
}

void Api::add_routes(net::HttpServer& server) {
  auto bind = [this](WireResponse (Api::*fn)(const WireRequest&)) {
    return [this, fn](const WireRequest& w) { return (this->*fn)(w); };
  };
  const std::string nick = "/v1/users/[^/]+";
  server.route("POST", "/v1/users", bind(&Api::register_user));
  server.route("GET", "/v1/users", bind(&Api::list_users));
  server.route_pattern("GET", nick, bind(&Api::get_user));
  server.route_pattern("GET", nick + "/kdf", bind(&Api::get_kdf));
  server.route_pattern("GET", nick + "/node", bind(&Api::get_node));
  server.route_pattern("PUT", nick, bind(&Api::update_user));
  server.route_pattern("DELETE", nick, bind(&Api::delete_user));
  server.route("POST", "/v1/login", bind(&Api::login));
  server.route("POST", "/v1/sessions", bind(&Api::open_session));
  server.route_pattern("DELETE", "/v1/sessions/[^/]+", bind(&Api::close_session));
  server.route("POST", "/v1/messages", bind(&Api::post_message));
  server.route_deferred("GET", "/v1/mailbox",
                        [this](const WireRequest& w, net::Responder r) { get_mailbox(w, std::move(r)); });
  server.route("POST", "/v1/mailbox/ack", bind(&Api::ack));
  server.route("GET", "/v1/devices", bind(&Api::get_devices));
  server.route("PUT", "/v1/devices", bind(&Api::put_devices));
}

void Api::add_position(core::Ring& ring, core::Replicator& replicator, core::RecordStore& records) {
  places_.push_back(std::unique_ptr<Place>(new Place{ring, core::Users(ring, replicator, records, transport_, opt_.users),
                                                     core::Mailbox(replicator, opt_.mailbox)}));
}

Api::Place* Api::primary_here(Id key, std::size_t* index) {
  for (std::size_t i = 0; i < places_.size(); ++i)
    if (places_[i]->ring.responsible_for(key)) {
      if (index) *index = i;
      return places_[i].get();
    }
  return nullptr;
}

Api::Place& Api::place_for(std::string_view nick) {
  Place* here = places_.size() > 1 ? primary_here(core::user_key(nick)) : nullptr;
  return here ? *here : *places_.front();
}

Result<core::Response> Api::handle(const core::Request& request, std::size_t position) {
  if (position >= places_.size())
    return Status::NotFound("this node has no ring position #" + std::to_string(position));
  return places_[position]->users.handle(request, clock_.monotonic_ms());
}

// --- Signed requests and keys ---------------------------------------------------

Result<crypto::PublicKey> Api::public_key(const std::string& nick) {
  const std::int64_t now = clock_.monotonic_ms();
  {
    std::lock_guard lock(key_mu_);
    auto it = keys_.find(nick);
    if (it != keys_.end() && now - it->second.fetched_ms < opt_.key_cache_ttl_ms) return it->second.key;
  }
  auto acct = place_for(nick).users.get(nick);
  if (!acct.ok()) return for_client(acct.status());
  if (!acct->has_value()) return Status::NotFound("no user '" + nick + "'");
  std::lock_guard lock(key_mu_);
  if (keys_.size() >= opt_.key_cache_max) keys_.clear();
  keys_[nick] = CachedKey{(*acct)->public_key, now};
  return (*acct)->public_key;
}

void Api::forget_key(const std::string& nick) {
  std::lock_guard lock(key_mu_);
  keys_.erase(nick);
}

Result<Api::Caller> Api::authenticate(const WireRequest& w, Auth accept) {
  const std::string* header = w.header("Authorization");
  if (!header)
    return Status::Unauthenticated(
        "missing Authorization header: sign the request (DWS1 nick=<n>, ts=<unix-ms>, sig=<base64>)");
  if (core::is_session_authorization(*header)) {
    if (accept != Auth::kSignatureOrSession)
      return Status::Unauthenticated(
          "this request needs a signature (DWS1): a session (DWS1S) covers only sending, receiving and "
          "acknowledging");
    return authenticate_session(w, *header);
  }
  auto auth = core::parse_authorization(*header);
  if (!auth.ok()) return Status::Unauthenticated("bad Authorization header: " + auth.status().message());
  Caller caller;
  caller.nick = auth->nick;
  auto key = public_key(auth->nick);
  if (!key.ok()) {
    if (key.status().code() == Code::kNotFound)
      return Status::Unauthenticated("the request is signed by '" + auth->nick + "', who is not a user");
    return key.status();
  }
  caller.key = *key;
  const std::string target = w.raw_target.empty() ? w.target() : w.raw_target;
  Status s = core::verify_request(*auth, caller.key, w.method, target, w.body, clock_.wall_ms(), opt_.auth_window_ms);
  if (!s.ok()) return Status::Unauthenticated(s.message());
  return caller;
}

// A session stands for its account only while the account keeps the key it
// had when the session opened. A password change keeps the key (it reseals
// the same secret key), so sessions outlive it; an account deleted, or
// deleted and registered again under the same nickname with a new key, ends
// them here once this node's key cache sees it (at most key_cache_ttl_ms).
Result<Api::Caller> Api::authenticate_session(const WireRequest& w, const std::string& header) {
  auto auth = core::parse_session_authorization(header);
  if (!auth.ok()) return Status::Unauthenticated("bad Authorization header: " + auth.status().message());
  auto session = sessions_.find(auth->sid, clock_.monotonic_ms());
  if (!session)
    return Status::Unauthenticated("session " + auth->sid +
                                   " is not open on this node (ended, expired, or the node restarted): open a new "
                                   "one (POST /v1/sessions) or sign the request");
  auto key = public_key(session->nick);
  if (!key.ok()) {
    if (key.status().code() == Code::kNotFound) {
      sessions_.close(auth->sid, session->nick);
      return Status::Unauthenticated("session " + auth->sid + " belongs to '" + session->nick +
                                     "', who is no longer a user");
    }
    return key.status();
  }
  if (*key != session->account_key) {
    sessions_.close(auth->sid, session->nick);
    return Status::Unauthenticated("session " + auth->sid + " ended: the key of '" + session->nick +
                                   "' changed since it opened");
  }
  const std::string target = w.raw_target.empty() ? w.target() : w.raw_target;
  Status s = core::verify_session_request(*auth, session->key, w.method, target, w.body, clock_.wall_ms(),
                                          opt_.auth_window_ms);
  if (!s.ok()) return Status::Unauthenticated(s.message());
  return Caller{session->nick, *key};
}

// --- Sessions ---------------------------------------------------------------------

WireResponse Api::open_session(const WireRequest& w) {
  auto in = signed_body(w, Auth::kSignature, parse::session_open);
  if (!in.ok()) return error(in.status());
  const auto& [caller, client_key] = *in;
  auto opened = sessions_.open(caller.nick, caller.key, client_key, clock_.monotonic_ms());
  if (!opened.ok()) return error(opened.status());
  return reply(201, net::json_body(net::SessionOpened{opened->sid, opened->node_key, opened->ttl_ms / 1000}));
}

WireResponse Api::close_session(const WireRequest& w) {
  auto caller = authenticate(w, Auth::kSignatureOrSession);
  if (!caller.ok()) return error(caller.status());
  const std::string sid = w.path.substr(w.path.rfind('/') + 1);
  if (Status s = core::check_session_id(sid); !s.ok()) return error(s);
  if (!sessions_.close(sid, caller->nick))
    return error(Status::NotFound("no session " + sid + " of '" + caller->nick + "' on this node"));
  return reply(200, "{}");
}

// --- Accounts --------------------------------------------------------------------

WireResponse Api::register_user(const WireRequest& w) {
  auto acct = parse::account(w.body);
  if (!acct.ok()) return error(acct.status());
  if (registrations_) {
    if (const std::int64_t wait_ms = registrations_->take(w.remote_address, clock_.monotonic_ms()); wait_ms > 0) {
      const std::int64_t secs = (wait_ms + 999) / 1000;
      {
        std::lock_guard lock(wait_mu_);
        ++limits_.registrations;
      }
      WireResponse e = error(Status::RateLimited(fmt::format(
          "too many registrations from {} through this node: retry in {} s", w.remote_address, secs)));
      e.headers.emplace_back("Retry-After", std::to_string(secs));
      return e;
    }
  }
  if (Status s = place_for(acct->nickname).users.create(*acct, clock_.wall_ms()); !s.ok()) return error(for_client(s));
  forget_key(acct->nickname);
  return reply(201, net::json_body(net::AccountChanged{acct->nickname, acct->version}));
}

WireResponse Api::get_user(const WireRequest& w) {
  auto nick = path_nick(w);
  if (!nick.ok()) return error(nick.status());
  auto acct = place_for(*nick).users.get(*nick);
  if (!acct.ok()) return error(for_client(acct.status()));
  if (!acct->has_value()) return error(Status::NotFound("no user '" + *nick + "'"));
  return reply(200, net::json_body(core::public_view(**acct)));
}

WireResponse Api::get_kdf(const WireRequest& w) {
  auto nick = path_nick(w);
  if (!nick.ok()) return error(nick.status());
  auto acct = place_for(*nick).users.get(*nick);
  if (!acct.ok()) return error(for_client(acct.status()));
  if (!acct->has_value()) return error(Status::NotFound("no user '" + *nick + "'"));
  return reply(200, net::json_body(core::KdfParams{(*acct)->salt, (*acct)->limits}));
}

WireResponse Api::get_node(const WireRequest& w) {
  auto nick = path_nick(w);
  if (!nick.ok()) return error(nick.status());
  auto primary = places_.front()->ring.lookup(core::user_key(*nick));
  if (!primary.ok()) return error(primary.status());
  // Clients talk to nodes, not positions: the node's own address.
  PeerInfo node = primary->node;
  node.address = std::string(core::host_of(node.address));
  return reply(200, net::encode_peer(node));
}

// The {nick} of the path, when the request is signed by that account.
Result<std::string> Api::own_account(const WireRequest& w, const char* verb) {
  auto caller = authenticate(w, Auth::kSignature);
  if (!caller.ok()) return caller.status();
  return parse::own_path_nick(w, caller->nick, verb);
}

WireResponse Api::update_user(const WireRequest& w) {
  auto nick = own_account(w, "change");
  if (!nick.ok()) return error(nick.status());
  auto acct = parse::account(w.body);
  if (!acct.ok()) return error(acct.status());
  if (acct->nickname != *nick)
    return error(Status::Forbidden("the record names '" + acct->nickname + "', not '" + *nick +
                                   "': a nickname cannot change"));
  Status s = place_for(*nick).users.update(*acct);
  forget_key(*nick);
  if (!s.ok()) return error(for_client(s));
  return reply(200, net::json_body(net::AccountChanged{*nick, acct->version}));
}

WireResponse Api::delete_user(const WireRequest& w) {
  auto nick = own_account(w, "delete");
  if (!nick.ok()) return error(nick.status());
  // The owner's signed deletion proof: the node cannot make one. Queued
  // messages are left to expire (within the message TTL, before the
  // tombstone does): clearing them would need the owner's ack of each.
  auto proof = parse::deletion(w.body);
  if (!proof.ok()) return error(proof.status());
  if (Status s = place_for(*nick).users.remove(*nick, proof->version, proof->sig, clock_.wall_ms()); !s.ok())
    return error(for_client(s));
  forget_key(*nick);
  return reply(200, net::json_body(net::AccountDeleted{*nick, true}));
}

WireResponse Api::list_users(const WireRequest& w) {
  auto prefix = parse::nick_prefix_param(w, "prefix");
  if (!prefix.ok()) return error(prefix.status());
  auto limit = int_param(w, "limit", kDefaultUserLimit, 1, kMaxUserLimit);
  if (!limit.ok()) return error(limit.status());
  auto users = places_.front()->users.list(*prefix, static_cast<std::uint32_t>(*limit));
  if (!users.ok()) return error(for_client(users.status()));
  return reply(200, to_json([&](Writer& j) { net::write_user_list(j, *users); }));
}

WireResponse Api::login(const WireRequest& w) {
  auto body = parse::login(w.body);
  if (!body.ok()) return error(body.status());
  const crypto::SecretBytes<32> auth_key{std::span<const std::uint8_t, 32>(body->auth_key)};
  std::int64_t retry_after = 0;
  auto r = place_for(body->nickname).users.login(body->nickname, auth_key, w.remote_address, clock_.monotonic_ms(), &retry_after);
  if (!r.ok()) {
    WireResponse e = error(for_client(r.status()));
    if (r.status().code() == Code::kRateLimited) {
      e.headers.emplace_back("Retry-After", std::to_string(retry_after));
      std::lock_guard lock(wait_mu_);
      ++limits_.failed_logins;
    }
    return e;
  }
  return reply(200, net::json_body(net::LoginAnswer{r->sealed_secret, r->public_key, r->version}));
}

// --- Messages ----------------------------------------------------------------------

WireResponse Api::post_message(const WireRequest& w) {
  auto in = signed_body(w, Auth::kSignatureOrSession, parse::envelope);
  if (!in.ok()) return error(in.status());
  const auto& [caller, env] = *in;
  if (env.from != caller.nick)
    return error(Status::Forbidden("an envelope from '" + env.from + "' cannot be sent by '" + caller.nick + "'"));
  if (auto to = public_key(env.to); !to.ok()) return error(to.status());
  if (Status s = core::verify_envelope(env, caller.key, verified_); !s.ok()) return error(Status::Unauthenticated(s.message()));
  auto put = place_for(env.to).mailbox.post(env, clock_.wall_ms());
  if (!put.ok()) return error(for_client(put.status()));
  return reply(201, net::json_body(net::PostedAnswer{env.id.hex(), put->copies}));
}

namespace {

WireResponse page_reply(const Result<core::MailboxPage>& page) {
  if (!page.ok()) return error(for_client(page.status()));
  net::MailboxPageBody body{{}, page->more, static_cast<int>(page->devices)};
  body.messages.reserve(page->messages.size());
  for (const auto& e : page->messages) body.messages.push_back(core::to_view(e));
  return reply(200, net::json_body(body));
}

}  // namespace

// A long poll (wait > 0) that finds nothing waits as a Waiter, holding no
// thread: registered before its first listing, so that a message stored
// meanwhile finds it; answered once, by whoever takes it from the tables
// first (on_stored with a message, the deadline sweep, a newer poll of the
// same account, stop()), or dropped when its client goes away.
void Api::get_mailbox(const WireRequest& w, net::Responder responder) {
  auto caller = authenticate(w, Auth::kSignatureOrSession);
  if (!caller.ok()) return void(responder.answer(error(caller.status())));
  auto after_id = parse::message_id_param(w, "after");
  if (!after_id.ok()) return void(responder.answer(error(after_id.status())));
  auto wait_s = int_param(w, "wait", 0, 0, 3600);
  if (!wait_s.ok()) return void(responder.answer(error(wait_s.status())));
  auto limit = int_param(w, "limit", kDefaultMailboxLimit, 1, core::kMaxMailboxList);
  if (!limit.ok()) return void(responder.answer(error(limit.status())));
  auto device_or = parse::device_param(w);
  if (!device_or.ok()) return void(responder.answer(error(device_or.status())));

  const Id key = core::user_key(caller->nick);
  std::size_t position = 0;
  if (!primary_here(key, &position)) {
    auto primary = places_.front()->ring.lookup(key);
    if (!primary.ok()) return void(responder.answer(error(primary.status())));
    const std::string where(core::host_of(primary->node.address));
    responder.answer(net::encode_error(
        Status(Code::kNotResponsible, "ask " + where + ", the primary of '" + caller->nick + "'"), where));
    return;
  }

  auto waiter = std::make_shared<Waiter>(Waiter{.responder = responder,
                                                .key = key,
                                                .nick = caller->nick,
                                                .device = std::move(device_or).value(),
                                                .after = *after_id,
                                                .address = w.remote_address,
                                                .limit = static_cast<std::uint32_t>(*limit),
                                                .position = position,
                                                .ticket = 0,
                                                .at = {},
                                                .taken = false});
  const auto wait_ms = std::min<std::int64_t>(*wait_s, opt_.max_wait_s) * 1000;
  bool waits = wait_ms > 0;
  std::vector<std::shared_ptr<Waiter>> preempted;
  if (waits) {
    std::lock_guard lock(wait_mu_);
    waits = !stopping_;
    if (waits && waiting_ >= opt_.max_waiters) {
      ++limits_.polls_node_full;
      responder.answer(error(Status::Unavailable(fmt::format(
          "this node already holds {} waiting mailbox requests, its limit: retry, or poll without wait", waiting_))));
      return;
    }
    if (waits) {
      std::size_t& from_address = waiting_by_address_[w.remote_address];
      if (from_address >= opt_.max_waiters_per_address) {
        ++limits_.polls_per_address;
        responder.answer(error(Status::RateLimited(
            fmt::format("{} already holds {} waiting mailbox requests on this node, the limit per address: poll "
                        "without wait, or end the others",
                        w.remote_address, from_address))));
        return;
      }
      // Over the account's cap the oldest waiters answer now: the newest
      // request is the one most likely to be its owner's.
      for (;;) {
        auto it = waiters_.find(key);
        if (it == waiters_.end() || it->second.by_ticket.size() + 1 <= opt_.max_waiters_per_user ||
            it->second.by_ticket.empty())
          break;
        std::shared_ptr<Waiter> oldest = it->second.by_ticket.begin()->second;
        take(*oldest);
        ++limits_.polls_preempted;
        preempted.push_back(std::move(oldest));
      }
      Waiters& mine = waiters_[key];
      waiter->ticket = mine.next_ticket++;
      mine.by_ticket.emplace(waiter->ticket, waiter);
      waiter->at = deadlines_.emplace(std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms), waiter);
      ++waiting_;
      ++waiting_by_address_[w.remote_address];  // not from_address: taking the oldest may have erased it
    }
  }
  for (const auto& p : preempted) finish(p);
  if (waits) {
    // Runs at once if the client is already gone.
    responder.on_close([this, weak = std::weak_ptr<Waiter>(waiter)] {
      std::shared_ptr<Waiter> gone = weak.lock();
      if (!gone) return;
      std::lock_guard lock(wait_mu_);
      take(*gone);
    });
  }
  Result<core::MailboxPage> page = list(*waiter);
  if (page.ok() && page->messages.empty() && waits) return;  // waits; answered by whoever takes it
  if (waits) {
    std::lock_guard lock(wait_mu_);
    if (!take(*waiter)) return;  // someone else answers it
  }
  responder.answer(page_reply(page));
}

Result<core::MailboxPage> Api::list(const Waiter& w) {
  return places_[w.position]->mailbox.list_here(w.nick, w.device, w.after, w.limit, clock_.wall_ms());
}

bool Api::take(Waiter& w) {
  if (w.taken) return false;
  w.taken = true;
  deadlines_.erase(w.at);
  if (auto it = waiters_.find(w.key); it != waiters_.end()) {
    it->second.by_ticket.erase(w.ticket);
    if (it->second.by_ticket.empty()) waiters_.erase(it);
  }
  --waiting_;
  if (auto it = waiting_by_address_.find(w.address); it != waiting_by_address_.end() && --it->second == 0)
    waiting_by_address_.erase(it);
  return true;
}

void Api::finish(const std::shared_ptr<Waiter>& w) { w->responder.answer(page_reply(list(*w))); }

void Api::expire() {
  std::vector<std::shared_ptr<Waiter>> due;
  {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(wait_mu_);
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      std::shared_ptr<Waiter> w = deadlines_.begin()->second;
      take(*w);
      due.push_back(std::move(w));
    }
  }
  for (const auto& w : due) finish(w);
}

WireResponse Api::ack(const WireRequest& w) {
  // {"device"?, "acks": [{"id", "from", "sig"}]}: each entry's
  // acknowledgement signed by the owner, which every replica checks
  // (core/validation.hpp), for one of the account's devices.
  auto in = signed_body(w, Auth::kSignatureOrSession, parse::acks);
  if (!in.ok()) return error(in.status());
  const auto& [caller, acks] = *in;
  auto n = place_for(caller.nick).mailbox.ack(caller.nick, acks.device, acks.entries, clock_.wall_ms());
  if (!n.ok()) return error(for_client(n.status()));
  return reply(200, net::json_body(net::AckedAnswer{*n}));
}

// --- Devices -----------------------------------------------------------------------

WireResponse Api::get_devices(const WireRequest& w) {
  auto caller = authenticate(w, Auth::kSignature);
  if (!caller.ok()) return error(caller.status());
  auto list = place_for(caller->nick).mailbox.devices(caller->nick);
  if (!list.ok()) return error(for_client(list.status()));
  if (!*list) return reply(200, R"({"list":null})");
  return reply(200, "{\"list\":" + net::device_list_json(**list) + "}");
}

WireResponse Api::put_devices(const WireRequest& w) {
  auto in = signed_body(w, Auth::kSignature, net::parse_device_list_json);
  if (!in.ok()) return error(in.status());
  const auto& [caller, list] = *in;
  if (list.owner != caller.nick)
    return error(Status::Forbidden("'" + caller.nick + "' cannot change the devices of '" + list.owner + "'"));
  if (list.public_key != caller.key)
    return error(Status::Forbidden("the device list is signed by another key than the account of '" +
                                   caller.nick + "'"));
  auto put = place_for(list.owner).mailbox.set_devices(list);
  if (!put.ok()) return error(for_client(put.status()));
  return reply(200, net::json_body(net::DevicesSet{list.version, list.devices.size()}));
}

// --- Long poll ----------------------------------------------------------------------

// Each waiter of the mailbox lists it again (on this thread, outside the
// lock); one that sees a message (or an error) is answered if no one took
// it first. One that still sees nothing (an entry for another device, or
// before its cursor) keeps waiting.
void Api::on_stored(const core::Record& record) {
  if (!core::Mailbox::is_entry(record)) return;
  std::vector<std::shared_ptr<Waiter>> ws;
  {
    std::lock_guard lock(wait_mu_);
    auto it = waiters_.find(record.key);
    if (it == waiters_.end()) return;
    for (const auto& [ticket, w] : it->second.by_ticket) ws.push_back(w);
  }
  for (const auto& w : ws) {
    Result<core::MailboxPage> page = list(*w);
    if (page.ok() && page->messages.empty()) continue;
    {
      std::lock_guard lock(wait_mu_);
      if (!take(*w)) continue;
    }
    w->responder.answer(page_reply(page));
  }
}

std::size_t Api::waiting() {
  std::lock_guard lock(wait_mu_);
  return waiting_;
}

Api::LimitCounts Api::limit_counts() {
  std::lock_guard lock(wait_mu_);
  return limits_;
}

void Api::stop() {
  sweeper_.stop();
  std::vector<std::shared_ptr<Waiter>> all;
  {
    std::lock_guard lock(wait_mu_);
    stopping_ = true;
    while (!deadlines_.empty()) {
      std::shared_ptr<Waiter> w = deadlines_.begin()->second;
      take(*w);
      all.push_back(std::move(w));
    }
  }
  for (const auto& w : all) finish(w);
}

}  // namespace dws::node
