// Signed requests (DESIGN.md section 5): every request that acts for a user
// carries `Authorization: DWS1 nick=<n>, ts=<unix-ms>, sig=<base64>`, the
// Ed25519 signature over
//     METHOD "\n" PATH?QUERY "\n" ts "\n" hex(BLAKE2b-256(body))
// so any node holding the user's public key can check it without state.
// Pure: time is always passed in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "crypto/keys.hpp"
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

}  // namespace dws::core
