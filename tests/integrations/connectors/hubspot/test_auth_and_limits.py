"""Who the HubSpot connector is, how it keeps its OAuth token fresh, and how it honours HubSpot's
rate limits through the HTTP seam (its shared gate), over HTTP against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.connectors.base import ConnectorError
from integrations.connectors.http import HttpClient, RateGate
from integrations.connectors.hubspot.connector import HubSpotConnector
from sandbox.hubspot import HubSpotEmulator
from tests.integrations.connectors.hubspot.conftest import HUB, TOKEN


def test_it_verifies_a_private_app_token_with_the_account_details(
    connector: HubSpotConnector,
) -> None:
    info = connector.check()
    assert info.label == f"HubSpot account {HUB}"
    assert info.identity == ""


def test_it_names_who_installed_an_oauth_token(oauth_connector: HubSpotConnector) -> None:
    info = oauth_connector.check()
    assert info.identity == "owner@acme.example"
    assert "acme.hubspot.example" in info.label


def test_it_refreshes_an_expired_access_token_and_hands_it_over(
    emulator: HubSpotEmulator, oauth_connector: HubSpotConnector, saved: list[dict[str, Any]]
) -> None:
    oauth_connector.check()
    emulator.expire_access_tokens()
    oauth_connector.credentials["expires_at"] = 9_999_999_999  # looks fresh: only a 401 tells
    assert oauth_connector.find_by_emails(["nobody@acme.example"]) == {}
    assert len(saved) == 2 and saved[-1]["access_token"] != saved[0]["access_token"]


def test_it_asks_to_authorize_again_when_the_refresh_token_is_revoked(
    emulator: HubSpotEmulator, oauth_connector: HubSpotConnector
) -> None:
    emulator.revoke(str(oauth_connector.credentials["refresh_token"]))
    with pytest.raises(ConnectorError) as caught:
        oauth_connector.check()
    assert caught.value.reauthorize
    assert str(oauth_connector.credentials["refresh_token"]) not in caught.value.message


def test_it_refuses_credentials_without_any_token() -> None:
    with pytest.raises(ValueError, match="private app access token"):
        HubSpotConnector.validate_credentials({})


def test_it_closes_the_shared_gate_when_the_ten_second_window_is_spent(
    emulator: HubSpotEmulator,
) -> None:
    emulator.set_limits(HUB, burst=2)
    http = HttpClient(app="hubspot", gate_key="hubspot:limits", sleep=lambda _: None)
    connector = HubSpotConnector({"private_app_token": TOKEN}, http=http)
    connector.check()
    assert RateGate("hubspot:limits").blocked_for() == 0
    connector.check()  # the window's last request: Remaining 0
    assert 9 < RateGate("hubspot:limits").blocked_for() <= 10


def test_it_waits_out_a_429_and_goes_on(emulator: HubSpotEmulator) -> None:
    waits: list[float] = []
    http = HttpClient(app="hubspot", gate_key="hubspot:429", sleep=waits.append, max_wait=60)
    connector = HubSpotConnector({"private_app_token": TOKEN}, http=http)
    emulator.fail_next(1, 429)
    assert connector.check().label == f"HubSpot account {HUB}"
    # TEN_SECONDLY_ROLLING: the seam waits the window (plus a little jitter).
    assert waits and 10 <= waits[0] < 11.1


def test_it_refuses_a_call_the_token_has_no_scope_for(emulator: HubSpotEmulator) -> None:
    emulator.add_private_app(HUB, "read-only", frozenset({"crm.objects.contacts.read"}))
    connector = HubSpotConnector(
        {"private_app_token": "read-only"}, http=HttpClient(app="hubspot", sleep=lambda _: None)
    )
    with pytest.raises(ConnectorError) as caught:
        connector.fields()
    assert caught.value.status == 403 and caught.value.permanent
