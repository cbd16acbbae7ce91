// A node's options and trust, without a node: what check_options refuses
// and how it says so, the ring parameters a new ring and a joiner get, and
// where the ring secret is kept (real files in temp directories).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "net/peer_auth.hpp"
#include "node/options.hpp"
#include "node/trust.hpp"
#include "support/test_support.hpp"

namespace dws::node {
namespace {

NodeOptions valid() {
  NodeOptions o;
  o.listen = "127.0.0.1:0";
  return o;
}

// The message of check_options' refusal of `o`; "" when it accepts it.
std::string refusal(const NodeOptions& o) {
  auto c = check_options(o);
  if (c.ok()) return "";
  CHECK(c.status().code() == Code::kInvalidArgument);
  return c.status().message();
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

TEST_CASE("node options: the defaults are accepted and the listen address parsed") {
  auto c = check_options(valid());
  REQUIRE(c.ok());
  CHECK(c->listen.host == "127.0.0.1");
  CHECK(c->listen.port == 0);
  CHECK_FALSE(c->advertise);
  CHECK(c->level == Level::kInfo);
}

TEST_CASE("node options: each refusal names the option and the allowed range") {
  NodeOptions o = valid();
  o.listen = "127.0.0.1";
  CHECK(refusal(o).find("listen address") != std::string::npos);
  o = valid();
  o.advertise = "0.0.0.0:7000";
  CHECK(refusal(o).find("not reachable by other nodes") != std::string::npos);
  o = valid();
  o.log_level = "loud";
  CHECK(refusal(o) == "log level 'loud' is not one of error, warn, info, debug");
  o = valid();
  o.ring_name = "my ring";
  CHECK(refusal(o).find("'my ring' has a character") != std::string::npos);
  o = valid();
  o.ring_name = std::string(65, 'r');
  CHECK(refusal(o).find("1 to 64 characters") != std::string::npos);
  o = valid();
  o.replicas = 65;
  CHECK(refusal(o) == "replicas 65 must be in 1..64 (0: default)");
  o = valid();
  o.replicas = 4;
  o.successors = 3;
  CHECK(refusal(o).find("successors 3 must be at least replicas 4") != std::string::npos);
  o = valid();
  o.stabilize_ms = 0;
  CHECK(refusal(o).find("stabilize_ms 0") != std::string::npos);
  o = valid();
  o.discovery_port = 70000;
  CHECK(refusal(o).find("discovery port 70000") != std::string::npos);
  o = valid();
  o.http_threads = 0;
  CHECK(refusal(o).find("http_threads 0") != std::string::npos);
  o = valid();
  o.mailbox_quota = 0;
  CHECK(refusal(o).find("mailbox_quota") != std::string::npos);
  o = valid();
  o.registrations_per_hour = -1;
  CHECK(refusal(o).find("registrations_per_hour -1") != std::string::npos);
  o = valid();
  o.map_size = 4096;
  CHECK(refusal(o).find("map_size 4096 bytes is too small") != std::string::npos);
}

TEST_CASE("node options: TLS files come in pairs with the ring's CA, and must be readable") {
  test::TempDir dir("dws-node-tls");
  NodeOptions o = valid();
  o.tls_cert = dir.sub("cert.pem");
  CHECK(refusal(o).find("both a certificate and its key") != std::string::npos);
  o.tls_key = dir.sub("key.pem");
  CHECK(refusal(o).find("--tls-ca") != std::string::npos);
  o.tls_ca = dir.sub("ca.pem");
  CHECK(refusal(o).find("TLS file '" + o.tls_cert + "' cannot be read") != std::string::npos);
  for (const auto& f : {o.tls_cert, o.tls_key, o.tls_ca}) std::ofstream(f) << "pem";
  CHECK(refusal(o) == "");
  NodeOptions ca_only = valid();
  ca_only.tls_ca = o.tls_ca;
  CHECK(refusal(ca_only).find("--tls-ca without --tls-cert") != std::string::npos);
}

TEST_CASE("node options: a new ring takes the options, else the defaults") {
  NodeOptions o = valid();
  RingInfo d = new_ring_info(o);
  CHECK(d.ring_name == kDefaultRing);
  CHECK(d.replicas == 3);
  CHECK(d.successor_list == 4);
  CHECK_FALSE(d.open_ring);
  o.ring_name = "lab";
  o.replicas = 5;
  o.open_ring = true;
  RingInfo r = new_ring_info(o);
  CHECK(r.ring_name == "lab");
  CHECK(r.replicas == 5);
  CHECK(r.successor_list == 5);  // never fewer successors than replicas
  CHECK(r.open_ring);
}

TEST_CASE("node options: a joiner adopts the ring's parameters and refuses options that differ") {
  RingInfo ring;
  ring.ring_name = "lab";
  ring.replicas = 3;
  ring.successor_list = 6;
  ring.stabilize_ms = 500;
  NodeOptions o = valid();
  o.stabilize_ms = 200;
  auto adopted = adopt_ring_info(o, ring, "127.0.0.1:7000");
  REQUIRE(adopted.ok());
  CHECK(adopted->successor_list == 6);
  CHECK(adopted->stabilize_ms == 200);  // a local setting
  o.replicas = 4;
  auto refused = adopt_ring_info(o, ring, "127.0.0.1:7000");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message() ==
        "replicas 4 was asked for, but the ring of 127.0.0.1:7000 uses 3: drop the option to adopt the ring's value");
  o = valid();
  o.ring_name = "other";
  CHECK(adopt_ring_info(o, ring, "p").status().message().find("ring name 'other'") != std::string::npos);
}

TEST_CASE("ring trust: a new ring's secret is made once in the data directory, 0600, and kept") {
  test::TempDir dir("dws-node-trust");
  NodeOptions o = valid();
  o.data_dir = dir.sub("data");
  auto first = trust_new_ring(o);
  REQUIRE(first.ok());
  CHECK(first->created);
  CHECK(first->secret_path == secret_in(o.data_dir));
  CHECK(mode_of(first->secret_path) == 0600);
  CHECK(mode_of(o.data_dir) == 0700);
  CHECK_FALSE(first->auth->is_open());
  auto again = trust_new_ring(o);
  REQUIRE(again.ok());
  CHECK_FALSE(again->created);
  // The same secret: a proof made with one passes the other's check.
  const auto proof = first->auth->sign("GET", "/v1/ring/ping", "", 1000);
  std::string nonce;
  CHECK(again->auth->check("GET", "/v1/ring/ping", "", &proof.header, 1000, &nonce).ok());
}

TEST_CASE("ring trust: open ring, memory-only secret, and the conflicting choice") {
  NodeOptions o = valid();
  auto memory = trust_new_ring(o);
  REQUIRE(memory.ok());
  CHECK_FALSE(memory->auth->is_open());
  CHECK(memory->secret_path.empty());
  o.open_ring = true;
  auto open = trust_new_ring(o);
  REQUIRE(open.ok());
  CHECK(open->auth->is_open());
  o.ring_secret_file = "/nonexistent/ring.secret";
  auto both = trust_new_ring(o);
  REQUIRE_FALSE(both.ok());
  CHECK(both.status().message().find("exclude each other") != std::string::npos);
  NodeOptions joiner = valid();
  joiner.open_ring = true;
  CHECK(trust_joiner(joiner).status().message().find("chosen by a ring's first node") != std::string::npos);
}

TEST_CASE("ring trust: a joiner brings the named secret, keeps it in its data directory, and finds it there") {
  test::TempDir dir("dws-node-join");
  NodeOptions first = valid();
  first.ring_secret_file = dir.sub("ring.secret");
  auto ring = trust_new_ring(first);
  REQUIRE(ring.ok());

  NodeOptions joiner = valid();
  joiner.data_dir = dir.sub("joiner");
  auto none = trust_joiner(joiner);
  REQUIRE(none.ok());
  CHECK(none->auth->is_open());  // nothing held: only an open ring will take it
  joiner.ring_secret_file = first.ring_secret_file;
  auto brought = trust_joiner(joiner);
  REQUIRE(brought.ok());
  REQUIRE(keep_secret(joiner, *brought).ok());
  CHECK(mode_of(secret_in(joiner.data_dir)) == 0600);
  REQUIRE(keep_secret(joiner, *brought).ok());  // kept already: nothing to do

  joiner.ring_secret_file.clear();
  auto restarted = trust_joiner(joiner);
  REQUIRE(restarted.ok());
  CHECK(restarted->secret_path == secret_in(joiner.data_dir));
  const auto proof = ring->auth->sign("POST", "/v1/store/put", "{}", 5000);
  std::string nonce;
  CHECK(restarted->auth->check("POST", "/v1/store/put", "{}", &proof.header, 5000, &nonce).ok());
}

}  // namespace
}  // namespace dws::node

namespace dws::node {
namespace {

TEST_CASE("node options: each ring position of a node keeps a successor list and digest index sized for it") {
  RingInfo info;
  info.successor_list = 4;
  info.replicas = 3;
  CHECK(position_successors(info, 1) == 4);  // one position: the ring's own
  CHECK(position_successors(info, 4) == 14);
  CHECK(position_successors(info, 16) == 38);
  CHECK(position_successors(info, 64) == 64);
  CHECK(position_digest_bits(1) == 16);
  CHECK(position_digest_bits(2) == 15);
  CHECK(position_digest_bits(16) == 12);  // 16 x 2^12 buckets: the one index's 2^16
  CHECK(position_digest_bits(64) == 10);
  NodeOptions o = valid();
  o.vnodes = 0;
  CHECK(refusal(o) == "vnodes 0 must be in 1..64");
  o.vnodes = 65;
  CHECK(refusal(o) == "vnodes 65 must be in 1..64");
}

}  // namespace
}  // namespace dws::node
