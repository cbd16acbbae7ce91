// PeerKeys alone, on a real LocalStore, with a fake in place of the ring's
// user records: what gets pinned, when the ring is asked again, and that a
// changed key is reported and never followed.
#include <doctest/doctest.h>

#include <map>
#include <mutex>
#include <string>

#include "client/local_store.hpp"
#include "client/peer_keys.hpp"
#include "core/account.hpp"
#include "crypto/keys.hpp"
#include "support/fake_core.hpp"
#include "support/test_support.hpp"

namespace dws::client {
namespace {

// The ring's user records as the fetch sees them; a nickname without one
// is not found, and `down` makes every fetch unavailable.
struct FakeUsers {
  std::map<std::string, crypto::PublicKey> keys;
  bool down = false;
  int fetches = 0;
  PeerKeys::Fetch fetch() {
    return [this](const std::string& nick) -> Result<core::PublicAccount> {
      ++fetches;
      if (down) return Status::Unavailable("no server reachable");
      auto it = keys.find(nick);
      if (it == keys.end()) return Status::NotFound("no user '" + nick + "'");
      core::PublicAccount a;
      a.nickname = nick;
      a.public_key = it->second;
      a.display_name = "Name of " + nick;
      return a;
    };
  }
};

struct Fixture {
  test::TempDir dir{"dws-peer-keys"};
  std::unique_ptr<LocalStore> store = LocalStore::open(dir.path()).value();
  std::mutex mu;
  test::FakeClock clock;
  FakeUsers users;
  PeerKeys keys{*store, mu, clock, users.fetch()};
};

crypto::PublicKey fresh_key() { return crypto::generate_keypair().public_key; }

}  // namespace

TEST_CASE("peer keys: the first key seen is pinned and makes the peer a contact") {
  Fixture f;
  const auto k = fresh_key();
  f.users.keys["bob"] = k;
  auto got = f.keys.key("bob", true);
  REQUIRE(got.ok());
  CHECK(*got == k);
  auto pin = f.store->pin("bob");
  REQUIRE(pin.ok());
  REQUIRE(pin->has_value());
  CHECK((*pin)->key == k);
  CHECK((*pin)->display_name == "Name of bob");
  CHECK_FALSE((*pin)->key_changed);
  auto alias = f.store->contact_alias("bob");
  REQUIRE(alias.ok());
  CHECK(alias->has_value());
}

TEST_CASE("peer keys: the ring is asked again only after kRecheckKeyMs, and without recheck not at all") {
  Fixture f;
  f.users.keys["bob"] = fresh_key();
  REQUIRE(f.keys.key("bob", true).ok());
  CHECK(f.users.fetches == 1);
  f.clock.now += PeerKeys::kRecheckKeyMs - 1;
  REQUIRE(f.keys.key("bob", true).ok());
  REQUIRE(f.keys.key("bob", false).ok());
  CHECK(f.users.fetches == 1);
  f.clock.now += 1;
  REQUIRE(f.keys.key("bob", true).ok());
  CHECK(f.users.fetches == 2);
  f.clock.now += 10 * PeerKeys::kRecheckKeyMs;
  REQUIRE(f.keys.key("bob", false).ok());
  CHECK(f.users.fetches == 2);
}

TEST_CASE("peer keys: a changed key is reported, marked, and the pinned one kept") {
  Fixture f;
  const auto old_key = fresh_key();
  f.users.keys["bob"] = old_key;
  REQUIRE(f.keys.key("bob", true).ok());
  f.users.keys["bob"] = fresh_key();
  f.clock.now += PeerKeys::kRecheckKeyMs;
  auto got = f.keys.key("bob", true);
  CHECK(got.status().code() == Code::kForbidden);
  CHECK(got.status().message().find("the key of 'bob' changed") != std::string::npos);
  auto pin = f.store->pin("bob");
  REQUIRE(pin.ok());
  CHECK((*pin)->key == old_key);
  CHECK((*pin)->key_changed);
  // Refused at once from now on when checking; verification still gets the pin.
  const int before = f.users.fetches;
  CHECK(f.keys.key("bob", true).status().code() == Code::kForbidden);
  CHECK(f.users.fetches == before);
  auto verify = f.keys.key("bob", false);
  REQUIRE(verify.ok());
  CHECK(*verify == old_key);
}

TEST_CASE("peer keys: with the ring out of reach the pin answers; without a pin the error does") {
  Fixture f;
  const auto k = fresh_key();
  f.users.keys["bob"] = k;
  REQUIRE(f.keys.key("bob", true).ok());
  f.users.down = true;
  f.clock.now += PeerKeys::kRecheckKeyMs;
  auto got = f.keys.key("bob", true);
  REQUIRE(got.ok());
  CHECK(*got == k);
  CHECK(f.keys.key("carol", true).status().code() == Code::kUnavailable);
  f.users.down = false;
  CHECK(f.keys.key("carol", true).status().code() == Code::kNotFound);
  CHECK_FALSE(f.store->pin("carol").value().has_value());  // nothing pinned
}

TEST_CASE("peer keys: add_contact reports a changed key once, then accepts it with the alias") {
  Fixture f;
  f.users.keys["bob"] = fresh_key();
  REQUIRE(f.keys.add_contact("bob", "Bobby").ok());
  auto alias = f.store->contact_alias("bob");
  REQUIRE(alias.ok());
  CHECK(**alias == "Bobby");
  const auto new_key = fresh_key();
  f.users.keys["bob"] = new_key;
  CHECK(f.keys.add_contact("bob", "Bobby").code() == Code::kForbidden);
  CHECK(f.store->pin("bob").value()->key_changed);
  REQUIRE(f.keys.add_contact("bob", "Bob 2").ok());
  auto pin = f.store->pin("bob");
  CHECK((*pin)->key == new_key);
  CHECK_FALSE((*pin)->key_changed);
  CHECK(**f.store->contact_alias("bob") == "Bob 2");
  // Accepted means checked now: no second fetch within kRecheckKeyMs.
  const int before = f.users.fetches;
  auto got = f.keys.key("bob", true);
  REQUIRE(got.ok());
  CHECK(*got == new_key);
  CHECK(f.users.fetches == before);
}

}  // namespace dws::client
