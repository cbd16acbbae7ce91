// Hooks for tests into a dws::Client; not part of the installed API.
#pragma once

#include <functional>

#include "dwhatsapp/client.hpp"

namespace dws {

struct ClientTestAccess {
  /// Runs after a receive cycle's local commit and callbacks, before its
  /// ack; returning false ends the cycle there, as a crash would.
  static void set_before_ack(Client& client, std::function<bool()> hook);
};

}  // namespace dws
