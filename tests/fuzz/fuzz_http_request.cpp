// The HTTP/1.1 server's request reading (lib/net/http_parse.hpp): a byte
// stream, as one connection receives it, cut into requests the way
// net::HttpServer's connections do (scan_head, parse_head, then a
// Content-Length body; pipelined requests follow). The first byte picks the
// header and body limits, the second how the stream is split into reads.
// Checked: nothing crashes; how the bytes arrive changes nothing; what parses
// is what the request line and headers allow (methods and header names are
// tokens, values trimmed, the body within its limit); a parsed head written
// out again parses the same; a query encoded as a client does
// (WireRequest::target) decodes to itself.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "net/http_parse.hpp"

namespace {

namespace http = dws::net::http;

bool token_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!token_char(c)) return false;
  return true;
}

bool same(const http::Head& a, const http::Head& b) {
  return a.wire.method == b.wire.method && a.wire.path == b.wire.path && a.wire.query == b.wire.query &&
         a.wire.raw_target == b.wire.raw_target && a.wire.headers == b.wire.headers &&
         a.content_length == b.content_length && a.keep_alive == b.keep_alive &&
         a.expect_continue == b.expect_continue;
}

// What a connection made of its bytes: the requests, then how it stopped.
struct Outcome {
  std::vector<http::Head> requests;  // with their bodies
  enum class End { kWaiting, kHeadTooLarge, kBadHead, kClosed } end = End::kWaiting;
  int status = 0;  // kBadHead: the answer's status

  bool operator==(const Outcome& o) const {
    if (end != o.end || status != o.status || requests.size() != o.requests.size()) return false;
    for (std::size_t i = 0; i < requests.size(); ++i)
      if (!same(requests[i], o.requests[i]) || requests[i].wire.body != o.requests[i].wire.body) return false;
    return true;
  }
};

void check_head(const http::Head& h, std::string_view text, std::size_t max_body) {
  if (!is_token(h.wire.method)) __builtin_trap();
  if (h.wire.raw_target.empty() || h.wire.raw_target.front() != '/' ||
      h.wire.raw_target.find(' ') != std::string::npos)
    __builtin_trap();
  for (const auto& [name, value] : h.wire.headers) {
    if (!is_token(name)) __builtin_trap();
    if (!value.empty() && (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' ||
                           value.back() == '\t'))
      __builtin_trap();
    if (value.find("\r\n") != std::string::npos) __builtin_trap();
  }
  if (h.content_length > max_body) __builtin_trap();

  // Written out again (with the version it came with), it parses the same.
  const std::string_view line = text.substr(0, text.find("\r\n"));
  std::string again = h.wire.method + ' ' + h.wire.raw_target + ' ' + std::string(line.substr(line.rfind(' ') + 1));
  again += "\r\n";
  for (const auto& [name, value] : h.wire.headers) again += name + ": " + value + "\r\n";
  auto reparsed = http::parse_head(again, max_body);
  if (!std::holds_alternative<http::Head>(reparsed) || !same(std::get<http::Head>(reparsed), h)) __builtin_trap();

  // The query as a client encodes it decodes to the same parameters.
  dws::net::WireRequest client;
  client.path = "/";
  client.query = h.wire.query;
  const std::string target = client.target();
  const auto qmark = target.find('?');
  const dws::net::QueryParams decoded =
      qmark == std::string::npos ? dws::net::QueryParams() : http::parse_query(std::string_view(target).substr(qmark + 1));
  // parse_query skips empty pairs, which target() never writes: ("", "")
  // comes out as "=", which is not empty.
  if (decoded != h.wire.query) __builtin_trap();
}

// One connection: `reads` are the pieces its bytes arrive in.
class Connection {
 public:
  Connection(std::size_t max_header, std::size_t max_body) : max_header_(max_header), max_body_(max_body) {}

  // Buffers one read and takes every request it completes.
  void receive(std::string_view bytes) {
    if (out_.end != Outcome::End::kWaiting) return;
    buffer_ += bytes;
    for (;;) {
      if (in_head_) {
        const http::HeadScan scan = http::scan_head(buffer_, scanned_, max_header_);
        if (scan.kind == http::HeadScan::Kind::kTooLarge) return stop(Outcome::End::kHeadTooLarge);
        if (scan.kind == http::HeadScan::Kind::kIncomplete) return;
        if (scan.head_end < 4 || scan.head_end > buffer_.size() || scan.head_end > max_header_ ||
            buffer_.compare(scan.head_end - 4, 4, "\r\n\r\n") != 0)
          __builtin_trap();
        const std::string_view text = std::string_view(buffer_).substr(0, scan.head_end - 2);
        auto parsed = http::parse_head(text, max_body_);
        if (auto* err = std::get_if<http::HeadError>(&parsed)) {
          if (err->error.ok() || err->error.message().empty()) __builtin_trap();
          if (err->status != 400 && err->status != 411 && err->status != 413) __builtin_trap();
          out_.status = err->status;
          return stop(Outcome::End::kBadHead);
        }
        head_ = std::move(std::get<http::Head>(parsed));
        check_head(head_, text, max_body_);
        head_end_ = scan.head_end;
        in_head_ = false;
      }
      if (buffer_.size() - head_end_ < head_.content_length) return;
      head_.wire.body.assign(buffer_, head_end_, head_.content_length);
      buffer_.erase(0, head_end_ + head_.content_length);
      const bool keep = head_.keep_alive;
      out_.requests.push_back(std::move(head_));
      head_ = {};
      in_head_ = true;
      scanned_ = 0;
      if (!keep) return stop(Outcome::End::kClosed);
    }
  }

  const Outcome& outcome() const { return out_; }

 private:
  void stop(Outcome::End end) { out_.end = end; }

  const std::size_t max_header_;
  const std::size_t max_body_;
  std::string buffer_;
  std::size_t scanned_ = 0;
  bool in_head_ = true;
  std::size_t head_end_ = 0;
  http::Head head_;
  Outcome out_;
};

constexpr std::size_t kHeaderLimits[] = {64, 512, 16 << 10};
constexpr std::size_t kBodyLimits[] = {0, 64, 1 << 20};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t max_header = kHeaderLimits[data[0] % 3];
  const std::size_t max_body = kBodyLimits[(data[0] / 3) % 3];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  Connection whole(max_header, max_body);
  whole.receive(stream);

  // The same bytes in reads of 1 to 16 bytes, the sizes drawn from data[1].
  Connection pieces(max_header, max_body);
  std::uint32_t state = data[1] * 2654435761u + 1;
  for (std::size_t at = 0; at < stream.size();) {
    state = state * 1103515245u + 12345u;
    const std::size_t n = 1 + (state >> 16) % 16;
    pieces.receive(stream.substr(at, n));
    at += n;
  }
  if (!(whole.outcome() == pieces.outcome())) __builtin_trap();

  // The query parser alone, on the whole stream.
  (void)http::parse_query(stream);
  (void)http::has_token(stream, "close");
  return 0;
}
