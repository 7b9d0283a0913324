"""One HubSpot account (a portal, "hub"): its contacts, properties, static lists, tokens and rate
windows, and the writes on its contacts.

A contact is stored as ``{"id", "properties": {name: str}, "createdAt", "updatedAt",
"archived", "archivedAt"}``; ``lastmodifieddate`` and ``updatedAt`` move on every write, to the
emulator's clock. Emails are unique among live contacts, compared case-insensitively.
"""

from __future__ import annotations

import collections
import copy
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.hubspot.errors import ApiError, conflict_existing, property_problems
from sandbox.hubspot.properties import DEFAULT_ANSWERED, default_properties, iso, normalize

CONTACTS_TYPE = "0-1"


@dataclass
class Portal:
    hub_id: int
    domain: str
    properties: dict[str, dict[str, Any]]
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Live contacts by case-folded email.
    by_email: dict[str, str] = field(default_factory=dict)
    lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    # listId -> {recordId: membershipTimestamp}
    members: dict[str, dict[str, str]] = field(default_factory=dict)
    # Rate limits (api-notes §3.5): requests per rolling 10 s (private apps of a Professional
    # account; OAuth apps 110), searches per second, requests per day (private apps only).
    burst_limit: int = 190
    oauth_burst_limit: int = 110
    search_per_second: int = 4
    daily_limit: int = 650_000
    window: collections.deque[float] = field(default_factory=collections.deque)
    search_window: collections.deque[float] = field(default_factory=collections.deque)
    day: str = ""
    day_used: int = 0
    # Search reads an index that lags behind writes (api-notes §3.3: "seconds"): a contact
    # written less than ``search_lag`` seconds ago shows in search as it was before (a new one
    # not at all). ``search_view``: id -> (when the write shows, the contact as search shows
    # it until then, or None).
    search_lag: float = 0.0
    search_view: dict[str, tuple[float, dict[str, Any] | None]] = field(default_factory=dict)

    # ---- contacts --------------------------------------------------------------------------

    def live(self, contact_id: str) -> dict[str, Any] | None:
        contact = self.contacts.get(contact_id)
        return contact if contact is not None and not contact["archived"] else None

    def by_id_property(self, key: str, id_property: str) -> dict[str, Any] | None:
        if id_property == "email":
            found = self.by_email.get(key.casefold())
            return self.contacts[found] if found else None
        if id_property in ("", "hs_object_id"):
            return self.live(key)
        return None

    def _values(self, body_props: Any) -> dict[str, str]:
        if not isinstance(body_props, dict):
            raise ApiError(400, "VALIDATION_ERROR", "Invalid input JSON: properties is required")
        values: dict[str, str] = {}
        problems = []
        for name, value in body_props.items():
            text, verdict = normalize(self.properties, str(name), value)
            if verdict is not None:
                problems.append(verdict)
            else:
                values[str(name)] = text
        if problems:
            raise property_problems(problems)
        return values

    def _check_email(self, values: Mapping[str, str], contact_id: str | None) -> None:
        email = values.get("email")
        if not email:
            return
        holder = self.by_email.get(email.casefold())
        if holder is not None and holder != contact_id:
            raise conflict_existing(holder)

    def lagging(self, contact_id: str, before: dict[str, Any] | None, now: dt.datetime) -> None:
        """Note a write to the contact for search's index (``before``: as it was)."""
        if self.search_lag <= 0:
            return
        pending = self.search_view.get(contact_id)
        shown = pending[1] if pending is not None else before
        self.search_view[contact_id] = (now.timestamp() + self.search_lag, shown)

    def searchable(self, now: float) -> list[dict[str, Any]]:
        """The contacts as search's index holds them at ``now`` (archived ones left out)."""
        found = []
        for contact_id, contact in self.contacts.items():
            pending = self.search_view.get(contact_id)
            if pending is not None and pending[0] > now:
                shown = pending[1]
            else:
                self.search_view.pop(contact_id, None)
                shown = contact
            if shown is not None and not shown["archived"]:
                found.append(shown)
        return found

    def create(self, new_id: str, body_props: Any, now: dt.datetime) -> dict[str, Any]:
        values = self._values(body_props)
        self._check_email(values, None)
        self.lagging(new_id, None, now)
        stamp = iso(now)
        props = {k: v for k, v in values.items() if v != ""}
        props.update(createdate=stamp, lastmodifieddate=stamp, hs_object_id=new_id)
        if "lifecyclestage" not in props:
            props["lifecyclestage"] = "lead"
        contact = {
            "id": new_id,
            "properties": props,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }
        self.contacts[new_id] = contact
        self._index(contact)
        return contact

    def update(self, contact: dict[str, Any], body_props: Any, now: dt.datetime) -> None:
        """Set the given properties ("" clears one) and move the modification stamps."""
        values = self._values(body_props)
        self._check_email(values, contact["id"])
        self.lagging(contact["id"], copy.deepcopy(contact), now)
        old_email = contact["properties"].get("email")
        for name, value in values.items():
            if value == "":
                contact["properties"].pop(name, None)
            else:
                contact["properties"][name] = value
        self.touch(contact, now)
        if (
            old_email
            and old_email.casefold() != (contact["properties"].get("email") or "").casefold()
        ):
            self.by_email.pop(old_email.casefold(), None)
        self._index(contact)

    def touch(self, contact: dict[str, Any], now: dt.datetime) -> None:
        stamp = iso(now)
        contact["updatedAt"] = stamp
        contact["properties"]["lastmodifieddate"] = stamp

    def archive(self, contact: dict[str, Any], now: dt.datetime) -> None:
        if contact["archived"]:
            return
        self.lagging(contact["id"], copy.deepcopy(contact), now)
        contact["archived"] = True
        contact["archivedAt"] = iso(now)
        self.touch(contact, now)
        email = contact["properties"].get("email")
        if email and self.by_email.get(email.casefold()) == contact["id"]:
            del self.by_email[email.casefold()]
        for members in self.members.values():
            members.pop(contact["id"], None)

    def _index(self, contact: dict[str, Any]) -> None:
        email = contact["properties"].get("email")
        if email and not contact["archived"]:
            self.by_email[email.casefold()] = contact["id"]

    def render(
        self, contact: Mapping[str, Any], names: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """A contact as the API answers it (the contract's ``CONTACT``): the asked-for
        properties (HubSpot's default set when none are asked for), ``null`` for those the
        contact has no value of."""
        wanted = list(names) if names else list(DEFAULT_ANSWERED)
        stored = contact["properties"]
        out: dict[str, Any] = {
            "id": contact["id"],
            "properties": {
                name: stored.get(name)
                for name in dict.fromkeys(wanted)
                if name in self.properties or name in stored
            },
            "createdAt": contact["createdAt"],
            "updatedAt": contact["updatedAt"],
            "archived": contact["archived"],
        }
        if contact.get("archivedAt"):
            out["archivedAt"] = contact["archivedAt"]
        return out

    # ---- lists -----------------------------------------------------------------------------

    def list_named(self, name: str) -> dict[str, Any] | None:
        wanted = name.casefold()
        return next(
            (item for item in self.lists.values() if item["name"].casefold() == wanted), None
        )

    def lists_of(self, contact_id: str) -> list[dict[str, Any]]:
        return [
            self.lists[list_id]
            for list_id, members in self.members.items()
            if contact_id in members and list_id in self.lists
        ]


def new_portal(hub_id: int, domain: str, now: dt.datetime) -> Portal:
    return Portal(hub_id=hub_id, domain=domain, properties=default_properties(iso(now)))
