// Prints COUNT valid user records (signed accounts, see
// tests/support/signed_records.hpp) as JSON lines {"key", "payload"}, for
// the Python process tests, which cannot sign: nodes store nothing else.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/id.hpp"
#include "crypto/encoding.hpp"
#include "support/signed_records.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: signed_records COUNT PREFIX\n");
    return 2;
  }
  const long count = std::strtol(argv[1], nullptr, 10);
  if (count < 0 || count > 1'000'000) {
    std::fprintf(stderr, "signed_records: COUNT must be 0 to 1000000, got %s\n", argv[1]);
    return 2;
  }
  const dws::test::SignedUsers users;
  for (long i = 0; i < count; ++i) {
    const dws::core::Record r = users.record(std::string(argv[2]) + std::to_string(i));
    std::printf("{\"key\":\"%s\",\"payload\":\"%s\"}\n", dws::core::to_hex(r.key).c_str(),
                dws::crypto::to_base64(r.payload).c_str());
  }
  return 0;
}
