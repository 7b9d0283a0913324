"""The Person resource (api-notes §2.2): its fields, the rules a written person must follow, and
field masks. A body that breaks a rule answers 400 ``INVALID_ARGUMENT`` naming the field, as the
People API does for a payload it cannot parse (an unknown name, a value of the wrong type) or a
value it refuses (two names, an empty email); nothing is stored."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sandbox.google_contacts.errors import ApiError, invalid

# Every valid ``personFields`` / ``readMask`` path (the People API reference lists 29).
PERSON_FIELDS = frozenset(
    {
        "addresses",
        "ageRanges",
        "biographies",
        "birthdays",
        "calendarUrls",
        "clientData",
        "coverPhotos",
        "emailAddresses",
        "events",
        "externalIds",
        "genders",
        "imClients",
        "interests",
        "locales",
        "locations",
        "memberships",
        "metadata",
        "miscKeywords",
        "names",
        "nicknames",
        "occupations",
        "organizations",
        "phoneNumbers",
        "photos",
        "relations",
        "sipAddresses",
        "skills",
        "urls",
        "userDefined",
    }
)
# What ``updatePersonFields`` / ``updateMask`` may name, and what a contact may be written with.
UPDATABLE_FIELDS = frozenset(
    {
        "addresses",
        "biographies",
        "birthdays",
        "calendarUrls",
        "clientData",
        "emailAddresses",
        "events",
        "externalIds",
        "genders",
        "imClients",
        "interests",
        "locales",
        "locations",
        "memberships",
        "miscKeywords",
        "names",
        "nicknames",
        "occupations",
        "organizations",
        "phoneNumbers",
        "relations",
        "sipAddresses",
        "urls",
        "userDefined",
    }
)
WRITABLE_FIELDS = UPDATABLE_FIELDS
# Output-only parts of a person, accepted in a written body and ignored.
OUTPUT_ONLY = frozenset(
    {"resourceName", "etag", "metadata", "photos", "coverPhotos", "ageRanges", "skills"}
)
SINGLETONS = frozenset({"names", "biographies", "birthdays", "genders"})
READABLE_FIELDS = PERSON_FIELDS

S, B, INT, DATE, OBJ = "string", "bool", "int", "date", "object"
_TYPED = {"value": S, "type": S, "formattedType": S}
# The keys an item of each field may hold, with their JSON types ("metadata" on every item).
ITEM_KEYS: dict[str, dict[str, str]] = {
    "names": {
        k: S
        for k in (
            "displayName",
            "displayNameLastFirst",
            "unstructuredName",
            "familyName",
            "givenName",
            "middleName",
            "honorificPrefix",
            "honorificSuffix",
            "phoneticFullName",
            "phoneticFamilyName",
            "phoneticGivenName",
            "phoneticMiddleName",
            "phoneticHonorificPrefix",
            "phoneticHonorificSuffix",
        )
    },
    "emailAddresses": {**_TYPED, "displayName": S},
    "phoneNumbers": {**_TYPED, "canonicalForm": S},
    "organizations": {
        **{
            k: S
            for k in (
                "type",
                "formattedType",
                "name",
                "phoneticName",
                "department",
                "title",
                "jobDescription",
                "symbol",
                "domain",
                "location",
                "costCenter",
            )
        },
        "current": B,
        "startDate": DATE,
        "endDate": DATE,
        "fullTimeEquivalentMillipercent": INT,
    },
    "addresses": {
        k: S
        for k in (
            "formattedValue",
            "type",
            "formattedType",
            "poBox",
            "streetAddress",
            "extendedAddress",
            "city",
            "region",
            "postalCode",
            "country",
            "countryCode",
        )
    },
    "biographies": {"value": S, "contentType": S},
    "birthdays": {"date": DATE, "text": S},
    "urls": dict(_TYPED),
    "userDefined": {"key": S, "value": S},
    "clientData": {"key": S, "value": S},
    "memberships": {"contactGroupMembership": OBJ, "domainMembership": OBJ},
    "externalIds": dict(_TYPED),
    "nicknames": {"value": S, "type": S},
    "genders": {"value": S, "formattedValue": S, "addressMeAs": S},
    "events": {"date": DATE, "type": S, "formattedType": S},
    "relations": {"person": S, "type": S, "formattedType": S},
    "imClients": {
        "username": S,
        "type": S,
        "formattedType": S,
        "protocol": S,
        "formattedProtocol": S,
    },
    "sipAddresses": dict(_TYPED),
    "occupations": {"value": S},
    "interests": {"value": S},
    "miscKeywords": dict(_TYPED),
    "locales": {"value": S},
    "calendarUrls": {"url": S, "type": S, "formattedType": S},
    "locations": {
        "value": S,
        "type": S,
        "current": B,
        "buildingId": S,
        "floor": S,
        "floorSection": S,
        "deskCode": S,
    },
}
BIOGRAPHY_TYPES = ("TEXT_PLAIN", "TEXT_HTML", "CONTENT_TYPE_UNSPECIFIED")
GROUP_MEMBERSHIP_KEYS = {"contactGroupId": S, "contactGroupResourceName": S}


def _type_ok(kind: str, value: Any) -> bool:
    if kind == S:
        return isinstance(value, str)
    if kind == B:
        return isinstance(value, bool)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, dict)


def _check_date(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise invalid(f"Invalid value at '{where}': a Date object is needed.", where)
    for key, part in value.items():
        if key not in ("year", "month", "day"):
            raise invalid(
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}'.", where
            )
        if not isinstance(part, int) or isinstance(part, bool):
            raise invalid(f"Invalid value at '{where}.{key}' (TYPE_INT32).", f"{where}.{key}")


def check_person(person: Any, fields: set[str] | frozenset[str], prefix: str = "") -> None:
    """Refuse a person body that the People API would not accept, for the ``fields`` written."""
    where = prefix.rstrip(".") or "person"
    if not isinstance(person, dict):
        raise invalid(f"Invalid JSON payload received. '{where}' must be an object.", where)
    for key in person:
        if key not in PERSON_FIELDS and key not in OUTPUT_ONLY:
            raise invalid(
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': "
                "Cannot find field.",
                f"{prefix}{key}",
            )
    if "etag" in person and not isinstance(person["etag"], str):
        raise invalid("Invalid value at 'person.etag' (TYPE_STRING).", f"{prefix}etag")
    for key in sorted(fields & set(person)):
        value = person.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise invalid(f"{key} must be a list of objects.", f"{prefix}{key}")
        if key in SINGLETONS and len(value) > 1:
            raise invalid(f"Only one {key} value is allowed.", f"{prefix}{key}")
        allowed = ITEM_KEYS.get(key, {})
        for index, item in enumerate(value):
            at = f"{prefix}{key}[{index}]"
            for name, part in item.items():
                if name == "metadata":
                    if not isinstance(part, dict):
                        raise invalid(f"Invalid value at '{at}.metadata'.", f"{at}.metadata")
                    continue
                kind = allowed.get(name)
                if kind is None:
                    raise invalid(
                        f"Invalid JSON payload received. Unknown name \"{name}\" at '{at}': "
                        "Cannot find field.",
                        f"{at}.{name}",
                    )
                if kind == DATE:
                    _check_date(part, f"{at}.{name}")
                elif not _type_ok(kind, part):
                    raise invalid(
                        f"Invalid value at '{at}.{name}' (TYPE_{kind.upper()}).", f"{at}.{name}"
                    )
    _check_values(person, fields, prefix)


def _check_values(
    person: Mapping[str, Any], fields: set[str] | frozenset[str], prefix: str
) -> None:
    def items(key: str) -> list[dict[str, Any]]:
        return list(person.get(key) or []) if key in fields else []

    for index, item in enumerate(items("emailAddresses")):
        if not str(item.get("value") or "").strip():
            raise invalid("Email address must not be empty.", f"{prefix}emailAddresses[{index}]")
    for index, item in enumerate(items("birthdays")):
        date = item.get("date") or {}
        month, day = date.get("month") or 0, date.get("day") or 0
        if not (1 <= month <= 12 and 1 <= day <= 31):
            raise invalid("Invalid birthday date.", f"{prefix}birthdays[{index}].date")
    for index, item in enumerate(items("userDefined")):
        if not str(item.get("key") or "").strip():
            raise invalid("userDefined key must not be empty.", f"{prefix}userDefined[{index}]")
    for index, item in enumerate(items("biographies")):
        if item.get("contentType", "TEXT_PLAIN") not in BIOGRAPHY_TYPES:
            raise invalid("Invalid contentType.", f"{prefix}biographies[{index}].contentType")
    for index, item in enumerate(items("memberships")):
        membership = item.get("contactGroupMembership")
        at = f"{prefix}memberships[{index}]"
        if membership is None:
            raise invalid("A membership needs a contactGroupMembership.", at)
        for name, part in membership.items():
            if GROUP_MEMBERSHIP_KEYS.get(name) != S or not isinstance(part, str):
                raise invalid(f"Invalid value at '{at}.contactGroupMembership.{name}'.", at)


def field_list(value: str, field_name: str, allowed: frozenset[str] = PERSON_FIELDS) -> set[str]:
    """A comma-separated field mask, each path checked (``person.`` prefixes allowed)."""
    fields = {part.strip().removeprefix("person.") for part in value.split(",") if part.strip()}
    unknown = fields - allowed
    if unknown:
        raise invalid(f'Invalid {field_name} mask path: "{sorted(unknown)[0]}".', field_name)
    return fields


def person_fields(args: Mapping[str, str], name: str = "personFields") -> set[str]:
    """A required mask: 400 when missing or empty."""
    fields = field_list(args.get(name, ""), name)
    if not fields:
        raise invalid(f"{name} mask is required. Please specify one or more valid paths.", name)
    return fields


def answer_mask(args: Mapping[str, str]) -> set[str]:
    """``personFields`` of a write: the fields the answer holds, every field when unset."""
    fields = field_list(args.get("personFields", ""), "personFields")
    return fields or set(PERSON_FIELDS)


def restrict(person: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """``person`` with only ``resourceName``, ``etag`` and the ``fields`` asked for, for an
    answer serialized at once (under the emulator's lock): the values are the stored ones, not
    copies, so the result must not be changed. Stored persons are never changed in place (a
    write stores a new person), and copying each one before encoding it made a page of 1,000
    cost the emulator ten times its JSON encoding."""
    keep = {"resourceName", "etag"} | fields
    return {k: v for k, v in person.items() if k in keep}


def membership(group: str) -> dict[str, Any]:
    return {
        "contactGroupMembership": {
            "contactGroupId": group.removeprefix("contactGroups/"),
            "contactGroupResourceName": group,
        }
    }


def check_etag(body: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    etag = body.get("etag") or ""
    if not etag:
        raise invalid(
            "Request must set person.etag or person.metadata.sources.etag for the source that "
            "is being updated.",
            "person.etag",
        )
    if etag != current["etag"]:
        raise ApiError(
            400,
            "FAILED_PRECONDITION",
            "Request person.etag is different than the current person.etag. Clear local cache "
            "and get the latest person.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "failedPrecondition",
                    "domain": "people.googleapis.com",
                }
            ],
        )


def computed(person: dict[str, Any]) -> None:
    """The output-only parts Google derives on every write."""
    for name in person.get("names") or []:
        given, family = name.get("givenName", ""), name.get("familyName", "")
        name["displayName"] = " ".join(p for p in (given, family) if p)
        name["displayNameLastFirst"] = ", ".join(p for p in (family, given) if p)
        name["unstructuredName"] = name["displayName"]
    for key in ("emailAddresses", "phoneNumbers", "names", "organizations"):
        for position, item in enumerate(person.get(key) or []):
            item.setdefault("metadata", {})["primary"] = position == 0
    for phone in person.get("phoneNumbers") or []:
        digits = re.sub(r"[^\d+]", "", str(phone.get("value", "")))
        if digits.startswith("+"):
            phone["canonicalForm"] = digits


def search_texts(person: Mapping[str, Any]) -> list[str]:
    """What ``people:searchContacts`` matches a query against: names, nicknames, emails,
    phones and organizations."""
    texts: list[str] = []
    for name in person.get("names") or []:
        texts += [name.get(k, "") for k in ("givenName", "familyName", "displayName")]
    texts += [n.get("value", "") for n in person.get("nicknames") or []]
    texts += [e.get("value", "") for e in person.get("emailAddresses") or []]
    for phone in person.get("phoneNumbers") or []:
        texts += [phone.get("value", ""), phone.get("canonicalForm", "")]
    texts += [o.get("name", "") for o in person.get("organizations") or []]
    return [t for t in texts if isinstance(t, str) and t]
