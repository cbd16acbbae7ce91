// dwhatsapp.h compiles as C++ (inside extern "C" guards) and links.
#include "dwhatsapp/dwhatsapp.h"

#include <cstdio>
#include <string_view>
#include <type_traits>

static_assert(DWS_OK == 0, "DWS_OK is 0");
static_assert(std::is_same_v<decltype(dws_version()), const char*>, "dws_version returns const char*");

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s EXPECTED_VERSION\n", argv[0]);
    return 2;
  }
  std::string_view version = dws_version();
  if (version != argv[1]) {
    std::fprintf(stderr, "FAIL: expected version %s, saw %s\n", argv[1], dws_version());
    return 1;
  }
  std::string_view unavailable = dws_strerror(DWS_ERR_UNAVAILABLE);
  if (unavailable != "unavailable") {
    std::fprintf(stderr, "FAIL: expected \"unavailable\", saw \"%s\"\n", unavailable.data());
    return 1;
  }
  std::printf("PASS: C++ header, dws_version %s\n", dws_version());
  return 0;
}
