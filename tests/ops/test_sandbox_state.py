"""The sandbox keeps its emulators' state in a data folder across restarts (``make run``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.management.base import CommandError

from integrations.management.commands.sandbox import build_sandbox
from sandbox import google_contacts as google_sandbox
from sandbox import kustomer as kustomer_sandbox
from sandbox.server import Sandbox

SUB = kustomer_sandbox.DEMO_SUBDOMAIN


def start(data_dir: Path, **options: Any) -> Sandbox:
    sandbox = build_sandbox(
        host="127.0.0.1", port=0, apps=["kustomer", "google_contacts"], seed=True,
        data_dir=data_dir, **options,
    )  # fmt: skip
    sandbox.start()
    return sandbox


def kustomer_login(sandbox: Sandbox) -> str:
    response = requests.post(
        f"{sandbox.base_url('kustomer')}/{SUB}/v1/auth/login",
        json={"email": kustomer_sandbox.DEMO_EMAIL, "password": kustomer_sandbox.DEMO_PASSWORD},
        timeout=5,
    )
    response.raise_for_status()
    return str(response.json()["data"]["attributes"]["token"])


def kustomer_customers(sandbox: Sandbox, token: str) -> requests.Response:
    return requests.get(
        f"{sandbox.base_url('kustomer')}/{SUB}/v1/customers",
        params={"pageSize": 1},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def google_tokens(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.emulator("google_contacts").issue_tokens(google_sandbox.DEMO_EMAIL)


def google_refresh(sandbox: Sandbox, refresh_token: str) -> requests.Response:
    return requests.post(
        f"{sandbox.base_url('google_contacts')}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": google_sandbox.DEMO_CLIENT_ID,
            "client_secret": google_sandbox.DEMO_CLIENT_SECRET,
        },
        timeout=5,
    )


def google_create(sandbox: Sandbox, access_token: str, email: str) -> requests.Response:
    return requests.post(
        f"{sandbox.base_url('google_contacts')}/v1/people:createContact",
        params={"personFields": "names,emailAddresses"},
        json={"names": [{"givenName": "Kept"}], "emailAddresses": [{"value": email}]},
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=5,
    )


def emails(sandbox: Sandbox) -> set[str]:
    google = sandbox.emulator("google_contacts")
    return {
        e["value"]
        for c in google.contacts(google_sandbox.DEMO_EMAIL)
        for e in c.get("emailAddresses") or []
    }


def test_it_holds_the_same_records_and_valid_tokens_after_a_stop_and_start(
    tmp_path: Path,
) -> None:
    first = start(tmp_path)
    try:
        token = kustomer_login(first)
        tokens = google_tokens(first)
        assert google_create(first, tokens["access_token"], "kept@example.com").ok
        customer = first.emulator("kustomer").add_customer(SUB, {"name": "Kept Customer"})
        first.emulator("kustomer").changes += 1  # a change made without a request
        customers = {c["id"] for c in first.emulator("kustomer").customers(SUB)}
        contacts = emails(first)
    finally:
        first.stop()

    second = start(tmp_path)
    try:
        assert second.loaded == {"kustomer", "google_contacts"}
        assert {c["id"] for c in second.emulator("kustomer").customers(SUB)} == customers
        assert customer["id"] in customers
        assert emails(second) == contacts
        assert "kept@example.com" in contacts
        listed = kustomer_customers(second, token)
        assert listed.status_code == 200
        assert google_refresh(second, tokens["refresh_token"]).status_code == 200
        assert google_create(second, tokens["access_token"], "again@example.com").ok
    finally:
        second.stop()


def test_it_seeds_the_demo_data_only_when_no_state_was_saved(tmp_path: Path) -> None:
    first = start(tmp_path)
    google = first.emulator("google_contacts")
    contact = google.contacts(google_sandbox.DEMO_EMAIL)[0]
    google.edit_contact(google_sandbox.DEMO_EMAIL, contact["resourceName"],
                        names=[{"givenName": "Renamed", "familyName": "By a user"}])  # fmt: skip
    first.save(force=True)
    first.stop()

    second = start(tmp_path)
    try:
        kept = second.emulator("google_contacts").contact(
            google_sandbox.DEMO_EMAIL, contact["resourceName"]
        )
        assert kept["names"][0]["givenName"] == "Renamed"
    finally:
        second.stop()


def test_it_saves_within_seconds_of_a_request_without_a_clean_stop(tmp_path: Path) -> None:
    sandbox = start(tmp_path)
    try:
        sandbox.start_autosave(interval=0.1)
        tokens = google_tokens(sandbox)
        assert google_create(sandbox, tokens["access_token"], "autosaved@example.com").ok
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            probe = Sandbox(data_dir=tmp_path)
            probe.load()
            if "autosaved@example.com" in emails(probe):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the change was not saved")
    finally:
        sandbox.stop()


def test_it_starts_from_fresh_demo_data_with_reset(tmp_path: Path) -> None:
    first = start(tmp_path)
    tokens = google_tokens(first)
    assert google_create(first, tokens["access_token"], "forgotten@example.com").ok
    first.stop()

    second = start(tmp_path, reset=True)
    try:
        assert second.loaded == set()
        assert "forgotten@example.com" not in emails(second)
        assert google_refresh(second, tokens["refresh_token"]).status_code == 400
    finally:
        second.stop()


def test_it_sets_an_unreadable_state_aside_and_seeds_afresh(tmp_path: Path) -> None:
    (tmp_path / "kustomer.state").write_bytes(b"not a state")

    sandbox = start(tmp_path)
    try:
        assert "kustomer" not in sandbox.loaded
        assert len(sandbox.emulator("kustomer").customers(SUB)) >= 250
        assert (tmp_path / "kustomer.unreadable").read_bytes() == b"not a state"
    finally:
        sandbox.stop()


def test_it_refuses_reset_without_a_data_folder() -> None:
    from django.core.management import call_command

    with pytest.raises(CommandError, match="--data-dir"):
        call_command("sandbox", "--port", "8799", "--reset")


def _serve(data_dir: Path, port: int) -> Any:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "manage.py", "sandbox", "--port", str(port), "--apps", "kustomer",
               "--data-dir", str(data_dir)]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=root,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_it_serves_the_same_records_after_the_command_is_stopped_and_started(
    tmp_path: Path,
) -> None:
    import signal
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/kustomer/{SUB}/v1"
    auth = {"Authorization": f"Bearer {kustomer_sandbox.DEMO_API_KEY}"}
    process = _serve(tmp_path, port)
    try:
        assert process.stdout is not None
        assert "kept" not in process.stdout.readline()
        created = requests.post(
            f"{base}/customers",
            json={"name": "Made Before", "emails": [{"type": "work", "email": "made@example.com"}]},
            headers=auth,
            timeout=5,
        )
        assert created.status_code in (200, 201), created.text
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0

    process = _serve(tmp_path, port)
    try:
        assert process.stdout is not None
        assert "(state kept from the last run)" in process.stdout.readline()
        found = requests.get(
            f"{base}/customers/{created.json()['data']['id']}", headers=auth, timeout=5
        )
        assert found.status_code == 200
        assert found.json()["data"]["attributes"]["name"] == "Made Before"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
