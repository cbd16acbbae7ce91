#include "crypto/encoding.hpp"

#include <sodium.h>

#include "crypto/hash.hpp"

namespace dws::crypto {

namespace {
constexpr int kVariant = sodium_base64_VARIANT_ORIGINAL;
}

std::string to_base64(std::span<const std::uint8_t> bytes) {
  ensure_init();
  std::string out(sodium_base64_encoded_len(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), kVariant);
  out.pop_back();  // the terminating NUL sodium writes
  return out;
}

std::string to_base64(std::string_view bytes) {
  return to_base64(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

Result<std::string> from_base64(std::string_view text, std::string_view what) {
  ensure_init();
  if (text.size() % 4 != 0)
    return Status::InvalidArgument(std::string(what) + " is not base64: " + std::to_string(text.size()) +
                                   " characters, not a multiple of 4 (padding with '=' is required)");
  std::string out(text.size() / 4 * 3, '\0');
  std::size_t len = 0;
  const char* end = nullptr;
  const int rc = sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(),
                                   nullptr, &len, &end, kVariant);
  if (rc != 0 || end != text.data() + text.size()) {
    const std::size_t at = end != nullptr ? static_cast<std::size_t>(end - text.data()) : 0;
    return Status::InvalidArgument(std::string(what) + " is not standard padded base64 (problem at character " +
                                   std::to_string(at) + ")");
  }
  out.resize(len);
  // libsodium accepts a few non-canonical spellings; one value, one text.
  if (to_base64(out) != text)
    return Status::InvalidArgument(std::string(what) + " is not in canonical base64 (non-zero padding bits)");
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.pop_back();  // the terminating NUL sodium writes
  return out;
}

bool from_hex(std::string_view text, std::span<std::uint8_t> out) {
  if (text.size() != out.size() * 2) return false;
  std::size_t len = 0;
  const char* end = nullptr;
  // No characters to ignore: one spelling (up to case) per value.
  return sodium_hex2bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end) == 0 &&
         len == out.size() && end == text.data() + text.size();
}

}  // namespace dws::crypto
