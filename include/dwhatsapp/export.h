/* Symbol visibility for libdwhatsapp. Everything is hidden by default; DWS_API
 * marks what leaves the shared library. */
#ifndef DWHATSAPP_EXPORT_H
#define DWHATSAPP_EXPORT_H

#if defined(DWS_STATIC)
#define DWS_API
#elif defined(_WIN32)
#if defined(DWS_BUILDING)
#define DWS_API __declspec(dllexport)
#else
#define DWS_API __declspec(dllimport)
#endif
#else
#define DWS_API __attribute__((visibility("default")))
#endif

#endif /* DWHATSAPP_EXPORT_H */
