// Who a node trusts (DESIGN.md section 12): the ring's secret, or none for
// an open ring, and where the secret is kept. A new ring's first node makes
// the secret; a joiner brings it, and a member's data directory keeps it
// (<data>/ring.secret) so that a restart needs no file named again.
#pragma once

#include <memory>
#include <string>

#include "dwhatsapp/node.hpp"

namespace dws::net {
class HttpTransport;
class PeerAuth;
}  // namespace dws::net

namespace dws::node {

struct RingTrust {
  std::shared_ptr<net::PeerAuth> auth;
  std::string secret_path;  // empty: open, or a secret kept in memory only
  bool created = false;     // the secret file was made now
};

/// <data_dir>/ring.secret.
std::string secret_in(const std::string& data_dir);

/// The secret of a new ring: the named file (created if absent), else
/// <data_dir>/ring.secret (created if absent), else a fresh one in memory
/// that no other node can learn. An open ring has none.
Result<RingTrust> trust_new_ring(const NodeOptions& o);

/// The secret a joiner holds: the named file, else its data directory's
/// ring.secret if it has one (a member restarting), else none.
Result<RingTrust> trust_joiner(const NodeOptions& o);

/// The ring's parameters as `peer` states them (GET /v1/ring/info).
Result<RingInfo> fetch_info(net::HttpTransport& transport, const std::string& peer);

/// The ring's parameters as `peer` states them, checked against what the
/// joiner holds: a private ring needs its secret (and then the answer must
/// prove the peer holds the same), an open ring needs none; `t` becomes open
/// when the ring is.
Result<RingInfo> ring_info_for(const NodeOptions& o, const std::string& peer, RingTrust& t);

/// Saves a joiner's secret to its data directory's ring.secret (a member's
/// data directory holds it, so it restarts, and `dws-node status --data`
/// works, without naming the file again). Nothing to do for an open ring,
/// without a data directory, or when the secret came from there.
Status keep_secret(const NodeOptions& o, const RingTrust& t);

}  // namespace dws::node
