#!/usr/bin/env python3
"""Discovery test: `dws-node join` with no --peer finds the ring by UDP broadcast.

Preferred variant (root and `ip netns` available): three network namespaces,
each with one veth link to a bridge that lives in a fourth namespace, so the
host's own interfaces are never touched; addresses 10.213.0.1-3/24 exist only
inside those namespaces. The first node runs `dws-node up`, the others
`dws-node join` without a peer (DWS_DISCOVERY_BROADCAST=10.213.0.255). They
must form one ring of 3; then the third node's link is cut (set down on the
bridge side) until the other two see a ring of 2, and healed: one ring of 3
again.

Fallback (no namespaces): the same on 127.0.0.1 with loopback broadcast
(127.255.255.255), the cut being SIGSTOP and the heal SIGCONT.

Exit 77 (meson: skipped) only when neither variant can run.
DWS_NETNS_LOOPBACK=1 runs the loopback variant even where namespaces work.

Usage: test_discovery_netns.py path/to/dws-node
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import dwsproc  # noqa: E402
from dwsproc import NodeProc, wait_for_ring  # noqa: E402

SKIP = 77
NODES = 3
SUBNET = "10.213.0"
BROADCAST = SUBNET + ".255"
COMMON = ["--stabilize-ms", "200"]
HANG_GUARD_S = 60


def sh(*cmd):
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)


def netns_usable():
    if os.geteuid() != 0:
        return False, "not root"
    if shutil.which("ip") is None:
        return False, "no ip command (iproute2)"
    probe = f"dwsprobe{os.getpid()}"
    try:
        sh("ip", "netns", "add", probe)
        sh("ip", "-n", probe, "link", "add", "br0", "type", "bridge")
        return True, ""
    except (subprocess.CalledProcessError, OSError) as e:
        err = getattr(e, "stderr", b"") or b""
        return False, f"ip netns failed: {err.decode(errors='replace').strip() or e}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)


class Namespaces:
    """A bridge namespace and one namespace per node, each node joined to
    the bridge by a veth pair created inside the bridge namespace."""

    def __init__(self):
        tag = f"dws{os.getpid()}"
        self.bridge = tag + "br"
        self.nodes = [f"{tag}n{i}" for i in range(NODES)]
        self.created = []

    def setup(self):
        for ns in [self.bridge] + self.nodes:
            sh("ip", "netns", "add", ns)
            self.created.append(ns)
        sh("ip", "-n", self.bridge, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.bridge, "link", "set", "br0", "up")
        for i, ns in enumerate(self.nodes):
            sh("ip", "-n", self.bridge, "link", "add", f"v{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", self.bridge, "link", "set", f"v{i}", "master", "br0")
            sh("ip", "-n", self.bridge, "link", "set", f"v{i}", "up")
            sh("ip", "-n", ns, "addr", "add", f"{self.address(i)}/24", "brd", BROADCAST, "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")

    @staticmethod
    def address(i):
        return f"{SUBNET}.{i + 1}"

    def prefix(self, i):
        return ["ip", "netns", "exec", self.nodes[i]]

    def link(self, i, state):
        sh("ip", "-n", self.bridge, "link", "set", f"v{i}", state)

    def cleanup(self):
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback_broadcast_usable():
    """Whether a datagram sent to 127.255.255.255 reaches a local socket."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            rx.bind(("127.255.255.255", 0))
            rx.settimeout(2.0)
            tx.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            tx.sendto(b"probe", ("127.255.255.255", rx.getsockname()[1]))
            return rx.recv(16) == b"probe", "a different datagram arrived"
    except OSError as e:
        return False, str(e)


def run_netns(exe, tmp, nodes):
    ns = Namespaces()
    try:
        ns.setup()
        env = dict(os.environ, DWS_DISCOVERY_BROADCAST=BROADCAST)
        for i in range(NODES):
            listen = f"{ns.address(i)}:7000"
            verb = ["up"] if i == 0 else ["join"]
            n = NodeProc(exe, verb + ["--listen", listen, "--data", os.path.join(tmp, f"n{i}")] + COMMON,
                         f"n{i}", tmp, prefix=ns.prefix(i), env=env)
            nodes.append(n.start())
            n.wait_ready()
            print(f"started {n.address} in namespace {ns.nodes[i]} ({'new ring' if i == 0 else 'join by discovery'})")
        members = {n.address: n.id for n in nodes}
        wait_for_ring(exe, nodes[0].address, members, HANG_GUARD_S, prefix=ns.prefix(0))
        print(f"one ring of {NODES}, joined through UDP broadcast discovery on {BROADCAST}")

        cut = nodes[2]
        ns.link(2, "down")
        print(f"cut {cut.address} off (its bridge port is down)")
        rest = {a: i for a, i in members.items() if a != cut.address}
        wait_for_ring(exe, nodes[0].address, rest, HANG_GUARD_S, prefix=ns.prefix(0))
        print(f"the other {len(rest)} see a ring without {cut.address}")

        ns.link(2, "up")
        print(f"healed {cut.address} (its bridge port is up)")
        wait_for_ring(exe, nodes[0].address, members, HANG_GUARD_S, prefix=ns.prefix(0))
        wait_for_ring(exe, cut.address, members, HANG_GUARD_S, prefix=ns.prefix(2))
        print(f"one ring of {NODES} again, seen from both sides of the cut")
    finally:
        for n in nodes:
            if n.running():
                n.proc.kill()
                n.proc.wait()
        ns.cleanup()


def run_loopback(exe, tmp, nodes):
    port = str(free_udp_port())
    env = dict(os.environ, DWS_DISCOVERY_BROADCAST="127.255.255.255")
    for i in range(NODES):
        verb = ["up"] if i == 0 else ["join"]
        n = NodeProc(exe, verb + ["--listen", "127.0.0.1:0", "--discovery-port", port,
                                  "--data", os.path.join(tmp, f"n{i}")] + COMMON, f"n{i}", tmp, env=env)
        nodes.append(n.start())
        n.wait_ready()
        print(f"started {n.address} ({'new ring' if i == 0 else 'join by discovery'})")
    members = {n.address: n.id for n in nodes}
    wait_for_ring(exe, nodes[0].address, members, HANG_GUARD_S)
    print(f"one ring of {NODES}, joined through UDP broadcast discovery on 127.255.255.255:{port}")

    cut = nodes[2]
    cut.signal(signal.SIGSTOP)
    print(f"cut {cut.address} off (SIGSTOP)")
    rest = {a: i for a, i in members.items() if a != cut.address}
    wait_for_ring(exe, nodes[0].address, rest, HANG_GUARD_S)
    print(f"the other {len(rest)} see a ring without {cut.address}")
    cut.signal(signal.SIGCONT)
    print(f"healed {cut.address} (SIGCONT)")
    wait_for_ring(exe, nodes[0].address, members, HANG_GUARD_S)
    wait_for_ring(exe, cut.address, members, HANG_GUARD_S)
    print(f"one ring of {NODES} again, seen from both sides of the cut")


def main():
    if len(sys.argv) != 2:
        print("usage: test_discovery_netns.py path/to/dws-node", file=sys.stderr)
        return 2
    exe = os.path.abspath(sys.argv[1])
    usable, why = netns_usable()
    if os.environ.get("DWS_NETNS_LOOPBACK") == "1":
        usable, why = False, "DWS_NETNS_LOOPBACK=1 asks for the loopback variant"
    if usable:
        variant, run = "network namespaces on a bridge (10.213.0.0/24)", run_netns
    else:
        variant, run = f"loopback broadcast fallback (namespaces unavailable: {why})", run_loopback
        broadcast_ok, broadcast_why = loopback_broadcast_usable()
        if not broadcast_ok:
            print(f"SKIP: no network namespaces ({why}) and no loopback broadcast ({broadcast_why})")
            return SKIP
    print(f"variant: {variant}", flush=True)
    tmp = tempfile.mkdtemp(prefix="dws-netns-")
    # A private ring: every node gets its secret, `up` creates it.
    dwsproc.set_ring_secret(os.path.join(tmp, "ring.secret"))
    nodes = []
    ok = False
    try:
        run(exe, tmp, nodes)
        ok = True
        print(f"PASS: discovery test, variant: {variant}")
        return 0
    except (TimeoutError, dwsproc.NodeError, subprocess.SubprocessError) as e:
        print(f"FAIL ({variant}): {e}", file=sys.stderr)
        for n in nodes:
            print(n.log_tail(), file=sys.stderr)
        return 1
    finally:
        dwsproc.finish(nodes, tmp, ok, kept="node logs")


if __name__ == "__main__":
    dwsproc.exit_with(main)
