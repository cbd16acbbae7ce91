#include "core/users.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "core/id.hpp"
#include "core/nickname.hpp"
#include "core/validation.hpp"

namespace dws::core {

namespace {

constexpr int kAttempts = 3;
// Nodes one ring walk visits at most.
constexpr int kMaxWalk = 4096;
// The one answer for an unknown nickname and a wrong password.
constexpr const char* kWrongLogin = "wrong nickname or password";

Status decode_live(const std::optional<Record>& rec, std::optional<Account>& out) {
  out.reset();
  if (!rec || rec->tombstone) return Status::Ok();
  auto acct = decode_account(rec->payload);
  if (!acct.ok()) return Status::Internal("stored user record is corrupt: " + acct.status().message());
  out = std::move(acct).value();
  return Status::Ok();
}

std::string to_string(std::span<const std::uint8_t> b) { return std::string(b.begin(), b.end()); }

}  // namespace

Users::Users(Ring& ring, Replicator& replicator, RecordStore& records, Transport& transport, UsersOptions options)
    : ring_(ring),
      replicator_(replicator),
      records_(records),
      transport_(transport),
      opt_(options),
      limiter_(options.login) {}

Status Users::create(const Account& account, std::int64_t now_ms) {
  if (Status s = verify_account(account); !s.ok()) return s;
  if (account.version != 1)
    return Status::InvalidArgument("a new account has version 1, got " + std::to_string(account.version) +
                                   ": make it with version 1");
  const Record rec{user_key(account.nickname), "", account.version, false, 0, encode_account(account)};
  PutCondition create;
  create.if_absent = true;
  auto put = replicator_.put(rec, create);
  if (put.ok()) return Status::Ok();
  if (put.status().code() != Code::kExists) return put.status();
  // Say which: taken, or deleted and not yet free.
  auto stored = replicator_.get(rec.key, "");
  if (stored.ok() && stored->has_value() && (*stored)->tombstone) {
    const std::int64_t days = ((*stored)->expires_at - now_ms) / (24 * 3600 * 1000) + 1;
    return Status::Exists("nickname '" + account.nickname + "' was deleted recently; it can be registered again " +
                          "in about " + std::to_string(days) + " days: choose another");
  }
  return Status::Exists("nickname '" + account.nickname + "' is taken: choose another");
}

Result<std::optional<Account>> Users::get(std::string_view nick) {
  auto rec = replicator_.get(user_key(nick), "");
  if (!rec.ok()) return rec.status();
  std::optional<Account> out;
  if (Status s = decode_live(*rec, out); !s.ok()) return s;
  return out;
}

Status Users::update(const Account& proposed) {
  auto current = get(proposed.nickname);
  if (!current.ok()) return current.status();
  if (!current->has_value()) return Status::NotFound("no user '" + proposed.nickname + "'");
  if (Status s = check_update(**current, proposed); !s.ok()) {
    if (s.code() == Code::kInvalidArgument) return s;
    return Status::Forbidden(s.message());
  }
  const Record rec{user_key(proposed.nickname), "", proposed.version, false, 0, encode_account(proposed)};
  auto put = replicator_.put(rec);
  if (!put.ok()) return put.status();
  // A concurrent update with a higher version got there first.
  if (put->version > proposed.version)
    return Status::Forbidden("version " + std::to_string(proposed.version) + " of '" + proposed.nickname +
                             "' is not above the stored version " + std::to_string(put->version) +
                             ": fetch the record and update that");
  return Status::Ok();
}

Status Users::remove(std::string_view nick, std::uint64_t version, const crypto::Signature& sig,
                     std::int64_t now_ms) {
  auto current = get(nick);
  if (!current.ok()) return current.status();
  if (!current->has_value()) return Status::NotFound("no user '" + std::string(nick) + "'");
  const Account& a = **current;
  if (version <= a.version || version > kMaxVersion)
    return Status::Forbidden("deleting '" + std::string(nick) + "' at version " + std::to_string(version) +
                             ": it must raise the stored version " + std::to_string(a.version) + " (at most 2^48)");
  // The signature is the store's to check (and count), on every copy.
  const DeletionProof proof{std::string(nick), a.public_key, sig};
  const Record tomb{user_key(nick), "", version, true, now_ms + opt_.tombstone_ttl_ms, encode_deletion_proof(proof)};
  auto put = replicator_.put(tomb);
  if (!put.ok()) return put.status();
  return Status::Ok();
}

Result<LoginResult> Users::login(const std::string& nick, const crypto::SecretBytes<32>& auth_key,
                                 const std::string& source, std::int64_t now_ms, std::int64_t* retry_after_s) {
  const LoginReq req{nick, to_string(auth_key.span()), source};
  const Id key = user_key(nick);
  Status last = Status::Unavailable("no primary found for user '" + nick + "'");
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto primary = ring_.lookup(key);
    if (!primary.ok()) {
      last = primary.status();
      continue;
    }
    Result<LoginResp> resp = Status::Internal("unset");
    if (primary->node.id == ring_.self().id) {
      resp = login_at_primary(req, now_ms);
    } else {
      auto r = transport_.call(primary->node.address, Request{req}, opt_.deadline);
      if (!r.ok()) {
        resp = r.status();
      } else if (auto* lr = std::get_if<LoginResp>(&*r)) {
        resp = std::move(*lr);
      } else {
        resp = Status::Internal(primary->node.address + " answered a login with another kind of message");
      }
    }
    if (!resp.ok()) {
      last = resp.status();
      if (last.code() == Code::kNotResponsible || last.code() == Code::kUnavailable) continue;
      return last;
    }
    if (resp->retry_after_s > 0) {
      if (retry_after_s) *retry_after_s = resp->retry_after_s;
      return Status::RateLimited("too many failed logins for '" + nick + "' from " +
                                 (source.empty() ? std::string("this address") : source) + ": retry in " +
                                 std::to_string(resp->retry_after_s) + " s");
    }
    if (!resp->ok) return Status::Unauthenticated(kWrongLogin);
    LoginResult out;
    if (resp->sealed_secret.size() != out.sealed_secret.size() || resp->public_key.size() != out.public_key.size())
      return Status::Internal("the primary of '" + nick + "' answered a login with fields of the wrong size");
    std::copy(resp->sealed_secret.begin(), resp->sealed_secret.end(), out.sealed_secret.begin());
    std::copy(resp->public_key.begin(), resp->public_key.end(), out.public_key.begin());
    out.version = resp->version;
    return out;
  }
  return last;
}

Result<LoginResp> Users::login_at_primary(const LoginReq& req, std::int64_t now_ms) {
  if (Status s = check_nickname(req.nickname); !s.ok()) return s;
  const Id key = user_key(req.nickname);
  if (!ring_.responsible_for(key))
    return Status::NotResponsible("node " + ring_.self().address + " is not the primary of '" + req.nickname +
                                  "': look it up again");
  if (req.auth_key.size() != 32) return Status::InvalidArgument("auth_key must be 32 bytes");
  LoginResp resp;
  resp.retry_after_s = limiter_.retry_after_s(req.nickname, req.source, now_ms);
  if (resp.retry_after_s > 0) return resp;
  auto acct = get(req.nickname);
  if (!acct.ok()) return acct.status();
  crypto::SecretBytes<32> auth_key(
      std::span<const std::uint8_t, 32>(reinterpret_cast<const std::uint8_t*>(req.auth_key.data()), 32));
  // An unknown nickname is a failure like a wrong password: same answer,
  // same count, so neither reveals whether the account exists.
  if (!acct->has_value() || !check_login(**acct, auth_key).ok()) {
    limiter_.record_failure(req.nickname, req.source, now_ms);
    return resp;
  }
  limiter_.record_success(req.nickname, req.source);
  const Account& a = **acct;
  resp.ok = true;
  resp.sealed_secret = to_string(a.sealed_secret);
  resp.public_key = to_string(a.public_key);
  resp.version = a.version;
  return resp;
}

Result<UserListResp> Users::list_here(const UserListReq& req) {
  UserListResp resp;
  if (!ring_.joined()) return resp;
  const Id self = ring_.self().id;
  const auto pred = ring_.predecessor();
  // Alone (or without a predecessor yet): everything this node holds; the
  // entry node drops duplicates.
  const Id a = pred && !ring_.successors().empty() ? pred->id : self;
  std::map<std::string, std::string> found;
  const std::uint32_t limit = std::clamp<std::uint32_t>(req.limit, 1, kMaxScanLimit);
  Status st = records_.scan_range(a, self, [&](const Record& r) {
    if (!r.sub.empty() || r.tombstone) return true;
    auto acct = decode_account(r.payload);
    if (!acct.ok() || acct->nickname.compare(0, req.prefix.size(), req.prefix) != 0) return true;
    if (user_key(acct->nickname) != r.key) return true;
    found.emplace(acct->nickname, acct->display_name);
    if (found.size() > limit) found.erase(std::prev(found.end()));
    return true;
  });
  if (!st.ok()) return st;
  for (auto& [nick, name] : found) resp.users.push_back({nick, name});
  return resp;
}

Result<std::vector<UserListEntry>> Users::list(const std::string& prefix, std::uint32_t limit) {
  limit = std::clamp<std::uint32_t>(limit, 1, kMaxScanLimit);
  const UserListReq req{prefix, limit};
  std::map<std::string, std::string> all;
  const PeerInfo start = ring_.self();
  PeerInfo node = start;
  for (int i = 0; i < kMaxWalk; ++i) {
    Result<UserListResp> part = Status::Internal("unset");
    if (node.id == start.id) {
      part = list_here(req);
    } else {
      auto r = transport_.call(node.address, Request{req}, opt_.deadline);
      if (!r.ok()) part = r.status();
      else if (auto* u = std::get_if<UserListResp>(&*r)) part = std::move(*u);
      else part = Status::Internal(node.address + " answered a user list with another kind of message");
    }
    // A node that does not answer is skipped: its replicas are the next
    // nodes, which list only their own range, so its users are missing from
    // this answer until the ring repairs.
    if (part.ok())
      for (auto& u : part->users) all.emplace(std::move(u.nickname), std::move(u.display_name));
    while (all.size() > limit) all.erase(std::prev(all.end()));
    auto next = ring_.lookup(node.id + 1);
    if (!next.ok()) {
      if (all.empty()) return next.status();
      break;  // what was found so far; the rest of the ring is unreachable now
    }
    if (next->node.id == start.id || next->node.id == node.id) break;
    node = next->node;
  }
  std::vector<UserListEntry> out;
  for (auto& [nick, name] : all) out.push_back({nick, name});
  return out;
}

Result<Response> Users::handle(const Request& request, std::int64_t now_ms) {
  if (const auto* login = std::get_if<LoginReq>(&request)) {
    auto r = login_at_primary(*login, now_ms);
    if (!r.ok()) return r.status();
    return Response{std::move(r).value()};
  }
  if (const auto* list = std::get_if<UserListReq>(&request)) {
    auto r = list_here(*list);
    if (!r.ok()) return r.status();
    return Response{std::move(r).value()};
  }
  return Status::InvalidArgument("the user service does not handle this request");
}

}  // namespace dws::core
