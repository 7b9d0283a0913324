"""The Kustomer connector: customers of one org, read by search on ``customer_updated_at``.

With an API key, Tandem's writes are made as the key's machine user (api-notes §1.2, §1.11). The
connector learns that user's id from a write's answer and, after the run, keeps it with the
credentials, for that key only (``keep_machine_user``). When the run says the account is this
connection's alone (``hide_own_writes``), the change feed asks only for customers someone else
modified last, so Tandem never reads its own writes back. A person's edit that lands between
Tandem's read and its PATCH is caught by the engine and read again by id (``sync/recheck.py``)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from integrations.connectors import feed
from integrations.connectors.base import (
    AccountInfo,
    Capabilities,
    Connector,
    ConnectorError,
    CredentialField,
)
from integrations.connectors.batch import chunked, failed
from integrations.connectors.http import HttpClient
from integrations.connectors.kustomer import mappers
from integrations.connectors.kustomer.ahead import SearchAhead
from integrations.connectors.kustomer.client import (
    MAX_PAGES,
    SEARCH_MAX_CRITERIA,
    KustomerClient,
    KustomerRefusal,
    page_of,
)
from integrations.sync.fields import ConditionSpec, FieldSpec, NameStyle
from integrations.sync.records import (
    BIRTHDAY,
    Checkpoint,
    Contact,
    ContactUpdate,
    NewContact,
    Page,
    WriteResult,
    normalize_email,
)

SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
IP_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
# The revision of a customer just created.
FIRST_REV = 1
SENTIMENTS = ("positive", "neutral", "negative")
HAS_OPEN = "has open conversations"
HAS_NO_OPEN = "has no open conversations"
# Kept in the credentials: {"key": fingerprint of the API key, "id": its machine user's id}.
MACHINE_USER = "machine_user"


def _fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def clean_subdomain(value: Any) -> str:
    """The org subdomain as one lowercase DNS label; ``ValueError`` saying what is wrong
    otherwise. It is put into a host name, so no dots, slashes, ``@``, ports or addresses."""
    subdomain = str(value or "").strip().lower()
    problem = subdomain_problem(subdomain)
    if problem:
        shown = str(value)[:80]
        raise ValueError(
            f"Kustomer subdomain {shown!r} {problem}: give only the name before "
            ".kustomerapp.com (letters, digits and hyphens)."
        )
    return subdomain


def subdomain_problem(subdomain: str) -> str:
    if not subdomain:
        return "is empty"
    if IP_RE.fullmatch(subdomain):
        return "is an address"
    for bad, what in (("/", "has a slash"), ("@", "has an @")):
        if bad in subdomain:
            return what
    if "[" in subdomain or subdomain.count(":") > 1:
        return "is an address"
    if ":" in subdomain:
        return "has a port"
    if "." in subdomain:
        return "has a dot"
    if len(subdomain) > 63:
        return "is longer than 63 characters"
    if subdomain.startswith("-") or subdomain.endswith("-"):
        return "starts or ends with a hyphen"
    if not SUBDOMAIN_RE.fullmatch(subdomain):
        return "has characters other than letters, digits and hyphens"
    return ""


def _sentiment_is(record: Contact, value: Any) -> bool:
    return bool(value) and record.facts.get("sentiment") == value


def _open_conversations(record: Contact, value: Any) -> bool:
    count = record.facts.get("open_conversations")
    if count is None:
        return False
    return count > 0 if value == HAS_OPEN else count == 0 if value == HAS_NO_OPEN else False


class KustomerConnector(Connector):
    slug = "kustomer"
    name = "Kustomer"
    credential_fields = (
        CredentialField("subdomain", "Subdomain", help_text="<subdomain>.kustomerapp.com"),
        CredentialField("email", "Email", required=False),
        CredentialField("password", "Password", secret=True, required=False),
        CredentialField("api_key", "API key", secret=True, required=False),
    )
    secret_credential_keys: ClassVar[frozenset[str]] = frozenset({"password", "api_key", "token"})
    # The search maximum (api-notes §1.6); the list endpoint's is 100.
    search_page_size: ClassVar[int] = 500
    # From this many creates on, one bulk job (a POST and three reads) beats a POST each.
    bulk_min_batch: ClassVar[int] = 10
    # A run may send two of its write batches at once (two bulk jobs, or two batches of
    # PATCHes): Kustomer's budget is requests per minute for the org (api-notes §1.8), a bulk
    # job one request whatever runs beside it. (Google asks for one user's mutations one
    # after the other: its connector keeps the default, one.)
    write_batches_at_once: ClassVar[int] = 2
    capabilities = Capabilities(
        name_style=NameStyle.FULL,
        tag_noun="tag",
        supports_deletions=False,
        supports_unsubscribes=False,
        read_page_size=500,
        create_batch_size=100,
        update_batch_size=25,
        lookup_batch_size=SEARCH_MAX_CRITERIA,
        conditions=(
            ConditionSpec("kustomer.sentiment", "Sentiment", _sentiment_is, choices=SENTIMENTS),
            ConditionSpec(
                "kustomer.open_conversations",
                "Open conversations",
                _open_conversations,
                choices=(HAS_OPEN, HAS_NO_OPEN),
            ),
        ),
    )

    @sensitive_variables()
    def __init__(
        self, credentials: Mapping[str, Any], *, http: HttpClient | None = None, **kwargs: Any
    ) -> None:
        super().__init__(credentials, http=http, **kwargs)
        self.subdomain = clean_subdomain(self.credentials.get("subdomain"))
        base_url = settings.KUSTOMER_BASE_URL_TEMPLATE.format(subdomain=self.subdomain)
        self.client = KustomerClient(
            self.http,
            base_url,
            subdomain=self.subdomain,
            token=self._token,
            renew_token=self._renew_token,
            credential_label="API key" if self.credentials.get("api_key") else "sign-in token",
        )
        self._custom_fields: dict[str, FieldSpec] | None = None
        # Set by the run when no other connection uses the account (``sync/recheck.py``): the
        # change feed then leaves out the customers Tandem's machine user modified last.
        self.hide_own_writes = False

    @sensitive_variables()
    def machine_user(self) -> str:
        """The id of the API key's machine user, once a write told it; "" before that and for a
        sign-in with email and password (a person, whose own edits must never be left out)."""
        api_key = self.credentials.get("api_key")
        kept = self.credentials.get(MACHINE_USER)
        if not api_key or not isinstance(kept, dict):
            return ""
        if kept.get("key") != _fingerprint(str(api_key)):
            return ""  # learned with another key
        return str(kept.get("id") or "")

    @sensitive_variables()
    def keep_machine_user(self) -> None:
        """Keep with the credentials the machine user a write's answer named, when it is news.
        Called by the run once its writes are done, in its own thread (the write paths may run
        in threads of their own, where the database is not the run's)."""
        api_key = self.credentials.get("api_key")
        author = self.client.author
        if api_key and author and author != self.machine_user():
            kept = {"key": _fingerprint(str(api_key)), "id": author}
            self.save_credentials({**self.credentials, MACHINE_USER: kept})

    @classmethod
    @sensitive_variables()
    def validate_credentials(cls, credentials: Mapping[str, Any]) -> dict[str, Any]:
        subdomain = clean_subdomain(credentials.get("subdomain"))
        cleaned = super().validate_credentials(credentials)
        cleaned["subdomain"] = subdomain
        has_login = bool(cleaned.get("email")) and bool(cleaned.get("password"))
        if not has_login and not cleaned.get("api_key"):
            raise ValueError("Kustomer needs either an API key, or an email and a password.")
        return cleaned

    # ---- auth --------------------------------------------------------------------------------

    @sensitive_variables()
    def _token(self) -> str:
        api_key = self.credentials.get("api_key")
        if api_key:
            return str(api_key)
        token = self.credentials.get("token")
        if not token:
            token = self._sign_in()
        return str(token)

    @sensitive_variables()
    def _sign_in(self) -> str:
        email = str(self.credentials.get("email") or "")
        password = str(self.credentials.get("password") or "")
        if not email or not password:
            raise ConnectorError(
                "Kustomer: no API key or email and password to sign in with.", reauthorize=True
            )
        token = self.client.exchange_password_for_token(email, password)
        self.save_credentials({**self.credentials, "token": token})
        return token

    @sensitive_variables()
    def _renew_token(self) -> bool:
        """After a 401: sign in again once when the token came from a password sign-in."""
        if self.credentials.get("api_key") or not self.credentials.get("token"):
            return False
        self._sign_in()
        return True

    # ---- calls -------------------------------------------------------------------------------

    def check(self) -> AccountInfo:
        """One authenticated read of one customer: it needs the customer read role, so a key
        without it is caught now rather than in the first run."""
        try:
            self.client.list_customers(page=1, page_size=1)
        except ConnectorError as exc:
            if exc.status is None and not exc.permanent:
                raise ConnectorError(
                    f"Kustomer: {self.subdomain}.kustomerapp.com could not be reached; check "
                    "the subdomain (unknown subdomain?).",
                    status=None,
                ) from None
            raise
        label = str(self.credentials.get("email") or "") or f"{self.subdomain}.kustomerapp.com"
        return AccountInfo(label=label, details={"subdomain": self.subdomain})

    def _custom(self) -> dict[str, FieldSpec]:
        if self._custom_fields is None:
            body = self.client.customer_metadata()
            properties = ((body.get("data") or {}).get("attributes") or {}).get("properties")
            found: dict[str, FieldSpec] = {}
            for name, spec in (properties or {}).items():
                field = mappers.custom_field(str(name), spec if isinstance(spec, dict) else {})
                if field is not None:
                    found[field.key] = field
            self._custom_fields = found
        return self._custom_fields

    @classmethod
    def standard_fields(cls) -> tuple[FieldSpec, ...]:
        return mappers.STANDARD_FIELDS

    def fields(self) -> list[FieldSpec]:
        return [*self.standard_fields(), *self._custom().values()]

    def _contact(self, resource: Mapping[str, Any]) -> Contact:
        return mappers.contact_from_customer(resource, self._custom_fields)

    def list_changed(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        """Search ``customer_updated_at >= since`` oldest first, tombstones included, with the
        kit's ``updated_at`` cursor (ties at the cursor skipped; past the 100-page cap the
        search restarts from the last ``updatedAt`` seen). With ``hide_own_writes`` and a known
        machine user, an incremental read leaves out the customers it modified last (a scan
        lists everything)."""
        self._custom()  # custom attributes are read with their declared types
        yield from feed.updated_at_pages(checkpoint, self._search_changed, app_name=self.name)

    def _search_changed(self, since: str | None) -> Iterator[feed.Listed]:
        body: dict[str, Any] = {
            "queryContext": "customer",
            "sort": [{"customer_updated_at": "asc"}],
            "includeDeleted": True,
        }
        if since is not None:
            body["and"] = [{"customer_updated_at": {"gte": since}}]
            author = self.machine_user() if self.hide_own_writes else ""
            if author:
                body["not"] = [{"customer_modified_by": {"equals": author}}]
        result = self.client.search_customers(body, page=1, page_size=self.search_page_size)
        # The next pages are asked for a page ahead while this one is decoded and converted.
        with SearchAhead(self.client, body, result) as ahead:
            while True:
                records = [
                    (self._contact(r), (r.get("attributes") or {}).get("updatedAt"))
                    for r in result.get("data") or []
                ]
                next_link = (result.get("links") or {}).get("next")
                # The decoded page is let go before the next is decoded and while its records
                # are kept: a scan's listing holds one search page's JSON at a time, not two.
                del result
                next_page = page_of(next_link) if next_link else None
                capped = next_page is not None and next_page > MAX_PAGES
                yield feed.Listed(records, last=next_page is None, capped=capped)
                if next_page is None or capped:
                    return
                result = ahead.follow(str(next_link))

    def get_many(self, ids: list[str]) -> list[Contact]:
        found = []
        for record_id in ids:
            resource = self.client.get_customer(record_id)
            if resource is not None:
                found.append(self._contact(resource))
        return found

    def find_by_emails(self, emails: list[str]) -> dict[str, list[Contact]]:
        wanted = list(dict.fromkeys(normalize_email(e) for e in emails if e and e.strip()))
        found: dict[str, list[Contact]] = {}
        for batch in chunked(wanted, SEARCH_MAX_CRITERIA):
            body = {
                "queryContext": "customer",
                "or": [{"customer_email": {"equals": email}} for email in batch],
                "sort": [{"customer_updated_at": "asc"}],
            }
            result = self.client.search_customers(body, page=1, page_size=self.search_page_size)
            while True:
                for resource in result.get("data") or []:
                    contact = self._contact(resource)
                    for email in contact.normalized_emails:
                        if email in batch:
                            holders = found.setdefault(email, [])
                            if all(c.id != contact.id for c in holders):
                                holders.append(contact)
                next_link = (result.get("links") or {}).get("next")
                if not next_link or (page_of(next_link) or 0) > MAX_PAGES:
                    break
                result = self.client.follow(str(next_link), body)
        return found

    def find_by_intent_keys(self, keys: list[str]) -> dict[str, Contact]:
        """Customers whose ``externalId`` carries a create intent's key (``create_many`` stamps
        it), found by a search on ``customer_externalId``."""
        wanted = list(dict.fromkeys(k for k in keys if k))
        found: dict[str, Contact] = {}
        for start in range(0, len(wanted), SEARCH_MAX_CRITERIA):
            batch = wanted[start : start + SEARCH_MAX_CRITERIA]
            body = {
                "queryContext": "customer",
                "or": [
                    {"customer_externalId": {"equals": mappers.IDEMPOTENCY_PREFIX + key}}
                    for key in batch
                ],
                "sort": [{"customer_updated_at": "asc"}],
            }
            result = self.client.search_customers(body, page=1, page_size=self.search_page_size)
            while True:
                for resource in result.get("data") or []:
                    contact = self._contact(resource)
                    if contact.idempotency_key in batch and not contact.deleted:
                        found[contact.idempotency_key] = contact
                next_link = (result.get("links") or {}).get("next")
                if not next_link or (page_of(next_link) or 0) > MAX_PAGES:
                    break
                result = self.client.follow(str(next_link), body)
        return found

    def _problem(self, values: Mapping[str, Any]) -> str:
        """Why a value would be refused, checked before anything is sent."""
        custom = self._custom()
        for key, value in values.items():
            if key == BIRTHDAY:
                reason = mappers.birthday_problem(value)
                if reason:
                    return f"Kustomer refused {key}: {reason}"
            elif key.startswith("custom."):
                spec = custom.get(key)
                if spec is None:
                    suffix = mappers.suffix_of(key[len("custom.") :])
                    if not suffix:
                        return f"Kustomer refused {key}: not a custom attribute of this org"
                    spec = mappers.custom_field(key[len("custom.") :], {})
                assert spec is not None
                reason = mappers.custom_value_problem(spec, value)
                if reason:
                    return f"Kustomer refused {key}: {reason}"
        return ""

    def create_many(self, items: list[NewContact]) -> list[WriteResult]:
        """Create customers, stamping each create intent's key as ``externalId`` where the
        record has none. Batches of ``bulk_min_batch`` or more go through one bulk job
        (one unit of the rate budget) instead of one POST each."""
        results: dict[int, WriteResult] = {}
        bodies: dict[int, dict[str, Any]] = {}
        for index, item in enumerate(items):
            values = dict(item.values)
            if item.idempotency_key and not values.get(mappers.EXTERNAL_ID):
                values[mappers.EXTERNAL_ID] = mappers.IDEMPOTENCY_PREFIX + item.idempotency_key
            problem = self._problem(values)
            if problem:
                results[index] = WriteResult(ref=item.ref, error=problem, permanent=True)
            else:
                bodies[index] = mappers.customer_body(values)
        if len(bodies) >= self.bulk_min_batch:
            results.update(self._bulk_create(items, bodies))
        else:
            for index, body in bodies.items():
                results[index] = self._send(items[index].ref, body, None)
        return [results[index] for index in range(len(items))]

    def _bulk_create(
        self, items: list[NewContact], bodies: dict[int, dict[str, Any]]
    ) -> dict[int, WriteResult]:
        results: dict[int, WriteResult] = {}
        try:
            outcomes = self.client.bulk_create_customers(
                [{**body, "_clientRef": str(index)} for index, body in bodies.items()]
            )
        except KustomerRefusal:
            # The job as a whole was refused: fall back to one request per record, which
            # tells which record was wrong.
            return {i: self._send(items[i].ref, body, None) for i, body in bodies.items()}
        except ConnectorError as exc:
            return {index: failed(items[index].ref, exc) for index in bodies}
        created: dict[int, str] = {}
        for index in bodies:
            outcome = outcomes.get(str(index))
            ref = items[index].ref
            if outcome is None:
                results[index] = WriteResult(
                    ref=ref, error="Kustomer: the bulk job reported no result", permanent=False
                )
            elif outcome.get("status") == "error" or not outcome.get("objectId"):
                reason = str(outcome.get("error") or "rejected")
                results[index] = WriteResult(
                    ref=ref,
                    error=f"Kustomer refused {mappers.field_named_in(reason)}: {reason}",
                    permanent=True,
                )
            else:
                created[index] = str(outcome["objectId"])
        # Not read back: the job names each new customer's id, and a new customer is at its
        # first revision (``rev`` 1, as in the OpenAPI examples), so the record is what was sent.
        # Were the revision another, the next run would only read the customer once more.
        for index, customer_id in created.items():
            resource = {"id": customer_id, "attributes": {**bodies[index], "rev": FIRST_REV}}
            results[index] = WriteResult(ref=items[index].ref, record=self._contact(resource))
        return results

    def update_many(self, items: list[ContactUpdate]) -> list[WriteResult]:
        """PATCH only the changed attributes; list attributes are sent whole (Kustomer
        replaces arrays) and custom attributes key by key."""
        results = []
        for item in items:
            values = dict(item.changes)
            problem = self._problem(values)
            if problem:
                results.append(WriteResult(ref=item.id, error=problem, permanent=True))
                continue
            results.append(self._send(item.id, mappers.customer_body(values), item.id))
        return results

    def _send(self, ref: str, body: dict[str, Any], customer_id: str | None) -> WriteResult:
        try:
            if customer_id is None:
                resource = self.client.create_customer(body)
            else:
                found = self.client.update_customer(customer_id, body)
                if found is None:
                    return WriteResult(ref=ref, error="Kustomer: customer not found")
                resource = found
        except ConnectorError as exc:
            return failed(ref, exc)
        return WriteResult(ref=ref, record=self._contact(resource))

    def _retag(self, ids: list[str], tag: str, add: bool) -> list[WriteResult]:
        """Kustomer has no customer tag endpoint (none in its OpenAPI document): read the
        tags and PATCH the whole array, only when it changes."""
        results = []
        for record_id in ids:
            resource = self.client.get_customer(record_id)
            if resource is None:
                results.append(WriteResult(ref=record_id, error="Kustomer: customer not found"))
                continue
            current = [str(t) for t in (resource.get("attributes") or {}).get("tags") or []]
            wanted = [t for t in current if t != tag] + ([tag] if add else [])
            if wanted == current:
                results.append(WriteResult(ref=record_id, record=self._contact(resource)))
                continue
            results.append(self._send(record_id, {"tags": wanted}, record_id))
        return results

    def tag(self, ids: list[str], tag: str) -> list[WriteResult]:
        return self._retag(ids, tag, True)

    def untag(self, ids: list[str], tag: str) -> list[WriteResult]:
        return self._retag(ids, tag, False)
