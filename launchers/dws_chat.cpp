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
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "chat_common.hpp"
#include "chat_terminal.hpp"
#include "chat_web.hpp"
#include "dwhatsapp/client.hpp"
#include "dwhatsapp/status.hpp"

namespace {

using dws_chat::delivery_mark;
using dws_chat::fail;
using dws_chat::kDateTime;
using dws_chat::local_time;
using dws_chat::printable;
using dws_chat::run_chat;
using dws_chat::TerminalMode;
// `send` when no server was reachable: the message is in the outbox and
// leaves with the next dws-chat command that reaches the ring (EX_TEMPFAIL).
constexpr int kExitQueued = 75;

constexpr const char* kNotLoggedIn = "not logged in: run dws-chat login NICK first (or register NICK)";

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

std::string default_data_dir() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/dwhatsapp";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') return std::string(home) + "/.local/share/dwhatsapp";
  return "";
}

std::map<std::string, std::string> aliases(const dws::Client& client) {
  std::map<std::string, std::string> out;
  auto contacts = client.contacts();
  if (contacts.ok())
    for (const dws::Contact& c : *contacts)
      if (!c.alias.empty()) out[c.nickname] = c.alias;
  return out;
}

std::string shown(const std::map<std::string, std::string>& names, const std::string& nick) {
  auto it = names.find(nick);
  return it == names.end() ? nick : printable(it->second);
}

std::string message_json(const dws::Message& m) {
  return "{\"id\": " + json_string(m.id) + ", \"from\": " + json_string(m.from) + ", \"to\": " + json_string(m.to) +
         ", \"sent_at\": " + std::to_string(m.sent_at) + ", \"text\": " + json_string(m.text) +
         ", \"state\": " + json_string(dws::delivery_name(m.state)) + ", \"outgoing\": " + (m.outgoing ? "true" : "false") +
         "}";
}

void print_message_line(const dws::Message& m, const std::map<std::string, std::string>& names) {
  std::printf("%s  %s: %s\n", local_time(m.sent_at, kDateTime).c_str(), shown(names, m.from).c_str(),
              printable(m.text).c_str());
}

int print_chats(dws::Client& client, bool json) {
  // Fresh counts: what the ring holds is fetched first (a short wait), and
  // when no server answers the list says so and shows what is stored.
  dws::Result<std::vector<dws::Message>> fetched = client.receive(1);
  if (!fetched.ok() && fetched.status().code() == dws::Code::kUnavailable)
    std::fprintf(stderr, "dws-chat: no server answered (%s): showing the chats as last fetched\n",
                 fetched.status().message().c_str());
  dws::Result<std::vector<dws::Chat>> chats = client.chats();
  if (!chats.ok()) return fail(chats.status());
  if (json) {
    for (const dws::Chat& c : *chats)
      std::printf("{\"peer\": %s, \"alias\": %s, \"unread\": %d, \"last\": %s}\n", json_string(c.peer).c_str(),
                  json_string(c.alias).c_str(), c.unread, message_json(c.last).c_str());
    return 0;
  }
  if (chats->empty()) std::printf("no conversations yet: dws-chat chat NICK starts one\n");
  for (const dws::Chat& c : *chats) {
    std::string last = (c.last.outgoing ? "you: " : "") + printable(c.last.text);
    std::string name = c.alias.empty() ? c.peer : printable(c.alias);
    std::printf("%-20s  %3d unread  %s  %s\n", name.c_str(), c.unread, local_time(c.last.sent_at, kDateTime).c_str(),
                last.c_str());
  }
  return 0;
}

int print_history(dws::Client& client, const std::string& peer, int limit, bool json) {
  dws::Result<std::vector<dws::Message>> messages = client.history(peer, "", limit);
  if (!messages.ok()) return fail(messages.status());
  const auto names = aliases(client);
  for (const dws::Message& m : *messages) {
    if (json) {
      std::printf("%s\n", message_json(m).c_str());
      continue;
    }
    std::string line = local_time(m.sent_at, kDateTime) + "  " + (m.outgoing ? "you" : shown(names, m.from)) + ": " +
                       printable(m.text);
    if (m.outgoing) line += std::string("  [") + delivery_mark(m.state) + "]";
    std::printf("%s\n", line.c_str());
  }
  dws::Status read = client.mark_read(peer);
  return read.ok() ? 0 : fail(read);
}

int print_contacts(const dws::Client& client, bool json) {
  dws::Result<std::vector<dws::Contact>> contacts = client.contacts();
  if (!contacts.ok()) return fail(contacts.status());
  if (json) {
    for (const dws::Contact& c : *contacts)
      std::printf(
          "{\"nickname\": %s, \"alias\": %s, \"display_name\": %s, \"public_key\": %s, \"safety_number\": %s, "
          "\"key_changed\": %s}\n",
          json_string(c.nickname).c_str(), json_string(c.alias).c_str(), json_string(c.display_name).c_str(),
          json_string(c.public_key).c_str(), json_string(c.safety_number).c_str(), c.key_changed ? "true" : "false");
    return 0;
  }
  if (contacts->empty()) std::printf("no contacts: dws-chat contacts add NICK adds one\n");
  for (const dws::Contact& c : *contacts) {
    std::string line = c.nickname;
    if (!c.alias.empty()) line += " (" + printable(c.alias) + ")";
    if (!c.display_name.empty()) line += "  \"" + printable(c.display_name) + "\"";
    line += "  safety number " + c.safety_number;
    if (c.key_changed) {
      line += "  KEY CHANGED on the ring: messages under the new key are refused; dws-chat contacts add " +
              c.nickname + " accepts it";
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

// `dws-chat` alone: the chats, then the one picked by number or name.
int pick_chat(dws::Client& client) {
  if (!isatty(STDIN_FILENO)) return print_chats(client, false);
  dws::Result<std::vector<dws::Chat>> chats = client.chats();
  if (!chats.ok()) return fail(chats.status());
  int i = 0;
  for (const dws::Chat& c : *chats) {
    std::string name = c.alias.empty() ? c.peer : printable(c.alias);
    std::printf("%3d. %-20s %3d unread  %s\n", ++i, name.c_str(), c.unread,
                ((c.last.outgoing ? "you: " : "") + printable(c.last.text)).c_str());
  }
  std::printf(chats->empty() ? "no conversations yet. Nickname to chat with (empty line quits): "
                             : "number or nickname to chat with (empty line quits): ");
  std::fflush(stdout);
  std::string answer;
  if (!std::getline(std::cin, answer)) return 0;
  while (!answer.empty() && (answer.back() == ' ' || answer.back() == '\r')) answer.pop_back();
  if (answer.empty()) return 0;
  if (answer.find_first_not_of("0123456789") == std::string::npos) {
    const std::size_t n = std::stoul(answer.substr(0, 9));
    if (n < 1 || n > chats->size())
      return fail("no chat number " + answer + ": pick 1 to " + std::to_string(chats->size()) + ", or type a nickname");
    answer = (*chats)[n - 1].peer;
  }
  return run_chat(client, answer);
}

// Catches what the ring would only report as unreachable, later and less
// clearly: a URL instead of HOST:PORT, or no port.
std::string check_server(const std::string& s) {
  if (s.find("://") != std::string::npos) {
    std::string bare = s.substr(s.find("://") + 3);
    while (!bare.empty() && bare.back() == '/') bare.pop_back();
    return "--server takes HOST:PORT, not a URL: use --server " + bare;
  }
  const auto colon = s.rfind(':');
  const auto bracket = s.rfind(']');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket) ||
      (s.find(':') != colon && s.front() != '['))
    return "--server " + s + " needs a port: use HOST:PORT, e.g. " + s + ":7400 ([ADDR]:PORT for IPv6)";
  const std::string port = s.substr(colon + 1);
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
      std::stoi(port) < 1 || std::stoi(port) > 65535)
    return "--server " + s + ": the port must be a number from 1 to 65535";
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  // cpp-httplib's TLS client writes with SSL_write on a plain socket: a peer
  // that closed must be an error returned, not a SIGPIPE that kills us.
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"dws-chat: end-to-end encrypted messages over a dwhatsapp ring.\n"
               "With no command: the chats, to pick one to open."};
  app.require_subcommand(0, 1);
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
  app.add_option("--discovery-broadcast", options.discovery_broadcast,
                 "address discovery broadcasts to (a subnet's; 127.255.255.255 on loopback)")
      ->envname("DWS_DISCOVERY_BROADCAST")
      ->capture_default_str();

  const std::string global_help =
      "Global options (before or after the command): --server HOST:PORT (repeatable), --data DIR, --ring NAME, "
      "--discovery-port PORT, --discovery-broadcast ADDR; dws-chat --help describes them.";

  std::string nick;
  std::string alias;
  std::vector<std::string> words;
  bool password_stdin = false;
  bool json = false;
  int wait_s = 0;
  int limit = 50;
  dws_chat::WebOptions web_options;

  CLI::App* reg = app.add_subcommand("register", "create an account on the ring and log in");
  reg->add_option("NICK", nick, "nickname: 1 to 32 of a-z, 0-9, '_', '.', '-'")->required();
  reg->add_flag("--password-stdin", password_stdin, "read the password from the first line of standard input");

  CLI::App* login = app.add_subcommand("login", "recover an account from the ring with its password");
  login->add_option("NICK", nick, "nickname")->required();
  login->add_flag("--password-stdin", password_stdin, "read the password from the first line of standard input");

  CLI::App* logout = app.add_subcommand(
      "logout", "take this device off the account and lock the account here (history stays)");
  std::string device_name;
  app.add_option("--device-name", device_name,
                 "what `dws-chat devices` calls this device when it logs in (default: the host's name)");
  CLI::App* devices = app.add_subcommand("devices", "the account's devices; --remove ID takes one off");
  std::string remove_device;
  devices->add_option("--remove", remove_device,
                      "the device ID to remove: it receives nothing new and is logged out");
  devices->add_flag("--json", json, "a JSON array: id, name, added_at, this_device");
  CLI::App* whoami = app.add_subcommand("whoami", "print the logged-in nickname and its safety number");
  whoami->add_flag("--json", json, "a JSON object: nickname, safety_number");

  CLI::App* send = app.add_subcommand(
      "send",
      "send a message; prints its id once the ring has stored it, or 'queued ID' and exits with status 75 when no "
      "server was reachable (the next command that reaches the ring sends it)");
  send->add_option("NICK", nick, "recipient (nickname or alias)")->required();
  send->add_option("TEXT", words, "the message (the words are joined with spaces)")->required();

  CLI::App* inbox = app.add_subcommand("inbox", "fetch, store and acknowledge new messages, and print them");
  inbox->add_option("--wait", wait_s, "wait up to SECONDS for a message when none is queued")
      ->capture_default_str()
      ->check(CLI::Range(0, 60));
  inbox->add_flag("--json", json, "one JSON object per line: id, from, to, sent_at, text, state, outgoing");
  bool show_rejected = false;
  inbox->add_flag("--rejected", show_rejected,
                  "list the envelopes set aside because they did not verify or open (id, sender, reason); no fetch");

  CLI::App* chats = app.add_subcommand("chats", "every conversation: last message and unread count");
  chats->add_flag("--json", json, "one JSON object per line: peer, alias, unread, last");

  CLI::App* history = app.add_subcommand("history", "the conversation with NICK, oldest first");
  history->add_option("NICK", nick, "the other side (nickname or alias)")->required();
  history->add_option("--limit", limit, "at most N messages, the newest")->capture_default_str()->check(
      CLI::Range(1, 100000));
  history->add_flag("--json", json, "one JSON object per line: id, from, to, sent_at, text, state, outgoing");

  CLI::App* contacts = app.add_subcommand("contacts", "contacts with pinned keys");
  contacts->require_subcommand(1);
  CLI::App* contacts_add = contacts->add_subcommand("add", "check that NICK exists and pin its key");
  contacts_add->add_option("NICK", nick, "nickname")->required();
  contacts_add->add_option("--alias", alias, "a name of your own for the contact (accepted wherever NICK is)");
  CLI::App* contacts_list = contacts->add_subcommand("list", "list the contacts with their safety numbers");
  contacts_list->add_flag("--json", json,
                          "one JSON object per line: nickname, alias, display_name, public_key, safety_number, "
                          "key_changed");
  CLI::App* contacts_rm = contacts->add_subcommand("rm", "forget a contact");
  contacts_rm->add_option("NICK", nick, "nickname or alias")->required();

  CLI::App* passwd = app.add_subcommand("passwd", "change the password (old, then new)");
  passwd->add_flag("--password-stdin", password_stdin, "read the old and the new password from two lines of stdin");

  CLI::App* remove = app.add_subcommand("delete-account", "delete the account and its mailbox from the ring");
  remove->add_flag("--password-stdin", password_stdin, "read the password from the first line of standard input");

  CLI::App* chat = app.add_subcommand("chat", "an interactive conversation with NICK");
  chat->add_option("NICK", nick, "the other side (nickname or alias)")->required();
  chat->footer("In the chat: /help lists the commands; /quit leaves (Ctrl-D too); /history [N] shows the last N "
               "messages; /chat NICK switches to someone else; //text sends a line that begins with '/'.\n"
               "Keys: Left/Right, Home/End (Ctrl-A/Ctrl-E), Up/Down recall earlier lines, Ctrl-W deletes a word, "
               "Ctrl-U the line before the cursor.\n" +
               global_help);

  CLI::App* web = app.add_subcommand("web", "serve the chat as a page on this machine and print its URL");
  web->add_option("--listen", web_options.listen, "loopback HOST:PORT to serve on (port 0: any free one)")
      ->capture_default_str();
  web->add_flag("--open", web_options.open_browser, "also open the page in the default browser (xdg-open)");

  for (CLI::App* sub : app.get_subcommands({})) {
    if (sub != chat) sub->footer(global_help);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    // A mistyped command arrives as an extra argument.
    if (app.get_subcommands().empty() && argc > 1) {
      std::string names;
      for (const CLI::App* sub : app.get_subcommands({})) names += (names.empty() ? "" : ", ") + sub->get_name();
      const std::string what = e.what();
      const auto colon = what.rfind(": ");
      const std::string word = colon == std::string::npos ? what : what.substr(colon + 2);
      fail("'" + word + "' is not a command: the commands are " + names + " (dws-chat --help)");
      return 2;
    }
    fail(std::string(e.what()) + " (dws-chat --help shows the usage)");
    return 2;
  } catch (const CLI::ParseError& e) {
    // One line like every other error; the usage is a --help away.
    fail(std::string(e.what()) + " (dws-chat --help shows the usage)");
    return 2;
  }

  for (const std::string& s : options.servers) {
    if (std::string problem = check_server(s); !problem.empty()) {
      fail(problem);
      return 2;
    }
  }
  if (options.data_dir.empty()) return fail("no data directory: set HOME or XDG_DATA_HOME, or pass --data DIR");
  options.device_name = device_name;
  dws::Result<std::unique_ptr<dws::Client>> opened = dws::Client::open(options);
  if (!opened.ok()) {
    if (opened.status().code() == dws::Code::kUnavailable)
      return fail("the data directory " + options.data_dir +
                  " is in use by another dws-chat: close that one first, or use another --data DIR");
    return fail(opened.status());
  }
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
    // A new device starts empty: say so when others have the history.
    if (auto listed = client.devices(); listed.ok() && listed->size() > 1)
      std::printf("this is device %s of %zu: from now on it receives every message; messages from before this "
                  "login stay on the other devices (dws-chat devices lists them)\n",
                  client.device_id().c_str(), listed->size());
    return 0;
  }
  // The page has its own register and log-in screen.
  if (*web) return dws_chat::run_web(client, web_options);

  const std::optional<std::string> me = client.whoami();
  if (!me) return fail(kNotLoggedIn);

  if (*whoami) {
    if (json) {
      std::printf("{\"nickname\": %s, \"safety_number\": %s}\n", json_string(*me).c_str(),
                  json_string(client.safety_number()).c_str());
    } else {
      std::printf("%s  safety number %s\n", me->c_str(), client.safety_number().c_str());
    }
    return 0;
  }
  if (*logout) {
    if (dws::Status st = client.logout(); !st.ok()) return fail(st);
    std::printf("logged out %s\n", me->c_str());
    return 0;
  }
  if (*devices) {
    if (!remove_device.empty()) {
      if (dws::Status st = client.remove_device(remove_device); !st.ok()) return fail(st);
      std::printf("removed device %s from %s%s\n", remove_device.c_str(), me->c_str(),
                  remove_device == client.device_id() ? " (this device: logged out)" : "");
      return 0;
    }
    dws::Result<std::vector<dws::DeviceInfo>> listed = client.devices();
    if (!listed.ok()) return fail(listed.status());
    if (json) {
      std::printf("[");
      for (std::size_t i = 0; i < listed->size(); ++i) {
        const dws::DeviceInfo& d = (*listed)[i];
        std::printf("%s{\"id\": %s, \"name\": %s, \"added_at\": %lld, \"this_device\": %s}", i ? ", " : "",
                    json_string(d.id).c_str(), json_string(d.name).c_str(), static_cast<long long>(d.added_at),
                    d.this_device ? "true" : "false");
      }
      std::printf("]\n");
      return 0;
    }
    for (const dws::DeviceInfo& d : *listed)
      std::printf("%s  %s  added %s%s\n", d.id.c_str(), printable(d.name).c_str(),
                  local_time(d.added_at, kDateTime).c_str(), d.this_device ? "  (this device)" : "");
    std::printf("%zu device%s\n", listed->size(), listed->size() == 1 ? "" : "s");
    return 0;
  }
  if (*send) {
    std::string text;
    for (const std::string& w : words) text += (text.empty() ? "" : " ") + w;
    dws::Result<dws::SendResult> sent = client.send_message(nick, text);
    if (!sent.ok()) return fail(sent.status());
    if (sent->state == dws::Delivery::kQueued) {
      std::printf("queued %s\n", sent->id.c_str());
      std::fprintf(stderr, "dws-chat: no server reachable: the message is queued and leaves with the next command "
                           "that reaches the ring\n");
      return kExitQueued;
    }
    std::printf("%s\n", sent->id.c_str());
    return 0;
  }
  if (*inbox && show_rejected) {
    dws::Result<std::vector<dws::RejectedEnvelope>> listed = client.rejected();
    if (!listed.ok()) return fail(listed.status());
    for (const dws::RejectedEnvelope& r : *listed)
      std::printf("%s  %s  %s: %s\n", local_time(r.at_ms, kDateTime).c_str(), r.id.c_str(), r.from.c_str(),
                  printable(r.reason).c_str());
    std::printf("%zu rejected\n", listed->size());
    return 0;
  }
  if (*inbox) {
    dws::Result<std::vector<dws::Message>> messages = client.receive(wait_s);
    if (!messages.ok()) return fail(messages.status());
    std::vector<std::string> peers;
    const auto names = aliases(client);
    for (const dws::Message& m : *messages) {
      if (json) {
        std::printf("%s\n", message_json(m).c_str());
      } else {
        print_message_line(m, names);
      }
      if (std::find(peers.begin(), peers.end(), m.from) == peers.end()) peers.push_back(m.from);
    }
    std::fflush(stdout);
    // Printed is read: the chats list counts what this command has not shown.
    for (const std::string& peer : peers) {
      if (dws::Status st = client.mark_read(peer); !st.ok()) return fail(st);
    }
    return 0;
  }
  if (*chats) return print_chats(client, json);
  if (*history) return print_history(client, nick, limit, json);
  if (*contacts_add) {
    if (dws::Status st = client.add_contact(nick, alias); !st.ok()) return fail(st);
    dws::Result<std::string> stored = client.resolve(nick);
    std::printf("added %s%s\n", stored.ok() ? stored->c_str() : nick.c_str(),
                alias.empty() ? "" : (" as " + printable(alias)).c_str());
    return 0;
  }
  if (*contacts_list) return print_contacts(client, json);
  if (*contacts_rm) {
    dws::Result<std::string> stored = client.resolve(nick);
    if (dws::Status st = client.remove_contact(nick); !st.ok()) return fail(st);
    std::printf("removed %s\n", stored.ok() ? stored->c_str() : nick.c_str());
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
  return pick_chat(client);
}
