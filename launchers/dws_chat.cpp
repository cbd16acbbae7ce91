// dws-chat: the messenger in a terminal. Argument parsing, reading passwords
// and printing only: everything else is dws::Client, so an embedding
// application can do whatever this program does.
#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "dwhatsapp/client.hpp"
#include "dwhatsapp/status.hpp"

namespace {

constexpr const char* kNotLoggedIn = "not logged in: run dws-chat login NICK first";

int fail(const std::string& message) {
  std::fprintf(stderr, "dws-chat: %s\n", message.c_str());
  return 1;
}

int fail(const dws::Status& status) { return fail(status.message()); }

// --- The terminal ---------------------------------------------------------------

// Settings to put back however the program leaves (a signal included), so a
// password prompt or a chat session never leaves the terminal without echo.
termios g_saved_attrs;
volatile sig_atomic_t g_saved_fd = -1;

void restore_terminal() {
  if (g_saved_fd >= 0) {
    tcsetattr(g_saved_fd, TCSAFLUSH, &g_saved_attrs);
    g_saved_fd = -1;
  }
}

extern "C" void on_fatal_signal(int sig) {
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

// Where passwords come from: one line of standard input per password with
// --password-stdin, otherwise the terminal without echo.
class Passwords {
 public:
  explicit Passwords(bool from_stdin) : from_stdin_(from_stdin) {}

  dws::Result<std::string> ask(const std::string& prompt) {
    if (from_stdin_) {
      std::string line;
      if (!std::getline(std::cin, line)) {
        return dws::Status::InvalidArgument(
            "no password on standard input (--password-stdin reads one line per password)");
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    // /dev/tty rather than stdin: the password is asked of the person even
    // when the output goes to a pipe.
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      return dws::Status::InvalidArgument("no terminal to ask for the password: pipe it in with --password-stdin");
    }
    std::string line;
    {
      TerminalMode no_echo(fd, [](termios& t) { t.c_lflag &= ~static_cast<tcflag_t>(ECHO); });
      write_all(fd, prompt);
      char c;
      while (true) {
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || c == '\n') break;
        line += c;
      }
      write_all(fd, "\n");
    }
    close(fd);
    return line;
  }

  // A new password: asked twice on a terminal, read once from stdin.
  dws::Result<std::string> ask_new(const std::string& prompt) {
    dws::Result<std::string> first = ask(prompt);
    if (!first.ok() || from_stdin_) return first;
    dws::Result<std::string> again = ask("again: ");
    if (!again.ok()) return again;
    if (*again != *first) return dws::Status::InvalidArgument("the two passwords differ: nothing was changed");
    return first;
  }

 private:
  static void write_all(int fd, const std::string& s) {
    size_t done = 0;
    while (done < s.size()) {
      ssize_t n = write(fd, s.data() + done, s.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

  bool from_stdin_;
};

// --- Printing ---------------------------------------------------------------------

// Text from other people goes to a terminal: control characters (escape
// sequences included) are replaced so a message cannot drive the terminal,
// and a newline is shown as a mark so one message stays on one line.
std::string printable(const std::string& text) {
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

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string local_time(std::int64_t unix_ms, const char* format) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

constexpr const char* kDateTime = "%Y-%m-%d %H:%M:%S";
constexpr const char* kClock = "%H:%M";

const char* delivery_mark(dws::Delivery state) {
  switch (state) {
    case dws::Delivery::kSending: return "sent";
    case dws::Delivery::kStored: return "stored";
    case dws::Delivery::kDelivered: return "delivered";
    case dws::Delivery::kReceived: return "";
    case dws::Delivery::kRead: return "read";
    case dws::Delivery::kQueued: return "queued";
  }
  return "";
}

void print_message_line(const dws::Message& m) {
  std::printf("%s  %s: %s\n", local_time(m.sent_at, kDateTime).c_str(), m.from.c_str(), printable(m.text).c_str());
}

void print_message_json(const dws::Message& m) {
  std::printf("{\"id\": %s, \"from\": %s, \"to\": %s, \"sent_at\": %lld, \"text\": %s}\n", json_string(m.id).c_str(),
              json_string(m.from).c_str(), json_string(m.to).c_str(), static_cast<long long>(m.sent_at),
              json_string(m.text).c_str());
}

// --- chat NICK ----------------------------------------------------------------------

// The screen of an interactive chat: a prompt line being edited, with lines
// printed above it as messages arrive. The receiver thread and the typing
// thread both print, so every write goes through show() under one lock.
class ChatScreen {
 public:
  explicit ChatScreen(bool raw) : raw_(raw) {}

  void show(const std::string& line) {
    std::lock_guard lock(mu_);
    if (raw_) {
      std::string out = "\r\033[K" + line + "\n" + kPrompt + line_;
      std::fwrite(out.data(), 1, out.size(), stdout);
    } else {
      std::fprintf(stdout, "%s\n", line.c_str());
    }
    std::fflush(stdout);
  }

  // Feeds typed bytes to the line editor; returns the finished lines, and
  // sets `quit` on Ctrl-C, or on Ctrl-D at an empty line.
  std::vector<std::string> type(const char* bytes, size_t n, bool& quit) {
    std::lock_guard lock(mu_);
    std::vector<std::string> done;
    for (size_t i = 0; i < n && !quit; ++i) {
      const auto c = static_cast<unsigned char>(bytes[i]);
      if (escape_ > 0) {
        // Skip an escape sequence (arrow keys and the like): ESC [ ... final byte.
        if (escape_ == 1 && c == '[') {
          escape_ = 2;
        } else if (escape_ == 1 || (c >= 0x40 && c <= 0x7e)) {
          escape_ = 0;
        }
        continue;
      }
      if (c == '\r' || c == '\n') {
        done.push_back(line_);
        line_.clear();
      } else if (c == 0x7f || c == '\b') {
        // Remove one UTF-8 character: its continuation bytes, then its lead.
        while (!line_.empty() && (static_cast<unsigned char>(line_.back()) & 0xc0) == 0x80) line_.pop_back();
        if (!line_.empty()) line_.pop_back();
      } else if (c == 0x15) {
        line_.clear();
      } else if (c == 0x03 || (c == 0x04 && line_.empty())) {
        quit = true;
      } else if (c == 0x1b) {
        escape_ = 1;
      } else if (c >= 0x20) {
        line_ += static_cast<char>(c);
      }
    }
    std::string out = "\r\033[K" + std::string(kPrompt) + line_;
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return done;
  }

  void leave() {
    std::lock_guard lock(mu_);
    if (raw_) std::fputs("\r\033[K", stdout);
    std::fflush(stdout);
  }

  static constexpr const char* kPrompt = "> ";

 private:
  std::mutex mu_;
  bool raw_;
  std::string line_;
  int escape_ = 0;
};

std::string chat_line(const dws::Message& m, const std::string& peer) {
  std::string when = local_time(m.outgoing ? m.sent_at : (m.received_at ? m.received_at : m.sent_at), kClock);
  if (m.outgoing) return when + " you: " + printable(m.text);
  if (m.from == peer) return when + " " + m.from + ": " + printable(m.text);
  return when + " [" + m.from + "] " + printable(m.text) + "   (dws-chat chat " + m.from + " to answer)";
}

int run_chat(dws::Client& client, const std::string& peer) {
  dws::Result<std::vector<dws::Message>> recent = client.history(peer, "", 10);
  if (!recent.ok()) return fail(recent.status());

  const bool raw = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  std::optional<TerminalMode> mode;
  if (raw) {
    mode.emplace(STDIN_FILENO, [](termios& t) {
      // Byte at a time, no echo (the line editor echoes), Ctrl-C as a byte.
      t.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG | IEXTEN);
      t.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
      t.c_cc[VMIN] = 1;
      t.c_cc[VTIME] = 0;
    });
  }
  ChatScreen screen(raw);
  screen.show("chat with " + peer + ": type a line and Enter to send; /quit " + (raw ? "or Ctrl-D " : "") +
              "leaves");
  for (const dws::Message& m : *recent) screen.show(chat_line(m, peer));

  dws::Status receiving = client.start_receiving([&screen, &peer](const dws::Message& m) {
    screen.show(chat_line(m, peer));
  });
  if (!receiving.ok()) {
    screen.leave();
    mode.reset();
    return fail(receiving);
  }

  auto send_line = [&](const std::string& line) {
    if (line.empty()) return;
    dws::Result<std::string> id = client.send(peer, line);
    if (id.ok()) {
      dws::Message shown;
      shown.outgoing = true;
      shown.text = line;
      shown.sent_at = static_cast<std::int64_t>(std::time(nullptr)) * 1000;
      screen.show(chat_line(shown, peer));
    } else {
      screen.show("dws-chat: " + id.status().message());
    }
  };

  bool quit = false;
  if (raw) {
    char buf[256];
    while (!quit) {
      ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      for (const std::string& line : screen.type(buf, static_cast<size_t>(n), quit)) {
        if (line == "/quit") {
          quit = true;
          break;
        }
        send_line(line);
      }
    }
  } else {
    std::string line;
    while (!quit && std::getline(std::cin, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line == "/quit") break;
      send_line(line);
    }
  }
  client.stop_receiving();
  screen.leave();
  mode.reset();
  dws::Status read = client.mark_read(peer);
  if (!read.ok()) return fail(read);
  return 0;
}

// --- The rest of the subcommands -----------------------------------------------------

std::string default_data_dir() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/dwhatsapp";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') return std::string(home) + "/.local/share/dwhatsapp";
  return "";
}

int print_chats(const dws::Client& client) {
  dws::Result<std::vector<dws::Chat>> chats = client.chats();
  if (!chats.ok()) return fail(chats.status());
  if (chats->empty()) std::printf("no conversations yet: dws-chat send NICK TEXT starts one\n");
  for (const dws::Chat& c : *chats) {
    std::string last = (c.last.outgoing ? "you: " : "") + printable(c.last.text);
    std::printf("%-20s  %3d unread  %s  %s\n", c.peer.c_str(), c.unread, local_time(c.last.sent_at, kDateTime).c_str(),
                last.c_str());
  }
  return 0;
}

int print_history(dws::Client& client, const std::string& peer, int limit) {
  dws::Result<std::vector<dws::Message>> messages = client.history(peer, "", limit);
  if (!messages.ok()) return fail(messages.status());
  for (const dws::Message& m : *messages) {
    std::string line = local_time(m.sent_at, kDateTime) + "  " + m.from + ": " + printable(m.text);
    if (m.outgoing) line += std::string("  [") + delivery_mark(m.state) + "]";
    std::printf("%s\n", line.c_str());
  }
  dws::Status read = client.mark_read(peer);
  return read.ok() ? 0 : fail(read);
}

int print_contacts(const dws::Client& client) {
  dws::Result<std::vector<dws::Contact>> contacts = client.contacts();
  if (!contacts.ok()) return fail(contacts.status());
  if (contacts->empty()) std::printf("no contacts: dws-chat contacts add NICK adds one\n");
  for (const dws::Contact& c : *contacts) {
    std::string line = c.nickname;
    if (!c.alias.empty()) line += " (" + printable(c.alias) + ")";
    if (!c.display_name.empty()) line += "  \"" + printable(c.display_name) + "\"";
    line += "  key " + c.public_key.substr(0, 16);
    if (c.key_changed) {
      line += "  KEY CHANGED on the ring: messages under the new key are refused; dws-chat contacts add " +
              c.nickname + " accepts it";
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // cpp-httplib's TLS client writes with SSL_write on a plain socket: a peer
  // that closed must be an error returned, not a SIGPIPE that kills us.
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"dws-chat: end-to-end encrypted messages over a dwhatsapp ring"};
  app.require_subcommand(1);
  // Global options may also follow the subcommand: `dws-chat inbox --data DIR`.
  app.fallthrough();

  dws::ClientOptions options;
  options.data_dir = default_data_dir();
  app.add_option("--server", options.servers,
                 "HOST:PORT of a ring member; repeatable (default: the saved list, then UDP discovery)")
      ->allow_extra_args(false)
      ->delimiter(',');
  app.add_option("--data", options.data_dir,
                 "data directory (default: $XDG_DATA_HOME/dwhatsapp or ~/.local/share/dwhatsapp)");
  app.add_option("--ring", options.ring_name, "ring name for discovery")->capture_default_str();
  app.add_option("--tls-ca", options.tls_ca, "PEM ring CA: talk HTTPS to servers and verify them against it");
  app.add_option("--discovery-port", options.discovery_port, "UDP discovery port")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));

  std::string nick;
  std::string alias;
  std::vector<std::string> words;
  bool password_stdin = false;
  bool json = false;
  int wait_s = 0;
  int limit = 50;

  CLI::App* reg = app.add_subcommand("register", "create an account on the ring and log in");
  reg->add_option("NICK", nick, "nickname: 1 to 32 of a-z, 0-9, '_', '.', '-'")->required();
  reg->add_flag("--password-stdin", password_stdin, "read the password from the first line of standard input");

  CLI::App* login = app.add_subcommand("login", "recover an account from the ring with its password");
  login->add_option("NICK", nick, "nickname")->required();
  login->add_flag("--password-stdin", password_stdin, "read the password from the first line of standard input");

  CLI::App* logout = app.add_subcommand("logout", "lock the account in this data directory (history stays)");
  CLI::App* whoami = app.add_subcommand("whoami", "print the logged-in nickname");

  CLI::App* send = app.add_subcommand("send", "send a message; prints its id once the ring has stored it");
  send->add_option("NICK", nick, "recipient")->required();
  send->add_option("TEXT", words, "the message (the words are joined with spaces)")->required();

  CLI::App* inbox = app.add_subcommand("inbox", "fetch, store and acknowledge new messages, and print them");
  inbox->add_option("--wait", wait_s, "wait up to SECONDS for a message when none is queued")
      ->capture_default_str()
      ->check(CLI::Range(0, 60));
  inbox->add_flag("--json", json, "one JSON object per line: id, from, to, sent_at, text");

  CLI::App* chats = app.add_subcommand("chats", "every conversation: last message and unread count");

  CLI::App* history = app.add_subcommand("history", "the conversation with NICK, oldest first");
  history->add_option("NICK", nick, "the other side")->required();
  history->add_option("--limit", limit, "at most N messages, the newest")->capture_default_str()->check(
      CLI::Range(1, 100000));

  CLI::App* contacts = app.add_subcommand("contacts", "contacts with pinned keys");
  contacts->require_subcommand(1);
  CLI::App* contacts_add = contacts->add_subcommand("add", "check that NICK exists and pin its key");
  contacts_add->add_option("NICK", nick, "nickname")->required();
  contacts_add->add_option("--alias", alias, "a name of your own for the contact");
  CLI::App* contacts_list = contacts->add_subcommand("list", "list the contacts");
  CLI::App* contacts_rm = contacts->add_subcommand("rm", "forget a contact");
  contacts_rm->add_option("NICK", nick, "nickname")->required();

  CLI::App* passwd = app.add_subcommand("passwd", "change the password (old, then new)");
  passwd->add_flag("--password-stdin", password_stdin, "read the old and the new password from two lines of stdin");

  CLI::App* remove = app.add_subcommand("delete-account", "delete the account and its mailbox from the ring");
  remove->add_flag("--password-stdin", password_stdin, "read the password from the first line of standard input");

  CLI::App* chat = app.add_subcommand("chat", "an interactive conversation with NICK");
  chat->add_option("NICK", nick, "the other side")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line like every other error; the usage is a --help away.
    fail(std::string(e.what()) + " (dws-chat --help shows the usage)");
    return e.get_exit_code();
  }

  if (options.data_dir.empty()) return fail("no data directory: set HOME or XDG_DATA_HOME, or pass --data DIR");
  dws::Result<std::unique_ptr<dws::Client>> opened = dws::Client::open(options);
  if (!opened.ok()) return fail(opened.status());
  dws::Client& client = **opened;
  Passwords passwords(password_stdin);

  if (*reg) {
    dws::Result<std::string> password = passwords.ask_new("new password for " + nick + ": ");
    if (!password.ok()) return fail(password.status());
    if (dws::Status st = client.register_account(nick, *password); !st.ok()) return fail(st);
    std::printf("registered %s and logged in\n", client.whoami().value_or(nick).c_str());
    return 0;
  }
  if (*login) {
    dws::Result<std::string> password = passwords.ask("password for " + nick + ": ");
    if (!password.ok()) return fail(password.status());
    if (dws::Status st = client.login(nick, *password); !st.ok()) return fail(st);
    std::printf("logged in as %s\n", client.whoami().value_or(nick).c_str());
    return 0;
  }

  const std::optional<std::string> me = client.whoami();
  if (!me) return fail(kNotLoggedIn);

  if (*whoami) {
    std::printf("%s\n", me->c_str());
    return 0;
  }
  if (*logout) {
    if (dws::Status st = client.logout(); !st.ok()) return fail(st);
    std::printf("logged out %s\n", me->c_str());
    return 0;
  }
  if (*send) {
    std::string text;
    for (const std::string& w : words) text += (text.empty() ? "" : " ") + w;
    dws::Result<std::string> id = client.send(nick, text);
    if (!id.ok()) return fail(id.status());
    std::printf("%s\n", id->c_str());
    return 0;
  }
  if (*inbox) {
    dws::Result<std::vector<dws::Message>> messages = client.receive(wait_s);
    if (!messages.ok()) return fail(messages.status());
    std::vector<std::string> peers;
    for (const dws::Message& m : *messages) {
      json ? print_message_json(m) : print_message_line(m);
      if (std::find(peers.begin(), peers.end(), m.from) == peers.end()) peers.push_back(m.from);
    }
    std::fflush(stdout);
    // Printed is read: the chats list counts what this command has not shown.
    for (const std::string& peer : peers) {
      if (dws::Status st = client.mark_read(peer); !st.ok()) return fail(st);
    }
    return 0;
  }
  if (*chats) return print_chats(client);
  if (*history) return print_history(client, nick, limit);
  if (*contacts_add) {
    if (dws::Status st = client.add_contact(nick, alias); !st.ok()) return fail(st);
    std::printf("added %s\n", nick.c_str());
    return 0;
  }
  if (*contacts_list) return print_contacts(client);
  if (*contacts_rm) {
    if (dws::Status st = client.remove_contact(nick); !st.ok()) return fail(st);
    std::printf("removed %s\n", nick.c_str());
    return 0;
  }
  if (*passwd) {
    dws::Result<std::string> old_password = passwords.ask("current password for " + *me + ": ");
    if (!old_password.ok()) return fail(old_password.status());
    dws::Result<std::string> new_password = passwords.ask_new("new password: ");
    if (!new_password.ok()) return fail(new_password.status());
    if (dws::Status st = client.change_password(*old_password, *new_password); !st.ok()) return fail(st);
    std::printf("password changed for %s\n", me->c_str());
    return 0;
  }
  if (*remove) {
    dws::Result<std::string> password = passwords.ask("password for " + *me + " (deletes the account): ");
    if (!password.ok()) return fail(password.status());
    if (dws::Status st = client.delete_account(*password); !st.ok()) return fail(st);
    std::printf("deleted the account %s and its mailbox\n", me->c_str());
    return 0;
  }
  if (*chat) return run_chat(client, nick);
  return fail("no subcommand");
}
