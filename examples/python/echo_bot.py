#!/usr/bin/env python3
"""An echo bot on the dwhatsapp ring, through the ctypes binding.

Usage: echo_bot.py --server HOST:PORT --data DIR NICKNAME  (password: first line of stdin)

Registers NICKNAME (or logs in when it exists), then answers every message
with "echo: <text>" until Ctrl-C or SIGTERM.
"""

import argparse
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dwhatsapp  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description="Answers every message with 'echo: <text>'.")
    parser.add_argument("--server", action="append", default=[], help="HOST:PORT of a ring member (repeatable)")
    parser.add_argument("--data", required=True, help="the bot's data directory")
    parser.add_argument("nickname")
    args = parser.parse_args()
    password = sys.stdin.readline().rstrip("\n")
    # SIGTERM ends the loop as Ctrl-C does, so that `with` closes the client.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    try:
        with dwhatsapp.Client(args.data, args.server) as client:
            try:
                client.register(args.nickname, password)
            except dwhatsapp.Exists:
                client.login(args.nickname, password)
            print(f"echo-bot: answering as {client.whoami()}", flush=True)
            for m in client.messages():
                try:
                    reply = client.send(m.from_, "echo: " + m.text)
                    print(f"echo-bot: answered {m.id} from {m.from_} with {reply}", flush=True)
                except dwhatsapp.DwsError as e:  # e.g. the ring unreachable for a moment: answer the next
                    print(f"echo-bot: cannot answer {m.id} from {m.from_}: {e}", file=sys.stderr, flush=True)
    except dwhatsapp.DwsError as e:
        print(f"echo-bot: {e} ({type(e).__name__})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
