"""``manage.py sandbox`` serves the seeded emulators and says where, one line per app."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox.kustomer import DEMO_API_KEY, DEMO_SUBDOMAIN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served() -> Iterator[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    # Port 0 is refused (a port the user can reach must be named): take a free one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox", "--port", port, "--apps", "kustomer"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_it_prints_each_app_with_its_base_url_and_serves_the_demo_org(served: str) -> None:
    slug, base_url = served.split(" ")
    assert slug == "kustomer"
    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/kustomer")
    response = requests.get(
        f"{base_url}/{DEMO_SUBDOMAIN}/v1/customers",
        headers={"Authorization": f"Bearer {DEMO_API_KEY}"},
        params={"pageSize": 1},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["meta"]["total"] >= 250
