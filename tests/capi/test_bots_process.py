#!/usr/bin/env python3
"""Process test: the C, Python and Go echo bots (examples/) each answer a
message that a person sends with dws-chat, through a ring of three
dws-node processes on loopback.

Each bot registers its own account (it logs in when it exists), says it
answers, gets "hello <bot>" from the dws-chat user and answers
"echo: hello <bot>", which the user's `inbox --json` shows exactly once;
then the bot leaves on SIGTERM with exit 0. A bot given as "-" was not
built (no Go toolchain) and is reported as skipped.

Usage: test_bots_process.py DWS_NODE DWS_CHAT C_BOT PYTHON_BOT GO_BOT
(the Python bot finds libdwhatsapp through DWS_LIBRARY)
"""

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import dwsproc  # noqa: E402
from dwsproc import Failure, NodeProc, expect, wait_for, wait_for_ring  # noqa: E402

COMMON = ["--stabilize-ms", "200", "--sync-ms", "500", "--discovery-port", "0"]
# Wall-clock limits only guard against hangs; nothing is asserted about time.
HANG_GUARD_S = 90


class Bot:
    """One bot process; its stdout lines are collected as they come."""

    def __init__(self, name, argv, password, logdir, env):
        self.name = name
        self.log_path = os.path.join(logdir, name + ".log")
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                         text=True, env=env)
        finally:
            log.close()
        self.proc.stdin.write(password + "\n")
        self.proc.stdin.close()
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_line(self, predicate, what):
        deadline = time.monotonic() + HANG_GUARD_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure(f"{self.name}: no {what} on stdout within {HANG_GUARD_S}s; saw {self.seen}\n"
                              f"{self.log_tail()}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise Failure(f"{self.name}: exited with {self.proc.wait()} before {what}; saw {self.seen}\n"
                              f"{self.log_tail()}")
            self.seen.append(line)
            if predicate(line):
                return line

    def stop(self):
        """SIGTERM; the exit code (SIGKILL and -9 when it does not leave)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=HANG_GUARD_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9

    def log_tail(self):
        try:
            with open(self.log_path, errors="replace") as f:
                tail = f.readlines()[-25:]
        except OSError:
            return f"({self.name}: no log)"
        return f"--- {self.name} stderr (last {len(tail)} lines) ---\n" + "".join(tail)


def chat(chat_exe, data, *args, stdin=""):
    p = subprocess.run([chat_exe, "--data", data] + list(args), input=stdin, capture_output=True, text=True,
                       timeout=HANG_GUARD_S)
    expect(p.returncode == 0, f"dws-chat {' '.join(args)}: expected exit 0, got {p.returncode}; "
                              f"stderr: {p.stderr.strip()!r}")
    return p.stdout


def start_ring(node_exe, tmp):
    first = NodeProc(node_exe, ["up", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "n0")] + COMMON,
                     "n0", tmp).start()
    nodes = [first]
    first.wait_ready()
    for i in range(1, 3):
        n = NodeProc(node_exe, ["join", "--listen", "127.0.0.1:0", "--peer", first.address,
                                "--data", os.path.join(tmp, f"n{i}")] + COMMON, f"n{i}", tmp).start()
        nodes.append(n)
        n.wait_ready()
    wait_for_ring(node_exe, first.address, {n.address: n.id for n in nodes}, HANG_GUARD_S)
    return nodes


def one_bot(name, argv, chat_exe, user_data, tmp, bots):
    nick = name.replace("-", "_")
    bot = Bot(name, argv(nick), f"{nick}'s password", tmp, dict(os.environ))
    bots.append(bot)
    bot.wait_line(lambda ln: ln == f"echo-bot: answering as {nick}", f"'echo-bot: answering as {nick}'")

    text = f"hello {nick}, it's the tester"
    sent = chat(chat_exe, user_data, "send", nick, text).strip()
    answered = bot.wait_line(lambda ln: ln.startswith("echo-bot: answered "), "'echo-bot: answered ...'")
    expect(answered.startswith(f"echo-bot: answered {sent} from tester with "),
           f"{name}: expected it to answer message {sent} from tester, it printed {answered!r}")

    got = []

    def check():
        for line in chat(chat_exe, user_data, "inbox", "--json", "--wait", "2").splitlines():
            got.append(json.loads(line))
        return any(m["from"] == nick for m in got), got
    wait_for(check, HANG_GUARD_S, f"the answer of {name} in the tester's inbox", interval=0)
    answers = [m for m in got if m["from"] == nick]
    expect(len(answers) == 1 and answers[0]["text"] == "echo: " + text,
           f"{name}: expected one answer 'echo: {text}', the tester's inbox had {got}")
    code = bot.stop()
    expect(code == 0, f"{name}: expected exit 0 on SIGTERM, got {code}\n{bot.log_tail()}")
    print(f"{name}: answered the tester's message and left on SIGTERM", flush=True)


def main():
    if len(sys.argv) != 6:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    node_exe, chat_exe = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    c_bot, py_bot, go_bot = sys.argv[3:6]
    tmp = tempfile.mkdtemp(prefix="dws-bots-process-")
    dwsproc.set_ring_secret(os.path.join(tmp, "ring.secret"))
    os.environ["DWS_DISCOVERY_BROADCAST"] = "127.255.255.255"
    nodes, bots = [], []
    ok = False
    try:
        nodes = start_ring(node_exe, tmp)
        n0, n1, n2 = (n.address for n in nodes)
        print(f"formed: one ring of 3: {n0}, {n1}, {n2}", flush=True)
        user_data = os.path.join(tmp, "tester")
        chat(chat_exe, user_data, "--server", n0, "register", "tester", "--password-stdin",
             stdin="the tester's password\n")

        def data(nick):
            return os.path.join(tmp, nick)
        cases = [
            ("c-bot", lambda nick: [c_bot, n1, data(nick), nick]),
            ("python-bot", lambda nick: [sys.executable, py_bot, "--server", n2, "--data", data(nick), nick]),
            ("go-bot", lambda nick: [go_bot, "-server", n1, "-data", data(nick), nick]),
        ]
        for name, argv in cases:
            if argv("x")[0] == "-":
                print(f"{name}: SKIPPED (not built)", flush=True)
                continue
            one_bot(name, argv, chat_exe, user_data, tmp, bots)
        codes = NodeProc.stop_all(nodes, HANG_GUARD_S)
        expect(all(c == 0 for c in codes), f"expected the nodes to exit 0 on SIGTERM, got {codes}")
        ok = True
        print("PASS: the C, Python and Go bots answer through a ring of dws-node processes")
        return 0
    except (Failure, TimeoutError, dwsproc.NodeError, OSError, subprocess.SubprocessError, ValueError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        print("\n".join([n.log_tail() for n in nodes] + [b.log_tail() for b in bots]), file=sys.stderr)
        return 1
    finally:
        for b in bots:
            if b.proc.poll() is None:
                b.proc.kill()
                b.proc.wait()
        dwsproc.finish(nodes, tmp, ok)


if __name__ == "__main__":
    dwsproc.exit_with(main)
