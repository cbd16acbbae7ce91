// `dws-chat chat NICK`: an interactive conversation in the terminal.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "dwhatsapp/client.hpp"

namespace dws_chat {

/// The line being typed: UTF-8 text with a cursor, input history and the
/// usual keys (Left/Right, Home/End or Ctrl-A/Ctrl-E, Up/Down through the
/// lines sent before, Backspace, Delete, Ctrl-U, Ctrl-W). No I/O.
class LineEditor {
 public:
  struct Fed {
    std::vector<std::string> lines;  // finished with Enter
    bool quit = false;               // Ctrl-C, or Ctrl-D on an empty line
  };
  Fed feed(const char* bytes, std::size_t n);

  const std::string& line() const { return line_; }
  /// The cursor as a byte offset into line(), always at a character start.
  std::size_t cursor() const { return cursor_; }

 private:
  void key(unsigned char c, Fed& fed);
  void escape_done(const std::string& seq);
  void left();
  void right();
  void recall(int step);

  std::string line_;
  std::size_t cursor_ = 0;
  std::vector<std::string> history_;
  std::size_t recalled_ = 0;  // index into history_; == size(): the new line
  std::string draft_;         // what was typed before Up was pressed
  int escape_ = 0;            // 0: none, 1: after ESC, 2: inside ESC [ or ESC O
  std::string seq_;
};

/// Runs the chat with `peer` (a nickname or a contact's alias) until /quit,
/// Ctrl-D or Ctrl-C; returns the exit code (0 however the user leaves).
int run_chat(dws::Client& client, const std::string& peer);

}  // namespace dws_chat
