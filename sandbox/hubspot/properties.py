"""Contact properties: HubSpot's default ones, custom ones created through the properties API,
their rendering (the contract's ``PROPERTY``) and the checks a value written to each passes.

Every value is stored and answered as a string (api-notes §3.2): numbers as written, booleans
``"true"``/``"false"``, dates ``YYYY-MM-DD`` (written as that or as midnight-UTC epoch
milliseconds), date-times ISO 8601 with milliseconds (written as ISO or epoch milliseconds),
multiple checkboxes ``;``-joined option values.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sandbox.hubspot.errors import ApiError, invalid, problem

TYPES = ("bool", "date", "datetime", "enumeration", "number", "phone_number", "string")
FIELD_TYPES = {
    "string": ("text", "textarea", "html", "file", "phonenumber"),
    "number": ("number", "calculation_equation"),
    "date": ("date",),
    "datetime": ("date",),
    "bool": ("booleancheckbox", "select", "radio"),
    "enumeration": ("select", "radio", "checkbox", "booleancheckbox"),
    "phone_number": ("phonenumber", "text"),
}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LIFECYCLE_STAGES = (
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
)
# Properties HubSpot sets itself: a write to one is refused (READ_ONLY_VALUE).
# ``hs_email_optout`` (unsubscribed from all email) is set by HubSpot's subscription system.
READ_ONLY = frozenset({"hs_object_id", "createdate", "lastmodifieddate", "hs_email_optout"})
# What search and reads answer when no ``properties`` are asked for (api-notes §3.2).
DEFAULT_ANSWERED = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)


def iso(when: dt.datetime) -> str:
    when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _default(
    name: str,
    label: str,
    type_: str = "string",
    field_type: str = "text",
    *,
    group: str = "contactinformation",
    options: Iterable[tuple[str, str]] = (),
    read_only: bool = False,
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": "",
        "groupName": group,
        "options": [
            {"label": text, "value": value, "displayOrder": order, "hidden": False}
            for order, (value, text) in enumerate(options)
        ],
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": name == "email",
        "hidden": False,
        "hubspotDefined": True,
        "formField": not read_only,
        "modificationMetadata": {
            "archivable": False,
            "readOnlyDefinition": True,
            "readOnlyValue": read_only,
        },
        "archived": False,
    }


def default_properties(now: str) -> dict[str, dict[str, Any]]:
    """The contact properties every portal has (the ones Tandem maps, and the system ones)."""
    found = [
        _default("email", "Email"),
        _default("firstname", "First Name"),
        _default("lastname", "Last Name"),
        _default("salutation", "Salutation"),
        _default("phone", "Phone Number", "string", "phonenumber"),
        _default("mobilephone", "Mobile Phone Number", "string", "phonenumber"),
        _default("company", "Company Name"),
        _default("jobtitle", "Job Title"),
        _default("website", "Website URL"),
        _default("address", "Street Address"),
        _default("city", "City"),
        _default("state", "State/Region"),
        _default("zip", "Postal Code"),
        _default("country", "Country/Region"),
        _default("date_of_birth", "Date of birth"),
        _default("message", "Message", "string", "textarea"),
        _default(
            "lifecyclestage",
            "Lifecycle Stage",
            "enumeration",
            "radio",
            options=LIFECYCLE_STAGES,
        ),
        _default(
            "hs_email_optout",
            "Unsubscribed from all email",
            "bool",
            "booleancheckbox",
            group="emailinformation",
            options=(("true", "Yes"), ("false", "No")),
            read_only=True,
        ),
        _default("hs_object_id", "Record ID", "number", "number", read_only=True),
        _default("createdate", "Create Date", "datetime", "date", read_only=True),
        _default("lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
    ]
    for prop in found:
        prop["createdAt"] = prop["updatedAt"] = now
    return {prop["name"]: prop for prop in found}


def custom_property(body: Any, existing: Mapping[str, Any], now: str) -> dict[str, Any]:
    """A property from a ``POST /crm/v3/properties/contacts`` body (the contract's
    ``NEW_PROPERTY``): ``ApiError`` (400, or 409 for a name in use) when HubSpot would refuse
    it."""
    if not isinstance(body, dict):
        raise invalid("Invalid input JSON: the body must be an object")
    for key in ("name", "label", "type", "fieldType", "groupName"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise invalid(f"Invalid input JSON: {key} is required")
    name = body["name"]
    if not NAME_RE.fullmatch(name):
        raise invalid(
            f"Property name '{name}' is invalid: use lowercase letters, digits and "
            "underscores, starting with a letter"
        )
    if name in existing:
        raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"Property named '{name}' already exists.")
    if body["type"] not in TYPES:
        raise invalid(f"Invalid property type '{body['type']}'")
    if body["fieldType"] not in FIELD_TYPES[body["type"]]:
        raise invalid(
            f"Field type '{body['fieldType']}' is not compatible with type '{body['type']}'"
        )
    options = body.get("options") or []
    if not isinstance(options, list):
        raise invalid("Invalid input JSON: options must be an array")
    cleaned = []
    for order, option in enumerate(options):
        if (
            not isinstance(option, dict)
            or not isinstance(option.get("label"), str)
            or not isinstance(option.get("value"), str)
            or not option["value"]
        ):
            raise invalid("Invalid input JSON: each option needs a label and a value")
        order_given = option.get("displayOrder", order)
        if isinstance(order_given, bool) or not isinstance(order_given, int):
            raise invalid("Invalid input JSON: an option's displayOrder must be a number")
        cleaned.append(
            {
                "label": option["label"],
                "value": option["value"],
                "displayOrder": order_given,
                "hidden": bool(option.get("hidden", False)),
            }
        )
    if body["type"] == "enumeration" and not cleaned:
        raise invalid("An enumeration property needs at least one option")
    if len({o["value"] for o in cleaned}) != len(cleaned):
        raise invalid("Option values must be unique")
    prop = _default(name, body["label"], body["type"], body["fieldType"], group=body["groupName"])
    prop.update(
        options=cleaned,
        description=str(body.get("description") or ""),
        hasUniqueValue=bool(body.get("hasUniqueValue", False)),
        hubspotDefined=False,
        formField=bool(body.get("formField", False)),
        createdAt=now,
        updatedAt=now,
    )
    prop["modificationMetadata"] = {
        "archivable": True,
        "readOnlyDefinition": False,
        "readOnlyValue": False,
    }
    return prop


def _epoch_ms(text: str) -> dt.datetime | None:
    if re.fullmatch(r"-?\d{1,15}", text):
        return dt.datetime.fromtimestamp(int(text) / 1000, tz=dt.UTC)
    return None


def parse_instant(text: str) -> dt.datetime | None:
    """An epoch-milliseconds or ISO 8601 value as an aware datetime (``None`` if neither)."""
    found = _epoch_ms(text)
    if found is not None:
        return found
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def normalize(
    props: Mapping[str, dict[str, Any]], name: str, value: Any
) -> tuple[str, dict[str, Any] | None]:
    """The string HubSpot stores for ``value`` written to property ``name`` and, when it
    refuses the value, the per-property verdict instead."""
    prop = props.get(name)
    if prop is None or prop.get("archived"):
        return "", problem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
    if name in READ_ONLY:
        return "", problem(name, "READ_ONLY_VALUE", f'"{name}" is a read only property')
    if value is None:
        return "", None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = repr(value) if isinstance(value, float) else str(value)
    elif isinstance(value, str):
        text = value
    else:
        return "", problem(
            name, "INVALID_PROPERTY_VALUE", f"{json_text(value)} is not a valid property value"
        )
    if text == "":
        return "", None
    kind = prop["type"]
    if name == "email" and not EMAIL_RE.fullmatch(text):
        return "", problem(name, "INVALID_EMAIL", f"Email address {text} is invalid")
    if kind == "number":
        try:
            float(text)
        except ValueError:
            return "", problem(name, "INVALID_INTEGER", f"{text} was not a valid number.")
        return text, None
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            return "", problem(name, "INVALID_BOOLEAN", f"{text} was not a valid boolean.")
        return text.lower(), None
    if kind == "date":
        if DATE_RE.fullmatch(text):
            try:
                dt.date.fromisoformat(text)
            except ValueError:
                pass
            else:
                return text, None
        when = _epoch_ms(text)
        if when is None:
            return "", problem(name, "INVALID_DATE", f"{text} was not a valid date.")
        if when.time() != dt.time(0):
            return "", problem(
                name,
                "INVALID_DATE",
                f"{text} is at {when:%H:%M:%S}.{when.microsecond // 1000:03d} UTC, not midnight!",
            )
        return when.date().isoformat(), None
    if kind == "datetime":
        parsed = parse_instant(text)
        if parsed is None:
            return "", problem(name, "INVALID_DATETIME", f"{text} was not a valid date-time.")
        return iso(parsed), None
    if kind == "enumeration":
        allowed = {o["value"] for o in prop["options"]}
        parts = text.split(";") if prop["fieldType"] == "checkbox" else [text]
        for part in parts:
            if part not in allowed:
                choices = ", ".join(sorted(allowed))
                return "", problem(
                    name,
                    "INVALID_OPTION",
                    f"{part} was not one of the allowed options: [{choices}]",
                )
        return text, None
    if len(text) > 65536:
        return "", problem(name, "INVALID_PROPERTY_VALUE", f"{name} is longer than 65536")
    return text, None


def json_text(value: Any) -> str:
    return str(value)[:80]
