/* dwhatsapp.h compiles as strict C99 and its basic calls link and work
 * against the shared library. */
#include "dwhatsapp/dwhatsapp.h"

#include <stdio.h>
#include <string.h>

static int failures = 0;

static void check(int ok, const char *what, const char *seen) {
  if (!ok) {
    fprintf(stderr, "FAIL: expected %s, saw \"%s\"\n", what, seen ? seen : "(null)");
    failures++;
  }
}

int main(int argc, char **argv) {
  const dws_status codes[] = {
      DWS_OK, DWS_ERR_INVALID_ARGUMENT, DWS_ERR_UNAUTHENTICATED, DWS_ERR_FORBIDDEN,
      DWS_ERR_NOT_FOUND, DWS_ERR_EXISTS, DWS_ERR_PAYLOAD_TOO_LARGE, DWS_ERR_NOT_RESPONSIBLE,
      DWS_ERR_RATE_LIMITED, DWS_ERR_UNAVAILABLE, DWS_ERR_INTERNAL};
  const char *unknown = dws_strerror((dws_status)-12345);
  size_t i, j;

  if (argc != 2) {
    fprintf(stderr, "usage: %s EXPECTED_VERSION\n", argv[0]);
    return 2;
  }
  check(strcmp(dws_version(), argv[1]) == 0, argv[1], dws_version());
  check(strcmp(dws_strerror(DWS_OK), "ok") == 0, "dws_strerror(DWS_OK) == \"ok\"", dws_strerror(DWS_OK));
  check(unknown != NULL && unknown[0] != '\0', "a description for an unknown code", unknown);
  /* Every code has its own description, distinct from the unknown one. */
  for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    const char *s = dws_strerror(codes[i]);
    check(s != NULL && s[0] != '\0' && strcmp(s, unknown) != 0, "a specific description", s);
    for (j = 0; j < i; j++) {
      check(strcmp(s, dws_strerror(codes[j])) != 0, "distinct descriptions per code", s);
    }
  }
  check(dws_last_error() != NULL && dws_last_error()[0] == '\0', "no last error yet", dws_last_error());
  dws_free(NULL);

  if (failures == 0) printf("PASS: C99 header, dws_version %s\n", dws_version());
  return failures == 0 ? 0 : 1;
}
