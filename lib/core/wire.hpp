// Writer and Reader for the strict binary encodings of signed objects
// (accounts, envelopes) and of stored records: fixed-size fields raw,
// integers big-endian or as canonical LEB128 varints, strings
// length-prefixed. One value has exactly one encoding, which is what
// signatures and content hashes are made over.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dws::core::wire {

/// Appends v as 8 bytes, most significant first.
inline void put_be64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

/// Appends v as LEB128: 7 bits a byte, low group first, high bit = more.
inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

/// REQUIRES: in.size() >= 8. The first 8 bytes as a big-endian integer.
inline std::uint64_t get_be64(std::string_view in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(in[i]);
  return v;
}

class Writer {
 public:
  void byte(std::uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void be64(std::uint64_t v) { put_be64(out_, v); }
  void varint(std::uint64_t v) { put_varint(out_, v); }
  template <std::size_t N>
  void fixed(const std::array<std::uint8_t, N>& a) {
    out_.append(reinterpret_cast<const char*>(a.data()), N);
  }
  void raw(std::string_view s) { out_.append(s); }
  /// Varint length, then the bytes.
  void str(std::string_view s) {
    varint(s.size());
    out_.append(s);
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

/// Reads untrusted bytes; the first failure is kept with the field's name
/// and the offset, so an error says where the input went wrong.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool byte(std::uint8_t& out, const char* what) {
    if (pos_ >= in_.size()) return fail(what, "truncated");
    out = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }
  bool be64(std::uint64_t& out, const char* what) {
    if (in_.size() - pos_ < 8) return fail(what, "truncated");
    out = 0;
    for (int i = 0; i < 8; ++i) out = (out << 8) | static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }
  bool varint(std::uint64_t& out, const char* what) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return fail(what, "truncated");
      const auto b = static_cast<std::uint8_t>(in_[pos_++]);
      if (shift == 63 && b > 1) return fail(what, "varint overflows 64 bits");
      out |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (b == 0 && shift > 0) return fail(what, "non-canonical varint");
        return true;
      }
    }
    return fail(what, "varint longer than 10 bytes");
  }
  template <std::size_t N>
  bool fixed(std::array<std::uint8_t, N>& out, const char* what) {
    if (in_.size() - pos_ < N) return fail(what, "truncated");
    for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }
  /// The next n bytes, viewed in place.
  bool bytes(std::size_t n, std::string_view& out, const char* what) {
    if (in_.size() - pos_ < n) return fail(what, "truncated");
    out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  /// A length-prefixed string of at most `max` bytes.
  bool str(std::string& out, std::size_t max, const char* what) {
    std::uint64_t n = 0;
    if (!varint(n, what)) return false;
    if (n > max) return fail(what, "longer than allowed");
    if (in_.size() - pos_ < n) return fail(what, "truncated");
    out.assign(in_.substr(pos_, static_cast<std::size_t>(n)));
    pos_ += static_cast<std::size_t>(n);
    return true;
  }
  bool end(const char* what) {
    if (pos_ != in_.size()) return fail(what, "trailing bytes");
    return true;
  }
  bool fail(const char* what, const char* why) {
    if (error_.empty()) error_ = std::string(what) + ": " + why + " at byte " + std::to_string(pos_);
    return false;
  }
  std::size_t pos() const { return pos_; }
  bool at_end() const { return pos_ == in_.size(); }
  const std::string& error() const { return error_; }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace dws::core::wire
