// A node's ring positions (virtual nodes, NodeOptions::vnodes): each with
// its own id, range, records, ring state and replicator, sharing the node's
// HTTP server, peer transport, ring secret and API. Position 0 sits at the
// node's address, position i at "<address>#i" (core::position_address);
// peers reach position i with ?at=i on the request target, and the node's
// own positions reach each other in process.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/env.hpp"
#include "dwhatsapp/types.hpp"

namespace dws::core {
class Replicator;
class Ring;
}  // namespace dws::core

namespace dws::node {

class NodeStore;

/// One ring position. Members are set once, when the node starts.
struct Position {
  Position();
  ~Position();
  Position(const Position&) = delete;
  Position& operator=(const Position&) = delete;

  PeerInfo self;
  std::unique_ptr<NodeStore> store;
  std::unique_ptr<core::Ring> ring;              // destroyed after the replicator that uses it
  std::unique_ptr<core::Replicator> replicator;
};

/// The transport a node's positions call peers through: a call to one of
/// the node's own positions is answered in process by `local`, as that
/// position would answer it over HTTP (the simulator runs whole rings this
/// way; it skips the loopback connection and the proof, which only prove
/// what the process knows); every other call goes to `remote`. Safe for
/// concurrent use once set_addresses() has been called.
class PositionTransport final : public core::Transport {
 public:
  using Local = std::function<Result<core::Response>(std::size_t position, const core::Request& request)>;
  /// REQUIRES: remote outlives this transport.
  PositionTransport(core::Transport& remote, Local local);

  /// The node's own positions' addresses, by position.
  /// REQUIRES: before the first call; not concurrently with calls.
  void set_addresses(std::vector<std::string> addresses) { addresses_ = std::move(addresses); }

  Result<core::Response> call(const core::Address& to, const core::Request& request,
                              core::Deadline deadline) override;
  /// The remote calls overlap as `remote` overlaps them; the local ones run
  /// one after the other on the calling thread.
  std::vector<Result<core::Response>> call_all(const std::vector<Call>& calls, core::Deadline deadline) override;

 private:
  // The position `to` names, or -1 when it is not one of ours.
  int local_position(const core::Address& to) const;

  core::Transport& remote_;
  Local local_;
  std::vector<std::string> addresses_;
};

}  // namespace dws::node
