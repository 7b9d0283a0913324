"""Fixtures shared by the emulator tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.server import Sandbox


@pytest.fixture(scope="module")
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """One sandbox server for the test module, serving the apps its ``SANDBOX_APPS`` names
    (every app when it names none)."""
    server = Sandbox(slugs=getattr(request.module, "SANDBOX_APPS", None)).start()
    try:
        yield server
    finally:
        server.stop()
