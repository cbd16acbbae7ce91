// Protocol messages as plain values. The transport decides how they travel:
// the simulator passes them by value, lib/net encodes them as JSON over HTTP.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/store_messages.hpp"
#include "dwhatsapp/types.hpp"

namespace dws::core {

// GET /v1/ring/ping
struct PingReq {};
struct PingResp {
  PeerInfo self;
};

// GET /v1/ring/state[?fingers=1]
struct StateReq {
  bool with_fingers = false;
};
struct StateResp {
  RingView view;  // fingers empty unless asked for
};

// GET /v1/ring/closest?key=<hex>[&exclude=<hex>,<hex>...]
// One step of an iterative lookup.
struct ClosestReq {
  Id key = 0;
  std::vector<Id> exclude;  // nodes the caller found dead: never answer them
};
struct ClosestResp {
  bool done = false;  // true: `node` is successor(key); false: ask `node` next
  PeerInfo node;
};

// POST /v1/ring/notify  {"id","address"}: "I think I am your predecessor".
struct NotifyReq {
  PeerInfo from;
};

// POST /v1/ring/leave: the sender leaves gracefully; its neighbours splice it
// out. The successor adopts `predecessor`, the predecessor adopts `successors`.
struct LeaveReq {
  PeerInfo leaving;
  std::optional<PeerInfo> predecessor;
  std::vector<PeerInfo> successors;
};

// GET /v1/ring/info
struct InfoReq {};
struct InfoResp {
  RingInfo info;
};

// An answer with no content (notify, leave).
struct Ack {};

// POST /v1/node/login: an entry node forwards a login to the user's
// primary, which alone counts failures per nickname (one limiter per
// nickname ring-wide). Answered by lib/node/api.cpp.
struct LoginReq {
  std::string nickname;  // stored form
  std::string auth_key;  // 32 bytes
  std::string source;    // the client's IP address as the entry node saw it
};
struct LoginResp {
  // > 0: too many failures, nothing was checked; retry after that long.
  std::int64_t retry_after_s = 0;
  // false (with retry_after_s 0): unknown nickname or wrong auth_key, alike.
  bool ok = false;
  std::string sealed_secret;  // ok only
  std::string public_key;     // ok only
  std::uint64_t version = 0;  // ok only
};

// GET /v1/node/users?prefix=<p>&limit=<k>: the users whose record this
// node holds as primary, nickname starting with prefix, sorted, at most
// limit. An entry node walks the ring with it for GET /v1/users.
struct UserListReq {
  std::string prefix;
  std::uint32_t limit = 50;
};
struct UserListEntry {
  std::string nickname;
  std::string display_name;
  bool operator==(const UserListEntry&) const = default;
};
struct UserListResp {
  std::vector<UserListEntry> users;
};

using Request = std::variant<PingReq, StateReq, ClosestReq, NotifyReq, LeaveReq, InfoReq, StorePutReq, StoreGetReq,
                             StoreSyncReq, StoreScanReq, LoginReq, UserListReq>;
using Response = std::variant<Ack, PingResp, StateResp, ClosestResp, InfoResp, StorePutResp, StoreGetResp,
                              StoreSyncResp, StoreScanResp, LoginResp, UserListResp>;

}  // namespace dws::core
