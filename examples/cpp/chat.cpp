// Two people on a three-node ring, all in one process on loopback: alice and
// bob register, bob's background receiver prints alice's message as it
// arrives, and alice's history shows it delivered once bob's receipt is back.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dwhatsapp/client.hpp"
#include "dwhatsapp/node.hpp"

namespace {

using Clock = std::chrono::steady_clock;

int fail(const char* what, const dws::Status& status) {
  std::fprintf(stderr, "chat: %s: %s\n", what, status.to_string().c_str());
  return 1;
}

bool ring_formed(const std::vector<std::unique_ptr<dws::Node>>& nodes, const std::string& secret) {
  auto ring = dws::walk_ring(nodes.front()->address(), 4096, secret);
  if (!ring.ok() || ring->size() != nodes.size()) return false;
  for (const dws::RingView& v : *ring) {
    if (!v.predecessor || v.successors.empty()) return false;
  }
  return true;
}

// A fresh data directory per client, removed when the example ends.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "dws-example-chat-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path.empty()) std::filesystem::remove_all(path, ignored);
  }
};

}  // namespace

int main() {
  dws::NodeOptions node_options;
  node_options.listen = "127.0.0.1:0";
  node_options.stabilize_ms = 200;
  node_options.discovery_port = 0;
  node_options.log_level = "warn";
  // A private ring: the first node writes its secret here, the others read it.
  TempDir ring_dir;
  node_options.ring_secret_file = (ring_dir.path / "ring.secret").string();

  std::vector<std::unique_ptr<dws::Node>> nodes;
  auto first = dws::Node::create(node_options);
  if (!first.ok()) return fail("start a node", first.status());
  nodes.push_back(std::move(first).value());
  for (int i = 1; i < 3; ++i) {
    auto node = dws::Node::join(node_options, nodes.front()->address());
    if (!node.ok()) return fail("join a node", node.status());
    nodes.push_back(std::move(node).value());
  }
  const auto ring_deadline = Clock::now() + std::chrono::seconds(20);
  while (!ring_formed(nodes, node_options.ring_secret_file)) {
    if (Clock::now() > ring_deadline) {
      std::fprintf(stderr, "chat: no ring of 3 after 20 s\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  TempDir alice_dir, bob_dir;
  if (alice_dir.path.empty() || bob_dir.path.empty()) {
    std::fprintf(stderr, "chat: cannot create a temporary directory\n");
    return 1;
  }
  dws::ClientOptions alice_options;
  alice_options.data_dir = alice_dir.path.string();
  alice_options.servers = {nodes[0]->address()};
  dws::ClientOptions bob_options = alice_options;
  bob_options.data_dir = bob_dir.path.string();
  bob_options.servers = {nodes[1]->address()};

  auto alice = dws::Client::open(alice_options);
  if (!alice.ok()) return fail("open alice's client", alice.status());
  auto bob = dws::Client::open(bob_options);
  if (!bob.ok()) return fail("open bob's client", bob.status());
  if (auto st = (*alice)->register_account("alice", "alice's example password"); !st.ok()) {
    return fail("register alice", st);
  }
  if (auto st = (*bob)->register_account("bob", "bob's example password"); !st.ok()) return fail("register bob", st);

  // The callback runs on bob's receiver thread; main() waits for it here.
  std::mutex mu;
  std::condition_variable arrived;
  std::vector<dws::Message> inbox;
  auto started = (*bob)->start_receiving([&](const dws::Message& m) {
    std::printf("bob's receiver: %s from %s: %s\n", m.id.c_str(), m.from.c_str(), m.text.c_str());
    std::fflush(stdout);
    std::lock_guard lock(mu);
    inbox.push_back(m);
    arrived.notify_all();
  });
  if (!started.ok()) return fail("start bob's receiver", started);

  auto id = (*alice)->send("bob", "hello bob, from a client embedded in a C++ program");
  if (!id.ok()) return fail("send", id.status());
  std::printf("alice sent %s (stored by the ring)\n", id->c_str());
  {
    std::unique_lock lock(mu);
    bool got = arrived.wait_for(lock, std::chrono::seconds(20), [&] { return !inbox.empty(); });
    if (!got) {
      std::fprintf(stderr, "chat: bob received nothing within 20 s\n");
      return 1;
    }
    if (inbox.front().id != *id) {
      std::fprintf(stderr, "chat: bob received %s, alice sent %s\n", inbox.front().id.c_str(), id->c_str());
      return 1;
    }
  }
  (*bob)->stop_receiving();

  // Bob's client sent a receipt; alice's client takes it in with receive().
  const auto receipt_deadline = Clock::now() + std::chrono::seconds(20);
  while (true) {
    auto received = (*alice)->receive(1);
    if (!received.ok()) return fail("alice receives", received.status());
    auto history = (*alice)->history("bob");
    if (!history.ok()) return fail("alice's history", history.status());
    if (!history->empty() && history->back().state == dws::Delivery::kDelivered) break;
    if (Clock::now() > receipt_deadline) {
      std::fprintf(stderr, "chat: no delivery receipt at alice within 20 s\n");
      return 1;
    }
  }
  std::printf("alice's history: %s delivered\n", id->c_str());

  alice->reset();
  bob->reset();
  for (auto& node : nodes) node->stop();
  return 0;
}
