// The test vectors of docs/protocol.md, recomputed with the library's own
// functions. The vectors are read from the document itself (fenced blocks
// tagged `vectors`, one `name = value` a line), inputs as well as outputs,
// so the document and the code cannot drift apart: changing a byte of any
// vector in the document fails this test, and so does a vector that no
// check reads.
//
// DWS_PRINT_VECTORS=1 prints every computed value in the document's form,
// which is how the document's outputs were made.
#include <doctest/doctest.h>
#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "client/client_json.hpp"
#include "core/account.hpp"
#include "core/auth.hpp"
#include "core/envelope.hpp"
#include "core/id.hpp"
#include "core/record.hpp"
#include "core/validation.hpp"
#include "crypto/box.hpp"
#include "crypto/encoding.hpp"
#include "crypto/hash.hpp"
#include "crypto/keys.hpp"
#include "crypto/kx.hpp"
#include "crypto/pwhash.hpp"
#include "net/discovery.hpp"
#include "net/json_codec.hpp"
#include "net/peer_auth.hpp"

#ifndef DWS_PROTOCOL_DOC
#error "DWS_PROTOCOL_DOC must name docs/protocol.md (tests/unit/meson.build sets it)"
#endif

using namespace dws;

namespace {

// Every `name = value` line of the ```vectors blocks of the document. A
// name given twice is an error: one name, one value.
struct Vectors {
  std::map<std::string, std::string> values;
  std::string problem;
};

Vectors read_vectors() {
  Vectors out;
  std::ifstream in(DWS_PROTOCOL_DOC);
  if (!in) {
    out.problem = std::string("cannot open ") + DWS_PROTOCOL_DOC;
    return out;
  }
  std::string line;
  bool inside = false;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.rfind("```", 0) == 0) {
      inside = !inside && line == "```vectors";
      continue;
    }
    if (!inside || line.empty()) continue;
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) {
      out.problem = "line " + std::to_string(number) + " of a vectors block is not 'name = value'";
      return out;
    }
    const std::string name = line.substr(0, eq);
    if (!out.values.emplace(name, line.substr(eq + 3)).second) {
      out.problem = "vector '" + name + "' is given twice (line " + std::to_string(number) + ")";
      return out;
    }
  }
  return out;
}

const Vectors& vectors() {
  static const Vectors v = read_vectors();
  return v;
}

bool printing() { return std::getenv("DWS_PRINT_VECTORS") != nullptr; }

// The names a check read or compared: every vector of the document must be
// one of them, so none sits in the document unchecked.
std::set<std::string>& used() {
  static std::set<std::string> names;
  return names;
}

// The document's value of `name`; fails the test case when it is absent.
std::string doc(const std::string& name) {
  REQUIRE_MESSAGE(vectors().problem.empty(), vectors().problem);
  const auto it = vectors().values.find(name);
  REQUIRE_MESSAGE(it != vectors().values.end(), "docs/protocol.md has no vector '" << name << "'");
  used().insert(name);
  return it->second;
}

std::string hex(std::string_view bytes) {
  return crypto::to_hex(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                                      bytes.size()));
}
template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& a) {
  return crypto::to_hex(a);
}
template <std::size_t N>
std::string hex(const crypto::SecretBytes<N>& s) {
  return crypto::to_hex(s.span());
}

// The bytes a hex vector holds.
std::string unhex(const std::string& name) {
  const std::string text = doc(name);
  REQUIRE_MESSAGE(text.size() % 2 == 0, "vector '" << name << "' has an odd number of hex digits");
  std::string out(text.size() / 2, '\0');
  std::size_t len = 0;
  REQUIRE(sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                         &len, nullptr) == 0);
  REQUIRE(len == out.size());
  return out;
}
template <std::size_t N>
std::array<std::uint8_t, N> fixed(const std::string& name) {
  const std::string b = unhex(name);
  REQUIRE_MESSAGE(b.size() == N, "vector '" << name << "' has " << b.size() << " bytes, expected " << N);
  std::array<std::uint8_t, N> out{};
  std::memcpy(out.data(), b.data(), N);
  return out;
}
std::int64_t number(const std::string& name) { return std::stoll(doc(name)); }

// The document's value of `name` must be `computed`.
void expect(const std::string& name, const std::string& computed) {
  if (printing()) std::cout << name << " = " << computed << "\n";
  REQUIRE_MESSAGE(vectors().problem.empty(), vectors().problem);
  const auto it = vectors().values.find(name);
  if (it == vectors().values.end()) {
    FAIL_CHECK("docs/protocol.md has no vector '" << name << "'");
    return;
  }
  used().insert(name);
  INFO("vector ", name);
  CHECK(it->second == computed);
}

crypto::KeyPair keys_of(const std::string& seed_name) {
  const auto seed = fixed<crypto::kSeedSize>(seed_name);
  return crypto::keypair_from_seed(crypto::Seed(std::span<const std::uint8_t, crypto::kSeedSize>(seed)));
}

// Alice's account, exactly as the vectors describe it.
core::Account alice_account() {
  const crypto::KeyPair alice = keys_of("alice_seed");
  core::Account a;
  a.nickname = doc("alice_nickname");
  a.public_key = alice.public_key;
  a.salt = fixed<crypto::kSaltSize>("kdf_salt");
  a.limits = {static_cast<std::uint64_t>(number("kdf_opslimit")), static_cast<std::uint64_t>(number("kdf_memlimit"))};
  auto keys = crypto::derive_password_keys(doc("kdf_password"), a.salt, a.limits);
  REQUIRE(keys.ok());
  a.auth_hash = crypto::auth_hash_of(keys->auth_key);
  const std::string sealed =
      crypto::secretbox_seal(alice.secret_key.span(), keys->wrap_key, fixed<crypto::kNonceSize>("sealed_secret_nonce"));
  REQUIRE(sealed.size() == core::kSealedSecretSize);
  std::memcpy(a.sealed_secret.data(), sealed.data(), sealed.size());
  a.display_name = doc("alice_display_name");
  a.version = static_cast<std::uint64_t>(number("alice_version"));
  core::sign_account(a, alice.secret_key);
  return a;
}

// The envelope of the vectors: alice to bob, fixed id, time and nonce.
core::Envelope sealed_envelope() {
  const crypto::KeyPair alice = keys_of("alice_seed");
  const crypto::KeyPair bob = keys_of("bob_seed");
  auto id = core::MessageId::parse(doc("message_id"));
  REQUIRE(id.ok());
  core::Envelope e;
  e.id = *id;
  e.from = doc("alice_nickname");
  e.to = doc("bob_nickname");
  e.sent_at = number("message_sent_at");
  auto kind = core::parse_kind(doc("message_kind"));
  REQUIRE(kind.ok());
  e.kind = *kind;
  auto peer = crypto::to_box_public(bob.public_key);
  REQUIRE(peer.ok());
  auto sealed = crypto::box_seal(doc("message_plaintext"), *peer, crypto::to_box_secret(alice.secret_key),
                                 fixed<crypto::kNonceSize>("message_nonce"));
  REQUIRE(sealed.ok());
  e.nonce = sealed->nonce;
  e.box = sealed->box;
  e.sig = crypto::sign(alice.secret_key, core::envelope_signing_bytes(e));
  return e;
}

std::array<std::uint8_t, net::kRingSecretSize> ring_secret() { return fixed<net::kRingSecretSize>("ring_secret"); }

void check_keys() {
  for (const char* name : {"alice", "bob"}) {
    const std::string who = name;
    const crypto::KeyPair kp = keys_of(who + "_seed");
    expect(who + "_public_key", hex(kp.public_key));
    expect(who + "_secret_key", hex(kp.secret_key));
    auto box_public = crypto::to_box_public(kp.public_key);
    REQUIRE(box_public.ok());
    expect(who + "_box_public_key", hex(*box_public));
    expect(who + "_box_secret_key", hex(crypto::to_box_secret(kp.secret_key)));
  }
}

void check_ids() {
  expect("user_key_alice", core::to_hex(core::user_key(doc("alice_nickname"))));
  expect("user_key_bob", core::to_hex(core::user_key(doc("bob_nickname"))));
  expect("node_id_a", core::to_hex(core::node_id(doc("node_address_a"))));
  expect("node_id_b", core::to_hex(core::node_id(doc("node_address_b"))));
  expect("blake2b_256_empty", hex(crypto::blake2b_256("")));
}

void check_kdf() {
  const crypto::KdfLimits limits{static_cast<std::uint64_t>(number("kdf_opslimit")),
                                 static_cast<std::uint64_t>(number("kdf_memlimit"))};
  CHECK(limits == crypto::KdfLimits::minimum());
  auto keys = crypto::derive_password_keys(doc("kdf_password"), fixed<crypto::kSaltSize>("kdf_salt"), limits);
  REQUIRE(keys.ok());
  expect("auth_key", hex(keys->auth_key));
  expect("wrap_key", hex(keys->wrap_key));
  expect("auth_hash", hex(crypto::auth_hash_of(keys->auth_key)));
  expect("auth_key_base64", crypto::to_base64(keys->auth_key.span()));
  expect("login_body", client::login_json(doc("alice_nickname"), keys->auth_key.span()));
}

void check_account() {
  const core::Account a = alice_account();
  expect("sealed_secret", hex(a.sealed_secret));
  expect("secret_digest", hex(core::secret_digest(a)));
  expect("account_signing_bytes", hex(core::account_signing_bytes(a)));
  expect("account_signature", hex(a.signature));
  expect("account_encoded", hex(core::encode_account(a)));
  expect("register_body", client::account_json(a));
  CHECK(core::verify_account(a).ok());

  // The password opens the sealed secret to alice's key (what a login does).
  auto opened = core::open_secret(a, doc("kdf_password"));
  REQUIRE(opened.ok());
  CHECK(hex(*opened) == hex(keys_of("alice_seed").secret_key));
  // The public view verifies without auth_hash and sealed_secret.
  CHECK(core::verify_view(core::public_view(a)).ok());
}

void check_requests() {
  const crypto::KeyPair alice = keys_of("alice_seed");
  const std::string nick = doc("alice_nickname");
  const std::int64_t ts = number("request_ts");

  const std::string get_target = doc("get_target");
  expect("get_signing_string", hex(core::request_signing_string("GET", get_target, ts, "")));
  auto get = core::make_authorization(nick, alice.secret_key, "GET", get_target, ts, "");
  REQUIRE(get.ok());
  expect("get_authorization", *get);

  const std::string body = client::envelope_json(sealed_envelope());
  expect("post_signing_string", hex(core::request_signing_string("POST", "/v1/messages", ts, body)));
  auto post = core::make_authorization(nick, alice.secret_key, "POST", "/v1/messages", ts, body);
  REQUIRE(post.ok());
  expect("post_authorization", *post);

  // A node accepts both at ts and refuses them once the body or target differ.
  for (const auto& [method, target, b, header] :
       {std::tuple{"GET", get_target, std::string(), *get}, std::tuple{"POST", std::string("/v1/messages"), body, *post}}) {
    auto parsed = core::parse_authorization(header);
    REQUIRE(parsed.ok());
    CHECK(core::verify_request(*parsed, alice.public_key, method, target, b, ts).ok());
    CHECK_FALSE(core::verify_request(*parsed, alice.public_key, method, target + "x", b, ts).ok());
  }
}

crypto::KxKeyPair kx_of(const std::string& seed_name) {
  const auto seed = fixed<32>(seed_name);
  return crypto::kx_keypair_from_seed(crypto::SecretBytes<32>(std::span<const std::uint8_t, 32>(seed)));
}

void check_sessions() {
  const crypto::KxKeyPair client = kx_of("session_client_seed");
  const crypto::KxKeyPair node = kx_of("session_node_seed");
  expect("session_client_key", hex(client.public_key));
  expect("session_node_key", hex(node.public_key));
  expect("session_open_body", client::session_json(client.public_key));
  const crypto::SessionKey key = crypto::kx_client_key(client, node.public_key).value();
  CHECK(key == crypto::kx_server_key(node, client.public_key).value());
  expect("session_key", hex(key));

  const std::string sid = doc("session_id");
  const std::int64_t ts = number("request_ts");
  const std::string target = doc("get_target");
  expect("session_mac_string", hex(core::session_mac_string(sid, "GET", target, ts, "")));
  auto header = core::make_session_authorization(sid, key, "GET", target, ts, "");
  REQUIRE(header.ok());
  expect("session_authorization", *header);
  auto parsed = core::parse_session_authorization(*header);
  REQUIRE(parsed.ok());
  CHECK(core::verify_session_request(*parsed, key, "GET", target, "", ts).ok());
  CHECK_FALSE(core::verify_session_request(*parsed, key, "GET", target + "x", "", ts).ok());
}

void check_envelope() {
  const core::Envelope e = sealed_envelope();
  expect("message_box", hex(e.box));
  expect("envelope_signing_bytes", hex(core::envelope_signing_bytes(e)));
  expect("envelope_sig", hex(e.sig));
  expect("envelope_encoded", hex(core::encode_envelope(e)));
  expect("send_body", client::envelope_json(e));
  expect("mailbox_sub", core::mailbox_entry_sub(e.id, e.from));

  // Bob opens it; the node's checks pass.
  const crypto::KeyPair alice = keys_of("alice_seed");
  const crypto::KeyPair bob = keys_of("bob_seed");
  auto plain = core::open_envelope(e, bob.secret_key, alice.public_key);
  REQUIRE(plain.ok());
  CHECK(*plain == doc("message_plaintext"));
  auto decoded = core::decode_envelope(core::encode_envelope(e));
  REQUIRE(decoded.ok());
  CHECK(*decoded == e);
}

void check_proofs() {
  const crypto::KeyPair alice = keys_of("alice_seed");
  const crypto::KeyPair bob = keys_of("bob_seed");
  const std::string owner = doc("bob_nickname");
  auto id = core::MessageId::parse(doc("message_id"));
  REQUIRE(id.ok());
  const std::string sub = core::mailbox_entry_sub(*id, doc("alice_nickname"));
  expect("ack_signing_bytes", hex(core::ack_signing_bytes(owner, sub)));
  const core::AckProof ack = core::make_ack_proof(owner, sub, bob.secret_key);
  expect("ack_sig", hex(ack.signature));
  expect("ack_proof_encoded", hex(core::encode_ack_proof(ack)));
  const std::vector<client::AckJson> acks{
      client::AckJson{doc("message_id"), doc("alice_nickname"), ack.signature}};
  expect("ack_body", client::acks_json(acks));

  const std::uint64_t version = static_cast<std::uint64_t>(number("delete_version"));
  expect("deletion_signing_bytes", hex(core::deletion_signing_bytes(doc("alice_nickname"), version)));
  const core::DeletionProof del = core::make_deletion_proof(doc("alice_nickname"), version, alice.secret_key);
  expect("deletion_sig", hex(del.signature));
  expect("deletion_proof_encoded", hex(core::encode_deletion_proof(del)));
  expect("delete_body", client::deletion_json(version, del.signature));
}

void check_entry_record() {
  const core::Envelope e = sealed_envelope();
  const core::Record rec{core::user_key(e.to), core::mailbox_entry_sub(e.id, e.from), core::kEntryVersion, false,
                         number("entry_expires_at"), core::encode_envelope(e)};
  expect("entry_value", hex(core::encode_value(rec)));
  expect("entry_record", hex(core::encode_records(std::span<const core::Record>(&rec, 1))));
}

void check_peer_proof() {
  const auto secret = ring_secret();
  expect("request_mac_key", hex(net::PeerAuth::derive_key(secret, net::PeerAuth::kRequestKeyLabel)));
  expect("answer_mac_key", hex(net::PeerAuth::derive_key(secret, net::PeerAuth::kAnswerKeyLabel)));
  expect("discovery_mac_key", hex(net::PeerAuth::derive_key(secret, net::PeerAuth::kDiscoveryKeyLabel)));

  const PeerInfo b{core::node_id(doc("node_address_b")), doc("node_address_b")};
  const net::WireRequest wire = net::encode_request(core::Request{core::NotifyReq{b}});
  expect("peer_method", wire.method);
  expect("peer_target", wire.target());
  expect("peer_body", wire.body);

  auto auth = net::PeerAuth::with_secret(secret);
  const std::int64_t ts = number("peer_ts");
  const net::PeerAuth::Proof proof =
      auth->sign(wire.method, wire.target(), wire.body, ts, fixed<16>("peer_nonce"));
  expect("peer_proof_header", proof.header);
  // The MAC input as the document spells it, under the request key, is the
  // header's MAC.
  const std::string mac_input = wire.method + "\n" + wire.target() + "\n" + std::to_string(ts) + "\n" +
                                doc("peer_nonce") + "\n" + hex(crypto::blake2b_256(wire.body));
  expect("peer_mac_input", hex(mac_input));
  const auto request_key = net::PeerAuth::derive_key(secret, net::PeerAuth::kRequestKeyLabel);
  std::array<std::uint8_t, 32> mac{};
  crypto_generichash(mac.data(), mac.size(), reinterpret_cast<const unsigned char*>(mac_input.data()),
                     mac_input.size(), request_key.data(), request_key.size());
  CHECK(proof.header == "v1 " + std::to_string(ts) + " " + doc("peer_nonce") + " " + hex(mac));

  std::string nonce;
  CHECK(auth->check(wire.method, wire.target(), wire.body, &proof.header, ts, &nonce).ok());
  CHECK(nonce == doc("peer_nonce"));
  const std::string answer = auth->answer(nonce, static_cast<int>(number("peer_answer_status")), doc("peer_answer_body"));
  expect("peer_answer_header", answer);
  CHECK(auth->check_answer(nonce, static_cast<int>(number("peer_answer_status")), doc("peer_answer_body"), &answer));
}

void check_discovery() {
  const PeerInfo a{core::node_id(doc("node_address_a")), doc("node_address_a")};
  const std::string ring = doc("ring_name");
  expect("discover_datagram", net::discover_datagram(ring));
  auto here = net::answer_datagram(net::discover_datagram(ring), ring, a);
  REQUIRE(here.has_value());
  expect("here_datagram", *here);

  auto auth = net::PeerAuth::with_secret(ring_secret());
  const std::int64_t ts = number("peer_ts");
  const std::string text = "DWS1 PEERS " + ring + " " + std::to_string(ts) + " " + doc("peer_nonce");
  const std::string challenge = text + " " + auth->discovery_mac(text);
  expect("challenge_datagram", challenge);
  auto answer = net::answer_datagram(challenge, ring, a, auth.get(), ts);
  REQUIRE(answer.has_value());
  expect("peer_datagram", *answer);
  CHECK(net::parse_peer(*answer, doc("peer_nonce"), *auth) == a.address);
}

}  // namespace

TEST_CASE("protocol vectors: the document holds well-formed vector blocks") {
  REQUIRE_MESSAGE(vectors().problem.empty(), vectors().problem);
  CHECK(vectors().values.size() > 40);
}

TEST_CASE("protocol vectors: key pairs from seeds, and their X25519 forms") { check_keys(); }

TEST_CASE("protocol vectors: ring ids of users and nodes, and the empty body's hash") { check_ids(); }

TEST_CASE("protocol vectors: argon2id gives auth_key, wrap_key and auth_hash") { check_kdf(); }

TEST_CASE("protocol vectors: the user record, its signing bytes, signature and encodings") { check_account(); }

TEST_CASE("protocol vectors: signed requests (Authorization DWS1)") { check_requests(); }

TEST_CASE("protocol vectors: a session's key exchange and a MACed request (Authorization DWS1S)") { check_sessions(); }

TEST_CASE("protocol vectors: a sealed envelope, its signing bytes, signature and encodings") { check_envelope(); }

TEST_CASE("protocol vectors: the owner's acknowledgement and deletion proofs") { check_proofs(); }

TEST_CASE("protocol vectors: the mailbox entry as a stored record on the peer surface") { check_entry_record(); }

TEST_CASE("protocol vectors: the peer proof of a request and of its answer") { check_peer_proof(); }

TEST_CASE("protocol vectors: UDP discovery, open and challenged") { check_discovery(); }

TEST_CASE("protocol vectors: every vector of the document is an input or an output some check covers") {
  used().clear();
  check_keys();
  check_ids();
  check_kdf();
  check_account();
  check_requests();
  check_sessions();
  check_envelope();
  check_proofs();
  check_entry_record();
  check_peer_proof();
  check_discovery();
  for (const auto& [name, value] : vectors().values) {
    INFO("vector ", name);
    CHECK(used().count(name) == 1);
  }
}
