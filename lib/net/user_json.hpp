// The bodies of the user-facing API (DESIGN.md section 8) that one side
// writes and the other reads: each is described once here, and the node
// (node/api*.cpp) and the client (client/client_json.cpp) both go through
// that description, so they always agree on names, order and limits.
//
// Readers take a Fields, which names the first bad field and decides the
// Status code (the node refuses a request as kInvalidArgument; the client
// takes a garbled answer as kUnavailable).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/account.hpp"
#include "core/envelope.hpp"
#include "core/messages.hpp"
#include "net/json_fields.hpp"
#include "net/json_writer.hpp"

namespace dws::net {

/// The bodies that are one JSON object each: json_body writes one, and
/// read_json_body<Body> reads one, naming the first bad field through `f`.
/// Defined for exactly these types (user_json.cpp instantiates them):
/// - core::Account, the full signed account: the body of POST /v1/users and
///   PUT /v1/users/{nick};
/// - core::AccountView, its public view: the answer to GET /v1/users/{nick};
/// - core::KdfParams, the password-hashing parameters: the answer to GET
///   /v1/users/{nick}/kdf;
/// - the structs below but AckBody (read_acks, acks_json).
template <class Body>
std::string json_body(const Body& body);
template <class Body>
Body read_json_body(Fields& f, const JsonValue& obj);

/// A sealed message in its JSON form (core::EnvelopeView): the body of POST
/// /v1/messages and each entry of GET /v1/mailbox's "messages".
void write_envelope_view(JsonWriter& w, const core::EnvelopeView& v);
core::EnvelopeView read_envelope_view(Fields& f, const JsonValue& obj, std::string_view path);

/// What a successful login answers (POST /v1/login): the sealed secret key,
/// the public key and the account's version.
struct LoginAnswer {
  core::SealedSecret sealed_secret{};
  crypto::PublicKey public_key{};
  std::uint64_t version = 0;
};

/// GET /v1/mailbox's answer: a page of sealed messages, whether more follow,
/// and how many devices the account lists (0: none).
struct MailboxPageBody {
  std::vector<core::EnvelopeView> messages;
  bool more = false;
  int devices = 0;
};

/// {"users": [{"nickname", "display_name"}, ...]}: the answer to GET
/// /v1/users, and to a node's GET /v1/node/users.
void write_user_list(JsonWriter& w, const std::vector<core::UserListEntry>& users);
std::vector<core::UserListEntry> read_user_list(Fields& f, const JsonValue& obj, std::size_t max_users);

/// What a change of an account answers: POST /v1/users (201) and PUT
/// /v1/users/{nick} give its nickname and version; DELETE gives deleted.
struct AccountChanged {
  std::string nickname;
  std::uint64_t version = 0;
};
struct AccountDeleted {
  std::string nickname;
  bool deleted = true;
};

/// What POST /v1/mailbox/ack answers: how many entries it acknowledged.
struct AckedAnswer {
  std::uint64_t acked = 0;
};

/// What PUT /v1/devices answers: the stored list's version and size.
struct DevicesSet {
  std::uint64_t version = 0;
  std::uint64_t devices = 0;
};

/// What POST /v1/messages answers: the message's id and how many copies
/// of it the ring holds.
struct PostedAnswer {
  std::string id;
  int copies = 0;
};

/// The body of POST /v1/login: the nickname as the person typed it and the
/// password's auth key.
struct LoginRequest {
  std::string nickname;
  std::array<std::uint8_t, 32> auth_key{};
};

/// POST /v1/sessions (docs/protocol.md section 5.1): the client's X25519
/// exchange key, and the node's answer.
struct SessionOpen {
  std::array<std::uint8_t, 32> client_key{};
};
struct SessionOpened {
  std::string session;  // 32 lower-case hex digits
  std::array<std::uint8_t, 32> node_key{};
  std::int64_t ttl_s = 0;
};

/// The body of DELETE /v1/users/{nick}: the owner's signed deletion proof.
struct DeletionProof {
  std::uint64_t version = 0;
  crypto::Signature sig{};
};

/// The owner's acknowledgement of one mailbox entry (core::EntryAck before
/// its id and sender are checked).
struct AckEntry {
  std::string id;
  std::string from;
  crypto::Signature sig{};
};
/// The body of POST /v1/mailbox/ack: {"device"?, "acks": [{"id", "from",
/// "sig"}, ...]}; `device` ("" for none) names which of the account's
/// devices has them.
struct AckBody {
  std::vector<AckEntry> acks;
  std::string device;
};
std::string acks_json(const AckBody& body);
/// At most max_acks entries; each entry's id and sender are not checked.
AckBody read_acks(Fields& f, const JsonValue& obj, std::size_t max_acks);

}  // namespace dws::net
