"""An app that lives in memory, used only by the engine's tests.

It implements the connector contract without HTTP: a change feed ordered by a change sequence
(checkpoints ``{"seq": n}``, read ``>=`` so the engine sees an overlap), tombstones for deleted
records, versions bumped on every change, idempotency keys stored on created records, batch
sizes, API calls counted on ``self.http`` like the real seam does, and every write logged.

Test knobs: the name style and capabilities, ``crash_after`` (the app applies that many more
record writes, then raises ``AppCrash`` as if the worker died right after the app committed),
``before_call`` (called before each API call, then the heartbeat hung on ``self.http``, as the
real seam does: a user's edit during a run, a takeover of a frozen run),
``reject`` (a function naming why a write is refused: poison records), ``stale_versions``
(updates must carry the current version, like Google's etags).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from integrations.connectors.base import AccountInfo, Capabilities, Connector
from integrations.connectors.http import HttpClient
from integrations.sync.fields import ConditionSpec, FieldSpec, FieldType, NameStyle
from integrations.sync.records import (
    Checkpoint,
    Contact,
    ContactUpdate,
    NewContact,
    Page,
    WriteResult,
    normalize_email,
)


class AppCrash(Exception):
    """The worker died: raised after the app committed a write."""


@dataclass
class Stored:
    id: str
    values: dict[str, Any]
    seq: int
    deleted: bool = False
    unsubscribed: bool = False
    idempotency_key: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


def standard_fields(style: NameStyle) -> list[FieldSpec]:
    names = (
        [FieldSpec("full_name", "Name", FieldType.TEXT, canonical="name.full")]
        if style == NameStyle.FULL
        else [
            FieldSpec("first_name", "First name", FieldType.TEXT, canonical="name.first"),
            FieldSpec("last_name", "Last name", FieldType.TEXT, canonical="name.last"),
        ]
    )
    return [
        FieldSpec("emails", "Emails", FieldType.EMAIL, multi=True, canonical="email"),
        FieldSpec("phones", "Phones", FieldType.PHONE, multi=True, canonical="phone"),
        *names,
        FieldSpec("company", "Company", FieldType.TEXT, canonical="company"),
        FieldSpec("job_title", "Job title", FieldType.TEXT, canonical="job_title"),
        FieldSpec("tags", "Tags", FieldType.TAGS, multi=True, canonical="tags"),
    ]


class MemoryApp(Connector):
    slug = "memory"
    name = "Memory"
    credential_fields = ()
    capabilities = Capabilities(name_style=NameStyle.FULL)
    # Every call from the run's own thread: the tests' hooks touch the database (a takeover
    # between two calls) and count calls across both apps.
    calls_from_threads = False

    def __init__(
        self,
        *,
        label: str = "Memory",
        prefix: str = "m",
        name_style: NameStyle = NameStyle.FULL,
        page_size: int = 3,
        create_batch_size: int = 2,
        update_batch_size: int = 2,
        lookup_batch_size: int = 4,
        supports_deletions: bool = True,
        supports_unsubscribes: bool = True,
        conditions: tuple[ConditionSpec, ...] = (),
        extra_fields: tuple[FieldSpec, ...] = (),
        stale_versions: bool = True,
    ) -> None:
        super().__init__({}, http=HttpClient(app="memory"))
        self.name = label
        self.prefix = prefix
        self.capabilities = Capabilities(
            name_style=name_style,
            supports_deletions=supports_deletions,
            supports_unsubscribes=supports_unsubscribes,
            read_page_size=page_size,
            create_batch_size=create_batch_size,
            update_batch_size=update_batch_size,
            lookup_batch_size=lookup_batch_size,
            conditions=conditions,
        )
        self._fields = [*standard_fields(name_style), *extra_fields]
        self.records: dict[str, Stored] = {}
        self.seq = 0
        self.next_id = 0
        self.writes = 0
        self.log: list[tuple[str, str, Any]] = []
        self.crash_after: int | None = None
        self.reject: Callable[[dict[str, Any]], str] | None = None
        self.stale_versions = stale_versions
        self.before_call: Callable[[str], None] | None = None

    # The test's own hands on the app (not counted as sync writes) ---------------------------

    def add(self, values: dict[str, Any] | None = None, **more: Any) -> str:
        self.next_id += 1
        record_id = f"{self.prefix}{self.next_id}"
        self.records[record_id] = Stored(record_id, {**(values or {}), **more}, self._bump())
        return record_id

    def edit(self, record_id: str, **changes: Any) -> None:
        stored = self.records[record_id]
        stored.values.update(changes)
        stored.seq = self._bump()

    def delete(self, record_id: str) -> None:
        stored = self.records[record_id]
        stored.deleted = True
        stored.seq = self._bump()

    def unsubscribe(self, record_id: str) -> None:
        stored = self.records[record_id]
        stored.unsubscribed = True
        stored.seq = self._bump()

    def change_id(self, record_id: str) -> str:
        """The app gives a record a new id (Google resourceName changes), remembering the old."""
        stored = self.records.pop(record_id)
        self.next_id += 1
        new_id = f"{self.prefix}{self.next_id}"
        previous = [*stored.facts.get("previous_ids", []), record_id]
        self.records[new_id] = replace(
            stored, id=new_id, seq=self._bump(), facts={**stored.facts, "previous_ids": previous}
        )
        return new_id

    def live(self) -> list[Stored]:
        return [s for s in self.records.values() if not s.deleted]

    def values(self, record_id: str) -> dict[str, Any]:
        return self.records[record_id].values

    def holders(self, email: str) -> list[str]:
        wanted = normalize_email(email)
        return [
            s.id
            for s in self.live()
            if wanted in {normalize_email(e) for e in s.values.get("emails") or []}
        ]

    # The connector contract -----------------------------------------------------------------

    def _bump(self) -> int:
        self.seq += 1
        return self.seq

    def _call(self, kind: str) -> None:
        self.http.calls[kind] += 1
        # What happens between two calls (a user's edit, a takeover of a frozen run), then the
        # run's heartbeat, as the real seam beats before every request.
        if self.before_call is not None:
            self.before_call(kind)
        if self.http.heartbeat is not None:
            self.http.heartbeat()

    def _contact(self, stored: Stored) -> Contact:
        return Contact(
            id=stored.id,
            version=str(stored.seq),
            values=copy.deepcopy(stored.values),
            deleted=stored.deleted,
            unsubscribed=stored.unsubscribed,
            facts=copy.deepcopy(stored.facts),
            idempotency_key=stored.idempotency_key,
        )

    def _written(self, kind: str, record_id: str, payload: Any) -> None:
        """Count one applied record write; the crash knob fires right after the app commits."""
        self.writes += 1
        self.log.append((kind, record_id, copy.deepcopy(payload)))
        if self.crash_after is not None:
            self.crash_after -= 1
            if self.crash_after <= 0:
                self.crash_after = None
                raise AppCrash(f"crashed after writing {record_id}")

    def check(self) -> AccountInfo:
        return AccountInfo(label=self.name)

    def fields(self) -> list[FieldSpec]:
        return list(self._fields)

    def list_changed(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        full = not checkpoint
        since = int((checkpoint or {}).get("seq", 0))
        # Pages are computed as they are read, so writes made during a run show up in later
        # pages, as they do in a real app.
        while True:
            self._call("list")
            found = sorted(
                (s for s in self.records.values() if s.seq >= since and not (full and s.deleted)),
                key=lambda s: s.seq,
            )
            page = found[: self.capabilities.read_page_size]
            if not page:
                yield Page(records=[], checkpoint={"seq": since}, full_scan=full)
                return
            last = page[-1].seq
            yield Page([self._contact(s) for s in page], checkpoint={"seq": last}, full_scan=full)
            if len(found) <= len(page):
                return
            since = last + 1

    def get_many(self, ids: list[str]) -> list[Contact]:
        self._call("get")
        found = []
        for record_id in ids:
            stored = self.records.get(record_id) or next(
                (s for s in self.records.values() if record_id in s.facts.get("previous_ids", [])),
                None,
            )
            if stored is not None and not stored.deleted:
                found.append(self._contact(stored))
        return found

    def find_by_emails(self, emails: list[str]) -> dict[str, list[Contact]]:
        self._call("find")
        found: dict[str, list[Contact]] = {}
        for email in emails:
            holders = [self._contact(self.records[i]) for i in self.holders(email)]
            if holders:
                found[normalize_email(email)] = holders
        return found

    def find_by_intent_keys(self, keys: list[str]) -> dict[str, Contact]:
        self._call("find")
        wanted = set(keys)
        return {
            s.idempotency_key: self._contact(s)
            for s in self.records.values()
            if s.idempotency_key and s.idempotency_key in wanted and not s.deleted
        }

    def _refusal(self, values: dict[str, Any]) -> str:
        return self.reject(values) if self.reject else ""

    def create_many(self, items: list[NewContact]) -> list[WriteResult]:
        self._call("create")
        assert len(items) <= self.capabilities.create_batch_size, "batch too large"
        results = []
        for item in items:
            reason = self._refusal(item.values)
            if reason:
                results.append(WriteResult(ref=item.ref, error=reason, permanent=True))
                continue
            self.next_id += 1
            stored = Stored(
                id=f"{self.prefix}{self.next_id}",
                values=copy.deepcopy(item.values),
                seq=self._bump(),
                idempotency_key=item.idempotency_key,
            )
            self.records[stored.id] = stored
            self._written("create", stored.id, item.values)
            results.append(WriteResult(ref=item.ref, record=self._contact(stored)))
        return results

    def update_many(self, items: list[ContactUpdate]) -> list[WriteResult]:
        self._call("update")
        assert len(items) <= self.capabilities.update_batch_size, "batch too large"
        results = []
        for item in items:
            stored = self.records.get(item.id)
            if stored is None or stored.deleted:
                results.append(WriteResult(ref=item.id, error="Record not found"))
                continue
            if self.stale_versions and item.version and item.version != str(stored.seq):
                results.append(
                    WriteResult(ref=item.id, error="The record changed meanwhile", permanent=False)
                )
                continue
            reason = self._refusal({**stored.values, **item.changes})
            if reason:
                results.append(WriteResult(ref=item.id, error=reason, permanent=True))
                continue
            stored.values.update(copy.deepcopy(item.changes))
            stored.seq = self._bump()
            self._written("update", stored.id, item.changes)
            results.append(WriteResult(ref=item.id, record=self._contact(stored)))
        return results

    def _retag(self, ids: list[str], tag: str, add: bool) -> list[WriteResult]:
        results = []
        for record_id in ids:
            stored = self.records.get(record_id)
            if stored is None or stored.deleted:
                results.append(WriteResult(ref=record_id, error="Record not found"))
                continue
            tags = [t for t in stored.values.get("tags") or [] if t != tag]
            stored.values["tags"] = [*tags, tag] if add else tags
            stored.seq = self._bump()
            self._written("tag" if add else "untag", record_id, tag)
            results.append(WriteResult(ref=record_id, record=self._contact(stored)))
        return results

    def tag(self, ids: list[str], tag: str) -> list[WriteResult]:
        self._call("tag")
        return self._retag(ids, tag, True)

    def untag(self, ids: list[str], tag: str) -> list[WriteResult]:
        self._call("untag")
        return self._retag(ids, tag, False)
