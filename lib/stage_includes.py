#!/usr/bin/env python3
"""Stages the include directory of one layer of lib/ (DESIGN.md section 1).

    stage_includes.py OUT_DIR SOURCE_ROOT --folders F... --public H...

OUT_DIR ends up holding exactly one symbolic link per folder F, to
SOURCE_ROOT/lib/F, and a directory dwhatsapp/ with one link per public
header H, to SOURCE_ROOT/include/dwhatsapp/H. A library compiled with only
OUT_DIR on its include path can write `#include "core/ring.hpp"` for the
folders it may use, and gets "No such file or directory" for any other: the
compiler itself refuses an upward include. Links to folders, not copies of
headers, so a new or edited header needs no reconfigure. Anything else in
OUT_DIR (from an earlier, different table) is removed.
"""

import argparse
import os
import shutil
import sys


def replace_with_link(target, link):
    if os.path.islink(link) and os.readlink(link) == target:
        return
    if os.path.islink(link) or os.path.isfile(link):
        os.unlink(link)
    elif os.path.isdir(link):
        shutil.rmtree(link)
    os.symlink(target, link)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out_dir")
    p.add_argument("source_root")
    p.add_argument("--folders", nargs="*", default=[])
    p.add_argument("--public", nargs="*", default=[])
    a = p.parse_args()

    lib = os.path.join(os.path.abspath(a.source_root), "lib")
    public = os.path.join(os.path.abspath(a.source_root), "include", "dwhatsapp")
    os.makedirs(a.out_dir, exist_ok=True)
    wanted = set(a.folders) | {"dwhatsapp"}
    for name in os.listdir(a.out_dir):
        if name not in wanted:
            path = os.path.join(a.out_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)

    for folder in a.folders:
        target = os.path.join(lib, folder)
        if not os.path.isdir(target):
            print(f"stage_includes.py: lib/{folder} does not exist", file=sys.stderr)
            return 1
        replace_with_link(target, os.path.join(a.out_dir, folder))

    headers = os.path.join(a.out_dir, "dwhatsapp")
    if os.path.islink(headers):
        os.unlink(headers)
    os.makedirs(headers, exist_ok=True)
    for name in os.listdir(headers):
        if name not in a.public:
            os.unlink(os.path.join(headers, name))
    for header in a.public:
        target = os.path.join(public, header)
        if not os.path.isfile(target):
            print(f"stage_includes.py: include/dwhatsapp/{header} does not exist", file=sys.stderr)
            return 1
        replace_with_link(target, os.path.join(headers, header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
