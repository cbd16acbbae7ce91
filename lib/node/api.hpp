// The user-facing HTTP API (DESIGN.md section 8): accounts, signed requests,
// messages and long-polled mailboxes, over core::Users and core::Mailbox.
// One Api per node; the node routes its endpoints here and hands it the
// node-to-node LoginReq / UserListReq and every record the store merges.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>

#include "core/env.hpp"
#include "core/mailbox.hpp"
#include "core/rate_limit.hpp"
#include "core/messages.hpp"
#include "core/replication.hpp"
#include "core/ring.hpp"
#include "core/users.hpp"
#include "crypto/keys.hpp"
#include "net/http_server.hpp"
#include "net/timer.hpp"
#include "node/sessions.hpp"

namespace dws::node {

struct ApiOptions {
  core::UsersOptions users;
  core::MailboxOptions mailbox;
  /// How long a fetched public key is trusted without asking the ring again.
  std::int64_t key_cache_ttl_ms = 30'000;
  std::size_t key_cache_max = 100'000;
  /// Long polls waiting at once on this node; more get 503. A waiting poll
  /// holds its connection and a few hundred bytes, no thread (the answer is
  /// deferred), so the bound is the server's connections
  /// (HttpServerOptions::max_connections, 16384): this leaves room under it
  /// for everything else.
  std::size_t max_waiters = 12'000;
  /// Long polls one account may hold on this node: a further one ends the
  /// oldest (it answers at once), so nobody holding the account's requests
  /// can lock its owner out of the mailbox.
  std::size_t max_waiters_per_user = 4;
  /// Long polls one source address may hold on this node; more get 429.
  std::size_t max_waiters_per_address = 32;
  /// Accounts one source address may register through this node; burst 0:
  /// no limit.
  core::TokenBuckets::Options registrations{.burst = 20, .refill_ms = 30'000, .max_tracked = 10'000};
  int max_wait_s = 60;
  std::int64_t auth_window_ms = 120'000;
  SessionOptions sessions;
};

/// Safe for concurrent use by the HTTP workers. Waiting long polls are
/// answered by the thread that stores their message (on_stored), by one
/// deadline sweep thread, or by stop().
class Api {
 public:
  /// REQUIRES: everything passed in outlives the Api.
  Api(core::Ring& ring, core::Replicator& replicator, core::RecordStore& records, core::Transport& transport,
      core::Clock& clock, ApiOptions options);
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  /// Another ring position of this node (virtual nodes): requests about an
  /// account whose primary it is are served through it; the first position,
  /// given to the constructor, serves the rest as an entry node.
  /// REQUIRES: before add_routes(); everything passed in outlives the Api.
  void add_position(core::Ring& ring, core::Replicator& replicator, core::RecordStore& records);

  /// Registers the /v1/users, /v1/login, /v1/messages, /v1/mailbox routes.
  void add_routes(net::HttpServer& server);

  /// Node-to-node requests the API answers (LoginReq, UserListReq), for the
  /// ring position they were sent to (0: the first; add_position order).
  static bool handles(const core::Request& request) { return core::Users::handles(request); }
  Result<core::Response> handle(const core::Request& request, std::size_t position = 0);

  /// The node's record validator's cache: an envelope the API checked is
  /// then admitted by the replicator without a second verification.
  /// REQUIRES: before add_routes(); `verified` outlives the Api.
  void set_verified_cache(crypto::VerifiedCache* verified) { verified_ = verified; }

  /// The store merged `record` with a change: wakes long polls of its mailbox.
  void on_stored(const core::Record& record);

  /// Answers every long poll (with what its mailbox has) and makes later
  /// ones answer at once. Call before stopping the HTTP server.
  void stop();

  /// Sessions open on this node (the dws_sessions gauge).
  std::size_t sessions() const { return sessions_.size(); }

  /// Long polls waiting now (the dws_mailbox_waiters gauge).
  std::size_t waiting();

  /// Requests refused (or long polls ended early) by an abuse limit.
  struct LimitCounts {
    std::uint64_t registrations = 0;     // registrations over the per-address budget
    std::uint64_t failed_logins = 0;     // logins refused while backing off
    std::uint64_t polls_per_address = 0; // long polls over the per-address cap
    std::uint64_t polls_preempted = 0;   // long polls ended by a newer one of the same account
    std::uint64_t polls_node_full = 0;   // long polls over the node's cap
  };
  LimitCounts limit_counts();

 private:
  struct Caller {
    std::string nick;
    crypto::PublicKey key{};
  };
  struct CachedKey {
    crypto::PublicKey key{};
    std::int64_t fetched_ms = 0;
  };
  // One waiting long poll: what to list again when it is answered.
  struct Waiter;
  using Deadlines = std::multimap<std::chrono::steady_clock::time_point, std::shared_ptr<Waiter>>;
  struct Waiter {
    net::Responder responder;
    Id key{};
    std::string nick;
    std::string device;
    std::string after;
    std::string address;  // the source address, for its cap
    std::uint32_t limit = 0;
    std::size_t position = 0;  // the ring position whose mailbox it lists
    // Guarded by wait_mu_.
    std::uint64_t ticket = 0;  // its place in line among the account's waiters
    Deadlines::iterator at;    // its entry in deadlines_
    bool taken = false;        // out of the tables: answered, or its client gone
  };
  struct Waiters {  // of one account, oldest first
    std::map<std::uint64_t, std::shared_ptr<Waiter>> by_ticket;
    std::uint64_t next_ticket = 0;
  };

  /// What a route takes as proof: a DWS1 signature only, or also a session
  /// MAC (the hot paths: send, receive, acknowledge).
  enum class Auth { kSignature, kSignatureOrSession };
  Result<Caller> authenticate(const net::WireRequest& w, Auth accept);
  Result<Caller> authenticate_session(const net::WireRequest& w, const std::string& header);
  Result<std::string> own_account(const net::WireRequest& w, const char* verb);
  // A request's caller (as authenticate checks it) and the body `parse`
  // reads from it, or the first of their errors.
  template <class Body>
  struct Signed {
    Caller caller;
    Body body;
  };
  template <class Parse>
  auto signed_body(const net::WireRequest& w, Auth accept, Parse parse) {
    using Body = std::decay_t<decltype(parse(w.body).value())>;
    using Out = Result<Signed<Body>>;
    auto caller = authenticate(w, accept);
    if (!caller.ok()) return Out(caller.status());
    auto body = parse(w.body);
    if (!body.ok()) return Out(body.status());
    return Out(Signed<Body>{std::move(caller).value(), std::move(body).value()});
  }
  Result<crypto::PublicKey> public_key(const std::string& nick);
  void forget_key(const std::string& nick);

  net::WireResponse register_user(const net::WireRequest& w);
  net::WireResponse get_user(const net::WireRequest& w);
  net::WireResponse get_kdf(const net::WireRequest& w);
  net::WireResponse get_node(const net::WireRequest& w);
  net::WireResponse update_user(const net::WireRequest& w);
  net::WireResponse delete_user(const net::WireRequest& w);
  net::WireResponse list_users(const net::WireRequest& w);
  net::WireResponse login(const net::WireRequest& w);
  net::WireResponse open_session(const net::WireRequest& w);
  net::WireResponse close_session(const net::WireRequest& w);
  net::WireResponse post_message(const net::WireRequest& w);
  void get_mailbox(const net::WireRequest& w, net::Responder responder);
  Result<core::MailboxPage> list(const Waiter& w);
  // Removes `w` from the tables; false if it was already. REQUIRES: wait_mu_.
  bool take(Waiter& w);
  // Lists `w`'s mailbox again and answers. REQUIRES: take(w) returned true.
  void finish(const std::shared_ptr<Waiter>& w);
  // The sweep: answers the polls whose wait is over.
  void expire();
  net::WireResponse ack(const net::WireRequest& w);
  net::WireResponse get_devices(const net::WireRequest& w);
  net::WireResponse put_devices(const net::WireRequest& w);

  // One ring position's view of the accounts and mailboxes.
  struct Place {
    core::Ring& ring;
    core::Users users;
    core::Mailbox mailbox;
  };
  // The position that is primary for `key` here, or nullptr.
  Place* primary_here(Id key, std::size_t* index = nullptr);
  // That position, else the first one (an entry node forwarding).
  Place& place_for(std::string_view nick);

  core::Transport& transport_;
  core::Clock& clock_;
  ApiOptions opt_;
  std::vector<std::unique_ptr<Place>> places_;  // [0]: the node's first position

  SessionTable sessions_;
  crypto::VerifiedCache* verified_ = nullptr;

  std::mutex key_mu_;
  std::unordered_map<std::string, CachedKey> keys_;

  std::mutex wait_mu_;
  std::unordered_map<Id, Waiters> waiters_;
  Deadlines deadlines_;
  std::size_t waiting_ = 0;
  std::unordered_map<std::string, std::size_t> waiting_by_address_;
  bool stopping_ = false;
  LimitCounts limits_;  // guarded by wait_mu_

  std::unique_ptr<core::TokenBuckets> registrations_;  // null: no limit
  // Last: stopped (joined) first, while what it uses still exists.
  net::Timer sweeper_;
};

}  // namespace dws::node
