"""``manage.py sandbox`` (and ``python -m sandbox``) serves the seeded emulators and says
where, one line per app; without the sandbox installed it says what to install."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError

from sandbox.kustomer import DEMO_API_KEY, DEMO_SUBDOMAIN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=[["manage.py", "sandbox"], ["-m", "sandbox"]], ids=["manage", "module"])
def served(request: pytest.FixtureRequest) -> Iterator[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    # Port 0 is refused (a port the user can reach must be named): take a free one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    process = subprocess.Popen(
        [sys.executable, *request.param, "--port", port, "--apps", "kustomer"],
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


@pytest.mark.parametrize("missing", ["sandbox.server", "werkzeug"])
def test_it_says_what_to_install_when_the_sandbox_is_missing(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    # As in an installed product (pip install .): no sandbox package, or no werkzeug.
    for name in [n for n in sys.modules if n == missing or n.startswith(missing + ".")]:
        monkeypatch.delitem(sys.modules, name)
    for name in [n for n in sys.modules if n.startswith("sandbox.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, missing, None)

    with pytest.raises(CommandError) as raised:
        call_command("sandbox", "--port", "8799")

    message = str(raised.value)
    assert "not installed" in message and "pip install -e '.[dev]'" in message
    assert missing in message
