// The JSON bodies the client sends and reads (the user-facing API of
// DESIGN.md section 8). Readers never trust a server: anything malformed is
// kUnavailable naming the field, since a node that answers garbage is as
// good as gone and the next one may do better.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/account.hpp"
#include "core/envelope.hpp"
#include "crypto/kx.hpp"
#include "dwhatsapp/status.hpp"
#include "net/user_json.hpp"

namespace dws::client {

/// The full account as POST /v1/users and PUT /v1/users/{nick} take it.
std::string account_json(const core::Account& account);
/// The envelope as POST /v1/messages takes it.
std::string envelope_json(const core::Envelope& envelope);
/// {"nickname","auth_key"} for POST /v1/login.
std::string login_json(std::string_view nickname, std::span<const std::uint8_t, 32> auth_key);
/// {"ids":[...]}: a receipt's plaintext.
std::string ids_json(const std::vector<std::string>& ids);

/// The owner's acknowledgement of one mailbox entry (see core::EntryAck).
using AckJson = net::AckEntry;
/// {"acks":[{"id","from","sig"},...]}: the body of POST /v1/mailbox/ack.
/// {"device"?, "acks": [...]}: `device` names which of the account's devices has them.
std::string acks_json(const std::vector<AckJson>& acks, std::string_view device = {});
/// {"version","sig"}: the body of DELETE /v1/users/{nick}, the owner's deletion proof.
std::string deletion_json(std::uint64_t version, const crypto::Signature& sig);

Result<std::vector<std::string>> parse_ids(std::string_view body);

/// A receipt's plaintext: {"ids":[...]} says delivered, {"ids":[...],
/// "read":true} says read. Older clients read the ids and ignore "read".
struct Receipt {
  std::vector<std::string> ids;
  bool read = false;
};
std::string receipt_json(const Receipt& receipt);

/// What a kCopy envelope carries to the sender's other devices: a message
/// one device sent. Binary (wire format 1): recipient, id, sent_at, text.
struct SentCopy {
  std::string to;
  core::MessageId id;
  std::int64_t sent_at = 0;
  std::string text;
};
/// How many bytes encode_sent_copy adds to the text, at most.
inline constexpr std::size_t kSentCopyOverhead = 64;
std::string encode_sent_copy(const SentCopy& copy);
Result<SentCopy> decode_sent_copy(std::string_view bytes);

/// What a kText2 envelope carries: the text and the id of the sender's
/// previous message to the same recipient (none for the first), which the
/// recipient holds the text back for (client/hold_back.hpp). Binary (wire
/// format 1): a flag byte, the 16 id bytes when the flag is 1, the text.
struct ChainedText {
  std::optional<core::MessageId> prev;
  std::string text;
};
/// How many bytes encode_chained_text adds to the text.
inline constexpr std::size_t kChainedTextOverhead = 18;
std::string encode_chained_text(const ChainedText& text);
Result<ChainedText> decode_chained_text(std::string_view bytes);
Result<Receipt> parse_receipt(std::string_view body);
Result<core::AccountView> parse_account_view(std::string_view body);
Result<core::KdfParams> parse_kdf(std::string_view body);

using LoginReply = net::LoginAnswer;
Result<LoginReply> parse_login(std::string_view body);

/// The answer to POST /v1/sessions, and its body (docs/protocol.md 5.1).
using SessionReply = net::SessionOpened;
Result<SessionReply> parse_session(std::string_view body);
std::string session_json(const crypto::KxPublicKey& client_key);

struct MailboxReply {
  std::vector<core::EnvelopeView> messages;
  bool more = false;
  std::uint32_t devices = 0;  // how many devices the account lists (0: none)
};
Result<MailboxReply> parse_mailbox(std::string_view body);

/// The "address" of {"id","address"} (GET /v1/users/{nick}/node).
Result<std::string> parse_node_address(std::string_view body);
/// The addresses of [{"id","address"}...] (GET /v1/ring/nodes).
Result<std::vector<std::string>> parse_peer_addresses(std::string_view body);

/// What an error body says: {"error":{"code","message","primary"?}}.
struct ErrorReply {
  Status status;
  std::string primary;  // only for 421 not_responsible
};
/// The Status an HTTP error answer stands for; the code comes from the body
/// when it names one, else from the HTTP status.
ErrorReply parse_error(int http_status, std::string_view body);

}  // namespace dws::client
