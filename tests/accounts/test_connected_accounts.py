"""The connected accounts pages: list, add (checked against the Kustomer sandbox), re-authorize,
disconnect; scoped to the workspace, managers only, no secret ever shown."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.core import serializers
from django.test import Client

from accounts.models import ConnectedAccount, Membership, User, Workspace
from integrations.models import Connection
from sandbox.kustomer import ALL_ROLES, KustomerEmulator
from tests.factories import ConnectedAccountFactory, ConnectionFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "ops@acme.example"
PASSWORD = "canary-Kp4ss-91f3"
API_KEY = "canary-key-5d2e8a"


@pytest.fixture
def kustomer(sandbox_server: Any, settings: Any) -> KustomerEmulator:
    settings.KUSTOMER_BASE_URL_TEMPLATE = sandbox_server.base_url("kustomer") + "/{subdomain}"
    emulator: KustomerEmulator = sandbox_server.emulator("kustomer")
    return emulator


@pytest.fixture
def org(kustomer: KustomerEmulator) -> str:
    """A fresh Kustomer org on the sandbox with a login user and an API key."""
    subdomain = f"t{uuid.uuid4().hex[:12]}"
    kustomer.create_org(subdomain, users=[(LOGIN, PASSWORD)], api_keys={API_KEY: ALL_ROLES})
    return subdomain


@pytest.fixture
def alice_client(client: Client, alice: User, acme: Workspace) -> Client:
    client.force_login(alice)
    return client


@pytest.fixture
def member_client(client: Client, acme: Workspace) -> Client:
    dan = UserFactory(email="dan@acme.example")
    Membership.objects.create(workspace=acme, user=dan, role="member")
    client.force_login(dan)
    return client


def _add(client: Client, subdomain: str, **fields: str) -> Any:
    data = {"subdomain": subdomain, "email": LOGIN, "password": PASSWORD, **fields}
    return client.post("/accounts/new/kustomer/", data)


def _rows() -> str:
    return serializers.serialize(
        "json",
        [*ConnectedAccount.objects.order_by("pk"), *Connection.objects.order_by("pk")],
    )


# ---- the list ---------------------------------------------------------------------------------


def test_it_lists_the_workspaces_accounts_with_their_status_in_words(
    alice_client: Client, acme: Workspace, globex: Workspace
) -> None:
    ok = ConnectedAccountFactory(workspace=acme, app="kustomer", label="acme.kustomerapp.com")
    failed = ConnectedAccountFactory(
        workspace=acme,
        app="google_contacts",
        label="sales@acme.example",
        status="needs_reauth",
        last_error="Google Contacts: the grant was revoked.",
    )
    ConnectedAccountFactory(
        workspace=acme, app="kustomer", label="broken", status="error", last_error="Boom 500."
    )
    ConnectedAccountFactory(workspace=globex, label="globex-secret-org")
    ConnectionFactory(workspace=acme, account_a=ok, account_b=failed, name="Support sync")

    html = alice_client.get("/accounts/").content.decode()

    assert "acme.kustomerapp.com" in html and "sales@acme.example" in html
    assert ">OK<" in html and ">Authentication failed<" in html and ">Error<" in html
    assert "the grant was revoked" in html and "Re-authorize the account" in html
    assert "Boom 500." in html
    assert html.count("Support sync") == 2
    assert "globex-secret-org" not in html


def test_it_offers_every_app_with_oauth_for_google(alice_client: Client, acme: Workspace) -> None:
    html = alice_client.get("/accounts/").content.decode()

    assert 'href="/accounts/new/kustomer/"' in html
    assert f'href="/connect/google_contacts/?workspace={acme.pk}"' in html
    assert "Connect Google Contacts" in html


def test_it_hides_the_add_buttons_from_a_member(member_client: Client) -> None:
    html = member_client.get("/accounts/").content.decode()

    assert "/accounts/new/kustomer/" not in html and "Connect Google Contacts" not in html
    assert "Only owners and admins" in html


def test_it_sends_a_visitor_to_log_in(client: Client) -> None:
    response = client.get("/accounts/")

    assert response.status_code == 302 and response["Location"].startswith("/login/")


# ---- adding -----------------------------------------------------------------------------------


def test_it_shows_the_form_the_connector_declares_with_secret_inputs(
    alice_client: Client,
) -> None:
    html = alice_client.get("/accounts/new/kustomer/").content.decode()

    for name in ("subdomain", "email", "password", "api_key"):
        assert f'<label for="id_{name}"' in html
    assert re.search(r'<input type="password" name="password"', html)
    assert re.search(r'<input type="password" name="api_key"', html)
    assert "&lt;subdomain&gt;.kustomerapp.com" in html


def test_it_adds_a_kustomer_account_verified_against_the_app(
    alice_client: Client, acme: Workspace, org: str
) -> None:
    response = _add(alice_client, org)

    assert response.status_code == 302 and response["Location"] == "/accounts/"
    account = ConnectedAccount.objects.get(workspace=acme)
    assert account.app == "kustomer" and account.label == LOGIN and account.status == "ok"
    assert account.last_verified_at is not None
    credentials = account.get_credentials()
    assert credentials["subdomain"] == org and credentials["password"] == PASSWORD
    assert credentials["token"]  # the sign-in's token is kept for the first run


def test_it_adds_a_kustomer_account_with_an_api_key(
    alice_client: Client, acme: Workspace, org: str
) -> None:
    response = alice_client.post(
        "/accounts/new/kustomer/", {"subdomain": org.upper(), "api_key": API_KEY}
    )

    assert response.status_code == 302
    account = ConnectedAccount.objects.get(workspace=acme)
    assert account.label == f"{org}.kustomerapp.com"
    assert account.get_credentials()["subdomain"] == org


def test_it_says_authentication_failed_for_a_wrong_password_and_stores_nothing(
    alice_client: Client, org: str
) -> None:
    response = _add(alice_client, org, password="wrong-password-0")

    html = response.content.decode()
    assert response.status_code == 200 and "Authentication failed" in html
    assert 'class="form-errors"' in html
    assert not ConnectedAccount.objects.exists()


def test_it_shows_an_unknown_subdomain_beside_the_subdomain(
    alice_client: Client, kustomer: KustomerEmulator
) -> None:
    response = _add(alice_client, f"nosuch{uuid.uuid4().hex[:8]}")

    html = response.content.decode()
    assert "unknown subdomain" in html
    assert re.search(r'id="id_subdomain".*?class="errorlist".*?unknown subdomain', html, re.S)
    assert not ConnectedAccount.objects.exists()


@pytest.mark.parametrize(
    ("subdomain", "problem"),
    [
        ("evil.com/", "has a slash"),
        ("169.254.169.254", "is an address"),
        ("acme.kustomerapp.com", "has a dot"),
        ("acme:8080", "has a port"),
        ("user@acme", "has an @"),
    ],
)
def test_it_refuses_a_hostile_subdomain_before_any_request(
    alice_client: Client, kustomer: KustomerEmulator, subdomain: str, problem: str
) -> None:
    before = kustomer.request_count

    response = _add(alice_client, subdomain)

    html = response.content.decode()
    assert re.search(r'id="id_subdomain".*?class="errorlist".*?' + re.escape(problem), html, re.S)
    assert kustomer.request_count == before
    assert not ConnectedAccount.objects.exists()


def test_it_needs_a_password_or_an_api_key(alice_client: Client, org: str) -> None:
    response = alice_client.post("/accounts/new/kustomer/", {"subdomain": org, "email": LOGIN})

    assert b"Kustomer needs either an API key, or an email and a password." in response.content
    assert not ConnectedAccount.objects.exists()


def test_it_requires_the_subdomain(alice_client: Client) -> None:
    response = alice_client.post("/accounts/new/kustomer/", {"api_key": API_KEY})

    html = response.content.decode()
    assert re.search(r'id="id_subdomain".*?This field is required', html, re.S)
    assert not ConnectedAccount.objects.exists()


def test_it_returns_to_a_safe_next_url_after_adding(alice_client: Client, org: str) -> None:
    response = alice_client.post(
        "/accounts/new/kustomer/?next=/connections/new/accounts/",
        {"subdomain": org, "api_key": API_KEY, "next": "/connections/new/accounts/"},
    )

    assert response["Location"] == "/connections/new/accounts/"


def test_it_ignores_a_next_url_on_another_host(alice_client: Client, org: str) -> None:
    response = alice_client.post(
        "/accounts/new/kustomer/",
        {"subdomain": org, "api_key": API_KEY, "next": "//evil.example/steal"},
    )

    assert response["Location"] == "/accounts/"


def test_it_starts_oauth_for_google_contacts_keeping_next(
    alice_client: Client, acme: Workspace
) -> None:
    html = alice_client.get(
        "/accounts/new/google_contacts/", {"next": "/connections/new/accounts/"}
    ).content.decode()

    assert "Connect Google Contacts" in html
    assert (
        f'href="/connect/google_contacts/?workspace={acme.pk}&amp;'
        'next=%2Fconnections%2Fnew%2Faccounts%2F"' in html
    )
    assert 'name="refresh_token"' not in html


def test_it_answers_404_for_an_unknown_app(alice_client: Client) -> None:
    assert alice_client.get("/accounts/new/nosuchapp/").status_code == 404


def test_it_refuses_a_member_adding_an_account(member_client: Client, org: str) -> None:
    response = _add(member_client, org)

    assert response.status_code == 403 and not ConnectedAccount.objects.exists()


# ---- re-authorizing ---------------------------------------------------------------------------


@pytest.fixture
def failed_account(acme: Workspace, org: str) -> ConnectedAccount:
    return ConnectedAccountFactory(
        workspace=acme,
        app="kustomer",
        label=LOGIN,
        status="needs_reauth",
        last_error="Kustomer: the sign-in token was refused (401).",
        creds={"subdomain": org, "email": LOGIN, "password": "old-password"},
    )


def test_it_prefills_the_reauthorize_form_without_any_secret(
    alice_client: Client, failed_account: ConnectedAccount, org: str
) -> None:
    html = alice_client.get(f"/accounts/{failed_account.pk}/reauthorize/").content.decode()

    assert f'value="{org}"' in html and f'value="{LOGIN}"' in html
    assert "old-password" not in html
    assert "Authentication failed" in html


def test_it_reauthorizes_an_account_and_resumes_the_connections_it_stopped(
    alice_client: Client, acme: Workspace, failed_account: ConnectedAccount, org: str
) -> None:
    stopped = ConnectionFactory(
        workspace=acme, account_a=failed_account, status="needs_reauth", status_reason="401"
    )
    errored = ConnectionFactory(
        workspace=acme,
        account_a=failed_account,
        status="error",
        status_reason=failed_account.last_error,
    )
    paused = ConnectionFactory(workspace=acme, account_a=failed_account, status="paused")
    other_failing = ConnectionFactory(
        workspace=acme,
        account_a=failed_account,
        account_b=ConnectedAccountFactory(
            workspace=acme, app="google_contacts", status="needs_reauth"
        ),
        status="needs_reauth",
    )

    response = alice_client.post(
        f"/accounts/{failed_account.pk}/reauthorize/",
        {"subdomain": org, "email": LOGIN, "password": PASSWORD},
    )

    assert response.status_code == 302
    failed_account.refresh_from_db()
    assert failed_account.status == "ok" and failed_account.last_error == ""
    assert failed_account.get_credentials()["password"] == PASSWORD
    statuses = {c.pk: c.status for c in Connection.objects.all()}
    assert statuses[stopped.pk] in ("active", "scanning")
    assert statuses[errored.pk] in ("active", "scanning")
    assert statuses[paused.pk] == "paused"
    assert statuses[other_failing.pk] == "needs_reauth"


def test_it_keeps_a_failed_account_as_it_was_when_reauthorizing_fails(
    alice_client: Client, failed_account: ConnectedAccount, org: str
) -> None:
    before = _rows()

    response = alice_client.post(
        f"/accounts/{failed_account.pk}/reauthorize/",
        {"subdomain": org, "email": LOGIN, "password": "still-wrong-1"},
    )

    assert response.status_code == 200 and b"Authentication failed" in response.content
    assert _rows() == before


def test_it_refuses_to_point_an_account_at_another_org(
    alice_client: Client, failed_account: ConnectedAccount, kustomer: KustomerEmulator
) -> None:
    other = f"t{uuid.uuid4().hex[:12]}"
    kustomer.create_org(other, api_keys={API_KEY: ALL_ROLES})
    before = _rows()

    response = alice_client.post(
        f"/accounts/{failed_account.pk}/reauthorize/", {"subdomain": other, "api_key": API_KEY}
    )

    html = response.content.decode()
    assert re.search(r'id="id_subdomain".*?add a new account for another one', html, re.S)
    assert _rows() == before


def test_it_sends_a_google_account_to_oauth_again(alice_client: Client, acme: Workspace) -> None:
    account = ConnectedAccountFactory(workspace=acme, app="google_contacts", label="g@acme.example")

    html = alice_client.get(
        f"/accounts/{account.pk}/reauthorize/", {"next": "/connections/1/"}
    ).content.decode()

    assert (
        f'href="/connect/google_contacts/?workspace={acme.pk}&amp;account={account.pk}&amp;'
        'next=%2Fconnections%2F1%2F"' in html
    )


def test_it_refuses_a_member_reauthorizing(
    member_client: Client, failed_account: ConnectedAccount, org: str
) -> None:
    before = _rows()

    response = member_client.post(
        f"/accounts/{failed_account.pk}/reauthorize/",
        {"subdomain": org, "email": LOGIN, "password": PASSWORD},
    )

    assert response.status_code == 403 and _rows() == before


# ---- disconnecting ----------------------------------------------------------------------------


def test_it_disconnects_an_unused_account(alice_client: Client, acme: Workspace) -> None:
    account = ConnectedAccountFactory(workspace=acme, label="old-org")

    page = alice_client.get(f"/accounts/{account.pk}/disconnect/")
    response = alice_client.post(f"/accounts/{account.pk}/disconnect/", follow=True)

    assert b"Tandem forgets this account" in page.content
    assert not ConnectedAccount.objects.filter(pk=account.pk).exists()
    assert b"disconnected old-org" in response.content


def test_it_refuses_to_disconnect_an_account_in_use_naming_the_connections(
    alice_client: Client, acme: Workspace
) -> None:
    connection = ConnectionFactory(workspace=acme, name="Support sync")
    before = _rows()

    page = alice_client.get(f"/accounts/{connection.account_a_id}/disconnect/")
    response = alice_client.post(f"/accounts/{connection.account_a_id}/disconnect/", follow=True)

    assert b"Support sync" in page.content and b'type="submit" class="danger"' not in page.content
    assert b"is used by Support sync" in response.content
    assert _rows() == before


def test_it_refuses_a_member_disconnecting(member_client: Client, acme: Workspace) -> None:
    account = ConnectedAccountFactory(workspace=acme)

    response = member_client.post(f"/accounts/{account.pk}/disconnect/")

    assert response.status_code == 403
    assert ConnectedAccount.objects.filter(pk=account.pk).exists()


# ---- isolation, CSRF, secrets -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("action", ["reauthorize", "disconnect"])
def test_it_answers_404_for_another_workspaces_account_and_changes_nothing(
    alice_client: Client, globex: Workspace, method: str, action: str
) -> None:
    theirs = ConnectedAccountFactory(workspace=globex, creds={"subdomain": "globex"})
    before = _rows()

    response = getattr(alice_client, method)(
        f"/accounts/{theirs.pk}/{action}/", {"subdomain": "acme", "api_key": "k"}
    )

    assert response.status_code == 404
    assert _rows() == before


@pytest.mark.parametrize(
    "url", ["/accounts/new/kustomer/", "/accounts/{pk}/reauthorize/", "/accounts/{pk}/disconnect/"]
)
def test_it_refuses_a_post_without_a_csrf_token(alice: User, acme: Workspace, url: str) -> None:
    account = ConnectedAccountFactory(workspace=acme, creds={"subdomain": "acme"})
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    before = _rows()

    response = client.post(url.format(pk=account.pk), {"subdomain": "acme", "api_key": "k"})

    assert response.status_code == 403 and _rows() == before


def test_it_never_shows_a_typed_password_or_key_in_any_page(
    alice_client: Client, acme: Workspace, org: str
) -> None:
    pages = [
        _add(alice_client, org, password="canary-Wr0ng-77").content,
        alice_client.post(
            "/accounts/new/kustomer/", {"subdomain": "bad.sub", "api_key": "canary-Wr0ng-77"}
        ).content,
        _add(alice_client, org).content,
    ]
    account = ConnectedAccount.objects.get(workspace=acme)
    pages += [
        alice_client.get("/accounts/").content,
        alice_client.get(f"/accounts/{account.pk}/reauthorize/").content,
        alice_client.post(
            f"/accounts/{account.pk}/reauthorize/",
            {"subdomain": org, "email": LOGIN, "password": "canary-Wr0ng-77"},
        ).content,
        alice_client.get(f"/accounts/{account.pk}/disconnect/").content,
    ]

    for html in pages:
        for secret in (PASSWORD, API_KEY, "canary-Wr0ng-77", account.get_credentials()["token"]):
            assert secret.encode() not in html


def test_it_keeps_credentials_out_of_the_debug_error_page(
    client: Client, alice: User, acme: Workspace, org: str, settings: Any, monkeypatch: Any
) -> None:
    from integrations.connectors.kustomer.connector import KustomerConnector

    def crash(self: Any) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(KustomerConnector, "check", crash)
    settings.DEBUG = True
    client.raise_request_exception = False
    client.force_login(alice)

    response = _add(client, org, api_key=API_KEY)

    assert response.status_code == 500 and b"RuntimeError" in response.content
    assert PASSWORD.encode() not in response.content
    assert API_KEY.encode() not in response.content


def test_it_refuses_a_member_connecting_google(member_client: Client) -> None:
    page = member_client.get("/accounts/new/google_contacts/")
    start = member_client.get("/connect/google_contacts/")

    assert page.status_code == 403 and start.status_code == 403
    assert "google_contacts_oauth" not in member_client.session
