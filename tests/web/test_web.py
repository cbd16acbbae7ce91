#!/usr/bin/env python3
"""Web test: the `dws-chat web` page in a real, headless Chromium.

Starts a ring of three dws-node processes (scripts/dwsproc.py), registers
bob and carol with the command line, serves the page for alice (an empty
data directory: she registers in the page) and for bob, then runs
test_web.mjs (Playwright, playwright-core from npm, Debian's chromium),
which drives both pages. Screenshots of both pages are left in ARTIFACTS.

Usage: test_web.py path/to/dws-node path/to/dws-chat ARTIFACTS_DIR
"""

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import dwsproc  # noqa: E402
from dwsproc import Failure, expect  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
HANG_GUARD_S = 90
BROWSER_GUARD_S = 400


class WebChat:
    """One `dws-chat web` process; its URL is the first line it prints."""

    def __init__(self, chat_exe, servers, data, log):
        argv = [chat_exe] + sum((["--server", s] for s in servers), []) + ["--data", data, "web",
                                                                          "--listen", "127.0.0.1:0"]
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in self.proc.stdout], daemon=True).start()
        try:
            self.url = lines.get(timeout=HANG_GUARD_S).strip()
        except queue.Empty:
            raise Failure(f"dws-chat web --data {data}: no URL within {HANG_GUARD_S}s")
        expect(self.url.startswith("http://127.0.0.1:") and self.url.endswith("/") and len(self.url) > 40,
               f"dws-chat web printed {self.url!r}, expected http://127.0.0.1:PORT/TOKEN/")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                code = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failure("dws-chat web did not stop within 20s of SIGTERM")
            expect(code == 0, f"dws-chat web exited {code} on SIGTERM, expected 0")
        self.log.close()


def register(chat_exe, servers, data, nick, verb="register"):
    argv = [chat_exe] + sum((["--server", s] for s in servers), []) + ["--data", data, verb, nick,
                                                                      "--password-stdin"]
    p = subprocess.run(argv, input="correct horse 42\n", capture_output=True, text=True, timeout=HANG_GUARD_S)
    expect(p.returncode == 0, f"{verb} {nick}: exit {p.returncode}: {p.stderr.strip()}")


def main():
    node_exe, chat_exe, artifacts = sys.argv[1], sys.argv[2], sys.argv[3]
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        print("tests/web/node_modules/playwright-core is missing: run scripts/install-deps.sh (it runs npm ci)",
              file=sys.stderr)
        return 1
    if not os.access(CHROMIUM, os.X_OK):
        print(f"{CHROMIUM} is missing: run scripts/install-deps.sh (it installs Debian's chromium)", file=sys.stderr)
        return 1
    os.makedirs(artifacts, exist_ok=True)
    for name in os.listdir(artifacts):
        if name.startswith("web-") and name.endswith(".png"):
            os.remove(os.path.join(artifacts, name))  # no stale screenshot passes for this run's
    tmp = tempfile.mkdtemp(prefix="dws-web-")
    nodes, webs, ok = [], [], False
    try:
        nodes = dwsproc.start_ring(node_exe, tmp, 3, timeout=HANG_GUARD_S)
        servers = [n.address for n in nodes]
        register(chat_exe, servers, os.path.join(tmp, "bob"), "bob")
        register(chat_exe, servers, os.path.join(tmp, "carol"), "carol")
        # bob's second device, on the command line: what it sends shows on bob's page.
        register(chat_exe, servers, os.path.join(tmp, "bob-phone"), "bob", verb="login")
        alice = WebChat(chat_exe, servers, os.path.join(tmp, "alice"), os.path.join(tmp, "web-alice.log"))
        webs.append(alice)
        bob = WebChat(chat_exe, servers, os.path.join(tmp, "bob"), os.path.join(tmp, "web-bob.log"))
        webs.append(bob)
        config = {
            "chromium": CHROMIUM,
            "tmp": tmp,
            "artifacts": artifacts,
            "alice": alice.url,
            "bob": bob.url,
            # carol speaks through the command line, to reorder alice's chats.
            "carol_send": [chat_exe] + sum((["--server", s] for s in servers), []) +
                          ["--data", os.path.join(tmp, "carol"), "send"],
            "bob_phone_send": [chat_exe] + sum((["--server", s] for s in servers), []) +
                              ["--data", os.path.join(tmp, "bob-phone"), "send"],
            "nodes": [{"address": n.address, "pid": n.proc.pid} for n in nodes],
        }
        config_path = os.path.join(tmp, "config.json")
        with open(config_path, "w") as f:
            json.dump(config, f)
        p = subprocess.run(["node", os.path.join(HERE, "test_web.mjs"), config_path], timeout=BROWSER_GUARD_S)
        expect(p.returncode == 0, f"test_web.mjs failed (exit {p.returncode}); logs in {tmp}")
        for w in webs:
            w.stop()
        ok = True
        print("web: both pages chatted through the ring; screenshots in", artifacts)
        return 0
    except (Failure, dwsproc.NodeError, TimeoutError, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        for n in nodes:
            print(n.log_tail(), file=sys.stderr)
        return 1
    finally:
        for w in webs:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()
        dwsproc.finish(nodes, tmp, ok, kept="node logs, page logs and data")


if __name__ == "__main__":
    dwsproc.exit_with(main)
