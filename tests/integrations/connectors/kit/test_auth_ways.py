"""An app may offer OAuth 2.0 and a credentials form at once (``auth=oauth2_or_credentials``
with ``credentials_form``); the declarations of one way alone work as before, and a declaration
that mixes them up is refused with a message saying what is wrong."""

from __future__ import annotations

from typing import ClassVar

import pytest

from integrations.connectors.base import (
    AUTH_CREDENTIALS,
    AUTH_OAUTH2,
    AUTH_OAUTH2_OR_CREDENTIALS,
    Capabilities,
    CredentialField,
)
from integrations.connectors.google_contacts.client import OAUTH as GOOGLE_OAUTH
from integrations.connectors.registry import connector_class
from integrations.sync.fields import NameStyle
from tests.integrations.connectors.kit.acmecrm import AcmeCrmConnector

TOKEN = CredentialField("token", "Token", secret=True)


def test_hubspot_offers_its_consent_page_and_a_private_app_token() -> None:
    hubspot = connector_class("hubspot")
    assert hubspot.capabilities.uses_oauth and hubspot.capabilities.uses_credentials_form
    assert [(f.name, f.secret, f.required) for f in hubspot.form_fields()] == [
        ("private_app_token", True, True)
    ]


def test_mailchimp_offers_its_consent_page_and_an_api_key() -> None:
    mailchimp = connector_class("mailchimp")
    assert mailchimp.capabilities.uses_oauth and mailchimp.capabilities.uses_credentials_form
    assert [f.name for f in mailchimp.form_fields()] == ["api_key", "list_id"]


def test_one_way_declarations_work_as_before() -> None:
    google, kustomer = connector_class("google_contacts"), connector_class("kustomer")
    assert google.capabilities.auth == AUTH_OAUTH2 and google.form_fields() == ()
    assert not google.capabilities.uses_credentials_form
    assert kustomer.capabilities.auth == AUTH_CREDENTIALS and not kustomer.capabilities.uses_oauth
    assert kustomer.form_fields() == kustomer.credential_fields


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        (
            {"auth": AUTH_OAUTH2_OR_CREDENTIALS, "oauth": GOOGLE_OAUTH},
            "declares the form's fields (credentials_form=)",
        ),
        (
            {"auth": AUTH_OAUTH2_OR_CREDENTIALS, "credentials_form": (TOKEN,)},
            "declares its endpoints (oauth=)",
        ),
        ({"credentials_form": (TOKEN,)}, "no other app does: a credentials app's form"),
        ({"auth": "oauth", "oauth": GOOGLE_OAUTH}, "Unknown auth 'oauth': one of credentials,"),
        (
            {
                "auth": AUTH_OAUTH2_OR_CREDENTIALS,
                "oauth": GOOGLE_OAUTH,
                "credentials_form": (CredentialField("note", "Note", required=False),),
            },
            "credentials_form needs a required field",
        ),
    ],
)
def test_a_mixed_up_declaration_is_refused(declaration: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        Capabilities(name_style=NameStyle.FULL, **declaration)  # type: ignore[arg-type]
    assert message in str(refused.value)


def test_a_form_naming_an_undeclared_credential_is_refused() -> None:
    with pytest.raises(TypeError) as refused:

        class Broken(AcmeCrmConnector):
            credential_fields: ClassVar[tuple[CredentialField, ...]] = ()
            capabilities = Capabilities(
                name_style=NameStyle.FULL,
                auth=AUTH_OAUTH2_OR_CREDENTIALS,
                oauth=GOOGLE_OAUTH,
                credentials_form=(TOKEN,),
            )

    assert str(refused.value) == (
        "Broken: credentials_form names token, which credential_fields does not declare."
    )
