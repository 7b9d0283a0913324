"""Pure translations between Mailchimp list members and Tandem's ``Contact``.

``id`` is the member's ``contact_id``, which the member paths accept as they accept the
subscriber hash (``md5`` of the lower-cased email) and which, unlike the hash, stays when the
email changes. ``updated_at`` is ``last_changed`` (which moves on every write, to the second) and
``version`` that stamp with a digest of what the member holds, so two changes within one second
are two versions. ``deleted`` is the ``archived`` status and ``unsubscribed`` the
``unsubscribed`` and ``cleaned`` ones. Merge fields are typed by the audience's merge-fields API:
the default ones (FNAME, LNAME, ADDRESS, PHONE, BIRTHDAY) are standard fields, every other one is
``custom.<TAG>``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from integrations.sync.fields import FieldSpec, FieldType
from integrations.sync.records import (
    EMAILS,
    FIRST_NAME,
    LAST_NAME,
    TAGS,
    Contact,
    custom_key,
    is_custom_key,
)

# Mailchimp holds one email per member: a single field, also kept under ``emails`` so the
# engine matches members by email as it does every record.
EMAIL = "email"
PHONE = "phone"
ADDRESS = "address"
BIRTHDAY = "birthday"
STATUS_FACT = "status"
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
UNSUBSCRIBED = frozenset({"unsubscribed", "cleaned"})
ARCHIVED = "archived"
# The default merge fields, as standard fields: merge tag -> the field.
STANDARD_MERGE: dict[str, FieldSpec] = {
    "FNAME": FieldSpec(FIRST_NAME, "First name", FieldType.TEXT, canonical="name.first"),
    "LNAME": FieldSpec(LAST_NAME, "Last name", FieldType.TEXT, canonical="name.last"),
    "PHONE": FieldSpec(PHONE, "Phone number", FieldType.PHONE, canonical="phone"),
    # Mailchimp refuses an address without street, city, state and zip: no default mapping
    # pairs it with the partial addresses other apps hold.
    "ADDRESS": FieldSpec(ADDRESS, "Address", FieldType.ADDRESS),
    # Month and day only ("MM/DD"), so not paired with a birthday that has a year.
    "BIRTHDAY": FieldSpec(BIRTHDAY, "Birthday (MM/DD)", FieldType.TEXT),
}
EMAIL_FIELD = FieldSpec(EMAIL, "Email", FieldType.EMAIL, canonical="email")
TAGS_FIELD = FieldSpec(TAGS, "Tags", FieldType.TAGS, multi=True, canonical="tags")
STANDARD_FIELDS: tuple[FieldSpec, ...] = (
    EMAIL_FIELD,
    *STANDARD_MERGE.values(),
    TAGS_FIELD,
)
MERGE_TYPES: dict[str, FieldType] = {
    "text": FieldType.TEXT,
    "number": FieldType.NUMBER,
    "address": FieldType.ADDRESS,
    "phone": FieldType.PHONE,
    "date": FieldType.DATE,
    "url": FieldType.URL,
    "imageurl": FieldType.URL,
    "radio": FieldType.ENUM,
    "dropdown": FieldType.ENUM,
    "birthday": FieldType.TEXT,
    "zip": FieldType.TEXT,
}
ADDRESS_PARTS = ("addr1", "addr2", "city", "state", "zip", "country")
BIRTHDAY_RE = re.compile(r"^(0[1-9]|1[0-2])/(0[1-9]|[12]\d|3[01])$")


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def parse_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def field_of(merge: Mapping[str, Any]) -> tuple[str, FieldSpec]:
    """The merge tag and the Tandem field of one merge field from the merge-fields API."""
    tag = str(merge.get("tag") or "")
    standard = STANDARD_MERGE.get(tag)
    if standard is not None:
        return tag, standard
    kind = MERGE_TYPES.get(str(merge.get("type") or ""), FieldType.TEXT)
    choices = tuple(str(c) for c in ((merge.get("options") or {}).get("choices") or ()))
    label = str(merge.get("name") or tag)
    return tag, FieldSpec(custom_key(tag), label, kind, choices=choices, custom=True)


def address_from(value: Any) -> dict[str, str] | None:
    if not isinstance(value, Mapping) or not any(value.get(k) for k in ADDRESS_PARTS):
        return None
    street = "\n".join(str(value.get(k) or "").strip() for k in ("addr1", "addr2"))
    return {
        "street": street.strip(),
        "city": str(value.get("city") or ""),
        "region": str(value.get("state") or ""),
        "postal_code": str(value.get("zip") or ""),
        "country": str(value.get("country") or ""),
    }


def address_to(value: Any) -> dict[str, str] | str:
    """A Tandem address as Mailchimp's ``{addr1, addr2, city, state, zip, country}``."""
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, Mapping):
        return ""
    lines = str(value.get("street") or "").split("\n", 1)
    return {
        "addr1": lines[0].strip(),
        "addr2": lines[1].strip() if len(lines) > 1 else "",
        "city": str(value.get("city") or ""),
        "state": str(value.get("region") or ""),
        "zip": str(value.get("postal_code") or ""),
        "country": str(value.get("country") or ""),
    }


def value_from(spec: FieldSpec, value: Any) -> Any:
    """A merge value as Tandem holds it (empty values as ``None``)."""
    if value in ("", None):
        return None
    if spec.type == FieldType.ADDRESS:
        return address_from(value)
    if spec.type == FieldType.NUMBER:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value)
        return int(number) if number.is_integer() else number
    return value if isinstance(value, str | int | float) else str(value)


def value_to(spec: FieldSpec, value: Any) -> Any:
    """A Tandem value as the merge field takes it (``""`` clears it)."""
    if isinstance(value, list) and spec.type != FieldType.TAGS:
        value = value[0] if value else None
    if value is None or value == "":
        return ""
    if spec.type == FieldType.ADDRESS:
        return address_to(value)
    if spec.type == FieldType.DATE:
        return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]
    if spec.type == FieldType.NUMBER:
        return value
    return str(value)


def value_problem(spec: FieldSpec, value: Any) -> str:
    """Why Mailchimp would refuse ``value`` for this field, or ""."""
    sent = value_to(spec, value)
    if sent == "":
        return ""
    if spec.type == FieldType.ADDRESS:
        assert isinstance(sent, dict)
        missing = [k for k in ("addr1", "city", "state", "zip") if not sent[k]]
        if missing:
            return "an address needs a street, a city, a state and a zip code"
    elif spec.type == FieldType.NUMBER:
        try:
            float(sent)
        except (TypeError, ValueError):
            return f"{str(value)[:40]!r} is not a number"
    elif spec.type == FieldType.DATE:
        try:
            dt.date.fromisoformat(str(sent))
        except ValueError:
            return f"{str(value)[:40]!r} is not a date (YYYY-MM-DD)"
    elif spec.type == FieldType.ENUM and spec.choices and sent not in spec.choices:
        return f"must be one of {', '.join(spec.choices)}"
    elif spec.key == BIRTHDAY and not BIRTHDAY_RE.match(str(sent)):
        return f"{str(value)[:40]!r} is not a birthday as MM/DD"
    elif len(str(sent)) > 255:
        return "is longer than 255 characters"
    return ""


def contact_from_member(member: Mapping[str, Any], fields: Mapping[str, FieldSpec]) -> Contact:
    """A member as a ``Contact``; ``fields`` maps each merge tag of the audience to its field."""
    status = str(member.get("status") or "")
    email = str(member.get("email_address") or "")
    values: dict[str, Any] = {EMAIL: email or None, EMAILS: [email] if email else []}
    merge = member.get("merge_fields") or {}
    for tag, spec in fields.items():
        if tag in merge:
            values[spec.key] = value_from(spec, merge[tag])
    values[TAGS] = [str(t.get("name")) for t in member.get("tags") or [] if t.get("name")]
    stamp = str(member.get("last_changed") or "")
    held = json.dumps([status, values], sort_keys=True, default=str).encode()
    digest = hashlib.sha256(held).hexdigest()[:12]
    return Contact(
        id=member_id(member),
        updated_at=parse_time(stamp),
        version=f"{stamp}#{digest}",
        values=values,
        deleted=status == ARCHIVED,
        unsubscribed=status in UNSUBSCRIBED,
        facts={STATUS_FACT: status},
    ).make_storable()


def member_id(member: Mapping[str, Any]) -> str:
    """The id Tandem keeps for a member: its ``contact_id`` (the subscriber hash when absent)."""
    email = str(member.get("email_address") or "")
    return str(member.get("contact_id") or member.get("id") or subscriber_hash(email))


def merge_body(values: Mapping[str, Any], tags: Mapping[str, FieldSpec]) -> dict[str, Any]:
    """The ``merge_fields`` object for the merge fields among ``values`` (``tags`` maps each
    merge tag of the audience to its field)."""
    by_key = {spec.key: tag for tag, spec in tags.items()}
    return {by_key[k]: value_to(tags[by_key[k]], v) for k, v in values.items() if k in by_key}


def is_merge_key(key: str) -> bool:
    return key in {s.key for s in STANDARD_MERGE.values()} or is_custom_key(key)
