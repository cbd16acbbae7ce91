// Fixed-size secrets that wipe themselves, and constant-time comparison.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace dws::crypto {

/// Overwrites n bytes at p with zeros in a way the compiler may not elide.
void secure_zero(void* p, std::size_t n);

/// True when a and b hold the same n bytes; the time taken does not depend
/// on where they differ.
bool equal_ct(const void* a, const void* b, std::size_t n);

/// N secret bytes (a key, a seed) that are zeroed when destroyed or
/// overwritten, so no copy outlives its owner in memory. Compares in
/// constant time. A plain value: not synchronized.
template <std::size_t N>
class SecretBytes {
 public:
  static constexpr std::size_t kSize = N;

  SecretBytes() { bytes_.fill(0); }
  explicit SecretBytes(std::span<const std::uint8_t, N> from) {
    for (std::size_t i = 0; i < N; ++i) bytes_[i] = from[i];
  }
  SecretBytes(const SecretBytes&) = default;
  SecretBytes& operator=(const SecretBytes& other) {
    if (this != &other) bytes_ = other.bytes_;
    return *this;
  }
  ~SecretBytes() { secure_zero(bytes_.data(), N); }

  std::uint8_t* data() { return bytes_.data(); }
  const std::uint8_t* data() const { return bytes_.data(); }
  static constexpr std::size_t size() { return N; }
  std::span<const std::uint8_t, N> span() const { return std::span<const std::uint8_t, N>(bytes_); }

  bool operator==(const SecretBytes& other) const { return equal_ct(bytes_.data(), other.bytes_.data(), N); }

 private:
  std::array<std::uint8_t, N> bytes_;
};

}  // namespace dws::crypto
