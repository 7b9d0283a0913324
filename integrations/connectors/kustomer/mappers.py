"""Pure functions between Kustomer customer JSON and Tandem's ``Contact``.

Value conventions (records.py): text is ``str``, numbers ``int``/``float``, dates
``"YYYY-MM-DD"``, date-times ISO with ``Z``, multi-valued fields lists (primary first), empty is
``None`` or ``[]``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from integrations.sync.fields import FieldSpec, FieldType
from integrations.sync.records import (
    ADDRESSES,
    BIRTHDAY,
    COMPANY,
    EMAILS,
    FULL_NAME,
    PHONES,
    TAGS,
    URLS,
    Contact,
    custom_key,
    is_custom_key,
)

EXTERNAL_ID = "externalId"
LOCALE = "locale"
TIME_ZONE = "time_zone"
IDEMPOTENCY_PREFIX = "tandem:"

# Custom attribute name suffix -> field type.
SUFFIX_TYPES: dict[str, FieldType] = {
    "Str": FieldType.TEXT,
    "Txt": FieldType.LONG_TEXT,
    "Num": FieldType.NUMBER,
    "Bool": FieldType.BOOLEAN,
    "At": FieldType.DATETIME,
    "Url": FieldType.URL,
}
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
URL_RE = re.compile(r"^https?://\S+$")

STANDARD_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(FULL_NAME, "Name", FieldType.TEXT, canonical="name.full"),
    FieldSpec(EMAILS, "Emails", FieldType.EMAIL, multi=True, canonical="email"),
    FieldSpec(PHONES, "Phones", FieldType.PHONE, multi=True, canonical="phone"),
    FieldSpec(COMPANY, "Company", FieldType.TEXT, canonical="company"),
    FieldSpec(EXTERNAL_ID, "External ID", FieldType.TEXT),
    FieldSpec(ADDRESSES, "Locations", FieldType.ADDRESS, multi=True, canonical="address"),
    FieldSpec(URLS, "URLs", FieldType.URL, multi=True, canonical="url"),
    FieldSpec(TAGS, "Tags", FieldType.TAGS, multi=True, canonical="tags"),
    FieldSpec(LOCALE, "Locale", FieldType.TEXT),
    FieldSpec(TIME_ZONE, "Time zone", FieldType.TEXT),
    FieldSpec(BIRTHDAY, "Birthday", FieldType.DATE, canonical="birthday"),
)


def suffix_of(name: str) -> str:
    return next((s for s in SUFFIX_TYPES if name.endswith(s) and len(name) > len(s)), "")


def custom_field(name: str, spec: Mapping[str, Any]) -> FieldSpec | None:
    """The field for one custom attribute from ``GET /v1/metadata/customer``; ``None`` for
    attributes Tandem can't hold (references, trees ...)."""
    suffix = suffix_of(name)
    if not suffix:
        return None
    kind = SUFFIX_TYPES[suffix]
    choices = tuple(str(v) for v in spec.get("enumeration") or ())
    if choices and kind in (FieldType.TEXT, FieldType.LONG_TEXT):
        kind = FieldType.ENUM
    label = str(spec.get("displayName") or name)
    return FieldSpec(custom_key(name), label, kind, choices=choices, custom=True)


def custom_value_problem(spec: FieldSpec, value: Any) -> str:
    """Why Kustomer would refuse this value for a custom field, or ""."""
    if value is None:
        return ""
    if spec.type in (FieldType.TEXT, FieldType.LONG_TEXT, FieldType.ENUM):
        if not isinstance(value, str) or len(value) > 1024:
            return "must be text of at most 1024 characters"
        if spec.choices and value not in spec.choices:
            return f"must be one of {', '.join(spec.choices)}"
    elif spec.type == FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
    elif spec.type == FieldType.BOOLEAN:
        if not isinstance(value, bool):
            return "must be true or false"
    elif spec.type == FieldType.DATETIME:
        if not isinstance(value, str) or not DATETIME_RE.match(value):
            return "must be an ISO 8601 date-time"
    elif spec.type == FieldType.URL and (not isinstance(value, str) or not URL_RE.match(value)):
        return "must be an http(s) URL"
    return ""


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_time(when: dt.datetime) -> str:
    when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _canonical_datetime(value: str) -> str:
    parsed = parse_time(value)
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if parsed else value


def _address_from(location: Mapping[str, Any]) -> dict[str, Any]:
    street = " ".join(
        str(location[k]) for k in ("address", "address2", "address3") if location.get(k)
    )
    return {
        "street": street,
        "city": location.get("cityName") or "",
        "region": location.get("regionName") or location.get("regionCode") or "",
        "postal_code": location.get("zipCode") or "",
        "country": location.get("countryName") or location.get("countryCode") or "",
        "type": location.get("type") or "",
    }


def _location_from(address: Mapping[str, Any]) -> dict[str, Any]:
    location: dict[str, Any] = {"type": address.get("type") or "other"}
    if location["type"] not in ("home", "work", "other"):
        location["type"] = "other"
    for source, target in (
        ("street", "address"),
        ("city", "cityName"),
        ("region", "regionName"),
        ("postal_code", "zipCode"),
    ):
        if address.get(source):
            location[target] = str(address[source])
    country = str(address.get("country") or "")
    if len(country) == 2:
        location["countryCode"] = country.upper()
    elif country:
        location["countryName"] = country
    return location


def _sentiment(attrs: Mapping[str, Any]) -> str | None:
    sentiment = attrs.get("sentiment")
    if not isinstance(sentiment, Mapping) or sentiment.get("polarity") is None:
        return None
    polarity = float(sentiment["polarity"])
    return "positive" if polarity > 0 else "negative" if polarity < 0 else "neutral"


# The shapes Tandem reads, by attribute: old data in a real org can hold anything.
_TEXT_ATTRIBUTES = ("name", "company", "externalId", "locale", "timeZone", "birthdayAt")
_LIST_ATTRIBUTES = {"emails": "email", "phones": "phone", "urls": "url", "locations": ""}
_JSON_TYPES = {str: "text", bool: "true/false", int: "a number", float: "a number"}


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def odd_attributes(attrs: Mapping[str, Any]) -> list[str]:
    """Why a stored customer cannot be read as a contact: each attribute whose value has a type
    the Kustomer API would refuse today (empty when it reads)."""
    problems: list[str] = []
    for name in _TEXT_ATTRIBUTES:
        value = attrs.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(f"{name} is {_kind(value)}, not text")
    for name, key in _LIST_ATTRIBUTES.items():
        value = attrs.get(name)
        if value is None:
            continue
        items_ok = isinstance(value, list) and all(
            isinstance(item, Mapping) and (not key or isinstance(item.get(key), (str, type(None))))
            for item in value
        )
        if not items_ok:
            what = f"objects with a text {key}" if key else "objects"
            problems.append(f"{name} is {_kind(value)}, not a list of {what}")
    tags = attrs.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        problems.append(f"tags is {_kind(tags)}, not a list of names")
    custom = attrs.get("custom")
    if custom is not None and not isinstance(custom, Mapping):
        problems.append(f"custom is {_kind(custom)}, not an object")
    sentiment = attrs.get("sentiment")
    if sentiment is not None and not (
        isinstance(sentiment, Mapping)
        and isinstance(sentiment.get("polarity", 0), (int, float))
        and not isinstance(sentiment.get("polarity"), bool)
    ):
        problems.append(f"sentiment is {_kind(sentiment)}, not an object with a polarity")
    return problems


def contact_from_customer(
    resource: Mapping[str, Any], custom_fields: Mapping[str, FieldSpec] | None = None
) -> Contact:
    """One ``data`` item of a customer response as a ``Contact``; a customer holding values of
    an odd type comes back with its emails only and a ``problem`` (parked as a record issue)."""
    attrs: Mapping[str, Any] = resource.get("attributes") or {}
    problems = odd_attributes(attrs)
    if problems:
        emails = attrs.get("emails")
        return Contact(
            id=str(resource["id"]),
            updated_at=parse_time(attrs.get("updatedAt")),
            version=str(attrs.get("rev", "")),
            values={
                EMAILS: [
                    e["email"]
                    for e in (emails if isinstance(emails, list) else [])
                    if isinstance(e, Mapping) and isinstance(e.get("email"), str)
                ]
            },
            deleted=bool(attrs.get("deleted")),
            problem="Kustomer holds values Tandem cannot read: " + "; ".join(problems) + ".",
        )
    values: dict[str, Any] = {
        FULL_NAME: attrs.get("name") or None,
        EMAILS: [e["email"] for e in attrs.get("emails") or [] if e.get("email")],
        PHONES: [p["phone"] for p in attrs.get("phones") or [] if p.get("phone")],
        COMPANY: attrs.get("company") if isinstance(attrs.get("company"), str) else None,
        EXTERNAL_ID: attrs.get("externalId") or None,
        ADDRESSES: [_address_from(loc) for loc in attrs.get("locations") or []],
        URLS: [u["url"] for u in attrs.get("urls") or [] if u.get("url")],
        TAGS: [str(t) for t in attrs.get("tags") or []],
        LOCALE: attrs.get("locale") or None,
        TIME_ZONE: attrs.get("timeZone") or None,
        BIRTHDAY: (attrs.get("birthdayAt") or "")[:10] or None,
    }
    for name, value in (attrs.get("custom") or {}).items():
        key = custom_key(name)
        spec = (custom_fields or {}).get(key)
        kind = spec.type if spec else SUFFIX_TYPES.get(suffix_of(name))
        if kind == FieldType.DATETIME and isinstance(value, str):
            value = _canonical_datetime(value)
        values[key] = value
    facts: dict[str, Any] = {}
    sentiment = _sentiment(attrs)
    if sentiment:
        facts["sentiment"] = sentiment
    counts = attrs.get("conversationCounts")
    if isinstance(counts, Mapping) and counts.get("open") is not None:
        facts["open_conversations"] = int(counts["open"])
    external = str(attrs.get("externalId") or "")
    return Contact(
        id=str(resource["id"]),
        updated_at=parse_time(attrs.get("updatedAt")),
        version=str(attrs.get("rev", "")),
        values=values,
        deleted=bool(attrs.get("deleted")),
        facts=facts,
        idempotency_key=external[len(IDEMPOTENCY_PREFIX) :]
        if external.startswith(IDEMPOTENCY_PREFIX)
        else "",
    )


# The attributes ``contact_from_customer`` (and ``odd_attributes``) read: all a search page is
# decoded for (``search_page``).
READ_ATTRIBUTES = (
    *_TEXT_ATTRIBUTES,
    *_LIST_ATTRIBUTES,
    "tags",
    "custom",
    "sentiment",
    "conversationCounts",
    "updatedAt",
    "rev",
    "deleted",
)
# Each attribute read as it is, any JSON value; one left out of the customer stays left out.
_Attributes = msgspec.defstruct(
    "_Attributes", [(name, Any, msgspec.UNSET) for name in READ_ATTRIBUTES]
)
_Customer = msgspec.defstruct(
    "_Customer",
    [
        ("id", Any, msgspec.UNSET),
        ("attributes", _Attributes | None | msgspec.UnsetType, msgspec.UNSET),
    ],
)
_SEARCH_PAGE = msgspec.json.Decoder(
    msgspec.defstruct(
        "_SearchPage",
        [("data", list[_Customer] | None, None), ("links", Any, None), ("meta", Any, None)],  # type: ignore[valid-type]
    )
)


def search_page(body: bytes) -> dict[str, Any] | None:
    """A customer search's answer (``data``, ``links``, ``meta``) with of each customer its id
    and the attributes Tandem reads (``READ_ATTRIBUTES``), the rest of it skipped: a Kustomer
    customer has some fifty attributes, and decoding them all was most of a scan's reading
    of Kustomer (9 ms a page of 500 against 4 ms). ``None`` for a body not shaped as the API
    documents (not JSON, customers that are not a list of objects, attributes that are not an
    object), for the caller to decode whole."""
    try:
        page: Any = _SEARCH_PAGE.decode(body)
    except msgspec.DecodeError:  # a ValidationError is one
        return None
    unset, asdict = msgspec.UNSET, msgspec.structs.asdict
    data: list[dict[str, Any]] = []
    for customer in page.data or ():
        resource: dict[str, Any] = {}
        if customer.id is not unset:
            resource["id"] = customer.id
        attributes = customer.attributes
        if attributes is None:
            resource["attributes"] = None
        elif attributes is not unset:
            read = asdict(attributes)
            resource["attributes"] = {k: v for k, v in read.items() if v is not unset}
        data.append(resource)
    return {"data": data, "links": page.links, "meta": page.meta}


def customer_body(values: Mapping[str, Any]) -> dict[str, Any]:
    """Tandem values as a Kustomer create/update body: only the given keys, arrays whole."""
    body: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for key, value in values.items():
        if is_custom_key(key):
            name = key[len("custom.") :]
            if isinstance(value, dt.datetime):
                value = format_time(value)
            elif isinstance(value, str) and suffix_of(name) == "At" and DATETIME_RE.match(value):
                value = format_time(parse_time(value) or dt.datetime.now(dt.UTC))
            custom[name] = value
        elif key == FULL_NAME:
            body["name"] = value or None
        elif key == EMAILS:
            body["emails"] = [{"type": "other", "email": e} for e in value or [] if e]
        elif key == PHONES:
            body["phones"] = [{"type": "other", "phone": p} for p in value or [] if p]
        elif key == URLS:
            body["urls"] = [{"type": "other", "url": u} for u in value or [] if u]
        elif key == ADDRESSES:
            body["locations"] = [_location_from(a) for a in value or [] if a]
        elif key == TAGS:
            body["tags"] = list(value or [])
        elif key == COMPANY:
            body["company"] = value or None
        elif key == EXTERNAL_ID:
            body["externalId"] = value or None
        elif key == LOCALE:
            body["locale"] = value or None
        elif key == TIME_ZONE:
            body["timeZone"] = value or None
        elif key == BIRTHDAY:
            body["birthdayAt"] = f"{value}T00:00:00.000Z" if value else None
    if custom:
        body["custom"] = custom
    return body


def field_named_in(reason: str) -> str:
    """The Tandem field an error text from Kustomer names ("Duplicate email ..." -> emails)."""
    lowered = reason.casefold()
    for word, key in (
        ("externalid", EXTERNAL_ID),
        ("email", EMAILS),
        ("phone", PHONES),
        ("custom", "custom attributes"),
        ("tag", TAGS),
        ("name", FULL_NAME),
    ):
        if word in lowered:
            return key
    return "the record"


def birthday_problem(value: Any) -> str:
    if value in (None, ""):
        return ""
    return "" if isinstance(value, str) and DATE_RE.match(value) else "must be a YYYY-MM-DD date"
