// What the user-facing HTTP API (node/api.hpp) reads from a request: the JSON
// bodies, the {nick} of the path and the query parameters, parsed and checked
// without touching the ring, so that tests/fuzz/fuzz_user_api.cpp can drive
// every one of them. Internal to the node. Each parser is a pure function of
// its input and safe to call from any thread.
//
// Every error is kInvalidArgument (kPayloadTooLarge for an oversized
// message) and says what was wrong: "account: field 'salt' is missing",
// "parameter 'limit' must be an integer in [1, 500]".
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/account.hpp"
#include "core/envelope.hpp"
#include "core/mailbox.hpp"
#include "crypto/keys.hpp"
#include "dwhatsapp/status.hpp"
#include "net/json_codec.hpp"
#include "net/user_json.hpp"

namespace dws::node::parse {

/// An envelope of 64 KiB is about 88 KiB of JSON once base64'd; a message
/// body far above that is refused before parsing.
inline constexpr std::size_t kMaxMessageBody = 128 * 1024;
/// Entries one POST /v1/mailbox/ack may acknowledge.
inline constexpr std::size_t kMaxAckIds = 1000;

/// The body of POST /v1/login.
/// Its nickname folded to the stored form.
using Login = net::LoginRequest;

/// The body of DELETE /v1/users/{nick}: the owner's signed deletion proof.
using Deletion = net::DeletionProof;

/// A signed account record, the body of POST /v1/users and PUT
/// /v1/users/{nick}: a JSON object with nickname (at most 64 bytes),
/// public_key, salt, auth_hash, sealed_secret, signature (standard base64 of
/// their fixed sizes), opslimit, memlimit, version (non-negative integers)
/// and display_name (at most 1024 bytes). Other members are ignored.
/// @return the account, not yet verified (core::Users checks the nickname
/// and the signature); kInvalidArgument "account: ..." naming the first
/// field that is missing, of the wrong type, too long or not base64 of the
/// right size, or saying the body is not a JSON object.
Result<core::Account> account(std::string_view body);

/// A sealed message, the body of POST /v1/messages: the JSON form of
/// core::EnvelopeView (id, from, to, kind, nonce, box, sig strings, sent_at
/// an integer), decoded as core::from_view does.
/// @return the envelope, its signature not checked; kPayloadTooLarge for a
/// body over kMaxMessageBody bytes (before parsing); kInvalidArgument
/// "envelope: ..." naming the first bad field, or from_view's error.
Result<core::Envelope> envelope(std::string_view body);

/// The body of POST /v1/login: {"nickname": what the person typed (at most
/// 64 bytes), "auth_key": base64 of 32 bytes}.
/// @return the nickname folded to its stored form and the key;
/// kInvalidArgument "login: ..." naming the bad field, or fold_nickname's
/// error saying what the nickname may hold.
Result<Login> login(std::string_view body);

/// The body of POST /v1/sessions: {"client_key": base64 of the client's
/// 32-byte X25519 exchange key}. kInvalidArgument "session: ..." naming
/// the bad field.
Result<std::array<std::uint8_t, 32>> session_open(std::string_view body);

/// The body of DELETE /v1/users/{nick}: {"version": the account's version,
/// "sig": base64 of the 64-byte signature}.
/// @return both; kInvalidArgument "delete: ..." naming the bad field.
Result<Deletion> deletion(std::string_view body);

/// What an ack body says: the entries, and which of the account's devices
/// has them ("" when the body names none: the account reads as one device).
struct Acks {
  std::vector<core::EntryAck> entries;
  std::string device;
};

/// The body of POST /v1/mailbox/ack: {"device"?, "acks": [{"id", "from",
/// "sig"}, ...]}, at most kMaxAckIds entries, each id 32 lower-case hex
/// digits, from a stored-form nickname, sig base64 of 64 bytes; device, when
/// present, 16 lower-case hex digits.
/// @return the entries in order (possibly none), signatures not checked;
/// kInvalidArgument "ack: ..." naming the field or the entry (acks[3].id)
/// that is wrong.
Result<Acks> acks(std::string_view body);

/// The optional ?device= of GET /v1/mailbox: "" when absent or empty.
/// @return the id; kInvalidArgument "parameter 'device': ..." unless 16
/// lower-case hex digits.
Result<std::string> device_param(const net::WireRequest& w);

/// The {nick} of /v1/users/{nick}[/...], folded to the stored form.
/// @return the nickname; kInvalidArgument when the path does not start with
/// /v1/users/, or fold_nickname's error.
Result<std::string> path_nick(const net::WireRequest& w);

/// The {nick} of /v1/users/{nick} when it is `caller`'s own account.
/// @return the nickname; path_nick's error, or kForbidden "'CALLER' cannot
/// VERB the account of 'NICK'" for another user's.
Result<std::string> own_path_nick(const net::WireRequest& w, std::string_view caller, std::string_view verb);

/// Integer query parameter `name` in [min, max] (decimal, optional '-').
/// @return its value, or `fallback` when it is absent; kInvalidArgument
/// "parameter 'NAME' must be an integer in [MIN, MAX]" otherwise.
Result<std::int64_t> int_param(const net::WireRequest& w, const char* name, std::int64_t fallback, std::int64_t min,
                               std::int64_t max);

/// Query parameter `name` holding a message id (GET /v1/mailbox?after=).
/// @return its 32 hex digits, or "" when it is absent or empty;
/// kInvalidArgument "parameter 'NAME': ..." saying what is wrong.
Result<std::string> message_id_param(const net::WireRequest& w, const char* name);

/// Query parameter `name` holding the start of a nickname (GET
/// /v1/users?prefix=).
/// @return it folded to the stored form, or "" when it is absent or empty;
/// fold_nickname's error otherwise.
Result<std::string> nick_prefix_param(const net::WireRequest& w, const char* name);

}  // namespace dws::node::parse
