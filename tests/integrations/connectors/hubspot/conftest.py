from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from integrations.connectors.http import HttpClient
from integrations.connectors.hubspot.connector import HubSpotConnector
from sandbox.hubspot import HubSpotEmulator, add_demo_properties
from sandbox.server import Sandbox

HUB = 4242
TOKEN = "pat-na1-test"


@pytest.fixture(scope="module")
def hubspot_sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox(slugs=["hubspot"]).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def emulator(hubspot_sandbox: Sandbox, settings: Any) -> HubSpotEmulator:
    base = hubspot_sandbox.base_url("hubspot")
    settings.HUBSPOT_BASE_URL = base
    settings.HUBSPOT_OAUTH_AUTHORIZE_URL = f"{base}/oauth/authorize"
    settings.HUBSPOT_OAUTH_TOKEN_URL = f"{base}/oauth/v1/token"
    settings.HUBSPOT_OAUTH_CLIENT_ID = "tandem-test"
    settings.HUBSPOT_OAUTH_CLIENT_SECRET = "tandem-test-secret"
    emulator: HubSpotEmulator = hubspot_sandbox.emulator("hubspot")
    emulator.reset()
    emulator.create_portal(hub_id=HUB, domain="acme.hubspot.example")
    emulator.add_private_app(HUB, TOKEN)
    emulator.add_client("tandem-test", "tandem-test-secret")
    add_demo_properties(emulator, HUB)
    return emulator


def http() -> HttpClient:
    return HttpClient(app="hubspot", sleep=lambda _: None)


@pytest.fixture
def connector(emulator: HubSpotEmulator) -> HubSpotConnector:
    return HubSpotConnector({"private_app_token": TOKEN}, http=http())


@pytest.fixture
def saved() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def oauth_connector(emulator: HubSpotEmulator, saved: list[dict[str, Any]]) -> HubSpotConnector:
    tokens = emulator.issue_tokens(HUB, "owner@acme.example")
    return HubSpotConnector(
        {"refresh_token": tokens["refresh_token"]}, http=http(), on_credentials_changed=saved.append
    )
