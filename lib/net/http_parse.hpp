// The byte-level half of the HTTP/1.1 server (net/http_server.hpp): finding
// the end of a request's head in what a connection has buffered, parsing the
// request line and headers, and decoding the target's path and query. No
// sockets and no state beyond the arguments, so tests/fuzz/fuzz_http_request.cpp
// drives exactly what a connection runs. Every function is safe to call from
// any thread.
//
// Request bodies are framed by Content-Length only: Transfer-Encoding (chunked
// bodies) is refused with 411, which is all the project's clients need.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "dwhatsapp/status.hpp"
#include "net/json_codec.hpp"

namespace dws::net::http {

/// %XX decoding; a malformed or truncated escape stays as it is (as
/// cpp-httplib did it). `plus_is_space`: '+' decodes to ' ' (in a query).
std::string percent_decode(std::string_view s, bool plus_is_space);

/// "a=1&b=x%20y&c" into decoded (name, value) pairs in order; a pair without
/// '=' has an empty value, empty pairs ("a=1&&b") are skipped. Never fails.
QueryParams parse_query(std::string_view query);

/// Whether the comma-separated header value `list` holds `token` (ASCII case
/// insensitive, spaces and tabs around items ignored).
bool has_token(std::string_view list, std::string_view token);

/// A request's head, parsed.
struct Head {
  /// method, path (percent-decoded), query, raw_target and headers (names as
  /// sent, values without surrounding spaces and tabs); no body yet.
  WireRequest wire;
  std::size_t content_length = 0;
  bool keep_alive = true;
  bool expect_continue = false;  // the client waits for "100 Continue" before its body
};

/// Why a head was refused; the connection answers `status` and closes.
struct HeadError {
  int status = 400;  // 400, 411 (chunked) or 413 (body over the limit)
  Status error;      // kInvalidArgument or kPayloadTooLarge, saying what was wrong
};

/// Parses a request line ("METHOD /target HTTP/1.1", or HTTP/1.0) and the
/// header lines after it, each ended by CRLF, up to the first empty line or
/// the end of `head`. Connection, Expect and Content-Length are understood
/// (two different Content-Lengths are an error, the same one twice is not).
/// @return the head, or the error naming what is malformed: the request line,
/// the method, a target not starting with '/', the version, a folded or
/// nameless header line, a Content-Length that is not a decimal number,
/// Transfer-Encoding (411), a Content-Length over `max_body` (413).
std::variant<Head, HeadError> parse_head(std::string_view head, std::size_t max_body);

/// Where the head of the next request ends in a connection's buffer.
struct HeadScan {
  enum class Kind {
    kIncomplete,  // no blank line yet: read more
    kTooLarge,    // the head is, or would be, over max_header_bytes: 431
    kComplete,    // the head is buffer[0, head_end)
  };
  Kind kind = Kind::kIncomplete;
  std::size_t head_end = 0;  // kComplete: just past the blank line's CRLF CRLF
};

/// Looks for the blank line that ends a request head in `buffer`. `scanned`
/// carries over between calls on a growing buffer so that no byte is
/// searched twice: start it at 0 for each request; on kIncomplete it is set
/// to buffer.size(). REQUIRES: buffer starts where the request starts, and it
/// only grew since the call that set `scanned`.
HeadScan scan_head(std::string_view buffer, std::size_t& scanned, std::size_t max_header_bytes);

}  // namespace dws::net::http
