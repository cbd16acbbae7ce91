#include "node/api.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
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

namespace dws::node {

namespace {

using Writer = net::JsonWriter;
using net::to_json;
constexpr auto str = net::write_string;
using Value = rapidjson::Value;
using net::WireRequest;
using net::WireResponse;

// An envelope of 64 KiB is about 88 KiB of JSON once base64'd; anything far
// above that is refused before parsing.
constexpr std::size_t kMaxMessageBody = 128 * 1024;
constexpr std::size_t kMaxAckIds = 1000;
constexpr std::uint32_t kDefaultMailboxLimit = 100;
constexpr std::uint32_t kDefaultUserLimit = 50;
constexpr std::uint32_t kMaxUserLimit = 500;



WireResponse reply(int status, std::string body, net::QueryParams headers = {}) {
  WireResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

WireResponse error(const Status& s) { return net::encode_error(s); }

// Reads fields of one JSON object; the first problem wins and names the field.
class Fields {
 public:
  Fields(std::string_view body, std::string what) : what_(std::move(what)) {
    doc_.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
    if (doc_.HasParseError()) fail_all("body is not valid JSON");
    else if (!doc_.IsObject()) fail_all("body must be a JSON object");
  }

  const Value* get(const char* name) {
    if (!error_.empty()) return nullptr;
    auto it = doc_.FindMember(name);
    if (it == doc_.MemberEnd()) {
      fail(name, "is missing");
      return nullptr;
    }
    return &it->value;
  }
  std::string string(const char* name, std::size_t max = 4096) {
    const Value* v = get(name);
    if (!v) return {};
    if (!v->IsString()) return fail(name, "must be a string"), std::string();
    if (v->GetStringLength() > max) return fail(name, fmt::format("must have at most {} bytes", max)), std::string();
    return std::string(v->GetString(), v->GetStringLength());
  }
  std::uint64_t uint64(const char* name) {
    const Value* v = get(name);
    if (!v) return 0;
    if (!v->IsUint64()) return fail(name, "must be a non-negative integer"), 0;
    return v->GetUint64();
  }
  std::int64_t int64(const char* name) {
    const Value* v = get(name);
    if (!v) return 0;
    if (!v->IsInt64()) return fail(name, "must be an integer"), 0;
    return v->GetInt64();
  }
  template <std::size_t N>
  std::array<std::uint8_t, N> bytes(const char* name) {
    const std::string text = string(name, N * 2 + 8);
    if (!error_.empty()) return {};
    auto b = crypto::from_base64_fixed<N>(text, fmt::format("field '{}'", name));
    if (!b.ok()) return fail_all(b.status().message()), std::array<std::uint8_t, N>{};
    return *b;
  }
  const Value& doc() const { return doc_; }
  bool failed() const { return !error_.empty(); }
  Status status() const { return Status::InvalidArgument(what_ + ": " + error_); }
  void fail(std::string_view name, std::string_view why) {
    if (error_.empty()) error_ = fmt::format("field '{}' {}", name, why);
  }
  void fail_all(std::string_view why) {
    if (error_.empty()) error_ = std::string(why);
  }

 private:
  std::string what_;
  std::string error_;
  rapidjson::Document doc_;
};

Result<core::Account> parse_account(std::string_view body) {
  Fields f(body, "account");
  core::Account a;
  a.nickname = f.string("nickname", 64);
  a.public_key = f.bytes<crypto::kPublicKeySize>("public_key");
  a.salt = f.bytes<crypto::kSaltSize>("salt");
  a.limits.opslimit = f.uint64("opslimit");
  a.limits.memlimit = f.uint64("memlimit");
  a.auth_hash = f.bytes<32>("auth_hash");
  a.sealed_secret = f.bytes<core::kSealedSecretSize>("sealed_secret");
  a.display_name = f.string("display_name", 1024);
  a.version = f.uint64("version");
  a.signature = f.bytes<crypto::kSignatureSize>("signature");
  if (f.failed()) return f.status();
  return a;
}

Result<core::Envelope> parse_envelope(std::string_view body) {
  if (body.size() > kMaxMessageBody)
    return Status::PayloadTooLarge(fmt::format("message body of {} bytes: an envelope holds at most {} bytes",
                                               body.size(), core::kMaxEnvelopeSize));
  Fields f(body, "envelope");
  core::EnvelopeView v;
  v.id = f.string("id", 64);
  v.from = f.string("from", 64);
  v.to = f.string("to", 64);
  v.sent_at = f.int64("sent_at");
  v.kind = f.string("kind", 32);
  v.nonce = f.string("nonce", 64);
  v.box = f.string("box", kMaxMessageBody);
  v.sig = f.string("sig", 128);
  if (f.failed()) return f.status();
  return core::from_view(v);
}

void write_envelope(Writer& w, const core::Envelope& e) {
  const core::EnvelopeView v = core::to_view(e);
  w.StartObject();
  w.Key("id");
  str(w, v.id);
  w.Key("from");
  str(w, v.from);
  w.Key("to");
  str(w, v.to);
  w.Key("sent_at");
  w.Int64(v.sent_at);
  w.Key("kind");
  str(w, v.kind);
  w.Key("nonce");
  str(w, v.nonce);
  w.Key("box");
  str(w, v.box);
  w.Key("sig");
  str(w, v.sig);
  w.EndObject();
}

std::string nick_version(const std::string& nick, std::uint64_t version) {
  return to_json([&](Writer& w) {
    w.StartObject();
    w.Key("nickname");
    str(w, nick);
    w.Key("version");
    w.Uint64(version);
    w.EndObject();
  });
}

// The {nick} of /v1/users/{nick}[/...], folded.
Result<std::string> path_nick(const WireRequest& w) {
  constexpr std::string_view kPrefix = "/v1/users/";
  std::string_view rest = std::string_view(w.path).substr(kPrefix.size());
  rest = rest.substr(0, rest.find('/'));
  return core::fold_nickname(rest);
}

// An integer query parameter in [min, max], or `fallback` when absent.
Result<std::int64_t> int_param(const WireRequest& w, const char* name, std::int64_t fallback, std::int64_t min,
                               std::int64_t max) {
  const std::string* v = w.param(name);
  if (!v) return fallback;
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n < min || n > max)
    return Status::InvalidArgument(fmt::format("parameter '{}' must be an integer in [{}, {}]", name, min, max));
  return n;
}

// Client-facing form of a status: a primary still settling is "retry".
Status for_client(Status s) {
  if (s.code() != Code::kNotResponsible) return s;
  return Status::Unavailable("the ring is settling (" + s.message() + "); retry");
}

}  // namespace

Api::Api(core::Ring& ring, core::Replicator& replicator, core::RecordStore& records, core::Transport& transport,
         core::Clock& clock, ApiOptions options)
    : ring_(ring),
      clock_(clock),
      opt_(options),
      users_(ring, replicator, records, transport, options.users),
      mailbox_(replicator, options.mailbox) {
  if (opt_.registrations.burst > 0) registrations_ = std::make_unique<core::TokenBuckets>(opt_.registrations);
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
  server.route("POST", "/v1/messages", bind(&Api::post_message));
  server.route("GET", "/v1/mailbox", bind(&Api::get_mailbox));
  server.route("POST", "/v1/mailbox/ack", bind(&Api::ack));
  server.route("GET", "/v1/devices", bind(&Api::get_devices));
  server.route("PUT", "/v1/devices", bind(&Api::put_devices));
}

Result<core::Response> Api::handle(const core::Request& request) {
  return users_.handle(request, clock_.monotonic_ms());
}

// --- Signed requests and keys ---------------------------------------------------

Result<crypto::PublicKey> Api::public_key(const std::string& nick) {
  const std::int64_t now = clock_.monotonic_ms();
  {
    std::lock_guard lock(key_mu_);
    auto it = keys_.find(nick);
    if (it != keys_.end() && now - it->second.fetched_ms < opt_.key_cache_ttl_ms) return it->second.key;
  }
  auto acct = users_.get(nick);
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

Result<Api::Caller> Api::authenticate(const WireRequest& w) {
  const std::string* header = w.header("Authorization");
  if (!header)
    return Status::Unauthenticated(
        "missing Authorization header: sign the request (DWS1 nick=<n>, ts=<unix-ms>, sig=<base64>)");
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

// --- Accounts --------------------------------------------------------------------

WireResponse Api::register_user(const WireRequest& w) {
  auto acct = parse_account(w.body);
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
  if (Status s = users_.create(*acct, clock_.wall_ms()); !s.ok()) return error(for_client(s));
  forget_key(acct->nickname);
  return reply(201, nick_version(acct->nickname, acct->version));
}

WireResponse Api::get_user(const WireRequest& w) {
  auto nick = path_nick(w);
  if (!nick.ok()) return error(nick.status());
  auto acct = users_.get(*nick);
  if (!acct.ok()) return error(for_client(acct.status()));
  if (!acct->has_value()) return error(Status::NotFound("no user '" + *nick + "'"));
  const core::AccountView v = core::public_view(**acct);
  return reply(200, to_json([&](Writer& j) {
                 j.StartObject();
                 j.Key("nickname");
                 str(j, v.nickname);
                 j.Key("public_key");
                 str(j, v.public_key);
                 j.Key("display_name");
                 str(j, v.display_name);
                 j.Key("version");
                 j.Uint64(v.version);
                 j.Key("salt");
                 str(j, v.salt);
                 j.Key("opslimit");
                 j.Uint64(v.opslimit);
                 j.Key("memlimit");
                 j.Uint64(v.memlimit);
                 j.Key("secret_digest");
                 str(j, v.secret_digest);
                 j.Key("signature");
                 str(j, v.signature);
                 j.EndObject();
               }));
}

WireResponse Api::get_kdf(const WireRequest& w) {
  auto nick = path_nick(w);
  if (!nick.ok()) return error(nick.status());
  auto acct = users_.get(*nick);
  if (!acct.ok()) return error(for_client(acct.status()));
  if (!acct->has_value()) return error(Status::NotFound("no user '" + *nick + "'"));
  const core::Account& a = **acct;
  return reply(200, to_json([&](Writer& j) {
                 j.StartObject();
                 j.Key("salt");
                 str(j, crypto::to_base64(a.salt));
                 j.Key("opslimit");
                 j.Uint64(a.limits.opslimit);
                 j.Key("memlimit");
                 j.Uint64(a.limits.memlimit);
                 j.EndObject();
               }));
}

WireResponse Api::get_node(const WireRequest& w) {
  auto nick = path_nick(w);
  if (!nick.ok()) return error(nick.status());
  auto primary = ring_.lookup(core::user_key(*nick));
  if (!primary.ok()) return error(primary.status());
  return reply(200, to_json([&](Writer& j) {
                 j.StartObject();
                 j.Key("id");
                 str(j, core::to_hex(primary->node.id));
                 j.Key("address");
                 str(j, primary->node.address);
                 j.EndObject();
               }));
}

WireResponse Api::update_user(const WireRequest& w) {
  auto caller = authenticate(w);
  if (!caller.ok()) return error(caller.status());
  auto nick = path_nick(w);
  if (!nick.ok()) return error(nick.status());
  if (caller->nick != *nick)
    return error(Status::Forbidden("'" + caller->nick + "' cannot change the account of '" + *nick + "'"));
  auto acct = parse_account(w.body);
  if (!acct.ok()) return error(acct.status());
  if (acct->nickname != *nick)
    return error(Status::Forbidden("the record names '" + acct->nickname + "', not '" + *nick +
                                   "': a nickname cannot change"));
  Status s = users_.update(*acct);
  forget_key(*nick);
  if (!s.ok()) return error(for_client(s));
  return reply(200, nick_version(*nick, acct->version));
}

WireResponse Api::delete_user(const WireRequest& w) {
  auto caller = authenticate(w);
  if (!caller.ok()) return error(caller.status());
  auto nick = path_nick(w);
  if (!nick.ok()) return error(nick.status());
  if (caller->nick != *nick)
    return error(Status::Forbidden("'" + caller->nick + "' cannot delete the account of '" + *nick + "'"));
  // The owner's signed deletion proof: the node cannot make one. Queued
  // messages are left to expire (within the message TTL, before the
  // tombstone does): clearing them would need the owner's ack of each.
  Fields f(w.body, "delete");
  const std::uint64_t version = f.uint64("version");
  const auto sig = f.bytes<crypto::kSignatureSize>("sig");
  if (f.failed()) return error(f.status());
  if (Status s = users_.remove(*nick, version, sig, clock_.wall_ms()); !s.ok()) return error(for_client(s));
  forget_key(*nick);
  return reply(200, to_json([&](Writer& j) {
                 j.StartObject();
                 j.Key("nickname");
                 str(j, *nick);
                 j.Key("deleted");
                 j.Bool(true);
                 j.EndObject();
               }));
}

WireResponse Api::list_users(const WireRequest& w) {
  std::string prefix;
  if (const std::string* p = w.param("prefix"); p && !p->empty()) {
    auto folded = core::fold_nickname(*p);
    if (!folded.ok()) return error(folded.status());
    prefix = *folded;
  }
  auto limit = int_param(w, "limit", kDefaultUserLimit, 1, kMaxUserLimit);
  if (!limit.ok()) return error(limit.status());
  auto users = users_.list(prefix, static_cast<std::uint32_t>(*limit));
  if (!users.ok()) return error(for_client(users.status()));
  return reply(200, to_json([&](Writer& j) {
                 j.StartObject();
                 j.Key("users");
                 j.StartArray();
                 for (const auto& u : *users) {
                   j.StartObject();
                   j.Key("nickname");
                   str(j, u.nickname);
                   j.Key("display_name");
                   str(j, u.display_name);
                   j.EndObject();
                 }
                 j.EndArray();
                 j.EndObject();
               }));
}

WireResponse Api::login(const WireRequest& w) {
  Fields f(w.body, "login");
  const std::string typed = f.string("nickname", 64);
  const auto key = f.bytes<32>("auth_key");
  if (f.failed()) return error(f.status());
  auto nick = core::fold_nickname(typed);
  if (!nick.ok()) return error(nick.status());
  const crypto::SecretBytes<32> auth_key{std::span<const std::uint8_t, 32>(key)};
  std::int64_t retry_after = 0;
  auto r = users_.login(*nick, auth_key, w.remote_address, clock_.monotonic_ms(), &retry_after);
  if (!r.ok()) {
    WireResponse e = error(for_client(r.status()));
    if (r.status().code() == Code::kRateLimited) {
      e.headers.emplace_back("Retry-After", std::to_string(retry_after));
      std::lock_guard lock(wait_mu_);
      ++limits_.failed_logins;
    }
    return e;
  }
  return reply(200, to_json([&](Writer& j) {
                 j.StartObject();
                 j.Key("sealed_secret");
                 str(j, crypto::to_base64(r->sealed_secret));
                 j.Key("public_key");
                 str(j, crypto::to_base64(r->public_key));
                 j.Key("version");
                 j.Uint64(r->version);
                 j.EndObject();
               }));
}

// --- Messages ----------------------------------------------------------------------

WireResponse Api::post_message(const WireRequest& w) {
  auto caller = authenticate(w);
  if (!caller.ok()) return error(caller.status());
  auto env = parse_envelope(w.body);
  if (!env.ok()) return error(env.status());
  if (env->from != caller->nick)
    return error(Status::Forbidden("an envelope from '" + env->from + "' cannot be sent by '" + caller->nick + "'"));
  if (auto to = public_key(env->to); !to.ok()) return error(to.status());
  if (Status s = core::verify_envelope(*env, caller->key); !s.ok()) return error(Status::Unauthenticated(s.message()));
  auto put = mailbox_.post(*env, clock_.wall_ms());
  if (!put.ok()) return error(for_client(put.status()));
  return reply(201, to_json([&](Writer& j) {
                 j.StartObject();
                 j.Key("id");
                 str(j, env->id.hex());
                 j.Key("copies");
                 j.Int(put->copies);
                 j.EndObject();
               }));
}

WireResponse Api::get_mailbox(const WireRequest& w) {
  auto caller = authenticate(w);
  if (!caller.ok()) return error(caller.status());
  std::string after;
  if (const std::string* a = w.param("after"); a && !a->empty()) {
    auto id = core::MessageId::parse(*a);
    if (!id.ok()) return error(Status::InvalidArgument("parameter 'after': " + id.status().message()));
    after = id->hex();
  }
  auto wait_s = int_param(w, "wait", 0, 0, 3600);
  if (!wait_s.ok()) return error(wait_s.status());
  auto limit = int_param(w, "limit", kDefaultMailboxLimit, 1, core::kMaxMailboxList);
  if (!limit.ok()) return error(limit.status());
  std::string device;
  if (const std::string* d = w.param("device"); d && !d->empty()) {
    if (Status st = core::check_device_id(*d); !st.ok())
      return error(Status::InvalidArgument("parameter 'device': " + st.message()));
    device = *d;
  }

  const Id key = core::user_key(caller->nick);
  if (!ring_.responsible_for(key)) {
    auto primary = ring_.lookup(key);
    if (!primary.ok()) return error(primary.status());
    const std::string where = primary->node.address;
    return reply(421, to_json([&](Writer& j) {
                   j.StartObject();
                   j.Key("error");
                   j.StartObject();
                   j.Key("code");
                   str(j, code_name(Code::kNotResponsible));
                   j.Key("message");
                   str(j, "ask " + where + ", the primary of '" + caller->nick + "'");
                   j.Key("primary");
                   str(j, where);
                   j.EndObject();
                   j.EndObject();
                 }));
  }

  const auto wait_ms = std::min<std::int64_t>(*wait_s, opt_.max_wait_s) * 1000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  std::shared_ptr<Waiters> waiters;
  std::uint64_t ticket = 0;
  if (wait_ms > 0) {
    std::lock_guard lock(wait_mu_);
    if (waiting_ >= opt_.max_waiters) {
      ++limits_.polls_node_full;
      return error(Status::Unavailable(fmt::format(
          "this node already holds {} waiting mailbox requests, its limit: retry, or poll without wait",
          waiting_)));
    }
    std::size_t& from_address = waiting_by_address_[w.remote_address];
    if (from_address >= opt_.max_waiters_per_address) {
      ++limits_.polls_per_address;
      return error(Status::RateLimited(
          fmt::format("{} already holds {} waiting mailbox requests on this node, the limit per address: poll "
                      "without wait, or end the others",
                      w.remote_address, from_address)));
    }
    auto& slot = waiters_[key];
    if (!slot) slot = std::make_shared<Waiters>();
    waiters = slot;
    ticket = waiters->next_ticket++;
    // Over the account's cap the oldest waiters answer now: the newest
    // request is the one most likely to be its owner's.
    if (waiters->count >= opt_.max_waiters_per_user) {
      const std::uint64_t cutoff = ticket + 1 - opt_.max_waiters_per_user;
      if (cutoff > waiters->cutoff) {
        waiters->cutoff = cutoff;
        waiters->cv.notify_all();
      }
    }
    ++waiters->count;
    ++waiting_;
    ++from_address;
  }
  Result<core::MailboxPage> page = Status::Internal("unset");
  for (;;) {
    std::uint64_t seen = 0;
    if (waiters) {
      std::lock_guard lock(wait_mu_);
      seen = waiters->generation;
    }
    page = mailbox_.list_here(caller->nick, device, after, static_cast<std::uint32_t>(*limit), clock_.wall_ms());
    if (!page.ok() || !page->messages.empty() || !waiters) break;
    // An arrival between the listing and here bumped the generation, so
    // the wait below returns at once instead of missing it.
    std::unique_lock lock(wait_mu_);
    const bool woken = waiters->cv.wait_until(
        lock, deadline, [&] { return stopping_ || ticket < waiters->cutoff || waiters->generation != seen; });
    if (!woken || stopping_ || ticket < waiters->cutoff) {
      if (ticket < waiters->cutoff) ++limits_.polls_preempted;
      lock.unlock();
      if (woken) page = mailbox_.list_here(caller->nick, device, after, static_cast<std::uint32_t>(*limit), clock_.wall_ms());
      break;
    }
  }
  if (waiters) {
    std::lock_guard lock(wait_mu_);
    --waiting_;
    if (--waiters->count == 0) waiters_.erase(key);
    if (auto it = waiting_by_address_.find(w.remote_address); it != waiting_by_address_.end() && --it->second == 0)
      waiting_by_address_.erase(it);
  }
  if (!page.ok()) return error(for_client(page.status()));
  return reply(200, to_json([&](Writer& j) {
                 j.StartObject();
                 j.Key("messages");
                 j.StartArray();
                 for (const auto& e : page->messages) write_envelope(j, e);
                 j.EndArray();
                 j.Key("more");
                 j.Bool(page->more);
                 j.Key("devices");
                 j.Uint(page->devices);
                 j.EndObject();
               }));
}

WireResponse Api::ack(const WireRequest& w) {
  auto caller = authenticate(w);
  if (!caller.ok()) return error(caller.status());
  // {"acks": [{"id", "from", "sig"}]}: each entry's acknowledgement signed
  // by the owner, which every replica checks (core/validation.hpp).
  Fields f(w.body, "ack");
  const Value* acks = f.get("acks");
  if (f.failed()) return error(f.status());
  if (!acks->IsArray())
    return error(Status::InvalidArgument("ack: field 'acks' must be an array of {id, from, sig} objects"));
  if (acks->Size() > kMaxAckIds)
    return error(Status::InvalidArgument(
        fmt::format("ack: field 'acks' has {} entries; at most {} per request", acks->Size(), kMaxAckIds)));
  std::vector<core::EntryAck> parsed;
  for (rapidjson::SizeType i = 0; i < acks->Size(); ++i) {
    const Value& v = (*acks)[i];
    auto field = [&](const char* name) -> const Value* {
      if (!v.IsObject()) return nullptr;
      auto it = v.FindMember(name);
      return it != v.MemberEnd() && it->value.IsString() ? &it->value : nullptr;
    };
    const Value* id_v = field("id");
    const Value* from_v = field("from");
    const Value* sig_v = field("sig");
    if (!id_v || !from_v || !sig_v)
      return error(Status::InvalidArgument(
          fmt::format("ack: acks[{}] must be an object with string fields 'id', 'from' and 'sig'", i)));
    auto id = core::MessageId::parse(std::string_view(id_v->GetString(), id_v->GetStringLength()));
    if (!id.ok()) return error(Status::InvalidArgument(fmt::format("ack: acks[{}].id: {}", i, id.status().message())));
    const std::string from(from_v->GetString(), from_v->GetStringLength());
    if (Status st = core::check_nickname(from); !st.ok())
      return error(Status::InvalidArgument(fmt::format("ack: acks[{}].from: {}", i, st.message())));
    auto sig = crypto::from_base64_fixed<crypto::kSignatureSize>(
        std::string_view(sig_v->GetString(), sig_v->GetStringLength()), fmt::format("ack: acks[{}].sig", i));
    if (!sig.ok()) return error(Status::InvalidArgument(sig.status().message()));
    parsed.push_back(core::EntryAck{*id, from, *sig});
  }
  // "device": which of the account's devices has these entries (absent:
  // the account reads as one device).
  std::string device;
  if (auto it = f.doc().FindMember("device"); it != f.doc().MemberEnd()) {
    if (!it->value.IsString())
      return error(Status::InvalidArgument("ack: field 'device' must be a string of 16 hex digits"));
    device.assign(it->value.GetString(), it->value.GetStringLength());
    if (Status st = core::check_device_id(device); !st.ok())
      return error(Status::InvalidArgument("ack: field 'device': " + st.message()));
  }
  auto n = mailbox_.ack(caller->nick, device, parsed, clock_.wall_ms());
  if (!n.ok()) return error(for_client(n.status()));
  return reply(200, to_json([&](Writer& j) {
                 j.StartObject();
                 j.Key("acked");
                 j.Uint(*n);
                 j.EndObject();
               }));
}

// --- Devices -----------------------------------------------------------------------

WireResponse Api::get_devices(const WireRequest& w) {
  auto caller = authenticate(w);
  if (!caller.ok()) return error(caller.status());
  auto list = mailbox_.devices(caller->nick);
  if (!list.ok()) return error(for_client(list.status()));
  if (!*list) return reply(200, R"({"list":null})");
  return reply(200, "{\"list\":" + net::device_list_json(**list) + "}");
}

WireResponse Api::put_devices(const WireRequest& w) {
  auto caller = authenticate(w);
  if (!caller.ok()) return error(caller.status());
  auto list = net::parse_device_list_json(w.body);
  if (!list.ok()) return error(list.status());
  if (list->owner != caller->nick)
    return error(Status::Forbidden("'" + caller->nick + "' cannot change the devices of '" + list->owner + "'"));
  if (list->public_key != caller->key)
    return error(Status::Forbidden("the device list is signed by another key than the account of '" +
                                   caller->nick + "'"));
  auto put = mailbox_.set_devices(*list);
  if (!put.ok()) return error(for_client(put.status()));
  return reply(200, to_json([&](Writer& j) {
                 j.StartObject();
                 j.Key("version");
                 j.Uint64(list->version);
                 j.Key("devices");
                 j.Uint(static_cast<unsigned>(list->devices.size()));
                 j.EndObject();
               }));
}

// --- Long poll ----------------------------------------------------------------------

void Api::on_stored(const core::Record& record) {
  if (!core::Mailbox::is_entry(record)) return;
  std::lock_guard lock(wait_mu_);
  auto it = waiters_.find(record.key);
  if (it == waiters_.end()) return;
  ++it->second->generation;
  it->second->cv.notify_all();
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
  std::lock_guard lock(wait_mu_);
  stopping_ = true;
  for (auto& [key, w] : waiters_) w->cv.notify_all();
}

}  // namespace dws::node
