// Certificates for a private ring (dws-node gen-cert): a ring CA, and node
// certificates it signs, all ECDSA P-256 in PEM files. Nodes serve with
// their node.crt and node.key, and verify each other (and clients verify
// nodes) against ca.crt.
#pragma once

#include <string>
#include <vector>

#include "dwhatsapp/status.hpp"

namespace dws::net {

/// File names inside the directories gen-cert writes.
inline constexpr const char* kCaCertFile = "ca.crt";
inline constexpr const char* kCaKeyFile = "ca.key";
inline constexpr const char* kNodeCertFile = "node.crt";
inline constexpr const char* kNodeKeyFile = "node.key";

/// Makes a new ring CA: `dir`/ca.crt and `dir`/ca.key (mode 0600), valid 10
/// years. `dir` is created if missing.
/// @return kExists if `dir` already holds a CA (it is never overwritten),
/// kInternal naming the file or OpenSSL call that failed.
Status make_ring_ca(const std::string& dir);

/// Makes a node certificate signed by the CA in `ca_dir`, naming `hosts`
/// (IP addresses or DNS names, at least one) as subject alternative names:
/// `out_dir`/node.crt and `out_dir`/node.key (mode 0600), valid 2 years.
/// Existing files there are replaced.
/// @return kInvalidArgument for no host or a bad one, kNotFound when `ca_dir`
/// holds no CA, kInternal naming what failed.
Status make_node_certificate(const std::string& ca_dir, const std::vector<std::string>& hosts,
                             const std::string& out_dir);

}  // namespace dws::net
