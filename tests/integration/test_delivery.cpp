// Delivery to the application (issue 10, items 2 and 4), against real
// nodes in one process: a client that dies between the local commit and the
// ack hands each message to its application once after the restart; one that
// dies inside the callback hands that message out again, never a second
// history entry; an envelope that does not verify is kept aside with its
// reason and acknowledged; a send with the whole ring halted is queued and
// leaves with its id when the ring is back; a text whose predecessor never
// comes is held back, then released.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/local_store.hpp"
#include "core/envelope.hpp"
#include "client/test_access.hpp"
#include "dwhatsapp/client.hpp"
#include "dwhatsapp/node.hpp"
#include "support/peer_support.hpp"
#include "support/test_support.hpp"

using namespace std::chrono_literals;
using dws::Client;
using dws::ClientOptions;
using dws::Delivery;
using dws::Message;
using dws::Node;
using dws::NodeOptions;
using dws::test::TempDir;
using dws::test::wait_for;

namespace {

constexpr auto kConverge = 60s;
constexpr auto kDeliver = 60s;
constexpr const char* kPassword = "correct horse battery staple 7731";

NodeOptions node_options(const std::string& data_dir, const std::string& listen = "127.0.0.1:0") {
  NodeOptions o;
  o.listen = listen;
  o.data_dir = data_dir;
  o.stabilize_ms = 200;
  o.sync_ms = 500;
  o.discovery_port = 0;
  o.ring_secret_file = dws::test::ring_secret_file();
  o.log_level = std::getenv("DWS_TEST_LOG") ? std::getenv("DWS_TEST_LOG") : "error";
  return o;
}

bool converged(const std::vector<Node*>& nodes) {
  std::vector<Node*> ring = nodes;
  std::sort(ring.begin(), ring.end(), [](Node* a, Node* b) { return a->id() < b->id(); });
  const std::size_t n = ring.size();
  for (std::size_t i = 0; i < n; ++i) {
    const dws::RingView v = ring[i]->view();
    if (v.successors.empty() || v.successors[0].id != ring[(i + 1) % n]->id()) return false;
    if (!v.predecessor || v.predecessor->id != ring[(i + n - 1) % n]->id()) return false;
  }
  return true;
}

struct Ring {
  TempDir dir{"dws-delivery"};
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<std::string> listen;  // the addresses, kept for a restart

  explicit Ring(int n) { start(n); }

  void start(int n) {
    for (int i = 0; i < n; ++i) {
      const std::string at = listen.size() > static_cast<std::size_t>(i) ? listen[i] : "127.0.0.1:0";
      auto o = node_options(dir.sub("node" + std::to_string(i)), at);
      auto r = i == 0 ? Node::create(o) : Node::join(o, nodes[0]->address());
      REQUIRE_MESSAGE(r.ok(), "node ", i, " did not start: ", r.status().to_string());
      nodes.push_back(std::move(r).value());
      if (listen.size() <= static_cast<std::size_t>(i)) listen.push_back(nodes.back()->address());
    }
    std::vector<Node*> all;
    for (auto& p : nodes) all.push_back(p.get());
    REQUIRE_MESSAGE(wait_for([&] { return converged(all); }, kConverge), "no correct ring within the limit");
  }

  void stop_all() {
    for (auto& n : nodes) n->stop();
    nodes.clear();
  }
};

ClientOptions client_options(const Ring& ring, const std::string& data_dir) {
  ClientOptions o;
  o.data_dir = data_dir;
  o.servers = ring.listen;
  o.discovery_port = 0;
  o.poll_wait_s = 1;
  o.request_timeout_ms = 3000;
  o.kdf_opslimit = 1;
  o.kdf_memlimit = 8192;
  return o;
}

std::unique_ptr<Client> open_client(const ClientOptions& o) {
  auto c = Client::open(o);
  REQUIRE_MESSAGE(c.ok(), "Client::open(", o.data_dir, "): ", c.status().to_string());
  return std::move(c).value();
}

std::unique_ptr<Client> registered(const Ring& ring, const std::string& data_dir, const std::string& nick) {
  auto c = open_client(client_options(ring, data_dir));
  dws::Status s = c->register_account(nick, kPassword);
  REQUIRE_MESSAGE(s.ok(), "register_account(", nick, "): ", s.to_string());
  return c;
}

// What one application's callback saw.
struct Seen {
  std::mutex mu;
  std::map<std::string, int> count;
  std::vector<std::string> order;
  std::function<void(const Message&)> callback() {
    return [this](const Message& m) {
      std::lock_guard lock(mu);
      ++count[m.id];
      order.push_back(m.id);
    };
  }
  std::size_t calls() {
    std::lock_guard lock(mu);
    return order.size();
  }
  int of(const std::string& id) {
    std::lock_guard lock(mu);
    auto it = count.find(id);
    return it == count.end() ? 0 : it->second;
  }
};

// Runs receive cycles (each waiting up to `wait_s`) until `done` holds of
// what they handed out, or kDeliver passed; returns what they handed out.
std::vector<Message> receive_until(Client& c, const std::function<bool(const std::vector<Message>&)>& done,
                                   int wait_s = 1) {
  std::vector<Message> got;
  (void)wait_for(
      [&] {
        auto r = c.receive(wait_s);
        REQUIRE_MESSAGE(r.ok(), r.status().to_string());
        got.insert(got.end(), r->begin(), r->end());
        return done(got);
      },
      kDeliver);
  return got;
}

std::vector<std::string> ids_of(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.id);
  return out;
}

std::size_t incoming_in_history(Client& c, const std::string& peer) {
  auto h = c.history(peer, "", 1000);
  REQUIRE_MESSAGE(h.ok(), h.status().to_string());
  return static_cast<std::size_t>(std::count_if(h->begin(), h->end(), [](const Message& m) { return !m.outgoing; }));
}

}  // namespace

TEST_CASE("delivery: a client killed between the local commit and the ack delivers each message once after restart") {
  Ring ring(3);
  auto alice = registered(ring, ring.dir.sub("alice"), "alice");
  auto bob = registered(ring, ring.dir.sub("bob"), "bob");
  const ClientOptions bob_options = client_options(ring, ring.dir.sub("bob"));
  std::vector<std::string> sent;
  for (int i = 0; i < 5; ++i) {
    auto id = alice->send("bob", "before the crash " + std::to_string(i));
    REQUIRE_MESSAGE(id.ok(), id.status().to_string());
    sent.push_back(*id);
  }

  // Every cycle ends after its commit and callbacks, before the ack: the
  // entries stay on the ring and come back to each later cycle.
  Seen first;
  std::atomic<int> aborted{0};
  dws::ClientTestAccess::set_before_ack(*bob, [&] {
    ++aborted;
    return false;
  });
  REQUIRE(bob->start_receiving(first.callback()).ok());
  REQUIRE_MESSAGE(wait_for([&] { return first.calls() >= sent.size(); }, kDeliver), "bob's callback saw ",
                  first.calls(), " of ", sent.size());
  // Two more cycles fetched the same unacknowledged entries: the seen set
  // kept them from the application.
  const int after_delivery = aborted.load();
  REQUIRE(wait_for([&] { return aborted.load() >= after_delivery + 2; }, kDeliver));
  bob->stop_receiving();
  CHECK(first.calls() == sent.size());
  for (const auto& id : sent) CHECK(first.of(id) == 1);
  bob.reset();  // the crash

  // One message's callback did not finish before the crash: its mark is
  // still "pending", as the cycle leaves it while the callback runs.
  {
    auto store = dws::client::LocalStore::open(bob_options.data_dir);
    REQUIRE(store.ok());
    dws::core::WriteBatch b;
    dws::client::LocalStore::put_pending(b, sent[2]);
    REQUIRE((*store)->raw().apply(b).ok());
  }

  bob = open_client(bob_options);
  Seen second;
  REQUIRE(bob->start_receiving(second.callback()).ok());
  auto later = alice->send("bob", "after the restart");
  REQUIRE_MESSAGE(later.ok(), later.status().to_string());
  REQUIRE_MESSAGE(wait_for([&] { return second.of(*later) == 1; }, kDeliver), "the message after the restart");
  bob->stop_receiving();
  // At least once: the interrupted callback ran again; exactly once by id:
  // the others did not, and the history holds each message once.
  CHECK(second.of(sent[2]) == 1);
  for (std::size_t i = 0; i < sent.size(); ++i)
    if (i != 2) CHECK(second.of(sent[i]) == 0);
  CHECK(second.calls() == 2);
  CHECK(incoming_in_history(*bob, "alice") == sent.size() + 1);
  // Acknowledged now: nothing comes back.
  auto again = bob->receive(0);
  REQUIRE(again.ok());
  CHECK(again->empty());
}

TEST_CASE("delivery: an envelope that does not verify is kept aside with its reason, then acknowledged") {
  Ring ring(3);
  auto alice = registered(ring, ring.dir.sub("alice"), "alice");
  auto bob = registered(ring, ring.dir.sub("bob"), "bob");
  const ClientOptions bob_options = client_options(ring, ring.dir.sub("bob"));
  // bob pins alice's key, then the pin is spoilt in his store, so what she
  // signs no longer verifies at his end.
  REQUIRE(bob->add_contact("alice").ok());
  bob.reset();
  dws::client::Pin right;
  {
    auto store = dws::client::LocalStore::open(bob_options.data_dir);
    REQUIRE(store.ok());
    auto pin = (*store)->pin("alice");
    REQUIRE(pin.ok());
    REQUIRE(pin->has_value());
    right = **pin;
    dws::client::Pin wrong = right;
    wrong.key[0] ^= 0x55;
    REQUIRE((*store)->put_pin("alice", wrong).ok());
  }
  bob = open_client(bob_options);
  auto id = alice->send("bob", "signed by a key bob does not expect");
  REQUIRE_MESSAGE(id.ok(), id.status().to_string());

  auto none = bob->rejected();
  REQUIRE(none.ok());
  CHECK(none->empty());
  std::vector<Message> got;
  REQUIRE(wait_for(
      [&] {
        auto r = bob->receive(1);
        REQUIRE_MESSAGE(r.ok(), r.status().to_string());
        got.insert(got.end(), r->begin(), r->end());
        auto listed = bob->rejected();
        return listed.ok() && !listed->empty();
      },
      kDeliver));
  CHECK(got.empty());
  auto listed = bob->rejected();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().id == *id);
  CHECK(listed->front().from == "alice");
  CHECK_MESSAGE(listed->front().reason.find("does not verify or open") != std::string::npos, listed->front().reason);
  CHECK(listed->front().at_ms > 0);
  CHECK(incoming_in_history(*bob, "alice") == 0);

  // With the right key back, the entry does not return: it was acknowledged
  // once it was kept aside.
  bob.reset();
  {
    auto store = dws::client::LocalStore::open(bob_options.data_dir);
    REQUIRE(store.ok());
    REQUIRE((*store)->put_pin("alice", right).ok());
  }
  bob = open_client(bob_options);
  auto marker = alice->send("bob", "a message that verifies");
  REQUIRE(marker.ok());
  const auto ids = ids_of(receive_until(*bob, [&](const std::vector<Message>& got) {
    return std::any_of(got.begin(), got.end(), [&](const Message& m) { return m.id == *marker; });
  }));
  REQUIRE(std::find(ids.begin(), ids.end(), *marker) != ids.end());
  CHECK(ids == std::vector<std::string>{*marker});
  listed = bob->rejected();
  REQUIRE(listed.ok());
  CHECK(listed->size() == 1);
}

TEST_CASE("delivery: a send with the whole ring halted is queued and leaves with its id when the ring is back") {
  Ring ring(3);
  auto alice = registered(ring, ring.dir.sub("alice"), "alice");
  auto bob = registered(ring, ring.dir.sub("bob"), "bob");
  auto warm = alice->send("bob", "while the ring is up");
  REQUIRE(warm.ok());

  ring.stop_all();
  auto queued = alice->send_message("bob", "while the ring is down");
  REQUIRE_MESSAGE(queued.ok(), queued.status().to_string());
  CHECK(queued->state == Delivery::kQueued);
  // The plain send() queues too, returning the id; history tells the state.
  auto plain = alice->send("bob", "also while the ring is down");
  REQUIRE_MESSAGE(plain.ok(), plain.status().to_string());
  auto h = alice->history("bob");
  REQUIRE(h.ok());
  std::map<std::string, Delivery> states;
  for (const auto& m : *h) states[m.id] = m.state;
  CHECK(states[queued->id] == Delivery::kQueued);
  CHECK(states[*plain] == Delivery::kQueued);
  CHECK(alice->flush_outbox().status().code() == dws::Code::kUnavailable);

  ring.start(3);  // same addresses, same data directories
  std::vector<Message> changed;
  std::mutex mu;
  dws::ReceiveHandlers handlers;
  handlers.on_state = [&](const Message& m) {
    std::lock_guard lock(mu);
    changed.push_back(m);
  };
  REQUIRE(alice->start_receiving(std::move(handlers)).ok());
  REQUIRE_MESSAGE(wait_for(
                      [&] {
                        std::lock_guard lock(mu);
                        return std::count_if(changed.begin(), changed.end(), [](const Message& m) {
                                 return m.state == Delivery::kStored;
                               }) >= 2;
                      },
                      kDeliver),
                  "the queued messages did not leave the outbox");
  alice->stop_receiving();
  {
    std::lock_guard lock(mu);
    std::vector<std::string> stored;
    for (const auto& m : changed)
      if (m.state == Delivery::kStored) stored.push_back(m.id);
    CHECK(stored == std::vector<std::string>{queued->id, *plain});
  }

  const auto got = receive_until(*bob, [](const std::vector<Message>& so_far) { return so_far.size() >= 3; });
  REQUIRE(got.size() == 3);
  CHECK(got[0].id == *warm);
  CHECK(got[1].id == queued->id);
  CHECK(got[1].text == "while the ring is down");
  CHECK(got[2].id == *plain);
}

TEST_CASE("delivery: two devices of one account each receive every message once, in order, and see what the other sent") {
  Ring ring(3);
  auto alice = registered(ring, ring.dir.sub("alice"), "alice");
  auto phone = registered(ring, ring.dir.sub("bob-phone"), "bob");
  ClientOptions laptop_options = client_options(ring, ring.dir.sub("bob-laptop"));
  laptop_options.device_name = "laptop";
  auto laptop = open_client(laptop_options);
  REQUIRE(laptop->login("bob", kPassword).ok());

  auto devices = laptop->devices();
  REQUIRE_MESSAGE(devices.ok(), devices.status().to_string());
  REQUIRE(devices->size() == 2);
  CHECK((*devices)[0].id == phone->device_id());
  CHECK_FALSE((*devices)[0].this_device);
  CHECK((*devices)[1].id == laptop->device_id());
  CHECK((*devices)[1].name == "laptop");
  CHECK((*devices)[1].this_device);
  CHECK(phone->device_id() != laptop->device_id());

  std::vector<std::string> sent;
  for (int i = 0; i < 12; ++i) {
    auto id = alice->send("bob", "to both devices " + std::to_string(i));
    REQUIRE_MESSAGE(id.ok(), id.status().to_string());
    sent.push_back(*id);
  }
  auto all_texts = [&](const std::vector<Message>& got) { return got.size() >= sent.size(); };
  // The phone reads first; its acks must not take the messages from the laptop.
  auto on_phone = receive_until(*phone, all_texts);
  auto on_laptop = receive_until(*laptop, all_texts);
  for (auto* got : {&on_phone, &on_laptop}) {
    REQUIRE(got->size() == sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) CHECK((*got)[i].id == sent[i]);
  }
  CHECK(phone->receive(0)->empty());
  CHECK(laptop->receive(0)->empty());

  // What the phone sends shows in the laptop's history, as sent, with its id;
  // alice gets it once.
  auto reply = phone->send("alice", "sent from the phone");
  REQUIRE_MESSAGE(reply.ok(), reply.status().to_string());
  auto copied = [&] {
    (void)laptop->receive(0);
    auto h = laptop->history("alice", "", 100);
    return h.ok() && std::any_of(h->begin(), h->end(), [&](const Message& m) {
             return m.id == *reply && m.outgoing && m.text == "sent from the phone";
           });
  };
  CHECK_MESSAGE(wait_for(copied, kDeliver), "the laptop's history shows the phone's message");
  auto at_alice = receive_until(*alice, [&](const std::vector<Message>& got) { return !got.empty(); });
  REQUIRE(at_alice.size() == 1);
  CHECK(at_alice[0].id == *reply);
  CHECK(alice->receive(0)->empty());
  CHECK(incoming_in_history(*phone, "alice") == sent.size());  // the copy is no incoming message on the phone

  // The phone removes the laptop: it gets nothing new and is logged out.
  REQUIRE(phone->remove_device(laptop->device_id()).ok());
  CHECK(phone->devices()->size() == 1);
  auto after = alice->send("bob", "after the laptop was removed");
  REQUIRE(after.ok());
  auto on_phone_after = receive_until(*phone, [](const std::vector<Message>& got) { return !got.empty(); });
  REQUIRE(on_phone_after.size() == 1);
  CHECK(on_phone_after[0].id == *after);
  auto refused = laptop->receive(0);
  CHECK(refused.status().code() == dws::Code::kForbidden);
  CHECK(refused.status().message().find("was removed from the account 'bob'") != std::string::npos);
  CHECK_FALSE(laptop->whoami().has_value());
  auto h = laptop->history("alice", "", 100);
  REQUIRE(h.ok());
  CHECK(std::none_of(h->begin(), h->end(), [&](const Message& m) { return m.id == *after; }));
  CHECK(phone->remove_device(laptop->device_id()).code() == dws::Code::kNotFound);

  // Logging in again lists the laptop anew; a logout takes it off the list.
  REQUIRE(laptop->login("bob", kPassword).ok());
  CHECK(phone->devices()->size() == 2);
  REQUIRE(laptop->logout().ok());
  CHECK(phone->devices()->size() == 1);
}

TEST_CASE("delivery: texts name their predecessor; one whose predecessor never comes is held, then released") {
  Ring ring(3);
  const ClientOptions alice_options = client_options(ring, ring.dir.sub("alice"));
  auto alice = registered(ring, alice_options.data_dir, "alice");
  auto bob = registered(ring, ring.dir.sub("bob"), "bob");
  dws::ClientTestAccess::set_hold_ms(*bob, 1500);
  std::vector<std::string> sent;
  for (const char* text : {"one", "two", "three"}) {
    auto id = alice->send("bob", text);
    REQUIRE_MESSAGE(id.ok(), id.status().to_string());
    sent.push_back(*id);
  }
  const auto got = ids_of(receive_until(*bob, [&](const std::vector<Message>& so_far) {
    return so_far.size() >= sent.size();
  }));
  REQUIRE(got.size() >= sent.size());
  CHECK(got == sent);
  CHECK(dws::ClientTestAccess::hold_counts(*bob).held == 0);

  // alice's store now names a predecessor that was never sent, as if it
  // were lost on the way: bob holds her next text back, then lets it out.
  alice.reset();
  dws::core::MessageId lost;
  {
    auto store = dws::client::LocalStore::open(alice_options.data_dir);
    REQUIRE(store.ok());
    auto last = (*store)->last_sent("bob");
    REQUIRE(last.ok());
    REQUIRE(last->has_value());
    CHECK(**last == sent.back());
    auto parsed = dws::core::MessageId::parse(**last);
    REQUIRE(parsed.ok());
    lost = *parsed;
    // Same millisecond, never sent: ids of one millisecond count up in the
    // low bytes, so the flip is in the high ones.
    lost.bytes[6] ^= 0x80;
    dws::core::WriteBatch b;
    dws::client::LocalStore::put_last_sent(b, "bob", lost.hex());
    REQUIRE((*store)->raw().apply(b).ok());
  }
  alice = open_client(alice_options);
  auto late = alice->send("bob", "after one that was lost");
  REQUIRE_MESSAGE(late.ok(), late.status().to_string());
  // Held: not handed out, not in the history, and a receive that waits does
  // not spin on the listing that answers at once; it waits for the hold.
  const auto start = std::chrono::steady_clock::now();
  const auto out = receive_until(*bob, [](const std::vector<Message>& so_far) { return !so_far.empty(); }, 5);
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(out.size() == 1);
  CHECK(out.front().id == *late);
  CHECK(out.front().text == "after one that was lost");
  CHECK_MESSAGE(took >= 1000ms, "expected the text held about 1.5 s, it came after "
                                    << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  const auto counts = dws::ClientTestAccess::hold_counts(*bob);
  CHECK(counts.held == 1);
  CHECK(counts.released == 1);
  CHECK(counts.holding == 0);
  CHECK(incoming_in_history(*bob, "alice") == 4);
}
