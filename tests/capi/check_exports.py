#!/usr/bin/env python3
"""Only the C ABI and the public C++ API may leave libdwhatsapp.so.

Every defined dynamic symbol must be either `dws_*` (C) or a C++ symbol that
demangles into namespace `dws::` but not into one of the internal layers
(dws::core::, dws::net::, ...). Anything else is a leak: an internal symbol
applications could come to depend on.

Usage: check_exports.py path/to/libdwhatsapp.so
"""

import re
import subprocess
import sys

INTERNAL = ("dws::core::", "dws::net::", "dws::store::", "dws::crypto::", "dws::node::", "dws::sim::")
# How the demangler spells the compiler-made objects of a class.
SPECIAL = re.compile(r"^(typeinfo name for |typeinfo for |vtable for |VTT for |construction vtable for "
                     r"|guard variable for |non-virtual thunk to |virtual thunk to )+")


def symbols(lib, demangle):
    cmd = ["nm", "-D", "--defined-only", "--no-sort"] + (["-C"] if demangle else []) + [lib]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    names = []
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3:
            names.append(parts[2])
    return names


def verdict(mangled, demangled):
    if mangled.startswith("dws_"):
        return None
    if not mangled.startswith("_Z"):
        return "not dws_* and not a C++ symbol"
    name = SPECIAL.sub("", demangled)
    if not name.startswith("dws::"):
        return "outside namespace dws::"
    for ns in INTERNAL:
        if name.startswith(ns):
            return f"in internal namespace {ns}"
    return None


def main():
    if len(sys.argv) != 2:
        print("usage: check_exports.py path/to/libdwhatsapp.so", file=sys.stderr)
        return 2
    lib = sys.argv[1]
    mangled, demangled = symbols(lib, False), symbols(lib, True)
    if len(mangled) != len(demangled):
        print(f"FAIL: nm listed {len(mangled)} symbols, nm -C {len(demangled)}", file=sys.stderr)
        return 1
    if not any(m.startswith("dws_") for m in mangled):
        print(f"FAIL: expected the C ABI (dws_version, ...) among the exports, saw {mangled[:20]}", file=sys.stderr)
        return 1
    leaks = [(d, why) for m, d in zip(mangled, demangled) if (why := verdict(m, d))]
    c_count = sum(m.startswith("dws_") for m in mangled)
    print(f"{len(mangled)} exported symbols: {c_count} dws_* (C), {len(mangled) - c_count} dws:: (C++)")
    if leaks:
        print(f"FAIL: {len(leaks)} symbols leave libdwhatsapp that should be hidden:", file=sys.stderr)
        for d, why in leaks:
            print(f"  {d}   ({why})", file=sys.stderr)
        return 1
    print("PASS: only dws_* and public dws:: symbols are exported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
