// Protocol messages as plain values. The transport decides how they travel:
// the simulator passes them by value, lib/net encodes them as JSON over HTTP.
#pragma once

#include <optional>
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

using Request = std::variant<PingReq, StateReq, ClosestReq, NotifyReq, LeaveReq, InfoReq, StorePutReq, StoreGetReq,
                             StoreSyncReq>;
using Response = std::variant<Ack, PingResp, StateResp, ClosestResp, InfoResp, StorePutResp, StoreGetResp,
                              StoreSyncResp>;

}  // namespace dws::core
