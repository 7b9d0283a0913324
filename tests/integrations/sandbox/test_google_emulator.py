from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from integrations.sandbox.google_contacts import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_EMAIL,
    DEMO_REFRESH_TOKEN,
    GoogleContactsEmulator,
)
from integrations.sandbox.server import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    server = Sandbox(slugs=["google_contacts"]).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def base(sandbox: Sandbox) -> str:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    emulator.reset()
    return sandbox.base_url("google_contacts")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_it_seeds_the_demo_book_through_the_control_api(base: str) -> None:
    seeded = requests.post(f"{base}/_sandbox/seed", json={}, timeout=5).json()
    people = requests.get(
        f"{base}/_sandbox/contacts", params={"email": DEMO_EMAIL}, timeout=5
    ).json()["people"]

    assert seeded["refresh_token"] == DEMO_REFRESH_TOKEN and seeded["contacts"] == len(people)
    assert 200 <= len(people) <= 240
    assert sum(1 for p in people if not p.get("emailAddresses")) == 10
    assert any(p["names"][0]["givenName"] == "Jon" for p in people)


def test_it_honours_the_demo_refresh_token_after_a_restart(base: str) -> None:
    answer = requests.post(
        f"{base}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
        timeout=5,
    )

    me = requests.get(
        f"{base}/v1/people/me",
        params={"personFields": "emailAddresses"},
        headers=_bearer(answer.json()["access_token"]),
        timeout=5,
    )
    assert me.json()["emailAddresses"][0]["value"] == DEMO_EMAIL


def test_it_refuses_a_wrong_client_secret(base: str) -> None:
    answer = requests.post(
        f"{base}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": "wrong",
        },
        timeout=5,
    )

    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def test_it_answers_an_expired_sync_token_with_failed_precondition(base: str) -> None:
    token = requests.post(f"{base}/_sandbox/tokens", json={"email": "a@x.example"}, timeout=5)
    headers = _bearer(token.json()["access_token"])
    params: dict[str, Any] = {"personFields": "names", "requestSyncToken": "true"}
    first = requests.get(
        f"{base}/v1/people/me/connections", params=params, headers=headers, timeout=5
    )
    requests.post(f"{base}/_sandbox/faults", json={"sync_token_ttl": 0}, timeout=5)

    expired = requests.get(
        f"{base}/v1/people/me/connections",
        params={**params, "syncToken": first.json()["nextSyncToken"]},
        headers=headers,
        timeout=5,
    )

    error = expired.json()["error"]
    assert expired.status_code == 400 and error["status"] == "FAILED_PRECONDITION"
    assert error["details"][0]["reason"] == "EXPIRED_SYNC_TOKEN"


def test_it_refuses_an_update_with_a_stale_etag(base: str) -> None:
    token = requests.post(f"{base}/_sandbox/tokens", json={"email": "a@x.example"}, timeout=5)
    headers = _bearer(token.json()["access_token"])
    created = requests.post(
        f"{base}/v1/people:createContact",
        params={"personFields": "names,metadata"},
        json={"names": [{"givenName": "Ann"}]},
        headers=headers,
        timeout=5,
    ).json()
    body = {"etag": "%stale", "names": [{"givenName": "Anna"}]}

    answer = requests.patch(
        f"{base}/v1/{created['resourceName']}:updateContact",
        params={"updatePersonFields": "names"},
        json=body,
        headers=headers,
        timeout=5,
    )

    assert answer.status_code == 400 and answer.json()["error"]["status"] == "FAILED_PRECONDITION"


def test_it_hides_writes_from_listings_until_they_propagate(base: str, sandbox: Sandbox) -> None:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    emulator.propagation_delay = 60
    headers = _bearer(emulator.issue_tokens("a@x.example")["access_token"])
    requests.post(
        f"{base}/v1/people:batchCreateContacts",
        json={"contacts": [{"contactPerson": {"names": [{"givenName": "Ann"}]}}]},
        headers=headers,
        timeout=5,
    )
    params = {"personFields": "names"}

    before = requests.get(
        f"{base}/v1/people/me/connections", params=params, headers=headers, timeout=5
    )
    emulator.advance(61)
    after = requests.get(
        f"{base}/v1/people/me/connections", params=params, headers=headers, timeout=5
    )

    assert before.json()["connections"] == [] and len(after.json()["connections"]) == 1
