"""Customers: the body rules beyond the schema (custom attributes by suffix, identifiers unique
per org), the identifiers a customer is found by, and the customer as the API renders it.

Stored attributes are rendered as stored: a customer written long ago, or planted in the store
by a test, with attributes of an odd type is listed with those values rather than failing the
page that holds it (real orgs hold such old data)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.kustomer.errors import ApiError, bad_request

CUSTOM_SUFFIXES = ("Str", "Txt", "Num", "Bool", "At", "Url")
DATETIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
DISPLAY_COLORS = ("yellow", "purple", "blue", "green", "orange", "red", "teal")
DISPLAY_ICONS = ("flower", "leaf", "star", "sun", "moon", "cloud", "tree")
NEUTRAL_SENTIMENT = {"polarity": 0, "confidence": 0}


@dataclass
class Token:
    """An API key (a machine user with fixed roles) or a token from the emulated sign-in."""

    kind: str  # "api_key" or "user"
    roles: frozenset[str]
    user_id: str


@dataclass
class Org:
    subdomain: str
    id: str
    # email (case-folded) -> (password, user id)
    users: dict[str, tuple[str, str]] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    bulk_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # identifier kind ("emails", "phones", "externalId") -> normalized value -> id of the live
    # customer holding it. Plain strings under a kind, not (kind, value) tuples: a dict of
    # strings alone is one the garbage collector never tracks, where a dict given a new tuple
    # key is tracked again, as a young object, and walked whole (hundreds of thousands of
    # entries) by the next collection of the youngest generation.
    index: dict[str, dict[str, str]] = field(default_factory=dict)
    # Every customer's (updatedAt, id), sorted: the change-ordered index a range search on
    # customer_updated_at reads, as the real search reads its own index instead of scanning.
    by_updated: list[tuple[dt.datetime, str]] = field(default_factory=list)
    # The same, split by the customers' last modifier: "changed since, by anyone but X" (a
    # change feed leaving out its own writes) reads the other modifiers' parts, as the real
    # search answers it from its index instead of filtering out X's changes one by one.
    by_modifier: dict[str, list[tuple[dt.datetime, str]]] = field(default_factory=dict)
    rate_limit: int = 1000
    search_rate_limit: int = 100
    window_start: float = 0.0
    used: int = 0
    search_used: int = 0

    def holder(self, kind: str, value: str) -> str | None:
        """The id of the live customer holding this identifier, if any."""
        return self.index.get(kind, {}).get(value)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """An org saved while the index was keyed by (kind, value) loads split by kind."""
        index = state.get("index") or {}
        if any(isinstance(key, tuple) for key in index):
            split: dict[str, dict[str, str]] = {}
            for (kind, value), holder in index.items():
                split.setdefault(kind, {})[value] = holder
            state = {**state, "index": split}
        self.__dict__.update(state)


def iso(when: dt.datetime) -> str:
    return (
        when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    )


def suffix_type(name: str) -> str:
    for suffix, kind in (
        ("Str", "string"), ("Txt", "text"), ("Num", "number"),
        ("Bool", "boolean"), ("At", "date"), ("Url", "url"),
    ):  # fmt: skip
        if name.endswith(suffix):
            return kind
    return "string"


def custom_problem(key: str, value: Any, spec: Mapping[str, Any] | None = None) -> str:
    """Why Kustomer would refuse this custom attribute value, or ""."""
    suffix = next((s for s in CUSTOM_SUFFIXES if key.endswith(s) and len(key) > len(s)), "")
    if not suffix:
        return f"Custom attribute {key} has no known type suffix"
    if value is None:
        return ""
    if suffix in ("Str", "Txt"):
        if not isinstance(value, str) or len(value) > 1024:
            return f"{key} must be a string of at most 1024 characters"
        if spec and spec.get("enumeration") and value not in spec["enumeration"]:
            return f"{key} must be one of {', '.join(spec['enumeration'])}"
    elif suffix == "Num":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{key} must be a number"
    elif suffix == "Bool":
        if not isinstance(value, bool):
            return f"{key} must be a boolean"
    elif suffix == "At":
        if not isinstance(value, str) or not DATETIME_PATTERN.match(value):
            return f"{key} must be an ISO 8601 date-time"
    elif suffix == "Url" and (not isinstance(value, str) or not re.match(r"^https?://\S+$", value)):
        return f"{key} must be a URL"
    return ""


def check_rules(body: Mapping[str, Any], metadata: Mapping[str, Mapping[str, Any]]) -> None:
    """What the schema cannot say: an email needs an ``@``; custom attributes by their type
    suffix and the org's enumerations. Run after the schema check."""
    for index, item in enumerate(body.get("emails") or []):
        if isinstance(item, dict) and "@" not in str(item.get("email", "")):
            raise bad_request(f"Invalid email {item.get('email')}", f"/emails/{index}/email")
    custom = body.get("custom")
    if isinstance(custom, dict):
        for key, value in custom.items():
            problem = custom_problem(key, value, metadata.get(key))
            if problem:
                raise bad_request(problem, f"/custom/{key}")


def digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def identifiers(attrs: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(index key, label, normalized value)`` of each email, phone and external id: unique
    per org among live customers (api-notes §1.4). Values of an odd type are skipped."""
    wanted: list[tuple[str, str, str]] = []
    for item in _items(attrs.get("emails")):
        if isinstance(item.get("email"), str):
            wanted.append(("emails", "email", item["email"].casefold()))
    for item in _items(attrs.get("phones")):
        if isinstance(item.get("phone"), str):
            wanted.append(("phones", "phone", digits(item["phone"])))
    external = attrs.get("externalId")
    if isinstance(external, str) and external:
        wanted.append(("externalId", "externalId", external))
    return wanted


def check_unique(org: Org, body: Mapping[str, Any], own_id: str | None) -> None:
    for key, label, value in identifiers(body):
        holder = org.holder(key, value)
        if holder is not None and holder != own_id:
            raise ApiError(
                409,
                "duplicate",
                "Conflict",
                f"Duplicate {label} {value} found on customer {holder}",
                f"/{key}",
            )


def _items(value: Any) -> list[dict[str, Any]]:
    """The object items of a stored list attribute (nothing for an odd one)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _listed(value: Any, extra: Mapping[str, Any], defaults: Mapping[str, Any]) -> Any:
    """A stored list of objects with the keys the API adds; anything else as stored."""
    if value is None:
        return []
    if not isinstance(value, list):
        return value
    return [{**defaults, **item, **extra} if isinstance(item, dict) else item for item in value]


def render(org: Org, doc: dict[str, Any]) -> dict[str, Any]:
    """A customer as the API renders it. Kustomer's OpenAPI document derives its response
    schemas from one full example and declares nearly every attribute required; attributes
    this org host does not model (activity, previews, display colours) are rendered with
    neutral values so that responses keep that shape."""
    attrs = doc["attrs"]
    name = attrs.get("name")
    text_name = name if isinstance(name, str) else ""
    first, _, last = text_name.partition(" ")
    emails = _items(attrs.get("emails"))
    first_email = next((e["email"] for e in emails if isinstance(e.get("email"), str)), "")
    counts = dict(doc["conversationCounts"])
    sentiment = attrs.get("sentiment")
    sentiment = dict(NEUTRAL_SENTIMENT) if sentiment is None else sentiment
    external = attrs.get("externalId")
    out: dict[str, Any] = {
        "name": "" if name is None else name,
        "displayName": text_name or first_email or "Unknown",
        "displayColor": DISPLAY_COLORS[int(doc["id"], 16) % len(DISPLAY_COLORS)],
        "displayIcon": DISPLAY_ICONS[int(doc["id"], 16) % len(DISPLAY_ICONS)],
        "firstName": first or None,
        "lastName": last or None,
        "externalId": "" if external is None else external,
        "externalIds": [{"externalId": external, "verified": False, "id": None}]
        if external
        else [],
        "sharedExternalIds": [],
        "signedUpAt": attrs.get("signedUpAt"),
        "avatarUrl": attrs.get("avatarUrl"),
        "username": attrs.get("username"),
        "emails": _listed(attrs.get("emails"), {"id": None}, {"verified": False, "type": "home"}),
        "sharedEmails": [],
        "phones": _listed(attrs.get("phones"), {"id": None}, {"verified": False, "type": "mobile"}),
        "sharedPhones": [],
        "socials": [],
        "sharedSocials": [],
        "urls": _listed(attrs.get("urls"), {"id": None}, {"type": "website"}),
        "locations": [
            {**item, "type": item.get("type") or "other", "address": item.get("address") or ""}
            if isinstance(item, dict)
            else item
            for item in _listed(attrs.get("locations"), {"id": None}, {})
        ]
        if isinstance(attrs.get("locations"), list)
        else _listed(attrs.get("locations"), {}, {}),
        "activeUsers": [],
        "watchers": [],
        "recentLocation": {"updatedAt": doc["createdAt"]},
        "locale": attrs.get("locale") or "",
        "defaultLang": attrs.get("defaultLang") or "",
        "timeZone": attrs.get("timeZone"),
        "birthdayAt": attrs.get("birthdayAt"),
        "gender": attrs.get("gender") or "",
        "presence": "offline",
        "createdAt": doc["createdAt"],
        "updatedAt": doc["updatedAt"],
        "modifiedAt": doc["modifiedAt"],
        "lastSeenAt": doc["createdAt"],
        "lastActivityAt": doc["updatedAt"],
        "lastCustomerActivityAt": doc["createdAt"],
        "lastMessageIn": {"sentAt": doc["createdAt"], "sentiment": None},
        "lastConversation": {
            "id": doc["id"],
            "sentiment": sentiment if isinstance(sentiment, dict) else dict(NEUTRAL_SENTIMENT),
            "tags": [],
        },
        "conversationCounts": counts,
        "preview": {"previewAt": doc["createdAt"], "type": "", "text": "", "subject": ""},
        "tags": list(attrs["tags"]) if isinstance(attrs.get("tags"), list) else attrs.get("tags"),
        "sentiment": sentiment,
        "progressiveStatus": "open" if counts["open"] else "done",
        "custom": dict(attrs["custom"])
        if isinstance(attrs.get("custom"), dict)
        else attrs.get("custom", {}),
        "deleted": doc["deleted"],
        "verified": False,
        "rev": doc["rev"],
    }
    if out["tags"] is None:
        out["tags"] = []
    if out["custom"] is None:
        out["custom"] = {}
    if attrs.get("company"):
        out["company"] = attrs["company"]
    link = f"/v1/customers/{doc['id']}"

    def user(user_id: str) -> dict[str, Any]:
        return {
            "links": {"self": f"/v1/users/{user_id}"},
            "data": {"type": "user", "id": user_id},
        }

    return {
        "type": "customer",
        "id": doc["id"],
        "attributes": out,
        "relationships": {
            "org": {
                "links": {"self": f"/v1/orgs/{org.id}"},
                "data": {"type": "org", "id": org.id},
            },
            "messages": {"links": {"self": f"{link}/messages"}},
            "createdBy": user(doc["createdBy"]),
            "modifiedBy": user(doc["modifiedBy"]),
        },
        "links": {"self": link},
    }
