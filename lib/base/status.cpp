#include "dwhatsapp/status.hpp"

#include <array>

namespace dws {

namespace {
struct CodeInfo {
  Code code;
  std::string_view name;
  int http;
};
constexpr std::array<CodeInfo, 11> kCodes{{
    {Code::kOk, "ok", 200},
    {Code::kInvalidArgument, "invalid_argument", 400},
    {Code::kUnauthenticated, "unauthenticated", 401},
    {Code::kForbidden, "forbidden", 403},
    {Code::kNotFound, "not_found", 404},
    {Code::kExists, "exists", 409},
    {Code::kPayloadTooLarge, "payload_too_large", 413},
    {Code::kNotResponsible, "not_responsible", 421},
    {Code::kRateLimited, "rate_limited", 429},
    {Code::kUnavailable, "unavailable", 503},
    {Code::kInternal, "internal", 500},
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
