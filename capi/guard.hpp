// The one way out of the C ABI: every entry point runs its body through
// guard(), which turns a Status or any exception into a dws_status and the
// calling thread's dws_last_error() text.
#pragma once

#include <cstddef>
#include <exception>
#include <new>
#include <string>
#include <initializer_list>
#include <type_traits>
#include <utility>

#include "dwhatsapp/dwhatsapp.h"
#include "dwhatsapp/status.hpp"

namespace dws::capi {

/// Sets the calling thread's last error from `status` ("" when ok) and
/// returns its C code. Never throws.
dws_status report(const Status& status) noexcept;

/// The calling thread's last error text.
const char* last_error() noexcept;

/// Runs `body` (returning a Status) with no exception leaving it.
template <typename F>
dws_status guard(F&& body) noexcept {
  try {
    return report(body());
  } catch (const std::bad_alloc&) {
    return report(Status::Internal("out of memory"));
  } catch (const std::exception& e) {
    return report(Status::Internal(std::string("unexpected error inside libdwhatsapp: ") + e.what()));
  } catch (...) {
    return report(Status::Internal("unexpected error inside libdwhatsapp (an exception of unknown type)"));
  }
}

/// InvalidArgument naming a NULL argument.
Status null_argument(const char* name);

/// Ok, or null_argument() for the first NULL among the (pointer, name) pairs.
Status require(std::initializer_list<std::pair<const void*, const char*>> arguments);

/// A malloc'd copy the caller releases with dws_free(). Throws std::bad_alloc.
char* malloc_string(const std::string& s);

/// "" for NULL.
inline std::string or_empty(const char* s) { return s == nullptr ? std::string() : std::string(s); }

/// Whether an options struct of the caller's `size` holds the field that
/// ends at `end` (offsetof + sizeof): older callers pass smaller structs.
inline bool covers(std::size_t size, std::size_t end) { return size >= end; }

}  // namespace dws::capi

/// Does the caller's struct `opts` (with its size first) include `field`?
#define DWS_CAPI_HAS(opts, field) \
  ::dws::capi::covers((opts)->size, offsetof(std::remove_cvref_t<decltype(*(opts))>, field) + sizeof((opts)->field))
