// The strict record codecs of lib/core/record.cpp: one value, a list of
// records (sync bodies), and storage keys. Decoding is canonical, so a value
// that decodes must encode back to exactly the input bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  dws::core::Record r;
  if (dws::core::decode_value(in, r).ok() && dws::core::encode_value(r) != in) __builtin_trap();
  auto list = dws::core::decode_records(in, 1000);
  if (list.ok() && dws::core::encode_records(*list) != in) __builtin_trap();
  (void)dws::core::parse_storage_key(in);
  return 0;
}
