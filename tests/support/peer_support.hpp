// The ring secret of in-process test rings: one file per test executable,
// given to every node (NodeOptions::ring_secret_file) and to the transports
// a test uses to talk to peer endpoints as a member would.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "net/http_transport.hpp"
#include "net/peer_auth.hpp"
#include "support/test_support.hpp"

namespace dws::test {

inline const std::string& ring_secret_file() {
  static TempDir dir("dws-ring-secret");
  static const std::string path = [] {
    bool created = false;
    auto made = net::PeerAuth::load_or_create(dir.sub("ring.secret"), &created);
    if (!made.ok()) throw std::runtime_error("test ring secret: " + made.status().to_string());
    return dir.sub("ring.secret");
  }();
  return path;
}

inline std::shared_ptr<net::PeerAuth> ring_auth() {
  static const std::shared_ptr<net::PeerAuth> auth = [] {
    auto loaded = net::PeerAuth::load(ring_secret_file());
    if (!loaded.ok()) throw std::runtime_error("test ring secret: " + loaded.status().to_string());
    return std::move(loaded).value();
  }();
  return auth;
}

/// Wall-clock milliseconds, what a peer proof is stamped with.
inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A transport that proves the test ring's secret, as a member's does.
inline net::HttpTransportOptions member_transport() {
  net::HttpTransportOptions o;
  o.auth = ring_auth();
  return o;
}

}  // namespace dws::test
