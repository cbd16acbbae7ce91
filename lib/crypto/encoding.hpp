// Text forms of binary values: base64 (standard alphabet, padded) and hex.
// Decoders are strict: one text per value, so a signature or key has exactly
// one spelling on the wire.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "dwhatsapp/status.hpp"

namespace dws::crypto {

/// Standard base64 (RFC 4648 section 4) with padding.
std::string to_base64(std::span<const std::uint8_t> bytes);
std::string to_base64(std::string_view bytes);

/// Strict inverse of to_base64: kInvalidArgument naming `what` for a wrong
/// character, missing or extra padding, non-zero trailing bits or
/// whitespace. Output is raw bytes in a string.
Result<std::string> from_base64(std::string_view text, std::string_view what = "base64 value");

/// from_base64 that also requires exactly N decoded bytes.
template <std::size_t N>
Result<std::array<std::uint8_t, N>> from_base64_fixed(std::string_view text, std::string_view what) {
  auto raw = from_base64(text, what);
  if (!raw.ok()) return raw.status();
  if (raw->size() != N)
    return Status::InvalidArgument(std::string(what) + " is " + std::to_string(raw->size()) + " bytes: expected " +
                                   std::to_string(N));
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<std::uint8_t>((*raw)[i]);
  return out;
}

/// Lower-case hex.
std::string to_hex(std::span<const std::uint8_t> bytes);

/// Exactly out.size() * 2 hex digits (either case) into `out`; false, with
/// `out` unspecified, for any other length or character.
bool from_hex(std::string_view text, std::span<std::uint8_t> out);

}  // namespace dws::crypto
