#!/usr/bin/env python3
"""Process test: the terminal chat and the command line without surprises.

Against a ring of three dws-node processes (scripts/dwsproc.py): `dws-chat
chat` on a pseudo-terminal, its output fed to a small terminal emulator
(below) so that what the person would see is checked, not the bytes:
typing while messages arrive leaves the typed line intact (wrapped lines
too), the commands, the editing keys, ticks rewritten in place up to
"read", the lost/back connection lines when the whole ring stops and
restarts. Then one check per fix of the command line: another account's
data directory, a second dws-chat or dws-node on one directory, the
errors that misled, --json, --help, aliases, contacts pinned on first
message, safety numbers, fresh `chats`, and `dws-chat` alone.

Usage: test_chat_terminal.py path/to/dws-node path/to/dws-chat
"""

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import dwsproc  # noqa: E402
from dwsproc import Failure, NodeProc, PtySession, expect, wait_for  # noqa: E402

HANG_GUARD_S = 90
PASSWORD = "correct horse 42\n"
SAFETY = re.compile(r"^\d{5} \d{5} \d{5} \d{5}$")


class Terminal:
    """Enough of a VT100 to replay the chat's output: printable text with
    auto-wrap, CR, LF (with scrolling), CSI A/B/C/D/K/J and ESC 7/8."""

    TOKEN = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b([78])|(\r)|(\n)|(\x08)|([^\x1b\r\n\x08])", re.S)

    def __init__(self, cols, rows):
        self.cols, self.rows = cols, rows
        self.cells = [[" "] * cols for _ in range(rows)]
        self.x = self.y = 0
        self.saved = (0, 0)
        self.pending = False  # at the last column, the next character wraps

    def _newline(self):
        self.y += 1
        if self.y == self.rows:
            self.cells.pop(0)
            self.cells.append([" "] * self.cols)
            self.y = self.rows - 1

    def feed(self, text):
        for m in self.TOKEN.finditer(text):
            params, final, esc, cr, lf, bs, ch = m.groups()
            if final:
                n = int(params) if params.isdigit() else 1
                self.pending = False
                if final == "A":
                    self.y = max(0, self.y - n)
                elif final == "B":
                    self.y = min(self.rows - 1, self.y + n)
                elif final == "C":
                    self.x = min(self.cols - 1, self.x + n)
                elif final == "D":
                    self.x = max(0, self.x - n)
                elif final == "K":
                    self.cells[self.y][self.x:] = [" "] * (self.cols - self.x)
                elif final == "J":
                    self.cells[self.y][self.x:] = [" "] * (self.cols - self.x)
                    for r in range(self.y + 1, self.rows):
                        self.cells[r] = [" "] * self.cols
            elif esc == "7":
                self.saved = (self.x, self.y)
            elif esc == "8":
                self.x, self.y = self.saved
                self.pending = False
            elif cr:
                self.x, self.pending = 0, False
            elif lf:
                self._newline()
                self.pending = False
            elif bs:
                self.x, self.pending = max(0, self.x - 1), False
            elif ch:
                if self.pending:
                    self.x, self.pending = 0, False
                    self._newline()
                self.cells[self.y][self.x] = ch
                if self.x == self.cols - 1:
                    self.pending = True
                else:
                    self.x += 1

    def lines(self):
        return ["".join(r).rstrip() for r in self.cells]


class ChatPty(PtySession):
    def __init__(self, argv, cols=80, rows=24):
        super().__init__(argv, cols=cols, rows=rows)
        self.cols, self.rows = cols, rows

    def view(self):
        t = Terminal(self.cols, self.rows)
        t.feed(self.raw())
        return t.lines()

    def stacks(self):
        """The threads' stacks of a program that seems stuck (gdb, when installed)."""
        if self.proc.poll() is not None or not shutil.which("gdb"):
            return ""
        p = subprocess.run(["gdb", "-p", str(self.proc.pid), "-batch", "-ex", "thread apply all bt"],
                           capture_output=True, text=True, timeout=120)
        return "\n--- dws-chat's threads ---\n" + "\n".join(
            l for l in p.stdout.splitlines() if l.startswith(("#", "Thread")))

    def wait_view(self, what, check, timeout=HANG_GUARD_S):
        def probe():
            lines = self.view()
            return check(lines), "\n".join(l for l in lines if l)
        try:
            return wait_for(probe, timeout, what, interval=0.05)
        except TimeoutError as e:
            raise Failure(str(e) + self.stacks())

    def wait_exit(self, timeout=HANG_GUARD_S):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"dws-chat did not leave within {timeout}s; screen:\n" + "\n".join(self.view()) +
                          self.stacks())


class User:
    def __init__(self, exe, data, servers):
        self.exe, self.data, self.servers = exe, data, list(servers)

    def argv(self, *args):
        return [self.exe] + sum((["--server", s] for s in self.servers), []) + ["--data", self.data] + list(args)

    def run(self, *args, stdin=""):
        p = subprocess.run(self.argv(*args), input=stdin, capture_output=True, text=True, timeout=HANG_GUARD_S)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args, stdin=""):
        code, out, err = self.run(*args, stdin=stdin)
        expect(code == 0, f"dws-chat {' '.join(args)}: exit {code}; stderr {err.strip()!r}")
        return out

    def error(self, *args, stdin="", mentions=()):
        code, out, err = self.run(*args, stdin=stdin)
        return one_line_error(f"dws-chat {' '.join(args)}", code, err, "dws-chat: ", mentions)

    def json_lines(self, *args):
        out = self.ok(*args)
        try:
            return [json.loads(line) for line in out.splitlines() if line.strip()]
        except ValueError as e:
            raise Failure(f"dws-chat {' '.join(args)} --json printed invalid JSON ({e}): {out!r}")

    def inbox_texts(self, want, what):
        got = []

        def check():
            got.extend(m["text"] for m in self.json_lines("inbox", "--wait", "2", "--json"))
            return all(w in got for w in want), got
        wait_for(check, HANG_GUARD_S, what, interval=0)
        return got


def one_line_error(what, code, err, prefix, mentions):
    expect(code != 0, f"{what}: expected a failure, got exit 0")
    lines = err.strip().splitlines()
    expect(len(lines) == 1 and lines[0].startswith(prefix),
           f"{what}: expected one line '{prefix}...' on stderr, got {err!r}")
    for word in mentions:
        expect(word in lines[0], f"{what}: expected the error to mention {word!r}: {lines[0]!r}")
    return lines[0]


def check_pty_chat(alice, bob, carol, nodes, node_exe, tmp):
    # Typing while messages arrive: the typed line stays whole at the bottom.
    chat = ChatPty(alice.argv("chat", "bob"), cols=60, rows=30)
    try:
        chat.wait_view("the chat header", lambda ls: any("chat with bob" in l for l in ls))
        chat.type("typing in progress")
        chat.wait_view("the typed line", lambda ls: "> typing in progress" in ls)
        for i in range(3):
            bob.ok("send", "alice", f"arrival {i}")
        chat.wait_view("three arrivals above the typed line", lambda ls: (
            all(any(f"bob: arrival {i}" in l for l in ls) for i in range(3))
            and [l for l in ls if l][-1] == "> typing in progress"))

        # A typed line wider than the terminal, while a message arrives.
        chat.type("\x15")  # Ctrl-U: clear
        long_line = "".join(chr(ord("a") + i % 26) for i in range(130))
        chat.type(long_line)
        bob.ok("send", "alice", "arrival during a long line")

        def long_intact(ls):
            shown = [l for l in ls if l]
            if not any("arrival during a long line" in l for l in shown):
                return False
            return "".join(shown[-3:]) == "> " + long_line
        chat.wait_view("the long line wrapped whole below the arrival", long_intact)
        chat.type("\x15")

        # Editing keys: Left, Home, End, Ctrl-W, Up (history), then Enter.
        chat.type("helo world")
        chat.type("\x1b[D" * 7 + "l")          # Left x7, insert: "hello world"
        chat.type("\x1b[H" + ">> ")            # Home: ">> hello world"
        chat.type("\x1b[F" + " extra")         # End
        chat.type("\x17")                      # Ctrl-W drops "extra"
        chat.type("\r")
        chat.wait_view("the edited line sent", lambda ls: any("you: >> hello world" in l for l in ls))
        chat.type("\x1b[A\r")                  # Up recalls it; sent again
        chat.wait_view("the recalled line sent", lambda ls: sum("you: >> hello world" in l for l in ls) == 2)
        # Right and Delete; Up then Down comes back to the line being typed.
        chat.type("abcd" + "\x1b[D" * 3 + "\x1b[C" + "X" + "\x1b[3~")  # "abXd"
        chat.type("\x1b[A")
        chat.wait_view("Up showing the last line sent", lambda ls: [l for l in ls if l][-1] == "> >> hello world")
        chat.type("\x1b[B")
        chat.wait_view("Down back to the draft", lambda ls: [l for l in ls if l][-1] == "> abXd")
        chat.type("\r")
        chat.wait_view("the draft sent", lambda ls: any("you: abXd" in l for l in ls))

        # Commands are local; //text sends a leading slash.
        chat.type("/help\r")
        chat.wait_view("/help", lambda ls: any("commands: /help" in l for l in ls))
        chat.type("/exit\r")
        chat.wait_view("/exit refused", lambda ls: any("unknown command /exit" in l for l in ls))
        chat.type("//slash text\r")
        chat.wait_view("//slash sent", lambda ls: any("you: /slash text" in l for l in ls))
        chat.type("   \r")
        chat.wait_view("a blank line refused", lambda ls: any("the message is blank" in l for l in ls))
        chat.type("/history 2\r")
        chat.wait_view("/history", lambda ls: sum("you: /slash text" in l for l in ls) == 2)
        # Ctrl-W, like a shell's, leaves the space before the word it drops.
        texts = bob.inbox_texts([">> hello world ", "abXd", "/slash text"], "bob's copy of alice's lines")
        expect("/exit" not in texts and "/help" not in texts and "   " not in texts,
               f"a command or a blank line reached bob: {texts}")
        expect(texts.count(">> hello world ") == 2, f"the recalled line did not arrive twice: {texts}")

        # Ticks, rewritten in place: delivered (bob's inbox above), then read.
        chat.type("tick me\r")
        chat.wait_view("'tick me' stored or further", lambda ls: any("you: tick me  \u2713" in l for l in ls))
        bob.inbox_texts(["tick me"], "bob's copy of 'tick me'")
        bob.ok("history", "alice", "--limit", "1")  # shown to bob: read
        chat.wait_view("'tick me' read, on one row", lambda ls: (
            [l for l in ls if "tick me" in l] == [l for l in ls if l.endswith("you: tick me  \u2713\u2713 read")]
            and len([l for l in ls if "tick me" in l]) == 1))

        # The whole ring stops: a line says so; it comes back: another line.
        addresses = [n.address for n in nodes]
        for n in nodes:
            n.proc.kill()
            n.proc.wait()
        chat.wait_view("the lost-connection line", lambda ls: any("lost the connection to the ring" in l for l in ls))
        restarted = [NodeProc(node_exe, ["up", "--listen", addresses[0], "--data", os.path.join(tmp, "n0")] +
                              dwsproc.TEST_NODE_FLAGS, "n0-again", tmp).start()]
        restarted[0].wait_ready()
        for i in (1, 2):
            n = NodeProc(node_exe, ["join", "--listen", addresses[i], "--peer", addresses[0], "--data",
                                    os.path.join(tmp, f"n{i}")] + dwsproc.TEST_NODE_FLAGS, f"n{i}-again", tmp).start()
            n.wait_ready()
            restarted.append(n)
        nodes[:] = restarted
        chat.wait_view("the connection-back line", lambda ls: any("connected to the ring again" in l for l in ls))

        # /chat switches, and checks the user; /quit leaves with 0.
        chat.type("/chat nobody-here\r")
        chat.wait_view("/chat to an unknown user", lambda ls: any("no user 'nobody-here'" in l for l in ls))
        chat.type("/chat carol\r")
        chat.wait_view("the switch to carol", lambda ls: any("chat with carol" in l for l in ls))
        chat.type("/quit\r")
        code = chat.wait_exit()
        expect(code == 0, f"/quit: exit {code}, expected 0")
    finally:
        chat.close()

    # What the open chat showed is not unread.
    chats = {c["peer"]: c for c in alice.json_lines("chats", "--json")}
    expect(chats["bob"]["unread"] == 0, f"bob's messages shown in the open chat count as unread: {chats['bob']}")

    # A real user with no messages yet: /quit is exit 0; an unknown one fails at once.
    dave = ChatPty(alice.argv("chat", "dave"))
    try:
        dave.wait_view("the chat with dave", lambda ls: any("chat with dave" in l for l in ls))
        dave.type("/quit\r")
        expect(dave.wait_exit() == 0, "quitting a chat with no messages is not exit 0")
    finally:
        dave.close()
    alice.error("chat", "nobody-here", mentions=("no user 'nobody-here'",))

    # `dws-chat` alone lists the chats to pick from.
    pick = ChatPty(alice.argv())
    try:
        pick.wait_view("the numbered chat list", lambda ls: any(re.match(r"^\s+1\. ", l) for l in ls)
                       and any("number or nickname" in l for l in ls))
        pick.type("bob\r")
        pick.wait_view("the picked chat", lambda ls: any("chat with bob" in l for l in ls))
        # While it is open, a second dws-chat on the directory is refused.
        alice.error("chats", mentions=("in use by another dws-chat",))
        pick.type("\x04")  # Ctrl-D on an empty line
        expect(pick.wait_exit() == 0, "Ctrl-D did not leave with 0")
    finally:
        pick.close()


def check_command_line(node_exe, alice, bob, carol, nodes, tmp):
    servers = [n.address for n in nodes]
    # A mistyped command, a URL, a missing port, a server that is no dws-node.
    alice.error("chta", mentions=("'chta' is not a command", "chat"))
    alice.error("--server", "http://" + servers[0], "chats", mentions=("not a URL", "--server " + servers[0]))
    alice.error("--server", "127.0.0.1", "chats", mentions=("needs a port",))

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><body><h1>Not Found</h1>\x1b[31m</body></html>")

        do_POST = do_GET

        def log_message(self, *args):
            pass
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        stranger = User(alice.exe, os.path.join(tmp, "stranger"), [f"127.0.0.1:{web.server_address[1]}"])
        line = stranger.error("register", "zed", "--password-stdin", stdin=PASSWORD,
                              mentions=("not a dwhatsapp answer",))
        expect("<html" not in line and "\x1b" not in line, f"the other server's page was printed: {line!r}")
    finally:
        web.shutdown()

    # dws-node's argument errors: one line, with its prefix.
    for args, word in ((["bogus"], "'bogus' is not a command"), (["up", "--listen", "127.0.0.1:0", "--no-such-flag"], "--no-such-flag")):
        p = subprocess.run([node_exe] + args, capture_output=True, text=True, timeout=HANG_GUARD_S)
        one_line_error(f"dws-node {' '.join(args)}", p.returncode, p.stderr, "dws-node: ", (word,))
    # A second dws-node on a data directory in use.
    p = subprocess.run([node_exe, "up", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "n0")] +
                       dwsproc.TEST_NODE_FLAGS, capture_output=True, text=True, timeout=HANG_GUARD_S)
    one_line_error("a second dws-node on n0", p.returncode, p.stderr, "dws-node: ", ("another dws-node",))

    # Another account on a data directory: refused, nothing switched.
    alice.error("login", "bob", "--password-stdin", stdin=PASSWORD, mentions=("holds the account 'alice'",))
    expect(alice.ok("whoami").startswith("alice"), "a refused login changed the account")

    # --help: global options under each command; the chat's commands under chat.
    for cmd in ("inbox", "send", "chats"):
        out = alice.ok(cmd, "--help")
        expect("--server" in out and "--data" in out, f"dws-chat {cmd} --help does not list the global options")
    out = alice.ok("chat", "--help")
    expect("/quit" in out and "/history" in out and "/chat NICK" in out, "chat --help does not list the commands")

    # Size limit in characters, before anything is sent.
    alice.error("send", "bob", "\u00e9" * 40000, mentions=("40000 characters", "at most"))

    # Aliases: stored folded, shown and accepted wherever a nickname is.
    out = alice.ok("contacts", "add", "Carol", "--alias", "Caro")
    expect(out.strip() == "added carol as Caro", f"contacts add Carol said {out.strip()!r}")
    alice.ok("send", "Caro", "to carol by alias")
    hist = alice.json_lines("history", "caro", "--json")
    expect(hist and hist[-1]["text"] == "to carol by alias" and hist[-1]["to"] == "carol",
           f"history by alias: {hist[-1:]}")

    # Pinned on first message: bob never added alice, yet she is a contact,
    # with the safety number alice's whoami shows.
    me = alice.json_lines("whoami", "--json")[0]
    expect(me["nickname"] == "alice" and SAFETY.match(me["safety_number"]), f"whoami --json: {me}")
    contacts = {c["nickname"]: c for c in bob.json_lines("contacts", "list", "--json")}
    expect("alice" in contacts, f"bob's contacts after chatting with alice: {sorted(contacts)}")
    expect(contacts["alice"]["safety_number"] == me["safety_number"],
           f"bob's pinned key for alice has safety number {contacts['alice']['safety_number']}, "
           f"alice's own is {me['safety_number']}")
    out = bob.ok("contacts", "list")
    expect("safety number " + me["safety_number"] in out, f"contacts list shows no safety number: {out!r}")

    # `chats` fetches first: carol's new message counts without an inbox.
    carol.ok("send", "alice", "fresh from carol")
    chats = {c["peer"]: c for c in alice.json_lines("chats", "--json")}
    expect(chats.get("carol", {}).get("last", {}).get("text") == "fresh from carol" and chats["carol"]["unread"] >= 1,
           f"chats did not fetch carol's new message first: {chats.get('carol')}")

    # With no terminal, `dws-chat` alone prints the chats.
    out = alice.ok()
    expect("carol" in out and "unread" in out, f"dws-chat with no command printed {out!r}")


def main():
    node_exe, chat_exe = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="dws-chat-terminal-")
    nodes, ok = [], False
    try:
        nodes = dwsproc.start_ring(node_exe, tmp, 3, timeout=HANG_GUARD_S)
        servers = [n.address for n in nodes]
        users = {}
        for nick in ("alice", "bob", "carol", "dave"):
            users[nick] = User(chat_exe, os.path.join(tmp, nick), servers)
            users[nick].ok("register", nick, "--password-stdin", stdin=PASSWORD)
        alice, bob, carol = users["alice"], users["bob"], users["carol"]
        check_pty_chat(alice, bob, carol, nodes, node_exe, tmp)
        check_command_line(node_exe, alice, bob, carol, nodes, tmp)
        ok = True
        print("chat terminal: typing, commands, keys, ticks, connection lines, command-line fixes: ok")
        return 0
    except (Failure, dwsproc.NodeError, TimeoutError, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        for n in nodes:
            print(n.log_tail(), file=sys.stderr)
        return 1
    finally:
        dwsproc.finish(nodes, tmp, ok)


if __name__ == "__main__":
    dwsproc.exit_with(main)
