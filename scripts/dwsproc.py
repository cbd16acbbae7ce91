"""Runs dws-node processes and checks the ring they form.

Shared by the demo (scripts/demo.py) and the process and netns tests.
Python standard library only.
"""

import hashlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

READY = re.compile(r"^dws-node: listening on (\S+) id ([0-9a-f]{16})$")

# The private ring's secret file every node of a test is given, and that
# `status` and raw peer requests prove (docs/design.md, "Peer
# authentication"). None: an open ring, or nothing said.
RING_SECRET = None


def set_ring_secret(path):
    """Nodes started from now on get `--ring-secret path` (`up` creates the
    file), and ring_status / peer_headers use it."""
    global RING_SECRET
    RING_SECRET = path


def _keys(path):
    with open(path, "rb") as f:
        secret = f.read()
    def derive(label):
        return hashlib.blake2b(label.encode(), key=secret, digest_size=32).digest()
    return derive("dwhatsapp ring v1: request mac key"), derive("dwhatsapp ring v1: answer mac key")


def peer_headers(method, target, body=b"", secret=None):
    """Headers proving the ring secret for one peer request, as lib/net/peer_auth.cpp makes them."""
    path = secret or RING_SECRET
    if path is None:
        return {}
    request_key, _ = _keys(path)
    if isinstance(body, str):
        body = body.encode()
    ts = int(time.time() * 1000)
    nonce = os.urandom(16).hex()
    body_hash = hashlib.blake2b(body, digest_size=32).hexdigest()
    text = f"{method}\n{target}\n{ts}\n{nonce}\n{body_hash}".encode()
    mac = hashlib.blake2b(text, key=request_key, digest_size=32).hexdigest()
    return {"X-Dws-Peer-Proof": f"v1 {ts} {nonce} {mac}"}


def secret_args(args):
    """`args` with --ring-secret added for a node started with RING_SECRET set."""
    args = list(args)
    if RING_SECRET is None or not args or args[0] not in ("up", "join") or "--ring-secret" in args:
        return args
    if "--open-ring" in args:
        return args
    return args + ["--ring-secret", RING_SECRET]


class NodeError(Exception):
    pass


class Failure(Exception):
    """A check in a test did not hold."""


def expect(cond, message):
    if not cond:
        raise Failure(message)


class NodeProc:
    """One dws-node process. `prefix` runs it through another command
    (for example `ip netns exec NAME`)."""

    def __init__(self, exe, args, name, logdir, prefix=(), env=None):
        self.exe = exe
        self.args = secret_args(args)
        self.name = name
        self.prefix = list(prefix)
        self.log_path = os.path.join(logdir, name + ".log")
        self.env = env
        self.proc = None
        self.address = None
        self.id = None
        self._lines = queue.Queue()

    def start(self):
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                self.prefix + [self.exe] + self.args,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                env=self.env, text=True)
        finally:
            log.close()
        self._lines = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self._lines), daemon=True).start()
        return self

    @staticmethod
    def _read(proc, lines):
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    def wait_ready(self, timeout=20.0):
        """Waits for the "listening on" line; returns the advertised address."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NodeError(f"{self.name}: no 'listening on' line within {timeout:.0f}s\n"
                                f"{self.log_tail()}")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait()
                raise NodeError(f"{self.name}: exited with {code} before it was ready\n{self.log_tail()}")
            m = READY.match(line)
            if m:
                self.address, self.id = m.group(1), m.group(2)
                return self.address

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            self.proc.send_signal(sig)

    def wait(self, timeout):
        """The exit code, or None if still running after `timeout` seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL if it does not leave in time."""
        if self.proc is None:
            return None
        self.signal(signal.SIGTERM)
        code = self.wait(timeout)
        if code is None:
            self.proc.kill()
            code = self.proc.wait()
        return code

    @staticmethod
    def stop_all(nodes, timeout=10.0):
        """Stops nodes together (graceful leaves overlap); returns their exit codes."""
        for n in nodes:
            n.signal(signal.SIGTERM)
        codes = []
        for n in nodes:
            codes.append(n.stop(timeout) if n.proc is not None else None)
        return codes

    def log_tail(self, lines=25):
        try:
            with open(self.log_path, errors="replace") as f:
                tail = f.readlines()[-lines:]
        except OSError:
            return f"({self.name}: no log)"
        return f"--- {self.name} stderr (last {len(tail)} lines) ---\n" + "".join(tail)


def run(cmd, timeout=20.0, prefix=(), env=None):
    """Runs a command; returns (exit code, stdout, stderr)."""
    p = subprocess.run(list(prefix) + list(cmd), stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def status_args(peer):
    """`dws-node status` arguments for `peer`, with the ring secret if one is set."""
    return ["status", "--peer", peer] + (["--ring-secret", RING_SECRET] if RING_SECRET else [])


def ring_status(exe, peer, prefix=(), timeout=20.0):
    """`dws-node status --peer PEER --json`: the list of node views, or NodeError."""
    code, out, err = run([exe] + status_args(peer) + ["--json"], timeout=timeout, prefix=prefix)
    if code != 0:
        raise NodeError(f"dws-node status --peer {peer} exited {code}: {err.strip()}")
    try:
        return json.loads(out)
    except ValueError as e:
        raise NodeError(f"dws-node status --json printed invalid JSON ({e}): {out[:500]!r}")


def ring_problems(views, members):
    """What is wrong with a ring walk, compared with the expected members
    ({address: 16-hex id}); an empty list means one correct ring:
    exactly the members, in id order, each first successor the next member,
    each predecessor the previous one, and no successor list naming a
    non-member (a dead node)."""
    problems = []
    order = sorted(members, key=lambda a: int(members[a], 16))
    seen = [v["address"] for v in views]
    if sorted(seen) != sorted(order):
        problems.append(f"walk visited {seen}, expected the members {order}")
    by_addr = {v["address"]: v for v in views}
    n = len(order)
    for i, addr in enumerate(order):
        v = by_addr.get(addr)
        if v is None:
            continue
        want_succ, want_pred = order[(i + 1) % n], order[(i - 1) % n]
        succ = [s["address"] for s in v["successors"]]
        pred = v["predecessor"]["address"] if v["predecessor"] else None
        if n > 1 and (not succ or succ[0] != want_succ):
            problems.append(f"{addr}: first successor {succ[:1]}, expected {want_succ}")
        if n > 1 and pred != want_pred:
            problems.append(f"{addr}: predecessor {pred}, expected {want_pred}")
        strangers = [s for s in succ if s not in members]
        if strangers:
            problems.append(f"{addr}: successor list {succ} names non-members {strangers}")
    return problems


def wait_for(check, timeout, what, interval=0.1):
    """Polls check() -> (done, detail) until done or the deadline; returns the
    final detail or raises TimeoutError naming what was awaited and the last
    detail seen."""
    deadline = time.monotonic() + timeout
    detail = None
    while True:
        try:
            done, detail = check()
        except (NodeError, subprocess.TimeoutExpired) as e:
            done, detail = False, str(e)
        if done:
            return detail
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {detail}")
        time.sleep(interval)


def wait_for_ring(exe, peer, members, timeout, prefix=()):
    """Waits until the walk from `peer` shows one correct ring of `members`."""
    def check():
        views = ring_status(exe, peer, prefix=prefix)
        problems = ring_problems(views, members)
        return (not problems, "; ".join(problems) or views)
    return wait_for(check, timeout, f"one ring of {len(members)} seen from {peer}")


def http_get(address, path, timeout=5.0):
    with urllib.request.urlopen(f"http://{address}{path}", timeout=timeout) as r:
        return r.read().decode()


def metric(address, name):
    """The value of a Prometheus counter or gauge (summed over its labels)."""
    total, found = 0.0, False
    for line in http_get(address, "/metrics").splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if m and m.group(1) == name:
            total += float(m.group(3))
            found = True
    if not found:
        raise NodeError(f"{address}/metrics has no {name}")
    return total


def closed_port():
    """A loopback TCP port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Node flags for tests: fast stabilization and sync, no UDP discovery.
TEST_NODE_FLAGS = ["--stabilize-ms", "200", "--sync-ms", "500", "--discovery-port", "0"]


def start_ring(node_exe, tmp, count=3, flags=TEST_NODE_FLAGS, timeout=90.0):
    """Starts `count` dws-node processes on loopback (data in tmp/n0...),
    waits until they form one ring, and returns their NodeProcs. The one
    place tests start a ring, so node start-up changes in one place. The
    ring is private: its secret is tmp/ring.secret unless one is set."""
    if RING_SECRET is None:
        set_ring_secret(os.path.join(tmp, "ring.secret"))
    first = NodeProc(node_exe, ["up", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "n0")] + list(flags),
                     "n0", tmp).start()
    nodes = [first]
    first.wait_ready()
    for i in range(1, count):
        n = NodeProc(node_exe, ["join", "--listen", "127.0.0.1:0", "--peer", first.address,
                                "--data", os.path.join(tmp, f"n{i}")] + list(flags), f"n{i}", tmp).start()
        nodes.append(n)
        n.wait_ready()
    wait_for_ring(node_exe, first.address, {n.address: n.id for n in nodes}, timeout)
    return nodes


class PtySession:
    """A program on a pseudo-terminal: what it prints is collected, what is
    typed goes to it as keystrokes. `cols`/`rows` set the terminal size."""

    ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]")

    def __init__(self, argv, cols=80, rows=24, env=None):
        import fcntl
        import struct
        import termios
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, env=env)
        os.close(slave)
        self.output = b""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return  # EIO: the program closed the terminal
            if not chunk:
                return
            with self.lock:
                self.output += chunk

    def raw(self):
        with self.lock:
            return self.output.decode(errors="replace")

    def screen(self):
        return self.ANSI.sub("", self.raw()).replace("\r", "")

    def wait_for_text(self, text, timeout):
        wait_for(lambda: (text in self.screen(), self.screen()[-600:]), timeout,
                 f"{text!r} on the chat terminal", interval=0.05)

    def type(self, keys):
        os.write(self.master, keys.encode())

    def close(self):
        """Ends the program, then the reader (EIO once no one has the slave
        open), then closes the master: closed first, its descriptor number
        could go to the next session's pseudo-terminal while the old reader
        still reads from it, and take that session's output."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=30)
        if self.reader.is_alive():
            raise NodeError("the pseudo-terminal reader did not end after its program did")
        os.close(self.master)


def finish(nodes, tmp, ok, kept="node logs and data"):
    """A test's last word: SIGKILLs the nodes still running (continuing any
    that a test stopped), then removes `tmp` after a pass or says where it
    was kept after a failure."""
    for n in nodes:
        if n.running():
            n.signal(signal.SIGCONT)
            n.proc.kill()
            n.proc.wait()
    if ok:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"({kept} kept in {tmp})", file=sys.stderr)


def exit_with(main):
    """Runs a test's main(), prints how long it took and exits with its code."""
    began = time.monotonic()
    code = main()
    print(f"({time.monotonic() - began:.1f}s)")
    sys.exit(code)
