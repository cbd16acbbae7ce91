#include "net/http_parse.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>

namespace dws::net::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// RFC 9110 tchar. Not NUL: strchr finds every string's terminator.
bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += plus_is_space && s[i] == '+' ? ' ' : s[i];
  }
  return out;
}

QueryParams parse_query(std::string_view q) {
  QueryParams out;
  while (!q.empty()) {
    const std::size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) out.emplace_back(percent_decode(pair, true), "");
    else out.emplace_back(percent_decode(pair.substr(0, eq), true), percent_decode(pair.substr(eq + 1), true));
  }
  return out;
}

bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
  }
  return false;
}

std::variant<Head, HeadError> parse_head(std::string_view head, std::size_t max_body) {
  auto bad = [](std::string message, int status = 400, Code code = Code::kInvalidArgument) {
    return HeadError{status, Status(code, std::move(message))};
  };
  Head h;
  std::size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);

  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return bad("malformed request line: expected 'METHOD /path HTTP/1.1'");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_token_char))
    return bad("malformed request line: the method is not a token");
  if (target.empty() || target.front() != '/')
    return bad(fmt::format("request target '{}' must be a path starting with '/'",
                           target.substr(0, std::min<std::size_t>(target.size(), 100))));
  if (version == "HTTP/1.1") h.keep_alive = true;
  else if (version == "HTTP/1.0") h.keep_alive = false;
  else return bad("unsupported HTTP version: this server speaks HTTP/1.1 (and 1.0)");

  h.wire.method = std::string(method);
  h.wire.raw_target = std::string(target);
  const std::size_t qmark = target.find('?');
  h.wire.path = percent_decode(target.substr(0, qmark), false);
  if (qmark != std::string_view::npos) h.wire.query = parse_query(target.substr(qmark + 1));

  std::optional<std::size_t> length;
  bool close = false;
  bool keep = false;
  while (!head.empty()) {
    eol = head.find("\r\n");
    const std::string_view field = head.substr(0, eol);
    head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
    if (field.empty()) break;
    if (field.front() == ' ' || field.front() == '\t') return bad("folded header lines are not supported");
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return bad("malformed header line: expected 'Name: value'");
    const std::string_view name = field.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return bad("malformed header name");
    std::string_view value = field.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);

    if (iequals(name, "Content-Length")) {
      if (value.empty() || value.size() > 19 || !std::all_of(value.begin(), value.end(), is_digit))
        return bad("Content-Length must be a decimal number of bytes");
      const std::size_t n = std::stoull(std::string(value));
      if (length && *length != n) return bad("two different Content-Length headers");
      length = n;
    } else if (iequals(name, "Transfer-Encoding")) {
      return bad("chunked (Transfer-Encoding) request bodies are not supported: send the body with a Content-Length",
                 411);
    } else if (iequals(name, "Connection")) {
      close = close || has_token(value, "close");
      keep = keep || has_token(value, "keep-alive");
    } else if (iequals(name, "Expect")) {
      h.expect_continue = has_token(value, "100-continue");
    }
    h.wire.headers.emplace_back(std::string(name), std::string(value));
  }
  if (close) h.keep_alive = false;
  else if (keep) h.keep_alive = true;
  h.content_length = length.value_or(0);
  if (h.content_length > max_body)
    return bad(fmt::format("request body too large: {} bytes, at most {} are accepted", h.content_length, max_body),
               413, Code::kPayloadTooLarge);
  return h;
}

HeadScan scan_head(std::string_view buffer, std::size_t& scanned, std::size_t max_header_bytes) {
  // The blank line may straddle what was searched before and what is new.
  const std::size_t from = scanned > 3 ? scanned - 3 : 0;
  const std::size_t end = buffer.find("\r\n\r\n", from);
  if (end == std::string_view::npos) {
    scanned = buffer.size();
    if (buffer.size() > max_header_bytes) return {HeadScan::Kind::kTooLarge, 0};
    return {HeadScan::Kind::kIncomplete, 0};
  }
  if (end + 4 > max_header_bytes) return {HeadScan::Kind::kTooLarge, 0};
  return {HeadScan::Kind::kComplete, end + 4};
}

}  // namespace dws::net::http
