#include "crypto/box.hpp"

#include <sodium.h>

#include <cstring>

#include "crypto/hash.hpp"

namespace dws::crypto {

static_assert(kNonceSize == crypto_box_NONCEBYTES);
static_assert(kNonceSize == crypto_secretbox_NONCEBYTES);
static_assert(kMacSize == crypto_box_MACBYTES);
static_assert(kMacSize == crypto_secretbox_MACBYTES);
static_assert(SharedKey::kSize == crypto_box_BEFORENMBYTES);
static_assert(SymmetricKey::kSize == crypto_secretbox_KEYBYTES);

namespace {

const unsigned char* bytes_of(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes_of(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

Status does_not_open() {
  return Status::Unauthenticated("box does not open: not encrypted for this key pair, or changed on the way");
}

}  // namespace

Nonce random_nonce() {
  ensure_init();
  Nonce n{};
  randombytes_buf(n.data(), n.size());
  return n;
}

Result<SharedKey> shared_key(const BoxPublicKey& peer, const BoxSecretKey& own) {
  ensure_init();
  SharedKey k;
  if (crypto_box_beforenm(k.data(), peer.data(), own.data()) != 0)
    return Status::InvalidArgument("peer key is a weak X25519 point: no shared key");
  return k;
}

Result<Sealed> box_seal(std::string_view plaintext, const BoxPublicKey& peer, const BoxSecretKey& own) {
  return box_seal(plaintext, peer, own, random_nonce());
}

Result<Sealed> box_seal(std::string_view plaintext, const BoxPublicKey& peer, const BoxSecretKey& own,
                        const Nonce& nonce) {
  ensure_init();
  Sealed out;
  out.nonce = nonce;
  out.box.resize(plaintext.size() + kMacSize);
  if (crypto_box_easy(bytes_of(out.box), bytes_of(plaintext), plaintext.size(), out.nonce.data(), peer.data(),
                      own.data()) != 0)
    return Status::InvalidArgument("peer key is a weak X25519 point: cannot encrypt to it");
  return out;
}

Sealed box_seal(std::string_view plaintext, const SharedKey& key) {
  ensure_init();
  Sealed out;
  out.nonce = random_nonce();
  out.box.resize(plaintext.size() + kMacSize);
  crypto_box_easy_afternm(bytes_of(out.box), bytes_of(plaintext), plaintext.size(), out.nonce.data(), key.data());
  return out;
}

Result<std::string> box_open(std::string_view box, const Nonce& nonce, const BoxPublicKey& peer,
                             const BoxSecretKey& own) {
  ensure_init();
  if (box.size() < kMacSize) return does_not_open();
  std::string out(box.size() - kMacSize, '\0');
  if (crypto_box_open_easy(bytes_of(out), bytes_of(box), box.size(), nonce.data(), peer.data(), own.data()) != 0)
    return does_not_open();
  return out;
}

Result<std::string> box_open(std::string_view box, const Nonce& nonce, const SharedKey& key) {
  ensure_init();
  if (box.size() < kMacSize) return does_not_open();
  std::string out(box.size() - kMacSize, '\0');
  if (crypto_box_open_easy_afternm(bytes_of(out), bytes_of(box), box.size(), nonce.data(), key.data()) != 0)
    return does_not_open();
  return out;
}

BoxCache::BoxCache(const SecretKey& own, std::size_t capacity)
    : own_public_(public_key_of(own)), own_secret_(to_box_secret(own)), capacity_(capacity == 0 ? 1 : capacity) {}

std::size_t BoxCache::PeerHash::operator()(const PublicKey& k) const {
  // Public keys are uniformly distributed: any 8 of their bytes hash well.
  std::size_t h = 0;
  std::memcpy(&h, k.data(), sizeof h);
  return h;
}

Result<SharedKey> BoxCache::key_for(const PublicKey& peer) {
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(peer);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
  }
  // The point multiplication runs unlocked; two threads may both compute a
  // new peer's key, and the second insert finds the first.
  auto box_peer = to_box_public(peer);
  if (!box_peer.ok()) return box_peer.status();
  auto key = shared_key(*box_peer, own_secret_);
  if (!key.ok()) return key.status();
  std::lock_guard lock(mu_);
  if (index_.find(peer) == index_.end()) {
    lru_.emplace_front(peer, *key);
    index_.emplace(peer, lru_.begin());
    if (lru_.size() > capacity_) {
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }
  return key;
}

Result<Sealed> BoxCache::seal(const PublicKey& peer, std::string_view plaintext) {
  auto key = key_for(peer);
  if (!key.ok()) return key.status();
  return box_seal(plaintext, *key);
}

Result<std::string> BoxCache::open(const PublicKey& peer, const Nonce& nonce, std::string_view box) {
  auto key = key_for(peer);
  if (!key.ok()) return key.status();
  return box_open(box, nonce, *key);
}

std::size_t BoxCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

std::string secretbox_seal(std::span<const std::uint8_t> plaintext, const SymmetricKey& key) {
  return secretbox_seal(plaintext, key, random_nonce());
}

std::string secretbox_seal(std::span<const std::uint8_t> plaintext, const SymmetricKey& key, const Nonce& nonce) {
  ensure_init();
  std::string out(kNonceSize + kMacSize + plaintext.size(), '\0');
  auto* p = bytes_of(out);
  std::memcpy(p, nonce.data(), kNonceSize);
  crypto_secretbox_easy(p + kNonceSize, plaintext.data(), plaintext.size(), p, key.data());
  return out;
}

Status secretbox_open(std::string_view sealed, const SymmetricKey& key, std::span<std::uint8_t> out) {
  ensure_init();
  if (sealed.size() != kNonceSize + kMacSize + out.size())
    return Status::InvalidArgument("sealed data is " + std::to_string(sealed.size()) + " bytes: expected " +
                                   std::to_string(kNonceSize + kMacSize + out.size()));
  const auto* p = bytes_of(sealed);
  if (crypto_secretbox_open_easy(out.data(), p + kNonceSize, sealed.size() - kNonceSize, p, key.data()) != 0)
    return Status::Unauthenticated("sealed data does not open: wrong key, or changed");
  return Status::Ok();
}

}  // namespace dws::crypto
