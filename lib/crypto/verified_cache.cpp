#include "crypto/verified_cache.hpp"

#include <sodium.h>

#include "crypto/hash.hpp"

namespace dws::crypto {

namespace {

// BLAKE2b-256 over key, signature and message: the key and signature have
// fixed sizes, so the concatenation is unambiguous.
std::string digest(const PublicKey& public_key, std::string_view message, const Signature& signature) {
  ensure_init();
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, public_key.data(), public_key.size());
  crypto_generichash_update(&st, signature.data(), signature.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(message.data()), message.size());
  std::string out(32, '\0');
  crypto_generichash_final(&st, reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

}  // namespace

VerifiedCache::VerifiedCache(std::size_t generation_size) : generation_size_(generation_size ? generation_size : 1) {}

Status VerifiedCache::verify(const PublicKey& public_key, std::string_view message, const Signature& signature) {
  std::string key = digest(public_key, message, signature);
  {
    std::lock_guard lock(mu_);
    if (current_.count(key) != 0 || previous_.count(key) != 0) {
      ++counts_.hits;
      return Status::Ok();
    }
  }
  Status s = crypto::verify(public_key, message, signature);
  std::lock_guard lock(mu_);
  ++counts_.verified;
  if (!s.ok()) return s;
  if (current_.size() >= generation_size_) {
    previous_.swap(current_);
    current_.clear();
  }
  current_.insert(std::move(key));
  return s;
}

VerifiedCache::Counts VerifiedCache::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

}  // namespace dws::crypto
