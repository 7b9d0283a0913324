"""Apps that offer both ways to connect an account, through the customer's pages over HTTP
against the sandbox emulators: HubSpot by a private app token typed in beside its install page,
Mailchimp through its consent page beside its API key (the data center read from its OAuth
metadata), and a run syncing with that account."""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

from accounts.models import ConnectedAccount, User, Workspace
from accounts.services import connected_account_upsert
from integrations import tasks
from integrations.models import SyncRun
from integrations.services import connection_create_for_accounts
from sandbox.hubspot import HubSpotEmulator
from sandbox.mailchimp import MailchimpEmulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def hubspot(sandbox_server: Any, settings: Any) -> HubSpotEmulator:
    base = sandbox_server.base_url("hubspot")
    settings.HUBSPOT_BASE_URL = base
    settings.HUBSPOT_OAUTH_AUTHORIZE_URL = f"{base}/oauth/authorize"
    settings.HUBSPOT_OAUTH_CLIENT_ID = "tandem-either-way"
    emulator: HubSpotEmulator = sandbox_server.emulator("hubspot")
    return emulator


@pytest.fixture
def mailchimp(sandbox_server: Any, settings: Any) -> MailchimpEmulator:
    base = sandbox_server.base_url("mailchimp")
    settings.MAILCHIMP_BASE_URL_TEMPLATE = base + "/{dc}/3.0"
    settings.MAILCHIMP_OAUTH_AUTHORIZE_URL = base + "/oauth2/authorize"
    settings.MAILCHIMP_OAUTH_TOKEN_URL = base + "/oauth2/token"
    settings.MAILCHIMP_OAUTH_METADATA_URL = base + "/oauth2/metadata"
    settings.MAILCHIMP_OAUTH_CLIENT_ID = "tandem-either-way"
    settings.MAILCHIMP_OAUTH_CLIENT_SECRET = "either-way-secret"
    emulator: MailchimpEmulator = sandbox_server.emulator("mailchimp")
    emulator.add_client("tandem-either-way", "either-way-secret")
    with emulator.lock:
        emulator.faults.clear()
    return emulator


def _portal(hubspot: HubSpotEmulator) -> tuple[int, str]:
    portal = hubspot.create_portal()
    token = f"pat-na1-{uuid.uuid4().hex[:12]}"
    hubspot.add_private_app(portal.hub_id, token)
    return portal.hub_id, token


def test_the_hubspot_page_offers_its_install_page_and_a_private_app_token(
    client: Client, alice: User, acme: Workspace, hubspot: HubSpotEmulator
) -> None:
    client.force_login(alice)

    page = client.get(reverse("accounts:connected_account_new", args=["hubspot"])).content.decode()

    assert f'href="/connect/hubspot/?workspace={acme.pk}"' in page
    assert "Connect with HubSpot" in page
    assert "Or use a private app access token" in page
    assert 'name="private_app_token"' in page and 'name="refresh_token"' not in page
    listing = client.get(reverse("accounts:connected_accounts")).content.decode()
    assert "Or use a private app access token" in listing


def test_a_hubspot_account_is_connected_by_its_private_app_token(
    client: Client, alice: User, acme: Workspace, hubspot: HubSpotEmulator
) -> None:
    hub_id, token = _portal(hubspot)
    client.force_login(alice)
    before = hubspot.requests["GET /account-info/v3/details"]

    response = client.post(
        reverse("accounts:connected_account_new", args=["hubspot"]), {"private_app_token": token}
    )

    assert response.status_code == 302, response.content.decode()
    assert hubspot.requests["GET /account-info/v3/details"] == before + 1
    account = ConnectedAccount.objects.get(workspace=acme, app="hubspot")
    assert account.label == f"HubSpot account {hub_id}"
    assert account.get_credentials() == {
        "private_app_token": token,
        "app_account_id": str(hub_id),
    }
    for url in (
        reverse("accounts:connected_accounts"),
        reverse("accounts:connected_account_reauthorize", args=[account.pk]),
    ):
        assert token not in client.get(url).content.decode()


def test_a_refused_hubspot_token_is_a_form_error_and_nothing_is_kept(
    client: Client, alice: User, acme: Workspace, hubspot: HubSpotEmulator
) -> None:
    client.force_login(alice)
    wrong = f"pat-na1-{uuid.uuid4().hex[:12]}"

    response = client.post(
        reverse("accounts:connected_account_new", args=["hubspot"]), {"private_app_token": wrong}
    )

    assert response.status_code == 200
    assert "Authentication failed" in response.content.decode()
    assert wrong not in response.content.decode()
    assert not ConnectedAccount.objects.filter(workspace=acme, app="hubspot").exists()


def _connect_mailchimp(client: Client, workspace: Workspace, login: str, **query: Any) -> Any:
    """Consent on the emulator as ``login``, then the callback; the callback's response."""
    start = client.get(
        reverse("connectors:connect", args=["mailchimp"]), {"workspace": workspace.pk, **query}
    )
    assert start.status_code == 302
    authorize_url = str(start["Location"])
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    consent = requests.post(
        authorize_url.split("?")[0],
        data={**params, "login": login, "decision": "approve"},
        allow_redirects=False,
        timeout=5,
    )
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["Location"])
    return client.get(back.path, {k: v[0] for k, v in parse_qs(back.query).items()})


def test_a_mailchimp_account_connected_through_oauth_syncs_on_its_data_center(
    client: Client,
    alice: User,
    acme: Workspace,
    hubspot: HubSpotEmulator,
    mailchimp: MailchimpEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    name = f"t{uuid.uuid4().hex[:12]}"
    login = f"{name}@acme.example"
    account, _ = mailchimp.create_account("us21", name=name, login_email=login)
    newsletter = mailchimp.create_audience(account.user_id, "Newsletter")
    mailchimp.create_audience(account.user_id, "Customers")
    client.force_login(alice)

    response = _connect_mailchimp(client, acme, login)

    assert response.status_code == 302
    connected = ConnectedAccount.objects.get(workspace=acme, app="mailchimp")
    credentials = connected.get_credentials()
    assert set(credentials) == {"access_token", "dc", "email"}
    assert (credentials["dc"], credentials["email"]) == ("us21", login)
    assert connected.label == f"{login} (us21)"
    assert (
        credentials["access_token"]
        not in client.get(reverse("accounts:connected_accounts")).content.decode()
    )
    hub_id, token = _portal(hubspot)
    hubspot.add_contact(hub_id, {"email": "ann@acme.example", "firstname": "Ann"})
    hubspot_account = connected_account_upsert(
        workspace=acme,
        app="hubspot",
        label=f"HubSpot account {hub_id}",
        credentials={"private_app_token": token},
    )
    connection = connection_create_for_accounts(
        workspace=acme,
        account_a=hubspot_account,
        account_b=connected,
        choices={"b": {"list_id": newsletter.id}},
    )

    tasks.sync_connection_task.delay(connection.pk)

    run = SyncRun.objects.filter(connection=connection).latest("started_at", "id")
    assert run.outcome == "success", run.error
    assert {m["email_address"] for m in mailchimp.members(newsletter.id)} == {"ann@acme.example"}
    assert "oauth.metadata" in caplog.text and credentials["access_token"] not in caplog.text


def test_a_mailchimp_api_key_is_still_offered_beside_oauth(
    client: Client, alice: User, acme: Workspace, mailchimp: MailchimpEmulator
) -> None:
    client.force_login(alice)

    page = client.get(
        reverse("accounts:connected_account_new", args=["mailchimp"])
    ).content.decode()

    assert "Connect with Mailchimp" in page and "Or use an API key" in page
    assert 'name="api_key"' in page and 'name="access_token"' not in page


def test_a_hubspot_oauth_account_is_authorized_again_by_a_private_app_token(
    client: Client, alice: User, acme: Workspace, hubspot: HubSpotEmulator
) -> None:
    hub_id, token = _portal(hubspot)
    account = ConnectedAccount.objects.create(workspace=acme, app="hubspot", label="portal")
    account.set_credentials({"refresh_token": "rt-stale", "email": "owner@acme.example"})
    account.save()
    url = reverse("accounts:connected_account_reauthorize", args=[account.pk])
    client.force_login(alice)

    page = client.get(url).content.decode()
    response = client.post(url, {"private_app_token": token})

    assert "Connect with HubSpot again" in page and 'name="private_app_token"' in page
    assert response.status_code == 302, response.content.decode()
    account.refresh_from_db()
    assert account.get_credentials() == {
        "private_app_token": token,
        "app_account_id": str(hub_id),
    }
    assert account.status == ConnectedAccount.Status.OK


def test_a_hubspot_account_is_not_authorized_again_into_another_portal(
    client: Client, alice: User, acme: Workspace, hubspot: HubSpotEmulator
) -> None:
    kept_hub, _ = _portal(hubspot)
    other_hub, other_token = _portal(hubspot)
    kept = {"refresh_token": "rt-kept", "app_account_id": str(kept_hub)}
    account = ConnectedAccount.objects.create(workspace=acme, app="hubspot", label="portal")
    account.set_credentials(kept)
    account.save()
    client.force_login(alice)

    response = client.post(
        reverse("accounts:connected_account_reauthorize", args=[account.pk]),
        {"private_app_token": other_token},
    )

    assert response.status_code == 200
    assert (
        f"HubSpot: these credentials reach account {other_hub}, but this account is {kept_hub}."
        in response.content.decode()
    )
    account.refresh_from_db()
    assert account.get_credentials() == kept


def test_a_mailchimp_api_key_account_is_authorized_again_through_oauth(
    client: Client, alice: User, acme: Workspace, mailchimp: MailchimpEmulator
) -> None:
    name = f"t{uuid.uuid4().hex[:12]}"
    login = f"{name}@acme.example"
    found, key = mailchimp.create_account("us4", name=name, login_email=login)
    audience = mailchimp.create_audience(found.user_id, "Newsletter")
    account = connected_account_upsert(
        workspace=acme, app="mailchimp", label="Newsletter", credentials={"api_key": key}
    )
    client.force_login(alice)

    response = _connect_mailchimp(client, acme, login, account=account.pk)

    assert response.status_code == 302

    account.refresh_from_db()
    credentials = account.get_credentials()
    assert account.label == "Newsletter"
    assert set(credentials) == {"access_token", "dc", "email", "list_id"}
    assert (credentials["dc"], credentials["list_id"]) == ("us4", audience.id)


def test_the_hubspot_app_page_names_both_ways_and_no_oauth_token(client: Client) -> None:
    page = client.get(reverse("integrations:app_detail", args=["hubspot"])).content.decode()

    assert "OAuth 2.0" in page and "Or you give Tandem:" in page
    assert "Private app access token" in page and "Refresh token" not in page
    listing = client.get(reverse("integrations:apps")).content.decode()
    assert "Sign in with HubSpot, or type in a key" in listing
    assert "Sign in with Google Contacts ·" in " ".join(listing.split())
