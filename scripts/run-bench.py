#!/usr/bin/env python3
"""make bench: runs every executable defined in bench/meson.build.

Usage: scripts/run-bench.py BUILD_DIR

The list comes from `meson introspect --targets`, so a new benchmark only
needs its executable() in bench/meson.build. Each one prints its own results;
this script adds a header per benchmark and a summary line.
"""

import json
import os
import subprocess
import sys
import time


def main():
    if len(sys.argv) != 2:
        print("usage: run-bench.py BUILD_DIR", file=sys.stderr)
        return 2
    build = sys.argv[1]
    targets = json.loads(subprocess.run(["meson", "introspect", build, "--targets"], check=True,
                                        capture_output=True, text=True).stdout)
    bench_dir = os.path.join(os.path.abspath("."), "bench") + os.sep
    benches = sorted((t["name"], t["filename"][0]) for t in targets
                     if t["type"] == "executable" and os.path.abspath(t["defined_in"]).startswith(bench_dir))
    if not benches:
        print("make bench: no benchmarks are defined in bench/meson.build yet")
        return 0
    failed = []
    for name, path in benches:
        print(f"=== {name} ({os.path.relpath(path)})", flush=True)
        start = time.monotonic()
        code = subprocess.run([path]).returncode
        print(f"=== {name}: exit {code} in {time.monotonic() - start:.1f}s\n", flush=True)
        if code != 0:
            failed.append(name)
    print(f"make bench: {len(benches) - len(failed)} of {len(benches)} benchmarks ran"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
