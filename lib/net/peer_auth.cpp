#include "net/peer_auth.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/kx.hpp"

namespace dws::net {

namespace {

using Secret = std::array<std::uint8_t, kRingSecretSize>;

// Keyed BLAKE2b-256, so test harnesses can speak the protocol with Python's
// standard library alone.
std::array<std::uint8_t, 32> keyed(std::span<const std::uint8_t> key, std::string_view text) {
  return crypto::keyed_blake2b_256(key, text);
}

std::string body_hash(std::string_view body) { return crypto::to_hex(crypto::blake2b_256(body)); }

bool is_hex(std::string_view s, std::size_t size) {
  if (s.size() != size) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Creates `path` holding `secret`, mode 0600. O_EXCL: two nodes starting on
// one file never overwrite each other's secret.
Status write_new(const std::string& path, const Secret& secret) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) return Status::Exists(fmt::format("ring secret file {} exists already", path));
    return Status::InvalidArgument(fmt::format("cannot create ring secret file {}: {}", path, std::strerror(err)));
  }
  const bool written =
      ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size()) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return Status::InvalidArgument(fmt::format("cannot write ring secret file {}: {}", path, std::strerror(err)));
  }
  return Status::Ok();
}

Status unauthenticated(std::string_view why) {
  return Status::Unauthenticated(fmt::format("peer endpoint: {} (peers of a private ring prove its secret)", why));
}

}  // namespace

PeerAuth::PeerAuth(std::optional<Secret> secret) : secret_(secret) {
  if (!secret_) return;
  request_key_ = derive_key(*secret_, kRequestKeyLabel);
  answer_key_ = derive_key(*secret_, kAnswerKeyLabel);
  discovery_key_ = derive_key(*secret_, kDiscoveryKeyLabel);
}

std::array<std::uint8_t, 32> PeerAuth::derive_key(const Secret& secret, std::string_view label) {
  return keyed(secret, label);
}

std::shared_ptr<PeerAuth> PeerAuth::open_ring() { return std::make_shared<PeerAuth>(std::nullopt); }

std::shared_ptr<PeerAuth> PeerAuth::with_secret(const Secret& secret) { return std::make_shared<PeerAuth>(secret); }

std::shared_ptr<PeerAuth> PeerAuth::random() {
  crypto::ensure_init();
  Secret s{};
  randombytes_buf(s.data(), s.size());
  auto auth = with_secret(s);
  sodium_memzero(s.data(), s.size());
  return auth;
}

Result<std::shared_ptr<PeerAuth>> PeerAuth::load(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT)
      return Status::NotFound(fmt::format("ring secret file {} does not exist: copy the ring's ring.secret from a "
                                          "member's data directory",
                                          path));
    return Status::InvalidArgument(fmt::format("cannot read ring secret file {}: {}", path, std::strerror(err)));
  }
  struct stat st {};
  Secret secret{};
  Status problem = Status::Ok();
  ssize_t n = 0;
  if (::fstat(fd, &st) != 0) {
    problem = Status::InvalidArgument(fmt::format("cannot stat ring secret file {}: {}", path, std::strerror(errno)));
  } else if (!S_ISREG(st.st_mode)) {
    problem = Status::InvalidArgument(fmt::format("ring secret file {} is not a regular file", path));
  } else if ((st.st_mode & 077) != 0) {
    problem = Status::InvalidArgument(fmt::format(
        "ring secret file {} has mode {:04o}: only its owner may read it (chmod 600 {})", path, st.st_mode & 0777,
        path));
  } else if (st.st_size != static_cast<off_t>(kRingSecretSize)) {
    problem = Status::InvalidArgument(fmt::format("ring secret file {} holds {} bytes: a ring secret is exactly {} "
                                                  "bytes, as dws-node up writes it",
                                                  path, static_cast<long long>(st.st_size), kRingSecretSize));
  } else if ((n = ::read(fd, secret.data(), secret.size())) != static_cast<ssize_t>(secret.size())) {
    problem = Status::InvalidArgument(fmt::format("cannot read the {} bytes of ring secret file {}", kRingSecretSize,
                                                  path));
  }
  ::close(fd);
  if (!problem.ok()) return problem;
  auto auth = with_secret(secret);
  sodium_memzero(secret.data(), secret.size());
  return auth;
}

Result<std::shared_ptr<PeerAuth>> PeerAuth::load_or_create(const std::string& path, bool* created) {
  *created = false;
  auto existing = load(path);
  if (existing.ok() || existing.status().code() != Code::kNotFound) return existing;
  crypto::ensure_init();
  Secret secret{};
  randombytes_buf(secret.data(), secret.size());
  const Status s = write_new(path, secret);
  sodium_memzero(secret.data(), secret.size());
  if (s.code() == Code::kExists) return load(path);  // another node made it meanwhile
  if (!s.ok()) return s;
  *created = true;
  return load(path);
}

Status PeerAuth::save(const std::string& path) const { return write_new(path, *secret_); }

std::string PeerAuth::mac_hex(const Key& key, std::string_view text) const { return crypto::to_hex(keyed(key, text)); }

bool PeerAuth::mac_matches(const Key& key, std::string_view text, std::string_view mac) const {
  if (!is_hex(mac, 64)) return false;
  const std::string want = mac_hex(key, text);
  return sodium_memcmp(want.data(), mac.data(), want.size()) == 0;
}

PeerAuth::Proof PeerAuth::sign(std::string_view method, std::string_view target, std::string_view body,
                               std::int64_t now_ms) const {
  crypto::ensure_init();
  std::array<std::uint8_t, 16> raw{};
  randombytes_buf(raw.data(), raw.size());
  return sign(method, target, body, now_ms, raw);
}

PeerAuth::Proof PeerAuth::sign(std::string_view method, std::string_view target, std::string_view body,
                               std::int64_t now_ms, const std::array<std::uint8_t, 16>& nonce) const {
  Proof p;
  p.nonce = crypto::to_hex(nonce);
  const std::string text = fmt::format("{}\n{}\n{}\n{}\n{}", method, target, now_ms, p.nonce, body_hash(body));
  p.header = fmt::format("v1 {} {} {}", now_ms, p.nonce, mac_hex(request_key_, text));
  return p;
}

Status PeerAuth::check(std::string_view method, std::string_view target, std::string_view body,
                       const std::string* header, std::int64_t now_ms, std::string* nonce) {
  if (is_open()) return Status::Ok();
  if (header == nullptr) return unauthenticated(fmt::format("no {} header", kPeerProofHeader));
  const std::string_view h = *header;
  // "v1 <ms> <nonce> <mac>"
  const auto s1 = h.find(' ');
  const auto s2 = s1 == std::string_view::npos ? s1 : h.find(' ', s1 + 1);
  const auto s3 = s2 == std::string_view::npos ? s2 : h.find(' ', s2 + 1);
  if (s3 == std::string_view::npos || h.substr(0, s1) != "v1")
    return unauthenticated(fmt::format("{} is not \"v1 <unix ms> <nonce> <mac>\"", kPeerProofHeader));
  const std::string_view ts_text = h.substr(s1 + 1, s2 - s1 - 1);
  const std::string_view n = h.substr(s2 + 1, s3 - s2 - 1);
  const std::string_view mac = h.substr(s3 + 1);
  std::int64_t ts = 0;
  const auto [end, ec] = std::from_chars(ts_text.data(), ts_text.data() + ts_text.size(), ts);
  if (ec != std::errc{} || end != ts_text.data() + ts_text.size() || !is_hex(n, 32))
    return unauthenticated(fmt::format("{} has a malformed timestamp or nonce", kPeerProofHeader));
  const std::string text = fmt::format("{}\n{}\n{}\n{}\n{}", method, target, ts, n, body_hash(body));
  if (!mac_matches(request_key_, text, mac))
    return unauthenticated("the proof does not match this request under this ring's secret");
  if (ts < now_ms - kWindowMs || ts > now_ms + kWindowMs)
    return unauthenticated(fmt::format("the proof is {} ms away from this node's clock (at most {} allowed)",
                                       ts - now_ms, kWindowMs));
  std::lock_guard lock(mu_);
  // Nonces older than the window can go: their requests fail the window.
  while (!by_time_.empty() && by_time_.begin()->first < now_ms - kWindowMs) {
    nonces_.erase(by_time_.begin()->second);
    by_time_.erase(by_time_.begin());
  }
  if (ts <= floor_ms_) return unauthenticated("the proof is older than the replay cache remembers: send it again");
  std::string key(n);
  if (nonces_.count(key) != 0) return unauthenticated("the proof's nonce was seen before (a replay)");
  while (nonces_.size() >= kMaxNonces) {
    floor_ms_ = std::max(floor_ms_, by_time_.begin()->first);
    nonces_.erase(by_time_.begin()->second);
    by_time_.erase(by_time_.begin());
  }
  nonces_.insert(key);
  by_time_.emplace(ts, key);
  *nonce = std::move(key);
  return Status::Ok();
}

std::string PeerAuth::answer(std::string_view nonce, int status, std::string_view body) const {
  return mac_hex(answer_key_, fmt::format("{}\n{}\n{}", nonce, status, body_hash(body)));
}

bool PeerAuth::check_answer(std::string_view nonce, int status, std::string_view body,
                            const std::string* header) const {
  if (is_open()) return true;
  if (header == nullptr) return false;
  return mac_matches(answer_key_, fmt::format("{}\n{}\n{}", nonce, status, body_hash(body)), *header);
}

std::string PeerAuth::discovery_mac(std::string_view text) const { return mac_hex(discovery_key_, text); }

bool PeerAuth::check_discovery_mac(std::string_view text, std::string_view mac) const {
  if (is_open()) return false;
  return mac_matches(discovery_key_, text, mac);
}

}  // namespace dws::net
