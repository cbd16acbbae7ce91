#include "sim/user_sim.hpp"

namespace dws::sim {

namespace {

StoreSimOptions validated(StoreSimOptions o) {
  o.validate = true;
  return o;
}

bool is_store_request(const core::Request& r) {
  return std::holds_alternative<core::StorePutReq>(r) || std::holds_alternative<core::StoreGetReq>(r) ||
         std::holds_alternative<core::StoreSyncReq>(r);
}

}  // namespace

UserSim::UserSim(std::uint64_t seed, UserSimOptions options)
    : opt_(options), store_(seed, validated(options.store)) {}

UserSim::~UserSim() {
  // Users and mailboxes hold references into the store's node objects.
  nodes_.clear();
}

Status UserSim::start(const Address& address) {
  Status st = store_.start(address);
  if (!st.ok()) return st;
  core::Ring* ring = store_.ring_sim().ring(address);
  core::Replicator* repl = store_.replicator(address);
  Node& node = nodes_[address];
  node.users = std::make_unique<core::Users>(*ring, *repl, *store_.records(address), net().endpoint(address),
                                             opt_.users);
  node.mailbox = std::make_unique<core::Mailbox>(*repl, opt_.mailbox);
  core::Users* users = node.users.get();
  // As a node's peer surface does: logins and user lists go to Users.
  net().attach(address, [this, ring, repl, users](const core::Request& req) -> Result<core::Response> {
    if (core::Users::handles(req)) return users->handle(req, now());
    return is_store_request(req) ? repl->handle(req) : ring->handle(req);
  });
  return Status::Ok();
}

void UserSim::crash(const Address& address) {
  nodes_.erase(address);
  store_.crash(address);
}

core::Users* UserSim::users(const Address& address) {
  auto it = nodes_.find(address);
  return it == nodes_.end() ? nullptr : it->second.users.get();
}

core::Mailbox* UserSim::mailbox(const Address& address) {
  auto it = nodes_.find(address);
  return it == nodes_.end() ? nullptr : it->second.mailbox.get();
}

Result<Address> UserSim::primary_via(const Address& entry, Id key) {
  core::Ring* ring = store_.ring_sim().ring(entry);
  if (ring == nullptr || users(entry) == nullptr) return Status::Unavailable("sim: " + entry + " is not live");
  auto found = ring->lookup(key);
  if (!found.ok()) return found.status();
  return found->node.address;
}

}  // namespace dws::sim
