// Seeded simulation of the user layer (DESIGN.md sections 5, 6 and 10):
// accounts, mailboxes, acks and receipts over SimTransport with crashes,
// restarts, partitions and lossy links, driven by a small deterministic
// client that does what lib/client does over HTTP: register, seal and post
// envelopes (retried with the same id until a node acknowledges), read the
// mailbox at its primary, commit locally, then acknowledge. A failure
// prints its seed; DWS_SIM_SEED=<seed> replays exactly that run.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/account.hpp"
#include "core/envelope.hpp"
#include "core/id.hpp"
#include "core/validation.hpp"
#include "seeds.hpp"
#include "sim/user_sim.hpp"

using dws::Code;
using dws::core::Envelope;
using dws::core::Kind;
using dws::core::MessageId;
using dws::sim::Address;
using dws::sim::UserSim;

namespace {

template <typename T>
T pick(UserSim& sim, const std::vector<T>& v) {
  return v[sim.rng().uniform(v.size())];
}

bool coin(UserSim& sim, int per_mille) { return static_cast<int>(sim.rng().uniform(1000)) < per_mille; }

dws::crypto::KeyPair keys_from(dws::core::SplitMix64& rng) {
  std::array<std::uint8_t, 32> seed{};
  for (std::size_t i = 0; i < seed.size(); i += 8) {
    const std::uint64_t v = rng.next();
    for (std::size_t j = 0; j < 8; ++j) seed[i + j] = static_cast<std::uint8_t>(v >> (8 * j));
  }
  return dws::crypto::keypair_from_seed(dws::crypto::Seed(std::span<const std::uint8_t, 32>(seed)));
}

// What the application saw, in order.
struct Delivered {
  std::string from;
  Kind kind;
  std::string id;
  std::string body;
};

// One simulated user on one device. `seen` and `app` are its local store
// (they survive a client crash); the outbox holds sealed envelopes that no
// node has acknowledged yet, sent one at a time in id order.
struct SimClient {
  std::string nick;
  dws::crypto::KeyPair keys;
  dws::core::Account account;
  bool registered = false;
  std::unique_ptr<dws::core::SplitMix64> id_rng;
  std::unique_ptr<dws::core::MessageIdGenerator> ids;
  std::deque<Envelope> outbox;
  std::set<std::string> seen;
  std::vector<Delivered> app;
  std::map<std::string, std::string> last_id_from;  // per sender, the newest id delivered
};

struct Stats {
  long sent = 0, acked = 0, posts = 0, sender_unknown = 0, post_failures = 0, delivered = 0, redelivered = 0, skipped_acks = 0;
  long receipts = 0, order_violations = 0, crashes = 0, restarts = 0, partitions = 0;
};

class World {
 public:
  World(UserSim& sim, std::uint64_t seed) : sim_(sim), rng_(seed * 0x9e3779b97f4a7c15ULL + 11) {}

  void add_user(const std::string& nick) {
    auto c = std::make_unique<SimClient>();
    c->nick = nick;
    c->keys = keys_from(rng_);
    c->account.nickname = nick;
    c->account.public_key = c->keys.public_key;
    c->account.limits = dws::crypto::KdfLimits::minimum();
    c->account.version = 1;
    dws::core::sign_account(c->account, c->keys.secret_key);
    c->id_rng = std::make_unique<dws::core::SplitMix64>(rng_.next());
    c->ids = std::make_unique<dws::core::MessageIdGenerator>(sim_.net().clock(), *c->id_rng);
    clients_[nick] = std::move(c);
  }

  std::vector<std::string> nicks() const {
    std::vector<std::string> v;
    for (const auto& [n, c] : clients_) v.push_back(n);
    return v;
  }
  SimClient& client(const std::string& nick) { return *clients_.at(nick); }
  Stats& stats() { return stats_; }
  const std::map<std::string, std::vector<std::string>>& acked_by_pair() const { return acked_; }

  // Registration as the client does it: a lost answer makes the retry see
  // kExists, which is ours when the stored key is ours.
  void try_register(SimClient& c) {
    const Address entry = pick(sim_, sim_.live_nodes());
    const dws::Status st = sim_.users(entry)->create(c.account, sim_.now());
    if (st.ok()) {
      c.registered = true;
    } else if (st.code() == Code::kExists) {
      auto got = sim_.users(entry)->get(c.nick);
      if (got.ok() && *got && (*got)->public_key == c.keys.public_key) c.registered = true;
      REQUIRE_MESSAGE((!got.ok() || !*got || c.registered), "nickname '" << c.nick << "' taken by someone else");
    } else {
      REQUIRE_MESSAGE(retryable(st), "expected register to succeed or fail retryably, seen " << st.to_string());
    }
  }

  void queue_text(SimClient& from, const std::string& to) {
    queue(from, to, Kind::kText, "m" + std::to_string(stats_.sent));
    ++stats_.sent;
  }

  // One attempt to post the head of the outbox through a random live node,
  // with the checks the node's HTTP handler makes before Mailbox::post.
  void flush_one(SimClient& c) {
    if (c.outbox.empty() || !c.registered) return;
    const Envelope& e = c.outbox.front();
    const Address entry = pick(sim_, sim_.live_nodes());
    auto rcpt = sim_.users(entry)->get(e.to);
    if (!rcpt.ok()) {
      REQUIRE_MESSAGE(retryable(rcpt.status()), "recipient lookup: " << rcpt.status().to_string());
      ++stats_.post_failures;
      return;
    }
    if (!*rcpt) {
      ++stats_.post_failures;  // not visible yet (its registration may be in flight)
      return;
    }
    REQUIRE(dws::core::verify_envelope(e, c.keys.public_key).ok());
    auto put = sim_.mailbox(entry)->post(e, sim_.now());
    if (!put.ok()) {
      // A replica that checks the sender against a copy of the user record
      // it cannot find refuses the entry while the record moves (seen
      // under churn, counted and reported; the quiet phase must clear it).
      if (unknown_user(put.status())) {
        ++stats_.sender_unknown;
        return;
      }
      REQUIRE_MESSAGE(retryable(put.status()), "expected a post to succeed or fail retryably, seen "
                                                   << put.status().to_string());
      ++stats_.post_failures;
      return;
    }
    ++stats_.posts;
    if (e.kind == Kind::kText) {
      ++stats_.acked;
      acked_[e.from + ">" + e.to].push_back(e.id.hex());
    }
    c.outbox.pop_front();
  }

  // One receive cycle: list at the primary, open, commit (application and
  // seen set), queue a receipt for each text, then acknowledge; with
  // `crash_before_ack` the acknowledgement is lost as if the client died
  // right after its local commit.
  void receive(SimClient& c, bool crash_before_ack) {
    if (!c.registered) return;
    const Address entry = pick(sim_, sim_.live_nodes());
    auto primary = sim_.primary_via(entry, dws::core::user_key(c.nick));
    if (!primary.ok()) return;
    dws::core::Mailbox* box = sim_.mailbox(*primary);
    if (box == nullptr) return;  // the lookup named a node that is down
    std::string after;
    std::vector<dws::core::EntryAck> acks;
    for (int page = 0; page < 20; ++page) {
      auto listed = box->list_here(c.nick, "", after, 25, sim_.now());
      if (!listed.ok()) {
        REQUIRE_MESSAGE(retryable(listed.status()), "mailbox read: " << listed.status().to_string());
        break;
      }
      for (const Envelope& e : listed->messages) {
        after = e.id.hex();
        REQUIRE_MESSAGE(e.to == c.nick, "mailbox of '" << c.nick << "' listed an envelope to '" << e.to << "'");
        auto sender = clients_.find(e.from);
        REQUIRE_MESSAGE(sender != clients_.end(), "envelope from unknown sender '" << e.from << "'");
        auto body = dws::core::open_envelope(e, c.keys.secret_key, sender->second->keys.public_key);
        REQUIRE_MESSAGE(body.ok(), "envelope " << e.id.hex() << " does not open: " << body.status().to_string());
        if (!c.seen.insert(e.id.hex()).second) {
          ++stats_.redelivered;  // the seen set hides it from the application
        } else {
          // Per-sender order: ids are time-ordered per sender, and a sender
          // posts its next message only once the previous is acknowledged.
          auto& last = c.last_id_from[e.from];
          if (!last.empty() && e.id.hex() < last) ++stats_.order_violations;
          last = std::max(last, e.id.hex());
          c.app.push_back({e.from, e.kind, e.id.hex(), *body});
          ++stats_.delivered;
          if (e.kind == Kind::kText) queue(c, e.from, Kind::kReceipt, e.id.hex());
          else ++stats_.receipts;
        }
        dws::core::EntryAck a;
        a.id = e.id;
        a.from = e.from;
        a.sig = dws::core::make_ack_proof(c.nick, dws::core::mailbox_entry_sub(e.id, e.from), c.keys.secret_key).signature;
        acks.push_back(a);
      }
      if (!listed->more) break;
    }
    if (acks.empty()) return;
    if (crash_before_ack) {
      ++stats_.skipped_acks;
      return;
    }
    auto n = box->ack(c.nick, "", acks, sim_.now());
    if (!n.ok() && unknown_user(n.status())) {
      ++stats_.sender_unknown;  // as in flush_one: the entries stay and come again
    } else if (!n.ok()) {
      REQUIRE_MESSAGE(retryable(n.status()), "ack: " << n.status().to_string());
    }
  }

  bool outboxes_empty() const {
    return std::all_of(clients_.begin(), clients_.end(), [](const auto& kv) { return kv.second->outbox.empty(); });
  }

 private:
  static bool unknown_user(const dws::Status& st) {
    return st.code() == Code::kUnauthenticated && st.message().find("is not a user") != std::string::npos;
  }
  static bool retryable(const dws::Status& st) {
    return st.code() == Code::kUnavailable || st.code() == Code::kNotResponsible;
  }

  void queue(SimClient& from, const std::string& to, Kind kind, const std::string& body) {
    const SimClient& r = *clients_.at(to);
    auto e = dws::core::seal_envelope(from.keys.secret_key, from.nick, to, r.keys.public_key, kind, body,
                                      from.ids->next(), sim_.now());
    REQUIRE_MESSAGE(e.ok(), e.status().to_string());
    from.outbox.push_back(*e);
  }

  UserSim& sim_;
  dws::core::SplitMix64 rng_;
  std::map<std::string, std::unique_ptr<SimClient>> clients_;
  std::map<std::string, std::vector<std::string>> acked_;  // "from>to" -> acknowledged text ids, in send order
  Stats stats_;
};

dws::sim::UserSimOptions user_options() {
  dws::sim::UserSimOptions o;
  o.store.sync_every = 5;
  o.store.replication.held_range_ttl_ms = 6 * o.store.sync_every * o.store.ring.stabilize_ms;
  o.store.validation.message_ttl_ms = 3'600'000;
  o.store.validation.tombstone_ttl_ms = 3'600'000;
  o.mailbox.message_ttl_ms = 3'600'000;
  o.mailbox.ack_ttl_ms = 3'600'000;
  o.users.tombstone_ttl_ms = 3'600'000;
  return o;
}

}  // namespace

TEST_CASE("user sim: accounts, mailboxes, acks and receipts under crashes, restarts and partitions: no "
          "acknowledged message lost, none delivered twice") {
  const auto seeds = dws::sim::seeds_from_env(7000, 100);
  Stats total;
  for (auto seed : seeds) {
    INFO("seed " << seed << " (replay with DWS_SIM_SEED=" << seed << ")");
    UserSim sim(seed, user_options());
    for (int i = 0; i < 10; ++i) REQUIRE(sim.start(sim.store().ring_sim().new_address()).ok());
    std::string why;
    for (int r = 0; r < 3; ++r) sim.round();
    REQUIRE_MESSAGE(sim.store().ring_sim().converge(100, &why) >= 0, "the ring did not converge: " << why);

    World world(sim, seed);
    for (int i = 0; i < 6; ++i) world.add_user("user" + std::to_string(i));
    const auto nicks = world.nicks();
    auto& faults = sim.net().faults();
    faults.request_loss = 0.01;
    faults.response_loss = 0.01;
    faults.duplicate = 0.01;
    bool partitioned = false;

    for (int step = 0; step < 150; ++step) {
      for (const auto& n : nicks) {
        SimClient& c = world.client(n);
        if (!c.registered) {
          world.try_register(c);
          continue;
        }
        if (step < 120 && coin(sim, 250)) {
          std::string to = pick(sim, nicks);
          if (to != n) world.queue_text(c, to);
        }
        world.flush_one(c);
        if (coin(sim, 300)) world.receive(c, coin(sim, 100));
      }
      const auto live = sim.live_nodes();
      if (coin(sim, 50)) {
        const Address victim = pick(sim, live);
        if (sim.store().may_crash(victim)) {
          sim.crash(victim);
          ++world.stats().crashes;
        }
      }
      const auto down = sim.down_nodes();
      if (!down.empty() && coin(sim, 100)) world.stats().restarts += sim.start(pick(sim, down)).ok();
      if (!partitioned && coin(sim, 15)) {
        // A short arc of the ring cut off from the rest.
        auto order = sim.live_nodes();
        std::vector<Address> side;
        const std::size_t from = sim.rng().uniform(order.size());
        for (std::size_t k = 0; k < 3 && k < order.size(); ++k) side.push_back(order[(from + k) % order.size()]);
        sim.net().partition(side);
        partitioned = true;
        ++world.stats().partitions;
      } else if (partitioned && coin(sim, 100)) {
        sim.net().heal();
        partitioned = false;
      }
      sim.round();
    }

    // Quiet: every node back, no faults; then the clients drain.
    faults = {};
    sim.net().heal();
    for (int attempt = 0; attempt < 5 && !sim.down_nodes().empty(); ++attempt) {
      for (const auto& a : sim.down_nodes()) world.stats().restarts += sim.start(a).ok();
      sim.round();
    }
    REQUIRE_MESSAGE(sim.down_nodes().empty(), "expected every node to restart");
    REQUIRE_MESSAGE(sim.store().ring_sim().converge(60, &why) >= 0, "the healed ring did not converge: " << why);
    for (int p = 0; p < 10; ++p) sim.store().sync_period();
    for (int drain = 0; drain < 50; ++drain) {
      const long before = world.stats().posts + world.stats().delivered;
      for (const auto& n : nicks) {
        SimClient& c = world.client(n);
        if (!c.registered) world.try_register(c);
        while (!c.outbox.empty() && c.registered) {
          const auto before = c.outbox.size();
          world.flush_one(c);
          if (c.outbox.size() == before) break;
        }
        world.receive(c, false);
      }
      sim.round();
      // Done after a full pass that posted and delivered nothing.
      if (world.outboxes_empty() && world.stats().posts + world.stats().delivered == before) break;
    }
    REQUIRE_MESSAGE(world.outboxes_empty(), "expected every send acknowledged once the ring is quiet");

    // Every acknowledged text reached its recipient's application exactly
    // once; every text delivered was acknowledged. Order is measured, not asserted (docs/design.md).
    std::map<std::string, std::vector<std::string>> got;  // "from>to" -> delivered text ids
    long receipts_expected = 0, receipts_seen = 0;
    for (const auto& n : nicks) {
      for (const auto& d : world.client(n).app) {
        if (d.kind == Kind::kText) got[d.from + ">" + n].push_back(d.id);
        else ++receipts_seen;
      }
    }
    for (const auto& [pair, ids] : world.acked_by_pair()) {
      receipts_expected += static_cast<long>(ids.size());
      auto want = ids, seen = got[pair];
      std::sort(want.begin(), want.end());
      std::sort(seen.begin(), seen.end());
      CHECK_MESSAGE(seen == want, "pair " << pair << ": expected its " << ids.size()
                                          << " acknowledged texts delivered once each, seen " << got[pair].size()
                                          << " deliveries");
    }
    for (const auto& [pair, ids] : got)
      CHECK_MESSAGE(world.acked_by_pair().count(pair) == 1, "pair " << pair << " delivered unacknowledged texts");
    CHECK_MESSAGE(receipts_seen == receipts_expected,
                  "expected one receipt per delivered text, " << receipts_expected << ", seen " << receipts_seen);

    const Stats& s = world.stats();
    total.sent += s.sent;
    total.acked += s.acked;
    total.post_failures += s.post_failures;
    total.sender_unknown += s.sender_unknown;
    total.delivered += s.delivered;
    total.redelivered += s.redelivered;
    total.skipped_acks += s.skipped_acks;
    total.receipts += s.receipts;
    total.order_violations += s.order_violations;
    total.crashes += s.crashes;
    total.restarts += s.restarts;
    total.partitions += s.partitions;
  }
  MESSAGE("user sim: " << seeds.size() << " seeds, " << total.sent << " texts sent, " << total.acked
                       << " acknowledged (" << total.post_failures << " post attempts retried, " << total.sender_unknown
                       << " of them refused as from an unknown sender while its record moved), " << total.delivered
                       << " delivered to the application (texts and receipts), " << total.receipts
                       << " receipts, " << total.redelivered << " redeliveries hidden by the seen set ("
                       << total.skipped_acks << " acks lost to client crashes), " << total.order_violations
                       << " deliveries before an older one from the same sender (a primary that missed a "
                          "write until anti-entropy), " << total.crashes << " crashes, "
                       << total.restarts << " restarts, " << total.partitions << " partitions");
  CHECK(total.crashes > 0);
  CHECK(total.redelivered > 0);
}
