"""What every connector is: capabilities declared as data, and a small set of calls.

A connector is built for one connected account: ``Connector(credentials, http=...)``. It never
touches the database; when it refreshes a token it hands the new credentials to
``on_credentials_changed`` and the caller stores them.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.views.decorators.debug import sensitive_variables

from integrations.connectors.http import HttpClient
from integrations.sync.errors import ConnectorError as ConnectorError
from integrations.sync.errors import RecordRefused as RecordRefused
from integrations.sync.fields import ConditionSpec, FieldSpec, NameStyle
from integrations.sync.records import (
    Checkpoint,
    Contact,
    ContactUpdate,
    NewContact,
    Page,
    WriteResult,
)


@dataclass(frozen=True)
class CredentialField:
    name: str
    label: str
    secret: bool = False
    required: bool = True
    help_text: str = ""


@dataclass(frozen=True)
class OAuth2:
    """How an app's accounts are authorized through its consent page (OAuth 2.0 authorization
    code flow). Endpoints and client credentials are named by the settings that hold them, so
    tests and the sandbox can point them elsewhere."""

    # Who runs the consent page, for messages ("Google").
    provider: str
    authorize_url_setting: str
    token_url_setting: str
    client_id_setting: str
    client_secret_setting: str
    scopes: tuple[str, ...]
    # Extra query parameters of the consent page (offline access, forced consent ...).
    authorize_params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ConnectionChoice:
    """A choice a connection must make about one of its accounts before it can sync (Mailchimp:
    which audience). Its options come from the account: ``Connector.connection_choice_options``."""

    key: str
    label: str
    help_text: str = ""


AUTH_CREDENTIALS = "credentials"
AUTH_OAUTH2 = "oauth2"
# Both: the consent page, or a short credentials form (``Capabilities.credentials_form``) for
# whoever prefers a key or token (HubSpot's private app token, Mailchimp's API key).
AUTH_OAUTH2_OR_CREDENTIALS = "oauth2_or_credentials"
AUTHS = (AUTH_CREDENTIALS, AUTH_OAUTH2, AUTH_OAUTH2_OR_CREDENTIALS)


@dataclass(frozen=True)
class Capabilities:
    name_style: NameStyle
    # How an account is authorized: a credentials form (``credential_fields``), the app's
    # own consent page (``oauth``), or either (the consent page, or the fields of
    # ``credentials_form``, each one of the connector's ``credential_fields``).
    auth: str = AUTH_CREDENTIALS
    oauth: OAuth2 | None = None
    credentials_form: tuple[CredentialField, ...] = ()
    connection_choices: tuple[ConnectionChoice, ...] = ()
    # What the app calls a tag: "tag" (Kustomer) or "label" (Google contact groups).
    tag_noun: str = "tag"
    supports_tags: bool = True
    supports_deletions: bool = False
    supports_unsubscribes: bool = False
    read_page_size: int = 100
    create_batch_size: int = 1
    update_batch_size: int = 1
    lookup_batch_size: int = 1
    conditions: tuple[ConditionSpec, ...] = ()
    actions: tuple[str, ...] = ("set_field", "add_tag", "remove_tag")

    def __post_init__(self) -> None:
        if self.auth not in AUTHS:
            raise ValueError(f"Unknown auth {self.auth!r}: one of {', '.join(AUTHS)}.")
        if self.uses_oauth != (self.oauth is not None):
            raise ValueError(
                "An app authorized through OAuth 2.0 (auth=oauth2 or oauth2_or_credentials) "
                "declares its endpoints (oauth=), no other app does."
            )
        if (self.auth == AUTH_OAUTH2_OR_CREDENTIALS) != bool(self.credentials_form):
            raise ValueError(
                "An app offering OAuth 2.0 or a credentials form (auth=oauth2_or_credentials) "
                "declares the form's fields (credentials_form=), no other app does: a "
                "credentials app's form is its credential_fields."
            )
        names = [spec.name for spec in self.credentials_form]
        if len(set(names)) != len(names):
            raise ValueError(f"credentials_form names a field twice: {', '.join(names)}.")
        if self.credentials_form and not any(spec.required for spec in self.credentials_form):
            raise ValueError("credentials_form needs a required field (the key or token).")

    @property
    def uses_oauth(self) -> bool:
        """The app's consent page is offered (alone or beside a credentials form)."""
        return self.auth in (AUTH_OAUTH2, AUTH_OAUTH2_OR_CREDENTIALS)

    @property
    def uses_credentials_form(self) -> bool:
        """A credentials form is offered (alone or beside the consent page)."""
        return self.auth in (AUTH_CREDENTIALS, AUTH_OAUTH2_OR_CREDENTIALS)

    def form_fields(
        self, credential_fields: tuple[CredentialField, ...]
    ) -> tuple[CredentialField, ...]:
        """What a person types to connect an account: every credential field of a credentials
        app, the declared form of an app that offers both ways, nothing for an OAuth-only app."""
        if self.auth == AUTH_CREDENTIALS:
            return credential_fields
        return self.credentials_form


@dataclass(frozen=True)
class AccountInfo:
    """What a successful verification learned: a label to show instead of the credentials, and
    who the credentials belong to (an email), so an account is never re-authorized as someone
    else."""

    label: str
    details: Mapping[str, Any] = field(default_factory=dict)
    identity: str = ""
    # Which account of the app the credentials reach, where the app says so (HubSpot: the
    # portal id): kept with the credentials (``ACCOUNT_ID_KEY``), so authorizing an account
    # again, either way, never points it at another one.
    account_id: str = ""


ACCOUNT_ID_KEY = "app_account_id"


class Connector(abc.ABC):
    slug: ClassVar[str]
    name: ClassVar[str]
    credential_fields: ClassVar[tuple[CredentialField, ...]]
    capabilities: ClassVar[Capabilities]
    # Credential keys never shown anywhere (admin, pages, logs, errors).
    secret_credential_keys: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        capabilities = cls.__dict__.get("capabilities")
        if capabilities is None:
            return
        declared = {spec.name for spec in cls.credential_fields}
        unknown = [s.name for s in capabilities.credentials_form if s.name not in declared]
        if unknown:
            # The admin's write-only inputs and the stored credentials know only these.
            raise TypeError(
                f"{cls.__name__}: credentials_form names {', '.join(unknown)}, which "
                "credential_fields does not declare."
            )

    @classmethod
    def form_fields(cls) -> tuple[CredentialField, ...]:
        """What a person types on the accounts pages to connect an account (see
        ``Capabilities.form_fields``)."""
        return cls.capabilities.form_fields(cls.credential_fields)

    @classmethod
    @sensitive_variables()
    def complete_oauth(cls, http: HttpClient, credentials: dict[str, Any]) -> dict[str, Any]:
        """The credentials to keep after an authorization code was traded for ``credentials``:
        an app that learns more from the token (Mailchimp: the account's data center) adds it
        here; raise ``ConnectorError`` when it cannot."""
        return credentials

    @sensitive_variables()
    def __init__(
        self,
        credentials: Mapping[str, Any],
        *,
        http: HttpClient | None = None,
        on_credentials_changed: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.credentials = dict(credentials)
        self.http = http or HttpClient(app=self.slug)
        for secret in self.secrets():
            self.http.add_secret(secret)
        self.on_credentials_changed = on_credentials_changed

    @sensitive_variables()
    def secrets(self) -> list[str]:
        """Credential values the HTTP seam must redact; tokens obtained later are added with
        ``self.http.add_secret``."""
        return [
            str(value)
            for key, value in self.credentials.items()
            if key in self.secret_credential_keys and value
        ]

    @classmethod
    @sensitive_variables()
    def validate_credentials(cls, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """Check the shape of user-supplied credentials before any request; raise ``ValueError``
        with a message naming the bad part."""
        cleaned: dict[str, Any] = {}
        for spec in cls.credential_fields:
            value = credentials.get(spec.name, "")
            value = value.strip() if isinstance(value, str) else value
            if spec.required and not value:
                raise ValueError(f"{spec.label} is required.")
            if value:
                cleaned[spec.name] = value
        return cleaned

    @classmethod
    def standard_fields(cls) -> tuple[FieldSpec, ...]:
        """The fields every account of the app has, known without credentials: the apps pages
        and the default mappings with each partner are built from them. An app whose fields
        all come from the account has none."""
        return ()

    def connection_choice_options(self, key: str) -> list[tuple[str, str]]:
        """(value, label) pairs the account offers for the declared connection choice ``key``
        (Mailchimp: its audiences). Only an app that declares choices answers."""
        raise LookupError(f"{self.name} declares no connection choice {key!r}.")

    @abc.abstractmethod
    def check(self) -> AccountInfo:
        """Verify the credentials with one cheap authenticated call."""

    @abc.abstractmethod
    def fields(self) -> list[FieldSpec]:
        """Standard fields plus the custom fields discovered from the account."""

    @abc.abstractmethod
    def list_changed(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        """Pages of records changed since ``checkpoint`` (everything when ``None``), oldest first,
        each with the checkpoint that is safe to store once the page is applied."""

    @abc.abstractmethod
    def get_many(self, ids: list[str]) -> list[Contact]:
        """The current state of these records; missing ids are left out."""

    @abc.abstractmethod
    def find_by_emails(self, emails: list[str]) -> dict[str, list[Contact]]:
        """Records holding each normalized email, keyed by that email."""

    def find_by_intent_keys(self, keys: list[str]) -> dict[str, Contact]:
        """Records created with one of these create intents' keys (``NewContact.idempotency_key``),
        keyed by that key, deleted ones left out. Crash recovery asks this first: a record may
        have no email, or its email may have changed since it was created. An app that cannot
        look records up by the key it was stamped with finds none here, and recovery then looks
        for them by the emails they were created with."""
        return {}

    @abc.abstractmethod
    def create_many(self, items: list[NewContact]) -> list[WriteResult]:
        """Create records; one result per item, in order, keyed by ``ref``."""

    @abc.abstractmethod
    def update_many(self, items: list[ContactUpdate]) -> list[WriteResult]:
        """Write only the given fields of existing records; one result per item (``ref`` = id)."""

    @abc.abstractmethod
    def tag(self, ids: list[str], tag: str) -> list[WriteResult]:
        """Add a tag or label to records."""

    @abc.abstractmethod
    def untag(self, ids: list[str], tag: str) -> list[WriteResult]:
        """Remove a tag or label from records."""

    @sensitive_variables()
    def save_credentials(self, credentials: dict[str, Any]) -> None:
        """Keep refreshed credentials (a new access token) and hand them to the owner to store."""
        self.credentials = dict(credentials)
        for secret in self.secrets():
            self.http.add_secret(secret)
        if self.on_credentials_changed is not None:
            self.on_credentials_changed(dict(credentials))

    def field_map(self) -> dict[str, FieldSpec]:
        return {spec.key: spec for spec in self.fields()}

    def fields_for_sync(self, keys: Collection[str]) -> dict[str, FieldSpec]:
        """The fields a sync run works with: at least those of ``keys`` (the keys its
        mappings, conditions and actions use) the app has. Every field by default; an app that
        finds its custom fields only by reading records may answer for ``keys`` alone."""
        return self.field_map()
