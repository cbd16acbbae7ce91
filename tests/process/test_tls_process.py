#!/usr/bin/env python3
"""Process test: `dws-node gen-cert` and a dws-node serving HTTPS.

gen-cert makes a ring CA (and refuses to overwrite it) and a node
certificate, with private keys of mode 0600; a node started with them serves
HTTPS that Python's ssl module verifies against the CA; `status --tls-ca`
walks it and `status` without the CA fails; a plain-HTTP request is told the
node serves HTTPS only; the data directory is 0700.

Usage: test_tls_process.py path/to/dws-node
"""

import json
import os
import ssl
import stat
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import dwsproc  # noqa: E402
from dwsproc import Failure, NodeProc, expect, run  # noqa: E402


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def main():
    exe = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="dws-tls-proc-")
    ca_dir, cert_dir, data = (os.path.join(tmp, d) for d in ("ca", "node", "data"))
    nodes = []
    ok = False
    try:
        code, out, err = run([exe, "gen-cert", "--ca-dir", ca_dir])
        expect(code == 0, f"gen-cert --ca-dir exited {code}: {err}")
        expect(mode(os.path.join(ca_dir, "ca.key")) == 0o600, "ca.key is not 0600")
        code, out, err = run([exe, "gen-cert", "--ca-dir", ca_dir])
        expect(code != 0 and "already holds a ring CA" in err, f"a second CA was not refused: {code} {err}")
        code, out, err = run([exe, "gen-cert", "--ca-dir", ca_dir, "--host", "127.0.0.1", "--out", cert_dir])
        expect(code == 0, f"gen-cert --host exited {code}: {err}")
        expect(mode(os.path.join(cert_dir, "node.key")) == 0o600, "node.key is not 0600")
        code, out, err = run([exe, "gen-cert", "--ca-dir", ca_dir, "--host", "127.0.0.1"])
        expect(code != 0 and "--out" in err, f"--host without --out was not refused: {code} {err}")
        print("gen-cert: a ring CA and a node certificate")

        ca = os.path.join(ca_dir, "ca.crt")
        node = NodeProc(exe, ["up", "--listen", "127.0.0.1:0", "--discovery-port", "0", "--data", data,
                              "--tls-cert", os.path.join(cert_dir, "node.crt"),
                              "--tls-key", os.path.join(cert_dir, "node.key"), "--tls-ca", ca],
                        "tls0", tmp)
        nodes.append(node)
        address = node.start().wait_ready()
        expect(mode(data) == 0o700, f"data directory mode {oct(mode(data))}, expected 0o700")

        context = ssl.create_default_context(cafile=ca)
        with urllib.request.urlopen(f"https://{address}/v1/health", context=context, timeout=10) as r:
            health = json.loads(r.read().decode())
        expect(health.get("address") == address, f"unexpected health answer {health}")
        try:
            urllib.request.urlopen(f"http://{address}/v1/health", timeout=10)
            raise Failure("a plain-HTTP request was answered with 2xx")
        except urllib.error.HTTPError as e:
            body = e.read().decode()
            expect(e.code == 400 and "serves HTTPS only" in body, f"plain HTTP got {e.code}: {body}")
        print(f"serving HTTPS on {address}; plain HTTP is told so")

        code, out, err = run([exe, "status", "--peer", address, "--tls-ca", ca, "--data", data, "--json"])
        expect(code == 0 and len(json.loads(out)) == 1, f"status --tls-ca exited {code}: {err}")
        code, out, err = run([exe, "status", "--peer", address, "--data", data])
        expect(code != 0, "status without the CA walked an HTTPS ring")

        expect(node.stop() == 0, "the node did not exit 0 on SIGTERM")
        ok = True
        print("PASS: process TLS test")
        return 0
    except (Failure, TimeoutError, dwsproc.NodeError, OSError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        for n in nodes:
            print(n.log_tail(), file=sys.stderr)
        return 1
    finally:
        dwsproc.finish(nodes, tmp, ok)


if __name__ == "__main__":
    dwsproc.exit_with(main)
