// Signed requests (DESIGN.md section 5): every request that acts for a user
// carries `Authorization: DWS1 nick=<n>, ts=<unix-ms>, sig=<base64>`, the
// Ed25519 signature over
//     METHOD "\n" PATH?QUERY "\n" ts "\n" hex(BLAKE2b-256(body))
// so any node holding the user's public key can check it without state.
// Pure: time is always passed in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "crypto/keys.hpp"
#include "crypto/kx.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::core {

/// How far a request's timestamp may be from the verifier's clock, either
/// way.
inline constexpr std::int64_t kDefaultAuthWindowMs = 120'000;

/// The string a request's signature is over. `target` is the request
/// target exactly as on the request line: path, then "?" and the query as
/// sent (still percent-encoded), if any.
std::string request_signing_string(std::string_view method, std::string_view target, std::int64_t ts_ms,
                                   std::string_view body);

/// The Authorization header value for one request.
/// kInvalidArgument for a nickname not in stored form, a method that is not
/// upper-case letters, a target that does not start with '/' or holds
/// spaces or control characters, or a negative timestamp.
Result<std::string> make_authorization(std::string_view nick, const crypto::SecretKey& secret_key,
                                       std::string_view method, std::string_view target, std::int64_t ts_ms,
                                       std::string_view body);

/// The parts of an Authorization header.
struct Authorization {
  std::string nick;
  std::int64_t ts_ms = 0;
  crypto::Signature sig{};
};

/// Parses `DWS1 nick=<n>, ts=<unix-ms>, sig=<base64>` (scheme case-
/// insensitive, parameters in any order, each exactly once).
/// kUnauthenticated when the header is empty or another scheme;
/// kInvalidArgument naming the parameter that is missing, repeated,
/// unknown or malformed.
Result<Authorization> parse_authorization(std::string_view header);

/// Checks a parsed header against the request and the user's public key.
/// kUnauthenticated when the timestamp is outside now_ms +- window_ms
/// (saying which way and by how much) or the signature does not verify;
/// kInvalidArgument for a malformed method or target.
Status verify_request(const Authorization& auth, const crypto::PublicKey& public_key, std::string_view method,
                      std::string_view target, std::string_view body, std::int64_t now_ms,
                      std::int64_t window_ms = kDefaultAuthWindowMs);

// --- Sessions (docs/protocol.md section 5.1) -----------------------------------
// A logged-in client may open a session with a node (POST /v1/sessions, a
// DWS1-signed request carrying an X25519 exchange key) and then authenticate
// the hot requests to that node (send, receive, acknowledge) with
//     Authorization: DWS1S sid=<32 hex>, ts=<unix-ms>, mac=<base64>
// where mac is keyed BLAKE2b-256 under the session key over
//     "DWS1S" "\n" sid "\n" <the DWS1 signing string>
// A MAC costs a hash where a signature costs an Ed25519 verification.

inline constexpr std::string_view kSessionScheme = "DWS1S";
/// Bytes of a session id; on the wire it is twice as many hex digits.
inline constexpr std::size_t kSessionIdSize = 16;

struct SessionAuthorization {
  std::string sid;  // lower-case hex
  std::int64_t ts_ms = 0;
  std::array<std::uint8_t, 32> mac{};
};

/// True when the header's scheme is DWS1S (case-insensitive).
bool is_session_authorization(std::string_view header);
/// kInvalidArgument unless `sid` is kSessionIdSize * 2 lower-case hex digits.
Status check_session_id(std::string_view sid);
/// The string a session MAC is over.
std::string session_mac_string(std::string_view sid, std::string_view method, std::string_view target,
                               std::int64_t ts_ms, std::string_view body);
/// The DWS1S header for one request; the same argument checks as
/// make_authorization, and the session id's.
Result<std::string> make_session_authorization(std::string_view sid, const crypto::SessionKey& key,
                                               std::string_view method, std::string_view target,
                                               std::int64_t ts_ms, std::string_view body);
/// Parses `DWS1S sid=<hex>, ts=<unix-ms>, mac=<base64>` with the rules of
/// parse_authorization.
Result<SessionAuthorization> parse_session_authorization(std::string_view header);
/// The window check of verify_request, then the MAC (constant time).
Status verify_session_request(const SessionAuthorization& auth, const crypto::SessionKey& key,
                              std::string_view method, std::string_view target, std::string_view body,
                              std::int64_t now_ms, std::int64_t window_ms = kDefaultAuthWindowMs);

}  // namespace dws::core
