"""Wait until something listens on HOST:PORT, then exit 0; exit 1 after ``--timeout`` seconds.

`make run` starts the worker behind it (the `Procfile`), so the worker's first tasks (the demo's
webhook registrations, its first scan) find the sandbox listening instead of logging connection
errors while it starts. Standard library only: it runs before anything else is up.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time


def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", help="HOST:PORT, e.g. 127.0.0.1:8700")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    args = parser.parse_args(argv)
    host, _, port_text = args.address.rpartition(":")
    if not host or not port_text.isdecimal() or not 0 < int(port_text) < 65536:
        parser.error(f"{args.address!r} is not HOST:PORT with a port from 1 to 65535")
    port = int(port_text)
    deadline = time.monotonic() + args.timeout
    while not listening(host, port):
        if time.monotonic() >= deadline:
            print(f"nothing listens on {host}:{port} after {args.timeout:g} s", file=sys.stderr)
            return 1
        time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
