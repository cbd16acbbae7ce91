#include "client/local_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>

#include "core/envelope.hpp"
#include "core/wire.hpp"
#include "crypto/secret.hpp"
#include "store/lmdb_store.hpp"

namespace dws::client {

namespace {

constexpr std::uint8_t kMessageFormat = 1;
constexpr std::uint8_t kPinFormat = 1;
constexpr std::uint8_t kChatFormat = 1;
constexpr std::uint8_t kOutboxFormat = 1;
constexpr std::uint8_t kRejectedFormat = 1;

std::string errno_text() { return std::strerror(errno); }

Status make_private_dir(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Status::Internal("cannot create directory " + path + ": " + ec.message());
  if (::chmod(path.c_str(), 0700) != 0)
    return Status::Internal("cannot make " + path + " private (mode 0700): " + errno_text());
  return Status::Ok();
}

std::string be64(std::int64_t v) {
  core::wire::Writer w;
  w.be64(static_cast<std::uint64_t>(v));
  return std::move(w.out());
}

std::int64_t read_be64(std::string_view s) {
  core::wire::Reader r(s);
  std::uint64_t v = 0;
  if (!r.be64(v, "value")) return 0;
  return static_cast<std::int64_t>(v);
}

std::string message_key(const std::string& peer, const std::string& id) { return "m/" + peer + "/" + id; }

Status corrupt(const std::string& what, const std::string& why) {
  return Status::Internal("local store: " + what + " is corrupt (" + why + "): remove the data directory's store");
}

}  // namespace

Result<std::unique_ptr<LocalStore>> LocalStore::open(const std::string& data_dir) {
  if (data_dir.empty()) return Status::InvalidArgument("the client needs a data directory: set ClientOptions::data_dir");
  if (Status s = make_private_dir(data_dir); !s.ok()) return s;
  const std::string store_dir = (std::filesystem::path(data_dir) / "store").string();
  if (Status s = make_private_dir(store_dir); !s.ok()) return s;
  store::LmdbOptions lo;
  // A client's history is small next to a node's: a modest map keeps the
  // address space of many clients in one process (tests, bots) bounded.
  lo.map_size = std::uint64_t{4} << 30;
  auto st = store::LmdbStore::open(data_dir, lo);
  if (!st.ok()) return st.status();
  for (const char* name : {"data.mdb", "lock.mdb"}) {
    const std::string file = (std::filesystem::path(store_dir) / name).string();
    if (::chmod(file.c_str(), 0600) != 0 && errno != ENOENT)
      return Status::Internal("cannot make " + file + " private (mode 0600): " + errno_text());
  }
  std::unique_ptr<LocalStore> out(new LocalStore());
  out->data_dir_ = data_dir;
  out->store_ = std::move(st).value();
  return out;
}

Status LocalStore::make_data_dir(const std::string& data_dir) { return make_private_dir(data_dir); }

LocalStore::~LocalStore() = default;

std::string LocalStore::secret_path() const { return (std::filesystem::path(data_dir_) / "secret.key").string(); }

Result<std::optional<core::Account>> LocalStore::account() {
  auto raw = store_->get_meta("account");
  if (!raw.ok()) return raw.status();
  if (!*raw) return std::optional<core::Account>();
  auto a = core::decode_account(**raw);
  if (!a.ok()) return corrupt("the account", a.status().message());
  return std::optional<core::Account>(std::move(a).value());
}

Status LocalStore::save_account(const core::Account& account) {
  return store_->put_meta("account", core::encode_account(account));
}

Status LocalStore::save_secret(const crypto::SecretKey& secret_key) {
  const std::string path = secret_path();
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Internal("cannot write " + tmp + ": " + errno_text());
  // O_CREAT's mode only applies to a new file; an old one keeps its mode.
  bool ok = ::fchmod(fd, 0600) == 0;
  ok = ok && ::write(fd, secret_key.data(), secret_key.size()) == static_cast<ssize_t>(secret_key.size());
  ok = ok && ::fsync(fd) == 0;
  const std::string why = ok ? "" : errno_text();
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::Internal("cannot write " + path + ": " + (why.empty() ? errno_text() : why));
  }
  return Status::Ok();
}

Result<std::optional<crypto::SecretKey>> LocalStore::load_secret() {
  const std::string path = secret_path();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<crypto::SecretKey>();
    return Status::Internal("cannot read " + path + ": " + errno_text());
  }
  crypto::SecretKey key;
  const ssize_t n = ::read(fd, key.data(), key.size());
  char extra = 0;
  const ssize_t more = ::read(fd, &extra, 1);
  ::close(fd);
  if (n != static_cast<ssize_t>(key.size()) || more != 0)
    return corrupt(path, "expected " + std::to_string(key.size()) + " bytes");
  return std::optional<crypto::SecretKey>(key);
}

Status LocalStore::remove_secret() {
  const std::string path = secret_path();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::Internal("cannot remove " + path + ": " + errno_text());
  }
  // The bytes would otherwise linger in the freed blocks of the file.
  const std::array<char, crypto::kSecretKeySize> zeros{};
  const bool wiped = ::write(fd, zeros.data(), zeros.size()) == static_cast<ssize_t>(zeros.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return Status::Internal("cannot remove " + path + ": " + errno_text());
  if (!wiped) return Status::Internal("removed " + path + " but could not overwrite it first");
  return Status::Ok();
}

Result<std::vector<std::pair<std::string, std::int64_t>>> LocalStore::servers() {
  std::vector<std::pair<std::string, std::int64_t>> out;
  Status s = store_->scan("s/", "s0", [&](std::string_view key, std::string_view value) {
    out.emplace_back(std::string(key.substr(2)), read_be64(value));
    return true;
  });
  if (!s.ok()) return s;
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

Status LocalStore::put_server(const std::string& address, std::int64_t last_success_ms) {
  core::WriteBatch b;
  b.put("s/" + address, be64(last_success_ms));
  return store_->apply(b);
}

Result<std::optional<Pin>> LocalStore::pin(const std::string& nick) {
  auto raw = store_->get("k/" + nick);
  if (!raw.ok()) return raw.status();
  if (!*raw) return std::optional<Pin>();
  core::wire::Reader r(**raw);
  Pin p;
  std::uint8_t format = 0;
  std::uint8_t changed = 0;
  if (!r.byte(format, "format") || format != kPinFormat || !r.fixed(p.key, "key") ||
      !r.str(p.display_name, 1024, "display name") || !r.byte(changed, "changed") || !r.end("pin"))
    return corrupt("the pinned key of '" + nick + "'", r.error().empty() ? "unknown format" : r.error());
  p.key_changed = changed != 0;
  return std::optional<Pin>(std::move(p));
}

Status LocalStore::put_pin(const std::string& nick, const Pin& pin) {
  core::wire::Writer w;
  w.byte(kPinFormat);
  w.fixed(pin.key);
  w.str(pin.display_name);
  w.byte(pin.key_changed ? 1 : 0);
  core::WriteBatch b;
  b.put("k/" + nick, std::move(w.out()));
  return store_->apply(b);
}

Result<std::optional<std::string>> LocalStore::contact_alias(const std::string& nick) {
  return store_->get("c/" + nick);
}

Status LocalStore::put_contact(const std::string& nick, const std::string& alias) {
  core::WriteBatch b;
  b.put("c/" + nick, alias);
  return store_->apply(b);
}

Status LocalStore::remove_contact(const std::string& nick) {
  core::WriteBatch b;
  b.del("c/" + nick);
  return store_->apply(b);
}

Result<std::vector<std::pair<std::string, std::string>>> LocalStore::contact_list() {
  std::vector<std::pair<std::string, std::string>> out;
  Status s = store_->scan("c/", "c0", [&](std::string_view key, std::string_view value) {
    out.emplace_back(std::string(key.substr(2)), std::string(value));
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

std::string LocalStore::encode_message(const Message& m) {
  core::wire::Writer w;
  w.byte(kMessageFormat);
  w.str(m.id);
  w.str(m.from);
  w.str(m.to);
  w.be64(static_cast<std::uint64_t>(m.sent_at));
  w.be64(static_cast<std::uint64_t>(m.received_at));
  w.str(m.text);
  w.byte(static_cast<std::uint8_t>(m.state));
  w.byte(m.outgoing ? 1 : 0);
  return std::move(w.out());
}

Result<Message> LocalStore::decode_message(std::string_view bytes) {
  core::wire::Reader r(bytes);
  Message m;
  std::uint8_t format = 0;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint8_t state = 0;
  std::uint8_t outgoing = 0;
  if (!r.byte(format, "format") || format != kMessageFormat || !r.str(m.id, 64, "id") ||
      !r.str(m.from, 64, "from") || !r.str(m.to, 64, "to") || !r.be64(sent, "sent_at") ||
      !r.be64(received, "received_at") || !r.str(m.text, std::size_t{1} << 20, "text") || !r.byte(state, "state") ||
      !r.byte(outgoing, "outgoing") || !r.end("message") || state > static_cast<std::uint8_t>(Delivery::kQueued))
    return corrupt("a message", r.error().empty() ? "unknown format or state" : r.error());
  m.sent_at = static_cast<std::int64_t>(sent);
  m.received_at = static_cast<std::int64_t>(received);
  m.state = static_cast<Delivery>(state);
  m.outgoing = outgoing != 0;
  return m;
}

Result<std::optional<Message>> LocalStore::message(const std::string& peer, const std::string& id) {
  auto raw = store_->get(message_key(peer, id));
  if (!raw.ok()) return raw.status();
  if (!*raw) return std::optional<Message>();
  auto m = decode_message(**raw);
  if (!m.ok()) return m.status();
  return std::optional<Message>(std::move(m).value());
}

namespace {

Result<ChatRow> decode_chat(std::string_view bytes, const std::string& peer) {
  core::wire::Reader r(bytes);
  ChatRow row;
  std::uint8_t format = 0;
  std::uint64_t unread = 0;
  std::uint64_t activity = 0;
  if (!r.byte(format, "format") || format != kChatFormat || !r.str(row.last_id, 64, "last id") ||
      !r.varint(unread, "unread") || !r.be64(activity, "activity") || !r.end("chat"))
    return corrupt("the chat with '" + peer + "'", r.error().empty() ? "unknown format" : r.error());
  row.unread = static_cast<int>(std::min<std::uint64_t>(unread, 1u << 30));
  row.activity_ms = static_cast<std::int64_t>(activity);
  return row;
}

}  // namespace

Result<std::optional<ChatRow>> LocalStore::chat(const std::string& peer) {
  auto raw = store_->get("t/" + peer);
  if (!raw.ok()) return raw.status();
  if (!*raw) return std::optional<ChatRow>();
  auto row = decode_chat(**raw, peer);
  if (!row.ok()) return row.status();
  return std::optional<ChatRow>(std::move(row).value());
}

Result<std::vector<std::pair<std::string, ChatRow>>> LocalStore::chat_list() {
  std::vector<std::pair<std::string, ChatRow>> out;
  Status bad;
  Status s = store_->scan("t/", "t0", [&](std::string_view key, std::string_view value) {
    std::string peer(key.substr(2));
    auto row = decode_chat(value, peer);
    if (!row.ok()) {
      bad = row.status();
      return false;
    }
    out.emplace_back(std::move(peer), std::move(row).value());
    return true;
  });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  return out;
}

Result<std::vector<Message>> LocalStore::history(const std::string& peer, const std::string& before, int limit) {
  std::deque<Message> window;
  if (limit <= 0) return std::vector<Message>();
  const std::string begin = "m/" + peer + "/";
  const std::string end = before.empty() ? "m/" + peer + "0" : begin + before;
  Status bad;
  Status s = store_->scan(begin, end, [&](std::string_view, std::string_view value) {
    auto m = decode_message(value);
    if (!m.ok()) {
      bad = m.status();
      return false;
    }
    window.push_back(std::move(m).value());
    if (window.size() > static_cast<std::size_t>(limit)) window.pop_front();
    return true;
  });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  return std::vector<Message>(std::make_move_iterator(window.begin()), std::make_move_iterator(window.end()));
}

Result<bool> LocalStore::seen(const std::string& id) {
  auto raw = store_->get("h/" + id);
  if (!raw.ok()) return raw.status();
  return raw->has_value();
}

void LocalStore::put_message(core::WriteBatch& batch, const std::string& peer, const Message& message) {
  batch.put(message_key(peer, message.id), encode_message(message));
}

void LocalStore::put_chat(core::WriteBatch& batch, const std::string& peer, const ChatRow& row) {
  core::wire::Writer w;
  w.byte(kChatFormat);
  w.str(row.last_id);
  w.varint(static_cast<std::uint64_t>(std::max(row.unread, 0)));
  w.be64(static_cast<std::uint64_t>(row.activity_ms));
  batch.put("t/" + peer, std::move(w.out()));
}

void LocalStore::put_seen(core::WriteBatch& batch, const std::string& id) { batch.put("h/" + id, "1"); }

void LocalStore::put_pending(core::WriteBatch& batch, const std::string& id) { batch.put("h/" + id, "p"); }

Result<std::optional<bool>> LocalStore::seen_mark(const std::string& id) {
  auto raw = store_->get("h/" + id);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<bool>();
  return std::optional<bool>(**raw != "p");
}

Result<std::optional<std::string>> LocalStore::last_sent(const std::string& peer) {
  auto raw = store_->get("q/" + peer);
  if (!raw.ok()) return raw.status();
  if (*raw && !core::MessageId::parse(**raw).ok()) return std::optional<std::string>();
  return std::move(raw).value();
}

void LocalStore::put_last_sent(core::WriteBatch& batch, const std::string& peer, const std::string& id) {
  batch.put("q/" + peer, id);
}

Result<std::vector<OutboxEntry>> LocalStore::outbox() {
  std::vector<OutboxEntry> out;
  Status bad = Status::Ok();
  Status s = store_->scan("o/", "o0", [&](std::string_view key, std::string_view value) {
    core::wire::Reader r(value);
    std::uint8_t format = 0;
    OutboxEntry e;
    e.id = std::string(key.substr(2));
    if (!r.byte(format, "format") || format != kOutboxFormat || !r.str(e.peer, 64, "peer") ||
        !r.str(e.body, 1 << 20, "body")) {
      bad = corrupt("outbox entry " + e.id, "unreadable");
      return false;
    }
    out.push_back(std::move(e));
    return true;
  });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  return out;
}

void LocalStore::put_outbox(core::WriteBatch& batch, const OutboxEntry& entry) {
  core::wire::Writer w;
  w.byte(kOutboxFormat);
  w.str(entry.peer);
  w.str(entry.body);
  batch.put("o/" + entry.id, std::move(w.out()));
}

void LocalStore::remove_outbox(core::WriteBatch& batch, const std::string& id) { batch.del("o/" + id); }

Result<std::vector<RejectedEnvelope>> LocalStore::rejected() {
  std::vector<RejectedEnvelope> out;
  Status bad = Status::Ok();
  Status s = store_->scan("x/", "x0", [&](std::string_view key, std::string_view value) {
    core::wire::Reader r(value);
    std::uint8_t format = 0;
    std::uint64_t at = 0;
    RejectedEnvelope e;
    e.id = std::string(key.substr(2));
    if (!r.byte(format, "format") || format != kRejectedFormat || !r.str(e.from, 256, "from") ||
        !r.str(e.reason, 4096, "reason") || !r.be64(at, "at")) {
      bad = corrupt("rejected entry " + e.id, "unreadable");
      return false;
    }
    e.at_ms = static_cast<std::int64_t>(at);
    out.push_back(std::move(e));
    return true;
  });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  return out;
}

void LocalStore::put_rejected(core::WriteBatch& batch, const RejectedEnvelope& entry) {
  core::wire::Writer w;
  w.byte(kRejectedFormat);
  w.str(entry.from.substr(0, 256));
  w.str(entry.reason.substr(0, 4096));
  w.be64(static_cast<std::uint64_t>(entry.at_ms));
  batch.put("x/" + entry.id, std::move(w.out()));
}

}  // namespace dws::client
