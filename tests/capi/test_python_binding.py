#!/usr/bin/env python3
"""The ctypes binding (examples/python/dwhatsapp.py) in one process: three
Nodes form a ring, Clients register and talk. Checked: exceptions named
after the status codes carry the library's detail; a callback that raises
is reported to on_error and the receiver keeps running; callbacks stay
alive with no reference left but the binding's; state changes come back;
messages() iterates the incoming messages; closed handles raise; the
context managers close.

Usage: test_python_binding.py EXAMPLES_PYTHON_DIR   (DWS_LIBRARY: path to libdwhatsapp.so)
"""

import gc
import os
import shutil
import sys
import tempfile
import threading
import time

DEADLINE_S = 30


class Failure(Exception):
    pass


def expect(cond, message):
    if not cond:
        raise Failure(message)


def wait_until(check, what):
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {DEADLINE_S}s waiting for {what}")
        time.sleep(0.02)


def raises(cls, fn, word):
    """Runs fn, which must raise `cls` with a detail mentioning `word`."""
    try:
        fn()
    except cls as e:
        expect(word in e.detail and str(e) == e.detail and e.status == cls.status,
               f"{cls.__name__}: expected a detail mentioning {word!r} and status {cls.status}, "
               f"got {e.detail!r}, {e.status}")
        return e
    except Exception as e:  # noqa: BLE001: the point is to say what came instead
        raise Failure(f"expected {cls.__name__} mentioning {word!r}, got {type(e).__name__}: {e}")
    raise Failure(f"expected {cls.__name__} mentioning {word!r}, nothing was raised")


def ring(dws, n):
    opts = dict(stabilize_ms=200, sync_ms=500, discovery_port=0, http_threads=4, log_level="warn")
    log = []
    # An open ring (chosen by its first node): the joiners need no secret file.
    first = dws.Node(**dict(opts, log_level="info"), open_ring=True, log=log.append)
    expect(any("serving HTTP on" in line for line in log), f"the log callback: expected a 'serving HTTP on' line, got {log}")
    nodes = [first] + [dws.Node(peer=first.address, **opts) for _ in range(n - 1)]

    def formed():
        views = [x.view() for x in nodes]
        return all(v.predecessor is not None and v.successors for v in views)
    wait_until(formed, f"a ring of {n}")
    return nodes


def scenario(dws, tmp):
    nodes = ring(dws, 3)
    try:
        v = nodes[0].view()
        expect(v.self_.address == nodes[0].address and v.self_.id == nodes[0].id,
               f"view: expected self {nodes[0].address}, got {v.self_}")
        expect(len(v.fingers) == 64, f"view: expected 64 fingers, got {len(v.fingers)}")
        counts = nodes[0].record_counts()
        expect(counts.primary >= 0 and counts.replica >= 0, "record_counts")
        expect("dws_records_primary" in nodes[0].metrics(), "metrics: expected dws_records_primary")

        fast = dict(discovery_port=0, poll_wait_s=2, kdf_opslimit=1, kdf_memlimit=8192)
        with dws.Client(os.path.join(tmp, "alice"), [nodes[0].address], **fast) as alice, \
                dws.Client(os.path.join(tmp, "bob"), [nodes[1].address], **fast) as bob, \
                dws.Client(os.path.join(tmp, "carol"), [nodes[2].address], **fast) as carol:
            alice.register("alice", "alice's password")
            bob.register("bob", "bob's password", display_name="Bob")
            expect(alice.whoami() == "alice" and carol.whoami() is None, "whoami")

            # Exceptions named after the codes, with the detail.
            raises(dws.Unauthenticated, lambda: carol.login("alice", "not her password"), "wrong nickname or password")
            raises(dws.InvalidArgument, lambda: carol.register("Al ice", "pw"), "nickname")
            raises(dws.Exists, lambda: carol.register("bob", "another password"), "bob")
            raises(dws.Unauthenticated, lambda: carol.send("bob", "hi"), "log in")
            e = raises(dws.NotFound, lambda: alice.send("nobody_here", "hi"), "nobody_here")
            expect(isinstance(e, dws.DwsError), "NotFound must be a DwsError")
            print("exceptions: Unauthenticated, InvalidArgument, Exists, NotFound with their details", flush=True)

            # A callback that raises: reported, and the receiver goes on.
            got, errors = [], []
            lock = threading.Lock()

            def start_bob():
                # No reference to these callbacks stays here: the binding keeps them.
                def on_message(m):
                    with lock:
                        got.append(m)
                    if m.text == "first":
                        raise RuntimeError("the application's callback failed on purpose")

                def on_error(exc):
                    with lock:
                        errors.append(exc)
                bob.start_receiving(on_message=on_message, on_error=on_error)
            start_bob()
            gc.collect()

            states = []
            alice.start_receiving(on_message=lambda m: None, on_state=states.append)
            first = alice.send("bob", "first")
            wait_until(lambda: any(isinstance(e, RuntimeError) for e in errors), "the raised exception at on_error")
            second = alice.send("bob", "second")
            wait_until(lambda: len(got) >= 2, "the second message after the callback raised")
            expect([m.id for m in got] == [first, second] and got[0].from_ == "alice"
                   and got[0].state == dws.Delivery.RECEIVED,
                   f"bob's callback: expected {first} then {second} from alice, got {got}")
            raised = [e for e in errors if isinstance(e, RuntimeError)]
            expect(len(raised) == 1 and "on purpose" in str(raised[0]),
                   f"on_error: expected the one RuntimeError, got {errors}")
            print("a raising callback: reported to on_error, the receiver kept running", flush=True)

            wait_until(lambda: {s.id for s in states} >= {first, second}, "alice's on_state for both messages")
            expect(all(s.outgoing and s.state == dws.Delivery.DELIVERED for s in states),
                   f"on_state: expected outgoing, delivered, got {states}")
            alice.stop_receiving()
            bob.stop_receiving()
            print("on_state: both messages reported delivered", flush=True)

            # The iterator of incoming messages, ended by stop_receiving().
            seen, ended = [], threading.Event()

            def iterate():
                for m in bob.messages():
                    seen.append(m)
                ended.set()
            reader = threading.Thread(target=iterate, daemon=True)
            reader.start()
            third = alice.send("bob", "third")
            wait_until(lambda: seen, "the third message from bob.messages()")
            expect(len(seen) == 1 and seen[0].id == third and seen[0].text == "third",
                   f"messages(): expected {third}, got {seen}")
            bob.stop_receiving()
            wait_until(ended.is_set, "the messages() iteration to end after stop_receiving()")
            print("messages(): the incoming message, then the end once stopped", flush=True)

            # History, chats, contacts, servers.
            history = alice.history("bob")
            expect([m.id for m in history] == [first, second, third] and all(m.outgoing for m in history),
                   f"alice's history: expected her three messages, got {history}")
            chats = bob.chats()
            expect(len(chats) == 1 and chats[0].peer == "alice" and chats[0].unread == 3,
                   f"bob's chats: expected alice with 3 unread, got {chats}")
            bob.mark_read("alice")
            expect(bob.chats()[0].unread == 0, "mark_read: expected 0 unread")
            alice.add_contact("bob", alias="B")
            contacts = alice.contacts()
            expect(len(contacts) == 1 and contacts[0].alias == "B" and contacts[0].display_name == "Bob"
                   and not contacts[0].key_changed, f"alice's contacts: got {contacts}")
            expect(contacts[0].safety_number and contacts[0].safety_number == bob.safety_number(),
                   f"bob's safety number {bob.safety_number()!r} should be what alice pinned: {contacts[0]}")
            alice.remove_contact("bob")
            raises(dws.NotFound, lambda: alice.remove_contact("bob"), "bob")
            expect(alice.servers() and ":" in alice.servers()[0], f"servers: got {alice.servers()}")

            alice.change_password("alice's password", "a new one")
            alice.logout()
            expect(alice.whoami() is None, "whoami after logout")
            alice.login("alice", "a new one")
            carol.login("bob", "bob's password")
            # carol's data directory is now bob's second device.
            listed = bob.devices()
            expect(len(listed) == 2 and listed[0].this_device and not listed[1].this_device
                   and listed[1].added_at > 0, f"bob's devices after a second login: got {listed}")
            raises(dws.NotFound, lambda: bob.remove_device("00000000000000ff"), "no device")
            raises(dws.InvalidArgument, lambda: bob.remove_device("nope"), "hex")
            bob.remove_device(listed[1].id)
            expect([d.id for d in bob.devices()] == [listed[0].id], f"bob's devices after the removal: {bob.devices()}")
            raises(dws.Forbidden, lambda: carol.receive(0), "was removed")
            expect(carol.whoami() is None, "a removed device is logged out")
            carol.login("bob", "bob's password")
            carol.delete_account("bob's password")
            raises(dws.Unauthenticated, lambda: carol.login("bob", "bob's password"), "wrong nickname or password")
        raises(dws.InvalidArgument, alice.whoami, "closed")
        alice.close()  # idempotent
        print("history, chats, contacts, servers, password, logout, delete; closed clients raise", flush=True)

        nodes[2].stop()
        raises(dws.Unavailable, nodes[2].view, "stopped")
        expect(nodes[2].address, "address after stop")
    finally:
        for n in nodes:
            n.close()
    raises(dws.InvalidArgument, lambda: nodes[0].address, "closed")


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    sys.path.insert(0, os.path.abspath(sys.argv[1]))
    import dwhatsapp  # noqa: E402
    tmp = tempfile.mkdtemp(prefix="dws-python-binding-")
    began = time.monotonic()
    try:
        scenario(dwhatsapp, tmp)
    except (Failure, dwhatsapp.DwsError) as e:
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        print(f"(data kept in {tmp})", file=sys.stderr)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"PASS: the Python binding ({time.monotonic() - began:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
