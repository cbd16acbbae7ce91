#!/usr/bin/env python3
"""Adversarial test: the attacks of issue 7, against real dws-node processes.

Three nodes of a private ring on loopback, four accounts registered through
dws-chat, messages queued for two recipients who stay offline. Then:

- an outsider (no ring secret, or a secret of its own) tries every peer
  endpoint on every TCP port each node listens on (found from /proc): raw
  reads of user records and mailboxes, forged puts (tombstones, junk
  entries, never-expiring tombstones, an account made under its own key),
  forged notifies and leaves; and the public reads leak no private field;
- an admitted member (it holds the ring secret) sends the same forgeries on
  every storing path it reaches (client write through an entry node, write
  at the primary, replica copy to every node, sync push as the primary),
  plus overflowing versions, acknowledgements it cannot sign and an entry
  copied into another mailbox; every one is refused and counted by reason
  in /metrics; its forged notifies (a dead address, a stranger that answers
  without the secret, a live node under a false id) and a forged leave of a
  live node change nothing; and a lying member that becomes a primary and
  falsely confirms every copy to the garbage collector loses nobody's data;
- the abuse limits: 300 connections sending one header byte at a time while
  /v1/health answers every request; wrong passwords from one source address
  while the owner logs in from another; 10,000 failures on junk nicknames
  from one address are refused fast and guessing stays slowed;
  registrations from one address are limited; an owner's update to version
  2^64-1 is refused.

After each group: every account logs in with its own password and not with
the attacker's, the queued messages are all there (the recipients read them
at the end, exactly the ones sent), the ring is correct and /v1/health
answers on every node.

Usage: test_adversarial.py path/to/dws-node path/to/dws-chat path/to/forge
"""

import base64
import http.client
import json
import os
import re
import resource
import socket
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
HANG_GUARD_S = 60
COMMAND_GUARD_S = 60
DAY_MS = 24 * 3600 * 1000
PRIVATE_FIELDS = ("auth_hash", "sealed_secret", "ciphertext", "payload", "box", "records", "record")
ATTACKER_PASSWORD = "attacker's own password"
ACCOUNTS = {"alice": "alice's long password", "bob": "bob's long password",
            "carol": "carol's long password", "dave": "dave's long password"}
# Each group of attacks uses source addresses of its own, so one limit
# cannot hide another.
# The base64 payloads of the records and queued entries: none may appear in
# an answer to an outsider.
STORED_PAYLOADS = []
SRC_GUESSER, SRC_JUNK, SRC_REGISTRAR, SRC_OWNER_UPDATE = "127.0.0.20", "127.0.0.21", "127.0.0.30", "127.0.0.31"
FLOOD_SOURCES = [f"127.0.0.{i}" for i in range(40, 45)]


def b64(data):
    return base64.b64encode(data).decode()


def blake_id(text):
    import hashlib
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=32).digest()[:8], "big")


def node_id(address):
    return blake_id("node:" + address)


def user_key(nick):
    return blake_id("user:" + nick)


def hex_id(i):
    return f"{i:016x}"


def between(a, x, b):
    """x in (a, b) on the ring."""
    if a == b:
        return x != a
    return 0 < (x - a) % (1 << 64) < (b - a) % (1 << 64)


def decode_records(blob):
    """The records of a base64 records list (core::encode_records: per
    record a format byte, the 8-byte key, varint sub length, sub, varint
    value length, then the value: format byte, flags, varint version,
    varint expires_at, varint payload length, payload), as store/put fields."""
    data, pos, out = base64.b64decode(blob), 0, []

    def varint():
        nonlocal pos
        v, shift = 0, 0
        while True:
            b = data[pos]
            pos += 1
            v |= (b & 0x7f) << shift
            shift += 7
            if not b & 0x80:
                return v

    def take(n):
        nonlocal pos
        pos += n
        return data[pos - n:pos]

    while pos < len(data):
        expect(data[pos] == 1, f"records list: unknown format byte {data[pos]} at {pos}")
        pos += 1
        key = take(8).hex()
        sub = take(varint()).decode()
        varint()  # the value's length
        expect(data[pos] == 1, f"record value: unknown format byte {data[pos]} at {pos}")
        flags = data[pos + 1]
        pos += 2
        version, expires_at = varint(), varint()
        payload = b64(take(varint()))
        out.append(dict(key=key, sub=sub, version=version, tombstone=bool(flags & 1), expires_at=expires_at,
                        payload=payload))
    return out


def request(address, method, target, body=None, headers=None, source=None, timeout=10):
    """(status, body text, headers) of one HTTP request on a new connection."""
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        hdrs = dict(headers or {})
        if body is not None:
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, target, body=body, headers=hdrs)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace"), dict(r.getheaders())
    finally:
        conn.close()


def member(address, method, target, body=b""):
    """A request proved with the ring secret: what an admitted member sends."""
    body_bytes = body.encode() if isinstance(body, str) else body
    return request(address, method, target, body if body_bytes else None,
                   dwsproc.peer_headers(method, target, body_bytes))


def listening_ports(pid):
    """The TCP ports process `pid` listens on: its socket inodes (/proc/PID/fd)
    matched against the LISTEN rows of /proc/PID/net/tcp and tcp6."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink(os.path.join(fd_dir, fd)))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "0A" and cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return sorted(ports)


def metrics_by_label(address, name):
    """{label text: value} of one metric family."""
    out = {}
    for line in dwsproc.http_get(address, "/metrics").splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if m and m.group(1) == name:
            out[m.group(2) or ""] = float(m.group(3))
    return out


def rejected(nodes):
    """dws_records_rejected_total summed over the nodes, by reason."""
    total = {}
    for n in nodes:
        for label, v in metrics_by_label(n.address, "dws_records_rejected_total").items():
            reason = re.search(r'reason="([^"]+)"', label).group(1)
            total[reason] = total.get(reason, 0) + v
    return total


class Chat:
    """dws-chat with one data directory, as one person at one device."""

    def __init__(self, exe, data, servers):
        self.exe, self.data, self.servers = exe, data, list(servers)

    def run(self, *args, stdin=""):
        argv = [self.exe]
        for s in self.servers:
            argv += ["--server", s]
        argv += ["--data", self.data] + list(args)
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=COMMAND_GUARD_S)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args, stdin=""):
        code, out, err = self.run(*args, stdin=stdin)
        expect(code == 0, f"dws-chat {' '.join(args)} ({self.data}): expected exit 0, got {code}; "
                          f"stderr: {err.strip()!r}")
        return out


class Ring:
    """The nodes, the accounts and what must survive every attack."""

    def __init__(self, node_exe, chat_exe, forge, tmp):
        self.node_exe, self.chat_exe, self.forge, self.tmp = node_exe, chat_exe, forge, tmp
        self.nodes = []
        self.queued = {}    # recipient -> {message id: text}
        self.records = {}   # nick -> its user record as a member reads it
        self.fresh = 0
        self.attacker_node = None
        self.attacker_records = []

    def members(self):
        return {n.address: n.id for n in self.nodes}

    def by_id(self):
        return sorted(self.nodes, key=lambda n: int(n.id, 16))

    def primary_of(self, key):
        order = self.by_id()
        return next((n for n in order if int(n.id, 16) >= key), order[0])

    def predecessor_of(self, node):
        order = self.by_id()
        return order[(order.index(node) - 1) % len(order)]

    def successor_of(self, node):
        order = self.by_id()
        return order[(order.index(node) + 1) % len(order)]

    def chat(self, name, server=None):
        self.fresh += 1
        server = server or self.nodes[self.fresh % len(self.nodes)].address
        return Chat(self.chat_exe, os.path.join(self.tmp, f"chat-{name}-{self.fresh}"), [server])

    def forge_lines(self, *args, stdin=None):
        p = subprocess.run([self.forge] + list(args), input=stdin, capture_output=True, text=True,
                           timeout=COMMAND_GUARD_S)
        expect(p.returncode == 0, f"forge {' '.join(args)}: exit {p.returncode}, {p.stderr.strip()!r}")
        return p.stdout.splitlines()

    def start(self):
        first = NodeProc(self.node_exe, ["up", "--listen", "127.0.0.1:0", "--data",
                                         os.path.join(self.tmp, "n0")] + COMMON, "n0", self.tmp).start()
        self.nodes.append(first)
        first.wait_ready()
        for i in range(1, 3):
            n = NodeProc(self.node_exe, ["join", "--listen", "127.0.0.1:0", "--peer", first.address, "--data",
                                         os.path.join(self.tmp, f"n{i}")] + COMMON, f"n{i}", self.tmp).start()
            self.nodes.append(n)
            n.wait_ready()
        wait_for_ring(self.node_exe, first.address, self.members(), HANG_GUARD_S)
        for nick, password in ACCOUNTS.items():
            self.chat(nick).ok("register", nick, "--password-stdin", stdin=password + "\n")
        # carol and dave stay offline: what is sent to them stays queued.
        senders = {"alice": self.chat("alice-sender"), "bob": self.chat("bob-sender")}
        for who, c in senders.items():
            c.ok("login", who, "--password-stdin", stdin=ACCOUNTS[who] + "\n")
        for to, frm, text in [("carol", "alice", "carol, it's alice"), ("carol", "bob", "carol, bob here"),
                              ("carol", "alice", "second from alice"), ("dave", "bob", "dave, from bob")]:
            mid = senders[frm].ok("send", to, text).strip()
            expect(re.fullmatch(r"[0-9a-f]{32}", mid), f"send {to}: expected a message id, got {mid!r}")
            self.queued.setdefault(to, {})[mid] = text
        for nick in ACCOUNTS:
            self.records[nick] = self.read_record(nick)
            STORED_PAYLOADS.append(self.records[nick]["payload"])
        for to in self.queued:
            STORED_PAYLOADS.extend(r["payload"] for r in self.mailbox(to))
        print(f"ring of 3 ({', '.join(n.address for n in self.by_id())}); accounts {', '.join(ACCOUNTS)}; "
              f"{sum(len(q) for q in self.queued.values())} messages queued for carol and dave", flush=True)

    def start_attacker_ring(self):
        """The attacker's own one-node ring (its own secret), where it
        registers alice and carol with its own password: the records it
        will try to pass off on the real ring."""
        secret = os.path.join(self.tmp, "attacker-ring.secret")
        node = NodeProc(self.node_exe, ["up", "--listen", "127.0.0.1:0", "--data", os.path.join(self.tmp, "attacker"),
                                        "--ring-secret", secret] + COMMON, "attacker", self.tmp).start()
        self.attacker_node = node
        node.wait_ready()
        self.attacker_records = []
        for nick in ("alice", "carol"):
            Chat(self.chat_exe, os.path.join(self.tmp, f"attacker-{nick}"), [node.address]).ok(
                "register", nick, "--password-stdin", stdin=ATTACKER_PASSWORD + "\n")
            target = f"/v1/store/get?key={hex_id(user_key(nick))}&sub=&forward=1"
            status, body, _ = request(node.address, "GET", target, None,
                                      dwsproc.peer_headers("GET", target, b"", secret=secret))
            expect(status == 200, f"reading {nick} on the attacker's own ring: expected 200, got {status} {body}")
            self.attacker_records.append(json.loads(body)["record"])
        NodeProc.stop_all([node])

    @staticmethod
    def attacker_nick(rec):
        return next(n for n in ACCOUNTS if hex_id(user_key(n)) == rec["key"])

    def read_record(self, nick):
        status, body, _ = member(self.nodes[0].address, "GET", f"/v1/store/get?key={hex_id(user_key(nick))}&sub=&forward=1")
        expect(status == 200, f"member read of {nick}'s record: expected 200, got {status} {body}")
        rec = json.loads(body)["record"]
        expect(rec is not None and not rec["tombstone"], f"member read of {nick}'s record: expected a live record, got {rec}")
        return rec

    def mailbox(self, nick, node=None):
        """The entries of nick's mailbox as one node holds them (member read)."""
        node = node or self.primary_of(user_key(nick))
        status, body, _ = member(node.address, "GET",
                                 f"/v1/store/scan?key={hex_id(user_key(nick))}&prefix=m/&limit=1000&local=1")
        expect(status == 200, f"member scan of {nick}'s mailbox on {node.address}: expected 200, got {status} {body}")
        return decode_records(json.loads(body)["records"])

    def holders(self, key):
        first = self.primary_of(key)
        return [first, self.successor_of(first), self.successor_of(self.successor_of(first))]

    def copy_problems(self):
        """How the holders' copies differ from the real records and the
        entries queued (member reads of each holder's own copy)."""
        problems = []
        for nick in ACCOUNTS:
            key = user_key(nick)
            for n in self.holders(key):
                status, body, _ = member(n.address, "GET", f"/v1/store/get?key={hex_id(key)}&sub=&local=1")
                got = json.loads(body).get("record") if status == 200 else body
                if got != self.records[nick]:
                    problems.append(f"{n.address}'s copy of {nick}'s record: expected {self.records[nick]}, got {got}")
        for to, msgs in self.queued.items():
            for n in self.holders(user_key(to)):
                subs = {r["sub"] for r in self.mailbox(to, n)}
                ids = {s.split("/")[1] for s in subs}
                if ids != set(msgs) or len(subs) != len(msgs):
                    problems.append(f"{to}'s mailbox on {n.address}: expected exactly the entries {sorted(msgs)}, "
                                    f"got {sorted(subs)}")
        return problems

    def check_intact(self, stage, read_mail=False):
        """Everything an attack must not have changed (see the module docstring)."""
        for n in self.nodes:
            status, body, _ = request(n.address, "GET", "/v1/health")
            expect(status == 200, f"{stage}: /v1/health on {n.address}: expected 200, got {status} {body}")
        wait_for_ring(self.node_exe, self.nodes[0].address, self.members(), HANG_GUARD_S)
        # Copies may still be coming back (repair after a member left):
        # wait for them, with a deadline, and name what is still wrong.
        wait_for(lambda: (not (p := self.copy_problems()), "; ".join(p)), HANG_GUARD_S,
                 f"every holder to keep the real records and queued entries ({stage})", interval=0.25)
        for nick, password in ACCOUNTS.items():
            c = self.chat(nick + "-check")
            code, _, err = c.run("login", nick, "--password-stdin", stdin=ATTACKER_PASSWORD + "\n")
            expect(code != 0 and "wrong nickname or password" in err,
                   f"{stage}: login as {nick} with the attacker's password: expected 'wrong nickname or password', "
                   f"got exit {code}, {err.strip()!r}")
            c.ok("login", nick, "--password-stdin", stdin=password + "\n")
            if read_mail and nick in self.queued:
                got = {}
                for line in c.ok("inbox", "--json", "--wait", "2").splitlines():
                    m = json.loads(line)
                    expect(m["id"] not in got, f"{stage}: {nick}'s inbox delivered {m['id']} twice")
                    got[m["id"]] = m["text"]
                expect(got == self.queued[nick],
                       f"{stage}: {nick}'s inbox: expected exactly {self.queued[nick]}, got {got}")
        print(f"{stage}: ring correct, health answers, every account logs in with its own password only, "
              f"records and queued messages intact" + (", read by their recipients" if read_mail else ""),
              flush=True)


def expect_refused_peer(address, method, target, body, what, headers=None):
    """An outsider's request to a peer endpoint: 401 and nothing of a record in the answer."""
    status, text, _ = request(address, method, target, body, headers)
    expect(status == 401, f"outsider {what} on {address}: expected 401, got {status} {text[:300]}")
    try:
        answer = json.loads(text)
    except ValueError:
        raise Failure(f"outsider {what} on {address}: expected a JSON error, got {text[:300]!r}")
    leaked = [f for f in PRIVATE_FIELDS if isinstance(answer, dict) and f in answer]
    leaked += [f"stored bytes {p[:16]}..." for p in STORED_PAYLOADS if p in text]
    expect(not leaked, f"outsider {what} on {address}: the 401 answer holds {leaked}: {text[:300]}")


def forged_records(ring):
    """What an attacker would put, as (label, store/put record fields)."""
    now = int(time.time() * 1000)
    carol, dave = user_key("carol"), user_key("dave")
    real = ring.mailbox("carol")
    expect(len(real) == len(ring.queued["carol"]), f"carol's mailbox: expected {len(ring.queued['carol'])} entries, "
                                                     f"got {len(real)}")
    out = []
    for r in real:
        out.append(("tombstone at a high version over a queued message",
                    dict(key=r["key"], sub=r["sub"], version=1 << 40, tombstone=True, expires_at=now + DAY_MS, payload="")))
        out.append(("acknowledgement that does not decode",
                    dict(key=r["key"], sub=r["sub"], version=2, tombstone=True, expires_at=now + DAY_MS,
                         payload=b64(os.urandom(72)))))
        ack = ring.forge_lines("ack", "carol", r["sub"])[0]
        out.append(("acknowledgement in carol's name signed by another key",
                    dict(key=r["key"], sub=r["sub"], version=2, tombstone=True, expires_at=now + DAY_MS, payload=ack)))
        out.append(("acknowledgement with expires_at 0",
                    dict(key=r["key"], sub=r["sub"], version=2, tombstone=True, expires_at=0, payload=ack)))
        out.append(("queued message copied into dave's mailbox", dict(r, key=hex_id(dave))))
    for i in range(100):
        out.append(("junk mailbox entry", dict(key=hex_id(carol), sub=f"m/{os.urandom(16).hex()}/alice", version=1,
                                               tombstone=False, expires_at=now + DAY_MS, payload=b64(os.urandom(64)))))
    out.append(("user tombstone without a proof", dict(key=hex_id(carol), sub="", version=2, tombstone=True,
                                                        expires_at=now + DAY_MS, payload="")))
    out.append(("user tombstone with expires_at 0", dict(key=hex_id(carol), sub="", version=3, tombstone=True,
                                                          expires_at=0, payload="")))
    for version, expires in ((2, now + DAY_MS), (3, 0), (1 << 48, now + DAY_MS)):
        proof = ring.forge_lines("deletion", "carol", str(version))[0]
        out.append((f"deletion of carol signed by another key, version {version}, expires_at {expires}",
                    dict(key=hex_id(carol), sub="", version=version, tombstone=True, expires_at=expires, payload=proof)))
    proof = ring.forge_lines("deletion", "squatter", "1")[0]
    out.append(("signed deletion squatting a free nickname with expires_at 0",
                dict(key=hex_id(user_key("squatter")), sub="", version=1, tombstone=True, expires_at=0, payload=proof)))
    out.append(("tombstone with expires_at 0 squatting a free nickname",
                dict(key=hex_id(user_key("squatter")), sub="", version=1, tombstone=True, expires_at=0, payload="")))
    for version in (2, (1 << 64) - 1):
        for nick in ("carol", "alice"):
            rec = json.loads(ring.forge_lines("user", nick, str(version))[0])
            out.append((f"{nick}'s account under the attacker's key at version {version}", rec))
    for rec in ring.attacker_records:
        nick = ring.attacker_nick(rec)
        out.append((f"{nick}'s account from the attacker's own ring, put at version 2", dict(rec, version=2)))
        out.append((f"{nick}'s account from the attacker's own ring, as it is there", rec))
    return out


def put_body(rec, **flags):
    return json.dumps(dict(rec, **flags))


def attack_outsider_peer_surface(ring, ports, forgeries):
    """Every peer endpoint, on every port, without a proof and with a proof of another secret."""
    other_secret = os.path.join(ring.tmp, "attacker.secret")
    with open(other_secret, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(other_secret, 0o600)
    carol = hex_id(user_key("carol"))
    entry = ring.mailbox("carol")[0]
    reads = [("GET", f"/v1/store/get?key={carol}&sub=&forward=1", None, "store/get of carol's record"),
             ("GET", f"/v1/store/get?key={carol}&sub={entry['sub']}&local=1", None, "store/get of a queued entry"),
             ("GET", f"/v1/store/scan?key={carol}&prefix=m/&limit=1000", None, "store/scan of carol's mailbox"),
             ("GET", f"/v1/store/scan?key={carol}&prefix=m/&limit=1000&local=1", None, "local store/scan"),
             ("GET", "/v1/ring/state?fingers=1", None, "ring/state"),
             ("GET", f"/v1/ring/closest?key={carol}", None, "ring/closest"),
             ("GET", "/v1/ring/ping", None, "ring/ping"),
             ("GET", "/v1/node/users?prefix=&limit=100", None, "node/users"),
             ("POST", "/v1/node/login", json.dumps({"nickname": "carol", "auth_key": b64(bytes(32)), "source": "x"}),
              "node/login")]
    victim = ring.by_id()[1]
    fake = f"127.0.0.1:{dwsproc.closed_port()}"
    writes = [("POST", "/v1/ring/notify", json.dumps({"id": hex_id(node_id(fake)), "address": fake}),
               "ring/notify naming a fake node"),
              ("POST", "/v1/ring/leave", json.dumps({"leaving": {"id": victim.id, "address": victim.address},
                                                     "predecessor": {"id": hex_id(node_id(fake)), "address": fake},
                                                     "successors": [{"id": hex_id(node_id(fake)), "address": fake}]}),
               "forged ring/leave of a live node"),
              ("POST", "/v1/store/sync", json.dumps({"phase": "push", "from": {"id": victim.id, "address": victim.address},
                                                     "a": ring.predecessor_of(victim).id, "b": victim.id,
                                                     "buckets": [], "records": ""}), "store/sync push")]
    # One of each kind of forgery, in each put mode (the 100 junk entries go to one port only: same path).
    kinds = {}
    for label, rec in forgeries:
        kinds.setdefault(label, rec)
    for label, rec in kinds.items():
        for flags in ({"replica": False, "forward": True}, {"replica": False}, {"replica": True}):
            writes.append(("POST", "/v1/store/put", put_body(rec, **flags), f"store/put ({label}, {flags})"))
    tried = 0
    for n in ring.nodes:
        for port in ports[n.address]:
            address = f"127.0.0.1:{port}"
            for method, target, body, what in reads + writes:
                expect_refused_peer(address, method, target, body, what)
                body_bytes = (body or "").encode()
                expect_refused_peer(address, method, target, body, what + " with another ring's proof",
                                    dwsproc.peer_headers(method, target, body_bytes, secret=other_secret))
                tried += 2
            for label, rec in forgeries:
                if label == "junk mailbox entry":
                    expect_refused_peer(address, "POST", "/v1/store/put", put_body(rec, replica=False, forward=True),
                                        "store/put of a junk mailbox entry")
                    tried += 1
            status, text, _ = request(address, "GET", "/v1/users/carol")
            expect(status == 200, f"GET /v1/users/carol on {address}: expected 200, got {status} {text[:200]}")
            leaked = [f for f in ("auth_hash", "sealed_secret") if f in json.loads(text)]
            expect(not leaked, f"GET /v1/users/carol on {address}: public view holds {leaked}: {text[:300]}")
            status, text, _ = request(address, "GET", "/v1/users/carol/kdf")
            expect(status == 200 and "sealed_secret" not in text and "auth_hash" not in text,
                   f"GET /v1/users/carol/kdf on {address}: expected 200 with salt and limits only, got {status} {text[:300]}")
    print(f"outsider: {tried} requests to the peer surface on every port of every node, each 401 with nothing "
          f"of a record; public reads give no auth_hash or sealed_secret", flush=True)


def attack_member_records(ring, forgeries):
    """Every forgery on every storing path a member reaches; counted by reason."""
    before = rejected(ring.nodes)
    key_nodes = {}
    refused = stale = 0
    real_by_key = {hex_id(user_key(n)): r for n, r in ring.records.items()}
    for label, rec in forgeries:
        key = int(rec["key"], 16)
        primary = ring.primary_of(key)
        paths = [(ring.nodes[0], {"replica": False, "forward": True}, "client write through an entry node"),
                 (primary, {"replica": False}, "write at the primary")]
        paths += [(n, {"replica": True}, "replica copy") for n in ring.nodes]
        for node, flags, path in paths:
            status, text, _ = member(node.address, "POST", "/v1/store/put", put_body(rec, **flags))
            if status < 400:
                # A record no newer than the stored one loses the merge and
                # is answered like a retry: harmless if nothing changed.
                real = real_by_key.get(rec["key"])
                expect(real is not None and rec["sub"] == "" and rec["version"] <= real["version"],
                       f"member {path} of '{label}' to {node.address}: expected a refusal, got {status} {text[:300]}")
                for n in ring.holders(key) + [node]:
                    got_status, body, _ = member(n.address, "GET", f"/v1/store/get?key={rec['key']}&sub=&local=1")
                    got = json.loads(body).get("record") if got_status == 200 else body
                    expect(got == real, f"member {path} of '{label}' to {node.address} answered {status} {text[:100]}; "
                                        f"expected {n.address} to keep the real record {real}, it holds {got}")
                stale += 1
            else:
                refused += 1
        key_nodes.setdefault(primary.address, (primary, []))[1].append(rec)
    # Sync pushes, posing as each key's primary, to each of its replicas.
    pushes = 0
    for primary, recs in key_nodes.values():
        lines = []
        for r in recs:
            lines.append(" ".join([r["key"], str(r["version"]), "1" if r["tombstone"] else "0", str(r["expires_at"]),
                                   b64(r["sub"].encode()) if r["sub"] else "-", r["payload"] or "-"]))
        blob = ring.forge_lines("records", stdin="\n".join(lines) + "\n")[0]
        body = json.dumps({"phase": "push", "from": {"id": primary.id, "address": primary.address},
                           "a": ring.predecessor_of(primary).id, "b": primary.id, "buckets": [], "records": blob})
        for replica in (ring.successor_of(primary), ring.successor_of(ring.successor_of(primary))):
            status, text, _ = member(replica.address, "POST", "/v1/store/sync", body)
            merged = json.loads(text).get("merged") if status == 200 else None
            expect(status != 200 or merged == 0,
                   f"member sync push of {len(recs)} forgeries as {primary.address} to {replica.address}: expected "
                   f"a refusal or nothing merged, got {status} {text[:300]}")
            pushes += 1
    # A sync claiming a range that holds the receiver (it would keep what is
    # not its own, and count it as held), and a sync posing as the receiver.
    for receiver in ring.nodes:
        claimant = ring.successor_of(receiver)
        claims = [(claimant, ring.predecessor_of(receiver).id, "a range holding the receiver"),
                  (receiver, ring.predecessor_of(receiver).id, "the receiver's own range, as the receiver")]
        for who, a, what in claims:
            for phase in ("compare", "push"):
                body = {"phase": phase, "from": {"id": who.id, "address": who.address}, "a": a, "b": who.id}
                body.update({"digests": ["0" * 32] * 64} if phase == "compare" else {"buckets": [], "records": ""})
                status, text, _ = member(receiver.address, "POST", "/v1/store/sync", json.dumps(body))
                expect(400 <= status < 500, f"member sync {phase} of {what} to {receiver.address}: expected a 4xx "
                                            f"refusal, got {status} {text[:200]}")
    after = rejected(ring.nodes)
    grew = {r: after.get(r, 0) - before.get(r, 0) for r in after}
    for reason in ("wrong_key", "bad_version", "bad_expiry", "bad_signature", "misaddressed", "malformed"):
        expect(grew.get(reason, 0) > 0, f"dws_records_rejected_total{{reason=\"{reason}\"}}: expected it to grow "
                                        f"with the forgeries, grew by {grew}")
    # The never-expiring tombstones did not squat the free nickname.
    ring.chat("squatter").ok("register", "squatter", "--password-stdin", stdin="the squatter's victim\n")
    print(f"member: {refused} forged puts refused and {stale} stale ones changed nothing ({len(forgeries)} forgeries "
          f"on {len(paths)} paths each); 'squatter' still registers; {pushes} sync "
          f"pushes merged nothing; dws_records_rejected_total grew by {{{', '.join(f'{k}: {v:.0f}' for k, v in grew.items() if v)}}}",
          flush=True)


class Stranger:
    """An HTTP server on loopback that answers anything with 200 but holds
    no ring secret: a node that claims to be a member. Counts what it is asked."""

    def __init__(self, lo, hi):
        self.sock = None
        for _ in range(4000):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            addr = f"127.0.0.1:{s.getsockname()[1]}"
            if between(lo, node_id(addr), hi):
                self.sock, self.address = s, addr
                break
            s.close()
        expect(self.sock is not None, "no free loopback port has a node id in the range to attack")
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.requests = []
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    data = conn.recv(65536)
                except OSError:
                    continue
                if data:
                    self.requests.append(data.split(b"\r\n", 1)[0].decode(errors="replace"))
                    body = json.dumps({"self": {"id": hex_id(node_id(self.address)), "address": self.address}})
                    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                                 f"Connection: close\r\n\r\n{body}".encode())

    def close(self):
        self.stopped = True
        self.thread.join(timeout=5)
        self.sock.close()


def ring_stays_correct(ring, what, rounds=8):
    """The ring walk is correct on each of `rounds` walks (several
    stabilization periods): a forged pointer adopted would show."""
    for i in range(rounds):
        problems = dwsproc.ring_problems(dwsproc.ring_status(ring.node_exe, ring.nodes[i % 3].address), ring.members())
        expect(not problems, f"after {what}: expected the ring of {sorted(ring.members())} unchanged, walk {i} "
                             f"shows: {'; '.join(problems)}")


def attack_member_membership(ring):
    """Forged notifies and a forged leave from a member: nothing adopted."""
    carol = user_key("carol")
    primary = ring.primary_of(carol)
    pred = ring.predecessor_of(primary)
    lo, hi = int(pred.id, 16), int(primary.id, 16)
    # A stranger just before carol's primary, answering without the secret.
    stranger = Stranger(lo, hi)
    try:
        body = json.dumps({"id": hex_id(node_id(stranger.address)), "address": stranger.address})
        status, text, _ = member(primary.address, "POST", "/v1/ring/notify", body)
        expect(status in (200, 401, 403), f"member notify naming {stranger.address}: unexpected {status} {text[:200]}")
        wait_for(lambda: (bool(stranger.requests), stranger.requests), HANG_GUARD_S,
                 f"{primary.address} to check the notified stranger {stranger.address} at its address")
        ring_stays_correct(ring, f"a notify naming the stranger {stranger.address} (asked: {stranger.requests[:3]})")
    finally:
        stranger.close()
    # A dead address just before the primary, notified again and again while reads go on.
    dead = None
    while dead is None:
        addr = f"127.0.0.1:{dwsproc.closed_port()}"
        if between(lo, node_id(addr), hi):
            dead = addr
    body = json.dumps({"id": hex_id(node_id(dead)), "address": dead})
    failed_reads = []
    for i in range(60):
        member(ring.nodes[i % 3].address, "POST", "/v1/ring/notify", body)
        status, text, _ = request(ring.nodes[(i + 1) % 3].address, "GET", "/v1/users/carol")
        if status != 200:
            failed_reads.append((status, text[:100]))
    expect(not failed_reads, f"reads of carol's account during notify spam naming the dead {dead}: expected all 200, "
                             f"{len(failed_reads)} of 60 failed, e.g. {failed_reads[:3]}")
    ring_stays_correct(ring, f"60 notifies naming the dead address {dead}")
    # A live node under a false id, and a live node named by another's address.
    other = ring.successor_of(primary)
    for claim in ({"id": hex_id((lo + 1) % (1 << 64)), "address": other.address},
                  {"id": pred.id, "address": f"127.0.0.1:{dwsproc.closed_port()}"}):
        for n in ring.nodes:
            member(n.address, "POST", "/v1/ring/notify", json.dumps(claim))
    ring_stays_correct(ring, "notifies naming a live node under a false id")
    # A forged leave of a live node, sent to its neighbours.
    victim = ring.by_id()[1]
    stranger_like = f"127.0.0.1:{dwsproc.closed_port()}"
    leave = json.dumps({"leaving": {"id": victim.id, "address": victim.address},
                        "predecessor": {"id": hex_id(node_id(stranger_like)), "address": stranger_like},
                        "successors": [{"id": hex_id(node_id(stranger_like)), "address": stranger_like}]})
    for n in ring.nodes:
        if n is not victim:
            status, text, _ = member(n.address, "POST", "/v1/ring/leave", leave)
            expect(status < 500, f"member forged leave to {n.address}: unexpected {status} {text[:200]}")
    ring_stays_correct(ring, f"a forged leave of the live {victim.address}")
    print("member: notifies naming a stranger, a dead address (60, while carol's account read fine throughout), "
          "a misnamed live node, and a forged leave of a live node: nothing adopted, the ring unchanged", flush=True)


class LyingMember:
    """A ring member (it holds the secret and proves its answers) that
    joins just before carol's primary, so that it becomes her primary, and
    lies in every answer about storage: it stores nothing, merges nothing,
    and to every read, the direct reads garbage collection makes to
    confirm a copy included, says "held, at version 2^48"."""

    def __init__(self, ring, lo, hi):
        import hashlib
        import http.server
        self.ring = ring
        with open(dwsproc.RING_SECRET, "rb") as f:
            secret = f.read()
        self.answer_key = hashlib.blake2b(b"dwhatsapp ring v1: answer mac key", key=secret, digest_size=32).digest()
        self.confirmations = []
        self.requests = 0
        liar = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self.answer()

            def do_POST(self):
                self.answer()

            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, out = liar.route(self.command, self.path, body)
                data = json.dumps(out).encode()
                proof = (self.headers.get("X-Dws-Peer-Proof") or "").split()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                # No keep-alive: once the server closes, the liar is gone.
                self.send_header("Connection", "close")
                self.close_connection = True
                if len(proof) == 4:
                    text = f"{proof[2]}\n{status}\n{hashlib.blake2b(data, digest_size=32).hexdigest()}"
                    self.send_header("X-Dws-Peer-Answer",
                                     hashlib.blake2b(text.encode(), key=liar.answer_key, digest_size=32).hexdigest())
                self.end_headers()
                self.wfile.write(data)

        for _ in range(4000):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            addr = f"127.0.0.1:{probe.getsockname()[1]}"
            port = probe.getsockname()[1]
            probe.close()
            if between(lo, node_id(addr), hi):
                try:
                    self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
                except OSError:
                    continue
                self.address, self.id = addr, hex_id(node_id(addr))
                break
        else:
            raise Failure(f"no free loopback port has a node id in ({hex_id(lo)}, {hex_id(hi)})")
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def me(self):
        return {"id": self.id, "address": self.address}

    def order(self):
        peers = [{"id": n.id, "address": n.address} for n in self.ring.nodes] + [self.me()]
        return sorted(peers, key=lambda p: int(p["id"], 16))

    def route(self, method, target, body):
        self.requests += 1
        path, _, query = target.partition("?")
        params = dict(kv.split("=", 1) for kv in query.split("&") if "=" in kv)
        order = self.order()
        mine = next(i for i, p in enumerate(order) if p["id"] == self.id)
        if path == "/v1/ring/ping":
            return 200, self.me()
        if path == "/v1/ring/state":
            succ = [order[(mine + k) % len(order)] for k in range(1, len(order))]
            return 200, dict(self.me(), predecessor=order[mine - 1], successors=succ, fingers=[])
        if path == "/v1/ring/closest":
            key = int(params.get("key", "0"), 16)
            node = next((p for p in order if int(p["id"], 16) >= key), order[0])
            return 200, {"done": True, "node": node}
        if path in ("/v1/ring/notify", "/v1/ring/leave"):
            return 200, {}
        if path == "/v1/store/get":
            import urllib.parse
            if params.get("local") == "1":
                self.confirmations.append(params.get("key"))
            return 200, {"record": {"key": params.get("key", "0" * 16), "sub": urllib.parse.unquote(params.get("sub", "")),
                                    "version": 1 << 48, "tombstone": False, "expires_at": 0, "payload": ""}}
        if path == "/v1/store/put":
            return 200, {"copies": 1, "version": 1 << 48}
        if path == "/v1/store/sync":
            return 200, {"differing": [], "records": "", "more": False, "merged": 0}
        if path == "/v1/store/scan":
            return 200, {"records": "", "more": False}
        return 404, {"error": {"code": "not_found", "message": f"no {method} {path}"}}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def attack_lying_member(ring):
    """A member that becomes carol's primary and confirms every copy
    falsely: the nodes that stop holding her range erase only what the
    honest holders still have, and once the liar is gone nothing is lost."""
    carol = user_key("carol")
    primary = ring.primary_of(carol)
    before = sum(dwsproc.metric(n.address, "dws_gc_records_total") for n in ring.nodes)
    liar = LyingMember(ring, carol, int(primary.id, 16))
    try:
        status, text, _ = member(primary.address, "POST", "/v1/ring/notify", json.dumps(liar.me()))
        expect(status == 200, f"the lying member's notify to {primary.address}: expected 200, got {status} {text[:200]}")

        def adopted():
            views = dwsproc.ring_status(ring.node_exe, primary.address)
            preds = {v["address"]: (v["predecessor"] or {}).get("address") for v in views}
            return preds.get(primary.address) == liar.address, preds
        wait_for(adopted, HANG_GUARD_S, f"{primary.address} to adopt the lying member {liar.address} as predecessor")
        wait_for(lambda: (bool(liar.confirmations), f"{liar.requests} requests, no confirmation read"), HANG_GUARD_S,
                 "a node collecting garbage to ask the lying member to confirm a copy")
        erased = sum(dwsproc.metric(n.address, "dws_gc_records_total") for n in ring.nodes) - before
        # The liar answers reads of carol's account with a record that does
        # not decode: the honest nodes serve the replicas' copy instead.
        # A 503 "the ring is settling; retry" is what a client is told while
        # views catch up with the new member: retried until the deadline.
        for n in ring.nodes:
            def read(n=n):
                status, text, _ = request(n.address, "GET", "/v1/users/carol")
                expect(status in (200, 503) and (status == 503 or json.loads(text).get("nickname") == "carol"),
                       f"GET /v1/users/carol through {n.address} while the liar is her primary: expected 200 with "
                       f"her account from the replicas, got {status} {text[:200]}")
                return status == 200, f"{status} {text[:200]}"
            wait_for(read, HANG_GUARD_S, f"GET /v1/users/carol through {n.address} while the liar is her primary")
        # Her login, which her primary answers (it keeps the login limiter),
        # is withheld while the liar is that primary: what a member can still
        # do (docs/design.md, "Threat model"). It works again once it is gone.
    finally:
        liar.close()
    wait_for_ring(ring.node_exe, ring.nodes[0].address, ring.members(), HANG_GUARD_S)
    print(f"lying member {liar.address} became carol's primary, answered {len(liar.confirmations)} confirmation "
          f"reads with 'held at 2^48' ({erased:.0f} copies erased meanwhile; carol's account still read through "
          f"every node) and vanished", flush=True)


def attack_slow_headers(ring, ports):
    """300 connections to each port of each node, one header byte each every 2 s, while
    /v1/health is asked again and again: every health request answered,
    the slow ones cut off by the head deadline."""
    targets = [port for n in ring.nodes for port in ports[n.address]]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 300 * len(targets) + 200
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want), hard))
    before = {n.address: dwsproc.metric(n.address, "dws_http_header_timeouts_total") for n in ring.nodes}
    socks = []
    for port in targets:
        for i in range(300):
            s = socket.socket()
            s.bind((FLOOD_SOURCES[i % len(FLOOD_SOURCES)], 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            socks.append(s)
    health = {"asked": 0, "failed": []}
    stop = threading.Event()

    def ask():
        while not stop.is_set():
            for n in ring.nodes:
                health["asked"] += 1
                try:
                    status, text, _ = request(n.address, "GET", "/v1/health", timeout=5)
                    if status != 200:
                        health["failed"].append((n.address, status, text[:100]))
                except OSError as e:
                    health["failed"].append((n.address, str(e)))
            stop.wait(0.1)

    checker = threading.Thread(target=ask)
    checker.start()
    line = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"
    cut = set()
    try:
        # Rounds of one byte per connection; the head deadline is 10 s, so 8
        # rounds 2 s apart outlast it. The round's pause is the attacker's pace.
        for rnd in range(8):
            for i, s in enumerate(socks):
                if i in cut:
                    continue
                try:
                    s.send(line[rnd:rnd + 1])
                    if s.recv(4096) is not None:
                        cut.add(i)
                except BlockingIOError:
                    pass
                except OSError:
                    cut.add(i)
            time.sleep(2)
    finally:
        stop.set()
        checker.join(timeout=30)
        for s in socks:
            s.close()
    expect(not health["failed"], f"/v1/health during the slow-header flood: expected every request answered 200, "
                                 f"{len(health['failed'])} of {health['asked']} were not, e.g. {health['failed'][:3]}")
    expect(health["asked"] >= 3 * len(ring.nodes),
           f"/v1/health during the flood: expected it asked repeatedly, asked {health['asked']} times")
    timeouts = {n.address: dwsproc.metric(n.address, "dws_http_header_timeouts_total") - before[n.address]
                for n in ring.nodes}
    expect(len(cut) == len(socks) and all(v >= 300 * len(ports[a]) - 50 for a, v in timeouts.items()),
           f"slow-header flood: expected all {len(socks)} slow connections cut off by the head deadline, "
           f"{len(cut)} were; dws_http_header_timeouts_total grew by {timeouts}")
    print(f"slow headers: {len(socks)} connections (300 per node) cut off by the head deadline "
          f"({timeouts}); /v1/health answered all {health['asked']} requests during it", flush=True)


def login_attempt(address, nick, source):
    """A login with a wrong proof (a random auth_key); (status, Retry-After)."""
    body = json.dumps({"nickname": nick, "auth_key": b64(os.urandom(32))})
    status, text, headers = request(address, "POST", "/v1/login", body, source=source)
    return status, headers.get("Retry-After")


def attack_logins(ring):
    """Wrong passwords from one address; 10,000 junk nicknames from another."""
    entry = ring.nodes[0].address
    seen = []
    for _ in range(8):
        seen.append(login_attempt(entry, "alice", SRC_GUESSER)[0])
    expect(all(s in (401, 403, 429) for s in seen) and seen[-1] == 429,
           f"8 wrong logins as alice from {SRC_GUESSER}: expected refusals ending in 429 (slowed), got {seen}")
    c = ring.chat("alice-owner")
    c.ok("login", "alice", "--password-stdin", stdin=ACCOUNTS["alice"] + "\n")
    print(f"8 wrong passwords for alice from {SRC_GUESSER}: {seen}; alice then logs in from 127.0.0.1", flush=True)

    host, port = entry.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(SRC_JUNK, 0))
    counts = {}
    give_up = time.monotonic() + 60  # a guard on a hang, not an assertion
    sent = 0
    try:
        for i in range(10_000):
            if time.monotonic() > give_up:
                break
            body = json.dumps({"nickname": f"junk{i}", "auth_key": b64(os.urandom(32))})
            try:
                conn.request("POST", "/v1/login", body=body, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(SRC_JUNK, 0))
                status = "reset"
            counts[status] = counts.get(status, 0) + 1
            sent += 1
    finally:
        conn.close()
    expect(sent == 10_000, f"10,000 junk-nickname logins from {SRC_JUNK}: only {sent} answered before the guard")
    expect(counts.get(429, 0) >= 9_900 and counts.get(200, 0) == 0,
           f"10,000 junk-nickname logins from {SRC_JUNK}: expected nearly all 429 (slowed after a few), got {counts}")
    # Two guesses in a row from each address: had the flood evicted what
    # the limiter knows, both would be plain refusals (401) again.
    after = {src: [login_attempt(entry, "alice", src)[0] for _ in range(2)] for src in (SRC_JUNK, SRC_GUESSER)}
    expect(all(429 in v for v in after.values()),
           f"after the junk flood, two guesses at alice from each address: expected a 429 (still slowed) in each, "
           f"got {after}")
    c = ring.chat("alice-owner-again")
    c.ok("login", "alice", "--password-stdin", stdin=ACCOUNTS["alice"] + "\n")
    print(f"10,000 junk-nickname logins from {SRC_JUNK}: {counts}; guessing alice still slowed from both "
          f"addresses, her own login works", flush=True)


def attack_registrations(ring):
    """Registrations from one address: limited, with Retry-After."""
    bodies = ring.forge_lines("accounts", "40", "flood")
    entry = ring.nodes[1].address
    statuses = []
    for body in bodies:
        status, text, headers = request(entry, "POST", "/v1/users", body, source=SRC_REGISTRAR)
        statuses.append(status)
        if status == 429:
            expect("Retry-After" in headers, f"registration refused with 429 but no Retry-After: {text[:200]}")
    accepted = statuses.count(200) + statuses.count(201)
    expect(accepted <= 20 and statuses.count(429) >= 20,
           f"40 registrations from {SRC_REGISTRAR}: expected at most 20 accepted and the rest 429, got {statuses}")
    print(f"40 registrations from {SRC_REGISTRAR}: {accepted} accepted, {statuses.count(429)} refused with 429", flush=True)


def attack_owner(ring):
    """What an account's own key can do: updates to 2^64-1 and just over
    2^48 (refused), and 40 long polls of its mailbox from 10 addresses
    (its owner still reads it)."""
    lines = [json.loads(x) for x in ring.forge_lines("owner", "mallory")]
    entry = ring.nodes[2].address
    status, text, _ = request(entry, "POST", "/v1/users", json.dumps(lines[0]), source=SRC_OWNER_UPDATE)
    expect(status in (200, 201), f"registering mallory: expected success, got {status} {text[:200]}")
    signed = {x["label"]: x for x in lines[1:]}
    for label in ("version 2^64-1", "version 2^48+1"):
        upd = signed[label]
        status, text, _ = request(entry, "PUT", upd["target"], upd["body"],
                                  {"Authorization": upd["authorization"]}, source=SRC_OWNER_UPDATE)
        expect(400 <= status < 500, f"mallory's signed update to {label}: expected a 4xx refusal, "
                                    f"got {status} {text[:200]}")
    status, text, _ = request(entry, "GET", "/v1/users/mallory")
    version = json.loads(text).get("version") if status == 200 else None
    expect(version == 1, f"mallory after the refused updates: expected version 1, got {status} {text[:200]}")
    print("an owner's signed updates to version 2^64-1 and 2^48+1: refused, the account stays at version 1", flush=True)

    primary = ring.primary_of(user_key("mallory"))
    host, port = primary.address.rsplit(":", 1)
    poll, read = signed["long poll"], signed["owner's read"]
    before = metrics_by_label(primary.address, "dws_limit_refusals_total")
    key = '{limit="long_polls_per_user_preempted"}'
    polls = []
    try:
        for i in range(40):
            s = socket.create_connection((host, int(port)), timeout=5, source_address=(f"127.0.0.{50 + i % 10}", 0))
            s.sendall(f"GET {poll['target']} HTTP/1.1\r\nHost: x\r\nAuthorization: {poll['authorization']}\r\n"
                      f"\r\n".encode())
            polls.append(s)

        def preempted():
            got = metrics_by_label(primary.address, "dws_limit_refusals_total")
            n = got.get(key, 0) - before.get(key, 0)
            return n >= 36, f"{n:.0f} of mallory's polls ended early"
        wait_for(preempted, HANG_GUARD_S, "the node to end all but 4 of mallory's 40 long polls")
        status, text, _ = request(primary.address, "GET", read["target"], None,
                                  {"Authorization": read["authorization"]})
        expect(status == 200 and "messages" in json.loads(text),
               f"mallory's own read of her mailbox behind 40 long polls: expected 200 with the messages, "
               f"got {status} {text[:200]}")
    finally:
        for s in polls:
            s.close()
    print("40 long polls of one account from 10 addresses: all but 4 ended early, its owner still reads "
          "its mailbox", flush=True)


def main():
    if len(sys.argv) != 4:
        print("usage: test_adversarial.py path/to/dws-node path/to/dws-chat path/to/forge", file=sys.stderr)
        return 2
    node_exe, chat_exe, forge = (os.path.abspath(p) for p in sys.argv[1:])
    tmp = tempfile.mkdtemp(prefix="dws-adversarial-")
    dwsproc.set_ring_secret(os.path.join(tmp, "ring.secret"))
    ring = Ring(node_exe, chat_exe, forge, tmp)
    ok = False
    try:
        ring.start()
        ring.start_attacker_ring()
        ports = {}
        for n in ring.nodes:
            ports[n.address] = listening_ports(n.proc.pid)
            expect(int(n.address.rsplit(":", 1)[1]) in ports[n.address],
                   f"{n.name}: expected its advertised port among the ports it listens on, got {ports[n.address]}")
        print(f"listening ports from /proc: {ports}", flush=True)
        forgeries = forged_records(ring)
        attack_outsider_peer_surface(ring, ports, forgeries)
        ring.check_intact("after the outsider's attacks")
        attack_member_records(ring, forgeries)
        attack_member_membership(ring)
        attack_lying_member(ring)
        ring.check_intact("after the member's attacks")
        attack_slow_headers(ring, ports)
        attack_logins(ring)
        attack_registrations(ring)
        attack_owner(ring)
        ring.check_intact("after the abuse-limit attacks", read_mail=True)
        codes = NodeProc.stop_all(ring.nodes, HANG_GUARD_S)
        expect(all(c == 0 for c in codes), f"expected every node to exit 0 on SIGTERM, got {codes}")
        ok = True
        print("PASS: adversarial test")
        return 0
    except (Failure, TimeoutError, dwsproc.NodeError, OSError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        print("\n".join(n.log_tail() for n in ring.nodes), file=sys.stderr)
        return 1
    finally:
        dwsproc.finish(ring.nodes + ([ring.attacker_node] if ring.attacker_node else []), tmp, ok)


if __name__ == "__main__":
    dwsproc.exit_with(main)
