"""The HubSpot connector: the contacts of one HubSpot account (portal), through CRM v3.

Authorized by OAuth 2.0 (HubSpot's install page, through the kit's connect views) or by a
private app's static access token stored as the ``private_app_token`` credential.

Change feed: the first run lists every contact with ``GET /crm/v3/objects/contacts`` (100 a
page, the largest the endpoint allows), anchoring the next run at the time HubSpot answered the
listing's first page (less an overlap). Later runs search ``lastmodifieddate >= cursor``
(less ``SEARCH_OVERLAP``: search's index lags behind writes) ascending, 200 a page, with the kit's
``updated_at`` cursor: HubSpot stops a search at 10,000 results, so the search is started again
from the last stamp seen (ties at the cursor dropped).
Search leaves archived contacts out; they are read from ``?archived=true`` (one call per 100
archived contacts a run, at most ``MAX_ARCHIVED_PAGES``: HubSpot keeps archived contacts about
90 days) and those archived since the cursor come as deletions.

A contact unsubscribed from all email (``hs_email_optout``) is read as unsubscribed. Tags are
static lists (``MANUAL`` lists of contacts): read with the records' list memberships,
added and removed through the lists API. Joining or leaving a list leaves ``lastmodifieddate`` as
it was, so each later run also reads every static list's members (``memberships``: one call per
250 members of each static list, lists past 10,000 members not followed) and reports the
contacts that joined or left one since the checkpoint, read with ``batch/read`` (one call per 100
of them); the checkpoint keeps the members compressed, a few bytes each. A record's version
names its lists, so a linked contact read again for its lists is not skipped as applied.
Creates and updates go 100 at a time through the batch endpoints; a 207 multi-status is read
record by record (each input carries an ``objectWriteTraceId``, since HubSpot answers a batch
in no particular order).
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from django.views.decorators.debug import sensitive_variables

from integrations.connectors import feed, oauth
from integrations.connectors.api import response_json
from integrations.connectors.base import (
    AUTH_OAUTH2_OR_CREDENTIALS,
    AccountInfo,
    Capabilities,
    Connector,
    ConnectorError,
    CredentialField,
)
from integrations.connectors.batch import chunked, failed, throttled
from integrations.connectors.hubspot import mappers, memberships
from integrations.connectors.hubspot.client import (
    OAUTH,
    PREFIX,
    HubSpotClient,
    HubSpotRefusal,
    refusal,
)
from integrations.sync.fields import ConditionSpec, FieldSpec, NameStyle
from integrations.sync.records import (
    TAGS,
    Checkpoint,
    Contact,
    ContactUpdate,
    NewContact,
    Page,
    WriteResult,
    is_custom_key,
    normalize_email,
)

BATCH = 100
LIST_PAGE_SIZE = 100
SEARCH_PAGE_SIZE = 200
SEARCH_MAX_RESULTS = 10_000
# Seconds before HubSpot's answer to a full listing that the next change search starts from:
# writes made while the listing ran, and search's indexing delay, fall inside it.
SCAN_OVERLAP = 120.0
MAX_ARCHIVED_PAGES = 100
MAX_LIST_PAGES = 100
# Search reads an index that lags behind writes by seconds (api-notes §3.3): each change search
# starts this long before the cursor, so a change indexed after a later one is still found.
# What is read again is dropped by id and version.
SEARCH_OVERLAP = 60.0


def _in_list(record: Contact, value: Any) -> bool:
    wanted = str(value or "").strip().casefold()
    return any(str(name).casefold() == wanted for name in record.facts.get("lists") or [])


def _not_in_list(record: Contact, value: Any) -> bool:
    return not _in_list(record, value)


def _stage_is(record: Contact, value: Any) -> bool:
    return bool(value) and record.facts.get("lifecycle_stage") == value


def _iso(when: dt.datetime) -> str:
    when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class HubSpotConnector(Connector):
    slug = "hubspot"
    name = "HubSpot"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "private_app_token",
            "Private app access token",
            secret=True,
            required=False,
            help_text="Settings > Integrations > Private apps, with the contacts and lists scopes",
        ),
        CredentialField("refresh_token", "Refresh token", secret=True, required=False),
        CredentialField("access_token", "Access token", secret=True, required=False),
        CredentialField("expires_at", "Access token expiry (epoch seconds)", required=False),
    )
    secret_credential_keys = frozenset({"private_app_token", "access_token", "refresh_token"})
    capabilities = Capabilities(
        name_style=NameStyle.SPLIT,
        # HubSpot's install page, or a private app's token typed in.
        auth=AUTH_OAUTH2_OR_CREDENTIALS,
        oauth=OAUTH,
        credentials_form=(
            CredentialField(
                "private_app_token",
                "Private app access token",
                secret=True,
                help_text="Settings > Integrations > Private apps, with the contacts and lists "
                "scopes",
            ),
        ),
        tag_noun="list",
        supports_tags=True,
        supports_deletions=True,
        # Unsubscribed from all email (``hs_email_optout``) is read; lists can be tagged.
        supports_unsubscribes=True,
        read_page_size=SEARCH_PAGE_SIZE,
        create_batch_size=BATCH,
        update_batch_size=BATCH,
        lookup_batch_size=BATCH,
        conditions=(
            ConditionSpec("hubspot.in_list", "Is in list", _in_list),
            ConditionSpec("hubspot.not_in_list", "Is not in list", _not_in_list),
            ConditionSpec(
                "hubspot.lifecycle_stage",
                "Lifecycle stage is",
                _stage_is,
                choices=mappers.LIFECYCLE_STAGES,
            ),
        ),
    )

    @sensitive_variables()
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tokens = oauth.OAuthTokens(self)
        private = bool(self.credentials.get("private_app_token"))
        self.api = HubSpotClient(
            self.http,
            token=self._token,
            renew_token=None if private else self._renew,
        )
        self._custom: dict[str, FieldSpec] | None = None
        # Lists by id: (name, static).
        self._lists: dict[str, tuple[str, bool]] | None = None
        self._overlap = 0.0

    @classmethod
    @sensitive_variables()
    def validate_credentials(cls, credentials: Mapping[str, Any]) -> dict[str, Any]:
        cleaned = super().validate_credentials(credentials)
        if not cleaned.get("private_app_token") and not cleaned.get("refresh_token"):
            raise ValueError(
                "HubSpot needs a private app access token, or an OAuth refresh token (connect "
                "the account through HubSpot's install page)."
            )
        return cleaned

    # ---- auth --------------------------------------------------------------------------------

    @sensitive_variables()
    def _token(self) -> str:
        private = self.credentials.get("private_app_token")
        if private:
            return str(private)
        try:
            return self.tokens.token()
        except ConnectorError as exc:
            raise _grant_error(exc) from None

    @sensitive_variables()
    def _renew(self) -> bool:
        try:
            return self.tokens.renew()
        except ConnectorError as exc:
            raise _grant_error(exc) from None

    def check(self) -> AccountInfo:
        """The account's details (any valid token may read them); for an OAuth token, who
        installed it: re-authorizing as someone else is refused."""
        details = self.api.account_details()
        hub = str(details.get("portalId") or "")
        label = f"HubSpot account {hub}" if hub else "HubSpot account"
        if self.credentials.get("private_app_token"):
            return AccountInfo(label=label, details={"hub_id": hub}, account_id=hub)
        info = self.api.token_info(self._token())
        user = str(info.get("user") or "")
        domain = str(info.get("hub_domain") or "")
        return AccountInfo(
            label=f"{domain or label} ({user})" if user else domain or label,
            details={"hub_id": hub, "hub_domain": domain},
            identity=user,
            account_id=hub,
        )

    # ---- fields ------------------------------------------------------------------------------

    @classmethod
    def standard_fields(cls) -> tuple[FieldSpec, ...]:
        return mappers.STANDARD_FIELDS

    def custom_fields(self) -> dict[str, FieldSpec]:
        if self._custom is None:
            found: dict[str, FieldSpec] = {}
            for prop in self.api.contact_properties():
                spec = mappers.custom_field(prop)
                if spec is not None:
                    found[spec.key] = spec
            self._custom = found
        return self._custom

    def fields(self) -> list[FieldSpec]:
        return [*self.standard_fields(), *self.custom_fields().values()]

    def _properties(self) -> list[str]:
        return mappers.properties_to_read(key[len("custom.") :] for key in self.custom_fields())

    # ---- lists -------------------------------------------------------------------------------

    def lists(self, *, fresh: bool = False) -> dict[str, tuple[str, bool]]:
        if self._lists is None or fresh:
            found: dict[str, tuple[str, bool]] = {}
            offset = 0
            for _ in range(MAX_LIST_PAGES):
                page = self.api.search_lists(offset=offset)
                for item in page.get("lists") or []:
                    static = item.get("processingType") == "MANUAL"
                    found[str(item["listId"])] = (str(item.get("name") or ""), static)
                next_offset = int(page.get("offset") or 0)
                if not page.get("hasMore") or next_offset <= offset:
                    break
                offset = next_offset
            self._lists = found
        return self._lists

    def _list_id(self, name: str, *, create: bool) -> str:
        """The static list named ``name`` (made when ``create`` and missing); ``""`` when there
        is none. A list of that name that is not static cannot be a tag: ``RecordRefused``."""
        wanted = name.casefold()
        for fresh in (False, True):
            for list_id, (list_name, static) in self.lists(fresh=fresh).items():
                if list_name.casefold() == wanted:
                    if not static:
                        raise HubSpotRefusal(
                            f"HubSpot refused tags: the list {name!r} is not a static list, "
                            "so contacts cannot be added to or removed from it",
                            field=TAGS,
                            status=None,
                        )
                    return list_id
        if not create:
            return ""
        made = self.api.create_list(name)
        list_id = str(made["listId"])
        self.lists()[list_id] = (name, True)
        return list_id

    def _memberships(self, ids: list[str]) -> dict[str, tuple[list[str], list[str]]]:
        """Per record: (its static lists, every list it is in), by name."""
        found: dict[str, tuple[list[str], list[str]]] = {}
        for chunk in chunked(ids, BATCH):
            answer = self.api.memberships(chunk)
            known = self.lists()
            unknown = {
                str(m.get("listId"))
                for r in answer.get("results") or []
                for m in r.get("recordListMemberships") or []
                if str(m.get("listId")) not in known
            }
            if unknown:
                known = self.lists(fresh=True)
            for result in answer.get("results") or []:
                names = [
                    known[str(m.get("listId"))]
                    for m in result.get("recordListMemberships") or []
                    if str(m.get("listId")) in known
                ]
                found[str(result.get("recordId"))] = (
                    [n for n, static in names if static],
                    [n for n, _ in names],
                )
        return found

    def _contacts(self, objects: list[dict[str, Any]]) -> list[Contact]:
        live = [str(o["id"]) for o in objects if not o.get("archived")]
        member_of = self._memberships(live) if live else {}
        custom = self.custom_fields()
        return [
            mappers.contact_from_object(o, custom, *member_of.get(str(o["id"]), ([], [])))
            for o in objects
        ]

    # ---- reads -------------------------------------------------------------------------------

    def list_changed(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        since = str((checkpoint or {}).get("updated_at") or "")
        self.lists(fresh=True)
        if not since:
            yield from self._scan()
            return
        kept = str((checkpoint or {}).get(memberships.KEY) or "")
        before = memberships.decode(kept) if kept else None
        carried = {memberships.KEY: kept} if kept else {}
        last: Checkpoint = dict(checkpoint or {})
        seen: set[str] = set()
        self._overlap = SEARCH_OVERLAP
        for page in feed.updated_at_pages(checkpoint, self._search_changed, app_name=self.name):
            last = {**page.checkpoint, **carried}
            seen.update(r.id for r in page.records)
            yield Page(records=page.records, checkpoint=last, full_scan=page.full_scan)
        archived = self._archived_since(since)
        if archived:
            seen.update(r.id for r in archived)
            yield Page(records=archived, checkpoint=last)
        # List memberships: a checkpoint from before they were kept only starts keeping them.
        now = self._list_members()
        joined_or_left = memberships.changed(before, now) - seen if before is not None else set()
        records = self.get_many(sorted(joined_or_left, key=int))
        yield Page(records=records, checkpoint={**last, memberships.KEY: memberships.encode(now)})

    def _list_members(self) -> memberships.Members:
        static = [list_id for list_id, (_, is_static) in self.lists().items() if is_static]
        return memberships.read(self.api, static)

    def _scan(self) -> Iterator[Page]:
        """Every live contact, through the list endpoint; the last page anchors the next run."""
        after = ""
        anchor = ""
        properties = self._properties()
        # Read before the contacts: who joins a list meanwhile is reported again next run.
        members = memberships.encode(self._list_members())
        while True:
            response = self.api.request(
                "GET",
                "/crm/v3/objects/contacts",
                kind="list contacts",
                params={
                    "limit": LIST_PAGE_SIZE,
                    "properties": ",".join(properties),
                    **({"after": after} if after else {}),
                },
            )
            if not anchor:
                anchor = _anchor(response.headers.get("Date"))
            body = response_json(response)
            records = self._contacts(list(body.get("results") or []))
            after = str(((body.get("paging") or {}).get("next") or {}).get("after") or "")
            if after:
                yield Page(records=records, checkpoint={}, full_scan=True)
                continue
            checkpoint: Checkpoint = {
                "updated_at": anchor,
                "seen_ids": [],
                "revs": {},
                memberships.KEY: members,
            }
            yield Page(records=records, checkpoint=checkpoint, full_scan=True)
            return

    def _search_changed(self, since: str | None) -> Iterator[feed.Listed]:
        # The overlap goes with a run's first search only: a restart past the 10,000-result cap
        # starts at its last stamp, or a burst of writes in the overlap would never be passed.
        overlap, self._overlap = self._overlap, 0.0
        filters = (
            [
                {
                    "filters": [
                        {
                            "propertyName": "lastmodifieddate",
                            "operator": "GTE",
                            "value": str(int(mappers.epoch_ms(since)) - int(overlap * 1000)),
                        }
                    ]
                }
            ]
            if since
            else []
        )
        body: dict[str, Any] = {
            "filterGroups": filters,
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": self._properties(),
            "limit": SEARCH_PAGE_SIZE,
            "after": "0",
        }
        while True:
            answer = self.api.search_contacts(body)
            objects = list(answer.get("results") or [])
            records = self._contacts(objects)
            stamps = [
                str((o.get("properties") or {}).get("lastmodifieddate") or o.get("updatedAt"))
                for o in objects
            ]
            after = str(((answer.get("paging") or {}).get("next") or {}).get("after") or "")
            # Past 10,000 results HubSpot answers 400: restart from the last stamp instead.
            capped = bool(after) and int(after) + SEARCH_PAGE_SIZE > SEARCH_MAX_RESULTS
            yield feed.Listed(
                list(zip(records, stamps, strict=True)), last=not after, capped=capped
            )
            if not after or capped:
                return
            body = {**body, "after": after}

    def _archived_since(self, since: str) -> list[Contact]:
        """Contacts archived at or after ``since`` (search never answers archived ones)."""
        found = []
        after = ""
        for _ in range(MAX_ARCHIVED_PAGES):
            body = self.api.list_contacts(
                properties=self._properties(), after=after, limit=LIST_PAGE_SIZE, archived=True
            )
            for obj in body.get("results") or []:
                if str(obj.get("archivedAt") or obj.get("updatedAt") or "") >= since:
                    found.append(obj)
            after = str(((body.get("paging") or {}).get("next") or {}).get("after") or "")
            if not after:
                break
        return self._contacts(found)

    def _read(self, keys: list[str], *, id_property: str = "") -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = []
        for chunk in chunked(list(dict.fromkeys(keys)), BATCH):
            answer = self.api.batch_read(
                chunk, properties=self._properties(), id_property=id_property
            )
            objects.extend(answer.get("results") or [])
        return objects

    def get_many(self, ids: list[str]) -> list[Contact]:
        wanted = [i for i in ids if i and i.isdigit()]
        return self._contacts(self._read(wanted)) if wanted else []

    def find_by_emails(self, emails: list[str]) -> dict[str, list[Contact]]:
        wanted = list(dict.fromkeys(normalize_email(e) for e in emails if e and e.strip()))
        found: dict[str, list[Contact]] = {}
        for contact in self._contacts(self._read(wanted, id_property="email")) if wanted else []:
            for email_ in contact.normalized_emails:
                if email_ in wanted and all(c.id != contact.id for c in found.get(email_, [])):
                    found.setdefault(email_, []).append(contact)
        return found

    # ---- writes ------------------------------------------------------------------------------

    def _problem(self, values: Mapping[str, Any]) -> str:
        fields = self.field_map()
        for key, value in values.items():
            if key == TAGS:
                continue
            spec = fields.get(key)
            if spec is None:
                if is_custom_key(key):
                    return f"{PREFIX[:-1]} refused {key}: no such property in this account"
                continue
            if spec.read_only:
                return f"{PREFIX[:-1]} refused {key}: the property is read-only"
            reason = mappers.value_problem(spec, value)
            if reason:
                return f"{PREFIX[:-1]} refused {key}: {reason}"
        return ""

    def create_many(self, items: list[NewContact]) -> list[WriteResult]:
        results: dict[str, WriteResult] = {}
        for batch in chunked(items, BATCH):
            inputs = []
            for item in batch:
                problem = self._problem(item.values)
                if problem:
                    results[item.ref] = WriteResult(ref=item.ref, error=problem)
                    continue
                props = mappers.properties_from_values(item.values, self.custom_fields())
                inputs.append(
                    {
                        "properties": {k: v for k, v in props.items() if v != ""},
                        "associations": [],
                        "objectWriteTraceId": item.ref,
                    }
                )
            results.update(self._send("create", inputs))
        ordered = [results[i.ref] for i in items]
        self._tag_new(items, ordered)
        return ordered

    def update_many(self, items: list[ContactUpdate]) -> list[WriteResult]:
        results: dict[str, WriteResult] = {}
        for batch in chunked(items, BATCH):
            inputs = []
            for item in batch:
                problem = self._problem(item.changes)
                if problem:
                    results[item.id] = WriteResult(ref=item.id, error=problem)
                    continue
                props = mappers.properties_from_values(item.changes, self.custom_fields())
                if props:
                    inputs.append(
                        {"id": item.id, "properties": props, "objectWriteTraceId": item.id}
                    )
            results.update(self._send("update", inputs))
            for item in batch:
                if TAGS not in item.changes:
                    if item.id not in results:  # nothing to write
                        current = self.get_many([item.id])
                        results[item.id] = (
                            WriteResult(ref=item.id, record=current[0])
                            if current
                            else WriteResult(ref=item.id, error=f"{PREFIX} contact not found")
                        )
                elif item.id not in results or results[item.id].ok:
                    results[item.id] = self._retag(
                        item.id, item.changes[TAGS], results.get(item.id)
                    )
        return [results[i.id] for i in items]

    def _send(self, what: str, inputs: list[dict[str, Any]]) -> dict[str, WriteResult]:
        """One batch call; a 207 is read input by input (by ``objectWriteTraceId``)."""
        if not inputs:
            return {}
        sent = [str(i["objectWriteTraceId"]) for i in inputs]
        try:
            if what == "create":
                answer = self.api.batch_create(inputs)
            else:
                answer = self.api.batch_update(inputs)
        except ConnectorError as exc:
            if exc.status == 429:
                return {ref: throttled(ref, exc) for ref in sent}
            if len(inputs) > 1 and exc.status in (400, 409):
                # The whole batch refused for one input: send them one by one.
                out: dict[str, WriteResult] = {}
                for one in inputs:
                    out.update(self._send(what, [one]))
                return out
            return {ref: failed(ref, exc) for ref in sent}
        out = {}
        custom = self.custom_fields()
        for obj in answer.get("results") or []:
            ref = str(obj.get("objectWriteTraceId") or "")
            if what == "update" and not ref:
                ref = str(obj.get("id"))
            if ref in sent:
                out[ref] = WriteResult(ref=ref, record=mappers.contact_from_object(obj, custom))
        for error in answer.get("errors") or []:
            context = error.get("context") or {}
            named = [str(v) for v in context.get("objectWriteTraceId") or context.get("ids") or []]
            refused = refusal(
                str(error.get("category") or ""),
                str(error.get("message") or ""),
                [e for e in error.get("errors") or [] if isinstance(e, dict)],
                400,
            )
            for ref in named:
                if ref in sent and ref not in out:
                    not_found = error.get("category") == "OBJECT_NOT_FOUND"
                    out[ref] = WriteResult(
                        ref=ref,
                        error=f"{PREFIX} contact not found" if not_found else refused.message,
                    )
        for ref in sent:
            out.setdefault(
                ref,
                WriteResult(
                    ref=ref, error=f"{PREFIX} the batch answered nothing for it", permanent=False
                ),
            )
        return out

    def _tag_new(self, items: list[NewContact], results: list[WriteResult]) -> None:
        by_tag: dict[str, list[int]] = {}
        for index, (item, result) in enumerate(zip(items, results, strict=True)):
            if result.ok:
                for tag in item.values.get(TAGS) or []:
                    by_tag.setdefault(str(tag), []).append(index)
        for tag, indexes in by_tag.items():
            outcomes = self.tag([r.id for i in indexes if (r := results[i].record)], tag)
            for index, outcome in zip(indexes, outcomes, strict=True):
                # A list it could not join leaves the contact created: never a failed create,
                # which the next run would create again.
                if outcome.ok:
                    results[index].record = outcome.record

    def _retag(self, record_id: str, tags: Any, previous: WriteResult | None) -> WriteResult:
        """Make the record's static lists exactly ``tags``."""
        found = self.get_many([record_id])
        if not found:
            return WriteResult(ref=record_id, error=f"{PREFIX} contact not found")
        wanted = {str(t) for t in tags or []}
        have = set(found[0].tags)
        outcome = previous or WriteResult(ref=record_id, record=found[0])
        for tag in sorted(wanted - have):
            outcome = self.tag([record_id], tag)[0]
        for tag in sorted(have - wanted):
            outcome = self.untag([record_id], tag)[0]
        return outcome

    def tag(self, ids: list[str], tag: str) -> list[WriteResult]:
        return self._membership(ids, tag, add=True)

    def untag(self, ids: list[str], tag: str) -> list[WriteResult]:
        return self._membership(ids, tag, add=False)

    def _membership(self, ids: list[str], tag: str, *, add: bool) -> list[WriteResult]:
        if not ids:
            return []
        missing: set[str] = set()
        try:
            list_id = self._list_id(tag, create=add)
            if list_id:
                answer = self.api.change_members(list_id, list(dict.fromkeys(ids)), add=add)
        except ConnectorError as exc:
            return [failed(i, exc) for i in ids]
        if list_id:
            missing = {str(i) for i in answer.get("recordIdsMissing") or []}
        current = {c.id: c for c in self.get_many([i for i in ids if i not in missing])}
        return [
            WriteResult(ref=i, record=current[i])
            if i in current
            else WriteResult(ref=i, error=f"{PREFIX} contact not found")
            for i in ids
        ]


def _grant_error(exc: ConnectorError) -> ConnectorError:
    """HubSpot's token endpoint answers its own body (``{"status": "BAD_REFRESH_TOKEN"}``), not
    RFC 6749's, so the kit cannot tell a revoked grant: a 400 to a refresh grant is one."""
    if exc.status == 400 and not exc.reauthorize:
        return ConnectorError(
            f"{PREFIX} access was revoked or expired; authorize the account again.",
            reauthorize=True,
            status=400,
        )
    return exc


def _anchor(date_header: str | None) -> str:
    """Where the change search after a full listing starts: when HubSpot answered the listing's
    first page (its ``Date``), less ``SCAN_OVERLAP``; records read twice are dropped by id and
    version."""
    when = None
    if date_header:
        try:
            when = email.utils.parsedate_to_datetime(date_header)
        except (TypeError, ValueError):
            when = None
    if when is None:
        raise ConnectorError(f"{PREFIX} the listing's answer had no Date to anchor changes at.")
    return _iso(when - dt.timedelta(seconds=SCAN_OVERLAP))
