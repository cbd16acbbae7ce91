// dws::Client behaviour that needs no ring: the data-directory lock, one
// account per directory, alias resolution, message checks before sending,
// the receipt body and safety numbers.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>

#include "client/client_json.hpp"
#include "client/local_store.hpp"
#include "core/account.hpp"
#include "crypto/encoding.hpp"
#include "dwhatsapp/client.hpp"
#include "support/test_support.hpp"

namespace {

using dws::Client;
using dws::ClientOptions;
using dws::Code;

ClientOptions options(const std::string& dir) {
  ClientOptions o;
  o.data_dir = dir;
  o.servers = {"127.0.0.1:1"};  // never reached by these tests
  o.discovery_port = 0;
  o.kdf_opslimit = 1;
  o.kdf_memlimit = 8192;
  return o;
}

// A data directory holding `nick`'s unlocked account, as a login leaves it.
void seed_account(const std::string& dir, const std::string& nick,
                  const std::vector<std::pair<std::string, std::string>>& contacts = {}) {
  auto made = dws::core::make_account(nick, "a password 42", "", 1, dws::crypto::KdfLimits::minimum());
  REQUIRE(made.ok());
  auto store = dws::client::LocalStore::open(dir);
  REQUIRE(store.ok());
  REQUIRE((*store)->save_account(made->record).ok());
  REQUIRE((*store)->save_secret(made->secret_key).ok());
  for (const auto& [n, alias] : contacts) REQUIRE((*store)->put_contact(n, alias).ok());
}

}  // namespace

TEST_CASE("client: a second Client on one data directory is refused until the first closes") {
  dws::test::TempDir dir("dws-client-lock");
  auto first = Client::open(options(dir.path()));
  REQUIRE(first.ok());
  auto second = Client::open(options(dir.path()));
  REQUIRE(!second.ok());
  CHECK(second.status().code() == Code::kUnavailable);
  CHECK(second.status().message().find("in use") != std::string::npos);
  first->reset();
  CHECK(Client::open(options(dir.path())).ok());
}

TEST_CASE("client: a data directory is created with its missing parents, private") {
  dws::test::TempDir dir("dws-client-mkdir");
  const std::string deep = dir.sub("a/b/data");
  auto c = Client::open(options(deep));
  REQUIRE_MESSAGE(c.ok(), c.status().to_string());
  CHECK((std::filesystem::status(deep).permissions() & std::filesystem::perms::all) ==
        std::filesystem::perms::owner_all);
  CHECK(std::filesystem::exists(deep + "/LOCK"));
}

TEST_CASE("client: logging in or registering another account on a data directory is refused") {
  dws::test::TempDir dir("dws-client-account");
  seed_account(dir.path(), "alice");
  auto c = Client::open(options(dir.path()));
  REQUIRE(c.ok());
  REQUIRE((*c)->whoami() == std::optional<std::string>("alice"));
  dws::Status login = (*c)->login("Bob", "whatever");
  CHECK(login.code() == Code::kExists);
  CHECK(login.message().find("holds the account 'alice'") != std::string::npos);
  CHECK((*c)->register_account("bob", "whatever 42").code() == Code::kExists);
  CHECK((*c)->whoami() == std::optional<std::string>("alice"));
}

TEST_CASE("client: an alias stands for its contact's nickname, a contact's nickname for itself") {
  dws::test::TempDir dir("dws-client-alias");
  seed_account(dir.path(), "alice", {{"bob", "Bobby B"}, {"robert", "bob"}});
  auto c = Client::open(options(dir.path()));
  REQUIRE(c.ok());
  auto resolved = [&](const std::string& name) {
    auto r = (*c)->resolve(name);
    return r.ok() ? *r : "error: " + r.status().message();
  };
  CHECK(resolved("bobby b") == "bob");
  CHECK(resolved("BOB") == "bob");  // a contact's nickname wins over an alias
  CHECK(resolved("Carol") == "carol");
  auto bad = (*c)->resolve("no such alias");
  REQUIRE(!bad.ok());
  CHECK(bad.status().code() == Code::kInvalidArgument);
  CHECK(bad.status().message().find("alias") != std::string::npos);
  // No chat yet: nothing to mark, and that is fine.
  CHECK((*c)->mark_read("Bobby B").ok());
}

TEST_CASE("client: blank and oversized messages are refused before anything is sent") {
  dws::test::TempDir dir("dws-client-send");
  seed_account(dir.path(), "alice");
  auto c = Client::open(options(dir.path()));
  REQUIRE(c.ok());
  auto blank = (*c)->send("bob", " \t\n ");
  REQUIRE(!blank.ok());
  CHECK(blank.status().code() == Code::kInvalidArgument);
  CHECK(blank.status().message().find("blank") != std::string::npos);
  std::string big;
  for (std::size_t i = 0; i < Client::max_text_bytes() / 2 + 1; ++i) big += "\xc3\xa9";  // U+00E9, 2 bytes
  auto large = (*c)->send("bob", big);
  REQUIRE(!large.ok());
  CHECK(large.status().code() == Code::kPayloadTooLarge);
  CHECK(large.status().message().find(std::to_string(big.size() / 2) + " characters") != std::string::npos);
}

TEST_CASE("client: read receipts are off when the saved setting or the options say so") {
  dws::test::TempDir dir("dws-client-setting");
  seed_account(dir.path(), "alice");
  {
    auto c = Client::open(options(dir.path()));
    REQUIRE(c.ok());
    CHECK((*c)->read_receipts());
    REQUIRE((*c)->set_read_receipts(false).ok());
    CHECK(!(*c)->read_receipts());
  }
  auto c = Client::open(options(dir.path()));
  REQUIRE(c.ok());
  CHECK(!(*c)->read_receipts());
  REQUIRE((*c)->set_read_receipts(true).ok());
  CHECK((*c)->read_receipts());
  c->reset();
  ClientOptions off = options(dir.path());
  off.read_receipts = false;
  auto d = Client::open(off);
  REQUIRE(d.ok());
  CHECK(!(*d)->read_receipts());
}

TEST_CASE("client: a receipt body says read only when it says so, and older bodies are delivery receipts") {
  dws::client::Receipt r{{"0123456789abcdef0123456789abcdef"}, true};
  auto back = dws::client::parse_receipt(dws::client::receipt_json(r));
  REQUIRE(back.ok());
  CHECK(back->read);
  CHECK(back->ids == r.ids);
  auto old = dws::client::parse_receipt(dws::client::ids_json(r.ids));
  REQUIRE(old.ok());
  CHECK(!old->read);
  CHECK(!dws::client::parse_receipt(R"({"read":true})").ok());
}

TEST_CASE("client: a safety number is twenty digits in groups of five, one per key") {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    auto made = dws::core::make_account("user" + std::to_string(i), "a password 42", "", 1,
                                        dws::crypto::KdfLimits::minimum());
    REQUIRE(made.ok());
    const std::string key = dws::crypto::to_base64(made->record.public_key);
    const std::string n = dws::safety_number_of(key);
    REQUIRE(n.size() == 23);
    for (std::size_t j = 0; j < n.size(); ++j) CHECK((j % 6 == 5 ? n[j] == ' ' : (n[j] >= '0' && n[j] <= '9')));
    CHECK(dws::safety_number_of(key) == n);
    seen.insert(n);
  }
  CHECK(seen.size() == 20);
  CHECK(dws::safety_number_of("not base64!").empty());
}
