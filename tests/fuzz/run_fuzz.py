#!/usr/bin/env python3
"""Runs one libFuzzer target as a test: first every saved regression input
(each must pass), then fuzzing from the seed corpus for a bounded time
(DWS_FUZZ_SECONDS, default 30). New corpus entries go to a temporary
directory, so the repository's seeds are never changed; a crash input is
kept in the build directory, named in the output, to be fixed and then
saved under tests/fuzz/regressions/<target>/.

Usage: run_fuzz.py FUZZER TARGET_NAME SOURCE_DIR ARTIFACT_DIR
"""
import os
import subprocess
import sys
import tempfile


def main():
    exe, name, src, artifacts = sys.argv[1:5]
    seconds = int(os.environ.get("DWS_FUZZ_SECONDS", "30"))
    seeds = os.path.join(src, "corpus", name)
    regressions = os.path.join(src, "regressions", name)
    os.makedirs(artifacts, exist_ok=True)
    # Third-party findings that are not ours (each explained in the file).
    supp = os.path.join(src, "ubsan.supp")
    ub = os.environ.get("UBSAN_OPTIONS", "")
    os.environ["UBSAN_OPTIONS"] = (ub + ":" if ub else "") + f"suppressions={supp}"
    common = ["-timeout=10", "-rss_limit_mb=2048", f"-artifact_prefix={artifacts}/{name}-"]

    saved = sorted(os.path.join(regressions, f) for f in os.listdir(regressions)) if os.path.isdir(regressions) else []
    if saved:
        r = subprocess.run([exe, *common, *saved], capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr[-4000:])
            print(f"fuzz {name}: a saved regression input fails again")
            return 1
        print(f"fuzz {name}: {len(saved)} regression inputs pass")

    with tempfile.TemporaryDirectory(prefix=f"dws-fuzz-{name}-") as work:
        r = subprocess.run([exe, *common, f"-max_total_time={seconds}", "-print_final_stats=1", work, seeds],
                           capture_output=True, text=True)
        tail = "\n".join(r.stderr.splitlines()[-12:])
        print(tail)
        if r.returncode != 0:
            print(f"fuzz {name}: FAILED; the input is under {artifacts} (fix it, then save it in {regressions})")
            return 1
    print(f"fuzz {name}: {seconds} s without a finding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
