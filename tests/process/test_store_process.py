#!/usr/bin/env python3
"""Process test: replicated storage across real dws-node processes.

Five nodes (each with its own --data directory) take 2,000 records through
POST /v1/store/put on any node. Once every write is acknowledged and on its
three nodes, two ADJACENT nodes are SIGKILLed. After repair: zero records
lost (each reads back through a live node) and every key on n = 3 copies
again (local reads on every live node). Then the two restart at the same
addresses with the same data directories: still zero lost, and each key on
exactly 3 nodes once garbage collection ran (nothing duplicated).

Nodes store only records that verify, so the records are signed user
records made by the signed_records helper.

Usage: test_store_process.py path/to/dws-node path/to/signed_records
"""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import dwsproc  # noqa: E402
from dwsproc import Failure, NodeProc, expect, ring_status, wait_for, wait_for_ring  # noqa: E402

RECORDS = 2000
REPLICAS = 3
COMMON = ["--stabilize-ms", "200", "--sync-ms", "500", "--discovery-port", "0"]
# Wall-clock limits only guard against hangs; nothing is asserted about time.
HANG_GUARD_S = 120
RING_ID_MAX = (1 << 64) - 1
RETRIES = [0]  # writes answered 503 (ring settling) and retried


class Client:
    """One keep-alive HTTP connection per node (urllib would open one per request)."""

    def __init__(self):
        self.conns = {}

    def request(self, address, method, path, body=None):
        """(status, parsed JSON body); raises OSError when the node does not answer."""
        for attempt in range(2):
            conn = self.conns.get(address)
            if conn is None:
                host, port = address.rsplit(":", 1)
                conn = self.conns[address] = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                headers = {"Content-Type": "application/json"} if body is not None else {}
                # The store endpoints serve ring members only: prove the secret.
                headers.update(dwsproc.peer_headers(method, path, body or b""))
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                return r.status, json.loads(r.read() or b"null")
            except (OSError, http.client.HTTPException):
                conn.close()
                del self.conns[address]
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def forget(self, address):
        conn = self.conns.pop(address, None)
        if conn:
            conn.close()


def make_records(tool, count):
    """`count` signed user records from the helper (one key pair, nicknames p0, p1, ...)."""
    out = subprocess.run([tool, str(count), "p"], check=True, capture_output=True, text=True, timeout=60).stdout
    return [{"key": r["key"], "sub": "", "version": 1, "tombstone": False, "expires_at": 0, "payload": r["payload"]}
            for r in map(json.loads, out.splitlines())]


def put(client, entry, rec):
    """Writes through `entry` as a client does (forward: the entry finds the
    primary); retries kUnavailable a few times, as clients are told to."""
    body = json.dumps(dict(rec, replica=False, forward=True))
    give_up = time.monotonic() + 10
    while True:
        status, answer = client.request(entry, "POST", "/v1/store/put", body)
        if status == 200:
            expect(answer["copies"] >= 2, f"put of {rec['key']} acknowledged with {answer['copies']} copies, W is 2")
            return
        if status != 503 or time.monotonic() > give_up:
            raise Failure(f"put of {rec['key']} through {entry}: HTTP {status} {answer}")
        RETRIES[0] += 1
        time.sleep(0.05)  # client back-off before a retry, not synchronization


def get(client, address, key, local):
    mode = "local=1" if local else "forward=1"
    status, answer = client.request(address, "GET", f"/v1/store/get?key={key}&sub=&{mode}")
    if status != 200:
        raise dwsproc.NodeError(f"GET store/get {key} on {address}: HTTP {status} {answer}")
    return answer["record"]


def holders(ids, key):
    """Addresses that must hold `key`: its successor and the next n-1 nodes."""
    order = sorted(ids, key=lambda a: ids[a])
    first = next((i for i, a in enumerate(order) if ids[a] >= key), 0)
    return {order[(first + k) % len(order)] for k in range(min(REPLICAS, len(order)))}


def counts_problem(exe, nodes, records):
    """'' when every node reports exactly its share of primary and replica
    records (dws-node status, from GET /v1/ring/state); else the differences."""
    ids = {n.address: int(n.id, 16) for n in nodes}
    order = sorted(ids, key=lambda a: ids[a])
    want = {a: [0, 0] for a in order}
    for rec in records:
        key = int(rec["key"], 16)
        first = next((i for i, a in enumerate(order) if ids[a] >= key), 0)
        want[order[first]][0] += 1
        for k in range(1, min(REPLICAS, len(order))):
            want[order[(first + k) % len(order)]][1] += 1
    views = ring_status(exe, nodes[0].address)
    got = {v["address"]: v.get("records") for v in views}
    problems = []
    for a in order:
        r = got.get(a)
        seen = [r["primary"], r["replica"]] if r else None
        if seen != want[a]:
            problems.append(f"{a}: primary+replica {seen}, expected {want[a]}")
    return "; ".join(problems)


def misplaced(client, nodes, records):
    """Keys not held by exactly their 3 nodes with the written content, from
    local reads on every live node: [(key, holders seen, holders expected)]."""
    ids = {n.address: int(n.id, 16) for n in nodes}
    bad = []
    for rec in records:
        key = int(rec["key"], 16)
        seen = set()
        for n in nodes:
            got = get(client, n.address, rec["key"], local=True)
            if got is not None:
                expect(got == rec, f"{n.address} holds {rec['key']} as {got}, written as {rec}")
                seen.add(n.address)
        want = holders(ids, key)
        if seen != want:
            bad.append((rec["key"], sorted(seen), sorted(want)))
    return bad


def lost(client, nodes, records):
    """Keys that do not read back through live entry nodes with their content."""
    missing = []
    for i, rec in enumerate(records):
        entry = nodes[i % len(nodes)].address
        got = get(client, entry, rec["key"], local=False)
        if got != rec:
            missing.append((rec["key"], entry, got))
    return missing


def require_settled(exe, client, nodes, records, what):
    """Waits until the counts match the oracle, then checks every key by local
    reads (repeated until the deadline for keys still moving)."""
    start = time.monotonic()
    wait_for(lambda: (not (p := counts_problem(exe, nodes, records)), p), HANG_GUARD_S,
             f"record counts of exactly n = 3 copies per key ({what})", interval=0.25)
    wait_for(lambda: (not (b := misplaced(client, nodes, records)), f"{len(b)} misplaced, e.g. {b[:3]}"),
             HANG_GUARD_S, f"every key on exactly its 3 nodes ({what})", interval=0.25)
    gone = lost(client, nodes, records)
    expect(not gone, f"{len(gone)} of {len(records)} records lost ({what}), e.g. {gone[:3]}")
    print(f"{what}: {len(records)} records readable, each on exactly its 3 of {len(nodes)} nodes "
          f"({time.monotonic() - start:.1f}s to settle)", flush=True)


def start(exe, tmp, name, args):
    n = NodeProc(exe, args + COMMON, name, tmp).start()
    n.wait_ready()
    return n


def data_dir(tmp, name):
    return os.path.join(tmp, "data-" + name)


def main():
    if len(sys.argv) != 3:
        print("usage: test_store_process.py path/to/dws-node path/to/signed_records", file=sys.stderr)
        return 2
    exe = os.path.abspath(sys.argv[1])
    tool = os.path.abspath(sys.argv[2])
    tmp = tempfile.mkdtemp(prefix="dws-store-process-")
    # A private ring: every node gets its secret, `up` creates it.
    dwsproc.set_ring_secret(os.path.join(tmp, "ring.secret"))
    nodes, everyone = [], []
    ok = False
    client = Client()
    try:
        first = start(exe, tmp, "n0", ["up", "--listen", "127.0.0.1:0", "--data", data_dir(tmp, "n0")])
        nodes.append(first)
        for i in range(1, 5):
            name = f"n{i}"
            nodes.append(start(exe, tmp, name, ["join", "--listen", "127.0.0.1:0", "--peer", first.address,
                                                "--data", data_dir(tmp, name)]))
        everyone = list(nodes)
        wait_for_ring(exe, first.address, {n.address: n.id for n in nodes}, HANG_GUARD_S)
        print(f"formed: one ring of 5: {', '.join(sorted(n.address for n in nodes))}", flush=True)

        records = make_records(tool, RECORDS)
        t0 = time.monotonic()
        for i, rec in enumerate(records):
            put(client, nodes[i % len(nodes)].address, rec)
        print(f"wrote {RECORDS} records through 5 entry nodes, all acknowledged "
              f"({time.monotonic() - t0:.1f}s, {RETRIES[0]} retries after 503)", flush=True)
        require_settled(exe, client, nodes, records, "after the writes")

        # Two neighbours in id order: the keys they both held are down to one copy.
        by_id = sorted(nodes, key=lambda n: int(n.id, 16))
        victims = by_id[1:3]
        for v in victims:
            v.proc.kill()
        for v in victims:
            v.proc.wait()
            client.forget(v.address)
        survivors = [n for n in nodes if n not in victims]
        print(f"killed adjacent {victims[0].address} and {victims[1].address} (SIGKILL)", flush=True)
        wait_for_ring(exe, survivors[0].address, {n.address: n.id for n in survivors}, HANG_GUARD_S)
        require_settled(exe, client, survivors, records, "after repair")

        restarted = []
        for v in victims:
            again = start(exe, tmp, v.name + "-again",
                          ["join", "--listen", v.address, "--peer", survivors[0].address,
                           "--data", data_dir(tmp, v.name)])
            expect(again.address == v.address and again.id == v.id,
                   f"expected the restarted node at {v.address} id {v.id}, got {again.address} id {again.id}")
            restarted.append(again)
            everyone.append(again)
        nodes = survivors + restarted
        wait_for_ring(exe, survivors[0].address, {n.address: n.id for n in nodes}, HANG_GUARD_S)
        require_settled(exe, client, nodes, records, "after the two restarted")

        codes = NodeProc.stop_all(nodes, HANG_GUARD_S)
        expect(all(c == 0 for c in codes), f"expected every node to exit 0 on SIGTERM, got {codes}")
        ok = True
        print("PASS: process store test")
        return 0
    except (Failure, TimeoutError, dwsproc.NodeError, OSError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        print("\n".join(n.log_tail() for n in everyone), file=sys.stderr)
        return 1
    finally:
        dwsproc.finish(everyone, tmp, ok)


if __name__ == "__main__":
    dwsproc.exit_with(main)
