#include "core/auth.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include "core/nickname.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"

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

Result<std::string> make_authorization(std::string_view nick, const crypto::SecretKey& secret_key,
                                       std::string_view method, std::string_view target, std::int64_t ts_ms,
                                       std::string_view body) {
  if (Status st = check_nickname(nick); !st.ok()) return st;
  if (Status st = check_method(method); !st.ok()) return st;
  if (Status st = check_target(target); !st.ok()) return st;
  if (ts_ms < 0) return Status::InvalidArgument("request timestamp " + std::to_string(ts_ms) + " is negative");
  const crypto::Signature sig = crypto::sign(secret_key, request_signing_string(method, target, ts_ms, body));
  return std::string(kScheme) + " nick=" + std::string(nick) + ", ts=" + std::to_string(ts_ms) +
         ", sig=" + crypto::to_base64(sig);
}

Result<Authorization> parse_authorization(std::string_view header) {
  header = trim(header);
  if (header.empty())
    return Status::Unauthenticated("no Authorization header: sign the request (DWS1 nick=..., ts=..., sig=...)");
  if (header.size() > kMaxHeaderSize)
    return Status::InvalidArgument("Authorization header is " + std::to_string(header.size()) +
                                   " bytes: at most " + std::to_string(kMaxHeaderSize));
  const std::size_t sp = header.find_first_of(" \t");
  const std::string_view scheme = header.substr(0, sp);
  if (!ieq(scheme, kScheme))
    return Status::Unauthenticated("Authorization scheme '" + std::string(scheme.substr(0, 32)) +
                                   "' is not DWS1: sign the request (DWS1 nick=..., ts=..., sig=...)");
  if (sp == std::string_view::npos)
    return Status::InvalidArgument("Authorization header has no parameters: expected DWS1 nick=..., ts=..., sig=...");

  Authorization out;
  bool have_nick = false, have_ts = false, have_sig = false;
  std::string_view rest = header.substr(sp);
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view param = trim(rest.substr(0, comma));
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return Status::InvalidArgument("Authorization parameter '" + std::string(param.substr(0, 32)) +
                                     "' is not name=value");
    const std::string_view name = param.substr(0, eq);
    const std::string_view value = param.substr(eq + 1);
    auto repeated = [&](bool& seen) {
      if (seen) return true;
      seen = true;
      return false;
    };
    if (name == "nick") {
      if (repeated(have_nick)) return Status::InvalidArgument("Authorization has nick twice");
      if (Status st = check_nickname(value); !st.ok()) return Status::InvalidArgument("Authorization " + st.message());
      out.nick = std::string(value);
    } else if (name == "ts") {
      if (repeated(have_ts)) return Status::InvalidArgument("Authorization has ts twice");
      if (!parse_ms(value, out.ts_ms))
        return Status::InvalidArgument("Authorization ts '" + std::string(value.substr(0, 32)) +
                                       "' is not unix milliseconds (decimal digits, no leading zeros)");
    } else if (name == "sig") {
      if (repeated(have_sig)) return Status::InvalidArgument("Authorization has sig twice");
      auto sig = crypto::from_base64_fixed<crypto::kSignatureSize>(value, "Authorization sig");
      if (!sig.ok()) return sig.status();
      out.sig = *sig;
    } else {
      return Status::InvalidArgument("Authorization parameter '" + std::string(name.substr(0, 32)) +
                                     "' is unknown: expected nick, ts and sig");
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (!have_nick) return Status::InvalidArgument("Authorization has no nick");
  if (!have_ts) return Status::InvalidArgument("Authorization has no ts");
  if (!have_sig) return Status::InvalidArgument("Authorization has no sig");
  return out;
}

Status verify_request(const Authorization& auth, const crypto::PublicKey& public_key, std::string_view method,
                      std::string_view target, std::string_view body, std::int64_t now_ms, std::int64_t window_ms) {
  if (Status st = check_method(method); !st.ok()) return st;
  if (Status st = check_target(target); !st.ok()) return st;
  if (auth.ts_ms > now_ms && auth.ts_ms - now_ms > window_ms)
    return Status::Unauthenticated("request timestamp is " + seconds(auth.ts_ms - now_ms) +
                                   " in the future: at most " + seconds(window_ms) +
                                   " is accepted (check the client's clock)");
  if (auth.ts_ms < now_ms && now_ms - auth.ts_ms > window_ms)
    return Status::Unauthenticated("request timestamp is " + seconds(now_ms - auth.ts_ms) + " old: at most " +
                                   seconds(window_ms) + " is accepted (check the client's clock, or sign anew)");
  if (!crypto::verify(public_key, request_signing_string(method, target, auth.ts_ms, body), auth.sig).ok())
    return Status::Unauthenticated("request signature does not verify for '" + auth.nick +
                                   "': not signed by its key, or the method, target or body differ");
  return Status::Ok();
}

}  // namespace dws::core
