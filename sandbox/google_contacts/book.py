"""One user's contact book as the emulator keeps it: each contact's latest state and what
listings show of it (writes reach listings after the propagation delay), the user's groups,
old resource names, and the user's request counts; and the access tokens."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


def now_iso(now: float) -> str:
    return dt.datetime.fromtimestamp(now, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Entry:
    """One contact: its latest state (``person`` None once deleted) and what listings show."""

    person: dict[str, Any] | None
    seq: int
    visible_at: float
    # Also hidden until the user's API request count reaches this (``propagation_requests``).
    visible_after: int = 0
    shown: dict[str, Any] | None = None
    # ``shown`` as JSON text, made when it is shown: listings answer a stored person with it
    # rather than encoding it again for every page that holds it.
    shown_text: str = ""
    shown_seq: int = 0
    tombstone: dict[str, Any] | None = None


@dataclass
class Book:
    email: str
    entries: dict[str, Entry] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    # Entries whose latest change is not shown yet (by ``id`` of the entry), so settling reads
    # only those; and the shown change sequences in order, with the entry each belongs to and
    # the count of shown live contacts: listings read them like the indexes of the real API.
    pending: dict[int, Entry] = field(default_factory=dict)
    shown_order: list[int] = field(default_factory=list)
    shown_by_seq: dict[int, Entry] = field(default_factory=dict)
    shown_live: int = 0
    # People API requests made with this user's tokens, and those in the current quota minute.
    request_count: int = 0
    quota_minute: int = 0
    quota_used: int = 0


def live_shown(entry: Entry) -> int:
    """1 when listings show the entry as a live contact (not a tombstone), else 0."""
    return int(entry.shown is not None and not entry.shown["metadata"].get("deleted"))


@dataclass
class AccessToken:
    email: str
    expires_at: float
