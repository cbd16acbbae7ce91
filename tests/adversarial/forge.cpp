// What the adversarial test (test_adversarial.py) cannot make in Python:
// signed accounts under an attacker's own key, requests signed by it, and
// the binary records codec of sync pushes. It prints, the test sends.
//
//   forge user NICK VERSION      a user record of NICK signed by a fresh key
//                                at VERSION, as store/put fields (JSON line)
//   forge owner NICK             a fresh account NICK: its registration body,
//                                then requests signed by its key (JSON
//                                lines): PUTs of it at version 2^64-1 and
//                                2^48 + 1, a long poll of its mailbox, and
//                                a short read of it
//   forge accounts COUNT PREFIX  COUNT registration bodies (JSON lines)
//   forge deletion NICK VERSION  a deletion proof of NICK signed by a fresh
//                                key (base64 payload of a user tombstone)
//   forge ack OWNER SUB          an acknowledgement of OWNER's entry SUB
//                                signed by a fresh key (base64 payload)
//   forge records                reads "KEYHEX VERSION TOMBSTONE EXPIRES
//                                SUB_B64 PAYLOAD_B64" lines ("-" = empty),
//                                prints base64 of encode_records
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "client/client_json.hpp"
#include "core/account.hpp"
#include "core/auth.hpp"
#include "core/id.hpp"
#include "core/record.hpp"
#include "crypto/encoding.hpp"
#include "crypto/keys.hpp"
#include "core/validation.hpp"
#include "support/signed_records.hpp"

namespace {

using dws::core::Account;

Account account_of(const std::string& nick, std::uint64_t version, const dws::crypto::KeyPair& keys) {
  Account a;
  a.nickname = nick;
  a.public_key = keys.public_key;
  a.limits = dws::crypto::KdfLimits::minimum();
  a.version = version;
  dws::core::sign_account(a, keys.secret_key);
  return a;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

int fail(const std::string& why) {
  std::fprintf(stderr, "forge: %s\n", why.c_str());
  return 2;
}

std::uint64_t number(const char* text, const char* what) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') {
    std::fprintf(stderr, "forge: %s must be a decimal number, got '%s'\n", what, text);
    std::exit(2);
  }
  return v;
}

std::string unb64(const std::string& field, const char* what) {
  if (field == "-") return "";
  auto bytes = dws::crypto::from_base64(field, what);
  if (!bytes.ok()) {
    std::fprintf(stderr, "forge: %s\n", bytes.status().message().c_str());
    std::exit(2);
  }
  return *bytes;
}

int records() {
  std::vector<dws::core::Record> out;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    std::istringstream in(line);
    std::string key, sub, payload;
    dws::core::Record r;
    int tomb = 0;
    if (!(in >> key >> r.version >> tomb >> r.expires_at >> sub >> payload))
      return fail("records: expected 'KEYHEX VERSION TOMBSTONE EXPIRES SUB_B64 PAYLOAD_B64', got '" + line + "'");
    auto k = dws::core::parse_hex(key);
    if (!k) return fail("records: key must be 16 hex digits, got '" + key + "'");
    r.key = *k;
    r.tombstone = tomb != 0;
    r.sub = unb64(sub, "sub");
    r.payload = unb64(payload, "payload");
    out.push_back(std::move(r));
  }
  std::printf("%s\n", dws::crypto::to_base64(dws::core::encode_records(out)).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "user") {
    const dws::test::SignedUsers users;
    const dws::core::Record r = users.record(args[1], number(argv[3], "VERSION"));
    std::printf("{\"key\":\"%s\",\"sub\":\"\",\"version\":%llu,\"tombstone\":false,\"expires_at\":0,"
                "\"payload\":\"%s\"}\n",
                dws::core::to_hex(r.key).c_str(), static_cast<unsigned long long>(r.version),
                dws::crypto::to_base64(r.payload).c_str());
    return 0;
  }
  if (args.size() == 2 && args[0] == "owner") {
    const auto keys = dws::crypto::generate_keypair();
    std::printf("%s\n", dws::client::account_json(account_of(args[1], 1, keys)).c_str());
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto signed_request = [&](const std::string& method, const std::string& target, const std::string& body,
                              const std::string& label) {
      auto auth = dws::core::make_authorization(args[1], keys.secret_key, method, target, now, body);
      if (!auth.ok()) return fail(auth.status().message());
      std::printf("{\"label\":%s,\"method\":%s,\"target\":%s,\"authorization\":%s,\"body\":%s}\n",
                  json_string(label).c_str(), json_string(method).c_str(), json_string(target).c_str(),
                  json_string(*auth).c_str(), json_string(body).c_str());
      return 0;
    };
    const std::string user = "/v1/users/" + args[1];
    int bad = signed_request("PUT", user, dws::client::account_json(account_of(args[1], UINT64_MAX, keys)),
                             "version 2^64-1");
    bad |= signed_request("PUT", user,
                          dws::client::account_json(account_of(args[1], (std::uint64_t{1} << 48) + 1, keys)),
                          "version 2^48+1");
    bad |= signed_request("GET", "/v1/mailbox?wait=30", "", "long poll");
    bad |= signed_request("GET", "/v1/mailbox?wait=1", "", "owner's read");
    return bad;
  }
  if (args.size() == 3 && args[0] == "accounts") {
    const std::uint64_t count = number(argv[2], "COUNT");
    if (count > 10'000) return fail("accounts: COUNT must be at most 10000");
    const auto keys = dws::crypto::generate_keypair();
    for (std::uint64_t i = 0; i < count; ++i)
      std::printf("%s\n", dws::client::account_json(account_of(args[2] + std::to_string(i), 1, keys)).c_str());
    return 0;
  }
  if (args.size() == 3 && args[0] == "deletion") {
    const auto keys = dws::crypto::generate_keypair();
    const auto proof = dws::core::make_deletion_proof(args[1], number(argv[3], "VERSION"), keys.secret_key);
    std::printf("%s\n", dws::crypto::to_base64(dws::core::encode_deletion_proof(proof)).c_str());
    return 0;
  }
  if (args.size() == 3 && args[0] == "ack") {
    const auto keys = dws::crypto::generate_keypair();
    const auto proof = dws::core::make_ack_proof(args[1], args[2], keys.secret_key);
    std::printf("%s\n", dws::crypto::to_base64(dws::core::encode_ack_proof(proof)).c_str());
    return 0;
  }
  if (args.size() == 1 && args[0] == "records") return records();
  return fail(
      "usage: forge user NICK VERSION | owner NICK | accounts COUNT PREFIX | deletion NICK VERSION | ack OWNER SUB | "
      "records");
}
