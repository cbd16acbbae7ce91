#include <doctest/doctest.h>

#include <string>

#include "core/account.hpp"
#include "core/nickname.hpp"
#include "crypto/encoding.hpp"

using namespace dws;
using namespace dws::core;

namespace {

const crypto::KdfLimits kFast = crypto::KdfLimits::minimum();

NewAccount make(std::string_view nick = "alice", std::string_view password = "hunter2 hunter2") {
  auto r = make_account(nick, password, "Alice A.", 1, kFast);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return std::move(r).value();
}

}  // namespace

TEST_CASE("nickname: upper case folds to lower case and valid names pass unchanged") {
  CHECK(*fold_nickname("Alice") == "alice");
  CHECK(*fold_nickname("BOB_99.x-y") == "bob_99.x-y");
  CHECK(*fold_nickname("a") == "a");
  CHECK(*fold_nickname(std::string(32, 'z')) == std::string(32, 'z'));
  CHECK(check_nickname("bob_99.x-y").ok());
}

TEST_CASE("nickname: a space is named with the allowed characters") {
  auto r = fold_nickname("Al ice");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK(r.status().message() == "nickname 'Al ice' has a space: use a-z, 0-9, '_', '.', '-'");
}

TEST_CASE("nickname: empty and too long are refused saying the bounds") {
  auto empty = fold_nickname("");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().message().find("is empty") != std::string::npos);
  auto longer = fold_nickname(std::string(40, 'a'));
  REQUIRE_FALSE(longer.ok());
  CHECK(longer.status().message().find("is 40 characters long: at most 32") != std::string::npos);
  CHECK_FALSE(fold_nickname(std::string(33, 'a')).ok());
}

TEST_CASE("nickname: non-ASCII, invalid UTF-8, control and punctuation characters are named") {
  auto zoe = fold_nickname("zo\xc3\xab");
  REQUIRE_FALSE(zoe.ok());
  CHECK(zoe.status().message() ==
        "nickname 'zo\xc3\xab' has the non-ASCII character '\xc3\xab': use a-z, 0-9, '_', '.', '-'");
  auto bad = fold_nickname("a\xff");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("not UTF-8 (0xff)") != std::string::npos);
  auto ctl = fold_nickname(std::string("a\nb"));
  REQUIRE_FALSE(ctl.ok());
  CHECK(ctl.status().message().find("'a\\x0ab' has a control character") != std::string::npos);
  auto at = fold_nickname("al@ice");
  REQUIRE_FALSE(at.ok());
  CHECK(at.status().message().find("has the character '@'") != std::string::npos);
}

TEST_CASE("nickname: the stored form must already be lower case") {
  const Status st = check_nickname("Alice");
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find("upper-case letter 'A'") != std::string::npos);
}

TEST_CASE("account: a new record verifies and its secret key matches its public key") {
  const NewAccount a = make("Alice");
  CHECK(a.record.nickname == "alice");  // folded
  CHECK(a.record.version == 1);
  CHECK(a.record.limits == kFast);
  CHECK(crypto::public_key_of(a.secret_key) == a.record.public_key);
  CHECK(verify_account(a.record).ok());
}

TEST_CASE("account: the default uses argon2id interactive limits and the password opens the key") {
  auto r = make_account("carol", "a good password", "Carol");
  REQUIRE(r.ok());
  CHECK(r->record.limits == crypto::KdfLimits::interactive());
  auto sk = open_secret(r->record, "a good password");
  REQUIRE(sk.ok());
  CHECK(*sk == r->secret_key);
}

TEST_CASE("account: a wrong password neither opens the secret nor passes the login check") {
  const NewAccount a = make();
  auto wrong = open_secret(a.record, "hunter3");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().code() == Code::kUnauthenticated);
  CHECK(wrong.status().message() == "sealed secret does not open: wrong password?");

  auto good_keys = derive_keys("hunter2 hunter2", kdf_params(a.record));
  auto bad_keys = derive_keys("hunter3", kdf_params(a.record));
  REQUIRE(good_keys.ok());
  REQUIRE(bad_keys.ok());
  CHECK(check_login(a.record, good_keys->auth_key).ok());
  const Status st = check_login(a.record, bad_keys->auth_key);
  CHECK(st.code() == Code::kUnauthenticated);
  CHECK(st.message() == "wrong password for 'alice'");
  auto sk = open_secret(a.record.sealed_secret, a.record.public_key, *good_keys);
  REQUIRE(sk.ok());
  CHECK(*sk == a.secret_key);
}

TEST_CASE("account: a sealed secret holding another account's key is refused") {
  const NewAccount a = make("alice", "pass word");
  NewAccount b = make("bob", "pass word");
  // Same password, but a's sealed key opens to a key that is not b's.
  auto keys = derive_keys("pass word", kdf_params(a.record));
  REQUIRE(keys.ok());
  auto r = open_secret(a.record.sealed_secret, b.record.public_key, *keys);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kUnauthenticated);
}

TEST_CASE("account: bad inputs to make_account are refused with the reason") {
  CHECK(make_account("al ice", "pass word", "", 1, kFast).status().code() == Code::kInvalidArgument);
  CHECK(make_account("alice", "", "", 1, kFast).status().message() == "password is empty: choose one");
  // At least 8 characters, counted as code points, not bytes.
  CHECK(make_account("alice", "seven 7", "", 1, kFast).status().message() ==
        "password has 7 characters: choose one of at least 8");
  CHECK(make_account("alice", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "", 1, kFast)
            .status()
            .code() == Code::kInvalidArgument);  // 14 bytes, 7 characters
  CHECK(make_account("alice", "eight 88", "", 1, kFast).ok());
  CHECK(make_account("alice", std::string(kMaxPasswordBytes + 1, 'p'), "", 1, kFast).status().code() ==
        Code::kInvalidArgument);
  CHECK(make_account("alice", "pass word", std::string(kMaxDisplayNameBytes + 1, 'x'), 1, kFast).status().code() ==
        Code::kInvalidArgument);
  CHECK(make_account("alice", "pass word", "bad \xc3", 1, kFast).status().message().find("not valid UTF-8") !=
        std::string::npos);
  CHECK(make_account("alice", "pass word", "tab\there", 1, kFast).status().message().find("control character") !=
        std::string::npos);
  CHECK(make_account("alice", "pass word", "", 0, kFast).status().code() == Code::kInvalidArgument);
  CHECK(make_account("alice", "pass word", "Zo\xc3\xab \xf0\x9f\x99\x82", 1, kFast).ok());
}

TEST_CASE("account: changing any signed field breaks the signature") {
  const NewAccount a = make();
  auto expect_broken = [](const Account& changed, const char* what) {
    const Status st = verify_account(changed);
    CHECK_MESSAGE(!st.ok(), what);
  };
  Account x = a.record;
  x.nickname = "alicf";
  expect_broken(x, "nickname");
  x = a.record;
  x.public_key[0] ^= 1;
  expect_broken(x, "public_key");
  x = a.record;
  x.salt[0] ^= 1;
  expect_broken(x, "salt");
  x = a.record;
  x.limits.opslimit += 1;
  expect_broken(x, "opslimit");
  x = a.record;
  x.limits.memlimit *= 2;
  expect_broken(x, "memlimit");
  x = a.record;
  x.auth_hash[5] ^= 1;
  expect_broken(x, "auth_hash");
  x = a.record;
  x.sealed_secret[50] ^= 1;
  expect_broken(x, "sealed_secret");
  x = a.record;
  x.display_name = "Mallory";
  expect_broken(x, "display_name");
  x = a.record;
  x.version = 2;
  expect_broken(x, "version");
  x = a.record;
  x.signature[0] ^= 1;
  expect_broken(x, "signature");
  x = a.record;
  x.version = 2;
  const Status st = verify_account(x);
  CHECK(st.code() == Code::kUnauthenticated);
  CHECK(st.message().find("does not verify") != std::string::npos);
}

TEST_CASE("account: the binary codec round-trips and rejects every truncation and trailing bytes") {
  const NewAccount a = make();
  const std::string bytes = encode_account(a.record);
  auto back = decode_account(bytes);
  REQUIRE(back.ok());
  CHECK(*back == a.record);
  CHECK(verify_account(*back).ok());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_account(bytes.substr(0, n));
    CHECK_MESSAGE(!r.ok(), "truncated to " << n << " bytes");
    if (!r.ok()) CHECK(r.status().code() == Code::kInvalidArgument);
  }
  auto trailing = decode_account(bytes + "x");
  REQUIRE_FALSE(trailing.ok());
  CHECK(trailing.status().message().find("trailing bytes") != std::string::npos);
  std::string other_format = bytes;
  other_format[0] = 2;
  CHECK(decode_account(other_format).status().message().find("unknown format") != std::string::npos);
}

TEST_CASE("account: the public view has no auth_hash or sealed_secret and verifies on its own") {
  const NewAccount a = make();
  const AccountView v = public_view(a.record);
  const std::string auth_hash_b64 = crypto::to_base64(a.record.auth_hash);
  const std::string sealed_b64 = crypto::to_base64(a.record.sealed_secret);
  for (const std::string* field : {&v.nickname, &v.public_key, &v.display_name, &v.salt, &v.secret_digest,
                                   &v.signature}) {
    CHECK(field->find(auth_hash_b64) == std::string::npos);
    CHECK(field->find(sealed_b64) == std::string::npos);
  }
  CHECK(v.secret_digest != auth_hash_b64);
  auto p = verify_view(v);
  REQUIRE_MESSAGE(p.ok(), p.status().to_string());
  CHECK(p->nickname == "alice");
  CHECK(p->public_key == a.record.public_key);
  CHECK(p->display_name == "Alice A.");
  CHECK(p->version == 1);
  CHECK(p->kdf.salt == a.record.salt);
  CHECK(p->kdf.limits == a.record.limits);

  AccountView forged = v;
  forged.display_name = "Not Alice";
  CHECK(verify_view(forged).status().code() == Code::kUnauthenticated);
  forged = v;
  forged.public_key = crypto::to_base64(make("mallory").record.public_key);
  CHECK(verify_view(forged).status().code() == Code::kUnauthenticated);
  forged = v;
  forged.salt = "not base64";
  CHECK(verify_view(forged).status().code() == Code::kInvalidArgument);
}

TEST_CASE("account: an update must be signed by the current key, keep the key, and raise the version") {
  const NewAccount a = make();
  auto renamed = change_display_name(a.record, a.secret_key, "Alice B.");
  REQUIRE(renamed.ok());
  CHECK(renamed->version == 2);
  CHECK(check_update(a.record, *renamed).ok());

  // Same version, or lower: refused, naming both.
  Account same = *renamed;
  same.version = 1;
  sign_account(same, a.secret_key);
  const Status st = check_update(a.record, same);
  CHECK(st.code() == Code::kForbidden);
  CHECK(st.message().find("version 1, not above the stored version 1") != std::string::npos);
  CHECK(check_update(*renamed, a.record).code() == Code::kForbidden);

  // Signed by another key: the record then names that key, which may not change.
  const NewAccount m = make("mallory");
  Account hijack = *renamed;
  hijack.public_key = m.record.public_key;
  sign_account(hijack, m.secret_key);
  REQUIRE(verify_account(hijack).ok());
  const Status key = check_update(a.record, hijack);
  CHECK(key.code() == Code::kForbidden);
  CHECK(key.message().find("public key") != std::string::npos);

  // Signed by another key while claiming the current one: the signature fails.
  Account forged = *renamed;
  sign_account(forged, m.secret_key);
  CHECK(check_update(a.record, forged).code() == Code::kUnauthenticated);

  // Renaming is not an update.
  Account moved = *renamed;
  moved.nickname = "alice2";
  sign_account(moved, a.secret_key);
  CHECK(check_update(a.record, moved).code() == Code::kForbidden);

  // The helpers refuse a key that is not the record's.
  CHECK(change_display_name(a.record, m.secret_key, "x").status().code() == Code::kInvalidArgument);
}

TEST_CASE("account: a password change re-seals the same key under a new salt") {
  const NewAccount a = make("alice", "old password");
  auto changed = change_password(a.record, a.secret_key, "new password", kFast);
  REQUIRE(changed.ok());
  CHECK(check_update(a.record, *changed).ok());
  CHECK(changed->version == 2);
  CHECK(changed->salt != a.record.salt);
  CHECK(changed->auth_hash != a.record.auth_hash);
  CHECK(changed->public_key == a.record.public_key);
  auto sk = open_secret(*changed, "new password");
  REQUIRE(sk.ok());
  CHECK(*sk == a.secret_key);
  CHECK(open_secret(*changed, "old password").status().code() == Code::kUnauthenticated);
}
