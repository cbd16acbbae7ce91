#!/usr/bin/env python3
"""Prints one closing line for `make test`: how many tests passed and failed
across the Meson build directories given, read from their test logs."""
import json
import sys


def main(dirs):
    passed = failed = skipped = 0
    for d in dirs:
        try:
            lines = open(f"{d}/meson-logs/testlog.json", encoding="utf-8").read().splitlines()
        except OSError:
            failed += 1  # a missing log means that half never ran
            print(f"test-summary: no test log in {d}", file=sys.stderr)
            continue
        for line in lines:
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
