// The C ABI's common calls: version, status texts, the last error, dws_free.
#include "dwhatsapp/dwhatsapp.h"

#include <cstdlib>

#include "guard.hpp"
#include "dwhatsapp/version.h"

extern "C" {

const char* dws_version(void) { return DWS_VERSION_STRING; }

const char* dws_strerror(dws_status code) {
  switch (code) {
    case DWS_OK: return "ok";
    case DWS_ERR_INVALID_ARGUMENT: return "invalid argument";
    case DWS_ERR_UNAUTHENTICATED: return "unauthenticated";
    case DWS_ERR_FORBIDDEN: return "forbidden";
    case DWS_ERR_NOT_FOUND: return "not found";
    case DWS_ERR_EXISTS: return "already exists";
    case DWS_ERR_PAYLOAD_TOO_LARGE: return "payload too large";
    case DWS_ERR_NOT_RESPONSIBLE: return "not responsible for this key";
    case DWS_ERR_RATE_LIMITED: return "rate limited";
    case DWS_ERR_UNAVAILABLE: return "unavailable";
    case DWS_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const char* dws_last_error(void) { return dws::capi::last_error(); }

void dws_free(void* ptr) { std::free(ptr); }

}  // extern "C"
