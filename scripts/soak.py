#!/usr/bin/env python3
"""Soak run (`make soak`, not in CI): 5 dws-node processes on loopback, one
SIGKILLed and restarted at the same address with its data every few
seconds, and 10 users exchanging messages through dws-chat as people would,
each on two devices (two data directories: one registered, one logged in),
sending from either. At the end every node is back, every device drains its
inbox, and the run prints sent, stored, delivered per device, failed, lost
(a stored message missing on any device of its recipient) and duplicated
(shown twice by one device).

Every loop is bounded in count and in time. Exit 0 when nothing was lost,
nothing duplicated and no send failed.

Usage: soak.py [--node PATH] [--chat PATH] [--minutes M] [--kill-every S]
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dwsproc  # noqa: E402
from dwsproc import NodeProc, wait_for_ring  # noqa: E402

COMMON = ["--stabilize-ms", "200", "--sync-ms", "500", "--discovery-port", "0"]
NODES = 5
USERS = 10
DEVICES = 2
MAX_SENDS_PER_USER = 5000  # a bound on the loop; the clock ends it first
COMMAND_GUARD_S = 60       # no dws-chat call may hang the run
DRAIN_S = 180              # after the churn, how long users may take to read everything


class Chat:
    """dws-chat with one data directory: one user on one device."""

    def __init__(self, exe, data, nick, servers, device):
        self.exe, self.data, self.nick, self.servers, self.device = exe, data, nick, servers, device

    def run(self, *args, stdin=""):
        argv = [self.exe]
        for s in self.servers:
            argv += ["--server", s]
        argv += ["--data", self.data] + list(args)
        try:
            p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=COMMAND_GUARD_S)
        except subprocess.TimeoutExpired:
            return 124, "", f"dws-chat {args[0]} did not finish within {COMMAND_GUARD_S}s"
        return p.returncode, p.stdout, p.stderr

    def inbox(self):
        code, out, err = self.run("inbox", "--json", "--wait", "0")
        if code != 0:
            return None, err.strip()
        msgs = []
        for line in out.splitlines():
            try:
                msgs.append(json.loads(line))
            except ValueError:
                return None, f"inbox --json printed a line that is not JSON: {line!r}"
        return msgs, ""


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = 0
        self.stored = {}       # id -> (from, to, text)
        self.failures = []     # (from, to, error)
        self.delivered = {}    # (nick, device) -> {id -> times that device's application saw it}
        self.inbox_errors = 0


def user_loop(devices, others, tally, rng, deadline):
    seq = 0
    for _ in range(MAX_SENDS_PER_USER):
        if time.monotonic() >= deadline:
            break
        chat = devices[seq % len(devices)]
        to = rng.choice(others)
        text = f"soak {chat.nick} {seq}"
        seq += 1
        code, out, err = chat.run("send", to, text)
        with tally.lock:
            tally.sent += 1
            if code == 0 and len(out.strip()) == 32:
                tally.stored[out.strip()] = (chat.nick, to, text)
            else:
                tally.failures.append((chat.nick, to, f"exit {code}: {err.strip()}"))
        if seq % 3 == 0:
            for d in devices:
                read(d, tally)


def read(chat, tally):
    msgs, err = chat.inbox()
    with tally.lock:
        if msgs is None:
            tally.inbox_errors += 1
            return
        seen = tally.delivered.setdefault((chat.nick, chat.device), {})
        for m in msgs:
            seen[m["id"]] = seen.get(m["id"], 0) + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--node", default="build/launchers/dws-node")
    ap.add_argument("--chat", default="build/launchers/dws-chat")
    ap.add_argument("--minutes", type=float, default=10.0, help="churn time, at most 10")
    ap.add_argument("--kill-every", type=float, default=5.0, help="seconds between SIGKILLs")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    if not 0 < a.minutes <= 10:
        ap.error(f"--minutes must be in (0, 10], got {a.minutes}")
    if a.kill_every < 1:
        ap.error(f"--kill-every must be at least 1 second, got {a.kill_every}")
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"soak: seed {seed}; {NODES} nodes, {USERS} users on {DEVICES} devices each; "
          f"{a.minutes:g} min of churn, a SIGKILL every {a.kill_every:g}s", flush=True)

    tmp = tempfile.mkdtemp(prefix="dws-soak-")
    dwsproc.set_ring_secret(os.path.join(tmp, "ring.secret"))
    nodes = []
    ok = False
    try:
        first = NodeProc(a.node, ["up", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "n0")] + COMMON,
                         "n0", tmp).start()
        first.wait_ready()
        nodes.append(first)
        for i in range(1, NODES):
            n = NodeProc(a.node, ["join", "--listen", "127.0.0.1:0", "--peer", first.address,
                                  "--data", os.path.join(tmp, f"n{i}")] + COMMON, f"n{i}", tmp).start()
            n.wait_ready()
            nodes.append(n)
        wait_for_ring(a.node, first.address, {n.address: n.id for n in nodes}, 60)
        servers = [n.address for n in nodes]
        print(f"ring of {NODES}: {' '.join(servers)}", flush=True)

        users = [[Chat(a.chat, os.path.join(tmp, f"u{i}-{d}"), f"user{i}", servers, d) for d in range(DEVICES)]
                 for i in range(USERS)]
        chats = [c for devices in users for c in devices]
        for c in chats:
            verb = "register" if c.device == 0 else "login"
            for attempt in range(20):
                code, _, err = c.run(verb, c.nick, "--password-stdin", stdin=f"soak password {c.nick}\n")
                if code == 0:
                    break
                time.sleep(0.5)  # pacing between attempts, not synchronization
            else:
                raise dwsproc.Failure(f"{verb} {c.nick} (device {c.device}): {err.strip()}")

        tally = Tally()
        began = time.monotonic()
        deadline = began + a.minutes * 60
        threads = []
        for devices in users:
            others = [u[0].nick for u in users if u is not devices]
            t = threading.Thread(target=user_loop,
                                 args=(devices, others, tally, random.Random(rng.random()), deadline))
            t.start()
            threads.append(t)

        kills = 0
        while time.monotonic() < deadline and kills < 10_000:
            time.sleep(a.kill_every / 2)  # the churn's rhythm, not synchronization
            victim = rng.choice(nodes)
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait()
            kills += 1
            time.sleep(a.kill_every / 2)
            peer = next(n for n in nodes if n.running()).address
            again = NodeProc(a.node, ["join", "--listen", victim.address, "--peer", peer,
                                      "--data", os.path.join(tmp, victim.name)] + COMMON, victim.name, tmp).start()
            again.wait_ready(60)
            nodes[nodes.index(victim)] = again
        for t in threads:
            t.join(COMMAND_GUARD_S * 3)
        churn_s = time.monotonic() - began
        wait_for_ring(a.node, nodes[0].address, {n.address: n.id for n in nodes}, 60)

        def missing():
            """(id, device) pairs: a stored message its recipient's device has not shown."""
            return [(i, (to, d)) for i, (_, to, _) in tally.stored.items() for d in range(DEVICES)
                    if i not in tally.delivered.get((to, d), {})]

        drain_deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < drain_deadline:
            for c in chats:
                read(c, tally)
            if not missing():
                break

        stored = set(tally.stored)
        lost = missing()
        dups = [(dev, i) for dev, seen in tally.delivered.items() for i, n in seen.items() if n > 1]
        unknown = {i for seen in tally.delivered.values() for i in seen if i not in stored}
        per_device = {d: sum(1 for i, (_, to, _) in tally.stored.items() if i in tally.delivered.get((to, d), {}))
                      for d in range(DEVICES)}
        print(f"soak: {churn_s:.0f}s of churn, {kills} SIGKILLs and restarts", flush=True)
        print(f"sent {tally.sent}, stored {len(stored)}, failed sends {len(tally.failures)}, delivered "
              + ", ".join(f"{per_device[d]} to device {d}" for d in range(DEVICES))
              + f" of each recipient, lost {len(lost)}, duplicated {len(dups)}, delivered but never acknowledged "
              f"to the sender {len(unknown)}, inbox calls that failed {tally.inbox_errors}")
        for f in tally.failures[:10]:
            print(f"  failed send {f[0]} -> {f[1]}: {f[2]}")
        for i, dev in lost[:10]:
            print(f"  lost {i} on {dev}: {tally.stored[i]}")
        ok = not lost and not dups and not tally.failures
        return 0 if ok else 1
    finally:
        dwsproc.finish(nodes, tmp, ok)


if __name__ == "__main__":
    dwsproc.exit_with(main)
