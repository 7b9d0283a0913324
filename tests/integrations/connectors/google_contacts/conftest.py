from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from integrations.connectors.google_contacts.connector import GoogleContactsConnector
from integrations.connectors.http import HttpClient
from sandbox.google_contacts import GoogleContactsEmulator
from sandbox.server import Sandbox

EMAIL = "owner@acme.example"


@pytest.fixture(scope="module")
def google_sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox(slugs=["google_contacts"]).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def emulator(google_sandbox: Sandbox, settings: Any) -> GoogleContactsEmulator:
    base = google_sandbox.base_url("google_contacts")
    settings.GOOGLE_OAUTH_AUTHORIZE_URL = f"{base}/o/oauth2/v2/auth"
    settings.GOOGLE_OAUTH_TOKEN_URL = f"{base}/token"
    settings.GOOGLE_PEOPLE_BASE_URL = base
    settings.GOOGLE_OAUTH_CLIENT_ID = "tandem-test"
    settings.GOOGLE_OAUTH_CLIENT_SECRET = "tandem-test-secret"
    emulator: GoogleContactsEmulator = google_sandbox.emulator("google_contacts")
    emulator.reset()
    emulator.add_client("tandem-test", "tandem-test-secret")
    emulator.add_user(EMAIL)
    return emulator


@pytest.fixture
def saved() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def connector(
    emulator: GoogleContactsEmulator, saved: list[dict[str, Any]]
) -> GoogleContactsConnector:
    tokens = emulator.issue_tokens(EMAIL)
    credentials = {
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": 9_999_999_999,
    }
    return GoogleContactsConnector(
        credentials,
        http=HttpClient(app="google_contacts", sleep=lambda _: None),
        on_credentials_changed=saved.append,
    )


def person(first: str, last: str, *emails: str, **more: Any) -> dict[str, Any]:
    return {
        "names": [{"givenName": first, "familyName": last}],
        "emailAddresses": [{"value": e} for e in emails],
        **more,
    }
