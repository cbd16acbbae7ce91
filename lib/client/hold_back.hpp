// Per-sender order at the application (docs/design.md, "Delivery: per-sender
// order"): a kText2 message names the sender's previous message to this
// recipient, and a device holds a message back (does not hand it out, does
// not acknowledge it) until it has handed out that predecessor, for a
// bounded time; then it releases it anyway, and counts that.
//
// Pure: no clock, no I/O; the caller passes the time and its seen set. Not
// safe for concurrent use: one receive cycle at a time calls it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/envelope.hpp"

namespace dws::client {

/// One unseen message of a listing, as far as ordering cares.
struct Arrival {
  core::MessageId id;
  std::optional<core::MessageId> prev;  // none: the first, or an old kText
};

enum class Verdict : std::uint8_t {
  kDeliver,  // its predecessor was handed out first (or it has none)
  kRelease,  // handed out without its predecessor: the hold ran out
  kHold,     // not now: neither handed out nor acknowledged
};

struct Decision {
  std::size_t index;  // into the batch given to decide()
  Verdict verdict;
};

class HoldBack {
 public:
  /// REQUIRES: hold_ms > 0.
  explicit HoldBack(std::int64_t hold_ms) : hold_ms_(hold_ms) {}

  /// Decides for one listing's unseen messages (any order, ids unique).
  /// Every message comes back once: first the ones to hand out, in the
  /// order to hand them out (each after its predecessor when that is in the
  /// batch too), then the held ones. A message is held while its
  /// predecessor is not `delivered` and both of these last: hold_ms since
  /// this object first held it, and hold_ms since the time in its id (the
  /// sender's clock: the lag being waited out is replication after the
  /// send). An id hold_ms or more in the future of `now_ms` (a sender clock
  /// ahead) is not held at all.
  std::vector<Decision> decide(const std::vector<Arrival>& batch,
                               const std::function<bool(const core::MessageId&)>& delivered, std::int64_t now_ms);

  /// The earliest time a message held now is released at the latest;
  /// nullopt when none is held.
  std::optional<std::int64_t> next_release() const;
  std::size_t holding() const { return deadline_.size(); }
  /// Messages ever held (each once), and messages handed out without their
  /// predecessor (held until the bound, or too old or too new to hold).
  std::uint64_t held_total() const { return held_total_; }
  std::uint64_t released_total() const { return released_total_; }
  void set_hold_ms(std::int64_t hold_ms) { hold_ms_ = hold_ms; }
  std::int64_t hold_ms() const { return hold_ms_; }

 private:
  std::int64_t hold_ms_;
  std::map<core::MessageId, std::int64_t> deadline_;  // held id -> when it is released
  std::uint64_t held_total_ = 0;
  std::uint64_t released_total_ = 0;
};

}  // namespace dws::client
