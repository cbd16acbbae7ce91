#!/usr/bin/env python3
"""Process test: dws-chat driven exactly as a user would, against three
dws-node processes on loopback.

alice and bob register (--password-stdin) in separate data directories;
alice sends, bob's `inbox --json` shows it exactly once, the receipt marks it
delivered in alice's history; chats, contacts add/list/rm; the error cases a
user meets (wrong password, unknown recipient, invalid nickname, not logged
in, no reachable server) are one line on stderr and a non-zero exit; alice
logs in from a fresh data directory and reads new messages; an interactive
`chat` session on a pseudo-terminal shows bob's message as it arrives and
sends what is typed. Then bob's primary node is SIGKILLed and the messages
alice sends afterwards (each acknowledged with an id) all reach bob.

Usage: test_chat_process.py path/to/dws-node path/to/dws-chat
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import dwsproc  # noqa: E402
from dwsproc import Failure, NodeProc, PtySession, closed_port, expect, http_get, wait_for  # noqa: E402

COMMON = dwsproc.TEST_NODE_FLAGS
# Wall-clock limits only guard against hangs; nothing is asserted about time.
HANG_GUARD_S = 90
COMMAND_GUARD_S = 80
MESSAGE_ID = re.compile(r"^[0-9a-f]{32}$")


class Chat:
    """dws-chat with one data directory, as one person at one device."""

    def __init__(self, exe, data, servers=()):
        self.exe, self.data = exe, data
        self.servers = list(servers)

    def argv(self, args, servers=None):
        servers = self.servers if servers is None else servers
        out = [self.exe]
        for s in servers:
            out += ["--server", s]
        return out + ["--data", self.data] + list(args)

    def run(self, *args, stdin="", servers=None):
        """(exit code, stdout, stderr)."""
        p = subprocess.run(self.argv(args, servers), input=stdin, capture_output=True, text=True,
                           timeout=COMMAND_GUARD_S)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args, stdin="", servers=None):
        code, out, err = self.run(*args, stdin=stdin, servers=servers)
        expect(code == 0, f"dws-chat {' '.join(args)} ({self.data}): expected exit 0, got {code}; "
                          f"stderr: {err.strip()!r}; stdout: {out.strip()!r}")
        return out

    def error(self, *args, stdin="", servers=None, mentions=()):
        """Runs a command that must fail; checks the one-line message."""
        code, out, err = self.run(*args, stdin=stdin, servers=servers)
        what = f"dws-chat {' '.join(args)}"
        expect(code != 0, f"{what}: expected a non-zero exit, got 0; stdout: {out.strip()!r}")
        lines = err.strip().splitlines()
        expect(len(lines) == 1 and lines[0].startswith("dws-chat: "),
               f"{what}: expected one line 'dws-chat: ...' on stderr, got {err!r}")
        for word in mentions:
            expect(word in lines[0], f"{what}: expected the error to mention {word!r}, got {lines[0]!r}")
        return lines[0]

    def send(self, to, text):
        out = self.ok("send", to, text).strip()
        expect(MESSAGE_ID.match(out), f"send {to}: expected a 32-hex message id on stdout, got {out!r}")
        return out

    def inbox(self, wait=0):
        out = self.ok("inbox", "--json", "--wait", str(wait))
        messages = []
        for line in out.splitlines():
            try:
                messages.append(json.loads(line))
            except ValueError as e:
                raise Failure(f"inbox --json printed a line that is not JSON ({e}): {line!r}")
        return messages


def collect(user, ids, timeout, what):
    """Runs `inbox --json` until every id in `ids` has arrived; returns
    {id: message}. A message seen twice is a failure (exactly once)."""
    got = {}

    def check():
        for m in user.inbox(wait=2):
            expect(m["id"] not in got, f"message {m['id']} delivered twice by inbox: {m}")
            got[m["id"]] = m
        missing = [i for i in ids if i not in got]
        return not missing, f"missing {missing}, have {sorted(got)}"

    wait_for(check, timeout, what, interval=0)
    return got


def start_ring(node_exe, tmp):
    return dwsproc.start_ring(node_exe, tmp, 3, flags=COMMON, timeout=HANG_GUARD_S)


def scenario(node_exe, chat_exe, tmp, nodes):
    n0, n1, n2 = (n.address for n in nodes)
    # Each user names one server once; later commands use the saved list.
    alice = Chat(chat_exe, os.path.join(tmp, "alice"), [n0])
    bob = Chat(chat_exe, os.path.join(tmp, "bob"), [n1])
    out = alice.ok("register", "alice", "--password-stdin", stdin="correct horse alice\n")
    expect("alice" in out, f"register alice: expected a confirmation naming alice, got {out!r}")
    bob.ok("register", "bob", "--password-stdin", stdin="battery staple bob\n")
    alice.servers = bob.servers = []
    expect(alice.ok("whoami").split()[0] == "alice", "whoami in alice's data directory: expected 'alice'")
    print(f"registered alice (through {n0}) and bob (through {n1})", flush=True)

    first = alice.send("bob", "hello bob, it's alice")
    got = collect(bob, [first], HANG_GUARD_S, "alice's first message in bob's inbox")
    m = got[first]
    expect(m["from"] == "alice" and m["to"] == "bob" and m["text"] == "hello bob, it's alice"
           and isinstance(m["sent_at"], int) and m["sent_at"] > 0,
           f"bob's inbox --json: expected from alice, to bob, the text and sent_at, got {m}")
    again = bob.inbox()
    expect(not again, f"bob's second inbox: expected nothing (acknowledged), got {again}")
    # Characters that need JSON escaping survive the round trip.
    tricky = 'quote " backslash \\ tab \t newline \n and ünïcødé ✓'
    tid = alice.send("bob", tricky)
    got = collect(bob, [tid], HANG_GUARD_S, "the message with characters to escape")
    expect(got[tid]["text"] == tricky, f"inbox --json: expected text {tricky!r}, got {got[tid]['text']!r}")
    print("alice -> bob: stored, in bob's inbox once, JSON text intact", flush=True)

    # The receipt bob's client sent comes back when alice's client receives.
    def delivered():
        alice.inbox()
        history = alice.ok("history", "bob")
        line = next((ln for ln in history.splitlines() if "hello bob, it's alice" in ln), "")
        # bob's inbox printed it, which also counts as read.
        return line.endswith("delivered]") or line.endswith("read]"), history
    wait_for(delivered, HANG_GUARD_S, "alice's history to mark the first message delivered", interval=0.2)
    history = bob.ok("history", "alice", "--limit", "10")
    expect("alice: hello bob, it's alice" in history, f"bob's history with alice: expected alice's line, got {history!r}")
    chats = alice.ok("chats")
    expect(re.search(r"^bob\s", chats, re.M), f"alice's chats: expected a line for bob, got {chats!r}")
    print("history, delivery mark and chats as expected", flush=True)

    bob.ok("contacts", "add", "alice", "--alias", "Al")
    listed = bob.ok("contacts", "list")
    expect(re.search(r"^alice \(Al\)", listed, re.M), f"bob's contacts: expected 'alice (Al)', got {listed!r}")
    bob.ok("contacts", "rm", "alice")
    listed = bob.ok("contacts", "list")
    expect(not re.search(r"^alice\b", listed, re.M), f"bob's contacts after rm: expected no alice, got {listed!r}")
    bob.error("contacts", "add", "nobody-here", mentions=["nobody-here"])
    print("contacts add / list / rm as expected", flush=True)

    stranger = Chat(chat_exe, os.path.join(tmp, "stranger"), [n2])
    wrong = stranger.error("login", "alice", "--password-stdin", stdin="not her password\n",
                           mentions=["wrong nickname or password"])
    nobody = stranger.error("login", "nobody-here", "--password-stdin", stdin="whatever\n",
                            mentions=["wrong nickname or password"])
    expect(wrong == nobody, f"login: a wrong password and an unknown nickname must read alike, got {wrong!r} / {nobody!r}")
    stranger.error("inbox", mentions=["run dws-chat login NICK first"])
    alice.error("send", "nobody-here", "are you there?", mentions=["nobody-here"])
    stranger.error("register", "Al ice", "--password-stdin", stdin="a fine password\n", mentions=["a-z", "0-9"])
    alice.error("send", "b@b", "hi", mentions=["a-z", "0-9"])
    stranger.error("register", "alice", "--password-stdin", stdin="another password\n", mentions=["alice"])
    dead = f"127.0.0.1:{closed_port()}"
    lonely = Chat(chat_exe, os.path.join(tmp, "lonely"), [dead])
    lonely.error("register", "carol", "--password-stdin", stdin="carol's password\n", mentions=[dead])
    # No server given or saved: discovery (broadcast on loopback here), which nobody answers.
    unknown = Chat(chat_exe, os.path.join(tmp, "unknown"))
    unknown.error("register", "carol", "--password-stdin", "--discovery-port", str(closed_port()),
                  stdin="carol's password\n", mentions=["discovery"])
    print("errors: wrong password, unknown recipient, invalid nickname, taken nickname, not logged in, "
          "no reachable server: one line each and a non-zero exit", flush=True)

    # A second device: the account comes back from the ring with the password.
    alice2 = Chat(chat_exe, os.path.join(tmp, "alice-laptop"), [n2])
    alice2.ok("login", "alice", "--password-stdin", stdin="correct horse alice\n")
    alice2.servers = []
    expect(alice2.ok("whoami").split()[0] == "alice", "whoami after login on a fresh data directory: expected 'alice'")
    rid = bob.send("alice", "welcome back on your laptop")
    got = collect(alice2, [rid], HANG_GUARD_S, "bob's message on alice's second device")
    expect(got[rid]["text"] == "welcome back on your laptop", f"alice's laptop: unexpected message {got[rid]}")
    print("login from a fresh data directory recovers alice and reads new messages", flush=True)

    carol = Chat(chat_exe, os.path.join(tmp, "carol"), [n0])
    carol.ok("register", "carol", "--password-stdin", stdin="carol one\n")
    carol.ok("passwd", "--password-stdin", stdin="carol one\ncarol two\n")
    carol_phone = Chat(chat_exe, os.path.join(tmp, "carol-phone"), [n1])
    carol_phone.error("login", "carol", "--password-stdin", stdin="carol one\n", mentions=["wrong nickname or password"])
    carol_phone.ok("login", "carol", "--password-stdin", stdin="carol two\n")
    carol.ok("delete-account", "--password-stdin", stdin="carol two\n")
    carol.error("whoami", mentions=["run dws-chat login NICK first"])
    Chat(chat_exe, os.path.join(tmp, "carol-tablet"), [n2]).error(
        "login", "carol", "--password-stdin", stdin="carol two\n", mentions=["wrong nickname or password"])
    alice.error("send", "carol", "are you gone?", mentions=["carol"])
    print("passwd: only the new password logs in; delete-account: the account is gone", flush=True)

    session = PtySession(alice.argv(["chat", "bob"]))
    try:
        session.wait_for_text("chat with bob", HANG_GUARD_S)
        bob.send("alice", "ping from bob")
        session.wait_for_text("bob: ping from bob", HANG_GUARD_S)
        session.type("pong from alice\r")
        session.wait_for_text("you: pong from alice", HANG_GUARD_S)
        got = {}

        def pong():
            for m in bob.inbox(wait=2):
                got[m["text"]] = m
            return "pong from alice" in got, sorted(got)
        wait_for(pong, HANG_GUARD_S, "the line typed in alice's chat session in bob's inbox", interval=0)
        expect(got["pong from alice"]["from"] == "alice", f"bob's inbox: expected the pong from alice, got {got}")
        session.type("/quit\r")
        try:
            code = session.proc.wait(timeout=HANG_GUARD_S)
        except subprocess.TimeoutExpired:
            raise Failure(f"chat session did not leave after /quit; screen: {session.screen()[-600:]!r}")
        expect(code == 0, f"chat session: expected exit 0 after /quit, got {code}; screen: {session.screen()[-600:]!r}")
        # Linux pseudo-terminals share one termios between the two ends.
        lflag = termios.tcgetattr(session.master)[3]
        expect(lflag & termios.ECHO and lflag & termios.ICANON,
               f"after the chat session: expected the terminal back in echo and line mode, lflag {lflag:#x}")
    finally:
        session.close()
    print("chat on a terminal: bob's message appeared while it ran, the typed line reached bob, /quit left",
          flush=True)

    primary = json.loads(http_get(n0, "/v1/users/bob/node"))["address"]
    victim = next((n for n in nodes if n.address == primary), None)
    expect(victim is not None, f"GET /v1/users/bob/node: expected one of {[n.address for n in nodes]}, got {primary}")
    victim.proc.kill()
    victim.proc.wait()
    print(f"SIGKILLed bob's primary {primary}", flush=True)

    sent = []
    deadline = time.monotonic() + HANG_GUARD_S
    i = 0
    while len(sent) < 5:
        # A send may fail while the ring repairs; the user sends again.
        code, out, err = alice.run("send", "bob", f"after the crash {i}")
        if code == 0:
            expect(MESSAGE_ID.match(out.strip()), f"send after the crash: expected a message id, got {out!r}")
            sent.append(out.strip())
            i += 1
        elif time.monotonic() > deadline:
            raise Failure(f"alice could not send to bob within {HANG_GUARD_S}s of the crash: {err.strip()}")
        else:
            time.sleep(0.2)  # a user's pause before sending again, not synchronization
    got = collect(bob, sent, HANG_GUARD_S, "the messages sent after bob's primary died")
    texts = [got[i]["text"] for i in sent]
    expect(texts == [f"after the crash {k}" for k in range(5)], f"after the crash: bob got {texts}")
    print(f"after the crash: all {len(sent)} acknowledged messages reached bob", flush=True)
    return [n for n in nodes if n is not victim]


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    node_exe, chat_exe = (os.path.abspath(a) for a in sys.argv[1:])
    tmp = tempfile.mkdtemp(prefix="dws-chat-process-")
    # A private ring: every node gets its secret, `up` creates it.
    dwsproc.set_ring_secret(os.path.join(tmp, "ring.secret"))
    # Whatever the clients broadcast for discovery stays on loopback.
    os.environ["DWS_DISCOVERY_BROADCAST"] = "127.255.255.255"
    nodes = []
    ok = False
    try:
        nodes = start_ring(node_exe, tmp)
        print(f"formed: one ring of 3: {', '.join(n.address for n in nodes)}", flush=True)
        live = scenario(node_exe, chat_exe, tmp, nodes)
        codes = NodeProc.stop_all(live, HANG_GUARD_S)
        expect(all(c == 0 for c in codes), f"expected the live nodes to exit 0 on SIGTERM, got {codes}")
        ok = True
        print("PASS: process chat test")
        return 0
    except (Failure, TimeoutError, dwsproc.NodeError, OSError, subprocess.SubprocessError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        print("\n".join(n.log_tail() for n in nodes), file=sys.stderr)
        return 1
    finally:
        dwsproc.finish(nodes, tmp, ok)


if __name__ == "__main__":
    dwsproc.exit_with(main)
