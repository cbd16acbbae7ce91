#!/usr/bin/env python3
"""make demo: a 3-node ring on loopback.

Starts three dws-node processes on 127.0.0.1 (ports picked by the OS, data in
a temporary directory), waits until they form one ring, prints
`dws-node status`, then waits for Ctrl-C when run on a terminal, or stops at
once otherwise. The nodes and their data are always removed.

Usage: scripts/demo.py path/to/dws-node
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dwsproc  # noqa: E402

NODES = 3


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    exe = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="dws-demo-")
    nodes = []
    try:
        common = ["--stabilize-ms", "200", "--discovery-port", "0"]
        first = dwsproc.NodeProc(exe, ["up", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "n0")] + common,
                                 "n0", tmp)
        nodes.append(first.start())
        first.wait_ready()
        print(f"demo: started {first.address} (new ring)")
        for i in range(1, NODES):
            n = dwsproc.NodeProc(exe, ["join", "--listen", "127.0.0.1:0", "--peer", first.address,
                                       "--data", os.path.join(tmp, f"n{i}")] + common, f"n{i}", tmp)
            nodes.append(n.start())
            n.wait_ready()
            print(f"demo: started {n.address} (joined through {first.address})")

        members = {n.address: n.id for n in nodes}
        dwsproc.wait_for_ring(exe, first.address, members, timeout=30)
        print(f"demo: one ring of {NODES}; dws-node status --peer {first.address}:\n", flush=True)
        subprocess.run([exe, "status", "--peer", first.address], check=True, timeout=20)

        if sys.stdout.isatty():
            print("\ndemo: the ring is running; try the command above. Ctrl-C stops it.", flush=True)
            try:
                signal.pause()
            except KeyboardInterrupt:
                print()
        return 0
    except (dwsproc.NodeError, TimeoutError, subprocess.SubprocessError) as e:
        print(f"demo: {e}", file=sys.stderr)
        for n in nodes:
            print(n.log_tail(), file=sys.stderr)
        return 1
    finally:
        # Ctrl-C on a terminal reaches the nodes too; stop() finishes the job.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        dwsproc.NodeProc.stop_all(nodes)
        shutil.rmtree(tmp, ignore_errors=True)
        print("demo: stopped all nodes", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
