"""A made-up OAuth 2.0 app, declared the way HubSpot will be: the kit must serve it by its slug
alone, with no line of it anywhere else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from integrations.connectors.base import (
    AUTH_OAUTH2,
    AccountInfo,
    Capabilities,
    Connector,
    ConnectorError,
    CredentialField,
    OAuth2,
)
from integrations.sync.fields import FieldSpec, FieldType, NameStyle
from integrations.sync.records import Contact, ContactUpdate, NewContact, Page, WriteResult

SLUG = "acmecrm"
IDENTITY = "crm-owner@acme.example"
OAUTH = OAuth2(
    provider="Acme",
    authorize_url_setting="ACMECRM_AUTHORIZE_URL",
    token_url_setting="ACMECRM_TOKEN_URL",
    client_id_setting="ACMECRM_CLIENT_ID",
    client_secret_setting="ACMECRM_CLIENT_SECRET",
    scopes=("contacts.read", "contacts.write"),
    authorize_params=(("audience", "crm"),),
)
STANDARD_FIELDS = (
    FieldSpec("email", "Email", FieldType.EMAIL, canonical="email"),
    FieldSpec("name", "Name", FieldType.TEXT, canonical="name.full"),
)


class AcmeCrmConnector(Connector):
    slug = SLUG
    name = "Acme CRM"
    credential_fields = (CredentialField("refresh_token", "Refresh token", secret=True),)
    secret_credential_keys = frozenset({"access_token", "refresh_token"})
    capabilities = Capabilities(name_style=NameStyle.FULL, auth=AUTH_OAUTH2, oauth=OAUTH)

    @classmethod
    def standard_fields(cls) -> tuple[FieldSpec, ...]:
        return STANDARD_FIELDS

    def check(self) -> AccountInfo:
        # Whoever the token endpoint gave "at-<who>" to.
        token = str(self.credentials.get("access_token") or "")
        if not token.startswith("at-"):
            raise ConnectorError("Acme CRM: the token was refused.", reauthorize=True, status=401)
        return AccountInfo(label=token[3:], identity=token[3:])

    def fields(self) -> list[FieldSpec]:
        return list(STANDARD_FIELDS)

    def list_changed(self, checkpoint: dict[str, Any] | None) -> Iterator[Page]:
        yield Page(records=[], checkpoint={})

    def get_many(self, ids: list[str]) -> list[Contact]:
        return []

    def find_by_emails(self, emails: list[str]) -> dict[str, list[Contact]]:
        return {}

    def create_many(self, items: list[NewContact]) -> list[WriteResult]:
        return []

    def update_many(self, items: list[ContactUpdate]) -> list[WriteResult]:
        return []

    def tag(self, ids: list[str], tag: str) -> list[WriteResult]:
        return []

    def untag(self, ids: list[str], tag: str) -> list[WriteResult]:
        return []
