"""The admin and the pages learn how an app is authorized, and its standard fields, from its
declaration alone."""

from __future__ import annotations

import html

import pytest
from django.test import Client
from django.urls import reverse

from accounts.views import oauth_start_url
from integrations.catalog import app_info
from integrations.connectors.base import AUTH_OAUTH2, Capabilities
from integrations.connectors.google_contacts.client import OAUTH as GOOGLE_OAUTH
from integrations.connectors.registry import CONNECTORS, connector_class
from integrations.sync.fields import NameStyle
from tests.factories import ConnectedAccountFactory
from tests.integrations.connectors.kit.acmecrm import STANDARD_FIELDS


def _change_page(client: Client, app: str, creds: dict[str, str]) -> tuple[str, int, int]:
    account = ConnectedAccountFactory(app=app, creds=creds)
    page = client.get(reverse("admin:accounts_connectedaccount_change", args=[account.pk]))
    return html.unescape(page.content.decode()), account.pk, account.workspace_id


@pytest.mark.django_db
def test_it_links_the_admin_to_the_consent_page_of_an_app_declaring_oauth(
    client: Client, staff: object, acmecrm: str
) -> None:
    client.force_login(staff)  # type: ignore[arg-type]

    body, pk, workspace = _change_page(client, acmecrm, {"refresh_token": "rt-1"})

    assert f'href="/connect/acmecrm/?workspace={workspace}&account={pk}"' in body
    assert "Connect Acme CRM again" in body
    assert 'name="cred_acmecrm__refresh_token"' in body


@pytest.mark.django_db
def test_it_offers_no_consent_page_in_the_admin_for_a_credentials_app(
    client: Client, staff: object
) -> None:
    client.force_login(staff)  # type: ignore[arg-type]

    body, _, _ = _change_page(client, "kustomer", {"subdomain": "acme", "api_key": "k-123456"})

    assert "/connect/kustomer/" not in body
    assert 'name="cred_kustomer__api_key"' in body


def test_it_starts_authorizing_where_the_declaration_says(acmecrm: str) -> None:
    assert oauth_start_url(acmecrm) == "/connect/acmecrm/"
    assert oauth_start_url("google_contacts") == "/connect/google_contacts/"
    assert oauth_start_url("kustomer") == ""


def test_it_describes_an_app_page_from_the_declaration(acmecrm: str) -> None:
    info = app_info(acmecrm)

    assert info.oauth and info.sign_in == []
    assert info.standard_fields == STANDARD_FIELDS


def test_it_declares_how_each_app_is_authorized() -> None:
    kustomer, google = connector_class("kustomer"), connector_class("google_contacts")

    assert not kustomer.capabilities.uses_oauth and kustomer.capabilities.oauth is None
    assert google.capabilities.uses_oauth and google.capabilities.oauth == GOOGLE_OAUTH
    assert GOOGLE_OAUTH.scopes == ("https://www.googleapis.com/auth/contacts",)


def test_it_knows_every_app_standard_fields_without_credentials() -> None:
    for slug in CONNECTORS:
        fields = connector_class(slug).standard_fields()
        assert fields and all(not spec.custom for spec in fields)


def test_it_declares_a_connection_choice_only_for_mailchimp_audiences() -> None:
    choices = {slug: connector_class(slug).capabilities.connection_choices for slug in CONNECTORS}

    assert [choice.key for choice in choices.pop("mailchimp")] == ["list_id"]
    assert all(declared == () for declared in choices.values())


def test_it_refuses_options_for_a_connection_choice_not_declared() -> None:
    connector = connector_class("kustomer")({"subdomain": "acme", "api_key": "k-123456"})

    with pytest.raises(LookupError):
        connector.connection_choice_options("audience")


def test_it_refuses_an_oauth_app_without_its_endpoints() -> None:
    with pytest.raises(ValueError):
        Capabilities(name_style=NameStyle.FULL, auth=AUTH_OAUTH2)
