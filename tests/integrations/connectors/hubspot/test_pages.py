"""HubSpot on the pages: its app page from what the connector declares, the wizard offering it,
and connecting an account through HubSpot's install page (the kit's connect views) against the
emulator."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from django.test import Client
from django.urls import reverse

from accounts.models import ConnectedAccount, User, Workspace
from sandbox.hubspot import HubSpotEmulator
from tests.integrations.connectors.hubspot.conftest import HUB


def test_it_describes_hubspot_from_what_its_connector_declares(client: Client, db: None) -> None:
    page = client.get(reverse("integrations:app_detail", args=["hubspot"])).content.decode()
    assert "OAuth 2.0" in page
    # Its install page, or a private app token typed in; never the OAuth tokens.
    assert "Refresh token" not in page and "Private app access token" in page
    assert "Is in list" in page and "Lifecycle stage is" in page
    assert "Add a list" in page and "Remove a list" in page
    assert "Deletions: supported" in page
    assert "Google Contacts" in page


def test_it_offers_hubspot_in_the_connection_wizard(
    client: Client, alice: User, acme: Workspace
) -> None:
    client.force_login(alice)
    page = client.get(reverse("integrations:connection_new")).content.decode()
    assert 'value="hubspot"' in page and "HubSpot" in page


def test_it_connects_an_account_through_hubspots_install_page(
    client: Client, alice: User, acme: Workspace, emulator: HubSpotEmulator, settings: Any
) -> None:
    client.force_login(alice)
    start = client.get("/connect/hubspot/", {"workspace": acme.pk})
    assert start.status_code == 302
    authorize_url = str(start["Location"])
    query = parse_qs(urlsplit(authorize_url).query)
    assert authorize_url.startswith(settings.HUBSPOT_OAUTH_AUTHORIZE_URL)
    assert "crm.objects.contacts.write" in query["scope"][0].split()
    assert "crm.lists.write" in query["scope"][0].split()
    params = {k: v[0] for k, v in query.items()}
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200 and "Connect app" in page.text
    answer = requests.post(
        authorize_url.split("?")[0],
        data={**params, "hub_id": str(HUB), "user": "owner@acme.example", "decision": "approve"},
        allow_redirects=False,
        timeout=5,
    )
    callback = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}

    response = client.get("/connect/hubspot/callback/", callback)

    assert response.status_code == 302 and response["Location"] == "/accounts/"
    account = ConnectedAccount.objects.get(workspace=acme, app="hubspot")
    assert "acme.hubspot.example" in account.label
    credentials = account.get_credentials()
    assert credentials["refresh_token"] and credentials["access_token"]
    assert credentials["email"] == "owner@acme.example"


def test_the_admin_stores_a_private_app_token_write_only(
    client: Client, staff: User, acme: Workspace
) -> None:
    client.force_login(staff)
    add = reverse("admin:accounts_connectedaccount_add")
    assert "cred_hubspot__private_app_token" in client.get(add).content.decode()
    response = client.post(
        add,
        {
            "workspace": acme.pk,
            "app": "hubspot",
            "label": "Acme HubSpot",
            "status": "ok",
            "last_error": "",
            "cred_hubspot__private_app_token": "pat-na1-secret-123456",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account = ConnectedAccount.objects.get(app="hubspot")
    assert account.get_credentials()["private_app_token"] == "pat-na1-secret-123456"
    page = client.get(reverse("admin:accounts_connectedaccount_change", args=[account.pk]))
    assert "pat-na1-secret-123456" not in page.content.decode()


def test_the_accounts_page_offers_to_connect_hubspot_through_its_install_page(
    client: Client, alice: User, acme: Workspace
) -> None:
    client.force_login(alice)
    page = client.get(reverse("accounts:connected_accounts")).content.decode()
    assert "/connect/hubspot/" in page and "HubSpot" in page
