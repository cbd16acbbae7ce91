#!/usr/bin/env python3
"""Process test: delivery that never fails the user (issue 10, items 1, 2).

Three dws-node processes on loopback. bob is logged in on two devices
(two data directories: the phone registered, the laptop logged in and was
told that older history stays on the phone). alice sends bob 40 messages,
one `dws-chat send` process each, and bob's primary is SIGKILLed after the
10th: every send must exit 0 with an id (the test never sends again), and
each of bob's devices shows all 40 in `inbox --json`, once each, in the
order sent.

Then the whole ring stops. alice's `send` says "queued ID" and exits 75
(the documented status), her history shows the message queued; the ring
restarts at the same addresses with the same data directories, alice's next
`inbox` reaches it and sends the queued message (same id), and bob's inbox
shows it once on each device. Last, the phone removes the laptop with
`dws-chat devices --remove`: the laptop is told so and logged out, and a
message sent after that reaches the phone only.

Usage: test_delivery_process.py path/to/dws-node path/to/dws-chat
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)
import dwsproc  # noqa: E402
from dwsproc import Failure, NodeProc, expect, http_get, wait_for, wait_for_ring  # noqa: E402
from test_chat_process import COMMON, HANG_GUARD_S, MESSAGE_ID, Chat, start_ring  # noqa: E402

SENDS = 40
KILL_AFTER = 10
EXIT_QUEUED = 75


def read_all(user, ids, what):
    """Runs `inbox --json` until every id has arrived; returns the messages
    in the order the inbox printed them. A repeat is a failure."""
    order = []

    def check():
        for m in user.inbox(wait=2):
            expect(m["id"] not in order, f"{what}: message {m['id']} ({m['text']!r}) delivered twice")
            order.append(m["id"])
            order_texts[m["id"]] = m["text"]
        return all(i in order for i in ids), f"{len([i for i in ids if i in order])} of {len(ids)}"

    order_texts = {}
    wait_for(check, HANG_GUARD_S, what, interval=0.05)
    return order, order_texts


def sends_through_a_crash(nodes, alice, bob):
    n0 = nodes[0].address
    primary = json.loads(http_get(n0, "/v1/users/bob/node"))["address"]
    victim = next((n for n in nodes if n.address == primary), None)
    expect(victim is not None, f"GET /v1/users/bob/node: expected one of {[n.address for n in nodes]}, got {primary}")
    sent = []
    for i in range(SENDS):
        if i == KILL_AFTER:
            victim.proc.kill()
            victim.proc.wait()
            print(f"SIGKILLed bob's primary {primary} after {KILL_AFTER} sends", flush=True)
        code, out, err = alice.run("send", "bob", f"message {i}")
        expect(code == 0 and MESSAGE_ID.match(out.strip()),
               f"send {i} ({'after' if i >= KILL_AFTER else 'before'} the crash): expected exit 0 and an id, "
               f"got {code}; stdout {out.strip()!r}; stderr {err.strip()!r}")
        sent.append(out.strip())
    print(f"all {SENDS} sends succeeded, none repeated by the test", flush=True)
    for device in bob:
        order, texts = read_all(device, sent, f"bob's {device.name} reading the 40 messages")
        got = [i for i in order if i in sent]
        expect(got == sent, f"bob's {device.name}: expected the {SENDS} ids in the order sent, got {got}")
        expect([texts[i] for i in sent] == [f"message {k}" for k in range(SENDS)], f"bob's {device.name}: texts differ")
        print(f"bob's {device.name} read all {SENDS}, once each, in order", flush=True)
    return victim


def outbox_across_a_ring_outage(node_exe, tmp, nodes, victim, alice, bob):
    live = [n for n in nodes if n is not victim]
    codes = NodeProc.stop_all(live, HANG_GUARD_S)
    expect(all(c == 0 for c in codes), f"expected the live nodes to exit 0 on SIGTERM, got {codes}")
    print("the whole ring is down", flush=True)

    code, out, err = alice.run("send", "bob", "sent while the ring was down")
    words = out.split()
    expect(code == EXIT_QUEUED and len(words) == 2 and words[0] == "queued" and MESSAGE_ID.match(words[1]),
           f"send with no server: expected 'queued ID' and exit {EXIT_QUEUED}, got {code}; stdout {out.strip()!r}; "
           f"stderr {err.strip()!r}")
    queued = words[1]
    history = alice.ok("history", "bob", "--limit", "3")
    line = next((ln for ln in history.splitlines() if "sent while the ring was down" in ln), "")
    expect("queued" in line, f"alice's history: expected the message marked queued, got {history!r}")
    print(f"queued {queued} (exit {EXIT_QUEUED}), history shows it queued", flush=True)

    # Same addresses, same data directories: the first one starts the ring
    # again, the others join through it.
    restarted = []
    for k, n in enumerate(nodes):
        verb = ["up"] if k == 0 else ["join", "--peer", nodes[0].address]
        again = NodeProc(node_exe, verb + ["--listen", n.address, "--data", os.path.join(tmp, f"n{k}")] + COMMON,
                         f"n{k}-again", tmp).start()
        restarted.append(again)
        again.wait_ready()
        expect(again.address == n.address, f"restarted n{k}: expected address {n.address}, got {again.address}")
    wait_for_ring(node_exe, nodes[0].address, {n.address: n.id for n in restarted}, HANG_GUARD_S)
    print("the ring is back at the same addresses", flush=True)

    # Nothing is sent again by hand: alice's next command that reaches the
    # ring drains her outbox.
    def drained():
        alice.inbox()
        history = alice.ok("history", "bob", "--limit", "3")
        line = next((ln for ln in history.splitlines() if "sent while the ring was down" in ln), "")
        return "queued" not in line, history
    wait_for(drained, HANG_GUARD_S, "alice's outbox to leave for the ring", interval=0.2)
    for device in bob:
        order, texts = read_all(device, [queued], f"bob's {device.name} reading the queued message")
        expect(order.count(queued) == 1 and texts[queued] == "sent while the ring was down",
               f"bob's {device.name}: expected the queued message once, got {order}")
    print("the queued message reached both of bob's devices once, with its id", flush=True)
    return restarted


def two_devices(chat_exe, tmp, n1, bob_phone):
    """bob's second device: a login that says where the older history is."""
    laptop = Chat(chat_exe, os.path.join(tmp, "bob-laptop"), [n1])
    out = laptop.ok("login", "bob", "--password-stdin", "--device-name", "laptop", stdin="battery staple bob\n")
    expect("messages from before this login stay on the other devices" in out,
           f"login on a second device: expected the note about older history, got {out!r}")
    listed = json.loads(bob_phone.ok("devices", "--json"))
    expect(len(listed) == 2 and [d["this_device"] for d in listed] == [True, False] and listed[1]["name"] == "laptop",
           f"devices --json on the phone: expected the phone then the laptop, got {listed}")
    laptop.device_id = listed[1]["id"]
    bob_phone.name, laptop.name = "phone", "laptop"
    print(f"bob is on two devices: {[d['id'] for d in listed]}", flush=True)
    return laptop


def removing_a_device(alice, phone, laptop):
    out = phone.ok("devices", "--remove", laptop.device_id)
    expect(f"removed device {laptop.device_id}" in out, f"devices --remove: got {out!r}")
    code, out, err = laptop.run("inbox")
    expect(code != 0 and "was removed from the account 'bob'" in err,
           f"the removed laptop's inbox: expected a failure saying it was removed, got {code}; {err.strip()!r}")
    laptop.error("whoami", mentions=("not logged in",))
    after = alice.ok("send", "bob", "after the laptop was removed").strip()
    order, _ = read_all(phone, [after], "the phone reading the message after the removal")
    expect(order.count(after) == 1, f"the phone: expected the message once, got {order}")
    listed = json.loads(phone.ok("devices", "--json"))
    expect([d["name"] for d in listed] == [listed[0]["name"]] and listed[0]["this_device"],
           f"devices after the removal: expected the phone alone, got {listed}")
    print("the laptop was removed: told so, logged out, and the next message reached the phone only", flush=True)


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    node_exe, chat_exe = (os.path.abspath(a) for a in sys.argv[1:])
    tmp = tempfile.mkdtemp(prefix="dws-delivery-process-")
    dwsproc.set_ring_secret(os.path.join(tmp, "ring.secret"))
    os.environ["DWS_DISCOVERY_BROADCAST"] = "127.255.255.255"
    nodes = []
    everyone = []
    ok = False
    try:
        nodes = start_ring(node_exe, tmp)
        everyone = list(nodes)
        n0, n1 = nodes[0].address, nodes[1].address
        alice = Chat(chat_exe, os.path.join(tmp, "alice"), [n0])
        bob = Chat(chat_exe, os.path.join(tmp, "bob"), [n1])
        alice.ok("register", "alice", "--password-stdin", stdin="correct horse alice\n")
        bob.ok("register", "bob", "--password-stdin", stdin="battery staple bob\n")
        laptop = two_devices(chat_exe, tmp, n1, bob)
        alice.servers = bob.servers = laptop.servers = []
        victim = sends_through_a_crash(nodes, alice, [bob, laptop])
        restarted = outbox_across_a_ring_outage(node_exe, tmp, nodes, victim, alice, [bob, laptop])
        everyone += restarted
        removing_a_device(alice, bob, laptop)
        codes = NodeProc.stop_all(restarted, HANG_GUARD_S)
        expect(all(c == 0 for c in codes), f"expected the restarted nodes to exit 0 on SIGTERM, got {codes}")
        ok = True
        print("PASS: process delivery test")
        return 0
    except (Failure, TimeoutError, dwsproc.NodeError, OSError, subprocess.SubprocessError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        print("\n".join(n.log_tail() for n in everyone), file=sys.stderr)
        return 1
    finally:
        dwsproc.finish(everyone, tmp, ok)


if __name__ == "__main__":
    dwsproc.exit_with(main)
