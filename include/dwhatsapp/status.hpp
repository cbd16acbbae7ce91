// Error values of the C++ API: a Status (code + message) and Result<T>.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "dwhatsapp/export.h"

namespace dws {

/// @brief What went wrong. The numeric values are the negated C ABI codes
/// (dws_status in dwhatsapp.h) and map to HTTP statuses (DESIGN.md section 8).
enum class Code : int {
  kOk = 0,
  kInvalidArgument = 1,   ///< 400: the caller sent something malformed
  kUnauthenticated = 2,   ///< 401: missing or bad signature / password
  kForbidden = 3,         ///< 403: authenticated, but not allowed
  kNotFound = 4,          ///< 404
  kExists = 5,            ///< 409: e.g. nickname taken
  kPayloadTooLarge = 6,   ///< 413
  kNotResponsible = 7,    ///< 421: this node does not own the key
  kRateLimited = 8,       ///< 429
  kUnavailable = 9,       ///< 503: peer unreachable, quorum not met, timeout
  kInternal = 10,         ///< a bug or an environment failure (disk, LMDB)
};

/// @brief A success or an error code with a message for people.
/// A Status is a plain value: copy it, compare its code, print its message.
class DWS_API Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
  static Status Forbidden(std::string m) { return {Code::kForbidden, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status Exists(std::string m) { return {Code::kExists, std::move(m)}; }
  static Status PayloadTooLarge(std::string m) { return {Code::kPayloadTooLarge, std::move(m)}; }
  static Status NotResponsible(std::string m) { return {Code::kNotResponsible, std::move(m)}; }
  static Status RateLimited(std::string m) { return {Code::kRateLimited, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  /// "not_found: user alice" (or "ok").
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

/// @brief The snake_case name of a code as used in the HTTP API ("not_found").
DWS_API std::string_view code_name(Code code);
/// @brief The HTTP status that carries a code (200, 400, ... 503).
DWS_API int http_status(Code code);
/// @brief The code an HTTP error name stands for (kInternal when unknown).
DWS_API Code code_from_name(std::string_view name);
/// @brief A short description of a code for people ("already exists"),
/// NUL-terminated; what dws_strerror returns.
DWS_API std::string_view code_description(Code code);

/// @brief A value or the Status that explains why there is none.
/// REQUIRES: value() only when ok().
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }
  T& operator*() & { return std::get<T>(v_); }
  const T& operator*() const& { return std::get<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace dws
