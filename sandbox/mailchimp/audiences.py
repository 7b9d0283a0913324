"""The store of one Mailchimp account: audiences (lists), their merge fields and members, and the
rules of a member's life beyond what the document's schemas say (api-notes §4.2 to §4.4).

A member is keyed by its subscriber hash, ``md5(lower(email))``. Every write moves its
``last_changed``. ``DELETE`` archives (reversible); ``delete-permanent`` forgets the email, and
the audience refuses it from then on. Nobody who unsubscribed or was cleaned is turned back into
``subscribed`` through the API ("Member In Compliance State").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.mailchimp.errors import ApiError, invalid

STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")
# Statuses only the member (or a bounce) can leave: never turned into ``subscribed`` by the API.
COMPLIANCE = frozenset({"unsubscribed", "cleaned"})
# A member in one of these cannot be archived (Mailchimp answers 405).
UNARCHIVABLE = frozenset({"cleaned", "pending", "archived"})
MERGE_TYPES = (
    "text",
    "number",
    "address",
    "phone",
    "date",
    "url",
    "imageurl",
    "radio",
    "dropdown",
    "birthday",
    "zip",
)
ADDRESS_KEYS = ("addr1", "addr2", "city", "state", "zip", "country")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BIRTHDAY_RE = re.compile(r"^(0[1-9]|1[0-2])/(0[1-9]|[12]\d|3[01])$")
# At most this many tags are returned with a member.
MEMBER_TAGS_SHOWN = 50


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def iso(when: dt.datetime) -> str:
    """Mailchimp's timestamps: whole seconds, ``+00:00``."""
    return when.astimezone(dt.UTC).replace(microsecond=0).isoformat()


@dataclass
class Audience:
    id: str
    name: str
    web_id: int
    date_created: str
    merge_fields: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    forgotten: set[str] = field(default_factory=set)
    tags: dict[str, int] = field(default_factory=dict)
    seq: int = 0
    # contact_id -> subscriber hash: a member's contact_id stays when its email changes.
    contacts: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: str) -> str:
        """The subscriber hash a path names: a hash, an email address or a contact_id."""
        if "@" in value:
            return subscriber_hash(value)
        value = value.lower()
        return value if value in self.members else self.contacts.get(value, value)

    def merge_field(self, tag: str) -> dict[str, Any] | None:
        return next((f for f in self.merge_fields if f["tag"] == tag), None)


@dataclass
class Account:
    dc: str
    name: str
    login_email: str
    user_id: str
    api_keys: set[str] = field(default_factory=set)
    audiences: dict[str, Audience] = field(default_factory=dict)


def merge_field_problem(spec: Mapping[str, Any], value: Any) -> str:
    """Why ``value`` cannot go into this merge field, or ""."""
    kind = spec["type"]
    if value in ("", None):
        return ""
    if kind == "address":
        if not isinstance(value, dict):
            return "Please enter a complete address"
        unknown = set(value) - set(ADDRESS_KEYS)
        if unknown:
            return f"Unknown address part {sorted(unknown)[0]}"
        if not all(str(value.get(k) or "").strip() for k in ("addr1", "city", "state", "zip")):
            return "Please enter a complete address"
        return ""
    if isinstance(value, dict | list | bool):
        return "Please enter a value of the field's type"
    text = str(value)
    if kind == "number":
        try:
            float(text)
        except ValueError:
            return "Please enter a number"
    elif kind == "date":
        if not DATE_RE.match(text):
            return "Please enter the date in the format YYYY-MM-DD"
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            return "Please enter a valid date"
    elif kind == "birthday":
        if not BIRTHDAY_RE.match(text):
            return "Please enter the birthday in the format MM/DD"
    elif kind in ("radio", "dropdown"):
        choices = (spec.get("options") or {}).get("choices") or []
        if text not in choices:
            return f"Please choose one of {', '.join(choices)}"
    elif kind in ("url", "imageurl"):
        if not re.match(r"^https?://\S+$", text):
            return "Please enter a valid URL"
    elif len(text) > 255:
        return "Please enter no more than 255 characters"
    return ""


def check_merge_fields(
    audience: Audience, values: Mapping[str, Any], *, new: bool, skip_validation: bool
) -> None:
    errors = []
    for tag, value in values.items():
        spec = audience.merge_field(tag)
        if spec is None:
            errors.append({"field": tag, "message": "This merge field does not exist"})
            continue
        problem = merge_field_problem(spec, value)
        if problem:
            errors.append({"field": tag, "message": problem})
    if new and not skip_validation:
        for spec in audience.merge_fields:
            if spec["required"] and values.get(spec["tag"]) in ("", None):
                errors.append({"field": spec["tag"], "message": "Please enter a value"})
    if errors:
        raise invalid("Your merge fields were invalid.", errors)


def check_email(email: str) -> str:
    email = email.strip()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise invalid(f"{email[:80]} looks fake or invalid, please enter a real email address.")
    return email


def check_status_change(member: Mapping[str, Any], status: str) -> None:
    """Refuse turning someone who unsubscribed or was cleaned back into ``subscribed``."""
    before = member["status"]
    if before == "archived":
        before = member.get("_before_archive", "subscribed")
    if before in COMPLIANCE and status == "subscribed":
        raise ApiError(
            400,
            "Member In Compliance State",
            f"{member['email_address']} is already a list member in compliance state due to "
            "unsubscribe, bounce, or compliance review.",
        )


def normalized_merge_values(audience: Audience, values: Mapping[str, Any]) -> dict[str, Any]:
    """What the member holds for each merge field: ``""`` for empty ones, numbers as numbers."""
    out: dict[str, Any] = {}
    for tag, value in values.items():
        spec = audience.merge_field(tag)
        if spec is not None and spec["type"] == "number" and value not in ("", None):
            number = float(value)
            out[tag] = int(number) if number.is_integer() else number
        elif spec is not None and spec["type"] == "address" and isinstance(value, dict):
            out[tag] = {k: str(value.get(k) or "") for k in ADDRESS_KEYS}
        else:
            out[tag] = "" if value is None else value
    return out


def render(audience: Audience, member: Mapping[str, Any], base_url: str = "") -> dict[str, Any]:
    """A member as the API answers it (``List_Members`` in the spec; the archived status too)."""
    merge = {spec["tag"]: "" for spec in audience.merge_fields}
    merge.update(member["merge_fields"])
    names = " ".join(str(merge.get(t) or "") for t in ("FNAME", "LNAME")).strip()
    tags = [{"id": audience.tags[name], "name": name} for name in member["tags"]]
    body = {
        key: value for key, value in member.items() if not key.startswith("_") and key != "tags"
    }
    self_link = f"{base_url}/lists/{audience.id}/members/{member['id']}"
    body.update(
        {
            "full_name": names,
            "merge_fields": merge,
            "tags_count": len(tags),
            "tags": tags[:MEMBER_TAGS_SHOWN],
            "list_id": audience.id,
            "_links": [
                {
                    "rel": "self",
                    "href": self_link,
                    "method": "GET",
                    "targetSchema": "https://us1.api.mailchimp.com/schema/3.0/Definitions/Lists/Members/Response.json",
                },
            ],
        }
    )
    return body


def new_member(audience: Audience, email: str, when: str) -> dict[str, Any]:
    audience.seq += 1
    member_hash = subscriber_hash(email)
    return {
        "id": member_hash,
        "email_address": email,
        "unique_email_id": member_hash[:10],
        "contact_id": hashlib.md5(
            f"{audience.id}:{member_hash}".encode(), usedforsecurity=False
        ).hexdigest(),
        "web_id": 100_000 + audience.seq,
        "email_type": "html",
        "status": "subscribed",
        "consents_to_one_to_one_messaging": True,
        "merge_fields": {},
        "interests": {},
        "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
        "ip_signup": "",
        "timestamp_signup": "",
        "ip_opt": "",
        "timestamp_opt": when,
        "member_rating": 2,
        "last_changed": when,
        "language": "",
        "vip": False,
        "email_client": "",
        "location": {
            "latitude": 0,
            "longitude": 0,
            "gmtoff": 0,
            "dstoff": 0,
            "country_code": "",
            "timezone": "",
            "region": "",
        },
        "source": "API - Generic",
        "tags": [],
        "_seq": audience.seq,
    }


def check_tags(tags: list[dict[str, Any]]) -> None:
    """Refuse a tag whose name is empty or longer than 100 characters."""
    for tag in tags:
        name = str(tag["name"]).strip()
        if not name or len(name) > 100:
            raise invalid(
                "A tag name is 1 to 100 characters.",
                [{"field": "tags.name", "message": "Invalid tag name"}],
            )


def add_tag(audience: Audience, member: dict[str, Any], name: str) -> None:
    if name not in audience.tags:
        audience.tags[name] = 10_000 + len(audience.tags) + 1
    if name not in member["tags"]:
        member["tags"].append(name)


def merge_field_spec(audience: Audience, body: Mapping[str, Any]) -> dict[str, Any]:
    """A new merge field from a ``POST .../merge-fields`` body (already schema-checked)."""
    tag = str(body.get("tag") or "").strip().upper()
    if not tag:
        tag = f"MMERGE{len(audience.merge_fields) + 1}"
    if not re.fullmatch(r"[A-Z0-9_]{1,10}", tag):
        raise invalid(
            "The merge tag may hold at most 10 letters, digits or underscores.",
            [{"field": "tag", "message": "Invalid merge tag"}],
        )
    if audience.merge_field(tag) is not None:
        raise invalid(f'A Merge Field with the tag "{tag}" already exists for this list.')
    merge_id = max((f["merge_id"] for f in audience.merge_fields), default=0) + 1
    options = dict(body.get("options") or {})
    if body["type"] in ("radio", "dropdown") and not options.get("choices"):
        raise invalid(
            "A dropdown or radio merge field needs choices.",
            [{"field": "options.choices", "message": "Please enter a value"}],
        )
    return {
        "merge_id": merge_id,
        "tag": tag,
        "name": str(body["name"]),
        "type": str(body["type"]),
        "required": bool(body.get("required", False)),
        "default_value": str(body.get("default_value") or ""),
        "public": bool(body.get("public", True)),
        "display_order": int(body.get("display_order") or merge_id + 1),
        "options": {**options, "size": 25} if body["type"] == "text" else options,
        "help_text": str(body.get("help_text") or ""),
        "list_id": audience.id,
    }


def render_list(audience: Audience) -> dict[str, Any]:
    """An audience as ``GET /lists/{id}`` answers it (``Subscriber_List``)."""
    members = list(audience.members.values())
    count = {s: sum(1 for m in members if m["status"] == s) for s in STATUSES}
    return {
        "id": audience.id,
        "web_id": audience.web_id,
        "name": audience.name,
        "contact": {
            "company": audience.name,
            "address1": "1 Main St",
            "address2": "",
            "city": "Atlanta",
            "state": "GA",
            "zip": "30308",
            "country": "US",
            "phone": "",
        },
        "permission_reminder": "You signed up on our website.",
        "use_archive_bar": True,
        "campaign_defaults": {
            "from_name": audience.name,
            "from_email": "news@example.com",
            "subject": "",
            "language": "en",
        },
        "notify_on_subscribe": "",
        "notify_on_unsubscribe": "",
        "date_created": audience.date_created,
        "list_rating": 3,
        "email_type_option": False,
        "subscribe_url_short": "http://eepurl.com/demo",
        "subscribe_url_long": f"https://list-manage.example/subscribe?id={audience.id}",
        "beamer_address": f"{audience.id}@inbound.mailchimp.example",
        "visibility": "prv",
        "double_optin": False,
        "has_welcome": False,
        "marketing_permissions": False,
        "modules": [],
        "stats": {
            "member_count": count["subscribed"],
            "unsubscribe_count": count["unsubscribed"],
            "cleaned_count": count["cleaned"],
            "member_count_since_send": 0,
            "unsubscribe_count_since_send": 0,
            "cleaned_count_since_send": 0,
            "campaign_count": 0,
            "campaign_last_sent": "",
            "merge_field_count": len(audience.merge_fields),
            "avg_sub_rate": 0,
            "avg_unsub_rate": 0,
            "target_sub_rate": 0,
            "open_rate": 0,
            "click_rate": 0,
            "last_sub_date": "",
            "last_unsub_date": "",
        },
        "_links": [],
    }
