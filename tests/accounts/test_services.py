"""Service-layer rules that hold whoever calls them: pages, OAuth, commands, fixtures."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.models import ConnectedAccount, User, Workspace
from accounts.services import (
    connected_account_upsert,
    connected_account_verify,
    connections_resume_for_account,
    user_signup,
    workspace_create,
)
from integrations.models import Connection
from tests.e2e.conftest import Pair, pair  # noqa: F401
from tests.factories import ConnectedAccountFactory, ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "subdomain",
    ["evil.com/", "169.254.169.254", "acme.evil.com", "acme:8080", "a@b", "[::1]", "", "-acme"],
)
def test_it_refuses_to_store_a_hostile_kustomer_subdomain(acme: Workspace, subdomain: str) -> None:
    with pytest.raises(ValidationError, match="subdomain"):
        connected_account_upsert(
            workspace=acme,
            app="kustomer",
            label="hostile",
            credentials={"subdomain": subdomain, "api_key": "k"},
        )

    assert not ConnectedAccount.objects.exists()


def test_it_refuses_credentials_the_connector_finds_incomplete(acme: Workspace) -> None:
    with pytest.raises(ValidationError, match="API key, or an email and a password"):
        connected_account_upsert(
            workspace=acme, app="kustomer", label="acme", credentials={"subdomain": "acme"}
        )

    with pytest.raises(ValidationError, match="Refresh token is required"):
        connected_account_upsert(
            workspace=acme, app="google_contacts", label="g", credentials={"access_token": "t"}
        )

    assert not ConnectedAccount.objects.exists()


def test_it_refuses_an_unknown_app(acme: Workspace) -> None:
    with pytest.raises(ValidationError, match="no app"):
        connected_account_upsert(workspace=acme, app="nope", label="x", credentials={})


def test_it_stores_normalized_credentials_and_keeps_extra_keys(acme: Workspace) -> None:
    account = connected_account_upsert(
        workspace=acme,
        app="kustomer",
        label="acme.kustomerapp.com",
        credentials={"subdomain": " ACME ", "api_key": "k", "token": "cached"},
    )

    assert account.get_credentials() == {"subdomain": "acme", "api_key": "k", "token": "cached"}
    assert account.status == "ok" and account.last_verified_at is not None


def test_it_resumes_only_connections_stopped_by_the_account(acme: Workspace) -> None:
    account = ConnectedAccountFactory(
        workspace=acme, status="error", last_error="Kustomer: 403 missing role."
    )
    caused = ConnectionFactory(
        workspace=acme, account_a=account, status="error", status_reason=account.last_error
    )
    other_error = ConnectionFactory(
        workspace=acme, account_a=account, status="error", status_reason="Something else."
    )
    ConnectedAccount.objects.filter(pk=account.pk).update(status="ok", last_error="")
    account.refresh_from_db()

    resumed = connections_resume_for_account(
        account=account, previous_error="Kustomer: 403 missing role."
    )

    caused.refresh_from_db()
    other_error.refresh_from_db()
    assert resumed == [caused.pk]
    assert caused.status in ("active", "scanning") and other_error.status == "error"


def test_it_creates_nothing_when_sign_up_is_refused(db: None) -> None:
    with pytest.raises(ValidationError):
        user_signup(email="x@example.com", full_name="X", workspace_name="X Co", password="123")

    assert not Workspace.objects.exists()


@pytest.mark.parametrize("name", ["Acme\x00", "   ", "x" * 201])
def test_it_refuses_a_workspace_name_it_cannot_hold(alice: User, name: str) -> None:
    with pytest.raises(ValidationError) as refused:
        workspace_create(name=name, owner=alice)

    assert "name" in refused.value.message_dict
    assert not Workspace.objects.exists()


def test_it_resumes_the_connections_of_an_account_that_verifies_again(
    pair: Pair,  # noqa: F811
) -> None:
    connection = pair.connect()
    ConnectedAccount.objects.filter(pk=pair.account_b.pk).update(
        status="needs_reauth", last_error="Google Contacts: the grant was revoked."
    )
    Connection.objects.filter(pk=connection.pk).update(status="needs_reauth")
    pair.account_b.refresh_from_db()

    ok, _ = connected_account_verify(account=pair.account_b)

    connection.refresh_from_db()
    assert ok
    assert connection.status in ("active", "scanning")
