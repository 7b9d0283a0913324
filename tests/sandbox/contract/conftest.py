"""One sandbox for the contract suites, and a clean emulator per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.server import Sandbox


@pytest.fixture(scope="package")
def contract_sandbox() -> Iterator[Sandbox]:
    server = Sandbox().start()
    try:
        yield server
    finally:
        server.stop()
