// Chord membership as Zave corrected it ("Reasoning about identifier spaces:
// how to make Chord correct", IEEE TSE 2017): join, stabilize, rectify,
// successor list, fingers, iterative lookup, graceful leave.
//
// No I/O here: the ring talks to other nodes only through a Transport, reads
// time only from a Clock and draws randomness only from an Rng, so the
// simulator can run a thousand of them on one thread. All public methods are
// thread-safe; state sits behind one mutex that is never held across a
// Transport call.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/env.hpp"
#include "core/messages.hpp"
#include "dwhatsapp/status.hpp"
#include "dwhatsapp/types.hpp"

namespace dws::core {

/// What changed in a node's view, for logs and tests.
struct RingEvent {
  enum class Kind { kSuccessor, kPredecessor, kPeerDead, kJoined, kLeft };
  Kind kind;
  std::optional<PeerInfo> peer;  // the new successor/predecessor, or the dead peer
};

/// The result of a lookup: the node responsible for the key and how many
/// nodes were asked to find it.
struct LookupResult {
  PeerInfo node;
  int hops = 0;
};

/// Counters exported as Prometheus metrics.
struct RingMetrics {
  std::uint64_t lookups = 0;
  std::uint64_t lookup_failures = 0;
  std::array<std::uint64_t, 16> hops_histogram{};  // [i] = lookups that took i hops (last bucket: more)
  std::uint64_t stabilize_rounds = 0;
  std::uint64_t peer_call_errors = 0;
  std::uint64_t ring_changes = 0;
};

struct RingOptions {
  int successor_list = 4;     // r: distinct live successors kept
  int fingers_per_tick = 2;   // round-robin refreshes per fix_fingers call (plus one random)
  int max_hops = 128;         // 2 x 64 bits
  Deadline call_deadline{1000};
  int max_dead_peers = 32;    // remembered dead peers, probed to heal partitions
  RingInfo info;              // what GET /v1/ring/info answers
  // How a peer's id follows from its address; empty: core::node_id, as in
  // production and the simulator. Unit tests name their peers by hand.
  std::function<Id(const Address&)> id_of;
};

class Ring {
 public:
  Ring(PeerInfo self, RingOptions options, Transport& transport, Clock& clock, Rng& rng);
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  /// Called on every change of successor or predecessor and on a dead peer.
  /// Runs on the thread that made the change, without the ring's lock held.
  void set_listener(std::function<void(const RingEvent&)> listener);

  // --- Membership -----------------------------------------------------------

  /// Start a new ring of one node.
  void create();
  /// Join through any member: look up successor(self) and adopt its list.
  /// Forgets any previous pointers (a restarted node rejoins as a new node).
  Status join(const Address& bootstrap);
  /// Graceful leave: tell predecessor and successor, then forget everything.
  void leave();

  // --- Periodic work (the caller schedules these) ---------------------------

  /// One stabilization round: fix successor list, notify successor,
  /// check the predecessor, probe one remembered dead peer.
  void stabilize();
  /// Refresh a few fingers (round-robin plus one random).
  void fix_fingers();

  // --- Lookups ----------------------------------------------------------------

  /// Iterative lookup of successor(key) starting at this node.
  Result<LookupResult> lookup(Id key);

  // --- Protocol handlers (the transport's server side) -----------------------

  /// Answers any ring request. Never calls the transport while locked.
  Result<Response> handle(const Request& request);

  // --- Introspection ----------------------------------------------------------

  const PeerInfo& self() const { return self_; }
  RingView view(bool with_fingers = true) const;
  std::optional<PeerInfo> predecessor() const;
  std::vector<PeerInfo> successors() const;
  /// key in (predecessor, self]: this node is the key's primary. With no
  /// predecessor known, only when the node is alone.
  bool responsible_for(Id key) const;
  /// Whether this node may act as `key`'s primary in place of `gone`: `gone`
  /// is its predecessor, owns `key` (key in (?, gone]), and does not answer
  /// this node either (a ping, bounded by the call deadline). The write-
  /// through of an entry node that could not reach a key's primary.
  bool may_take_over(Id key, Id gone);
  bool joined() const;
  RingMetrics metrics() const;

 private:
  using Events = std::vector<RingEvent>;

  // One step of an iterative lookup answered from this node's own state:
  // "done, node is successor(key)" or "ask node next".
  Result<ClosestResp> closest_locked(Id key, const std::vector<Id>& exclude) const;
  // Lookup of successor(key) that starts with a local step; nodes that did
  // not answer are forgotten as fingers and remembered as dead.
  Result<LookupResult> lookup_internal(Id key, std::vector<Id> exclude);
  // The successor list made of `candidates` in ring order: distinct, never
  // self, stopping where the order would wrap past self, at most r long.
  std::vector<PeerInfo> normalize(const std::vector<PeerInfo>& candidates) const;
  // After every successor failed: find a new one through any known node.
  std::optional<PeerInfo> find_successor_through_known(const std::vector<Id>& failed);
  void check_predecessor();
  void probe_dead_peer();
  // Asks the ring through a random finger who our successor should be: what
  // repairs a node whose successor is too far (a join that raced others, a
  // loop left by a partition) in one round instead of a walk.
  void verify_successor();
  void adopt_successor_seen_by(const PeerInfo& peer);
  // Makes `node` the first successor if it lies before the current one and
  // answers a ping.
  void adopt_if_closer(const PeerInfo& node);
  void rectify(const PeerInfo& from);
  void splice_out(const LeaveReq& leave);
  Result<Response> call(const PeerInfo& peer, const Request& request);

  // Membership cannot be claimed: a peer's id must be id_of(its address),
  // and a node becomes a pointer only once it answers a ping as itself.
  bool genuine(const PeerInfo& peer) const;
  bool answers_as(const PeerInfo& peer);
  // The successor list made of `candidates` (normalized, forged entries
  // dropped) keeping only entries that are already successors, are
  // `verified`, or answer a ping now.
  std::vector<PeerInfo> checked_list(const std::vector<PeerInfo>& candidates, std::optional<Id> verified);

  // REQUIRES: mu_ held by the caller for every *_locked method.
  void set_successors_locked(std::vector<PeerInfo> list, Events& events);
  void set_predecessor_locked(std::optional<PeerInfo> pred, Events& events);
  void declare_dead_locked(const PeerInfo& peer, bool announce, Events& events);
  void remember_dead_locked(const PeerInfo& peer);
  void forget_finger_locked(Id id);
  void reset_locked();
  void emit(const Events& events);

  PeerInfo self_;
  RingOptions opt_;
  Transport& transport_;
  Clock& clock_;
  Rng& rng_;

  mutable std::mutex mu_;
  bool joined_ = false;
  std::optional<PeerInfo> pred_;
  std::vector<PeerInfo> succ_;                 // distinct, never self, size <= r
  std::array<std::optional<PeerInfo>, 64> finger_{};
  int next_finger_ = 0;
  std::vector<std::pair<PeerInfo, std::int64_t>> dead_;  // peer, when declared dead (monotonic ms)
  std::size_t next_probe_ = 0;
  RingMetrics metrics_;
  std::function<void(const RingEvent&)> listener_;
};

/// Iterative lookup of successor(key) from any node, as a client does it:
/// ask `start`, follow "ask m" answers, skip nodes that do not answer.
/// Fails with kUnavailable after `max_hops` or when every path is dead.
/// Nodes named with an id that is not id_of(address) (empty: core::node_id)
/// count as no answer.
Result<LookupResult> lookup_from(Transport& transport, const Address& start, Id key, int max_hops = 128,
                                 Deadline deadline = {}, const std::function<Id(const Address&)>& id_of = {});

}  // namespace dws::core
