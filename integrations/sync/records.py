"""The canonical contact every connector maps to and from, and the shapes the engine exchanges
with connectors (pages, checkpoints, write requests and results).

Field values live in ``Contact.values`` keyed by field key. Standard keys are the constants below;
custom fields are ``"custom.<name as the app spells it>"``. Keeping every value under a field key
lets mappings, conditions, actions and the merge treat standard and custom fields alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Standard field keys.
EMAILS = "emails"
PHONES = "phones"
FIRST_NAME = "first_name"
LAST_NAME = "last_name"
FULL_NAME = "full_name"
COMPANY = "company"
JOB_TITLE = "job_title"
ADDRESSES = "addresses"
URLS = "urls"
BIRTHDAY = "birthday"
NOTES = "notes"
TAGS = "tags"
CUSTOM_PREFIX = "custom."

# The composite name field: one side may hold first + last names, the other a full name.
NAME = "name"
# Honorifics, for apps with fields for them (Google): "Dr.", "Jr.". Never part of a last name.
NAME_PREFIX = "name_prefix"
NAME_SUFFIX = "name_suffix"

Checkpoint = dict[str, Any]

# The keys connectors write into their checkpoints, with the JSON types each may hold. Other
# keys are allowed (a new connector's), but only with scalar values.
CHECKPOINT_KEYS: dict[str, tuple[type, ...]] = {
    "updated_at": (str, type(None)),  # Kustomer: updatedAt of the last record applied
    "seen_ids": (list,),  # Kustomer: ids already applied at exactly that updatedAt
    "revs": (dict,),  # Kustomer: their revisions
    "sync_token": (str,),  # Google People: the nextSyncToken
}
_SCALARS = (str, int, float, bool, type(None))


def checkpoint_problem(value: Any) -> str:
    """What makes ``value`` unusable as a stored checkpoint, or "" when it is usable: a JSON
    object whose known keys hold what the connectors write there."""
    if not isinstance(value, dict):
        return f"must be a JSON object, not {type(value).__name__} {str(value)[:40]}"
    for key, item in value.items():
        if not isinstance(key, str):
            return f"has a key that is not text: {key!r}"
        allowed = CHECKPOINT_KEYS.get(key, _SCALARS)
        if not isinstance(item, allowed):
            return f"holds a {type(item).__name__} under {key!r}"
    if not all(isinstance(i, str | int) for i in value.get("seen_ids") or []):
        return "holds a seen_ids entry that is not an id"
    if not all(isinstance(r, str | int) for r in (value.get("revs") or {}).values()):
        return "holds a revs entry that is not a revision"
    return ""


def custom_key(name: str) -> str:
    return f"{CUSTOM_PREFIX}{name}"


def is_custom_key(key: str) -> bool:
    return key.startswith(CUSTOM_PREFIX)


def normalize_email(value: str) -> str:
    """The form two emails are compared in: trimmed and case-folded."""
    return value.strip().casefold()


def storable(value: Any) -> Any:
    """``value`` with its text made storable in PostgreSQL: NUL characters dropped and lone
    surrogates (what a Python decoder leaves of invalid UTF-8) replaced with U+FFFD. An app may
    hand over either; stored in a snapshot, a note or an issue they would fail the run."""
    if isinstance(value, str):
        if value.isascii() and "\x00" not in value:
            return value
        if "\x00" in value:
            value = value.replace("\x00", "")
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
        return value
    # Every record's values pass here: plain ASCII text, most of them, is kept without a call.
    if isinstance(value, dict):
        return {
            (k if type(k) is str and k.isascii() and "\x00" not in k else storable(k)): (
                v if type(v) is str and v.isascii() and "\x00" not in v else storable(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [
            v if type(v) is str and v.isascii() and "\x00" not in v else storable(v) for v in value
        ]
    return value


@dataclass
class Contact:
    """One contact as Tandem sees it, whatever app it came from."""

    id: str
    updated_at: dt.datetime | None = None
    # The app's revision of the record (Kustomer ``rev``, Google ``etag``): together with ``id``
    # it tells whether a record read again was already applied.
    version: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    unsubscribed: bool = False
    # App-specific facts that only conditions read (Kustomer sentiment, open conversations ...).
    facts: dict[str, Any] = field(default_factory=dict)
    # The create-intent key this record was created with, as read back from the app.
    idempotency_key: str = ""
    # Why the app's record cannot be read as a contact (old data with a value of an odd type):
    # such a record is parked as a record issue with this reason, and the rest go on.
    problem: str = ""

    def make_storable(self) -> Contact:
        """Drop what PostgreSQL cannot store from the values an app handed over (``storable``)."""
        self.values = storable(self.values)
        return self

    @property
    def emails(self) -> list[str]:
        return list(self.values.get(EMAILS) or [])

    @property
    def normalized_emails(self) -> list[str]:
        # ``normalize_email`` of each of ``emails``, inline: a scan asks this of every record
        # several times (indexing, matching).
        return [e.strip().casefold() for e in self.values.get(EMAILS) or () if e and e.strip()]

    @property
    def tags(self) -> list[str]:
        return list(self.values.get(TAGS) or [])

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


@dataclass
class Page:
    """One page of a change feed: records in ascending change order, and the checkpoint that is
    safe to save once every record of this page has been applied."""

    records: list[Contact]
    checkpoint: Checkpoint
    # True when the connector had to fall back to a full listing (first run, expired sync token).
    full_scan: bool = False


@dataclass
class NewContact:
    """A create request. ``ref`` is the caller's handle for matching results to requests.

    ``unsubscribed`` carries the source record's consent: an app with subscriptions (Mailchimp)
    adds such a contact as unsubscribed, never subscribed; apps without ignore it."""

    ref: str
    values: dict[str, Any]
    idempotency_key: str = ""
    unsubscribed: bool = False


@dataclass
class ContactUpdate:
    """An update request: only the fields that change, with the version the change is based on."""

    id: str
    changes: dict[str, Any]
    version: str = ""


@dataclass
class WriteResult:
    """The outcome of one create or update. A failed result carries the app's reason; the record
    becomes a record issue and the rest of the batch goes on."""

    ref: str
    record: Contact | None = None
    error: str = ""
    # A permanent error (validation, duplicate) will fail again unchanged; a transient one may not.
    permanent: bool = True
    # The app kept answering 429 (throttled): it did not process the write, which is no failure
    # of the record; the run leaves it for the next run.
    throttled: bool = False

    @property
    def ok(self) -> bool:
        return self.record is not None and not self.error


def previous_ids(record: Contact) -> list[str]:
    """Ids the record answered to before (Google changes a contact's resourceName)."""
    return [str(old) for old in record.facts.get("previous_ids") or []]


def emails_of(records: Iterable[Contact]) -> list[str]:
    seen: dict[str, None] = {}
    for record in records:
        for email in record.normalized_emails:
            seen.setdefault(email, None)
    return list(seen)
