// The user layer in the deterministic simulator (tests only): a StoreSim
// whose nodes also run core::Users and core::Mailbox, the objects a node's
// HTTP handlers call (lib/node/api.cpp), with every record checked by the
// real validator. A crash drops them with the node's replicator; the disk
// stays. Single-threaded, like SimNetwork.
#pragma once

#include <map>
#include <memory>

#include "core/mailbox.hpp"
#include "core/users.hpp"
#include "sim/store_sim.hpp"

namespace dws::sim {

struct UserSimOptions {
  StoreSimOptions store;  // validate is forced on: users sign what they store
  core::UsersOptions users;
  core::MailboxOptions mailbox;
};

class UserSim {
 public:
  explicit UserSim(std::uint64_t seed, UserSimOptions options = {});
  ~UserSim();

  StoreSim& store() { return store_; }
  SimNetwork& net() { return store_.net(); }
  core::Rng& rng() { return store_.rng(); }
  std::int64_t now() { return net().clock().wall_ms(); }

  Status start(const Address& address);
  void crash(const Address& address);
  void round() { store_.round(); }

  std::vector<Address> live_nodes() const { return store_.live_nodes(); }
  std::vector<Address> down_nodes() const { return store_.down_nodes(); }

  /// nullptr when `address` is not live.
  core::Users* users(const Address& address);
  core::Mailbox* mailbox(const Address& address);
  /// The primary of `key` as `entry`'s ring finds it (how a client is
  /// routed), or the lookup's error.
  Result<Address> primary_via(const Address& entry, Id key);

 private:
  struct Node {
    std::unique_ptr<core::Users> users;
    std::unique_ptr<core::Mailbox> mailbox;
  };

  UserSimOptions opt_;
  StoreSim store_;
  std::map<Address, Node> nodes_;
};

}  // namespace dws::sim
