"""The Connected accounts page says how each account's changes reach Tandem, from the facts:
in real time when its app holds Tandem's receiver, else by polling and why."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User, Workspace
from integrations.webhooks.models import WebhookSubscription
from tests.factories import ConnectedAccountFactory


@pytest.fixture
def hubspot_app(settings: Any) -> None:
    """Tandem's HubSpot app configured for webhooks, and a public address."""
    settings.TANDEM_PUBLIC_URL = "https://tandem.example.com"
    settings.HUBSPOT_APP_ID = "123456"
    settings.HUBSPOT_DEVELOPER_API_KEY = "developer-key"
    settings.HUBSPOT_OAUTH_CLIENT_SECRET = "client-secret"


def page(client: Client, user: User) -> str:
    client.force_login(user)
    return client.get(reverse("accounts:connected_accounts")).content.decode()


def test_a_hubspot_account_with_a_private_apps_token_is_said_to_sync_by_polling(
    client: Client, alice: User, acme: Workspace, hubspot_app: None
) -> None:
    ConnectedAccountFactory(
        workspace=acme, app="hubspot", label="Portal 1", creds={"private_app_token": "pat-na1-x"}
    )
    assert (
        "Changes are found by polling: HubSpot sends webhooks only to apps installed through "
        "OAuth, and this account is connected with a private app&#x27;s token."
    ) in page(client, alice)


def test_a_hubspot_account_whose_portal_holds_the_receiver_is_said_to_sync_in_real_time(
    client: Client, alice: User, acme: Workspace, hubspot_app: None
) -> None:
    account = ConnectedAccountFactory(
        workspace=acme, app="hubspot", label="Portal 2", creds={"refresh_token": "r"}
    )
    WebhookSubscription.objects.create(account=account, app="hubspot", key="k", remote_id="2")
    text = page(client, alice)
    assert "Changes arrive in real time" in text
    assert "found by polling" not in text


def test_an_account_is_said_to_sync_by_polling_without_a_public_address(
    client: Client, alice: User, acme: Workspace, settings: Any
) -> None:
    settings.TANDEM_PUBLIC_URL = ""
    ConnectedAccountFactory(
        workspace=acme, app="kustomer", label="acme", creds={"subdomain": "acme", "api_key": "k"}
    )
    assert (
        "Changes are found by polling: this Tandem has no public address for webhooks."
    ) in page(client, alice)


def test_an_account_of_an_app_without_notifications_is_said_to_sync_by_polling(
    client: Client, alice: User, acme: Workspace, hubspot_app: None
) -> None:
    ConnectedAccountFactory(
        workspace=acme, app="google_contacts", label="ann@gmail.example", creds={}
    )
    assert ("Changes are found by polling: Google Contacts sends no change notifications.") in page(
        client, alice
    )
