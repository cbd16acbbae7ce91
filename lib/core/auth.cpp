#include "core/auth.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

#include "core/nickname.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/kx.hpp"

namespace dws::core {

namespace {

constexpr std::string_view kScheme = "DWS1";
constexpr std::size_t kMaxHeaderSize = 512;

Status check_method(std::string_view method) {
  if (method.empty() || method.size() > 16 ||
      !std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
    return Status::InvalidArgument("request method '" + std::string(method.substr(0, 16)) +
                                   "' is not an upper-case HTTP method");
  return Status::Ok();
}

// The signing string is line-based: a target with a newline could forge
// another request's lines.
Status check_target(std::string_view target) {
  if (target.empty() || target.front() != '/')
    return Status::InvalidArgument("request target must start with '/'");
  for (const char c : target) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b == 0x7f)
      return Status::InvalidArgument("request target holds a space or control character: percent-encode it");
  }
  return Status::Ok();
}

bool ieq(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Canonical decimal: no sign, no leading zeros, fits int64.
bool parse_ms(std::string_view s, std::int64_t& out) {
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s.front() == '0')) return false;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string seconds(std::int64_t ms) {
  // Whole seconds and the remainder, so "121.5 s" reads naturally.
  std::string out = std::to_string(ms / 1000);
  if (ms % 1000 != 0) {
    std::string frac = std::to_string(1000 + ms % 1000).substr(1);
    while (frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  return out + " s";
}

}  // namespace

std::string request_signing_string(std::string_view method, std::string_view target, std::int64_t ts_ms,
                                   std::string_view body) {
  const crypto::Hash256 h = crypto::blake2b_256(body);
  std::string out;
  out.reserve(method.size() + target.size() + 20 + 2 * h.size() + 3);
  out.append(method).append("\n").append(target).append("\n").append(std::to_string(ts_ms)).append("\n");
  out.append(crypto::to_hex(h));
  return out;
}

namespace {

// The three `name=value` parameters after a scheme, in the order `names`
// gives them; each exactly once, in any order, nothing else.
Result<std::array<std::string_view, 3>> scheme_params(std::string_view header, std::string_view scheme,
                                                      const std::array<std::string_view, 3>& names,
                                                      std::string_view expected) {
  header = trim(header);
  if (header.empty())
    return Status::Unauthenticated("no Authorization header: sign the request (" + std::string(expected) + ")");
  if (header.size() > kMaxHeaderSize)
    return Status::InvalidArgument("Authorization header is " + std::to_string(header.size()) +
                                   " bytes: at most " + std::to_string(kMaxHeaderSize));
  const std::size_t sp = header.find_first_of(" \t");
  const std::string_view got = header.substr(0, sp);
  if (!ieq(got, scheme))
    return Status::Unauthenticated("Authorization scheme '" + std::string(got.substr(0, 32)) + "' is not " +
                                   std::string(scheme) + ": sign the request (" + std::string(expected) + ")");
  if (sp == std::string_view::npos)
    return Status::InvalidArgument("Authorization header has no parameters: expected " + std::string(expected));

  std::array<std::string_view, 3> values;
  std::array<bool, 3> seen{};
  std::string_view rest = header.substr(sp);
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view param = trim(rest.substr(0, comma));
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return Status::InvalidArgument("Authorization parameter '" + std::string(param.substr(0, 32)) +
                                     "' is not name=value");
    const std::string_view name = param.substr(0, eq);
    const auto at = std::find(names.begin(), names.end(), name);
    if (at == names.end())
      return Status::InvalidArgument("Authorization parameter '" + std::string(name.substr(0, 32)) +
                                     "' is unknown: expected " + std::string(names[0]) + ", " +
                                     std::string(names[1]) + " and " + std::string(names[2]));
    const auto i = static_cast<std::size_t>(at - names.begin());
    if (seen[i]) return Status::InvalidArgument("Authorization has " + std::string(name) + " twice");
    seen[i] = true;
    values[i] = param.substr(eq + 1);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  for (std::size_t i = 0; i < names.size(); ++i)
    if (!seen[i]) return Status::InvalidArgument("Authorization has no " + std::string(names[i]));
  return values;
}

Status parse_ts(std::string_view value, std::int64_t& out) {
  if (!parse_ms(value, out))
    return Status::InvalidArgument("Authorization ts '" + std::string(value.substr(0, 32)) +
                                   "' is not unix milliseconds (decimal digits, no leading zeros)");
  return Status::Ok();
}

// The timestamp window both schemes share.
Status check_window(std::int64_t ts_ms, std::int64_t now_ms, std::int64_t window_ms) {
  if (ts_ms > now_ms && ts_ms - now_ms > window_ms)
    return Status::Unauthenticated("request timestamp is " + seconds(ts_ms - now_ms) + " in the future: at most " +
                                   seconds(window_ms) + " is accepted (check the client's clock)");
  if (ts_ms < now_ms && now_ms - ts_ms > window_ms)
    return Status::Unauthenticated("request timestamp is " + seconds(now_ms - ts_ms) + " old: at most " +
                                   seconds(window_ms) + " is accepted (check the client's clock, or sign anew)");
  return Status::Ok();
}

Status check_request(std::string_view method, std::string_view target, std::int64_t ts_ms) {
  if (Status st = check_method(method); !st.ok()) return st;
  if (Status st = check_target(target); !st.ok()) return st;
  if (ts_ms < 0) return Status::InvalidArgument("request timestamp " + std::to_string(ts_ms) + " is negative");
  return Status::Ok();
}

constexpr std::string_view kExpected = "DWS1 nick=..., ts=..., sig=...";
constexpr std::string_view kSessionExpected = "DWS1S sid=..., ts=..., mac=...";

}  // namespace

Result<std::string> make_authorization(std::string_view nick, const crypto::SecretKey& secret_key,
                                       std::string_view method, std::string_view target, std::int64_t ts_ms,
                                       std::string_view body) {
  if (Status st = check_nickname(nick); !st.ok()) return st;
  if (Status st = check_request(method, target, ts_ms); !st.ok()) return st;
  const crypto::Signature sig = crypto::sign(secret_key, request_signing_string(method, target, ts_ms, body));
  return std::string(kScheme) + " nick=" + std::string(nick) + ", ts=" + std::to_string(ts_ms) +
         ", sig=" + crypto::to_base64(sig);
}

Result<Authorization> parse_authorization(std::string_view header) {
  auto params = scheme_params(header, kScheme, {"nick", "ts", "sig"}, kExpected);
  if (!params.ok()) return params.status();
  const auto& [nick, ts, sig] = *params;
  Authorization out;
  if (Status st = check_nickname(nick); !st.ok()) return Status::InvalidArgument("Authorization " + st.message());
  out.nick = std::string(nick);
  if (Status st = parse_ts(ts, out.ts_ms); !st.ok()) return st;
  auto bytes = crypto::from_base64_fixed<crypto::kSignatureSize>(sig, "Authorization sig");
  if (!bytes.ok()) return bytes.status();
  out.sig = *bytes;
  return out;
}

bool is_session_authorization(std::string_view header) {
  header = trim(header);
  const std::string_view scheme = header.substr(0, header.find_first_of(" \t"));
  return ieq(scheme, kSessionScheme);
}

std::string session_mac_string(std::string_view sid, std::string_view method, std::string_view target,
                               std::int64_t ts_ms, std::string_view body) {
  std::string out(kSessionScheme);
  out.append("\n").append(sid).append("\n");
  out.append(request_signing_string(method, target, ts_ms, body));
  return out;
}

Status check_session_id(std::string_view sid) {
  if (sid.size() != kSessionIdSize * 2 ||
      !std::all_of(sid.begin(), sid.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
    return Status::InvalidArgument("session id '" + std::string(sid.substr(0, 40)) + "' is not " +
                                   std::to_string(kSessionIdSize * 2) + " lower-case hex digits");
  return Status::Ok();
}

Result<std::string> make_session_authorization(std::string_view sid, const crypto::SessionKey& key,
                                               std::string_view method, std::string_view target,
                                               std::int64_t ts_ms, std::string_view body) {
  if (Status st = check_session_id(sid); !st.ok()) return st;
  if (Status st = check_request(method, target, ts_ms); !st.ok()) return st;
  const crypto::Hash256 mac =
      crypto::keyed_blake2b_256(key.span(), session_mac_string(sid, method, target, ts_ms, body));
  return std::string(kSessionScheme) + " sid=" + std::string(sid) + ", ts=" + std::to_string(ts_ms) +
         ", mac=" + crypto::to_base64(mac);
}

Result<SessionAuthorization> parse_session_authorization(std::string_view header) {
  auto params = scheme_params(header, kSessionScheme, {"sid", "ts", "mac"}, kSessionExpected);
  if (!params.ok()) return params.status();
  const auto& [sid, ts, mac] = *params;
  SessionAuthorization out;
  if (Status st = check_session_id(sid); !st.ok()) return Status::InvalidArgument("Authorization " + st.message());
  out.sid = std::string(sid);
  if (Status st = parse_ts(ts, out.ts_ms); !st.ok()) return st;
  auto bytes = crypto::from_base64_fixed<32>(mac, "Authorization mac");
  if (!bytes.ok()) return bytes.status();
  out.mac = *bytes;
  return out;
}

Status verify_session_request(const SessionAuthorization& auth, const crypto::SessionKey& key,
                              std::string_view method, std::string_view target, std::string_view body,
                              std::int64_t now_ms, std::int64_t window_ms) {
  if (Status st = check_request(method, target, auth.ts_ms); !st.ok()) return st;
  if (Status st = check_window(auth.ts_ms, now_ms, window_ms); !st.ok()) return st;
  const crypto::Hash256 want =
      crypto::keyed_blake2b_256(key.span(), session_mac_string(auth.sid, method, target, auth.ts_ms, body));
  if (!crypto::equal_ct(want.data(), auth.mac.data(), want.size()))
    return Status::Unauthenticated("request MAC does not verify for session " + auth.sid +
                                   ": not made with its key, or the method, target or body differ");
  return Status::Ok();
}

Status verify_request(const Authorization& auth, const crypto::PublicKey& public_key, std::string_view method,
                      std::string_view target, std::string_view body, std::int64_t now_ms, std::int64_t window_ms) {
  if (Status st = check_request(method, target, auth.ts_ms); !st.ok()) return st;
  if (Status st = check_window(auth.ts_ms, now_ms, window_ms); !st.ok()) return st;
  if (!crypto::verify(public_key, request_signing_string(method, target, auth.ts_ms, body), auth.sig).ok())
    return Status::Unauthenticated("request signature does not verify for '" + auth.nick +
                                   "': not signed by its key, or the method, target or body differ");
  return Status::Ok();
}

}  // namespace dws::core
