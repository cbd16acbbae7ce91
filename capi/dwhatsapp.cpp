// The C ABI's common calls: version, status texts, the last error, dws_free.
#include "dwhatsapp/dwhatsapp.h"

#include <cstdlib>

#include "guard.hpp"
#include "dwhatsapp/status.hpp"
#include "dwhatsapp/version.h"

extern "C" {

const char* dws_version(void) { return DWS_VERSION_STRING; }

// The texts are base/status.cpp's table, the one list of codes; a dws_status
// is the negated Code (capi/guard.cpp checks each).
const char* dws_strerror(dws_status code) {
  if (code > 0 || code < -static_cast<int>(dws::Code::kInternal)) return "unknown status";
  return dws::code_description(static_cast<dws::Code>(-code)).data();
}

const char* dws_last_error(void) { return dws::capi::last_error(); }

void dws_free(void* ptr) { std::free(ptr); }

}  // extern "C"
