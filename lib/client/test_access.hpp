// Hooks for tests into a dws::Client; not part of the installed API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "dwhatsapp/client.hpp"

namespace dws {

struct ClientTestAccess {
  /// Runs after a receive cycle's local commit and callbacks, before its
  /// ack; returning false ends the cycle there, as a crash would.
  static void set_before_ack(Client& client, std::function<bool()> hook);
  /// How long a text waits for its sender's previous one (default 15 s).
  static void set_hold_ms(Client& client, std::int64_t hold_ms);
  /// Texts held back so far, those handed out without their predecessor,
  /// and those held now.
  struct HoldCounts {
    std::uint64_t held = 0;
    std::uint64_t released = 0;
    std::size_t holding = 0;
  };
  static HoldCounts hold_counts(Client& client);
  /// Sessions the logged-in account opened, and dropped after a node
  /// refused one (docs/protocol.md section 5.1); zeros when logged out.
  struct SessionCounts {
    std::uint64_t opened = 0;
    std::uint64_t dropped = 0;
  };
  static SessionCounts session_counts(Client& client);
};

}  // namespace dws
