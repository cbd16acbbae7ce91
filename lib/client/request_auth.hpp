// How a logged-in client proves its requests (docs/protocol.md sections 5
// and 5.1): a DWS1 Ed25519 signature, or, for the hot paths (send, receive,
// acknowledge), a DWS1S MAC under a session opened once per node. A session
// costs the node a hash per request instead of a signature verification;
// the envelope inside a send is still signed by the sender.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "client/api_client.hpp"
#include "core/env.hpp"
#include "crypto/keys.hpp"
#include "crypto/kx.hpp"

namespace dws::client {

/// Safe for concurrent use. Holds the account's secret key for as long as
/// it lives (the Client keeps one per login).
class RequestAuth final : public Authorizer, public std::enable_shared_from_this<RequestAuth> {
 public:
  /// `use_sessions` false: every request is signed (DWS1).
  /// REQUIRES: `api` and `clock` outlive this object.
  static std::shared_ptr<RequestAuth> create(ApiClient& api, core::Clock& clock, std::string nick,
                                             const crypto::SecretKey& secret_key, bool use_sessions);

  Result<std::string> header(const std::string& server, const std::string& method, const std::string& target,
                             const std::string& body) override;
  bool refused(const std::string& server, const std::string& method, const std::string& target) override;

  /// Ends every session this object opened (logout); best effort, one
  /// signed DELETE per node, failures ignored (they expire).
  void close_all();

  /// True when requests of `method target` may carry a session MAC.
  static bool session_eligible(const std::string& method, const std::string& target);

  /// Sessions opened so far and sessions dropped after a refusal.
  std::uint64_t opened() const;
  std::uint64_t dropped() const;

 private:
  struct Open {
    std::string sid;
    crypto::SessionKey key;
    std::int64_t expires_ms = 0;  // monotonic: reopen a little before the node ends it
  };

  RequestAuth(ApiClient& api, core::Clock& clock, std::string nick, const crypto::SecretKey& secret_key,
              bool use_sessions);
  Result<std::string> sign(const std::string& method, const std::string& target, const std::string& body);
  /// The session for `server`, opening one if needed; nullopt when the node
  /// will not open one now (an old node, a full table, unreachable): the
  /// caller signs instead.
  std::optional<Open> session_for(const std::string& server);

  ApiClient& api_;
  core::Clock& clock_;
  const std::string nick_;
  const crypto::SecretKey secret_key_;
  const bool use_sessions_;

  std::mutex open_mu_;  // one open at a time; held across the open's request
  mutable std::mutex mu_;
  std::map<std::string, Open> sessions_;         // server -> its session
  std::map<std::string, std::int64_t> no_session_until_;  // server -> monotonic ms
  std::uint64_t opened_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace dws::client
