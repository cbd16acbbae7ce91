#!/usr/bin/env python3
"""`meson install` into a temporary DESTDIR puts the library, the headers and
dwhatsapp.pc in place, and a C program builds and runs against them with
`pkg-config --cflags --libs dwhatsapp` alone (PKG_CONFIG_SYSROOT_DIR maps the
.pc's prefix into the DESTDIR, as it does for any staged install).

Usage: test_install.py MESON BUILD_DIR CC PROGRAM.c EXPECTED_VERSION
"""

import glob
import os
import shlex
import shutil
import subprocess
import sys
import tempfile


def run(argv, env=None, what=None):
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"{what or ' '.join(argv)}: exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p.stdout


def main():
    if len(sys.argv) != 6:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    meson, build, cc, program, version = sys.argv[1:]
    tmp = tempfile.mkdtemp(prefix="dws-install-")
    ok = False
    try:
        dest = os.path.join(tmp, "dest")
        run([meson, "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", dest], what="meson install")
        pcs = glob.glob(os.path.join(dest, "**", "pkgconfig", "dwhatsapp.pc"), recursive=True)
        if len(pcs) != 1:
            raise RuntimeError(f"expected one installed dwhatsapp.pc under {dest}, found {pcs}")
        headers = glob.glob(os.path.join(dest, "**", "include", "dwhatsapp", "dwhatsapp.h"), recursive=True)
        if len(headers) != 1:
            raise RuntimeError(f"expected include/dwhatsapp/dwhatsapp.h under {dest}, found {headers}")

        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=dest,
                   PKG_CONFIG_LIBDIR=os.path.dirname(pcs[0]))
        env.pop("LD_LIBRARY_PATH", None)  # nothing of the build tree
        flags = shlex.split(run(["pkg-config", "--cflags", "--libs", "dwhatsapp"], env=env, what="pkg-config"))
        modversion = run(["pkg-config", "--modversion", "dwhatsapp"], env=env).strip()
        if modversion != version:
            raise RuntimeError(f"pkg-config --modversion: expected {version}, got {modversion}")
        if any(build in f for f in flags):
            raise RuntimeError(f"pkg-config flags point into the build tree: {flags}")
        exe = os.path.join(tmp, "smoke")
        run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", program, "-o", exe] + flags, env=env,
            what="cc with pkg-config's flags")
        libdirs = [f[2:] for f in flags if f.startswith("-L")]
        env["LD_LIBRARY_PATH"] = ":".join(libdirs)
        out = run([exe], env=env, what="the installed program")
        if f"libdwhatsapp {version}: a node on 127.0.0.1:" not in out:
            raise RuntimeError(f"the installed program: expected 'libdwhatsapp {version}: a node on ...', got {out!r}")
        print(f"pkg-config --cflags --libs dwhatsapp: {' '.join(flags)}")
        print(out.strip())
        ok = True
        print("PASS: installed library, headers and dwhatsapp.pc build and run a C program")
        return 0
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    finally:
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"(the install is kept in {tmp})", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
