from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client

from accounts.models import ConnectedAccount, Membership, User, Workspace
from sandbox.google_contacts import GoogleContactsEmulator
from tests.factories import ConnectedAccountFactory, ConnectionFactory
from tests.integrations.connectors.google_contacts.conftest import EMAIL


def _start(client: Client, workspace: Workspace) -> str:
    response = client.get("/connect/google_contacts/", {"workspace": workspace.pk})
    assert response.status_code == 302
    return str(response["Location"])


def _consent(authorize_url: str, decision: str) -> dict[str, str]:
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200 and "Allow" in page.text
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    answer = requests.post(
        authorize_url.split("?")[0],
        data={**params, "email": EMAIL, "decision": decision},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def test_it_connects_an_account_and_stores_its_tokens_encrypted(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator, settings: Any
) -> None:
    client.force_login(alice)
    authorize_url = _start(client, acme)
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["scope"] == ["https://www.googleapis.com/auth/contacts"]
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
    assert query["redirect_uri"] == [settings.SITE_URL + "/connect/google_contacts/callback/"]
    answer = _consent(authorize_url, "approve")

    response = client.get("/connect/google_contacts/callback/", answer)

    account = ConnectedAccount.objects.get(workspace=acme, app="google_contacts")
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Google Contacts: connected {EMAIL}."
    ]
    assert response["Location"] == "/accounts/"
    assert account.label == EMAIL
    credentials = account.get_credentials()
    assert credentials["refresh_token"] and credentials["access_token"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT credentials FROM accounts_connectedaccount WHERE id = %s", [account.pk]
        )
        stored = cursor.fetchone()[0]
    column = stored.decode() if isinstance(stored, bytes) else str(stored)
    assert credentials["refresh_token"] not in column
    assert credentials["access_token"] not in column


def test_it_refuses_a_callback_whose_state_does_not_match(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator
) -> None:
    client.force_login(alice)
    answer = _consent(_start(client, acme), "approve")

    response = client.get(
        "/connect/google_contacts/callback/", {"code": answer["code"], "state": "forged"}
    )

    assert response.status_code == 400
    assert b"state does not match" in response.content
    assert not ConnectedAccount.objects.exists()


def test_it_reports_a_denied_consent_and_stores_nothing(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator
) -> None:
    client.force_login(alice)
    answer = _consent(_start(client, acme), "deny")
    assert answer["error"] == "access_denied"

    response = client.get("/connect/google_contacts/callback/", answer, follow=False)

    assert response.status_code == 302
    assert not ConnectedAccount.objects.exists()
    assert emulator.requests["oauth.token"] == 0


def test_it_hides_another_workspace(
    client: Client, alice: User, acme: Workspace, globex: Workspace
) -> None:
    client.force_login(alice)

    response = client.get("/connect/google_contacts/", {"workspace": globex.pk})

    assert response.status_code == 404


def _consent_as(authorize_url: str, email: str) -> dict[str, str]:
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    answer = requests.post(
        authorize_url.split("?")[0],
        data={**params, "email": email, "decision": "approve"},
        allow_redirects=False,
        timeout=5,
    )
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def _connected(client: Client, workspace: Workspace) -> ConnectedAccount:
    client.get("/connect/google_contacts/callback/", _consent(_start(client, workspace), "approve"))
    return ConnectedAccount.objects.get(workspace=workspace, app="google_contacts")


def test_it_reauthorizes_the_same_account(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator
) -> None:
    client.force_login(alice)
    account = _connected(client, acme)
    old = account.get_credentials()["refresh_token"]
    ConnectedAccount.objects.filter(pk=account.pk).update(status="needs_reauth")
    start = client.get("/connect/google_contacts/", {"workspace": acme.pk, "account": account.pk})

    response = client.get(
        "/connect/google_contacts/callback/", _consent_as(start["Location"], EMAIL)
    )

    account.refresh_from_db()
    assert response["Location"] == "/accounts/"
    assert account.status == "ok" and account.get_credentials()["refresh_token"] != old
    assert ConnectedAccount.objects.count() == 1


def test_it_refuses_to_reauthorize_with_another_google_account(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator
) -> None:
    client.force_login(alice)
    account = _connected(client, acme)
    before = account.credentials
    start = client.get("/connect/google_contacts/", {"workspace": acme.pk, "account": account.pk})

    response = client.get(
        "/connect/google_contacts/callback/",
        _consent_as(start["Location"], "someone.else@acme.example"),
        follow=True,
    )

    account.refresh_from_db()
    assert b"you signed in as someone.else@acme.example" in response.content
    assert account.credentials == before and ConnectedAccount.objects.count() == 1


def test_it_reports_a_code_that_was_already_used(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator
) -> None:
    client.force_login(alice)
    answer = _consent(_start(client, acme), "approve")
    emulator.codes.clear()

    response = client.get("/connect/google_contacts/callback/", answer, follow=True)

    assert b"refused the sign-in code (invalid_grant)" in response.content
    assert not ConnectedAccount.objects.exists()


def test_it_refuses_a_second_use_of_the_same_state(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator
) -> None:
    client.force_login(alice)
    answer = _consent(_start(client, acme), "approve")
    client.get("/connect/google_contacts/callback/", answer)

    response = client.get("/connect/google_contacts/callback/", answer)

    assert response.status_code == 400


def test_it_hides_an_account_of_another_workspace(
    client: Client, alice: User, acme: Workspace, globex: Workspace
) -> None:
    other = ConnectedAccountFactory(workspace=globex, app="google_contacts")
    client.force_login(alice)

    response = client.get("/connect/google_contacts/", {"workspace": acme.pk, "account": other.pk})

    assert response.status_code == 404


def test_it_refuses_staff_who_are_not_members_of_the_workspace(
    client: Client, staff: User, globex: Workspace, emulator: GoogleContactsEmulator
) -> None:
    # Security finding: staff status once bypassed membership here.
    client.force_login(staff)

    response = client.get("/connect/google_contacts/", {"workspace": globex.pk})

    assert response.status_code == 404
    assert "google_contacts_oauth" not in client.session


def test_it_refuses_a_callback_for_a_workspace_the_user_left_meanwhile(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator
) -> None:
    client.force_login(alice)
    answer = _consent(_start(client, acme), "approve")
    Membership.objects.filter(user=alice, workspace=acme).delete()

    response = client.get("/connect/google_contacts/callback/", answer)

    assert response.status_code == 404
    assert not ConnectedAccount.objects.exists()


def test_it_refuses_a_member_without_the_owner_or_admin_role(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator
) -> None:
    Membership.objects.filter(user=alice, workspace=acme).update(role="member")
    client.force_login(alice)

    response = client.get("/connect/google_contacts/", {"workspace": acme.pk})

    assert response.status_code == 403
    assert b"Only owners and admins of Acme" in response.content


def test_it_connects_into_the_current_workspace_without_a_workspace_parameter(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator
) -> None:
    client.force_login(alice)
    start = client.get("/connect/google_contacts/")

    client.get("/connect/google_contacts/callback/", _consent_as(start["Location"], EMAIL))

    assert ConnectedAccount.objects.get(app="google_contacts").workspace == acme


def test_it_returns_to_the_safe_next_url_after_connecting(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator
) -> None:
    client.force_login(alice)
    start = client.get(
        "/connect/google_contacts/", {"workspace": acme.pk, "next": "/connections/new/accounts/"}
    )

    response = client.get(
        "/connect/google_contacts/callback/", _consent_as(start["Location"], EMAIL)
    )

    assert response.status_code == 302 and response["Location"] == "/connections/new/accounts/"


def test_it_ignores_a_next_url_on_another_host(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator
) -> None:
    client.force_login(alice)
    start = client.get(
        "/connect/google_contacts/", {"workspace": acme.pk, "next": "https://evil.example/x"}
    )

    response = client.get(
        "/connect/google_contacts/callback/", _consent_as(start["Location"], EMAIL)
    )

    assert response["Location"] == "/accounts/"


def test_it_resumes_the_connections_stopped_by_the_account_once_reauthorized(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator
) -> None:
    client.force_login(alice)
    account = _connected(client, acme)
    ConnectedAccount.objects.filter(pk=account.pk).update(
        status="needs_reauth", last_error="Google Contacts: the grant was revoked."
    )
    connection = ConnectionFactory(workspace=acme, account_b=account, status="needs_reauth")
    start = client.get("/connect/google_contacts/", {"workspace": acme.pk, "account": account.pk})

    client.get("/connect/google_contacts/callback/", _consent_as(start["Location"], EMAIL))

    connection.refresh_from_db()
    assert connection.status in ("active", "scanning") and connection.status_reason == ""


def test_it_sends_an_anonymous_visitor_to_sign_in(client: Client, acme: Workspace) -> None:
    response = client.get("/connect/google_contacts/", {"workspace": acme.pk})

    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_reauthorizes_an_account_set_up_by_hand_without_an_email(
    client: Client, alice: User, acme: Workspace, emulator: GoogleContactsEmulator
) -> None:
    account = ConnectedAccountFactory(workspace=acme, app="google_contacts", label="Sales book")
    client.force_login(alice)
    start = client.get("/connect/google_contacts/", {"workspace": acme.pk, "account": account.pk})

    client.get("/connect/google_contacts/callback/", _consent_as(start["Location"], EMAIL))

    account.refresh_from_db()
    assert account.label == "Sales book" and account.get_credentials()["email"] == EMAIL
    assert ConnectedAccount.objects.count() == 1
