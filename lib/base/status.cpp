#include "dwhatsapp/status.hpp"

#include <array>

namespace dws {

namespace {
struct CodeInfo {
  Code code;
  std::string_view name;
  int http;
  std::string_view description;  // for people (dws_strerror)
};
constexpr std::array<CodeInfo, 11> kCodes{{
    {Code::kOk, "ok", 200, "ok"},
    {Code::kInvalidArgument, "invalid_argument", 400, "invalid argument"},
    {Code::kUnauthenticated, "unauthenticated", 401, "unauthenticated"},
    {Code::kForbidden, "forbidden", 403, "forbidden"},
    {Code::kNotFound, "not_found", 404, "not found"},
    {Code::kExists, "exists", 409, "already exists"},
    {Code::kPayloadTooLarge, "payload_too_large", 413, "payload too large"},
    {Code::kNotResponsible, "not_responsible", 421, "not responsible for this key"},
    {Code::kRateLimited, "rate_limited", 429, "rate limited"},
    {Code::kUnavailable, "unavailable", 503, "unavailable"},
    {Code::kInternal, "internal", 500, "internal error"},
}};
}  // namespace

std::string_view code_name(Code code) {
  for (const auto& c : kCodes)
    if (c.code == code) return c.name;
  return "internal";
}

int http_status(Code code) {
  for (const auto& c : kCodes)
    if (c.code == code) return c.http;
  return 500;
}

std::string_view code_description(Code code) {
  for (const auto& c : kCodes)
    if (c.code == code) return c.description;
  return "unknown status";
}

Code code_from_name(std::string_view name) {
  for (const auto& c : kCodes)
    if (c.name == name) return c.code;
  return Code::kInternal;
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  std::string s(code_name(code_));
  s += ": ";
  s += message_;
  return s;
}

}  // namespace dws
