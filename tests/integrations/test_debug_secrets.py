"""A DEBUG 500 page of an exception raised while credentials are in hand shows none of them:
every credential-handling function is marked with ``sensitive_variables``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
import requests
from django.core.management import call_command
from django.views.debug import ExceptionReporter
from django.views.decorators.debug import sensitive_variables

from accounts.models import ConnectedAccount
from integrations.connectors.accounts import connector_for
from integrations.connectors.google_contacts.client import OAUTH
from integrations.connectors.google_contacts.connector import GoogleContactsConnector
from integrations.connectors.http import HttpClient
from integrations.connectors.kustomer.connector import KustomerConnector
from integrations.connectors.oauth import exchange_code, refresh_access_token
from tests.factories import ConnectedAccountFactory

# Built at run time: the page quotes source lines, and the canary must not be one of them.
CANARY = "-".join(("canary", "s3cret", "9f2e"))


class Exploding(requests.Session):
    """A session whose every request breaks in a way nobody catches (a bug, say)."""

    def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise RuntimeError("unexpected failure deep in the HTTP stack")


def exploding_http() -> HttpClient:
    return HttpClient(app="test", session=Exploding(), max_retries=0)


# The test's own hands on the canary are hidden; the product's frames below must hide it alone.
@sensitive_variables("args", "kwargs")
def debug_page(func: Callable[..., object], *args: Any, **kwargs: Any) -> str:
    """The DEBUG 500 page of the exception ``func(*args, **kwargs)`` raises."""
    try:
        func(*args, **kwargs)
    except Exception:
        exc_type, exc_value, tb = sys.exc_info()
    else:
        raise AssertionError(f"{func} raised nothing")
    html = ExceptionReporter(None, exc_type, exc_value, tb, is_email=False).get_traceback_html()
    assert "Local vars" in html  # the page does list local variables
    return str(html)


def test_it_shows_the_locals_of_an_unmarked_function() -> None:
    def careless(password: str) -> None:
        raise RuntimeError("boom")

    assert CANARY in debug_page(careless, CANARY)


def test_it_hides_the_kustomer_password_during_sign_in() -> None:
    credentials = {"subdomain": "acme", "email": "ops@acme.example", "password": CANARY}
    connector = KustomerConnector(credentials, http=exploding_http())
    del credentials
    assert CANARY not in debug_page(connector.client.list_customers)


def test_it_hides_the_kustomer_api_key_of_every_call() -> None:
    connector = KustomerConnector({"subdomain": "acme", "api_key": CANARY}, http=exploding_http())
    assert CANARY not in debug_page(connector.client.list_customers)


def test_it_hides_the_credentials_kustomer_refuses() -> None:
    credentials = {"subdomain": "a.b", "email": "ops@acme.example", "password": CANARY}
    assert CANARY not in debug_page(KustomerConnector.validate_credentials, credentials)
    assert CANARY not in debug_page(KustomerConnector, credentials)


def test_it_hides_the_google_refresh_token_while_refreshing() -> None:
    assert CANARY not in debug_page(
        refresh_access_token, exploding_http(), OAUTH, app_name="Google", refresh_token=CANARY
    )
    assert CANARY not in debug_page(
        exchange_code,
        exploding_http(),
        OAUTH,
        app_name="Google",
        code=CANARY,
        redirect_uri="https://x",
    )


def test_it_hides_the_google_access_token_of_every_call() -> None:
    credentials = {"refresh_token": "r-1", "access_token": CANARY, "expires_at": 4_000_000_000}
    connector = GoogleContactsConnector(credentials, http=exploding_http())
    assert CANARY not in debug_page(connector.api.me)


@pytest.mark.django_db
def test_it_hides_the_credentials_connector_for_reads(acme) -> None:
    account = ConnectedAccountFactory(
        workspace=acme,
        app="kustomer",
        creds={"subdomain": "acme", "email": "ops@acme.example", "password": CANARY},
    )
    # A subdomain that went bad in the database makes the connector refuse to be built.
    account.credentials = account.credentials.replace('"acme"', '"a.b"')
    assert CANARY not in debug_page(connector_for, account)


@pytest.mark.django_db
def test_it_hides_the_credentials_the_reencrypt_command_writes(acme, monkeypatch) -> None:
    ConnectedAccountFactory(workspace=acme, creds={"subdomain": "acme", "api_key": CANARY})

    def refuse(self: Any, value: Any, connection: Any) -> Any:
        raise RuntimeError("the key cannot encrypt")

    monkeypatch.setattr(
        ConnectedAccount._meta.get_field("credentials").__class__, "get_db_prep_save", refuse
    )
    assert CANARY not in debug_page(call_command, "reencrypt_credentials")


@pytest.mark.django_db
def test_it_hides_the_credentials_an_account_validates(acme, monkeypatch) -> None:
    account = ConnectedAccount(workspace=acme, app="kustomer", label="acme")
    account.set_credentials({"subdomain": "acme", "api_key": CANARY})

    def broken(value: Any) -> str:
        raise RuntimeError("validation crashed")

    monkeypatch.setattr("integrations.connectors.kustomer.connector.clean_subdomain", broken)
    assert CANARY not in debug_page(account.full_clean)
