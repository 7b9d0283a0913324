"""Pure translations between People API ``Person`` JSON and Tandem's ``Contact``.

``id`` is the resourceName, ``version`` the etag, ``updated_at`` the contact source's updateTime,
``deleted`` comes from ``metadata.deleted`` (sync responses), the create-intent key from the
``clientData`` entry ``tandemIntent`` and ``facts["previous_ids"]`` from
``metadata.previousResourceNames``. Labels are user contact groups, named through ``groups``
(resourceName -> name).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import msgspec

from integrations import jsoncodec
from integrations.sync.records import (
    ADDRESSES,
    BIRTHDAY,
    COMPANY,
    CUSTOM_PREFIX,
    EMAILS,
    FIRST_NAME,
    JOB_TITLE,
    LAST_NAME,
    NAME_PREFIX,
    NAME_SUFFIX,
    NOTES,
    PHONES,
    TAGS,
    URLS,
    Contact,
    custom_key,
)

INTENT_KEY = "tandemIntent"
# Tandem field key -> the Person field holding it.
PERSON_FIELD = {
    NAME_PREFIX: "names",
    FIRST_NAME: "names",
    LAST_NAME: "names",
    NAME_SUFFIX: "names",
    EMAILS: "emailAddresses",
    PHONES: "phoneNumbers",
    COMPANY: "organizations",
    JOB_TITLE: "organizations",
    ADDRESSES: "addresses",
    BIRTHDAY: "birthdays",
    URLS: "urls",
    NOTES: "biographies",
}
# Tandem's name parts -> the keys of Google's ``names[0]``.
NAME_PARTS = {
    NAME_PREFIX: "honorificPrefix",
    FIRST_NAME: "givenName",
    LAST_NAME: "familyName",
    NAME_SUFFIX: "honorificSuffix",
}
# Person field -> the Tandem field named in error messages.
FIELD_NAME = {
    "names": "name",
    "emailAddresses": EMAILS,
    "phoneNumbers": PHONES,
    "organizations": COMPANY,
    "addresses": ADDRESSES,
    "birthdays": BIRTHDAY,
    "urls": URLS,
    "biographies": NOTES,
    "userDefined": "custom fields",
    "clientData": "client data",
    "memberships": TAGS,
}
ADDRESS_KEYS = {
    "street": "streetAddress",
    "city": "city",
    "region": "region",
    "postal_code": "postalCode",
    "country": "country",
    "type": "type",
}
DATE_PATTERN = re.compile(r"^(\d{4}|-)?-?(\d{1,2})-(\d{1,2})$")


def _not_primary(item: Mapping[str, Any]) -> bool:
    return not (item.get("metadata") or {}).get("primary")


def _items(person: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The items of a Person field, the primary one first (Google marks it in
    ``metadata.primary`` but does not promise to list it first). The items themselves, not
    copies: callers copy what they change (every contact read passes here, a listing page
    of 1,000 eight times each)."""
    items = [i for i in person.get(key) or [] if type(i) is dict or isinstance(i, Mapping)]
    return sorted(items, key=_not_primary) if len(items) > 1 else items


def _first(person: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    items = _items(person, key)
    return items[0] if items else {}


def _values(person: Mapping[str, Any], key: str) -> list[str]:
    return [str(i["value"]) for i in _items(person, key) if str(i.get("value") or "").strip()]


def parse_time(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def group_names(person: Mapping[str, Any], groups: Mapping[str, str]) -> list[str]:
    names = []
    for membership in person.get("memberships") or []:
        group = (membership.get("contactGroupMembership") or {}).get("contactGroupResourceName")
        if isinstance(group, str) and group in groups:
            names.append(groups[group])
    return names


def format_date(date: Mapping[str, Any]) -> str:
    month, day = int(date.get("month") or 0), int(date.get("day") or 0)
    if not month or not day:
        return ""
    year = int(date.get("year") or 0)
    return f"{year:04d}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"


def parse_date(value: str) -> dict[str, int]:
    """``YYYY-MM-DD`` (or ``--MM-DD`` without a year) as a Google ``Date``. Out-of-range parts
    are passed on as given: Google names the bad field."""
    text = str(value).strip()
    match = DATE_PATTERN.match(text)
    if not match:
        return {"month": 0, "day": 0}
    year, month, day = match.groups()
    date = {"month": int(month), "day": int(day)}
    if year and year != "-":
        date["year"] = int(year)
    return date


def person_to_contact(
    person: Mapping[str, Any], groups: Mapping[str, str], *, deferred: bool = False
) -> Contact:
    """``person`` as a contact. ``deferred``: its values (``person_values``) are converted only
    when first read (``ListedContact``)."""
    # Parts not of the kinds the API documents (a source that is not an object) are left out.
    metadata = _object(person.get("metadata"))
    contact = _contact(
        person["resourceName"],
        person.get("etag"),
        [(s.get("type"), s.get("updateTime")) for s in _objects(metadata.get("sources"))],
        metadata.get("deleted"),
        metadata.get("previousResourceNames"),
        [(item.get("key"), item.get("value")) for item in _objects(person.get("clientData"))],
        deferred=deferred,
    )
    if contact.deleted:
        return contact
    if isinstance(contact, ListedContact):
        contact.defer(person, groups)
    else:
        contact.values = person_values(person, groups)
    return contact


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _contact(
    resource_name: Any,
    etag: Any,
    sources: list[tuple[Any, Any]],
    deleted: Any,
    previous: Any,
    client_data: list[tuple[Any, Any]],
    *,
    deferred: bool,
) -> Contact:
    """A contact of what a Person says besides its values (the values left to the caller):
    ``sources`` as (type, updateTime) and ``client_data`` as (key, value) pairs."""
    # A contact linked to a Google profile lists the profile's source too; the contact's own
    # source says when the contact itself last changed.
    update_time = sources[0][1] if sources else None
    for kind, when in sources:
        if kind == "CONTACT":
            update_time = when
            break
    gone = bool(deleted)
    contact = (ListedContact if deferred and not gone else Contact)(
        id=str(resource_name),
        version=str(etag or ""),
        updated_at=parse_time(str(update_time or "")),
        deleted=gone,
    )
    if previous and isinstance(previous, list):
        contact.facts["previous_ids"] = [str(name) for name in previous]
    for key, value in client_data:
        if key == INTENT_KEY:
            contact.idempotency_key = str(value or "")
    return contact


# A change feed's page as far as ``listed_page`` decodes it: of each person only what ``_contact``
# reads, in one pass over the body (fields not named here are skipped, not decoded); the
# persons' JSON is split out of the body only when a first value is read (``_PageBody``). The
# first run after a scan reads back tens of thousands of Tandem's own writes, dropped on id and
# etag alone: decoding every person whole was half of its reading thread's time (8 ms a page of
# 1,000), splitting the page into persons and decoding each person's head apart 1.9 ms, one
# pass 1.1 ms.
class _Source(msgspec.Struct):
    type: Any = None
    updateTime: Any = None


class _Metadata(msgspec.Struct):
    sources: list[_Source] | None = None
    deleted: Any = None
    previousResourceNames: Any = None


class _ClientData(msgspec.Struct):
    key: Any = None
    value: Any = None


class _Head(msgspec.Struct):
    resourceName: Any
    etag: Any = None
    metadata: _Metadata | None = None
    clientData: list[_ClientData] | None = None


class _FeedPage(msgspec.Struct):
    connections: list[_Head] | None = None
    nextPageToken: Any = None
    nextSyncToken: Any = None


class _People(msgspec.Struct):
    connections: list[msgspec.Raw] | None = None


_FEED_PAGE = msgspec.json.Decoder(_FeedPage)
_PEOPLE = msgspec.json.Decoder(_People)


class _PageBody:
    """A change feed page's body, shared by its contacts: split into its persons' JSON
    (``msgspec.Raw``, views of the body) when one of them is first read."""

    __slots__ = ("_body", "_people")

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._people: list[msgspec.Raw] | None = None

    def person(self, index: int) -> Any:
        if self._people is None:
            # The body decoded as ``_FeedPage`` already: its persons are objects.
            self._people = _PEOPLE.decode(self._body).connections or []
        return jsoncodec.decode(memoryview(self._people[index]))


@dataclass
class ListedPage:
    """A change feed's page: its contacts (``ListedContact`` unless deleted), the token of the
    page after it and the sync token its last page ends with (``""`` when none)."""

    records: list[Contact]
    next_page_token: str
    next_sync_token: str


def listed_page(body: bytes, groups: Mapping[str, str]) -> ListedPage | None:
    """A ``connections.list`` answer of a change feed as ``ListedPage``, each person's values
    decoded and converted only when first read; ``None`` for a body whose parts are not of the
    kinds the People API documents (not JSON, a source that is not an object, say), for the
    caller to decode whole and give to ``person_to_contact``, which makes of it what it makes
    of any answer."""
    try:
        page = _FEED_PAGE.decode(body)
    except msgspec.DecodeError:  # a ValidationError is one
        return None
    shared = _PageBody(body)
    records: list[Contact] = []
    for index, head in enumerate(page.connections or ()):
        metadata = head.metadata or _Metadata()
        contact = _contact(
            head.resourceName,
            head.etag,
            [(s.type, s.updateTime) for s in metadata.sources or ()],
            metadata.deleted,
            metadata.previousResourceNames,
            [(item.key, item.value) for item in head.clientData or ()],
            deferred=True,
        )
        if isinstance(contact, ListedContact):
            contact.defer((shared, index), groups)
        records.append(contact)
    return ListedPage(
        records=records,
        next_page_token=str(page.nextPageToken or ""),
        next_sync_token=str(page.nextSyncToken or ""),
    )


class ListedContact(Contact):
    """A contact of a change feed's page whose values are converted from its Person when they
    are first read. The first run after a scan reads back tens of thousands of Tandem's own
    writes, which the engine drops on their id and etag alone before it reads any value
    (``engine.match``: only records not already applied are made storable): converting
    their values was about 13 µs each, 0.7 CPU-s of that run at 100,000 a side. Everything
    else (id, etag, update time, deletion, previous names, intent key) is read at once, and
    any read of ``values`` (or its replacement) gives what ``person_to_contact`` gives. The
    Person is kept decoded, or as its place in its page's body (``listed_page``), decoded when
    first read."""

    _person: Mapping[str, Any] | tuple[_PageBody, int] | None = None
    _groups: Mapping[str, str] = {}
    _values: dict[str, Any]

    def defer(
        self, person: Mapping[str, Any] | tuple[_PageBody, int], groups: Mapping[str, str]
    ) -> None:
        self._person, self._groups = person, groups

    @property
    def values(self) -> dict[str, Any]:
        person = self._person
        if person is not None:
            if isinstance(person, tuple):
                body, index = person
                person = body.person(index)
            self._values = person_values(person, self._groups)
            self._person = None
            self._groups = {}
        return self._values

    @values.setter
    def values(self, values: dict[str, Any]) -> None:
        self._person = None
        self._values = values

    def __eq__(self, other: object) -> bool:
        # Equal to a plain contact with the same fields, as a converted one would be.
        if not isinstance(other, Contact):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(Contact))

    __hash__ = None  # type: ignore[assignment]


def person_values(person: Mapping[str, Any], groups: Mapping[str, str]) -> dict[str, Any]:
    """A live person's values as Tandem's fields."""
    values: dict[str, Any] = {}
    name = _first(person, "names")
    # Tandem's first name holds the middle names too (Google keeps them apart).
    first = " ".join(str(name.get(k) or "").strip() for k in ("givenName", "middleName")).strip()
    for key, part in (
        (NAME_PREFIX, str(name.get("honorificPrefix") or "")),
        (FIRST_NAME, first),
        (LAST_NAME, str(name.get("familyName") or "")),
        (NAME_SUFFIX, str(name.get("honorificSuffix") or "")),
    ):
        if part:
            values[key] = part
    for key, source in ((EMAILS, "emailAddresses"), (PHONES, "phoneNumbers"), (URLS, "urls")):
        found = _values(person, source)
        if found:
            values[key] = found
    organization = _first(person, "organizations")
    if organization.get("name"):
        values[COMPANY] = organization["name"]
    if organization.get("title"):
        values[JOB_TITLE] = organization["title"]
    stored_addresses = _items(person, "addresses")
    addresses = [
        {ours: str(item.get(theirs) or "") for ours, theirs in ADDRESS_KEYS.items()}
        for item in stored_addresses
    ]
    for address, item in zip(addresses, stored_addresses, strict=True):
        if not address["country"] and item.get("countryCode"):
            address["country"] = str(item["countryCode"])
    if addresses:
        values[ADDRESSES] = addresses
    birthday = format_date(_first(person, "birthdays").get("date") or {})
    if birthday:
        values[BIRTHDAY] = birthday
    notes = _first(person, "biographies").get("value")
    if notes:
        values[NOTES] = notes
    tags = group_names(person, groups)
    if tags:
        values[TAGS] = tags
    for item in person.get("userDefined") or []:
        if item.get("key"):
            values[custom_key(str(item["key"]))] = str(item.get("value") or "")
    return values


def needs_current(changes: Mapping[str, Any]) -> bool:
    """Whether writing ``changes`` needs the stored person: fields that share one Person field
    with another Tandem field (names, organization, custom fields) are replaced wholesale."""
    return any(
        key in (*NAME_PARTS, COMPANY, JOB_TITLE) or key.startswith(CUSTOM_PREFIX) for key in changes
    )


def changes_to_person(
    changes: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], set[str]]:
    """The Person body and update mask that write ``changes``. ``current`` (the stored person)
    supplies the parts of shared Person fields that do not change. Tags are not written here
    (they are contact-group memberships, see ``tag``/``untag``)."""
    current = current or {}
    body: dict[str, Any] = {}
    mask: set[str] = set()
    if any(key in changes for key in NAME_PARTS):
        name = {
            k: v
            for k, v in _first(current, "names").items()
            if k in ("givenName", "familyName", "middleName", "honorificPrefix", "honorificSuffix")
        }
        for key, person_key in NAME_PARTS.items():
            if key in changes:
                name[person_key] = str(changes[key] or "")
        if FIRST_NAME in changes:
            name.pop("middleName", None)  # the first name written holds the middle names
        name = {k: v for k, v in name.items() if v}
        body["names"] = [name] if name else []
        mask.add("names")
    if EMAILS in changes:
        body["emailAddresses"] = [{"value": str(v)} for v in _as_list(changes[EMAILS])]
        mask.add("emailAddresses")
    if PHONES in changes:
        body["phoneNumbers"] = [{"value": str(v)} for v in _as_list(changes[PHONES])]
        mask.add("phoneNumbers")
    if URLS in changes:
        body["urls"] = [{"value": str(v)} for v in _as_list(changes[URLS])]
        mask.add("urls")
    if COMPANY in changes or JOB_TITLE in changes:
        organizations = _items(current, "organizations")
        first = organizations[0] if organizations else {}
        first = {k: v for k, v in first.items() if k != "metadata"}
        if COMPANY in changes:
            first["name"] = str(changes[COMPANY] or "")
        if JOB_TITLE in changes:
            first["title"] = str(changes[JOB_TITLE] or "")
        rest = [{k: v for k, v in o.items() if k != "metadata"} for o in organizations[1:]]
        body["organizations"] = ([first] if any(first.values()) else []) + rest
        mask.add("organizations")
    if ADDRESSES in changes:
        body["addresses"] = [
            {
                theirs: str(address.get(ours) or "")
                for ours, theirs in ADDRESS_KEYS.items()
                if address.get(ours)
            }
            for address in _as_list(changes[ADDRESSES])
            if isinstance(address, Mapping)
        ]
        mask.add("addresses")
    if BIRTHDAY in changes:
        value = changes[BIRTHDAY]
        if isinstance(value, dt.date):
            value = value.isoformat()
        body["birthdays"] = [{"date": parse_date(str(value))}] if value else []
        mask.add("birthdays")
    if NOTES in changes:
        notes = str(changes[NOTES] or "")
        body["biographies"] = [{"value": notes, "contentType": "TEXT_PLAIN"}] if notes else []
        mask.add("biographies")
    custom = {k[len(CUSTOM_PREFIX) :]: v for k, v in changes.items() if k.startswith(CUSTOM_PREFIX)}
    if custom:
        kept = [
            {"key": i["key"], "value": i.get("value", "")}
            for i in current.get("userDefined") or []
            if i.get("key") not in custom
        ]
        added = [{"key": k, "value": str(v)} for k, v in custom.items() if v not in (None, "")]
        body["userDefined"] = kept + added
        mask.add("userDefined")
    return body, mask


def new_person(values: Mapping[str, Any], idempotency_key: str) -> dict[str, Any]:
    body, _ = changes_to_person({k: v for k, v in values.items() if k != TAGS})
    body = {k: v for k, v in body.items() if v}
    if idempotency_key:
        body["clientData"] = [{"key": INTENT_KEY, "value": idempotency_key}]
    return body


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [v for v in value if v not in (None, "")]
    return [value]


def refused_field(error: Mapping[str, Any]) -> str:
    """The Tandem field a Google ``BadRequest`` names, e.g. ``birthdays[0].date`` -> birthday."""
    for detail in error.get("details") or []:
        for violation in detail.get("fieldViolations") or []:
            path = str(violation.get("field") or "")
            path = re.sub(r"^contacts\[[^\]]*\]\.", "", path)
            head = re.split(r"[\[.]", path, maxsplit=1)[0]
            if head:
                return FIELD_NAME.get(head, head)
    return "the contact"
