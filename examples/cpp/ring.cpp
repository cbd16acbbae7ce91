// Three ring members in one process on loopback: start them, wait until
// they form one ring, print it, stop them gracefully.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <memory>
#include <thread>
#include <vector>

#include "dwhatsapp/node.hpp"

namespace {

bool ring_formed(const std::vector<std::unique_ptr<dws::Node>>& nodes, const std::string& secret) {
  auto ring = dws::walk_ring(nodes.front()->address(), 4096, secret);
  if (!ring.ok() || ring->size() != nodes.size()) return false;
  for (const dws::RingView& v : *ring) {
    if (!v.predecessor || v.successors.empty()) return false;
  }
  return true;
}

}  // namespace

int main() {
  dws::NodeOptions options;
  options.listen = "127.0.0.1:0";  // the OS picks free ports
  options.stabilize_ms = 200;
  options.discovery_port = 0;      // no UDP responder needed here
  options.log_level = "warn";
  // A private ring: the first node writes its secret to this file (created
  // if absent), the others are given it, as `dws-node join --ring-secret`.
  std::string dir = (std::filesystem::temp_directory_path() / "dws-example-ring-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) {
    std::fprintf(stderr, "ring: cannot make a temporary directory\n");
    return 1;
  }
  options.ring_secret_file = dir + "/ring.secret";
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{dir};

  std::vector<std::unique_ptr<dws::Node>> nodes;
  auto first = dws::Node::create(options);
  if (!first.ok()) {
    std::fprintf(stderr, "ring: %s\n", first.status().to_string().c_str());
    return 1;
  }
  nodes.push_back(std::move(first).value());
  for (int i = 1; i < 3; ++i) {
    auto node = dws::Node::join(options, nodes.front()->address());
    if (!node.ok()) {
      std::fprintf(stderr, "ring: %s\n", node.status().to_string().c_str());
      return 1;
    }
    nodes.push_back(std::move(node).value());
  }

  // Stabilization links the ring within a few periods; give up after 10 s.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ring_formed(nodes, options.ring_secret_file)) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "ring: no ring of 3 after 10 s\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  auto ring = dws::walk_ring(nodes.front()->address(), 4096, options.ring_secret_file);
  if (!ring.ok()) {
    std::fprintf(stderr, "ring: %s\n", ring.status().to_string().c_str());
    return 1;
  }
  for (const dws::RingView& v : *ring) {
    std::printf("%016llx  %-21s  predecessor %-21s  successor %s\n",
                static_cast<unsigned long long>(v.self.id), v.self.address.c_str(),
                v.predecessor ? v.predecessor->address.c_str() : "-",
                v.successors.empty() ? "-" : v.successors.front().address.c_str());
  }
  for (auto& node : nodes) node->stop();
  return 0;
}
