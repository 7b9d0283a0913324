from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from django.db import connection
from django.test import Client

from accounts.models import ConnectedAccount, User, Workspace
from integrations.sandbox.google_contacts import GoogleContactsEmulator
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
    assert response["Location"].endswith(f"/accounts/connectedaccount/{account.pk}/change/")
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
