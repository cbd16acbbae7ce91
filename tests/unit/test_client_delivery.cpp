// The client's delivery bookkeeping on a real LMDB store: the outbox keeps
// entries oldest first and drops them one by one, envelopes set aside keep
// their reason, the seen mark tells "pending" from "handed out", and the
// retry policy's pauses grow and stay bounded; texts wait for their
// sender's previous one (HoldBack) for a bounded time.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "client/api_client.hpp"
#include "client/client_json.hpp"
#include "client/hold_back.hpp"
#include "client/local_store.hpp"
#include "net/json_codec.hpp"
#include "support/test_support.hpp"

using dws::client::ApiClient;
using dws::client::Arrival;
using dws::client::HoldBack;
using dws::client::LocalStore;
using dws::client::Verdict;
using dws::core::MessageId;

namespace {

// An id at unix ms `ms`, told apart from others of that ms by `n`.
MessageId id_at(std::int64_t ms, std::uint8_t n) {
  MessageId id;
  for (std::size_t i = 0; i < 6; ++i) id.bytes[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
  id.bytes[15] = n;
  return id;
}

// "D:<n>" / "R:<n>" / "H:<n>" per decision, n the batch index, in order.
std::string verdicts(const std::vector<dws::client::Decision>& ds) {
  std::string out;
  for (const auto& d : ds) {
    if (!out.empty()) out += ' ';
    out += d.verdict == Verdict::kDeliver ? 'D' : d.verdict == Verdict::kRelease ? 'R' : 'H';
    out += ':' + std::to_string(d.index);
  }
  return out;
}

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

TEST_CASE("hold back: a text whose predecessor has not arrived waits, then both go out in order") {
  constexpr std::int64_t kNow = 1'000'000;
  HoldBack hb(15'000);
  std::set<MessageId> seen;
  auto delivered = [&](const MessageId& id) { return seen.count(id) != 0; };
  const MessageId m1 = id_at(kNow - 100, 1), m2 = id_at(kNow - 50, 2), m3 = id_at(kNow - 10, 3);
  // The primary lists m2 and m3 before anti-entropy brings it m1.
  auto first = hb.decide({{m3, m2}, {m2, m1}}, delivered, kNow);
  CHECK(verdicts(first) == "H:1 H:0");
  CHECK(hb.holding() == 2);
  CHECK(hb.held_total() == 2);
  REQUIRE(hb.next_release().has_value());
  CHECK(*hb.next_release() == kNow - 50 + 15'000);  // the id's time plus the hold
  // Held again on the next listing: counted once.
  CHECK(verdicts(hb.decide({{m2, m1}, {m3, m2}}, delivered, kNow + 1000)) == "H:0 H:1");
  CHECK(hb.held_total() == 2);
  // m1 arrives: the chain goes out oldest first, none released.
  auto then = hb.decide({{m3, m2}, {m1, std::nullopt}, {m2, m1}}, delivered, kNow + 2000);
  CHECK(verdicts(then) == "D:1 D:2 D:0");
  CHECK(hb.holding() == 0);
  CHECK(hb.released_total() == 0);
  CHECK(!hb.next_release().has_value());
}

TEST_CASE("hold back: a predecessor handed out earlier, or none named, lets a text through at once") {
  HoldBack hb(15'000);
  const MessageId m1 = id_at(5000, 1), m2 = id_at(6000, 2), old_text = id_at(6500, 9);
  std::set<MessageId> seen{m1};
  auto d = hb.decide({{old_text, std::nullopt}, {m2, m1}}, [&](const MessageId& id) { return seen.count(id) != 0; },
                     6100);
  CHECK(verdicts(d) == "D:1 D:0");
  CHECK(hb.held_total() == 0);
}

TEST_CASE("hold back: a chain whose ids run backwards (another device's clock) still goes out in chain order") {
  HoldBack hb(15'000);
  // The sender's laptop sent a at 9000; its phone, clock behind, sent b
  // naming a, with an id that sorts first.
  const MessageId a = id_at(9000, 1), b = id_at(8000, 2);
  auto d = hb.decide({{b, a}, {a, std::nullopt}}, [](const MessageId&) { return false; }, 9100);
  CHECK(verdicts(d) == "D:1 D:0");
}

TEST_CASE("hold back: a hold ends hold_ms after first sight or after the id's time; the release is counted") {
  constexpr std::int64_t kHold = 15'000;
  HoldBack hb(kHold);
  auto never = [](const MessageId&) { return false; };
  const MessageId lost = id_at(100'000, 1), m2 = id_at(100'010, 2), m3 = id_at(100'020, 3);
  CHECK(verdicts(hb.decide({{m2, lost}, {m3, m2}}, never, 100'020)) == "H:0 H:1");
  CHECK(verdicts(hb.decide({{m2, lost}, {m3, m2}}, never, 100'010 + kHold - 1)) == "H:0 H:1");
  // m2's hold ends; m3 follows it as in order, not released.
  CHECK(verdicts(hb.decide({{m2, lost}, {m3, m2}}, never, 100'010 + kHold)) == "R:0 D:1");
  CHECK(hb.released_total() == 1);
  CHECK(hb.held_total() == 2);
  CHECK(hb.holding() == 0);

  // First seen long after it was sent (a device offline for a while): the
  // lag being waited out is over, no hold.
  const MessageId late = id_at(200'000, 4);
  CHECK(verdicts(hb.decide({{late, id_at(199'000, 5)}}, never, 200'000 + kHold)) == "R:0");
  CHECK(hb.released_total() == 2);
  CHECK(hb.held_total() == 2);

  // A sender clock far ahead: its id's time says nothing, no hold either.
  const MessageId ahead = id_at(900'000, 6);
  CHECK(verdicts(hb.decide({{ahead, id_at(899'000, 7)}}, never, 900'000 - kHold)) == "R:0");
  // A little ahead: held, at most hold_ms from first sight.
  const MessageId skewed = id_at(300'500, 8);
  CHECK(verdicts(hb.decide({{skewed, id_at(300'400, 9)}}, never, 300'000)) == "H:0");
  CHECK(*hb.next_release() == 300'000 + kHold);
  CHECK(verdicts(hb.decide({{skewed, id_at(300'400, 9)}}, never, 300'000 + kHold)) == "R:0");
}

TEST_CASE("hold back: a held text that leaves the mailbox otherwise is forgotten once its hold is well over") {
  HoldBack hb(1000);
  const MessageId m = id_at(10'000, 1);
  CHECK(verdicts(hb.decide({{m, id_at(9'000, 2)}}, [](const MessageId&) { return false; }, 10'000)) == "H:0");
  CHECK(hb.holding() == 1);
  (void)hb.decide({}, [](const MessageId&) { return false; }, 11'500);
  CHECK(hb.holding() == 1);
  (void)hb.decide({}, [](const MessageId&) { return false; }, 12'000);
  CHECK(hb.holding() == 0);
}

TEST_CASE("codec: a text2 content keeps its predecessor and text; anything malformed is refused") {
  using dws::client::ChainedText;
  const MessageId prev = id_at(77, 7);
  for (const ChainedText& t : {ChainedText{prev, std::string("a\0b\xff\n", 5)}, ChainedText{std::nullopt, ""}}) {
    const std::string bytes = dws::client::encode_chained_text(t);
    CHECK(bytes.size() <= t.text.size() + dws::client::kChainedTextOverhead);
    auto back = dws::client::decode_chained_text(bytes);
    REQUIRE_MESSAGE(back.ok(), back.status().to_string());
    CHECK(back->prev == t.prev);
    CHECK(back->text == t.text);
  }
  const std::string good = dws::client::encode_chained_text({prev, "x"});
  CHECK(!dws::client::decode_chained_text("").ok());
  CHECK(!dws::client::decode_chained_text(std::string("\x02\x00hi", 4)).ok());  // unknown format
  CHECK(!dws::client::decode_chained_text(std::string("\x01\x02hi", 4)).ok());  // flag neither 0 nor 1
  auto cut = dws::client::decode_chained_text(good.substr(0, 10));                // id cut short
  REQUIRE(!cut.ok());
  CHECK_MESSAGE(cut.status().message().find("prev") != std::string::npos, cut.status().message());
}

TEST_CASE("local store: the last id sent to a peer survives a reopen and is per peer") {
  dws::test::TempDir dir("dws-last-sent");
  const std::string id = "0000000000000000000000000000abcd";
  {
    auto store = open_store(dir);
    auto none = store->last_sent("bob");
    REQUIRE(none.ok());
    CHECK(!none->has_value());
    dws::core::WriteBatch b;
    LocalStore::put_last_sent(b, "bob", id);
    REQUIRE(store->raw().apply(b).ok());
  }
  auto store = open_store(dir);
  auto got = store->last_sent("bob");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK(**got == id);
  auto other = store->last_sent("carol");
  REQUIRE(other.ok());
  CHECK(!other->has_value());
}
