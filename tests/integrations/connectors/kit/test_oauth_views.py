"""The OAuth 2.0 connect and callback views serve any app that declares OAuth, by its slug."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.models import ConnectedAccount, User, Workspace
from integrations.connectors.http import HttpClient
from tests.factories import ConnectedAccountFactory
from tests.integrations.connectors.kit.acmecrm import IDENTITY
from tests.integrations.connectors.kit.answers import Answers

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_endpoint(monkeypatch: pytest.MonkeyPatch) -> Answers:
    session = Answers((200, {"access_token": f"at-{IDENTITY}", "refresh_token": "rt-1"}))
    monkeypatch.setattr(
        "integrations.connectors.views.HttpClient",
        lambda app: HttpClient(app=app, session=session, max_retries=0),
    )
    return session


def _start(client: Client, workspace: Workspace, **query: Any) -> dict[str, str]:
    response = client.get("/connect/acmecrm/", {"workspace": workspace.pk, **query})
    assert response.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


def test_it_names_the_views_by_app_slug() -> None:
    assert reverse("connectors:connect", args=["acmecrm"]) == "/connect/acmecrm/"
    assert reverse("connectors:callback", args=["acmecrm"]) == "/connect/acmecrm/callback/"


def test_it_sends_the_user_to_the_consent_page_the_app_declares(
    client: Client, alice: User, acme: Workspace, acmecrm: str, settings: Any
) -> None:
    client.force_login(alice)

    response = client.get("/connect/acmecrm/", {"workspace": acme.pk})

    location = urlsplit(response["Location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        "https://login.acme.example/authorize"
    )
    assert query == {
        "client_id": "tandem-client",
        "redirect_uri": settings.SITE_URL + "/connect/acmecrm/callback/",
        "response_type": "code",
        "scope": "contacts.read contacts.write",
        "audience": "crm",
        "state": client.session["acmecrm_oauth"]["state"],
    }


def test_it_connects_an_account_of_the_app_through_its_token_endpoint(
    client: Client, alice: User, acme: Workspace, acmecrm: str, token_endpoint: Answers
) -> None:
    client.force_login(alice)
    state = _start(client, acme)["state"]

    response = client.get("/connect/acmecrm/callback/", {"code": "code-1", "state": state})

    account = ConnectedAccount.objects.get(workspace=acme, app="acmecrm")
    method, url, sent = token_endpoint.sent[0]
    assert (method, url) == ("POST", "https://login.acme.example/token")
    assert sent["data"]["code"] == "code-1"
    assert sent["data"]["client_secret"] == "tandem-client-secret"
    assert account.label == IDENTITY and account.get_credentials()["refresh_token"] == "rt-1"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Acme CRM: connected {IDENTITY}."
    ]


def test_it_refuses_to_reauthorize_an_account_as_another_identity(
    client: Client, alice: User, acme: Workspace, acmecrm: str, token_endpoint: Answers
) -> None:
    account = ConnectedAccountFactory(
        workspace=acme,
        app="acmecrm",
        label="Sales",
        creds={"refresh_token": "rt-0", "email": "someone@acme.example"},
    )
    client.force_login(alice)
    state = _start(client, acme, account=account.pk)["state"]

    response = client.get(
        "/connect/acmecrm/callback/", {"code": "code-1", "state": state}, follow=True
    )

    account.refresh_from_db()
    assert f"you signed in as {IDENTITY}, but this account is someone@acme.example" in (
        response.content.decode()
    )
    assert account.get_credentials()["refresh_token"] == "rt-0"


def test_it_has_no_consent_page_for_an_app_with_a_credentials_form(
    client: Client, alice: User, acme: Workspace
) -> None:
    client.force_login(alice)

    response = client.get("/connect/kustomer/", {"workspace": acme.pk})

    assert response.status_code == 404
    assert "kustomer_oauth" not in client.session


def test_it_answers_404_for_an_app_without_a_connector(
    client: Client, alice: User, acme: Workspace
) -> None:
    client.force_login(alice)

    assert client.get("/connect/nope/", {"workspace": acme.pk}).status_code == 404
    assert client.get("/connect/nope/callback/", {"state": "x"}).status_code == 404


def test_it_answers_404_for_an_account_id_that_is_no_number(
    client: Client, alice: User, acme: Workspace, acmecrm: str
) -> None:
    client.force_login(alice)

    response = client.get("/connect/acmecrm/", {"workspace": acme.pk, "account": "²"})

    assert response.status_code == 404
    assert "acmecrm_oauth" not in client.session


def test_it_refuses_a_state_outside_ascii(
    client: Client, alice: User, acme: Workspace, acmecrm: str, token_endpoint: Answers
) -> None:
    client.force_login(alice)
    _start(client, acme)

    response = client.get("/connect/acmecrm/callback/", {"code": "code-1", "state": "é"})

    assert response.status_code == 400
    assert not ConnectedAccount.objects.filter(app="acmecrm").exists()
