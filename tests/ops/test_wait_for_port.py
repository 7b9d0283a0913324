"""`scripts/wait_for_port.py`, which `make run`'s worker waits behind until the sandbox listens."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.faults.harness import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "wait_for_port.py"


def wait(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=30
    )


def test_it_returns_once_the_port_listens() -> None:
    port = free_port()
    listener = socket.socket()

    def listen_later() -> None:
        time.sleep(0.5)
        listener.bind(("127.0.0.1", port))
        listener.listen()

    later = threading.Thread(target=listen_later)
    later.start()
    try:
        done = wait(f"127.0.0.1:{port}", "--timeout", "20")
    finally:
        later.join()
        listener.close()

    assert done.returncode == 0, done.stderr


def test_it_gives_up_after_its_timeout_naming_the_address() -> None:
    port = free_port()

    done = wait(f"127.0.0.1:{port}", "--timeout", "0.5")

    assert done.returncode == 1
    assert f"nothing listens on 127.0.0.1:{port} after 0.5 s" in done.stderr


def test_it_refuses_an_address_without_a_port() -> None:
    done = wait("127.0.0.1:http")

    assert done.returncode == 2
    assert "'127.0.0.1:http' is not HOST:PORT" in done.stderr
