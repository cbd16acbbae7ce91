// What the terminal parts of dws-chat share: the one-line error, text made
// safe for a terminal, local times, and terminal modes put back on exit.
#pragma once

#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

#include "dwhatsapp/client.hpp"
#include "dwhatsapp/status.hpp"

namespace dws_chat {

inline int fail(const std::string& message) {
  std::fprintf(stderr, "dws-chat: %s\n", message.c_str());
  return 1;
}

inline int fail(const dws::Status& status) { return fail(status.message()); }

// Settings to put back however the program leaves (a signal included), so a
// password prompt or a chat session never leaves the terminal without echo.
inline termios g_saved_attrs;
inline volatile sig_atomic_t g_saved_fd = -1;

inline void restore_terminal() {
  if (g_saved_fd >= 0) {
    tcsetattr(g_saved_fd, TCSAFLUSH, &g_saved_attrs);
    g_saved_fd = -1;
  }
}

inline void on_fatal_signal(int sig) {
  restore_terminal();
  signal(sig, SIG_DFL);
  raise(sig);
}

// Changes the terminal on `fd` for the lifetime of the object.
class TerminalMode {
 public:
  TerminalMode(int fd, void (*change)(termios&)) {
    termios attrs;
    if (tcgetattr(fd, &attrs) != 0) return;
    g_saved_attrs = attrs;
    g_saved_fd = fd;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) signal(sig, on_fatal_signal);
    change(attrs);
    tcsetattr(fd, TCSAFLUSH, &attrs);
  }
  ~TerminalMode() { restore_terminal(); }
  TerminalMode(const TerminalMode&) = delete;
  TerminalMode& operator=(const TerminalMode&) = delete;
};

// Text from other people goes to a terminal: control characters (escape
// sequences included) are replaced so a message cannot drive the terminal,
// and a newline is shown as a mark so one message stays on one line.
inline std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b == '\n') {
      out += "\u23ce";
    } else if (b == '\t') {
      out += ' ';
    } else if (b < 0x20 || b == 0x7f) {
      out += "\ufffd";
    } else if (b == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      out += "\ufffd";  // C1 controls, which some terminals obey as well
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

inline std::string local_time(std::int64_t unix_ms, const char* format) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

inline constexpr const char* kDateTime = "%Y-%m-%d %H:%M:%S";
inline constexpr const char* kClock = "%H:%M";

// The ticks of an outgoing message, as the chat view and history show them.
inline const char* delivery_mark(dws::Delivery state) {
  switch (state) {
    case dws::Delivery::kQueued: return "\u2026 queued";
    case dws::Delivery::kSending: return "sending";
    case dws::Delivery::kStored: return "\u2713 stored";
    case dws::Delivery::kDelivered: return "\u2713\u2713 delivered";
    case dws::Delivery::kRead: return "\u2713\u2713 read";
    case dws::Delivery::kReceived: return "";
  }
  return "";
}

// How a peer is shown: the alias given to the contact, else the nickname.
inline std::string shown_name(const dws::Client& client, const std::string& nick) {
  auto contacts = client.contacts();
  if (contacts.ok())
    for (const dws::Contact& c : *contacts)
      if (c.nickname == nick && !c.alias.empty()) return printable(c.alias);
  return nick;
}

}  // namespace dws_chat
