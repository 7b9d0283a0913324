"""Google Contacts through the People API.

Change feed: the first run (and any run whose sync token expired: 410, or 400 with
``EXPIRED_SYNC_TOKEN``) lists every contact with ``requestSyncToken=true`` (``Page.full_scan``);
later runs pass the stored ``syncToken`` and get only changes, deletions as tombstones
(``metadata.deleted``). Google hands out ``nextSyncToken`` on the last page only, so only the
last page carries ``{"sync_token": ...}``; earlier pages carry the checkpoint the listing started
from (the previous token, or ``{}`` for a full listing). Saving that after any page is safe: a
crash re-reads from the old token, and the engine drops records already applied by id + etag. A
page token is never saved as a resume point: Google binds it to the exact request and documents
no lifetime, so resuming from one could fail where the old sync token cannot.

``find_by_emails`` lists the whole book (bounded by Google's 25,000-contact cap) and indexes it
by email, rather than ``searchContacts``, which Google documents as eventually consistent (it
needs a warm-up request and misses fresh writes) and which matches prefixes of several fields,
30 results at most. One listing answers lookups for ``LOOKUP_TTL`` seconds; records this
connector wrote are laid over it, since listings lag behind writes.

Updates write only the Person fields the changes touch (``updateMask``); names, organization and
custom fields are shared between several Tandem fields, so those are merged into the stored
person first. Contacts whose changes touch the same Person fields go in one
``batchUpdateContacts``. A stale etag means someone edited the contact meanwhile: the contact is
read again, only the requested changes are re-applied onto it, and the write is tried again
(``UPDATE_TRIES`` in all).
"""

from __future__ import annotations

import datetime as dt
import time
from array import array
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from django.views.decorators.debug import sensitive_variables

from integrations.connectors import oauth
from integrations.connectors.api import json_object
from integrations.connectors.base import (
    AUTH_OAUTH2,
    AccountInfo,
    Capabilities,
    Connector,
    ConnectorError,
    CredentialField,
)
from integrations.connectors.batch import chunked, throttled
from integrations.connectors.google_contacts import mappers
from integrations.connectors.google_contacts.client import (
    OAUTH,
    PREFIX,
    GoogleApiError,
    PeopleClient,
)
from integrations.sync.fields import ConditionSpec, FieldSpec, FieldType, NameStyle
from integrations.sync.packed import HashIndex, Strings
from integrations.sync.records import (
    CUSTOM_PREFIX,
    Checkpoint,
    Contact,
    ContactUpdate,
    NewContact,
    Page,
    WriteResult,
    custom_key,
    is_custom_key,
    normalize_email,
)

BATCH = 200
# connections.list answers at most 1,000 a page.
READ_PAGE_SIZE = 1000
LOOKUP_PAGE_SIZE = 1000
# Google caps an account at 25,000 contacts.
MAX_LOOKUP_PAGES = 25
# How long one listing of the book answers ``find_by_emails``; our own writes are laid over it.
LOOKUP_TTL = 60.0
FIELD_DISCOVERY_PAGES = 3
UPDATE_TRIES = 3


def _has_label(contact: Contact, value: Any) -> bool:
    wanted = str(value or "").strip().casefold()
    return any(t.casefold() == wanted for t in contact.tags)


def _lacks_label(contact: Contact, value: Any) -> bool:
    return not _has_label(contact, value)


@dataclass(frozen=True)
class _Written:
    """A contact this connector wrote: when, and the emails it then held."""

    updated_at: dt.datetime | None
    emails: tuple[str, ...]


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NAIVE_EPOCH = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)


class _WrittenBook:
    """The contacts this connector wrote, by id, as ``_Written`` (the latest write of each),
    packed (``sync/packed.py``): a scan writes tens of thousands, which took 420 bytes each
    as a dict of objects and take under 100 here. Times are kept as microseconds since the
    epoch (compared as before: an aware time as the same instant, a naive one as naive)."""

    def __init__(self) -> None:
        self._ids = Strings()
        self._entries = HashIndex()
        # Per write: its time's kind (0 none, 1 aware, 2 naive), the time, its first email.
        self._kinds = bytearray()
        self._times = array("q")
        self._first_email = array("q")
        self._emails = Strings()

    def note(self, record_id: str, updated_at: dt.datetime | None, emails: list[str]) -> None:
        self._entries.add(record_id, self._ids.add(record_id))
        if updated_at is None:
            self._kinds.append(0)
            self._times.append(0)
        elif updated_at.utcoffset() is None:
            self._kinds.append(2)
            self._times.append((updated_at.replace(tzinfo=None) - _NAIVE_EPOCH) // _MICROSECOND)
        else:
            self._kinds.append(1)
            self._times.append((updated_at - _EPOCH) // _MICROSECOND)
        self._first_email.append(len(self._emails))
        self._emails.extend(emails)

    def _latest(self, record_id: str) -> int | None:
        for entry in reversed(self._entries.candidates(record_id)):
            if self._ids[entry] == record_id:
                return entry
        return None

    def _written(self, entry: int) -> _Written:
        kind, time_ = self._kinds[entry], self._times[entry]
        at = None if kind == 0 else (_EPOCH if kind == 1 else _NAIVE_EPOCH) + time_ * _MICROSECOND
        end = self._first_email[entry + 1] if entry + 1 < len(self._ids) else len(self._emails)
        return _Written(at, tuple(self._emails[i] for i in range(self._first_email[entry], end)))

    def __getitem__(self, record_id: str) -> _Written:
        entry = self._latest(record_id)
        if entry is None:
            raise KeyError(record_id)
        return self._written(entry)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(self._ids[entry] for entry in range(len(self._ids))))

    def items(self) -> Iterator[tuple[str, _Written]]:
        latest = {self._ids[entry]: entry for entry in range(len(self._ids))}
        return ((record_id, self._written(entry)) for record_id, entry in latest.items())


def _newer(ours: _Written, listed: Contact) -> bool:
    if ours.updated_at is None or listed.updated_at is None:
        return True
    return ours.updated_at >= listed.updated_at


STANDARD_FIELDS = (
    FieldSpec("first_name", "First name", FieldType.TEXT, canonical="name.first"),
    FieldSpec("last_name", "Last name", FieldType.TEXT, canonical="name.last"),
    FieldSpec("name_prefix", "Name prefix", FieldType.TEXT, canonical="name.prefix"),
    FieldSpec("name_suffix", "Name suffix", FieldType.TEXT, canonical="name.suffix"),
    FieldSpec("emails", "Emails", FieldType.EMAIL, multi=True, canonical="email"),
    FieldSpec("phones", "Phones", FieldType.PHONE, multi=True, canonical="phone"),
    FieldSpec("company", "Company", FieldType.TEXT, canonical="company"),
    FieldSpec("job_title", "Job title", FieldType.TEXT, canonical="job_title"),
    FieldSpec("addresses", "Addresses", FieldType.ADDRESS, multi=True, canonical="address"),
    FieldSpec("birthday", "Birthday", FieldType.DATE, canonical="birthday"),
    FieldSpec("urls", "Websites", FieldType.URL, multi=True, canonical="url"),
    FieldSpec("notes", "Notes", FieldType.LONG_TEXT, canonical="notes"),
    FieldSpec("tags", "Labels", FieldType.TAGS, multi=True, canonical="tags"),
)


def _user_defined_keys(people: list[dict[str, Any]]) -> set[str]:
    return {
        str(item["key"])
        for person in people
        for item in person.get("userDefined") or []
        if item.get("key")
    }


def _custom_field(name: str) -> FieldSpec:
    """A userDefined key: free text, readable and writable whatever its name."""
    return FieldSpec(custom_key(name), name, FieldType.TEXT, custom=True)


class GoogleContactsConnector(Connector):
    slug = "google_contacts"
    name = "Google Contacts"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField("refresh_token", "Refresh token", secret=True),
        CredentialField("access_token", "Access token", secret=True, required=False),
        CredentialField("expires_at", "Access token expiry (epoch seconds)", required=False),
    )
    secret_credential_keys = frozenset({"access_token", "refresh_token"})
    capabilities = Capabilities(
        name_style=NameStyle.SPLIT,
        auth=AUTH_OAUTH2,
        oauth=OAUTH,
        tag_noun="label",
        supports_tags=True,
        supports_deletions=True,
        supports_unsubscribes=False,
        read_page_size=READ_PAGE_SIZE,
        create_batch_size=BATCH,
        update_batch_size=BATCH,
        lookup_batch_size=BATCH,
        conditions=(
            ConditionSpec("google_contacts.has_label", "Has label", _has_label),
            ConditionSpec("google_contacts.lacks_label", "Does not have label", _lacks_label),
        ),
    )

    @sensitive_variables()
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tokens = oauth.OAuthTokens(self)
        # The base URL is read from the settings at each call (``PeopleClient.url``).
        self.api = PeopleClient(
            self.http, "", token=self.tokens.token, renew_token=self.tokens.renew
        )
        self._groups: dict[str, str] | None = None
        self._written = _WrittenBook()
        self._lookup: tuple[float, dict[str, Contact]] | None = None
        # userDefined keys of every contact, once a full listing has been read to its end.
        self._listed_keys: set[str] | None = None

    # Reads ---------------------------------------------------------------------------------

    def check(self) -> AccountInfo:
        me = self.api.me()
        emails = [str(e["value"]) for e in me.get("emailAddresses") or [] if e.get("value")]
        email = emails[0] if emails else ""
        return AccountInfo(label=email or "Google account", identity=email)

    @classmethod
    def standard_fields(cls) -> tuple[FieldSpec, ...]:
        return STANDARD_FIELDS

    def fields(self) -> list[FieldSpec]:
        # Custom fields are the userDefined keys in use. After a full listing (a scan) they are
        # those of every contact, at no extra call; otherwise those found on the most recently
        # changed contacts, where a key someone just started using shows up.
        keys = self._listed_keys if self._listed_keys is not None else self._recent_keys()
        return [*self.standard_fields(), *(_custom_field(key) for key in sorted(keys))]

    def _recent_keys(self) -> set[str]:
        """userDefined keys on the most recently changed contacts, reading only that field to
        keep the few pages cheap."""
        keys: set[str] = set()
        page_token = ""
        for _ in range(FIELD_DISCOVERY_PAGES):
            page = json_object(
                self.api.connections_page(
                    page_size=LOOKUP_PAGE_SIZE,
                    page_token=page_token,
                    person_fields="userDefined",
                    newest_first=True,
                )
            )
            keys.update(_user_defined_keys(page.get("connections") or []))
            page_token = str(page.get("nextPageToken") or "")
            if not page_token:
                break
        return keys

    def fields_for_sync(self, keys: Collection[str]) -> dict[str, FieldSpec]:
        """Any userDefined key can be read and written, so a run needs no discovery: the
        standard fields and a text field for each custom key it uses (after a full listing,
        every key found, at no extra call)."""
        if self._listed_keys is not None:
            return self.field_map()
        specs = {spec.key: spec for spec in STANDARD_FIELDS}
        for key in sorted(keys):
            if is_custom_key(key):
                specs[key] = _custom_field(key[len(CUSTOM_PREFIX) :])
        return specs

    def groups(self, *, fresh: bool = False) -> dict[str, str]:
        """User contact groups (labels): resourceName -> name."""
        if self._groups is None or fresh:
            groups: dict[str, str] = {}
            page_token = ""
            while True:
                listed = self.api.list_groups(page_token)
                for group in listed.get("contactGroups") or []:
                    if group.get("groupType") == "USER_CONTACT_GROUP":
                        groups[str(group["resourceName"])] = str(group.get("name") or "")
                page_token = str(listed.get("nextPageToken") or "")
                if not page_token:
                    break
            self._groups = groups
        return self._groups

    def _contact(self, person: dict[str, Any]) -> Contact:
        return mappers.person_to_contact(person, self.groups())

    def list_changed(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        start: Checkpoint = dict(checkpoint or {})
        sync_token = str(start.get("sync_token") or "")
        self.groups(fresh=True)
        if sync_token:
            try:
                yield from self._pages(start, sync_token)
                return
            except GoogleApiError as exc:
                if not exc.expired_sync_token:
                    raise
            start = {}
        yield from self._pages(start, "")

    def _pages(self, start: Checkpoint, sync_token: str) -> Iterator[Page]:
        full = not sync_token
        page_token = ""
        keys: set[str] = set()
        while True:
            body = self.api.connections_page(
                page_size=READ_PAGE_SIZE,
                page_token=page_token,
                sync_token=sync_token,
                request_sync_token=True,
            )
            groups = self.groups()
            # A change feed's records have their values decoded and converted when first
            # read: most of the first run after a scan are own writes, dropped on id and
            # etag alone.
            listed = None if full else mappers.listed_page(body, groups)
            if listed is None:
                answer = json_object(body)
                people = answer.get("connections") or []
                if full:
                    keys.update(_user_defined_keys(people))
                contact = mappers.person_to_contact
                listed = mappers.ListedPage(
                    records=[contact(p, groups, deferred=not full) for p in people],
                    next_page_token=str(answer.get("nextPageToken") or ""),
                    next_sync_token=str(answer.get("nextSyncToken") or ""),
                )
            records, page_token = listed.records, listed.next_page_token
            if page_token:
                yield Page(records=records, checkpoint=dict(start), full_scan=full)
                continue
            if full:
                self._listed_keys = keys
            next_sync = listed.next_sync_token
            checkpoint = {"sync_token": next_sync} if next_sync else dict(start)
            yield Page(records=records, checkpoint=checkpoint, full_scan=full)
            return

    def _read(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Stored persons by the name asked for (Google answers for previous names too)."""
        found: dict[str, dict[str, Any]] = {}
        for batch in chunked(ids, BATCH):
            answer = self.api.batch_get(batch)
            for item in answer.get("responses") or []:
                if item.get("person"):
                    found[str(item.get("requestedResourceName"))] = item["person"]
        return found

    def get_many(self, ids: list[str]) -> list[Contact]:
        if not ids:
            return []
        people = self._read(list(dict.fromkeys(ids)))
        return [self._contact(p) for p in people.values()]

    def find_by_emails(self, emails: list[str]) -> dict[str, list[Contact]]:
        wanted = {normalize_email(e) for e in emails if e and e.strip()}
        if not wanted:
            return {}
        book = self._book()
        # Contacts this connector wrote since (or just before) the book was listed: the book
        # may show them stale or not yet, so those holding a wanted email are read afresh.
        fresher = {
            record_id
            for record_id, written in self._written.items()
            if record_id not in book or _newer(written, book[record_id])
        }
        found: dict[str, list[Contact]] = {}

        def hold(contact: Contact) -> None:
            if not contact.deleted:
                for email in set(contact.normalized_emails) & wanted:
                    found.setdefault(email, []).append(contact)

        for record_id, contact in book.items():
            if record_id not in fresher:
                hold(contact)
        reread = [i for i in sorted(fresher) if set(self._written[i].emails) & wanted]
        for contact in self.get_many(reread):
            hold(contact)
        return found

    def find_by_intent_keys(self, keys: list[str]) -> dict[str, Contact]:
        """Contacts whose ``clientData`` carries a create intent's key: People has no search on
        ``clientData``, so the book is scanned (contacts written since it was listed read again)."""
        wanted = {k for k in keys if k}
        if not wanted:
            return {}
        book = dict(self._book())
        fresher = [
            i for i in sorted(self._written) if i not in book or _newer(self._written[i], book[i])
        ]
        for contact in self.get_many(fresher):
            book[contact.id] = contact
        return {
            c.idempotency_key: c
            for c in book.values()
            if c.idempotency_key in wanted and not c.deleted
        }

    def _book(self) -> dict[str, Contact]:
        """Every contact by id, from one listing reused for ``LOOKUP_TTL`` seconds: a run looks
        up emails page after page, and the book does not need listing again for each."""
        now = time.monotonic()
        if self._lookup is not None and now - self._lookup[0] < LOOKUP_TTL:
            return self._lookup[1]
        by_id: dict[str, Contact] = {}
        page_token = ""
        for _ in range(MAX_LOOKUP_PAGES):
            answer = json_object(
                self.api.connections_page(page_size=LOOKUP_PAGE_SIZE, page_token=page_token)
            )
            for person in answer.get("connections") or []:
                contact = self._contact(person)
                by_id[contact.id] = contact
            page_token = str(answer.get("nextPageToken") or "")
            if not page_token:
                break
        else:
            raise ConnectorError(
                f"{PREFIX} the contact book is larger than {MAX_LOOKUP_PAGES * LOOKUP_PAGE_SIZE} "
                "contacts, too large to look up by email."
            )
        self._lookup = (now, by_id)
        return by_id

    # Writes --------------------------------------------------------------------------------

    def _remember(self, contact: Contact) -> Contact:
        """Note a contact this connector wrote: only what ``find_by_emails`` needs to know it
        must read the contact afresh (a run may write tens of thousands)."""
        self._written.note(contact.id, contact.updated_at, contact.normalized_emails)
        return contact

    def _refusal(self, ref: str, exc: GoogleApiError) -> WriteResult:
        if not exc.permanent:
            raise exc
        reason = str(exc.error.get("message") or exc.google_status or "refused")
        field = mappers.refused_field(exc.error)
        return WriteResult(
            ref=ref, error=f"{PREFIX[:-1]} refused {field}: {reason}"[:500], permanent=True
        )

    def create_many(self, items: list[NewContact]) -> list[WriteResult]:
        results: list[WriteResult] = []
        for batch in chunked(items, BATCH):
            results.extend(self._create_batch(batch))
        return results

    def _create_batch(self, items: list[NewContact]) -> list[WriteResult]:
        people = [mappers.new_person(i.values, i.idempotency_key) for i in items]
        try:
            answer = self.api.batch_create(people)
        except GoogleApiError as exc:
            if exc.status == 429:
                return [throttled(item.ref, exc) for item in items]
            if exc.status != 400 or len(items) == 1:
                if exc.status == 400:
                    return [self._refusal(items[0].ref, exc)]
                raise
            # Google refuses the whole batch for one bad contact: write them one by one.
            return [
                self._create_one(item, person) for item, person in zip(items, people, strict=True)
            ]
        results = []
        answers = answer.get("createdPeople") or []
        for item, sent, created in zip(items, people, answers, strict=True):
            person = created.get("person")
            if person:
                results.append(WriteResult(ref=item.ref, record=self._created(sent, person)))
            else:
                message = str((created.get("status") or {}).get("message") or "not created")
                results.append(
                    WriteResult(ref=item.ref, error=f"{PREFIX[:-1]} refused the contact: {message}")
                )
        self._label_new(items, results)
        return results

    def _create_one(self, item: NewContact, person: dict[str, Any]) -> WriteResult:
        try:
            created = self.api.create(person)
        except GoogleApiError as exc:
            if exc.status == 429:
                return throttled(item.ref, exc)
            if exc.status == 400:
                return self._refusal(item.ref, exc)
            raise
        result = WriteResult(ref=item.ref, record=self._created(person, created))
        self._label_new([item], [result])
        return result

    def _created(self, sent: dict[str, Any], answer: dict[str, Any]) -> Contact:
        """The contact just created: the fields sent, with the name, etag, emails and update
        time Google answered with (``client.CREATED_FIELDS``: reading the whole person back
        doubled what a create moves)."""
        return self._remember(self._contact({**sent, **answer}))

    def _label_new(self, items: list[NewContact], results: list[WriteResult]) -> None:
        """Labels asked for at creation are contact-group memberships, added afterwards."""
        by_tag: dict[str, list[int]] = {}
        for index, (item, result) in enumerate(zip(items, results, strict=True)):
            if result.ok:
                for tag in item.values.get("tags") or []:
                    by_tag.setdefault(str(tag), []).append(index)
        for tag, indexes in by_tag.items():
            tagged = self.tag([r.id for i in indexes if (r := results[i].record)], tag)
            for index, outcome in zip(indexes, tagged, strict=True):
                if outcome.ok:
                    results[index].record = outcome.record

    def update_many(self, items: list[ContactUpdate]) -> list[WriteResult]:
        results: list[WriteResult] = []
        for batch in chunked(items, BATCH):
            results.extend(self._update_batch(batch))
        return results

    def _update_batch(self, items: list[ContactUpdate]) -> list[WriteResult]:
        results: dict[str, WriteResult] = {}
        tag_changes = {i.id: i.changes["tags"] for i in items if "tags" in i.changes}
        writes = [i for i in items if set(i.changes) - {"tags"}]
        need = [i.id for i in writes if mappers.needs_current(i.changes) or not i.version]
        current = self._read(need) if need else {}
        # One update mask covers a whole batch and replaces every masked field of every person
        # in it, so contacts are batched by the set of Person fields their changes touch.
        by_mask: dict[frozenset[str], dict[str, dict[str, Any]]] = {}
        for item in writes:
            if item.id in need and item.id not in current:
                results[item.id] = WriteResult(ref=item.id, error=f"{PREFIX} contact not found")
                continue
            stored = current.get(item.id)
            body, fields = mappers.changes_to_person(item.changes, stored)
            body["etag"] = stored["etag"] if stored else item.version
            by_mask.setdefault(frozenset(fields), {})[item.id] = body
        for mask, bodies in by_mask.items():
            if len(bodies) < 2:
                continue  # updateContact below costs the same and fails alone
            try:
                answer = self.api.batch_update(bodies, set(mask))
            except GoogleApiError as exc:
                if exc.status == 429:
                    results.update({name: throttled(name, exc) for name in bodies})
                    continue
                # One stale etag or bad value refuses the batch: write its contacts one by one.
                if exc.status != 400:
                    raise
                continue
            for name, outcome in (answer.get("updateResult") or {}).items():
                if outcome.get("person") and name in bodies:
                    contact = self._remember(self._contact(outcome["person"]))
                    results[name] = WriteResult(ref=name, record=contact)
        for item in writes:
            if item.id not in results:
                results[item.id] = self._update_one(item, current.get(item.id))
        for item in items:
            if item.id in tag_changes and (item.id not in results or results[item.id].ok):
                results[item.id] = self._retag(item.id, tag_changes[item.id], results.get(item.id))
        return [results[i.id] for i in items]

    def _update_one(self, item: ContactUpdate, stored: dict[str, Any] | None) -> WriteResult:
        for attempt in range(UPDATE_TRIES):
            body, mask = mappers.changes_to_person(item.changes, stored)
            body["etag"] = stored["etag"] if stored else item.version
            try:
                person = self.api.update(item.id, body, mask)
            except GoogleApiError as exc:
                if exc.status == 429:
                    return throttled(item.id, exc)
                if exc.stale_etag and attempt + 1 < UPDATE_TRIES:
                    stored = self.api.get(item.id)
                    continue
                if exc.stale_etag:
                    return WriteResult(
                        ref=item.id,
                        error=f"{PREFIX} the contact kept changing while it was written",
                        permanent=False,
                    )
                if exc.status in (400, 404):
                    return self._refusal(item.id, exc)
                raise
            return WriteResult(ref=item.id, record=self._remember(self._contact(person)))
        raise AssertionError("unreachable")  # pragma: no cover

    def _retag(self, record_id: str, tags: Any, previous: WriteResult | None) -> WriteResult:
        """Make the record's labels exactly ``tags``."""
        wanted = {str(t) for t in tags or []}
        record = previous.record if previous and previous.record else None
        if record is None:
            found = self.get_many([record_id])
            if not found:
                return WriteResult(ref=record_id, error=f"{PREFIX} contact not found")
            record = found[0]
        have = set(record.tags)
        outcome = WriteResult(ref=record_id, record=record)
        for tag in sorted(wanted - have):
            outcome = self.tag([record_id], tag)[0]
        for tag in sorted(have - wanted):
            outcome = self.untag([record_id], tag)[0]
        return outcome

    def _group(self, name: str, *, create: bool) -> str:
        for fresh in (False, True):
            for resource_name, group_name in self.groups(fresh=fresh).items():
                if group_name == name:
                    return resource_name
        if not create:
            return ""
        try:
            group = self.api.create_group(name)
        except GoogleApiError as exc:
            if exc.status != 409:
                raise
            return self._group(name, create=False)
        self.groups()[str(group["resourceName"])] = name
        return str(group["resourceName"])

    def tag(self, ids: list[str], tag: str) -> list[WriteResult]:
        return self._membership(ids, tag, add=True)

    def untag(self, ids: list[str], tag: str) -> list[WriteResult]:
        return self._membership(ids, tag, add=False)

    def _membership(self, ids: list[str], tag: str, *, add: bool) -> list[WriteResult]:
        if not ids:
            return []
        group = self._group(tag, create=add)
        refused: dict[str, str] = {}
        if group:
            for chunk in chunked(ids, BATCH):
                try:
                    answer = self.api.modify_members(
                        group, add=chunk if add else None, remove=None if add else chunk
                    )
                except GoogleApiError as exc:
                    if exc.status != 400:
                        raise
                    for record_id in chunk:
                        refused[record_id] = self._refusal(record_id, exc).error
                    continue
                for name in answer.get("notFoundResourceNames") or []:
                    refused[str(name)] = f"{PREFIX} contact not found"
                for name in answer.get("canNotRemoveLastContactGroupResourceNames") or []:
                    refused[str(name)] = (
                        f"{PREFIX[:-1]} refused tags: a contact must keep at least one label"
                    )
        current = self._read([i for i in ids if i not in refused])
        results = []
        for record_id in ids:
            if record_id in refused:
                results.append(WriteResult(ref=record_id, error=refused[record_id]))
            elif record_id in current:
                contact = self._remember(self._contact(current[record_id]))
                results.append(WriteResult(ref=record_id, record=contact))
            else:
                results.append(WriteResult(ref=record_id, error=f"{PREFIX} contact not found"))
        return results
