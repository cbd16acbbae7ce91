#!/usr/bin/env python3
"""Checks that no layer of lib/ (DESIGN.md section 1) includes a higher one.

    check_layers.py --source-root DIR --build-root DIR
                    --layer NAME:FOLDERS:HEADERS ...

Each --layer names a folder (lib/NAME, or capi), the folders of lib/ its
files may include (comma-separated, its own among them) and the public
headers of include/dwhatsapp/ they may include; meson.build passes its
layer table. Two checks, both of which fail the test:

1. Every `#include` line of every file of each layer names an allowed
   folder or public header (or a file beside it). This covers headers that
   no .cpp of their own layer includes, which the compiler never sees there.
2. The compile flags meson gave each layer (compile_commands.json, the real
   ones) make the compiler refuse the rest: a probe including a header of a
   folder or a public header the layer may not use must stop at "No such
   file or directory", and a probe including one header of each allowed
   folder and every allowed public header must preprocess cleanly (so the
   probes themselves can pass).
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCES = (".cpp", ".hpp", ".h", ".c")
# Top-level folders of the tree: an include through one of them means the
# source root is on the include path, which no layer's is.
TREE = ("lib", "include", "capi", "launchers", "tests", "examples", "bench")


class Layer:
    def __init__(self, spec, source_root):
        try:
            self.name, folders, headers = spec.split(":")
        except ValueError:
            raise SystemExit(f"check_layers.py: --layer {spec!r} is not NAME:FOLDERS:HEADERS")
        self.folders = [f for f in folders.split(",") if f]
        self.headers = [h for h in headers.split(",") if h]
        where = "capi" if self.name == "capi" else os.path.join("lib", self.name)
        self.rel_dir = where
        self.dir = os.path.join(source_root, where)


def lib_folders(source_root):
    lib = os.path.join(source_root, "lib")
    return sorted(d for d in os.listdir(lib) if os.path.isdir(os.path.join(lib, d)))


def public_headers(source_root):
    d = os.path.join(source_root, "include", "dwhatsapp")
    return sorted(h for h in os.listdir(d) if h.endswith((".h", ".hpp")))


def first_header(source_root, folder):
    d = os.path.join(source_root, "lib", folder)
    headers = sorted(h for h in os.listdir(d) if h.endswith((".hpp", ".h")))
    return f"{folder}/{headers[0]}" if headers else None


def scan(layer, folders, source_root):
    """Problems in the #include lines of one layer's files."""
    problems = []
    allowed = f"{layer.name} may include {', '.join(layer.folders) or 'no folder of lib/'}" \
              f" and dwhatsapp/{{{', '.join(layer.headers)}}}"
    for name in sorted(os.listdir(layer.dir)):
        if not name.endswith(SOURCES):
            continue
        path = os.path.join(layer.dir, name)
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                quote, target = m.group(1), m.group(2)
                close = ">" if quote == "<" else '"'
                where = f"{layer.rel_dir}/{name}:{number}: #include {quote}{target}{close}"
                parts = target.split("/")
                if ".." in parts:
                    problems.append(f"{where}: a relative path past the folder; name the folder instead")
                elif len(parts) == 1:
                    continue  # beside the file, or third-party: the staged path reaches neither
                elif parts[0] in folders:
                    # <net/if.h> is the system's, not lib/net's.
                    ours = quote == '"' or os.path.exists(os.path.join(source_root, "lib", target))
                    if ours and parts[0] not in layer.folders:
                        problems.append(f"{where}: {parts[0]} is not below {layer.name} ({allowed})")
                elif parts[0] == "dwhatsapp":
                    if parts[-1] not in layer.headers:
                        problems.append(f"{where}: that public header is above {layer.name} ({allowed})")
                elif parts[0] in TREE:
                    problems.append(f"{where}: through the source root ({allowed})")
    return problems


def compile_command(layer, build_root):
    with open(os.path.join(build_root, "compile_commands.json")) as f:
        entries = json.load(f)
    for e in entries:
        path = os.path.normpath(os.path.join(e["directory"], e["file"]))
        if os.path.dirname(path) == os.path.normpath(layer.dir):
            argv = shlex.split(e["command"]) if "command" in e else list(e["arguments"])
            return e["directory"], argv
    return None, None


def probe_argv(argv, probe):
    """The layer's compile command, preprocessing `probe` instead."""
    out = []
    skip = False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if i == 0 and os.path.basename(a) == "ccache":
            continue
        if a in ("-o", "-c", "-MQ", "-MF", "-MT"):
            skip = True
            continue
        if a in ("-MD", "-MMD"):
            continue
        out.append(a)
    return out + ["-E", "-o", os.devnull, probe]


def run_probe(directory, argv, tmp, text):
    probe = os.path.join(tmp, "probe.cpp")
    with open(probe, "w") as f:
        f.write(text)
    r = subprocess.run(probe_argv(argv, probe), cwd=directory, capture_output=True, text=True)
    return r.returncode, r.stderr


def probe(layer, folders, headers, source_root, build_root, tmp):
    directory, argv = compile_command(layer, build_root)
    if argv is None:
        return [f"{layer.rel_dir}: no compile command in compile_commands.json; is it built?"], 0
    problems = []
    refused = 0
    forbidden = [first_header(source_root, f) for f in folders if f not in layer.folders]
    forbidden += [f"dwhatsapp/{h}" for h in headers if h not in layer.headers]
    # Through the source root: never, for any layer.
    forbidden += ["include/dwhatsapp/status.hpp", f"lib/{first_header(source_root, 'core')}"]
    for target in filter(None, forbidden):
        rc, err = run_probe(directory, argv, tmp, f'#include "{target}"\n')
        if rc == 0:
            problems.append(f"{layer.rel_dir}: its compile flags let it include {target}, which is above it")
        elif target not in err or "No such file" not in err:
            problems.append(f"{layer.rel_dir}: including {target} failed for another reason:\n{err}")
        else:
            refused += 1
    allowed = [first_header(source_root, f) for f in layer.folders]
    allowed += [f"dwhatsapp/{h}" for h in layer.headers]
    text = "".join(f'#include "{t}"\n' for t in allowed if t)
    rc, err = run_probe(directory, argv, tmp, text)
    if rc != 0:
        problems.append(f"{layer.rel_dir}: its compile flags refuse what it may include:\n{text}{err}")
    return problems, refused


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source-root", required=True)
    p.add_argument("--build-root", required=True)
    p.add_argument("--layer", action="append", default=[])
    p.add_argument("--scan-only", action="store_true", help="skip the compile probes")
    a = p.parse_args()
    source_root = os.path.abspath(a.source_root)
    layers = [Layer(s, source_root) for s in a.layer]
    folders = lib_folders(source_root)
    headers = public_headers(source_root)

    problems = []
    named = {l.name for l in layers}
    for f in folders:
        if f not in named:
            problems.append(f"lib/{f} is in no layer of meson.build's table, so nothing checks it")
    with tempfile.TemporaryDirectory(prefix="dws-layers-") as tmp:
        for layer in layers:
            found = scan(layer, folders, source_root)
            refused = 0
            if not a.scan_only:
                more, refused = probe(layer, folders, headers, source_root, a.build_root, tmp)
                found += more
            problems += found
            verdict = "ok" if not found else f"{len(found)} problem(s)"
            print(f"{layer.rel_dir}: may include [{', '.join(layer.folders)}] "
                  f"+ dwhatsapp/[{', '.join(layer.headers)}]; "
                  f"{refused} forbidden includes refused by its flags: {verdict}")
    for problem in problems:
        print(f"LAYER VIOLATION: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
