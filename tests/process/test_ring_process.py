#!/usr/bin/env python3
"""Process test: real dws-node processes on loopback.

Five nodes form one ring; one is SIGKILLed and the other four repair it
(counted in stabilization rounds from their dws_stabilize_rounds_total
counters); the killed one restarts at the same address with the same data
directory and rejoins. Also: a busy port, an unreachable peer and a bad
address are clear errors with a non-zero exit, and SIGTERM is a graceful
exit 0 that the others see as a departure.

Usage: test_ring_process.py path/to/dws-node
"""

import os
import signal
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import dwsproc  # noqa: E402
from dwsproc import (Failure, NodeProc, closed_port, expect, metric, ring_problems, ring_status,  # noqa: E402
                     wait_for, wait_for_ring)

STABILIZE_MS = 200
COMMON = ["--stabilize-ms", str(STABILIZE_MS), "--discovery-port", "0"]
# Wall-clock limits below only guard against hangs; what is asserted is
# counted in stabilization rounds.
HANG_GUARD_S = 60
# Repair must take at most this many rounds, plus one for the round that was
# already in progress when the node died.
REPAIR_ROUNDS = 3
ROUNDS = "dws_stabilize_rounds_total"


class Ring:
    def __init__(self, exe, tmp):
        self.exe, self.tmp = exe, tmp
        self.nodes = []

    def start(self, name, args):
        n = NodeProc(self.exe, args + COMMON, name, self.tmp).start()
        self.nodes.append(n)
        n.wait_ready()
        return n

    def up(self, name):
        return self.start(name, ["up", "--listen", "127.0.0.1:0", "--data", self.data(name)])

    def join(self, name, peer, listen="127.0.0.1:0"):
        return self.start(name, ["join", "--listen", listen, "--peer", peer, "--data", self.data(name)])

    def data(self, name):
        return os.path.join(self.tmp, "data-" + name)

    def live(self):
        return [n for n in self.nodes if n.running()]

    def members(self):
        return {n.address: n.id for n in self.live()}

    def logs(self):
        return "\n".join(n.log_tail() for n in self.nodes)


def expect_failure(exe, args, what, must_mention=None):
    code, out, err = dwsproc.run([exe] + args, timeout=HANG_GUARD_S)
    expect(code != 0, f"{what}: expected a non-zero exit, got {code}; stdout {out!r} stderr {err!r}")
    expect(err.strip(), f"{what}: expected a message on stderr, got none")
    if must_mention:
        expect(must_mention in err, f"{what}: expected the message to mention {must_mention!r}, got {err.strip()!r}")
    print(f"ok: {what}: exit {code}: {err.strip().splitlines()[-1]}")


def test_errors(ring, exe):
    busy = ring.nodes[0].address
    busy_port = busy.rsplit(":", 1)[1]
    expect_failure(exe, ["up", "--listen", busy] + COMMON, f"busy port {busy}", must_mention=busy_port)
    dead = f"127.0.0.1:{closed_port()}"
    expect_failure(exe, ["join", "--listen", "127.0.0.1:0", "--peer", dead] + COMMON, f"unreachable peer {dead}")
    expect_failure(exe, ["up", "--listen", "no-port-here"] + COMMON, "bad address 'no-port-here'")
    expect_failure(exe, ["up", "--listen", "127.0.0.1:70000"] + COMMON, "bad address '127.0.0.1:70000'")
    expect_failure(exe, ["status", "--peer", dead], f"status of unreachable {dead}")
    # A private ring: without its secret neither status nor join gets in,
    # and another ring's secret is refused.
    expect_failure(exe, ["status", "--peer", busy], "status without the ring secret", must_mention="--ring-secret")
    expect_failure(exe, ["join", "--listen", "127.0.0.1:0", "--peer", busy] + COMMON, "join without the ring secret",
                   must_mention="--ring-secret")
    other = os.path.join(ring.tmp, "other.secret")
    with open(os.open(other, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(os.urandom(32))
    expect_failure(exe, ["join", "--listen", "127.0.0.1:0", "--peer", busy, "--ring-secret", other] + COMMON,
                   "join with another ring's secret", must_mention="does not accept the ring secret")
    expect_failure(exe, ["status", "--peer", busy, "--ring-secret", other], "status with another ring's secret",
                   must_mention="refused")


def rounds_now(nodes):
    return {n.address: metric(n.address, ROUNDS) for n in nodes}


def test_kill_and_repair(ring, exe):
    victim = ring.nodes[2]
    survivors = [n for n in ring.live() if n is not victim]
    peer = survivors[0].address
    before = rounds_now(survivors)
    victim.proc.kill()
    victim.proc.wait()
    print(f"killed {victim.address} (SIGKILL)")
    members = {n.address: n.id for n in survivors}

    # Ring walk and predecessors right (successor lists may still name the
    # dead node in their tails: that is the next check).
    def walk_and_predecessors():
        problems = [p for p in ring_problems(ring_status(exe, peer), members) if "non-members" not in p]
        return (not problems, "; ".join(problems))
    wait_for(walk_and_predecessors, HANG_GUARD_S, "the 4 survivors to repair the ring walk and predecessors")
    after = rounds_now(survivors)
    deltas = {a: after[a] - before[a] for a in after}
    worst = max(deltas.values())
    print(f"repair: ring walk and predecessors right after at most {worst:.0f} stabilization rounds "
          f"(per node: {', '.join(f'{a} {d:.0f}' for a, d in deltas.items())})")
    expect(worst <= REPAIR_ROUNDS + 1,
           f"expected repair within {REPAIR_ROUNDS} stabilization rounds (+1 in progress), "
           f"saw up to {worst:.0f}: {deltas}")

    wait_for_ring(exe, peer, members, HANG_GUARD_S)
    after = rounds_now(survivors)
    worst = max(after[a] - before[a] for a in after)
    print(f"repair: no successor list names the dead node after at most {worst:.0f} rounds")
    return victim


def test_restart(ring, exe, victim):
    # Same address and data directory as before the crash; join through a survivor.
    peer = next(n for n in ring.live()).address
    ring.nodes.remove(victim)
    again = ring.join(victim.name, peer, listen=victim.address)
    expect(again.address == victim.address and again.id == victim.id,
           f"expected the restarted node at {victim.address} id {victim.id}, got {again.address} id {again.id}")
    wait_for_ring(ring.exe, peer, ring.members(), HANG_GUARD_S)
    print(f"restart: {again.address} rejoined, one ring of {len(ring.members())}")


def test_graceful_leave(ring, exe):
    leaver = ring.live()[-1]
    others = [n for n in ring.live() if n is not leaver]
    leaver.signal(signal.SIGTERM)
    code = leaver.wait(HANG_GUARD_S)
    expect(code == 0, f"expected exit 0 after SIGTERM from {leaver.address}, got {code}\n{leaver.log_tail()}")
    members = {n.address: n.id for n in others}
    wait_for_ring(exe, others[0].address, members, HANG_GUARD_S)
    print(f"leave: {leaver.address} exited 0 on SIGTERM; the other {len(others)} form one ring without it")


def main():
    if len(sys.argv) != 2:
        print("usage: test_ring_process.py path/to/dws-node", file=sys.stderr)
        return 2
    exe = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="dws-process-")
    # A private ring: every node gets its secret, `up` creates it.
    dwsproc.set_ring_secret(os.path.join(tmp, "ring.secret"))
    ring = Ring(exe, tmp)
    ok = False
    try:
        first = ring.up("n0")
        for i in range(1, 5):
            ring.join(f"n{i}", first.address)
        wait_for_ring(exe, first.address, ring.members(), HANG_GUARD_S)
        print(f"formed: one ring of 5: {', '.join(sorted(ring.members()))}")
        views = ring_status(exe, ring.nodes[3].address)
        expect(len(views) == 5, f"expected the walk from another node to list 5 nodes, got {len(views)}")

        test_errors(ring, exe)
        victim = test_kill_and_repair(ring, exe)
        test_restart(ring, exe, victim)
        test_graceful_leave(ring, exe)

        live = ring.live()
        codes = dict(zip((n.address for n in live), NodeProc.stop_all(live, HANG_GUARD_S)))
        expect(all(c == 0 for c in codes.values()), f"expected every node to exit 0 on SIGTERM, got {codes}")
        ok = True
        print("PASS: process ring test")
        return 0
    except (Failure, TimeoutError, dwsproc.NodeError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        print(ring.logs(), file=sys.stderr)
        return 1
    finally:
        dwsproc.finish(ring.nodes, tmp, ok)


if __name__ == "__main__":
    dwsproc.exit_with(main)
