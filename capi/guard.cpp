#include "guard.hpp"

#include <cstdlib>
#include <cstring>

namespace dws::capi {

namespace {

thread_local std::string t_last_error;

// The C codes are the negated dws::Code values (status.hpp says so).
static_assert(DWS_ERR_INVALID_ARGUMENT == -static_cast<int>(Code::kInvalidArgument));
static_assert(DWS_ERR_UNAUTHENTICATED == -static_cast<int>(Code::kUnauthenticated));
static_assert(DWS_ERR_FORBIDDEN == -static_cast<int>(Code::kForbidden));
static_assert(DWS_ERR_NOT_FOUND == -static_cast<int>(Code::kNotFound));
static_assert(DWS_ERR_EXISTS == -static_cast<int>(Code::kExists));
static_assert(DWS_ERR_PAYLOAD_TOO_LARGE == -static_cast<int>(Code::kPayloadTooLarge));
static_assert(DWS_ERR_NOT_RESPONSIBLE == -static_cast<int>(Code::kNotResponsible));
static_assert(DWS_ERR_RATE_LIMITED == -static_cast<int>(Code::kRateLimited));
static_assert(DWS_ERR_UNAVAILABLE == -static_cast<int>(Code::kUnavailable));
static_assert(DWS_ERR_INTERNAL == -static_cast<int>(Code::kInternal));

}  // namespace

const char* last_error() noexcept { return t_last_error.c_str(); }

dws_status report(const Status& status) noexcept {
  const int code = static_cast<int>(status.code());
  const dws_status out = code >= 0 && code <= static_cast<int>(Code::kInternal) ? static_cast<dws_status>(-code)
                                                                                 : DWS_ERR_INTERNAL;
  try {
    if (status.ok()) {
      t_last_error.clear();
    } else if (status.message().empty()) {
      t_last_error = dws_strerror(out);
    } else {
      t_last_error = status.message();
    }
  } catch (...) {
    // Out of memory for the text itself: the code still tells what failed.
    t_last_error.clear();
  }
  return out;
}

Status null_argument(const char* name) {
  return Status::InvalidArgument(std::string(name) + " is NULL: pass a valid pointer");
}

Status require(std::initializer_list<std::pair<const void*, const char*>> arguments) {
  for (const auto& [pointer, name] : arguments)
    if (pointer == nullptr) return null_argument(name);
  return Status::Ok();
}

char* malloc_string(const std::string& s) {
  auto* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out == nullptr) throw std::bad_alloc();
  std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

}  // namespace dws::capi
