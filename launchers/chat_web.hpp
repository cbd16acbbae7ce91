// `dws-chat web`: the chat as a page in the browser, served on loopback by
// this process for the account in its data directory.
#pragma once

#include <string>

#include "dwhatsapp/client.hpp"

namespace dws_chat {

struct WebOptions {
  std::string listen = "127.0.0.1:0";  // loopback host and port (0: the OS picks)
  bool open_browser = false;           // also run xdg-open on the URL
};

/// Serves the page until SIGINT or SIGTERM; prints the URL (with its
/// session token) on a line of its own on stdout once it listens. Returns
/// the exit code; errors are printed as one "dws-chat: ..." line.
int run_web(dws::Client& client, const WebOptions& options);

}  // namespace dws_chat
