// The terminal chat: a line editor at the bottom, messages printed above it
// as they arrive, and ticks rewritten in place as receipts come back.
#include "chat_terminal.hpp"

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <map>
#include <mutex>
#include <optional>

#include "chat_common.hpp"

namespace dws_chat {

namespace {

bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

// Columns a string takes: one per character. Wide (CJK, emoji) characters
// take two in most terminals and are counted as one: the wrap of such a
// line can be off by a column, never the text.
std::size_t columns(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += !continuation(c);
  return n;
}

constexpr const char* kHelp =
    "commands: /help this list; /quit leave (Ctrl-D too); /history [N] the last N messages (20); /chat NICK talk "
    "to someone else; //text sends a line that begins with '/'";

}  // namespace

LineEditor::Fed LineEditor::feed(const char* bytes, std::size_t n) {
  Fed fed;
  for (std::size_t i = 0; i < n && !fed.quit; ++i) key(static_cast<unsigned char>(bytes[i]), fed);
  return fed;
}

void LineEditor::left() {
  if (cursor_ == 0) return;
  --cursor_;
  while (cursor_ > 0 && continuation(line_[cursor_])) --cursor_;
}

void LineEditor::right() {
  if (cursor_ >= line_.size()) return;
  ++cursor_;
  while (cursor_ < line_.size() && continuation(line_[cursor_])) ++cursor_;
}

void LineEditor::recall(int step) {
  if (history_.empty()) return;
  if (recalled_ == history_.size()) draft_ = line_;
  if (step < 0 && recalled_ > 0) --recalled_;
  else if (step > 0 && recalled_ < history_.size()) ++recalled_;
  else return;
  line_ = recalled_ == history_.size() ? draft_ : history_[recalled_];
  cursor_ = line_.size();
}

void LineEditor::escape_done(const std::string& seq) {
  // The final byte says which key; "1~"/"7~" and "4~"/"8~" are Home and
  // End on some terminals, "3~" is Delete.
  const char final = seq.back();
  if (final == 'D') left();
  else if (final == 'C') right();
  else if (final == 'A') recall(-1);
  else if (final == 'B') recall(+1);
  else if (final == 'H' || seq == "1~" || seq == "7~") cursor_ = 0;
  else if (final == 'F' || seq == "4~" || seq == "8~") cursor_ = line_.size();
  else if (seq == "3~" && cursor_ < line_.size()) {
    std::size_t end = cursor_;
    right();
    end = cursor_;
    left();
    line_.erase(cursor_, end - cursor_);
  }
}

void LineEditor::key(unsigned char c, Fed& fed) {
  if (escape_ == 1) {
    escape_ = (c == '[' || c == 'O') ? 2 : 0;
    seq_.clear();
    return;
  }
  if (escape_ == 2) {
    seq_ += static_cast<char>(c);
    if (c >= 0x40 && c <= 0x7e) {
      escape_ = 0;
      escape_done(seq_);
    } else if (seq_.size() > 16) {
      escape_ = 0;  // not a key we know: drop it
    }
    return;
  }
  switch (c) {
    case '\r':
    case '\n':
      fed.lines.push_back(line_);
      if (!line_.empty() && (history_.empty() || history_.back() != line_)) history_.push_back(line_);
      if (history_.size() > 500) history_.erase(history_.begin());
      recalled_ = history_.size();
      line_.clear();
      cursor_ = 0;
      return;
    case 0x7f:
    case '\b': {
      const std::size_t end = cursor_;
      left();
      line_.erase(cursor_, end - cursor_);
      return;
    }
    case 0x01: cursor_ = 0; return;             // Ctrl-A
    case 0x05: cursor_ = line_.size(); return;  // Ctrl-E
    case 0x15:                                  // Ctrl-U: the line up to the cursor
      line_.erase(0, cursor_);
      cursor_ = 0;
      return;
    case 0x17: {  // Ctrl-W: the word before the cursor, and the spaces after it
      std::size_t start = cursor_;
      while (start > 0 && line_[start - 1] == ' ') --start;
      while (start > 0 && line_[start - 1] != ' ') --start;
      line_.erase(start, cursor_ - start);
      cursor_ = start;
      return;
    }
    case 0x03: fed.quit = true; return;
    case 0x04:
      if (line_.empty()) fed.quit = true;
      return;
    case 0x1b: escape_ = 1; return;
    default:
      if (c >= 0x20 || c == '\t') {
        line_.insert(cursor_, 1, c == '\t' ? ' ' : static_cast<char>(c));
        ++cursor_;
      }
  }
}

namespace {

// The screen: lines printed above the line editor, which is redrawn whole
// (wrapped over as many rows as it takes) after each. The receiver thread
// and the typing thread both print, so everything goes through one lock.
class ChatScreen {
 public:
  explicit ChatScreen(bool raw) : raw_(raw) {}

  void show(const std::string& line) {
    std::lock_guard lock(mu_);
    print_locked(line);
  }

  // An outgoing message, remembered so that its ticks can change in place.
  void show_outgoing(const std::string& id, const std::string& head, dws::Delivery state) {
    std::lock_guard lock(mu_);
    if (auto it = early_.find(id); it != early_.end()) {
      state = std::max(state, it->second, [](auto a, auto b) { return rank(a) < rank(b); });
      early_.erase(it);
    }
    outgoing_[id] = {head, state, rows_};
    if (outgoing_.size() > 1000) outgoing_.erase(outgoing_.begin());
    print_locked(line_of(outgoing_[id]));
  }

  // Whether the outgoing message `id` is on the screen.
  bool shows(const std::string& id) {
    std::lock_guard lock(mu_);
    return outgoing_.count(id) != 0;
  }

  void update(const std::string& id, dws::Delivery state) {
    std::lock_guard lock(mu_);
    auto it = outgoing_.find(id);
    if (it == outgoing_.end()) {
      early_[id] = state;
      if (early_.size() > 1000) early_.clear();
      return;
    }
    Shown& s = it->second;
    if (rank(state) <= rank(s.state)) return;
    s.state = state;
    if (!raw_) {
      std::printf("  (%s: %s)\n", s.head.c_str(), delivery_mark(state));
      std::fflush(stdout);
      return;
    }
    const std::size_t up = rows_ - s.row;
    if (up + 1 >= terminal_rows()) return;  // scrolled off the screen
    std::string out = clear_input();
    const std::size_t old_rows = rows_of(columns(line_of(s)) + kMarkRoom);
    // Save the cursor, rewrite the message's rows, come back.
    out += "\0337\033[" + std::to_string(up) + "A";
    for (std::size_t r = 0; r < old_rows; ++r) out += "\r\033[K" + std::string(r + 1 < old_rows ? "\033[1B" : "");
    if (old_rows > 1) out += "\033[" + std::to_string(old_rows - 1) + "A";
    out += "\r" + line_of(s) + "\0338";
    out += draw_input();
    write(out);
  }

  void type(const LineEditor& editor) {
    std::lock_guard lock(mu_);
    line_ = editor.line();
    cursor_ = editor.cursor();
    if (!raw_) return;
    std::string out = clear_input();  // before draw_input(), which moves cursor_row_
    out += draw_input();
    write(out);
  }

  void leave() {
    std::lock_guard lock(mu_);
    if (raw_) write(clear_input());
    std::fflush(stdout);
  }

 private:
  struct Shown {
    std::string head;  // time, "you:", text
    dws::Delivery state;
    std::size_t row;  // rows_ when it was printed
  };

  // Room left for the longest mark, so rewriting never needs another row.
  static constexpr std::size_t kMarkRoom = 16;
  static constexpr const char* kPrompt = "> ";

  static int rank(dws::Delivery d) {
    switch (d) {
      case dws::Delivery::kQueued: return 0;
      case dws::Delivery::kSending: return 1;
      case dws::Delivery::kStored: return 2;
      case dws::Delivery::kDelivered: return 3;
      case dws::Delivery::kRead: return 4;
      case dws::Delivery::kReceived: return -1;
    }
    return -1;
  }

  static std::string line_of(const Shown& s) { return s.head + "  " + delivery_mark(s.state); }

  static std::size_t terminal_cols() {
    winsize ws{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
  }

  static std::size_t terminal_rows() {
    winsize ws{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return ws.ws_row;
    return 24;
  }

  static std::size_t rows_of(std::size_t cols_used) {
    const std::size_t cols = terminal_cols();
    return cols_used == 0 ? 1 : (cols_used + cols - 1) / cols;
  }

  static void write(const std::string& out) {
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  }

  void print_locked(const std::string& line) {
    if (!raw_) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
      return;
    }
    rows_ += rows_of(columns(line));
    std::string out = clear_input();  // before draw_input(), which moves cursor_row_
    out += line + "\r\n";
    out += draw_input();
    write(out);
  }

  // From wherever the cursor is in the input rows to their first column,
  // with everything below erased.
  std::string clear_input() {
    std::string out = "\r";
    if (cursor_row_ > 0) out += "\033[" + std::to_string(cursor_row_) + "A";
    cursor_row_ = 0;
    return out + "\033[J";
  }

  std::string draw_input() {
    const std::size_t cols = terminal_cols();
    std::string out = std::string(kPrompt) + printable(line_);
    const std::size_t end = columns(out);
    // At an exact multiple of the width the cursor waits in the last
    // column; a space and a carriage return put it at the next row's start.
    if (end > 0 && end % cols == 0) out += " \r";
    const std::size_t end_row = end / cols;
    const std::size_t at = columns(kPrompt) + columns(printable(line_.substr(0, cursor_)));
    const std::size_t at_row = at / cols;
    const std::size_t at_col = at % cols;
    if (end_row > at_row) out += "\033[" + std::to_string(end_row - at_row) + "A";
    out += "\r";
    if (at_col > 0) out += "\033[" + std::to_string(at_col) + "C";
    cursor_row_ = at_row;
    return out;
  }

  std::mutex mu_;
  const bool raw_;
  std::string line_;
  std::size_t cursor_ = 0;
  std::size_t cursor_row_ = 0;  // rows between the input's first row and the cursor
  std::size_t rows_ = 0;        // rows printed above the input so far
  std::map<std::string, Shown> outgoing_;
  std::map<std::string, dws::Delivery> early_;
};

struct Session {
  dws::Client& client;
  ChatScreen& screen;
  std::mutex mu;
  std::string peer;  // nickname
  std::string name;  // as shown

  std::string current() {
    std::lock_guard lock(mu);
    return peer;
  }

  std::string incoming_line(const dws::Message& m) {
    const std::string when = local_time(m.received_at ? m.received_at : m.sent_at, kClock);
    std::lock_guard lock(mu);
    if (m.from == peer) return when + " " + name + ": " + printable(m.text);
    return when + " [" + shown_name(client, m.from) + "] " + printable(m.text) + "   (/chat " + m.from +
           " to answer)";
  }

  void show(const dws::Message& m) {
    if (m.outgoing) {
      screen.show_outgoing(m.id, local_time(m.sent_at, kClock) + " you: " + printable(m.text), m.state);
    } else {
      screen.show(incoming_line(m));
    }
  }

  void show_history(int n) {
    const std::string p = current();
    auto recent = client.history(p, "", n);
    if (!recent.ok()) return screen.show("dws-chat: " + recent.status().message());
    for (const dws::Message& m : *recent) show(m);
    (void)client.mark_read(p);
  }

  // Opens the chat with `who`: the user must exist on the ring. Returns
  // what is wrong, or "".
  std::string open(const std::string& who) {
    auto c = client.check_user(who);
    if (!c.ok()) {
      std::string why = c.status().message();
      if (c.status().code() == dws::Code::kNotFound) why += ": check the spelling (dws-chat contacts list)";
      return why;
    }
    {
      std::lock_guard lock(mu);
      peer = c->nickname;
      name = c->alias.empty() ? c->nickname : printable(c->alias);
    }
    screen.show("chat with " + name + (c->alias.empty() ? "" : " (" + c->nickname + ")") + ", safety number " +
                c->safety_number + ": Enter sends; /help lists the commands");
    if (c->key_changed)
      screen.show("dws-chat: the key of " + c->nickname + " changed on the ring: messages are refused until you "
                  "run dws-chat contacts add " + c->nickname);
    show_history(10);
    return "";
  }

  void send(const std::string& text) {
    const std::string p = current();
    auto id = client.send(p, text);
    if (!id.ok()) return screen.show("dws-chat: " + id.status().message());
    auto recent = client.history(p, "", 5);
    if (recent.ok()) {
      for (const dws::Message& m : *recent) {
        if (m.id == *id) return show(m);
      }
    }
  }

  // One line typed; false to leave.
  bool handle(const std::string& line) {
    if (line.rfind("//", 0) == 0) {
      send(line.substr(1));
      return true;
    }
    if (line.empty() || line[0] != '/') {
      send(line);
      return true;
    }
    const auto space = line.find(' ');
    const std::string command = line.substr(0, space);
    std::string arg = space == std::string::npos ? "" : line.substr(space + 1);
    while (!arg.empty() && arg.back() == ' ') arg.pop_back();
    while (!arg.empty() && arg.front() == ' ') arg.erase(0, 1);
    if (command == "/quit") return false;
    if (command == "/help") {
      screen.show(kHelp);
    } else if (command == "/history") {
      int n = arg.empty() ? 20 : std::atoi(arg.c_str());
      if (n <= 0 || n > 10000) {
        screen.show("dws-chat: /history takes a count from 1 to 10000, got '" + arg + "'");
      } else {
        show_history(n);
      }
    } else if (command == "/chat") {
      if (arg.empty()) {
        screen.show("dws-chat: /chat needs a nickname: /chat NICK");
      } else {
        if (std::string why = open(arg); !why.empty()) screen.show("dws-chat: " + why);
      }
    } else {
      screen.show("dws-chat: unknown command " + printable(command) +
                  " (nothing was sent): /help lists the commands, //text sends a line beginning with '/'");
    }
    return true;
  }
};

}  // namespace

int run_chat(dws::Client& client, const std::string& peer) {
  const bool raw = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  // The mode changes first (TCSAFLUSH drops what was typed before it), so
  // nothing shown afterwards invites typing that the change would drop.
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
  Session session{client, screen, {}, {}, {}};
  if (std::string why = session.open(peer); !why.empty()) {
    mode.reset();
    return fail(why);
  }

  client.on_delivery([&session, &screen, &client](const std::string& from, const std::string& id,
                                                   dws::Delivery state) {
    if (from != session.current()) return;
    if (state == dws::Delivery::kStored && !screen.shows(id)) {
      // Sent by another device of this account: show it as sent.
      auto recent = client.history(from, "", 20);
      if (recent.ok())
        for (const dws::Message& m : *recent)
          if (m.id == id && m.outgoing) session.show(m);
      return;
    }
    screen.update(id, state);
  });
  client.on_connection([&screen](bool up) {
    screen.show(up ? "-- connected to the ring again --"
                   : "-- lost the connection to the ring: no server answers; sending fails until one does --");
  });
  dws::Status receiving = client.start_receiving([&session, &client](const dws::Message& m) {
    session.show(m);
    // Shown in the open chat is read.
    if (m.from == session.current()) (void)client.mark_read(m.from);
  });
  if (!receiving.ok()) {
    screen.leave();
    mode.reset();
    return fail(receiving);
  }

  if (raw) {
    LineEditor editor;
    screen.type(editor);
    char buf[256];
    bool quit = false;
    while (!quit) {
      ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      LineEditor::Fed fed = editor.feed(buf, static_cast<std::size_t>(n));
      screen.type(editor);
      for (const std::string& line : fed.lines) {
        if (!session.handle(line)) {
          quit = true;
          break;
        }
      }
      quit = quit || fed.quit;
    }
  } else {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!session.handle(line)) break;
    }
  }
  client.stop_receiving();
  client.on_delivery(nullptr);
  client.on_connection(nullptr);
  screen.leave();
  mode.reset();
  (void)client.mark_read(session.current());
  return 0;
}

}  // namespace dws_chat
