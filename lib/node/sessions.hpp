// The sessions one node holds for logged-in clients (docs/protocol.md
// section 5.1): id -> the account, its key when the session opened, and the
// MAC key the X25519 exchange gave. In memory only: a restarted node has
// none, and its clients open new ones when a MAC is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "crypto/keys.hpp"
#include "crypto/kx.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::node {

struct SessionOptions {
  /// Sessions on this node at once; a further open is kUnavailable
  /// (503) once the expired ones are gone. About 200 bytes each.
  std::size_t max_sessions = 65'536;
  /// Sessions one account may hold on this node: a further open ends that
  /// account's oldest (its client opens a new one when refused), so one
  /// account cannot fill the table.
  std::size_t max_per_account = 16;
  /// A session ends this long after it opened.
  std::int64_t ttl_ms = 3'600'000;
};

struct SessionInfo {
  std::string nick;
  crypto::PublicKey account_key{};  // the account's key when it opened
  crypto::SessionKey key;
  std::int64_t expires_ms = 0;      // monotonic
};

struct OpenedSession {
  std::string sid;
  crypto::KxPublicKey node_key{};
  std::int64_t ttl_ms = 0;
};

/// Safe for concurrent use.
class SessionTable {
 public:
  explicit SessionTable(SessionOptions options = {});

  /// Runs this node's side of the exchange with `client_key` and stores the
  /// session. kInvalidArgument for an unusable client key,
  /// kUnavailable when the table is full of live sessions.
  Result<OpenedSession> open(const std::string& nick, const crypto::PublicKey& account_key,
                             const crypto::KxPublicKey& client_key, std::int64_t now_ms);
  /// The live session `sid`, or nullopt (unknown, ended or expired).
  std::optional<SessionInfo> find(const std::string& sid, std::int64_t now_ms);
  /// Ends `sid` if it belongs to `nick`; false if there was none such.
  bool close(const std::string& sid, const std::string& nick);

  std::size_t size() const;
  const SessionOptions& options() const { return opt_; }

 private:
  struct Entry {
    SessionInfo info;
    std::list<std::string>::iterator in_account;
  };
  void erase_locked(const std::string& sid);
  void sweep_locked(std::int64_t now_ms);

  const SessionOptions opt_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> sessions_;
  std::unordered_map<std::string, std::list<std::string>> by_account_;  // nick -> sids, oldest first
  std::int64_t next_sweep_ms_ = 0;
};

}  // namespace dws::node
