// Replicated storage over real HTTP and LMDB: several dws::Node in one
// process on loopback ports, each with its own data directory. Records are
// written through entry nodes, survive a graceful leave and a join, and every
// key ends on exactly its n nodes; malformed or misdirected storage requests
// are refused and change nothing.
#include <doctest/doctest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/id.hpp"
#include "core/record.hpp"
#include "core/ring.hpp"
#include "dwhatsapp/node.hpp"
#include "net/http_transport.hpp"
#include "net/json_codec.hpp"
#include "support/peer_support.hpp"
#include "support/signed_records.hpp"
#include "support/test_support.hpp"

using namespace std::chrono_literals;
using dws::Id;
using dws::Node;
using dws::NodeOptions;
using dws::RecordCounts;
using dws::core::Record;
using dws::test::TempDir;
using dws::test::wait_for;

namespace {

constexpr int kReplicas = 3;
constexpr auto kConverge = 60s;
constexpr dws::core::Deadline kCallDeadline{10'000};
// The placement checks ask every node over HTTP: poll less often than the
// default.
constexpr auto kPoll = 50ms;

NodeOptions test_options(const std::string& data_dir) {
  NodeOptions o;
  o.listen = "127.0.0.1:0";
  o.data_dir = data_dir;
  o.stabilize_ms = 200;
  o.sync_ms = 500;
  o.discovery_port = 0;
  o.http_threads = 8;
  o.ring_secret_file = dws::test::ring_secret_file();
  o.log_level = std::getenv("DWS_TEST_LOG") ? std::getenv("DWS_TEST_LOG") : "warn";
  return o;
}

std::unique_ptr<Node> must(dws::Result<std::unique_ptr<Node>> r) {
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return std::move(r).value();
}

std::string hex(Id id) { return dws::core::to_hex(id); }

std::vector<Node*> sorted_by_id(std::vector<Node*> nodes) {
  std::sort(nodes.begin(), nodes.end(), [](Node* a, Node* b) { return a->id() < b->id(); });
  return nodes;
}

// Empty when the nodes form one correct ring (successor lists and
// predecessors as the id order says); otherwise what is wrong.
std::string ring_problem(const std::vector<Node*>& nodes) {
  const auto ring = sorted_by_id(nodes);
  const std::size_t n = ring.size();
  for (std::size_t i = 0; i < n; ++i) {
    const dws::RingView v = ring[i]->view();
    const std::size_t want = std::min<std::size_t>(static_cast<std::size_t>(ring[i]->info().successor_list), n - 1);
    if (v.successors.size() < want) return ring[i]->address() + " has too few successors";
    for (std::size_t k = 0; k < want; ++k)
      if (v.successors[k].id != ring[(i + 1 + k) % n]->id())
        return ring[i]->address() + " successor " + std::to_string(k) + " is " + v.successors[k].address +
               ", expected " + ring[(i + 1 + k) % n]->address();
    if (!v.predecessor || v.predecessor->id != ring[(i + n - 1) % n]->id())
      return ring[i]->address() + " has the wrong predecessor";
  }
  return "";
}

void require_ring(const std::vector<Node*>& nodes) {
  std::string problem;
  const bool ok = wait_for([&] { return (problem = ring_problem(nodes)).empty(); }, kConverge, kPoll);
  REQUIRE_MESSAGE(ok, "no correct ring of ", nodes.size(), " nodes within the limit; last problem: ", problem);
}

// Where each key must live: its successor (the primary) and the next n-1
// nodes in id order, as indices into the id-sorted node list.
struct Placement {
  std::vector<Node*> ring;  // sorted by id

  std::size_t primary_of(Id key) const {
    for (std::size_t i = 0; i < ring.size(); ++i)
      if (ring[i]->id() >= key) return i;
    return 0;
  }
  std::vector<std::size_t> holders_of(Id key) const {
    std::vector<std::size_t> out;
    const std::size_t p = primary_of(key);
    const std::size_t n = std::min<std::size_t>(kReplicas, ring.size());
    for (std::size_t k = 0; k < n; ++k) out.push_back((p + k) % ring.size());
    return out;
  }
  // What every node should report once placement is exact.
  std::vector<RecordCounts> expected_counts(const std::vector<Record>& records) const {
    std::vector<RecordCounts> out(ring.size());
    for (const auto& r : records) {
      const auto h = holders_of(r.key);
      ++out[h[0]].primary;
      for (std::size_t k = 1; k < h.size(); ++k) ++out[h[k]].replica;
    }
    return out;
  }
};

// Empty when every node holds exactly its share; otherwise the differences.
std::string count_problem(const Placement& placement, const std::vector<Record>& records) {
  const auto want = placement.expected_counts(records);
  std::ostringstream out;
  for (std::size_t i = 0; i < placement.ring.size(); ++i) {
    const RecordCounts got = placement.ring[i]->record_counts();
    if (!(got == want[i]))
      out << placement.ring[i]->address() << " holds " << got.primary << " primary + " << got.replica
          << " replica, expected " << want[i].primary << " + " << want[i].replica << "; ";
  }
  return out.str();
}

// Nodes store only records that verify: signed user records of one key pair.
const dws::test::SignedUsers& signed_users() {
  static const dws::test::SignedUsers users;
  return users;
}

// A valid record whose key lies in (lo, hi].
Record make_record_in(Id lo, Id hi, int i) {
  return signed_users().record(signed_users().nick_in(lo, hi, "r" + std::to_string(i) + "-"));
}

std::vector<Record> make_records(int count, std::uint64_t seed) {
  std::vector<Record> records;
  const std::string prefix = "s" + dws::core::to_hex(seed).substr(12) + "-";
  for (int i = 0; i < count; ++i) records.push_back(signed_users().record(prefix + std::to_string(i)));
  return records;
}

// A client's write through any node (forward = true): that node finds the
// primary. kUnavailable is retried for a while, as clients are told to.
dws::Status put_through(dws::net::HttpTransport& transport, const std::string& entry, const Record& record,
                        std::atomic<int>& retries) {
  dws::Status last;
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  for (bool first = true;; first = false) {
    // Client back-off before a retry, not synchronization.
    if (!first) std::this_thread::sleep_for(50ms);
    auto r = transport.call(entry, dws::core::StorePutReq{record, false, true}, kCallDeadline);
    if (r.ok()) {
      const auto* resp = std::get_if<dws::core::StorePutResp>(&*r);
      if (!resp) return dws::Status::Internal("store/put answered with another message");
      if (resp->copies < 2)
        return dws::Status::Internal("acknowledged with " + std::to_string(resp->copies) + " copies, W is 2");
      return dws::Status::Ok();
    }
    last = r.status();
    if (last.code() != dws::Code::kUnavailable || std::chrono::steady_clock::now() > give_up) return last;
    ++retries;
  }
}

// The record one node holds itself (local = 1), or nullopt.
dws::Result<std::optional<Record>> get_local(dws::net::HttpTransport& transport, const std::string& node, Id key) {
  auto r = transport.call(node, dws::core::StoreGetReq{key, "", true, false}, kCallDeadline);
  if (!r.ok()) return r.status();
  return std::get<dws::core::StoreGetResp>(*r).record;
}

// Runs fn(i) for i in [0, count) on `threads` threads.
template <typename F>
void parallel_for(int count, int threads, F fn) {
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = t; i < count; i += threads) fn(i);
    });
  for (auto& th : pool) th.join();
}

// Keys (indices into records) not held exactly by their n holders with the
// written payload, checked by local reads on each holder.
std::vector<int> misplaced(dws::net::HttpTransport& transport, const Placement& placement,
                           const std::vector<Record>& records, const std::vector<int>& which, std::string& example) {
  std::mutex mu;
  std::vector<int> bad;
  parallel_for(static_cast<int>(which.size()), 4, [&](int j) {
    const Record& want = records[static_cast<std::size_t>(which[static_cast<std::size_t>(j)])];
    for (std::size_t h : placement.holders_of(want.key)) {
      auto got = get_local(transport, placement.ring[h]->address(), want.key);
      if (!got.ok() || !*got || !(**got == want)) {
        std::lock_guard lock(mu);
        bad.push_back(which[static_cast<std::size_t>(j)]);
        if (example.empty())
          example = "key " + hex(want.key) + " on " + placement.ring[h]->address() + ": " +
                    (!got.ok() ? got.status().to_string() : !*got ? "absent" : "another record");
        return;
      }
    }
  });
  return bad;
}

// Every key on exactly its n nodes: the counts of every node match the
// oracle (so no node holds anything extra), then a local read on each of the
// key's holders, repeated for the keys still missing until the deadline.
void require_placement(dws::net::HttpTransport& transport, const std::vector<Node*>& live,
                       const std::vector<Record>& records) {
  const Placement placement{sorted_by_id(live)};
  std::string problem;
  const auto start = std::chrono::steady_clock::now();
  const bool counted = wait_for([&] { return (problem = count_problem(placement, records)).empty(); }, kConverge,
                                 kPoll);
  REQUIRE_MESSAGE(counted, "record counts did not reach exactly n = 3 copies per key: ", problem);

  std::vector<int> pending(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) pending[i] = static_cast<int>(i);
  std::string example;
  const bool placed = wait_for(
      [&] {
        example.clear();
        pending = misplaced(transport, placement, records, pending, example);
        return pending.empty();
      },
      kConverge, kPoll);
  REQUIRE_MESSAGE(placed, pending.size(), " keys are not on their 3 nodes, e.g. ", example);
  MESSAGE("every one of ", records.size(), " keys on its 3 nodes after ",
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count(),
          " ms");
}

// Every record reads back through some entry node (the ring read path).
void require_readable(dws::net::HttpTransport& transport, const std::vector<Node*>& live,
                      const std::vector<Record>& records) {
  std::mutex mu;
  std::vector<std::string> problems;
  parallel_for(static_cast<int>(records.size()), 4, [&](int i) {
    const Record& want = records[static_cast<std::size_t>(i)];
    const std::string& entry = live[static_cast<std::size_t>(i) % live.size()]->address();
    auto r = transport.call(entry, dws::core::StoreGetReq{want.key, "", false, true}, kCallDeadline);
    std::string problem;
    if (!r.ok()) problem = r.status().to_string();
    else if (const auto& got = std::get<dws::core::StoreGetResp>(*r).record; !got) problem = "absent";
    else if (!(*got == want)) problem = "another record (version " + std::to_string(got->version) + ")";
    if (!problem.empty()) {
      std::lock_guard lock(mu);
      problems.push_back("key " + hex(want.key) + " through " + entry + ": " + problem);
    }
  });
  REQUIRE_MESSAGE(problems.empty(), problems.size(), " of ", records.size(), " records not readable, first: ",
                  problems.empty() ? "" : problems.front());
}

std::vector<Node*> pointers(const std::vector<std::unique_ptr<Node>>& owned) {
  std::vector<Node*> out;
  for (const auto& n : owned) out.push_back(n.get());
  return out;
}

// A raw HTTP client, for bodies the codec would never produce.
struct RawClient {
  explicit RawClient(const std::string& address)
      : cli(address.substr(0, address.rfind(':')), std::stoi(address.substr(address.rfind(':') + 1))) {
    cli.set_tcp_nodelay(true);
  }
  // A POST proving the ring secret, as a member sends it: what reaches the
  // body checks (without the proof every peer request is a 401).
  httplib::Result post(const std::string& path, const std::string& body) {
    const auto proof = dws::test::ring_auth()->sign("POST", path, body, dws::test::now_ms());
    return cli.Post(path.c_str(), httplib::Headers{{std::string(dws::net::kPeerProofHeader), proof.header}}, body,
                    "application/json");
  }
  httplib::Client cli;
};

// The answer must be `status` with a JSON error of `code` whose message has `needle`.
void check_error(const httplib::Result& res, int status, const std::string& code, const std::string& needle,
                 const std::string& what) {
  REQUIRE_MESSAGE(res, what, ": no HTTP answer");
  CHECK_MESSAGE(res->status == status, what, ": expected HTTP ", status, ", got ", res->status, " ", res->body);
  CHECK_MESSAGE(res->body.find("{\"error\":{\"code\":\"" + code + "\"") == 0, what, ": expected a JSON error ",
                code, ", got ", res->body);
  CHECK_MESSAGE(res->body.find(needle) != std::string::npos, what, ": expected '", needle, "' in ", res->body);
}

}  // namespace

TEST_CASE("store: 10,000 records written over HTTP stay readable on n nodes through a leave and a join") {
  TempDir dir{"dws-store-http"};
  std::vector<std::unique_ptr<Node>> owned;
  owned.push_back(must(Node::create(test_options(dir.sub("n0")))));
  for (int i = 1; i < 6; ++i)
    owned.push_back(must(Node::join(test_options(dir.sub("n" + std::to_string(i))),
                                    owned[static_cast<std::size_t>(i) / 2]->address())));
  require_ring(pointers(owned));

  constexpr int kRecords = 10'000;
  constexpr int kWriters = 4;
  const std::vector<Record> records = make_records(kRecords, 0x5707e);
  dws::net::HttpTransport transport(dws::test::member_transport());
  std::atomic<int> retries{0};
  std::mutex mu;
  std::vector<std::string> failures;
  const auto t0 = std::chrono::steady_clock::now();
  parallel_for(kRecords, kWriters, [&](int i) {
    const std::string& entry = owned[static_cast<std::size_t>(i) % owned.size()]->address();
    const dws::Status s = put_through(transport, entry, records[static_cast<std::size_t>(i)], retries);
    if (!s.ok()) {
      std::lock_guard lock(mu);
      failures.push_back("record " + std::to_string(i) + " through " + entry + ": " + s.to_string());
    }
  });
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE_MESSAGE(failures.empty(), failures.size(), " writes not acknowledged, first: ",
                  failures.empty() ? "" : failures.front());
  MESSAGE(kRecords, " writes acknowledged through 6 entry nodes by ", kWriters, " writers in ", ms, " ms (",
          retries.load(), " retries)");
  require_placement(transport, pointers(owned), records);

  // One node leaves gracefully (its data moves on), a new one joins (its
  // range moves to it).
  owned[2]->stop();
  owned.erase(owned.begin() + 2);
  owned.push_back(must(Node::join(test_options(dir.sub("n6")), owned[0]->address())));
  require_ring(pointers(owned));
  require_placement(transport, pointers(owned), records);
  require_readable(transport, pointers(owned), records);

  const std::string metrics = owned[0]->metrics_text();
  for (const char* name : {"dws_records_primary ", "dws_records_replica ", "dws_sync_rounds_total ",
                           "dws_sync_records_moved_total ", "dws_sync_bytes_moved_total ",
                           "dws_write_quorum_failures_total ", "dws_store_puts_total "})
    CHECK_MESSAGE(metrics.find(name) != std::string::npos, "metric ", name, "missing from\n", metrics);

  // dws-node status reads the counts from GET /v1/ring/state.
  auto walk = dws::walk_ring(owned[1]->address(), 4096, dws::test::ring_secret_file());
  REQUIRE_MESSAGE(walk.ok(), walk.status().to_string());
  std::uint64_t held = 0;
  for (const auto& v : *walk) {
    REQUIRE_MESSAGE(v.records.has_value(), v.self.address, " reported no record counts");
    held += v.records->primary + v.records->replica;
  }
  CHECK_MESSAGE(held == 3u * kRecords, "the ring walk counts ", held, " records held, expected ", 3 * kRecords);
  for (auto& n : owned) n->stop();
}

TEST_CASE("store: corrupt, truncated, oversized and misdirected storage requests are refused and change nothing") {
  TempDir dir{"dws-store-http"};
  std::vector<std::unique_ptr<Node>> owned;
  owned.push_back(must(Node::create(test_options(dir.sub("n0")))));
  for (int i = 1; i < 4; ++i) owned.push_back(must(Node::join(test_options(dir.sub("n" + std::to_string(i))),
                                                              owned[0]->address())));
  require_ring(pointers(owned));
  const std::vector<Record> records = make_records(200, 0xbad);
  dws::net::HttpTransport transport(dws::test::member_transport());
  std::atomic<int> retries{0};
  for (std::size_t i = 0; i < records.size(); ++i)
    REQUIRE(put_through(transport, owned[i % owned.size()]->address(), records[i], retries).ok());
  require_placement(transport, pointers(owned), records);

  const std::vector<Node*> ring = sorted_by_id(pointers(owned));
  Node* target = ring[1];
  const dws::RingView view = target->view();
  REQUIRE(view.predecessor.has_value());
  std::vector<RecordCounts> before;
  for (Node* n : ring) before.push_back(n->record_counts());
  RawClient raw(target->address());

  // Records the refused bodies carry: a valid one first, so that a partial
  // apply would show.
  const Id a = view.predecessor->id;
  const Id b = target->id();
  const Record fresh = make_record_in(a, b, 1'000'001);

  auto push_body = [&](const std::string& records_b64) {
    return R"({"phase":"push","from":{"id":")" + hex(a) + R"(","address":")" + view.predecessor->address +
           R"("},"a":")" + hex(a) + R"(","b":")" + hex(b) + R"(","buckets":[32],"records":")" + records_b64 + "\"}";
  };
  auto b64 = [](const std::string& bin) {
    // Through the codec's own encoder: the payload of a put body.
    const auto wire = dws::net::encode_request(dws::core::StorePutReq{Record{0, "", 0, false, 0, bin}, false});
    const auto at = wire.body.find(R"("payload":")") + 11;
    return wire.body.substr(at, wire.body.find('"', at) - at);
  };

  // Nothing changed: the same counts everywhere, the fresh record nowhere.
  auto check_unchanged = [&](const std::string& what) {
    for (std::size_t i = 0; i < ring.size(); ++i) {
      const RecordCounts now = ring[i]->record_counts();
      CHECK_MESSAGE(now == before[i], ring[i]->address(), " holds ", now.primary, " + ", now.replica,
                    " records after ", what, ", before ", before[i].primary, " + ", before[i].replica);
      auto got = get_local(transport, ring[i]->address(), fresh.key);
      REQUIRE(got.ok());
      CHECK_MESSAGE(!got->has_value(), ring[i]->address(), " holds the record of ", what);
    }
  };

  {  // A corrupt sync body is 400 naming the records.
    std::string bin = dws::core::encode_records(std::vector<Record>{fresh, make_record_in(a, b, 1'000'002)});
    const std::size_t second = dws::core::encode_records(std::vector<Record>{fresh}).size();
    bin[second] = '\x7f';  // the second record's format byte
    check_error(raw.post("/v1/store/sync", push_body(b64(bin))), 400, "invalid_argument",
                "field 'records' does not hold valid records", "corrupt records in a sync push");
    check_error(raw.post("/v1/store/sync", push_body("@@@@")), 400, "invalid_argument",
                "field 'records' must be padded base64", "corrupt base64 in a sync push");
    check_unchanged("a corrupt sync body");
  }
  {  // A truncated sync body is 400.
    const std::string body = push_body(b64(dws::core::encode_records(std::vector<Record>{fresh})));
    check_error(raw.post("/v1/store/sync", body.substr(0, body.size() * 2 / 3)), 400,
                "invalid_argument", "not valid JSON", "truncated sync push");
    // Cut inside the record encoding, re-encoded as valid base64 and JSON.
    std::string bin = dws::core::encode_records(std::vector<Record>{fresh});
    bin.resize(bin.size() - 5);
    check_error(raw.post("/v1/store/sync", push_body(b64(bin))), 400, "invalid_argument",
                "field 'records' does not hold valid records", "sync push with a truncated record");
    check_unchanged("a truncated sync body");
  }
  {  // A record over the size limit is 413.
    Record big = fresh;
    big.payload.assign(70 * 1024, 'x');
    auto r = transport.call(target->address(), dws::core::StorePutReq{big, false, true}, kCallDeadline);
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.status().code() == dws::Code::kPayloadTooLarge, "expected payload_too_large, got ",
                  r.status().to_string());
    // A body over the server's limit is refused before it is read.
    check_error(raw.post("/v1/store/sync", std::string(3 << 20, ' ')), 413,
                "payload_too_large", "request body too large", "a 3 MiB sync body");
    check_error(raw.post("/v1/store/put", std::string(3 << 20, ' ')), 413,
                "payload_too_large", "request body too large", "a 3 MiB put body");
    check_unchanged("an oversized record");
  }
  {  // A put for a key outside the node's ranges, sent to it as primary, is 421.
    // Just past the target: the successor's range, which the target holds no copy of.
    Record elsewhere = make_record_in(b, ring[2]->id(), 1'000'003);
    auto r = transport.call(target->address(), dws::core::StorePutReq{elsewhere, false, false}, kCallDeadline);
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.status().code() == dws::Code::kNotResponsible, "expected not_responsible, got ",
                  r.status().to_string());
    auto g = transport.call(target->address(), dws::core::StoreGetReq{elsewhere.key, "", false, false},
                            kCallDeadline);
    CHECK_MESSAGE(g.status().code() == dws::Code::kNotResponsible, "expected not_responsible for a read, got ",
                  g.status().to_string());
    auto held = get_local(transport, ring[2]->address(), elsewhere.key);
    REQUIRE(held.ok());
    CHECK_FALSE(held->has_value());
    check_unchanged("a misdirected put");
  }
  for (auto& n : owned) n->stop();
}

TEST_CASE("store: records that do not prove themselves are refused over HTTP, on every node, and counted") {
  TempDir dir{"dws-store-forged"};
  // What each node logs about refused records.
  std::mutex log_mu;
  std::vector<int> refusal_lines(3, 0);
  auto options = [&](int i) {
    NodeOptions o = test_options(dir.sub("n" + std::to_string(i)));
    o.log = [&, i](std::string_view line) {
      if (line.find("refused a record from") == std::string_view::npos) return;
      std::lock_guard lock(log_mu);
      ++refusal_lines[static_cast<std::size_t>(i)];
    };
    return o;
  };
  std::vector<std::unique_ptr<Node>> owned;
  owned.push_back(must(Node::create(options(0))));
  for (int i = 1; i < 3; ++i) owned.push_back(must(Node::join(options(i), owned[0]->address())));
  require_ring(pointers(owned));
  dws::net::HttpTransport transport(dws::test::member_transport());
  std::atomic<int> retries{0};
  const Record real = signed_users().record("victim");
  REQUIRE(put_through(transport, owned[0]->address(), real, retries).ok());
  require_placement(transport, pointers(owned), {real});

  const dws::test::SignedUsers attacker;
  Record squat{real.key, "", 2, true, 0, ""};  // a tombstone for ever, no proof
  Record overflow = attacker.record("victim", UINT64_MAX);
  Record junk{real.key, "m/00000000000000000000000000000000/victim", 1, false, 0, "junk"};
  struct Case {
    const char* what;
    Record record;
    dws::Code code;
  };
  const std::vector<Case> cases{
      {"an account signed by another key", attacker.record("victim", 2), dws::Code::kForbidden},
      {"a proofless tombstone that never expires", squat, dws::Code::kInvalidArgument},
      {"a version of 2^64-1", overflow, dws::Code::kInvalidArgument},
      {"a junk mailbox entry", junk, dws::Code::kInvalidArgument},
  };
  for (const auto& c : cases) {
    for (auto& n : owned) {
      for (bool replica : {false, true}) {
        auto r = transport.call(n->address(), dws::core::StorePutReq{c.record, replica, !replica}, kCallDeadline);
        CHECK_MESSAGE(!r.ok(), c.what, " was accepted by ", n->address(), replica ? " as a replica copy" : "");
        if (!r.ok())
          CHECK_MESSAGE(r.status().code() == c.code, c.what, " at ", n->address(), ": ", r.status().to_string());
      }
    }
  }
  for (auto& n : owned) {
    auto got = get_local(transport, n->address(), real.key);
    REQUIRE(got.ok());
    CHECK_MESSAGE((got->has_value() && **got == real), n->address(), " no longer holds the real record");
    CHECK_MESSAGE(n->metrics_text().find("dws_records_rejected_total{reason=\"wrong_key\"} 0") == std::string::npos,
                  n->address(), " counted no wrong_key refusal");
  }
  for (auto& n : owned) n->stop();
  // Dozens of refusals each, from two sources at most (the loopback address
  // of the peers, and the node's own entry path for writes it forwarded to
  // itself): logged once a minute per source, counted always.
  std::lock_guard lock(log_mu);
  for (std::size_t i = 0; i < refusal_lines.size(); ++i)
    CHECK_MESSAGE((refusal_lines[i] >= 1 && refusal_lines[i] <= 2), "node ", i, " logged ", refusal_lines[i],
                  " refusal lines, expected one per source");
}
