// Seeded simulation of the user layer (DESIGN.md sections 5, 6 and 10):
// accounts, mailboxes, acks and receipts over SimTransport with crashes,
// restarts, partitions and lossy links, driven by a small deterministic
// client that does what lib/client does over HTTP: register, list two
// devices, seal and post texts that name their predecessor (kText2,
// retried with the same id until a node acknowledges), read the mailbox at
// its primary as each device, hold back a text until its predecessor is
// handed out (client::HoldBack, the real client's rule), commit locally,
// then acknowledge for that device. A failure prints its seed;
// DWS_SIM_SEED=<seed> replays exactly that run.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "client/client_json.hpp"
#include "client/hold_back.hpp"
#include "core/account.hpp"
#include "core/devices.hpp"
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

// How long a simulated device holds a text for its predecessor: 50 rounds,
// 10 anti-entropy periods of the simulated ring.
constexpr std::int64_t kSimHoldMs = 10'000;
constexpr int kDevices = 2;

// What the application saw, in order.
struct Delivered {
  std::string from;
  Kind kind;
  std::string id;
  std::string body;
};

// One device of a simulated user. `seen`, `app` and `last_sent` are its
// local store (they survive a client crash); the outbox holds sealed
// envelopes that no node has acknowledged yet, sent one at a time in id
// order. The hold's first sights are memory and go with a crash, as in
// the real client.
struct SimDevice {
  std::string id;  // 16 hex digits, listed in the account's DeviceList
  std::unique_ptr<dws::core::SplitMix64> id_rng;
  std::unique_ptr<dws::core::MessageIdGenerator> ids;
  std::deque<Envelope> outbox;
  std::set<std::string> seen;
  std::vector<Delivered> app;
  std::map<std::string, std::string> last_id_from;       // per sender, the newest text id handed out
  std::map<std::string, std::string> max_released_from;  // per sender, the newest text released without its predecessor
  std::map<std::string, MessageId> last_sent;            // per recipient, what the next text names
  std::unique_ptr<dws::client::HoldBack> hold;
};

// One simulated user: one account, two devices that both receive
// everything; device 0 writes the texts and the receipts.
struct SimClient {
  std::string nick;
  dws::crypto::KeyPair keys;
  dws::core::Account account;
  dws::core::DeviceList devices;
  bool registered = false;
  bool listed = false;  // the device list is stored: the devices may read and acknowledge
  std::array<SimDevice, kDevices> dev;
};

struct Stats {
  long sent = 0, acked = 0, posts = 0, sender_unknown = 0, post_failures = 0, delivered = 0, redelivered = 0, skipped_acks = 0;
  long receipts = 0, order_violations = 0, crashes = 0, restarts = 0, partitions = 0;
  long texts_delivered = 0, held = 0, held_listings = 0, released = 0, unexplained_order = 0;
  long list_without_devices = 0;
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
    c->devices.owner = nick;
    c->devices.version = 1;
    for (auto& d : c->dev) {
      d.id = fmt_device_id(rng_.next());
      d.id_rng = std::make_unique<dws::core::SplitMix64>(rng_.next());
      d.ids = std::make_unique<dws::core::MessageIdGenerator>(sim_.net().clock(), *d.id_rng);
      d.hold = std::make_unique<dws::client::HoldBack>(kSimHoldMs);
      c->devices.devices.push_back({d.id, "device " + std::to_string(c->devices.devices.size()), sim_.now()});
    }
    dws::core::sign_device_list(c->devices, c->keys.secret_key);
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

  // The account's two devices, stored through the ring as the client's
  // join does; a lost answer makes the retry meet its own list.
  void try_list(SimClient& c) {
    if (!c.registered || c.listed) return;
    const Address entry = pick(sim_, sim_.live_nodes());
    auto put = sim_.mailbox(entry)->set_devices(c.devices);
    if (put.ok()) {
      c.listed = true;
      return;
    }
    if (put.status().code() == Code::kForbidden) {
      auto got = sim_.mailbox(entry)->devices(c.nick);
      if (got.ok() && *got && **got == c.devices) c.listed = true;
      REQUIRE_MESSAGE((!got.ok() || c.listed), "device list of '" << c.nick << "' refused: " << put.status().to_string());
      return;
    }
    if (unknown_user(put.status())) {
      ++stats_.sender_unknown;
      return;
    }
    REQUIRE_MESSAGE(retryable(put.status()), "expected the device list stored or a retryable failure, seen "
                                                 << put.status().to_string());
  }

  // A text from device 0, naming the previous text to the same recipient.
  void queue_text(SimClient& from, const std::string& to) {
    SimDevice& d = from.dev[0];
    dws::client::ChainedText t;
    if (auto it = d.last_sent.find(to); it != d.last_sent.end()) t.prev = it->second;
    t.text = "m" + std::to_string(stats_.sent);
    d.last_sent[to] = queue(from, d, to, Kind::kText2, dws::client::encode_chained_text(t));
    ++stats_.sent;
  }

  void flush_one(SimClient& c) {
    for (auto& d : c.dev) flush_one(c, d);
  }

  // One attempt to post the head of a device's outbox through a random
  // live node, with the checks the node's HTTP handler makes before
  // Mailbox::post.
  void flush_one(SimClient& c, SimDevice& d) {
    if (d.outbox.empty() || !c.registered) return;
    const Envelope& e = d.outbox.front();
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
    if (e.kind == Kind::kText2) {
      ++stats_.acked;
      acked_[e.from + ">" + e.to].push_back(e.id.hex());
    }
    d.outbox.pop_front();
  }

  // One receive cycle of one device: list at the primary as that device,
  // open, decide what the hold lets out, commit (application and seen
  // set), queue a receipt for each text handed out, then acknowledge what
  // was handed out or seen before; held texts stay unacknowledged. With
  // `crash_before_ack` the acknowledgement is lost as if the client died
  // right after its local commit, and the hold's memory with it.
  void receive(SimClient& c, SimDevice& d, bool crash_before_ack) {
    if (!c.registered || !c.listed) return;
    const Address entry = pick(sim_, sim_.live_nodes());
    auto primary = sim_.primary_via(entry, dws::core::user_key(c.nick));
    if (!primary.ok()) return;
    dws::core::Mailbox* box = sim_.mailbox(*primary);
    if (box == nullptr) return;  // the lookup named a node that is down
    std::string after;
    std::vector<dws::core::EntryAck> acks;
    struct Fresh {
      Envelope e;
      std::string body;
    };
    std::vector<Fresh> fresh;
    std::vector<dws::client::Arrival> arrivals;
    auto ack_of = [&](const Envelope& e) {
      dws::core::EntryAck a;
      a.id = e.id;
      a.from = e.from;
      a.sig = dws::core::make_ack_proof(c.nick, dws::core::mailbox_entry_sub(e.id, e.from), c.keys.secret_key).signature;
      acks.push_back(a);
    };
    for (int page = 0; page < 20; ++page) {
      auto listed = box->list_here(c.nick, d.id, after, 25, sim_.now());
      if (!listed.ok()) {
        REQUIRE_MESSAGE(retryable(listed.status()), "mailbox read: " << listed.status().to_string());
        break;
      }
      if (listed->devices != kDevices) ++stats_.list_without_devices;
      for (const Envelope& e : listed->messages) {
        after = e.id.hex();
        REQUIRE_MESSAGE(e.to == c.nick, "mailbox of '" << c.nick << "' listed an envelope to '" << e.to << "'");
        auto sender = clients_.find(e.from);
        REQUIRE_MESSAGE(sender != clients_.end(), "envelope from unknown sender '" << e.from << "'");
        if (d.seen.count(e.id.hex()) != 0) {
          ++stats_.redelivered;  // the seen set hides it from the application
          ack_of(e);
          continue;
        }
        auto body = dws::core::open_envelope(e, c.keys.secret_key, sender->second->keys.public_key);
        REQUIRE_MESSAGE(body.ok(), "envelope " << e.id.hex() << " does not open: " << body.status().to_string());
        if (std::any_of(fresh.begin(), fresh.end(), [&](const Fresh& f) { return f.e.id == e.id; })) continue;
        dws::client::Arrival a{e.id, std::nullopt};
        if (e.kind == Kind::kText2) {
          auto t = dws::client::decode_chained_text(*body);
          REQUIRE_MESSAGE(t.ok(), "text2 " << e.id.hex() << ": " << t.status().to_string());
          a.prev = t->prev;
          *body = t->text;
        }
        arrivals.push_back(a);
        fresh.push_back({e, *body});
      }
      if (!listed->more) break;
    }
    const auto decisions = d.hold->decide(
        arrivals, [&](const MessageId& prev) { return d.seen.count(prev.hex()) != 0; }, sim_.now());
    REQUIRE(decisions.size() == fresh.size());
    for (const auto& dec : decisions) {
      const Envelope& e = fresh[dec.index].e;
      if (dec.verdict == dws::client::Verdict::kHold) {
        ++stats_.held_listings;
        continue;
      }
      REQUIRE(d.seen.insert(e.id.hex()).second);
      if (e.kind == Kind::kText2) {
        // Per-sender order: the sender writes its texts one after another
        // from one device, so handing them out in id order is their order.
        // Out of order is allowed only behind a text released without its
        // predecessor (a hold that ran out, counted).
        const std::string id = e.id.hex();
        if (dec.verdict == dws::client::Verdict::kRelease)
          d.max_released_from[e.from] = std::max(d.max_released_from[e.from], id);
        auto& last = d.last_id_from[e.from];
        if (!last.empty() && id < last) {
          ++stats_.order_violations;
          if (d.max_released_from[e.from] <= id) ++stats_.unexplained_order;
        }
        last = std::max(last, id);
        ++stats_.texts_delivered;
      }
      d.app.push_back({e.from, e.kind, e.id.hex(), fresh[dec.index].body});
      ++stats_.delivered;
      // Receipts from the first device only: what they test (one envelope
      // per text back, to both of the sender's devices) does not need a
      // second, and each costs signatures on every replica.
      if (e.kind == Kind::kText2) {
        if (&d == &c.dev[0]) queue(c, d, e.from, Kind::kReceipt, e.id.hex());
      } else {
        ++stats_.receipts;
      }
      ack_of(e);
    }
    if (acks.empty()) return;
    if (crash_before_ack) {
      ++stats_.skipped_acks;
      // The hold's first sights were memory: a new one after the crash.
      stats_.held += static_cast<long>(d.hold->held_total());
      stats_.released += static_cast<long>(d.hold->released_total());
      d.hold = std::make_unique<dws::client::HoldBack>(kSimHoldMs);
      return;
    }
    auto n = box->ack(c.nick, d.id, acks, sim_.now());
    if (!n.ok() && unknown_user(n.status())) {
      ++stats_.sender_unknown;  // as in flush_one: the entries stay and come again
    } else if (!n.ok()) {
      REQUIRE_MESSAGE(retryable(n.status()), "ack: " << n.status().to_string());
    }
  }

  // Adds what the devices' holds counted to the stats (once, at the end).
  void collect_holds() {
    for (auto& [n, c] : clients_)
      for (auto& d : c->dev) {
        stats_.held += static_cast<long>(d.hold->held_total());
        stats_.released += static_cast<long>(d.hold->released_total());
        d.hold = std::make_unique<dws::client::HoldBack>(kSimHoldMs);
      }
  }

  bool holding() const {
    return std::any_of(clients_.begin(), clients_.end(), [](const auto& kv) {
      return std::any_of(kv.second->dev.begin(), kv.second->dev.end(),
                         [](const SimDevice& d) { return d.hold->holding() > 0; });
    });
  }

  bool outboxes_empty() const {
    return std::all_of(clients_.begin(), clients_.end(), [](const auto& kv) {
      return std::all_of(kv.second->dev.begin(), kv.second->dev.end(),
                         [](const SimDevice& d) { return d.outbox.empty(); });
    });
  }

 private:
  static bool unknown_user(const dws::Status& st) {
    return st.code() == Code::kUnauthenticated && st.message().find("is not a user") != std::string::npos;
  }
  static bool retryable(const dws::Status& st) {
    return st.code() == Code::kUnavailable || st.code() == Code::kNotResponsible;
  }

  static std::string fmt_device_id(std::uint64_t v) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = kHex[v & 0xf];
    return out;
  }

  MessageId queue(SimClient& from, SimDevice& d, const std::string& to, Kind kind, const std::string& body) {
    const SimClient& r = *clients_.at(to);
    auto e = dws::core::seal_envelope(from.keys.secret_key, from.nick, to, r.keys.public_key, kind, body,
                                      d.ids->next(), sim_.now());
    REQUIRE_MESSAGE(e.ok(), e.status().to_string());
    d.outbox.push_back(*e);
    return e->id;
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

TEST_CASE("user sim: accounts with two devices, mailboxes, acks and receipts under crashes, restarts and "
          "partitions: every device gets every acknowledged message once, in its sender's order") {
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
        if (!c.listed) world.try_list(c);
        if (step < 120 && coin(sim, 250)) {
          std::string to = pick(sim, nicks);
          if (to != n) world.queue_text(c, to);
        }
        world.flush_one(c);
        for (auto& d : c.dev)
          if (coin(sim, 300)) world.receive(c, d, coin(sim, 100));
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
    // Long enough for a hold to run out (kSimHoldMs is 50 rounds).
    for (int drain = 0; drain < 120; ++drain) {
      const long before = world.stats().posts + world.stats().delivered;
      for (const auto& n : nicks) {
        SimClient& c = world.client(n);
        if (!c.registered) world.try_register(c);
        world.try_list(c);
        for (auto& d : c.dev) {
          while (!d.outbox.empty() && c.registered) {
            const auto before = d.outbox.size();
            world.flush_one(c, d);
            if (d.outbox.size() == before) break;
          }
        }
        for (auto& d : c.dev) world.receive(c, d, false);
      }
      sim.round();
      // Done after a full pass that posted and delivered nothing, and
      // nothing held back is waiting.
      if (world.outboxes_empty() && !world.holding() && world.stats().posts + world.stats().delivered == before)
        break;
    }
    REQUIRE_MESSAGE(world.outboxes_empty(), "expected every send acknowledged once the ring is quiet");
    CHECK_MESSAGE(!world.holding(), "expected no text still held back once the ring is quiet");
    world.collect_holds();

    // On every device: every acknowledged text reached the application
    // exactly once, every text delivered was acknowledged, and each
    // sender's texts came in order unless a hold ran out before them.
    // The first receiving device sends a receipt per text, and both of the
    // sender's devices get it: two receipts per text.
    long receipts_expected = 0, receipts_seen = 0;
    for (int dev = 0; dev < kDevices; ++dev) {
      std::map<std::string, std::vector<std::string>> got;  // "from>to" -> delivered text ids
      for (const auto& n : nicks) {
        for (const auto& d : world.client(n).dev[static_cast<std::size_t>(dev)].app) {
          if (d.kind == Kind::kText2) got[d.from + ">" + n].push_back(d.id);
          else ++receipts_seen;
        }
      }
      for (const auto& [pair, ids] : world.acked_by_pair()) {
        receipts_expected += static_cast<long>(ids.size());
        auto want = ids, seen = got[pair];
        std::sort(want.begin(), want.end());
        std::sort(seen.begin(), seen.end());
        CHECK_MESSAGE(seen == want, "pair " << pair << ", device " << dev << ": expected its " << ids.size()
                                            << " acknowledged texts delivered once each, seen " << got[pair].size()
                                            << " deliveries");
      }
      for (const auto& [pair, ids] : got)
        CHECK_MESSAGE(world.acked_by_pair().count(pair) == 1,
                      "pair " << pair << ", device " << dev << " delivered unacknowledged texts");
    }
    CHECK_MESSAGE(receipts_seen == receipts_expected,
                  "expected two receipts per delivered text, " << receipts_expected << ", seen " << receipts_seen);
    // Each of the sender's devices has a receipt for each of its texts.
    for (const auto& [pair, ids] : world.acked_by_pair()) {
      const std::string from = pair.substr(0, pair.find('>'));
      for (int dev = 0; dev < kDevices; ++dev) {
        std::set<std::string> receipted;
        for (const auto& d : world.client(from).dev[static_cast<std::size_t>(dev)].app)
          if (d.kind == Kind::kReceipt) receipted.insert(d.body);
        for (const auto& id : ids)
          CHECK_MESSAGE(receipted.count(id) == 1, "pair " << pair << ": device " << dev << " of '" << from
                                                          << "' has no receipt for text " << id);
      }
    }
    CHECK_MESSAGE(world.stats().unexplained_order == 0,
                  "expected per-sender order on every device except behind a released hold, seen "
                      << world.stats().unexplained_order << " texts handed out before an older one of their sender");

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
    total.texts_delivered += s.texts_delivered;
    total.held += s.held;
    total.held_listings += s.held_listings;
    total.released += s.released;
    total.unexplained_order += s.unexplained_order;
    total.list_without_devices += s.list_without_devices;
    total.crashes += s.crashes;
    total.restarts += s.restarts;
    total.partitions += s.partitions;
  }
  MESSAGE("user sim: " << seeds.size() << " seeds, " << kDevices << " devices per user, " << total.sent
                       << " texts sent, " << total.acked << " acknowledged (" << total.post_failures
                       << " post attempts retried, " << total.sender_unknown
                       << " refusals of a sender or owner unknown while its record moved), " << total.texts_delivered
                       << " texts handed out over all devices (" << total.delivered << " with receipts), "
                       << total.receipts << " receipts, " << total.redelivered << " redeliveries hidden by the seen set ("
                       << total.skipped_acks << " acks lost to client crashes), " << total.held
                       << " texts held back for their predecessor (" << total.held_listings << " listings), "
                       << total.released << " released without it, " << total.order_violations
                       << " handed out before an older one of their sender (" << total.unexplained_order
                       << " not behind a release), " << total.list_without_devices
                       << " listings at a primary that did not have the device list, " << total.crashes << " crashes, " << total.restarts
                       << " restarts, " << total.partitions << " partitions");
  CHECK(total.crashes > 0);
  CHECK(total.redelivered > 0);
  CHECK(total.unexplained_order == 0);
}
