#!/usr/bin/env python3
"""make demo: a 3-node ring on loopback and two people chatting over it.

Starts three dws-node processes on 127.0.0.1 (ports picked by the OS, data in
a temporary directory) and waits until they form one ring. Then alice and bob
register with dws-chat (each with a data directory of their own) and talk:
each message is sent, stored by the ring, fetched with `inbox` and printed as
each side sees it. One node is stopped gracefully (SIGTERM: it hands its data
over and leaves) and the conversation goes on. Finally it prints the
commands to join in by hand, waits for Ctrl-C when run on a terminal (or
stops at once otherwise), and removes the nodes and every data directory.

Usage: scripts/demo.py path/to/dws-node [path/to/dws-chat]
"""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dwsproc  # noqa: E402

NODES = 3
# Wall-clock limits only guard against hangs.
GUARD_S = 60


class DemoError(Exception):
    pass


class Person:
    """Runs dws-chat for one person with their own data directory and shows
    each command and what it printed."""

    def __init__(self, exe, name, data, server):
        self.exe, self.name, self.data, self.server = exe, name, data, server

    def run(self, *args, stdin="", show=True):
        argv = [self.exe, "--server", self.server, "--data", self.data] + list(args)
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=GUARD_S)
        if show:
            print(f"  {self.name}$ dws-chat {' '.join(shlex.quote(a) for a in args)}")
            for line in (p.stdout + p.stderr).splitlines():
                print(f"    {line}")
        return p.returncode, p.stdout, p.stderr

    def must(self, *args, stdin=""):
        code, out, err = self.run(*args, stdin=stdin)
        if code != 0:
            raise DemoError(f"{self.name}: dws-chat {' '.join(args)} exited {code}: {err.strip()}")
        return out

    def say(self, to, text):
        """Sends; while the ring settles after a change a send can fail, and
        a person would simply send again."""
        deadline = time.monotonic() + GUARD_S
        while True:
            code, out, err = self.run("send", to, text, show=False)
            if code == 0:
                print(f"  {self.name}$ dws-chat send {to} {shlex.quote(text)}\n    {out.strip()}   (message id: stored by the ring)")
                return out.strip()
            if time.monotonic() > deadline:
                raise DemoError(f"{self.name} could not send to {to}: {err.strip()}")
            time.sleep(0.2)  # a person's pause before sending again

    def read(self, count):
        """Runs `inbox --wait` until `count` new messages were printed."""
        seen = 0
        deadline = time.monotonic() + GUARD_S
        while seen < count:
            out = self.must("inbox", "--wait", "10")
            seen += len(out.splitlines())
            if seen < count and time.monotonic() > deadline:
                raise DemoError(f"{self.name}: {seen} of {count} messages arrived within {GUARD_S}s")


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    exe = os.path.abspath(sys.argv[1])
    chat = os.path.abspath(sys.argv[2]) if len(sys.argv) == 3 else os.path.join(os.path.dirname(exe), "dws-chat")
    tmp = tempfile.mkdtemp(prefix="dws-demo-")
    # A private ring: every node gets its secret, `up` creates it.
    dwsproc.set_ring_secret(os.path.join(tmp, "ring.secret"))
    nodes = []
    try:
        common = ["--stabilize-ms", "200", "--discovery-port", "0"]
        first = dwsproc.NodeProc(exe, ["up", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "n0")] + common,
                                 "n0", tmp)
        nodes.append(first.start())
        first.wait_ready()
        print(f"demo: started {first.address} (new private ring; its secret is {dwsproc.RING_SECRET}, "
              "which every joiner is given with --ring-secret)")
        for i in range(1, NODES):
            n = dwsproc.NodeProc(exe, ["join", "--listen", "127.0.0.1:0", "--peer", first.address,
                                       "--data", os.path.join(tmp, f"n{i}")] + common, f"n{i}", tmp)
            nodes.append(n.start())
            n.wait_ready()
            print(f"demo: started {n.address} (joined through {first.address})")

        members = {n.address: n.id for n in nodes}
        dwsproc.wait_for_ring(exe, first.address, members, timeout=GUARD_S)
        print(f"demo: one ring of {NODES}; dws-node status --peer {first.address}:\n", flush=True)
        subprocess.run([exe] + dwsproc.status_args(first.address), check=True, timeout=GUARD_S)

        alice = Person(chat, "alice", os.path.join(tmp, "alice"), nodes[0].address)
        bob = Person(chat, "bob", os.path.join(tmp, "bob"), nodes[1].address)
        print(f"\ndemo: alice (through {alice.server}) and bob (through {bob.server}) register; "
              "the password comes from standard input here, from the terminal without echo otherwise\n")
        alice.must("register", "alice", "--password-stdin", stdin="alice's demo password\n")
        bob.must("register", "bob", "--password-stdin", stdin="bob's demo password\n")

        print("\ndemo: a conversation, end to end encrypted (the nodes only store sealed envelopes)\n")
        alice.say("bob", "Hi Bob! Are you on the new ring?")
        bob.read(1)
        bob.say("alice", "Hi Alice, yes: three nodes on this machine.")
        alice.read(1)

        primary = json.loads(dwsproc.http_get(nodes[0].address, "/v1/users/bob/node"))["address"]
        victim = next((n for n in nodes if n.address == primary), None)
        if victim is None:
            raise DemoError(f"GET /v1/users/bob/node named {primary}, which is not one of the demo's nodes")
        print(f"\ndemo: stopping {victim.address}, the node that holds bob's mailbox (SIGTERM: it hands its "
              "data to its successors and leaves)", flush=True)
        code = victim.stop(GUARD_S)
        if code != 0:
            raise DemoError(f"{victim.name} exited {code} on SIGTERM\n{victim.log_tail()}")
        nodes.remove(victim)
        dwsproc.wait_for_ring(exe, nodes[0].address, {n.address: n.id for n in nodes}, timeout=GUARD_S)
        for person in (alice, bob):
            if person.server == victim.address:
                person.server = nodes[0].address
        print(f"demo: {len(nodes)} nodes left; the conversation goes on\n", flush=True)
        alice.say("bob", "Did you notice a node just left?")
        bob.read(1)
        bob.say("alice", "No, my messages moved to the next node.")
        alice.read(1)
        print("\ndemo: alice's history with bob (outgoing messages: sent / stored / delivered)\n")
        alice.must("inbox")  # picks up bob's delivery receipts
        alice.must("history", "bob")

        live = nodes[0].address
        you = os.path.join(tmp, "you")
        cmd = shlex.quote(chat)
        waits = sys.stdout.isatty()
        when = ("in another terminal, while this one waits" if waits else
                "run `make demo` on a terminal to keep the ring up; the data below is removed now")
        print(f"""
demo: join in by hand ({when}):
  {cmd} --server {live} --data {you} register YOURNAME
  {cmd} --data {you} send alice 'hello from YOURNAME'
  {cmd} --data {you} inbox --wait 20
  {cmd} --data {you} chat alice
or be alice or bob, who are logged in already:
  {cmd} --data {alice.data} chat bob
  {cmd} --data {bob.data} chat alice""", flush=True)

        if sys.stdout.isatty():
            print("\ndemo: the ring is running; Ctrl-C stops it and removes every data directory.", flush=True)
            try:
                signal.pause()
            except KeyboardInterrupt:
                print()
        return 0
    except (dwsproc.NodeError, DemoError, TimeoutError, subprocess.SubprocessError) as e:
        print(f"demo: {e}", file=sys.stderr)
        for n in nodes:
            print(n.log_tail(), file=sys.stderr)
        return 1
    finally:
        # Ctrl-C on a terminal reaches the nodes too; stop() finishes the job.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        dwsproc.NodeProc.stop_all(nodes)
        shutil.rmtree(tmp, ignore_errors=True)
        print("demo: stopped all nodes and removed their data", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
