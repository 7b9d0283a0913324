"""Pure functions between HubSpot contact JSON (CRM v3 ``SimplePublicObject``) and Tandem's
``Contact``, and the fields HubSpot's properties are typed as.

Every HubSpot property value is a string (api-notes §3.2). Read, they become Tandem's values:
numbers ``int``/``float``, booleans ``bool``, dates ``"YYYY-MM-DD"``, date-times ISO with ``Z``,
multiple checkboxes a list of option values (HubSpot joins them with ``;``). Written, they become
strings again; an empty value is ``""``, which clears the property.

HubSpot holds one email per contact (``email``, its de-duplication key): the ``email`` field is
single-valued, so an app with several emails maps its first one and keeps the others; the record
also carries it as ``emails``, which Tandem matches records by. The address is five properties
(``address``, ``city``, ``state``, ``zip``, ``country``) read and written as one address.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from integrations.sync.fields import FieldSpec, FieldType
from integrations.sync.records import (
    COMPANY,
    EMAILS,
    FIRST_NAME,
    JOB_TITLE,
    LAST_NAME,
    TAGS,
    Contact,
    custom_key,
    is_custom_key,
)

EMAIL = "email"
PHONE = "phone"
MOBILE_PHONE = "mobile_phone"
WEBSITE = "website"
ADDRESS = "address"
LIFECYCLE_STAGE = "lifecyclestage"
SALUTATION = "salutation"
DATE_OF_BIRTH = "date_of_birth"
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)

# Tandem field key -> the HubSpot property it is.
PROPERTY_OF: dict[str, str] = {
    FIRST_NAME: "firstname",
    LAST_NAME: "lastname",
    EMAIL: "email",
    PHONE: "phone",
    MOBILE_PHONE: "mobilephone",
    COMPANY: "company",
    JOB_TITLE: "jobtitle",
    WEBSITE: "website",
    LIFECYCLE_STAGE: "lifecyclestage",
    SALUTATION: "salutation",
    DATE_OF_BIRTH: "date_of_birth",
}
ADDRESS_PROPERTIES = {
    "street": "address",
    "city": "city",
    "region": "state",
    "postal_code": "zip",
    "country": "country",
}
# ``hs_email_optout``: unsubscribed from all email (read-only: HubSpot's subscriptions set it).
SYSTEM_PROPERTIES = ("hs_object_id", "createdate", "lastmodifieddate", "hs_email_optout")

STANDARD_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(FIRST_NAME, "First name", FieldType.TEXT, canonical="name.first"),
    FieldSpec(LAST_NAME, "Last name", FieldType.TEXT, canonical="name.last"),
    FieldSpec(EMAIL, "Email", FieldType.EMAIL, canonical="email"),
    FieldSpec(PHONE, "Phone number", FieldType.PHONE, canonical="phone"),
    FieldSpec(MOBILE_PHONE, "Mobile phone number", FieldType.PHONE),
    FieldSpec(COMPANY, "Company name", FieldType.TEXT, canonical="company"),
    FieldSpec(JOB_TITLE, "Job title", FieldType.TEXT, canonical="job_title"),
    FieldSpec(WEBSITE, "Website URL", FieldType.URL, canonical="url"),
    FieldSpec(ADDRESS, "Address", FieldType.ADDRESS, canonical="address"),
    FieldSpec(LIFECYCLE_STAGE, "Lifecycle stage", FieldType.ENUM, choices=LIFECYCLE_STAGES),
    FieldSpec(SALUTATION, "Salutation", FieldType.TEXT),
    FieldSpec(DATE_OF_BIRTH, "Date of birth", FieldType.TEXT),
    FieldSpec(TAGS, "Static lists", FieldType.TAGS, multi=True, canonical="tags"),
)
STANDARD_KEYS = frozenset(spec.key for spec in STANDARD_FIELDS)
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def custom_field(prop: Mapping[str, Any]) -> FieldSpec | None:
    """The field for one property of ``GET /crm/v3/properties/contacts`` that HubSpot did not
    define (a custom property); ``None`` for HubSpot's own, read-only or archived ones."""
    if prop.get("hubspotDefined") or prop.get("archived") or prop.get("calculated"):
        return None
    name = str(prop.get("name") or "")
    if not name:
        return None
    kind, field_type = str(prop.get("type") or ""), str(prop.get("fieldType") or "")
    choices = tuple(
        str(o["value"]) for o in prop.get("options") or [] if isinstance(o, dict) and "value" in o
    )
    multi = False
    if kind == "number":
        ftype = FieldType.NUMBER
    elif kind == "bool":
        ftype, choices = FieldType.BOOLEAN, ()
    elif kind == "date":
        ftype = FieldType.DATE
    elif kind == "datetime":
        ftype = FieldType.DATETIME
    elif kind == "phone_number":
        ftype = FieldType.PHONE
    elif kind == "enumeration" and field_type == "booleancheckbox":
        ftype, choices = FieldType.BOOLEAN, ()
    elif kind == "enumeration":
        ftype, multi = FieldType.ENUM, field_type == "checkbox"
    elif field_type == "textarea":
        ftype = FieldType.LONG_TEXT
    else:
        ftype = FieldType.TEXT
    read_only = bool((prop.get("modificationMetadata") or {}).get("readOnlyValue"))
    label = str(prop.get("label") or name)
    return FieldSpec(
        custom_key(name),
        label,
        ftype,
        multi=multi,
        read_only=read_only,
        choices=choices if ftype == FieldType.ENUM else (),
        custom=True,
    )


def properties_to_read(custom: Iterable[str]) -> list[str]:
    """Every property a contact is read with: the standard ones Tandem maps, the system ones
    and the custom ones (by name)."""
    names = [*PROPERTY_OF.values(), *ADDRESS_PROPERTIES.values(), *SYSTEM_PROPERTIES]
    return list(dict.fromkeys([*names, *custom]))


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    if re.fullmatch(r"\d{10,15}", value):
        return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC)
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def epoch_ms(stamp: str) -> str:
    """An ISO stamp as the epoch milliseconds search filters compare best with (§3.3)."""
    parsed = parse_time(stamp)
    if parsed is None:
        raise ValueError(f"not a time: {stamp!r}")
    return str(round(parsed.timestamp() * 1000))


def _read_value(text: str, spec: FieldSpec) -> Any:
    if spec.type == FieldType.NUMBER:
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() and "." not in text else number
    if spec.type == FieldType.BOOLEAN:
        return text.strip().lower() == "true"
    if spec.type == FieldType.DATE:
        if DATE_RE.match(text):
            return text
        parsed = parse_time(text)
        return parsed.date().isoformat() if parsed else text
    if spec.type == FieldType.DATETIME:
        parsed = parse_time(text)
        return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if parsed else text
    if spec.multi:
        return [part for part in text.split(";") if part]
    return text


def contact_from_object(
    obj: Mapping[str, Any],
    custom: Mapping[str, FieldSpec],
    lists: Iterable[str] = (),
    all_lists: Iterable[str] = (),
) -> Contact:
    """A HubSpot contact as a ``Contact``; ``lists`` names the static lists it is in (its
    tags), ``all_lists`` every list (static or not) for the list-membership condition."""
    props = obj.get("properties") or {}
    values: dict[str, Any] = {}
    for key, name in PROPERTY_OF.items():
        text = props.get(name)
        if key == EMAIL:
            values[EMAIL] = text or None
            values[EMAILS] = [text] if text else []
        elif text:
            values[key] = text
    address = {
        part: str(props[name]) for part, name in ADDRESS_PROPERTIES.items() if props.get(name)
    }
    if address:
        values[ADDRESS] = address
    for key, spec in custom.items():
        text = props.get(key[len("custom.") :])
        if text not in (None, ""):
            values[key] = _read_value(str(text), spec)
    values[TAGS] = sorted(set(lists))
    stage = props.get("lifecyclestage") or ""
    updated = str(obj.get("updatedAt") or props.get("lastmodifieddate") or "")
    member_of = sorted(set(all_lists) | set(lists))
    # Joining or leaving a list leaves ``updatedAt`` as it was: the version names the lists too,
    # or a linked contact read again for its lists would be skipped as already applied.
    version = (
        f"{updated}#{zlib.crc32(chr(0).join(member_of).encode()):08x}" if member_of else updated
    )
    return Contact(
        id=str(obj["id"]),
        updated_at=parse_time(updated),
        version=version,
        values=values,
        deleted=bool(obj.get("archived")),
        unsubscribed=str(props.get("hs_email_optout") or "").lower() == "true",
        facts={"lifecycle_stage": stage, "lists": member_of},
    ).make_storable()


def _write_value(value: Any, spec: FieldSpec | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value if v not in (None, ""))
    if spec is not None and spec.type == FieldType.DATETIME and isinstance(value, str):
        parsed = parse_time(value)
        if parsed is not None:
            when = parsed.astimezone(dt.UTC)
            return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return str(value)


def properties_from_values(
    values: Mapping[str, Any], custom: Mapping[str, FieldSpec]
) -> dict[str, str]:
    """The HubSpot properties to write for Tandem ``values`` (tags are list memberships, not
    properties, and are left out)."""
    props: dict[str, str] = {}
    for key, value in values.items():
        if key == TAGS:
            continue
        if key == EMAILS:  # the matching copy: written only when ``email`` is not
            if EMAIL not in values:
                emails = [e for e in (value or []) if e]
                props["email"] = str(emails[0]).strip() if emails else ""
        elif key == EMAIL:
            props["email"] = str(value or "").strip()
        elif key == ADDRESS:
            address = value if isinstance(value, Mapping) else {}
            for part, name in ADDRESS_PROPERTIES.items():
                props[name] = str(address.get(part) or "")
        elif key in PROPERTY_OF:
            props[PROPERTY_OF[key]] = _write_value(value, None)
        elif is_custom_key(key):
            props[key[len("custom.") :]] = _write_value(value, custom.get(key))
    return props


def value_problem(spec: FieldSpec, value: Any) -> str:
    """Why HubSpot would refuse ``value`` for a typed field, or ""."""
    if value is None or value == "" or value == []:
        return ""
    if spec.type == FieldType.NUMBER:
        if isinstance(value, bool):
            return "must be a number"
        try:
            float(value)
        except (TypeError, ValueError):
            return "must be a number"
    elif spec.type == FieldType.BOOLEAN:
        if not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
            return "must be true or false"
    elif spec.type == FieldType.DATE:
        if not isinstance(value, str) or not DATE_RE.match(value):
            return "must be a date (YYYY-MM-DD)"
    elif spec.type == FieldType.DATETIME:
        if not isinstance(value, str) or not DATETIME_RE.match(value):
            return "must be an ISO 8601 date-time"
    elif spec.type == FieldType.ENUM and spec.choices:
        items = value if isinstance(value, list | tuple) else [value]
        bad = [str(v) for v in items if str(v) not in spec.choices]
        if bad:
            return f"{', '.join(bad)} is not one of {', '.join(spec.choices)}"
    return ""


def field_of_property(name: str) -> str:
    """The Tandem field a HubSpot property name is."""
    for key, prop in PROPERTY_OF.items():
        if prop == name:
            return key
    if name in ADDRESS_PROPERTIES.values():
        return ADDRESS
    return custom_key(name) if name else "the record"
