"""The HubSpot emulator's app webhooks over HTTP: settings and subscriptions with the developer
key, v3-signed deliveries of a portal's contact events, only the properties that changed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from sandbox.hubspot.webhooks import HubSpotWebhookEmulator, signature_v3
from tests.integrations.webhooks.conftest import Receiver

APP = "7002"
SECRET = "app-secret"


@dataclass
class App:
    hubspot: HubSpotWebhookEmulator
    base: str
    key: str
    hub_id: int
    url: str

    def call(self, method: str, path: str, body: Any = None, key: str = "") -> requests.Response:
        return requests.request(
            method,
            f"{self.base}/webhooks/v3/{APP}/{path}",
            params={"hapikey": key or self.key},
            json=body,
            timeout=5,
        )

    def idle(self) -> bool:
        return self.hubspot.webhook_sender.wait_idle(5, self.url)

    def events(self, receiver: Receiver) -> list[dict[str, Any]]:
        return [e for _, body in receiver.got for e in json.loads(body)]


@pytest.fixture
def app(sandbox_server: Any, receiver: Receiver) -> Iterator[App]:
    hubspot: HubSpotWebhookEmulator = sandbox_server.emulator("hubspot")
    key = f"dev-{uuid.uuid4().hex}"
    hubspot.add_webhook_app(int(APP), key, SECRET)
    portal = hubspot.create_portal()
    hubspot.issue_tokens(portal.hub_id)  # the portal installs the app
    found = App(hubspot, sandbox_server.base_url("hubspot"), key, portal.hub_id, receiver.url)
    assert found.call("PUT", "settings", {"targetUrl": receiver.url}).status_code == 200
    for body in (
        {"eventType": "contact.creation"},
        {"eventType": "contact.deletion"},
        {"eventType": "contact.propertyChange", "propertyName": "lastname"},
    ):
        assert found.call("POST", "subscriptions", body).status_code == 201
    yield found
    found.idle()
    hubspot.webhook_sender.forget(receiver.url)
    hubspot.webhook_apps.pop(APP, None)


def test_it_refuses_another_developer_key(app: App) -> None:
    assert app.call("GET", "settings", key="not-the-key").status_code == 401


def test_it_signs_each_delivery_with_the_apps_secret(app: App, receiver: Receiver) -> None:
    app.hubspot.add_contact(app.hub_id, {"email": "a@ex.com", "lastname": "Lee"})
    assert app.idle()
    headers, body = receiver.got[0]
    expected = signature_v3(SECRET, "POST", app.url, body, headers["X-Hubspot-Request-Timestamp"])
    assert headers["X-Hubspot-Signature-V3"] == expected


def test_it_sends_a_creation_and_only_the_properties_that_change(
    app: App, receiver: Receiver
) -> None:
    contact = app.hubspot.add_contact(app.hub_id, {"email": "a@ex.com", "lastname": "Lee"})
    app.hubspot.edit_contact(app.hub_id, contact["id"], {"firstname": "Ann"})
    app.hubspot.edit_contact(app.hub_id, contact["id"], {"lastname": "Park"})
    app.hubspot.archive_contact(app.hub_id, contact["id"])
    assert app.idle()
    assert [(e["subscriptionType"], e.get("propertyValue")) for e in app.events(receiver)] == [
        ("contact.creation", None),
        ("contact.propertyChange", "Lee"),
        ("contact.propertyChange", "Park"),
        ("contact.deletion", None),
    ]
    assert {e["portalId"] for e in app.events(receiver)} == {app.hub_id}
    assert {e["changeSource"] for e in app.events(receiver)} == {"CRM_UI"}


def test_it_stops_a_subscription_once_deleted(app: App, receiver: Receiver) -> None:
    listed = app.call("GET", "subscriptions").json()["results"]
    (creation,) = [s for s in listed if s["eventType"] == "contact.creation"]
    assert app.call("DELETE", f"subscriptions/{creation['id']}").status_code == 204
    app.hubspot.add_contact(app.hub_id, {"email": "b@ex.com"})
    assert app.idle()
    assert [e["subscriptionType"] for e in app.events(receiver)] == []
