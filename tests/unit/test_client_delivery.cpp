// The client's delivery bookkeeping on a real LMDB store: the outbox keeps
// entries oldest first and drops them one by one, envelopes set aside keep
// their reason, the seen mark tells "pending" from "handed out", and the
// retry policy's pauses grow and stay bounded.
#include <doctest/doctest.h>

#include <string>

#include "client/api_client.hpp"
#include "client/local_store.hpp"
#include "net/json_codec.hpp"
#include "support/test_support.hpp"

using dws::client::ApiClient;
using dws::client::LocalStore;

namespace {

std::unique_ptr<LocalStore> open_store(const dws::test::TempDir& dir) {
  auto s = LocalStore::open(dir.sub("client"));
  REQUIRE_MESSAGE(s.ok(), s.status().to_string());
  return std::move(s).value();
}

}  // namespace

TEST_CASE("local store: the outbox lists entries oldest first and forgets the ones removed, across a reopen") {
  dws::test::TempDir dir("dws-outbox");
  {
    auto store = open_store(dir);
    dws::core::WriteBatch b;
    LocalStore::put_outbox(b, {"00000000000000000000000000000002", "bob", "{\"second\":1}"});
    LocalStore::put_outbox(b, {"00000000000000000000000000000001", "carol", "{\"first\":1}"});
    REQUIRE(store->raw().apply(b).ok());
  }
  auto store = open_store(dir);
  auto listed = store->outbox();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0].id == "00000000000000000000000000000001");
  CHECK((*listed)[0].peer == "carol");
  CHECK((*listed)[0].body == "{\"first\":1}");
  CHECK((*listed)[1].peer == "bob");
  dws::core::WriteBatch b;
  LocalStore::remove_outbox(b, "00000000000000000000000000000001");
  REQUIRE(store->raw().apply(b).ok());
  listed = store->outbox();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().id == "00000000000000000000000000000002");
}

TEST_CASE("local store: a rejected envelope keeps its sender, reason and time; a corrupt row is named") {
  dws::test::TempDir dir("dws-rejected");
  auto store = open_store(dir);
  dws::core::WriteBatch b;
  LocalStore::put_rejected(b, {"0000000000000000000000000000000a", "mallory", "does not verify or open: bad", 1234});
  REQUIRE(store->raw().apply(b).ok());
  auto listed = store->rejected();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().id == "0000000000000000000000000000000a");
  CHECK(listed->front().from == "mallory");
  CHECK(listed->front().reason == "does not verify or open: bad");
  CHECK(listed->front().at_ms == 1234);

  dws::core::WriteBatch bad;
  bad.put("x/0000000000000000000000000000000b", "\x07junk");
  REQUIRE(store->raw().apply(bad).ok());
  auto broken = store->rejected();
  REQUIRE(!broken.ok());
  CHECK(broken.status().message().find("0000000000000000000000000000000b") != std::string::npos);
}

TEST_CASE("local store: the seen mark tells never seen, pending and handed out apart") {
  dws::test::TempDir dir("dws-seen");
  auto store = open_store(dir);
  const std::string id = "000000000000000000000000000000ff";
  auto mark = store->seen_mark(id);
  REQUIRE(mark.ok());
  CHECK(!mark->has_value());
  dws::core::WriteBatch b;
  LocalStore::put_pending(b, id);
  REQUIRE(store->raw().apply(b).ok());
  mark = store->seen_mark(id);
  REQUIRE(mark.ok());
  REQUIRE(mark->has_value());
  CHECK(!**mark);
  b.clear();
  LocalStore::put_seen(b, id);
  REQUIRE(store->raw().apply(b).ok());
  mark = store->seen_mark(id);
  REQUIRE(mark.ok());
  REQUIRE(mark->has_value());
  CHECK(**mark);
}

TEST_CASE("retry policy: no pause before the first round, then doubling from 50 ms up to 1 s") {
  CHECK(ApiClient::backoff_ms(0) == 0);
  CHECK(ApiClient::backoff_ms(1) == 50);
  CHECK(ApiClient::backoff_ms(2) == 100);
  CHECK(ApiClient::backoff_ms(3) == 200);
  CHECK(ApiClient::backoff_ms(5) == 800);
  CHECK(ApiClient::backoff_ms(6) == 1000);
  CHECK(ApiClient::backoff_ms(60) == 1000);
}

TEST_CASE("codec: a write-through put names the unreachable primary; a replica copy cannot") {
  dws::core::Record rec;
  rec.key = 0x42;
  rec.sub = "m/1";
  rec.version = 1;
  rec.expires_at = 1'900'000'000'000LL;
  rec.payload = "x";
  dws::core::StorePutReq put{rec, false};
  put.takeover = 0x0123456789abcdefULL;
  const dws::net::WireRequest wire = dws::net::encode_request(put);
  CHECK(wire.body.find("\"takeover\":\"0123456789abcdef\"") != std::string::npos);
  auto back = dws::net::decode_request(wire);
  REQUIRE_MESSAGE(back.ok(), back.status().to_string());
  const auto& got = std::get<dws::core::StorePutReq>(*back);
  REQUIRE(got.takeover.has_value());
  CHECK(*got.takeover == 0x0123456789abcdefULL);

  dws::core::StorePutReq plain{rec, false};
  auto none = dws::net::decode_request(dws::net::encode_request(plain));
  REQUIRE(none.ok());
  CHECK(!std::get<dws::core::StorePutReq>(*none).takeover.has_value());

  dws::core::StorePutReq replica{rec, true};
  dws::net::WireRequest bad = dws::net::encode_request(replica);
  bad.body.insert(bad.body.size() - 1, ",\"takeover\":\"0123456789abcdef\"");
  auto refused = dws::net::decode_request(bad);
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("takeover") != std::string::npos);
}
