// One test per rule of core::RecordValidator: each record breaks exactly one
// rule, and is refused with that rule's reason; the valid one beside it is
// accepted, so a test cannot pass because everything is refused.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>

#include "core/account.hpp"
#include "core/devices.hpp"
#include "core/envelope.hpp"
#include "core/id.hpp"
#include "core/validation.hpp"

using namespace dws;
using namespace dws::core;

namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;
constexpr std::int64_t kDay = 24LL * 3600 * 1000;

struct FakeKeys final : KeyDirectory {
  Result<std::optional<crypto::PublicKey>> current_key(std::string_view nick) override {
    if (down.count(std::string(nick))) return Status::Unavailable("the ring does not answer");
    auto it = keys.find(std::string(nick));
    if (it == keys.end()) return std::optional<crypto::PublicKey>();
    return std::optional<crypto::PublicKey>(it->second);
  }
  std::map<std::string, crypto::PublicKey> keys;
  std::set<std::string> down;
};

struct Fixture {
  Fixture() : validator(keys, ValidationOptions{}) {
    for (const char* nick : {"alice", "bob"}) {
      auto made = make_account(nick, "password", "", 1, crypto::KdfLimits::minimum());
      REQUIRE(made.ok());
      keys.keys[nick] = made->record.public_key;
      people.emplace(nick, std::move(made).value());
    }
  }
  const Account& account(const std::string& n) const { return people.at(n).record; }
  const crypto::SecretKey& secret(const std::string& n) const { return people.at(n).secret_key; }

  Record user(const Account& a) const { return Record{user_key(a.nickname), "", a.version, false, 0, encode_account(a)}; }
  Record user(const std::string& n) const { return user(account(n)); }
  Record deletion(const std::string& n, std::uint64_t version, const crypto::SecretKey& key) const {
    return Record{user_key(n), "", version, true, kNow + kDay,
                  encode_deletion_proof(make_deletion_proof(n, version, key))};
  }
  Envelope envelope(std::uint8_t first = 1) const {
    MessageId id;
    id.bytes[0] = first;
    auto e = seal_envelope(secret("alice"), "alice", "bob", account("bob").public_key, Kind::kText, "hello", id, kNow);
    REQUIRE(e.ok());
    return *e;
  }
  Record entry(const Envelope& e) const {
    return Record{user_key(e.to), mailbox_entry_sub(e.id, e.from), kEntryVersion, false, kNow + kDay,
                  encode_envelope(e)};
  }
  Record ack(const Envelope& e, const std::string& owner, const crypto::SecretKey& key) const {
    const std::string sub = mailbox_entry_sub(e.id, e.from);
    return Record{user_key(owner), sub, kAckVersion, true, kNow + kDay,
                  encode_ack_proof(make_ack_proof(owner, sub, key))};
  }
  // The reason `r` is refused for ("" when accepted).
  std::string verdict(const Record& r, const Record* current = nullptr) {
    Verdict v = validator.check(r, current, kNow);
    return v.ok() ? std::string() : std::string(reason_name(v.reason));
  }

  FakeKeys keys;
  RecordValidator validator;
  std::map<std::string, NewAccount> people;
};

}  // namespace

TEST_CASE("validation: a signed user record, its signed update and its signed deletion are accepted") {
  Fixture f;
  const Record v1 = f.user("alice");
  CHECK(f.verdict(v1) == "");
  auto v2 = change_display_name(f.account("alice"), f.secret("alice"), "Alice");
  REQUIRE(v2.ok());
  CHECK(f.verdict(f.user(*v2), &v1) == "");
  CHECK(f.verdict(f.deletion("alice", 2, f.secret("alice")), &v1) == "");
}

TEST_CASE("validation: a user record whose payload is not an account is malformed") {
  Fixture f;
  Record r = f.user("alice");
  r.payload = "not an account";
  CHECK(f.verdict(r) == "malformed");
}

TEST_CASE("validation: a user record stored at another nickname's key is misaddressed") {
  Fixture f;
  Record r = f.user("alice");
  r.key = user_key("bob");
  CHECK(f.verdict(r) == "misaddressed");
}

TEST_CASE("validation: a user record whose version differs from its account's is refused") {
  Fixture f;
  Record r = f.user("alice");
  r.version = 7;
  CHECK(f.verdict(r) == "bad_version");
}

TEST_CASE("validation: a version of 0 or above 2^48 is refused, so none can overflow") {
  Fixture f;
  Account a = f.account("alice");
  a.version = kMaxVersion + 1;
  sign_account(a, f.secret("alice"));
  CHECK(f.verdict(f.user(a)) == "bad_version");
  a.version = UINT64_MAX;
  sign_account(a, f.secret("alice"));
  CHECK(f.verdict(f.user(a)) == "bad_version");
  Record zero = f.user("alice");
  zero.version = 0;
  CHECK(f.verdict(zero) == "bad_version");
  a.version = kMaxVersion;
  sign_account(a, f.secret("alice"));
  CHECK(f.verdict(f.user(a)) == "");
  CHECK(change_display_name(a, f.secret("alice"), "x").status().code() == Code::kInvalidArgument);
}

TEST_CASE("validation: a user record that expires is refused (accounts live until deleted)") {
  Fixture f;
  Record r = f.user("alice");
  r.expires_at = kNow + kDay;
  CHECK(f.verdict(r) == "bad_expiry");
}

TEST_CASE("validation: a user record whose signature does not verify is refused") {
  Fixture f;
  Account a = f.account("alice");
  a.display_name = "changed after signing";
  CHECK(f.verdict(f.user(a)) == "bad_signature");
}

TEST_CASE("validation: an update signed by another key than the record it replaces is refused") {
  Fixture f;
  const Record v1 = f.user("alice");
  // The attacker's own record for "alice", signed by its own key, version 2.
  auto forged = make_account("alice", "attacker", "", 2, crypto::KdfLimits::minimum());
  REQUIRE(forged.ok());
  const Record r = f.user(forged->record);
  CHECK(f.verdict(r) == "");  // self-consistent on its own
  CHECK(f.verdict(r, &v1) == "wrong_key");
}

TEST_CASE("validation: an update that does not raise the version is refused") {
  Fixture f;
  auto v2 = change_display_name(f.account("alice"), f.secret("alice"), "Alice");
  auto other = change_display_name(f.account("alice"), f.secret("alice"), "Another Alice");
  REQUIRE((v2.ok() && other.ok()));
  const Record stored = f.user(*v2);
  CHECK(f.verdict(f.user(*other), &stored) == "bad_version");  // same version 2, other content
}

TEST_CASE("validation: a deletion tombstone without a readable proof is malformed") {
  Fixture f;
  Record r = f.deletion("alice", 2, f.secret("alice"));
  r.payload.clear();
  CHECK(f.verdict(r) == "malformed");
}

TEST_CASE("validation: a deletion of one nickname stored at another's key is misaddressed") {
  Fixture f;
  Record r = f.deletion("alice", 2, f.secret("alice"));
  r.key = user_key("bob");
  CHECK(f.verdict(r) == "misaddressed");
}

TEST_CASE("validation: a deletion tombstone that never expires, or outlives the tombstone TTL, is refused") {
  Fixture f;
  Record forever = f.deletion("alice", 2, f.secret("alice"));
  forever.expires_at = 0;
  CHECK(f.verdict(forever) == "bad_expiry");
  Record long_lived = f.deletion("alice", 2, f.secret("alice"));
  long_lived.expires_at = kNow + 31 * kDay;
  CHECK(f.verdict(long_lived) == "bad_expiry");
}

TEST_CASE("validation: a deletion whose proof was signed for another version is refused") {
  Fixture f;
  Record r = f.deletion("alice", 2, f.secret("alice"));
  r.version = 3;  // a replay of the version-2 proof at a higher version
  CHECK(f.verdict(r) == "bad_signature");
}

TEST_CASE("validation: a deletion signed by another key than the record it replaces is refused") {
  Fixture f;
  const Record v1 = f.user("alice");
  const Record r = f.deletion("alice", 2, f.secret("bob"));
  CHECK(f.verdict(r) == "");  // self-consistent on its own
  CHECK(f.verdict(r, &v1) == "wrong_key");
}

TEST_CASE("validation: a deletion that does not raise the version is refused") {
  Fixture f;
  auto v2 = change_display_name(f.account("alice"), f.secret("alice"), "Alice");
  REQUIRE(v2.ok());
  const Record stored = f.user(*v2);
  // Version 2 ties with the stored record; it might win the tie by its hash.
  CHECK(f.verdict(f.deletion("alice", 2, f.secret("alice")), &stored) == "bad_version");
}

TEST_CASE("validation: a signed envelope in its recipient's mailbox is accepted, and its acknowledgement by the owner") {
  Fixture f;
  const Envelope e = f.envelope();
  const Record entry = f.entry(e);
  CHECK(f.verdict(entry) == "");
  CHECK(f.verdict(entry, &entry) == "");
  CHECK(f.verdict(f.ack(e, "bob", f.secret("bob")), &entry) == "");
}

TEST_CASE("validation: a mailbox entry under a sub not of the form m/<id>/<sender> is malformed") {
  Fixture f;
  const Envelope e = f.envelope();
  Record r = f.entry(e);
  r.sub = "m/" + e.id.hex();  // the old form, where two senders collide
  CHECK(f.verdict(r) == "malformed");
}

TEST_CASE("validation: a mailbox entry whose payload is not an envelope is malformed") {
  Fixture f;
  Record r = f.entry(f.envelope());
  r.payload = "junk that fills a page";
  CHECK(f.verdict(r) == "malformed");
}

TEST_CASE("validation: a mailbox entry under another sender's or id's sub is misaddressed") {
  Fixture f;
  const Envelope e = f.envelope();
  Record r = f.entry(e);
  r.sub = mailbox_entry_sub(e.id, "bob");
  CHECK(f.verdict(r) == "misaddressed");
  MessageId other;
  other.bytes[0] = 42;
  r.sub = mailbox_entry_sub(other, "alice");
  CHECK(f.verdict(r) == "misaddressed");
}

TEST_CASE("validation: an envelope stored in another mailbox than its recipient's is misaddressed") {
  Fixture f;
  Record r = f.entry(f.envelope());
  r.key = user_key("alice");
  CHECK(f.verdict(r) == "misaddressed");
}

TEST_CASE("validation: a mailbox entry with a version other than 1 is refused") {
  Fixture f;
  Record r = f.entry(f.envelope());
  r.version = 5;
  CHECK(f.verdict(r) == "bad_version");
}

TEST_CASE("validation: a mailbox entry that never expires, or outlives the message TTL, is refused") {
  Fixture f;
  Record forever = f.entry(f.envelope());
  forever.expires_at = 0;
  CHECK(f.verdict(forever) == "bad_expiry");
  Record long_lived = f.entry(f.envelope());
  long_lived.expires_at = kNow + 40 * kDay;
  CHECK(f.verdict(long_lived) == "bad_expiry");
}

TEST_CASE("validation: an envelope from a sender who is not a user is refused") {
  Fixture f;
  const Record r = f.entry(f.envelope());
  f.keys.keys.erase("alice");
  CHECK(f.verdict(r) == "unknown_sender");
}

TEST_CASE("validation: an envelope whose sender's key cannot be fetched now is refused as unverifiable") {
  Fixture f;
  const Record r = f.entry(f.envelope());
  f.keys.down.insert("alice");
  Verdict v = f.validator.check(r, nullptr, kNow);
  CHECK(std::string(reason_name(v.reason)) == "unverifiable");
  CHECK(v.status.code() == Code::kUnavailable);
}

TEST_CASE("validation: an envelope whose signature does not verify against the sender's current key is refused") {
  Fixture f;
  Envelope e = f.envelope();
  e.box[0] = static_cast<char>(e.box[0] ^ 1);
  CHECK(f.verdict(f.entry(e)) == "bad_signature");
  // Signed by a key that is no longer alice's (her record changed keys).
  const Record old = f.entry(f.envelope());
  f.keys.keys["alice"] = f.account("bob").public_key;
  CHECK(f.verdict(old) == "bad_signature");
}

TEST_CASE("validation: a different entry under an existing mailbox key is refused: entries are created once") {
  Fixture f;
  const Envelope first = f.envelope();
  auto second = seal_envelope(f.secret("alice"), "alice", "bob", f.account("bob").public_key, Kind::kText,
                              "another text under the same id", first.id, kNow);
  REQUIRE(second.ok());
  const Record stored = f.entry(first);
  CHECK(f.verdict(f.entry(*second)) == "");
  CHECK(f.verdict(f.entry(*second), &stored) == "exists");
  Record retry = f.entry(first);  // the same envelope posted again, with a later expiry
  retry.expires_at += 1000;
  CHECK(f.verdict(retry, &stored) == "");
}

TEST_CASE("validation: an acknowledgement with a version other than 2 is refused") {
  Fixture f;
  Record r = f.ack(f.envelope(), "bob", f.secret("bob"));
  r.version = UINT64_MAX;  // the "impossible to acknowledge" attack
  CHECK(f.verdict(r) == "bad_version");
  r.version = 3;
  CHECK(f.verdict(r) == "bad_version");
}

TEST_CASE("validation: an acknowledgement without a readable proof is malformed") {
  Fixture f;
  Record r = f.ack(f.envelope(), "bob", f.secret("bob"));
  r.payload.clear();  // the old, unsigned tombstone
  CHECK(f.verdict(r) == "malformed");
}

TEST_CASE("validation: an acknowledgement by the owner of another mailbox is misaddressed") {
  Fixture f;
  const Envelope e = f.envelope();
  Record r = f.ack(e, "alice", f.secret("alice"));
  r.key = user_key("bob");
  CHECK(f.verdict(r) == "misaddressed");
}

TEST_CASE("validation: an acknowledgement that never expires, or outlives the tombstone TTL, is refused") {
  Fixture f;
  Record forever = f.ack(f.envelope(), "bob", f.secret("bob"));
  forever.expires_at = 0;
  CHECK(f.verdict(forever) == "bad_expiry");
  Record long_lived = f.ack(f.envelope(), "bob", f.secret("bob"));
  long_lived.expires_at = kNow + 31 * kDay;
  CHECK(f.verdict(long_lived) == "bad_expiry");
}

TEST_CASE("validation: an acknowledgement not signed by the mailbox owner is refused") {
  Fixture f;
  const Envelope e = f.envelope();
  const std::string sub = mailbox_entry_sub(e.id, e.from);
  Record r = f.ack(e, "bob", f.secret("bob"));
  r.payload = encode_ack_proof(AckProof{"bob", crypto::sign(f.secret("alice"), ack_signing_bytes("bob", sub))});
  CHECK(f.verdict(r) == "bad_signature");
  // bob's proof for one entry does not acknowledge another.
  Record moved = f.ack(e, "bob", f.secret("bob"));
  moved.sub = mailbox_entry_sub(f.envelope(7).id, "alice");
  CHECK(f.verdict(moved) == "bad_signature");
}

TEST_CASE("validation: an acknowledgement by an owner who is not a user is refused") {
  Fixture f;
  const Record r = f.ack(f.envelope(), "bob", f.secret("bob"));
  f.keys.keys.erase("bob");
  CHECK(f.verdict(r) == "unknown_sender");
}

TEST_CASE("validation: a record under a sub of no known kind is malformed") {
  Fixture f;
  Record r = f.user("alice");
  r.sub = "x/anything";
  CHECK(f.verdict(r) == "malformed");
}

TEST_CASE("validation: mailbox subs round-trip and keep id order across senders") {
  MessageId a, b;
  a.bytes[0] = 1;
  b.bytes[0] = 2;
  const std::string sa = mailbox_entry_sub(a, "zed");
  const std::string sb = mailbox_entry_sub(b, "al");
  CHECK(sa < sb);
  auto parsed = parse_entry_sub(sa);
  REQUIRE(parsed.ok());
  CHECK(parsed->id == a);
  CHECK(parsed->sender == "zed");
  CHECK(parse_entry_sub("m/" + a.hex() + "/Zed").status().code() == Code::kInvalidArgument);
  CHECK(parse_entry_sub("m/" + a.hex()).status().code() == Code::kInvalidArgument);
}

// --- Device lists and device acknowledgements (core/devices.hpp) -------------

namespace {

Record device_list(const std::string& owner, std::uint64_t version, const crypto::SecretKey& key,
                   std::vector<Device> devices = {{"0123456789abcdef", "phone", 1}}) {
  DeviceList l{owner, {}, version, std::move(devices), {}};
  sign_device_list(l, key);
  return Record{user_key(owner), "d", version, false, 0, encode_device_list(l)};
}

Record device_ack(const Envelope& e, const std::string& device, const crypto::SecretKey& key,
                  std::int64_t expires_at = kNow + kDay) {
  return Record{user_key(e.to), device_ack_sub(device, e.id, e.from), kEntryVersion, false, expires_at,
                encode_ack_proof(make_ack_proof(e.to, mailbox_entry_sub(e.id, e.from), key))};
}

}  // namespace

TEST_CASE("validation: a device list is the owner's, signed by the account key, raised by every change") {
  Fixture f;
  const Record v1 = device_list("bob", 1, f.secret("bob"));
  CHECK(f.verdict(v1) == "");
  CHECK(f.verdict(device_list("bob", 2, f.secret("bob")), &v1) == "");
  CHECK(f.verdict(device_list("bob", 1, f.secret("bob"), {}), &v1) == "bad_version");  // same version, other content
  CHECK(f.verdict(device_list("bob", 2, f.secret("alice"))) == "wrong_key");  // signed by another account's key
  Record moved = v1;
  moved.key = user_key("alice");
  CHECK(f.verdict(moved) == "misaddressed");
  Record expiring = v1;
  expiring.expires_at = kNow + 1000;
  CHECK(f.verdict(expiring) == "bad_expiry");
  Record tampered = v1;
  tampered.payload[tampered.payload.size() - 70] ^= 1;  // inside the last device's fields
  CHECK(f.verdict(tampered) != "");
  Record twice = device_list("bob", 3, f.secret("bob"), {{"0123456789abcdef", "a", 1}, {"0123456789abcdef", "b", 2}});
  CHECK(f.verdict(twice) == "malformed");
  Record dead = v1;
  dead.tombstone = true;
  CHECK(f.verdict(dead) == "malformed");
}

TEST_CASE("validation: a device acknowledgement is the owner's proof over the entry, expiring with it") {
  Fixture f;
  const Envelope e = f.envelope();
  CHECK(f.verdict(device_ack(e, "0123456789abcdef", f.secret("bob"))) == "");
  CHECK(f.verdict(device_ack(e, "0123456789abcdef", f.secret("alice"))) == "bad_signature");
  CHECK(f.verdict(device_ack(e, "0123456789ABCDEF", f.secret("bob"))) == "malformed");
  CHECK(f.verdict(device_ack(e, "0123456789abcdef", f.secret("bob"), 0)) == "bad_expiry");
  Record r = device_ack(e, "0123456789abcdef", f.secret("bob"));
  r.version = 2;
  CHECK(f.verdict(r) == "bad_version");
  const Record first = device_ack(e, "0123456789abcdef", f.secret("bob"));
  Record again = first;
  again.expires_at -= 1000;  // a retry with another expiry
  CHECK(f.verdict(again, &first) == "");
}
