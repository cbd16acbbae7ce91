/**
 * @file dwhatsapp.h
 * @brief The C ABI of libdwhatsapp: opaque handles, status codes, and
 * out-parameters, for C, Python (ctypes), Go (cgo) and any other language.
 * Compiles as C99 and as C++.
 */
#ifndef DWHATSAPP_H
#define DWHATSAPP_H

#include <stddef.h>
#include <stdint.h>

#include "dwhatsapp/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Result of every fallible call; negative values mirror the HTTP errors. */
typedef enum dws_status {
  DWS_OK = 0,
  DWS_ERR_INVALID_ARGUMENT = -1,
  DWS_ERR_UNAUTHENTICATED = -2,
  DWS_ERR_FORBIDDEN = -3,
  DWS_ERR_NOT_FOUND = -4,
  DWS_ERR_EXISTS = -5,
  DWS_ERR_PAYLOAD_TOO_LARGE = -6,
  DWS_ERR_NOT_RESPONSIBLE = -7,
  DWS_ERR_RATE_LIMITED = -8,
  DWS_ERR_UNAVAILABLE = -9,
  DWS_ERR_INTERNAL = -10
} dws_status;

/** @brief The library version, "major.minor.patch". Static storage. */
DWS_API const char *dws_version(void);

/** @brief A short English description of a status code. Static storage. */
DWS_API const char *dws_strerror(dws_status code);

/**
 * @brief The detail of the last error on the calling thread ("" if none).
 * Valid until the calling thread's next dws_ call.
 */
DWS_API const char *dws_last_error(void);

/** @brief Releases memory the library handed to the caller. NULL is ignored. */
DWS_API void dws_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* DWHATSAPP_H */
