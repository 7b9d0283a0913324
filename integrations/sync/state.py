"""What a run remembers from page to page, as plain data: the records it has dealt with, the
email index of a scan, the stored link of a pair. The engine passes these along; the planner
reads them and says what to add."""

from __future__ import annotations

import dataclasses
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from integrations.sync.packed import HashIndex, Strings, StringSet, append_number, numbers
from integrations.sync.records import Contact, previous_ids
from integrations.sync.sides import SIDES, Side


@dataclass
class Link:
    """A stored pair (``RecordLink``) as the planner sees it. ``pk`` is ``None`` for a link the
    run is about to make."""

    id_a: str
    id_b: str
    version_a: str = ""
    version_b: str = ""
    deleted_a: bool = False
    deleted_b: bool = False
    snapshot: dict[str, Any] = field(default_factory=dict)
    applied_actions: dict[str, Any] = field(default_factory=dict)
    pk: int | None = None

    def id(self, side: str) -> str:
        return self.id_a if side == "a" else self.id_b

    def version(self, side: str) -> str:
        return self.version_a if side == "a" else self.version_b

    def deleted(self, side: str) -> bool:
        return self.deleted_a if side == "a" else self.deleted_b

    def with_id(self, side: str, record_id: str) -> Link:
        if side == "a":
            return dataclasses.replace(self, id_a=record_id)
        return dataclasses.replace(self, id_b=record_id)

    def with_deleted(self, side: str) -> Link:
        if side == "a":
            return dataclasses.replace(self, deleted_a=True)
        return dataclasses.replace(self, deleted_b=True)


class EmailIndex:
    """Normalized email -> record ids of one side, built by the scan. Kept packed
    (``sync/packed.py``): an entry per (email, record) numbers the email and the record's id in
    two string buffers, found by the email's hash and told apart by the email itself. An
    email is kept as the text before its last "@" and the number of what follows (its domain,
    shared by many: 12 bytes an email less at 100,000 a side), up to ``DOMAINS`` domains; the
    email of any other is kept whole. The buffers are cut to their size at the first lookup."""

    DOMAINS = 1024

    def __init__(self) -> None:
        self._record_ids = Strings()
        self._emails = Strings()
        # Entry number -> its domain's number (0: the email kept whole).
        self._domain_of = array("H")
        self._domains: dict[str, int] = {}
        # Entry number -> the number of its record's id in ``_record_ids``.
        self._holder = numbers()
        self._entries = HashIndex()
        self._trimmed = True
        # Ids a record had before (Google resourceName changes); only the few that did.
        self.previous: dict[str, list[str]] = {}
        self.size = 0

    def _split(self, email: str, *, adding: bool) -> tuple[str, int]:
        """The text kept of ``email`` and its domain's number (an ``adding`` email numbers a
        domain not seen before while there is room)."""
        at = email.rfind("@")
        if at < 0:
            return email, 0
        domain = email[at:]
        number = self._domains.get(domain, 0)
        if not number and adding and len(self._domains) < self.DOMAINS:
            number = self._domains[domain] = len(self._domains) + 1
        return (email[:at], number) if number else (email, 0)

    def add(self, record: Contact) -> None:
        if record.deleted:
            return
        self.size += 1
        emails = set(record.normalized_emails)
        if emails:
            self._trimmed = False
            number = self._record_ids.add(record.id)
            entries, kept_emails, domain_of = self._entries, self._emails, self._domain_of
            for email in sorted(emails):
                kept, domain = self._split(email, adding=True)
                entries.add(email, kept_emails.add(kept))
                domain_of.append(domain)
                self._holder = append_number(self._holder, number)
        previous = previous_ids(record)
        if previous:
            self.previous[record.id] = previous

    def holders(self, email: str) -> list[str]:
        """Ids of the records holding ``email``, in the order they were added."""
        if not self._trimmed:
            self._trim()
        entries = self._entries.candidates(email)
        if not entries:
            return []
        kept, domain = self._split(email, adding=False)
        return [
            self._record_ids[self._holder[entry]]
            for entry in entries
            if self._domain_of[entry] == domain and self._emails[entry] == kept
        ]

    def _trim(self) -> None:
        # Grown by appends, each buffer has up to an eighth of slack; a scan's lookups start
        # once its listing is indexed.
        for strings in (self._record_ids, self._emails):
            strings.trim()
        self._holder = array(self._holder.typecode, self._holder)
        self._domain_of = array("H", self._domain_of)
        self._trimmed = True


@dataclass
class RunState:
    """A run's memory across pages."""

    # Records of each side already dealt with: a later page (or a retry) leaves them alone.
    # Packed (``sync/packed.py``): a scan of 100,000 a side deals with some 140,000 ids a side,
    # about 40 MB for both as sets of ``str``, a third of that packed.
    done: dict[Side, StringSet] = field(default_factory=lambda: {s: StringSet() for s in SIDES})
    # Ids records had before, learned while looking up emails: a link may still hold one.
    previous: dict[Side, dict[str, list[str]]] = field(
        default_factory=lambda: {s: {} for s in SIDES}
    )
    # Deletion and unsubscribe tags so far, per target side, for the breaker.
    mass_tagged: Counter[str] = field(default_factory=Counter)
    # Live links made, less those stopped (a deletion): health's "in sync" moves by this much
    # after an incremental run, which need not count every link.
    in_sync_delta: int = 0
    # Live records per side: a scan counts them; an incremental run counts live links.
    side_sizes: dict[str, int] = field(default_factory=dict)
    # Writes from a side that the other app throttled past the HTTP seam's retries: that side
    # is read no further this run.
    throttled: Counter[str] = field(default_factory=Counter)
    throttle_note: str = ""
