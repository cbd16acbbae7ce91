#include "net/tls.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

namespace dws::net {

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

std::string ssl_error(std::string_view what) {
  const unsigned long e = ERR_get_error();
  char buf[256] = "no detail";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return fmt::format("{}: {}", what, buf);
}

std::string path_in(const std::string& dir, const char* name) { return (std::filesystem::path(dir) / name).string(); }

// Writes `data` to `path` with mode `mode` (replacing the file atomically).
Status write_file(const std::string& path, const std::string& data, mode_t mode) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Internal(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  bool ok = ::fchmod(fd, mode) == 0;
  std::size_t done = 0;
  while (ok && done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::Internal(fmt::format("cannot write {}: {}", path, std::strerror(ok ? errno : err)));
  }
  return Status::Ok();
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

Result<Owned<EVP_PKEY>> new_key() {
  Owned<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Status::Internal(ssl_error("making a P-256 key"));
  return key;
}

Status write_key(const std::string& path, EVP_PKEY* key) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return Status::Internal(ssl_error("encoding the private key"));
  return write_file(path, bio_text(bio.get()), 0600);
}

Status write_cert(const std::string& path, X509* cert) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return Status::Internal(ssl_error("encoding the certificate"));
  return write_file(path, bio_text(bio.get()), 0644);
}

Status add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return Status::Internal(ssl_error(fmt::format("adding the certificate extension '{}'", value)));
  return Status::Ok();
}

// A certificate for `key` named `common_name`, valid from an hour ago for
// `days`, with a random serial; not signed yet.
Result<Owned<X509>> new_cert(EVP_PKEY* key, const std::string& common_name, int days) {
  Owned<X509> cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return Status::Internal(ssl_error("making a certificate"));
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return Status::Internal(ssl_error("drawing a serial number"));
  serial[0] &= 0x7f;  // positive
  Owned<BIGNUM> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr)
    return Status::Internal(ssl_error("setting the serial number"));
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24L * 3600 * days) == nullptr)
    return Status::Internal(ssl_error("setting the validity"));
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                 -1, -1, 0) != 1)
    return Status::Internal(ssl_error("setting the subject name"));
  if (X509_set_pubkey(cert.get(), key) != 1) return Status::Internal(ssl_error("setting the public key"));
  return cert;
}

Result<Owned<EVP_PKEY>> read_key(const std::string& path) {
  Owned<BIO> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return Status::NotFound(fmt::format("no CA key {}: make the ring CA first (gen-cert --ca-dir DIR)", path));
  Owned<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Status::Internal(ssl_error("reading " + path));
  return key;
}

Result<Owned<X509>> read_cert(const std::string& path) {
  Owned<BIO> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return Status::NotFound(fmt::format("no CA certificate {}: make the ring CA first (gen-cert --ca-dir DIR)", path));
  Owned<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return Status::Internal(ssl_error("reading " + path));
  return cert;
}

Status make_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Internal(fmt::format("cannot create directory {}: {}", dir, ec.message()));
  return Status::Ok();
}

bool is_ip(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Status check_host(const std::string& host) {
  if (host.empty()) return Status::InvalidArgument("an empty host name: give an IP address or a DNS name");
  if (is_ip(host)) return Status::Ok();
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'))
      return Status::InvalidArgument(
          fmt::format("host '{}' is neither an IP address nor a DNS name (a-z, 0-9, '-', '.')", host));
  return Status::Ok();
}

}  // namespace

Status make_ring_ca(const std::string& dir) {
  const std::string cert_path = path_in(dir, kCaCertFile);
  const std::string key_path = path_in(dir, kCaKeyFile);
  std::error_code ec;
  if (std::filesystem::exists(cert_path, ec) || std::filesystem::exists(key_path, ec))
    return Status::Exists(fmt::format("{} already holds a ring CA ({}): it is kept; remove it to make a new one", dir,
                                      kCaCertFile));
  if (Status s = make_dir(dir); !s.ok()) return s;
  auto key = new_key();
  if (!key.ok()) return key.status();
  auto cert = new_cert(key->get(), "dwhatsapp ring CA", 3650);
  if (!cert.ok()) return cert.status();
  X509_set_issuer_name(cert->get(), X509_get_subject_name(cert->get()));
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}})
    if (Status s = add_ext(cert->get(), cert->get(), nid, value); !s.ok()) return s;
  if (X509_sign(cert->get(), key->get(), EVP_sha256()) == 0) return Status::Internal(ssl_error("signing the CA"));
  if (Status s = write_key(key_path, key->get()); !s.ok()) return s;
  return write_cert(cert_path, cert->get());
}

Status make_node_certificate(const std::string& ca_dir, const std::vector<std::string>& hosts,
                             const std::string& out_dir) {
  if (hosts.empty()) return Status::InvalidArgument("a node certificate needs the host it is reached at (--host)");
  std::string san;
  for (const auto& h : hosts) {
    if (Status s = check_host(h); !s.ok()) return s;
    if (!san.empty()) san += ',';
    san += (is_ip(h) ? "IP:" : "DNS:") + h;
  }
  auto ca_key = read_key(path_in(ca_dir, kCaKeyFile));
  if (!ca_key.ok()) return ca_key.status();
  auto ca_cert = read_cert(path_in(ca_dir, kCaCertFile));
  if (!ca_cert.ok()) return ca_cert.status();
  if (X509_check_private_key(ca_cert->get(), ca_key->get()) != 1)
    return Status::InvalidArgument(fmt::format("{} and {} in {} do not belong together", kCaCertFile, kCaKeyFile, ca_dir));
  if (Status s = make_dir(out_dir); !s.ok()) return s;

  auto key = new_key();
  if (!key.ok()) return key.status();
  auto cert = new_cert(key->get(), hosts.front(), 825);
  if (!cert.ok()) return cert.status();
  X509_set_issuer_name(cert->get(), X509_get_subject_name(ca_cert->get()));
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            std::pair{NID_key_usage, "critical,digitalSignature"},
                            std::pair{NID_ext_key_usage, "serverAuth,clientAuth"},
                            std::pair{NID_subject_key_identifier, "hash"},
                            std::pair{NID_authority_key_identifier, "keyid"}})
    if (Status s = add_ext(cert->get(), ca_cert->get(), nid, value); !s.ok()) return s;
  if (Status s = add_ext(cert->get(), ca_cert->get(), NID_subject_alt_name, san.c_str()); !s.ok()) return s;
  if (X509_sign(cert->get(), ca_key->get(), EVP_sha256()) == 0)
    return Status::Internal(ssl_error("signing the node certificate"));
  if (Status s = write_key(path_in(out_dir, kNodeKeyFile), key->get()); !s.ok()) return s;
  return write_cert(path_in(out_dir, kNodeCertFile), cert->get());
}

}  // namespace dws::net
