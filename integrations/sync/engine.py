"""One run of a connection's sync loop (DESIGN.md §4).

``run_sync`` is the entry point the run service calls. A run has two phases:

- **scan** (first run, resync, or a side without a checkpoint): list every record of both sides
  once, indexing them by normalized email and keeping the listing on local disk
  (``sync/listing.py``), then go through each side's listing page by page. Records with a link
  follow it; the others are matched by email against the index (two records holding one email
  are reported as duplicates, never guessed at); only then is a counterpart created. The
  counterparts come from the other side's listing, not from the app: a scan reads each account
  exactly once (a record that vanished from the listing is asked of the app before it counts
  as deleted). Listed pages are processed joined into groups of at least ``SCAN_GROUP``
  records, so writes go out in full batches.
- **incremental**: read each side's change feed from its checkpoint, page by page. Records
  already applied (same id and version as stored on the link) are skipped; unlinked records are
  looked up by email in the other app (``find_by_emails``) before anything is created.

Per page, in a crash-safe order: create intents are persisted (fenced), then the apps are
written (creates, updates, tags), then links, snapshots, intents, record issues and the page's
checkpoint are saved in one fenced transaction. A crash between the two leaves either an open
intent (the next run finds the created record by its idempotency key) or a stale snapshot (the
next run sees both sides equal and settles it without writing).

Choices made where the design is silent:

- A direction with no rule syncs nothing: its records are read for the checkpoint and not
  evaluated (setup creates one all-contacts rule per synced direction).
- A linked record whose counterpart vanished (``get_many`` no longer returns it, no tombstone)
  is handled like a deletion of the counterpart: the link is marked deleted on that side and the
  pair stops syncing (it is never recreated); with the deletions option on, the surviving record
  gets "Tandem Trash". The same happens to a record deleted with a tombstone.
- Health's "excluded" and "duplicates" come from the last completed scan (an incremental run
  only sees what changed); "failed" is counted after every run, and "in_sync" by every scan
  (an incremental run adds the links it made and takes off those it stopped, rather than
  counting every link of a large connection).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, models
from django.db.models import Count, Q
from django.utils import timezone

from integrations.connectors.base import Capabilities, Connector, ConnectorError
from integrations.leases import Heartbeat, Lease, fenced
from integrations.models import (
    AuditEntry,
    Connection,
    CreateIntent,
    FieldMapping,
    RecordIssue,
    RecordLink,
    Rule,
    RunNote,
    SyncRun,
)
from integrations.sync import actions as actions_mod
from integrations.sync import conditions as conditions_mod
from integrations.sync import mapping as mapping_mod
from integrations.sync.actions import ActionData, Effects
from integrations.sync.conditions import ConditionData
from integrations.sync.fields import ConditionSpec, FieldSpec
from integrations.sync.listing import Listing
from integrations.sync.merge import MergeResult, merge, other
from integrations.sync.records import (
    EMAILS,
    Checkpoint,
    Contact,
    ContactUpdate,
    NewContact,
    WriteResult,
    checkpoint_problem,
    normalize_email,
    previous_ids,
)

logger = logging.getLogger(__name__)

SIDES = ("a", "b")
TRASH_TAG = "Tandem Trash"
UNSUBSCRIBE_TAG = "Tandem Unsubscribes"
# A plan lists at most this many items per list; its counts are always complete.
PLAN_ITEM_LIMIT = 1000
# A real run keeps at most this many notes (``RunNote``) per kind: excluded, duplicate, conflict.
RUN_NOTES_LIMIT = 1000
# A scan processes its listed pages joined into groups of at least this many records.
SCAN_GROUP = 5000
ISSUE_RETRY_BASE = dt.timedelta(minutes=5)
ISSUE_RETRY_MAX = dt.timedelta(days=1)

T = TypeVar("T")


class BreakerTripped(Exception):
    """The run would tag more than ``TANDEM_MASS_TAG_SHARE`` of a side as deleted or
    unsubscribed. The service pauses the connection with this message until confirmed."""


class _DryRunStopped(Exception):
    """A dry run reached the point where the real run would trip the breaker."""


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    size = max(1, size)
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def issue_backoff(attempts: int) -> dt.timedelta:
    """How long a failing record waits before its next retry: doubling, capped at a day."""
    delay: dt.timedelta = ISSUE_RETRY_BASE * (2 ** max(0, attempts - 1))
    return min(delay, ISSUE_RETRY_MAX)


# -- Configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleConfig:
    id: int
    source: str
    conditions: tuple[ConditionData, ...]
    actions: tuple[ActionData, ...]
    undo: bool


@dataclass(frozen=True)
class SideConfig:
    side: str
    connector: Connector
    caps: Capabilities
    fields: dict[str, FieldSpec]
    specials: dict[str, ConditionSpec]


@dataclass(frozen=True)
class Config:
    sides: dict[str, SideConfig]
    mappings: tuple[mapping_mod.Mapping, ...]
    # Rules by source side; a side is a source when the connection flows out of it.
    rules: dict[str, tuple[RuleConfig, ...]]
    flows: dict[str, bool]
    winner: str
    avoid_duplicates: bool
    deletions: bool
    unsubscribes: bool

    def is_source(self, side: str) -> bool:
        return self.flows[side] and bool(self.rules[side])


def load_config(connection: Connection, connector_a: Connector, connector_b: Connector) -> Config:
    """The connection's mappings and rules, resolved against both apps' fields."""
    connectors = {"a": connector_a, "b": connector_b}
    rows = list(FieldMapping.objects.filter(connection=connection, enabled=True))
    all_rules = list(
        Rule.objects.filter(connection=connection).prefetch_related("conditions", "actions")
    )
    # The field keys the run reads or writes on each side: mapped, tested by a condition (on
    # the rule's source side), set by an action (on the other side).
    used: dict[str, set[str]] = {"a": set(), "b": set()}
    for row in rows:
        used["a"].add(row.field_a)
        used["b"].add(row.field_b)
    for rule in all_rules:
        used[rule.source_side].update(c.field for c in rule.conditions.all() if c.field)
        used[other(rule.source_side)].update(a.field for a in rule.actions.all() if a.field)
    sides = {
        side: SideConfig(
            side=side,
            connector=connector,
            caps=connector.capabilities,
            fields=connector.fields_for_sync(used[side]),
            specials={spec.key: spec for spec in connector.capabilities.conditions},
        )
        for side, connector in connectors.items()
    }
    mappings = []
    for row in rows:
        spec_a = mapping_mod.spec_for(row.field_a, sides["a"].fields, sides["a"].caps.name_style)
        spec_b = mapping_mod.spec_for(row.field_b, sides["b"].fields, sides["b"].caps.name_style)
        if spec_a is None or spec_b is None:
            logger.warning("connection %s: mapping %s names a field gone", connection.pk, row)
            continue
        if mapping_mod.value_map_problem(row.value_map):
            # Stored before value maps were validated: skip the mapping, keep the run going.
            logger.warning(
                "connection %s: mapping %s has an unusable value map", connection.pk, row
            )
            continue
        mappings.append(
            mapping_mod.Mapping(
                field_a=row.field_a,
                field_b=row.field_b,
                spec_a=spec_a,
                spec_b=spec_b,
                style_a=sides["a"].caps.name_style,
                style_b=sides["b"].caps.name_style,
                direction=row.direction,
                value_map=dict(row.value_map or {}),
            )
        )
    flows = {"a": connection.syncs_towards("b"), "b": connection.syncs_towards("a")}
    rules: dict[str, list[RuleConfig]] = {"a": [], "b": []}
    for rule in all_rules:
        source = rule.source_side
        if not flows[source]:
            # One-way connections ignore the other direction's rules.
            continue
        rules[source].append(
            RuleConfig(
                id=rule.pk,
                source=source,
                conditions=tuple(
                    ConditionData(kind=c.kind, field=c.field, operator=c.operator, value=c.value)
                    for c in rule.conditions.all()
                ),
                actions=tuple(
                    ActionData(kind=a.kind, field=a.field, value=a.value, rule_id=rule.pk)
                    for a in rule.actions.all()
                ),
                undo=rule.undo,
            )
        )
    both_support = {
        "deletions": all(s.caps.supports_deletions for s in sides.values()),
        "unsubscribes": all(s.caps.supports_unsubscribes for s in sides.values()),
    }
    return Config(
        sides=sides,
        mappings=tuple(mappings),
        rules={side: tuple(found) for side, found in rules.items()},
        flows=flows,
        winner=connection.winner,
        avoid_duplicates=connection.avoid_duplicates,
        deletions=connection.sync_deletions and both_support["deletions"],
        unsubscribes=connection.sync_unsubscribes and both_support["unsubscribes"],
    )


# -- The journal: what a run does, or a dry run would do -----------------------------------------


READS = frozenset({"read_a", "read_b"})
# A journal item, or a function building it (called only when the journal keeps the item).
Item = dict[str, Any] | Callable[[], dict[str, Any]]
# Told of each page a run reads: (stage: "listing" / "scan" / "changes", side, records).
Progress = Callable[[str, str, int], None]


class Journal:
    """Counts and items of one run. A dry run returns it as its plan; a real run keeps the same
    record, so the two can be compared."""

    LISTS = ("links", "excluded", "duplicates", "conflicts", "failed")
    SIDE_LISTS = ("create", "update", "tag", "untag")

    def __init__(self, phase: str) -> None:
        self.phase = phase
        self.counts: Counter[str] = Counter()
        self.items: dict[str, list[dict[str, Any]]] = {name: [] for name in self.LISTS}
        self.side_items: dict[str, dict[str, list[dict[str, Any]]]] = {
            side: {name: [] for name in self.SIDE_LISTS} for side in SIDES
        }
        self.truncated = False
        self.breaker = ""
        # Every field a real run wrote to an app, uncapped, for the audit (``AuditEntry``);
        # ``None`` in a dry run, which writes nothing.
        self.writes: list[dict[str, Any]] | None = None
        # Why records were excluded, duplicates and conflicts, for ``RunNote`` (a real run's
        # journal only), at most ``RUN_NOTES_LIMIT`` of each kind.
        self.notes: list[dict[str, Any]] | None = None
        self.notes_kept: Counter[str] = Counter()

    def _append(self, target: list[dict[str, Any]], item: Item) -> None:
        """Keep ``item`` (or what a callable item builds: only built when kept)."""
        if len(target) < PLAN_ITEM_LIMIT:
            target.append(item() if callable(item) else item)
        else:
            self.truncated = True

    def note(self, name: str, item: Item, *, count: str | None = None) -> None:
        self._append(self.items[name], item)
        if count:
            self.counts[count] += 1

    def note_side(self, side: str, name: str, item: Item, *, count: str) -> None:
        self._append(self.side_items[side][name], item)
        self.counts[count] += 1

    def note_write(self, side: str, record_id: str, kind: str, **entry: Any) -> None:
        """A write the app accepted: kept for the audit (a real run's journal only)."""
        if self.writes is not None:
            self.writes.append({"side": side, "record_id": record_id, "kind": kind, **entry})

    def note_finding(self, kind: str, item: Item) -> None:
        """An excluded record, a duplicate or a conflict, kept with its reason for the run's
        notes (built only when kept)."""
        if self.notes is None or self.notes_kept[kind] >= RUN_NOTES_LIMIT:
            return
        self.notes_kept[kind] += 1
        self.notes.append({"kind": kind, **(item() if callable(item) else item)})

    def as_plan(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            # Effects only: a real run also reads back its own writes, a dry run cannot.
            "counts": {
                name: self.counts[name] for name in sorted(self.counts) if name not in READS
            },
            **{side: self.side_items[side] for side in SIDES},
            **self.items,
            "breaker": self.breaker,
            "truncated": self.truncated,
        }


# -- Per-page work ------------------------------------------------------------------------------


@dataclass
class PairWork:
    """A linked (or just matched) pair and what the run does to it."""

    source: str
    records: dict[str, Contact]
    link: RecordLink | None
    merged: MergeResult
    effects: dict[str, Effects]
    applied_actions: dict[str, list[dict[str, Any]]]
    how: str = ""
    failed: bool = False

    def record_id(self, side: str) -> str:
        return self.records[side].id


@dataclass
class CreateWork:
    source: str
    record: Contact
    values: dict[str, Any]
    snapshot: dict[str, dict[str, Any]]
    add_tags: list[str]
    applied_actions: dict[str, list[dict[str, Any]]]
    intent: CreateIntent | None = None
    result: WriteResult | None = None


@dataclass
class Failure:
    side: str
    record_id: str
    target: str
    reason: str


@dataclass
class PageWork:
    source: str
    pairs: list[PairWork] = field(default_factory=list)
    creates: list[CreateWork] = field(default_factory=list)
    # Links whose deleted flags or ids change without any write to the apps.
    touched_links: list[RecordLink] = field(default_factory=list)
    # (side, tag, add?) -> [(record id, pair or None)]
    tag_ops: dict[tuple[str, str, bool], list[tuple[str, PairWork | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # Deletion / unsubscribe tags per target side, for the breaker.
    mass_tags: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    # Writes the target app throttled: left for the next run, not failed.
    throttled: list[Failure] = field(default_factory=list)
    ok_ids: dict[str, set[str]] = field(default_factory=lambda: {"a": set(), "b": set()})
    versions: dict[str, dict[str, str]] = field(default_factory=lambda: {"a": {}, "b": {}})


class EmailIndex:
    """Normalized email -> record ids of one side, built by the scan."""

    def __init__(self) -> None:
        self.ids: dict[str, list[str]] = defaultdict(list)
        # Ids a record had before (Google resourceName changes); only the few that did.
        self.previous: dict[str, list[str]] = {}
        self.size = 0

    def add(self, record: Contact) -> None:
        if record.deleted:
            return
        self.size += 1
        for email in set(record.normalized_emails):
            self.ids[email].append(record.id)
        previous = previous_ids(record)
        if previous:
            self.previous[record.id] = previous

    def holders(self, email: str) -> list[str]:
        return self.ids.get(email, [])


# -- The run ------------------------------------------------------------------------------------


class SyncEngine:
    """One pass over a connection. Use ``run_sync``; tests use this class to read the journal
    of a real run."""

    def __init__(
        self,
        *,
        connection: Connection,
        run: SyncRun,
        lease: Lease | None,
        connector_a: Connector,
        connector_b: Connector,
        dry_run: bool = False,
        full: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.connection = connection
        self.run = run
        self.lease = lease
        # Renews the lease as pages go by, so a live run keeps its (short) lease.
        self.heartbeat = Heartbeat(lease)
        self.dry_run = dry_run
        self.connectors = {"a": connector_a, "b": connector_b}
        self.progress = progress
        # A checkpoint no connector wrote (edited by hand, say) cannot say where to read from:
        # the run scans again, which goes through the links and creates nothing twice.
        self.unusable = {
            side: problem
            for side in SIDES
            if (problem := checkpoint_problem(connection.checkpoint(side)))
        }
        # ``full``: a scan through the links without clearing the stored checkpoints first (a
        # dry run of a resync must leave them as they are).
        self.scan = (
            full
            or connection.status == Connection.Status.SCANNING
            or bool(self.unusable)
            or not connection.checkpoint_a
            or not connection.checkpoint_b
        )
        self.journal = Journal(SyncRun.Phase.SCAN if self.scan else SyncRun.Phase.INCREMENTAL)
        if not dry_run:
            self.journal.writes = []
            self.journal.notes = []
        self.config: Config | None = None
        self.index: dict[str, EmailIndex] = {}
        self.listings: dict[str, Listing] = {}
        self.done: dict[str, set[str]] = {"a": set(), "b": set()}
        self.previous: dict[str, dict[str, list[str]]] = {"a": {}, "b": {}}
        self.mass_tagged: Counter[str] = Counter()
        # Live links this run made, less those it stopped (a deletion): health's "in sync"
        # moves by this much after an incremental run, which need not count every link.
        self.in_sync_delta = 0
        self.side_sizes: dict[str, int] = {}
        # Writes from a side that the other app throttled past the HTTP seam's retries: that
        # side is read no further this run (see ``note_throttled``).
        self.throttled: Counter[str] = Counter()
        self.throttle_note = ""
        self.now = timezone.now()
        self._rule_names: dict[int, str] | None = None

    @property
    def cfg(self) -> Config:
        assert self.config is not None
        return self.config

    # Entry ----------------------------------------------------------------------------------

    def execute(self) -> Journal:
        self.run.phase = self.journal.phase
        if self.unusable:
            self.run.error = (
                " ".join(
                    f"The stored {self.connectors[side].name} checkpoint {problem}."
                    for side, problem in self.unusable.items()
                )
                + " Both apps were scanned again."
            )
            logger.warning("connection %s: %s", self.connection.pk, self.run.error)
        self.run.save(update_fields=["phase", "error"])
        try:
            if self.scan:
                # Listed before the configuration is loaded: an app that discovers its custom
                # fields from its records learns them from this listing at no extra call.
                self.list_sides()
            self.config = load_config(self.connection, *self.connectors.values())
            if not self.dry_run:
                self.recover_intents()
            for side in SIDES:
                self.read_side(side)
            self.retry_issues()
        except _DryRunStopped:
            pass
        finally:
            for listing in self.listings.values():
                listing.close()
            self.save_notes()
            self.save_counters()
        if not self.dry_run:
            self.finish()
        return self.journal

    # Reading --------------------------------------------------------------------------------

    def list_sides(self) -> None:
        """The scan's one read of each app: every record indexed by email and kept on disk."""
        for side in SIDES:
            index = EmailIndex()
            listing = self.listings[side] = Listing()
            for page in self.connectors[side].list_changed(None):
                self.heartbeat()
                for record in page.records:
                    index.add(record)
                listing.add_page(page)
                if self.progress is not None:
                    self.progress("listing", side, len(page.records))
            self.index[side] = index
            self.side_sizes[side] = index.size

    def read_side(self, side: str) -> None:
        checkpoint = None if self.scan else (self.connection.checkpoint(side) or None)
        pages = (
            self.listings[side].pages(SCAN_GROUP)
            if self.scan
            else self.connectors[side].list_changed(checkpoint)
        )
        for page in pages:
            self.heartbeat()
            self.journal.counts[f"read_{side}"] += len(page.records)
            if self.progress is not None:
                self.progress("scan" if self.scan else "changes", side, len(page.records))
            if self.cfg.is_source(side):
                self.process(side, page.records, checkpoint=page.checkpoint)
                if self.throttled[side]:
                    break
            else:
                self.save_page(PageWork(source=side), side=side, checkpoint=page.checkpoint)

    def retry_issues(self) -> None:
        """Records with a due open issue are fetched again and retried, changed or not."""
        if self.dry_run:
            return
        for side in SIDES:
            if not self.cfg.is_source(side):
                continue
            due = (
                RecordIssue.objects.filter(
                    connection=self.connection,
                    side=side,
                    resolved_at__isnull=True,
                    next_retry_at__lte=self.now,
                )
                .order_by("pk")
                .values_list("record_id", flat=True)
            )
            ids = [record_id for record_id in due if record_id not in self.done[side]]
            connector = self.connectors[side]
            for batch in chunks(ids, self.cfg.sides[side].caps.lookup_batch_size):
                if self.throttled[side]:
                    break
                self.heartbeat()
                records = connector.get_many(batch)
                found = {record.id for record in records}
                gone = [record_id for record_id in batch if record_id not in found]
                if gone:
                    with fenced(self.lease):
                        self._resolve_issues(side, gone)
                if records:
                    self.process(side, records, checkpoint=None)

    # Processing one page -------------------------------------------------------------------

    def process(self, side: str, records: list[Contact], *, checkpoint: Checkpoint | None) -> None:
        work = PageWork(source=side)
        unique = list({record.id: record.make_storable() for record in records}.values())
        fresh = [r for r in unique if r.id not in self.done[side]]
        applied = self.applied_ids(side, fresh)
        fresh = [r for r in fresh if r.id not in applied]
        for record in fresh:
            if record.problem:  # unreadable as a contact: parked with the app's reason
                self.fail(work, side, record.id, other(side), record.problem)
        fresh = [r for r in fresh if not r.problem]
        links = self.links_for(side, fresh)
        linked: list[tuple[Contact, RecordLink]] = []
        unlinked: list[Contact] = []
        for record in fresh:
            link = links.get(record.id)
            if link is not None and record.version and link_version(link, side) == record.version:
                continue  # already applied: the overlap window or our own write read back
            if link is None:
                if not record.deleted:
                    unlinked.append(record)
                continue
            if link.record_id(side) != record.id:
                self._rekey(link, side, record.id, work)
            linked.append((record, link))
        self.process_linked(work, linked)
        self.process_unlinked(work, unlinked)
        self.apply(work)
        if work.throttled:
            self.note_throttled(side, work)
            checkpoint = None  # the next run reads this page again
        self.save_page(work, side=side, checkpoint=checkpoint)

    def note_throttled(self, side: str, work: PageWork) -> None:
        """Throttling is no failure of the records: no issue, no "failed" count. Their page's
        checkpoint is not saved and the side is read no further, so the next run reads them
        again (what this page did apply is skipped then by its links' versions)."""
        self.throttled[side] += len(work.throttled)
        apps = sorted({self.connectors[f.target].name for f in work.throttled})
        note = (
            f"{' and '.join(apps)} kept answering 429 (too many requests): "
            f"{self.throttled[side]} write(s) from {self.connectors[side].name} were left for "
            "the next run."
        )
        logger.warning("connection %s: %s", self.connection.pk, note)
        previous = self.run.error.replace(self.throttle_note, "").strip()
        self.throttle_note = note
        self.run.error = " ".join(p for p in (previous, note) if p)
        self.run.save(update_fields=["error"])

    def applied_ids(self, side: str, records: list[Contact]) -> set[str]:
        """Records already applied: their link holds this very id and version (the overlap
        window, or a run's own writes read back). Found reading two columns, not the links."""
        versions = {r.id: r.version for r in records if r.version}
        if not versions:
            return set()
        id_field, version_field = ("id_a", "version_a") if side == "a" else ("id_b", "version_b")
        # Unordered: the models' default ordering joins the connection and defeats the index.
        rows = (
            RecordLink.objects.filter(
                connection=self.connection, **{f"{id_field}__in": list(versions)}
            )
            .order_by()
            .values_list(id_field, version_field)
        )
        return {record_id for record_id, version in rows if versions.get(record_id) == version}

    def links_for(self, side: str, records: list[Contact]) -> dict[str, RecordLink]:
        """Links of these records, by record id, found by id or by an id the record had."""
        previous: dict[str, str] = {}
        for record in records:
            for old in previous_ids(record):
                previous[old] = record.id
        ids = [r.id for r in records] + list(previous)
        if not ids:
            return {}
        field_name = "id_a" if side == "a" else "id_b"
        found: dict[str, RecordLink] = {}
        links = RecordLink.objects.filter(
            connection=self.connection, **{f"{field_name}__in": ids}
        ).order_by()
        for link in sorted(links, key=lambda link: link.pk):
            record_id = link.record_id(side)
            found.setdefault(previous.get(record_id, record_id), link)
        return found

    def _rekey(self, link: RecordLink, side: str, new_id: str, work: PageWork) -> None:
        if side == "a":
            link.id_a = new_id
        else:
            link.id_b = new_id
        work.touched_links.append(link)

    def process_linked(self, work: PageWork, linked: list[tuple[Contact, RecordLink]]) -> None:
        source = work.source
        target = other(source)
        # A pair one of whose records was deleted has stopped syncing for good.
        live = [(r, link) for r, link in linked if not (link.deleted_a or link.deleted_b)]
        # Counterparts of deleted records are fetched too: the survivor's current id is the
        # one to tag (an id may have changed since the link was made).
        counterparts = self.fetch(target, [link.record_id(target) for _, link in live])
        for record, link in live:
            counterpart = counterparts.get(link.record_id(target))
            gone = counterpart is None or counterpart.deleted
            if counterpart is not None and counterpart.id != link.record_id(target):
                self._rekey(link, target, counterpart.id, work)
            if record.deleted:
                self.handle_deleted(work, link, deleted_side=source, survivor=not gone)
            elif gone:
                self.handle_deleted(work, link, deleted_side=target, survivor=True)
            else:
                assert counterpart is not None
                self.pair(work, {source: record, target: counterpart}, link)

    def fetch(self, side: str, ids: list[str]) -> dict[str, Contact]:
        """Current records by id (also under a previous id they answered to): from the scan's
        listing when there is one, else (or when the listing lacks them) from the app."""
        found: dict[str, Contact] = {}
        listing = self.listings.get(side)
        if listing is not None:
            for asked, record in listing.get_many(ids).items():
                found[asked] = record
                found.setdefault(record.id, record)
            ids = [record_id for record_id in ids if record_id not in found]
        connector = self.connectors[side]
        for batch in chunks(ids, self.cfg.sides[side].caps.lookup_batch_size):
            for record in connector.get_many(batch):
                found[record.id] = record
                for old in previous_ids(record):
                    found.setdefault(old, record)
        for record in found.values():
            record.make_storable()
        return found

    def process_unlinked(self, work: PageWork, records: list[Contact]) -> None:
        source, target = work.source, other(work.source)
        candidates: list[Contact] = []
        for record in records:
            if not record.normalized_emails:
                if self.cfg.avoid_duplicates:
                    self.note_excluded(source, record.id, reason="no email", record=record)
                else:
                    self.maybe_create(work, record)
                continue
            candidates.append(record)
        if not candidates:
            return
        emails = sorted({e for r in candidates for e in r.normalized_emails})
        same_side = self.holders(source, emails)
        other_side = self.holders(target, emails)
        other_ids = sorted({i for ids in other_side.values() for i in ids})
        linked_there = self.linked_ids(target, other_ids)
        claimed: set[str] = set()
        matches: list[tuple[Contact, str]] = []
        for record in candidates:
            mine = record.normalized_emails
            twins = {i for e in mine for i in same_side.get(e, []) if i != record.id}
            theirs = sorted({i for e in mine for i in other_side.get(e, [])})
            if twins or len(theirs) > 1:
                self.note_duplicate(
                    source, record.id, mine[0], twins=sorted(twins), theirs=theirs, linked=False
                )
                continue
            if not theirs:
                self.maybe_create(work, record)
                continue
            match = theirs[0]
            if match in linked_there or match in self.done[target] or match in claimed:
                # The other side's record already follows another link: creating would put
                # its email there twice, linking would steal it.
                self.note_duplicate(
                    source, record.id, mine[0], twins=[], theirs=[match], linked=True
                )
                continue
            claimed.add(match)
            matches.append((record, match))
        counterparts = self.fetch(target, [match for _, match in matches])
        for record, match in matches:
            counterpart = counterparts.get(match)
            if counterpart is None or counterpart.deleted:
                self.maybe_create(work, record)
                continue
            self.pair(work, {source: record, target: counterpart}, None, how="email")

    def holders(self, side: str, emails: list[str]) -> dict[str, list[str]]:
        """Ids of live records on ``side`` holding each email (scan: the index; later: the app)."""
        if self.scan:
            index = self.index[side]
            for email in emails:
                for record_id in index.holders(email):
                    if record_id in index.previous:
                        self.previous[side][record_id] = index.previous[record_id]
            return {email: index.holders(email) for email in emails}
        found: dict[str, list[str]] = defaultdict(list)
        connector = self.connectors[side]
        for batch in chunks(emails, self.cfg.sides[side].caps.lookup_batch_size):
            for email, records in connector.find_by_emails(batch).items():
                for record in records:
                    if not record.deleted and record.id not in found[normalize_email(email)]:
                        found[normalize_email(email)].append(record.id)
                        if previous_ids(record):
                            self.previous[side][record.id] = previous_ids(record)
        return found

    def linked_ids(self, side: str, ids: list[str]) -> set[str]:
        """Which of these records already have a link, under their id or an id they had."""
        if not ids:
            return set()
        known_as = {record_id: record_id for record_id in ids}
        for record_id in ids:
            for old in self.previous[side].get(record_id, []):
                known_as[old] = record_id
        field_name = "id_a" if side == "a" else "id_b"
        found = (
            RecordLink.objects.filter(
                connection=self.connection, **{f"{field_name}__in": list(known_as)}
            )
            .order_by()
            .values_list(field_name, flat=True)
        )
        return {known_as[record_id] for record_id in found}

    # Decisions ------------------------------------------------------------------------------

    def matching_rules(self, source: str, record: Contact, *, exists: bool) -> list[RuleConfig]:
        side = self.cfg.sides[source]
        return [
            rule
            for rule in self.cfg.rules[source]
            if conditions_mod.rule_matches(
                rule.conditions,
                record,
                fields=side.fields,
                specials=side.specials,
                exists_in_other=exists,
            )
        ]

    def pair(
        self,
        work: PageWork,
        records: dict[str, Contact],
        link: RecordLink | None,
        *,
        how: str = "",
    ) -> None:
        source = work.source
        matched = {
            side: self.matching_rules(side, records[side], exists=True)
            if self.cfg.is_source(side)
            else []
            for side in SIDES
        }
        if not matched[source]:
            self.note_excluded(
                source, records[source].id, reason="no rule matches", record=records[source],
                exists=True,
            )  # fmt: skip
        merged = merge(
            self.cfg.mappings,
            records["a"].values,
            records["b"].values,
            link.snapshot if link is not None else {},
            winner=self.cfg.winner,
            may_flow={side: bool(matched[side]) for side in SIDES},
        )
        applied = {
            side: list((link.applied_actions or {}).get(side, [])) if link else [] for side in SIDES
        }
        effects = {side: Effects() for side in SIDES}
        for from_side in SIDES:
            to_side = other(from_side)
            values_after = {**records[to_side].values, **merged.changes[to_side]}
            effects[to_side] = self.rule_effects(
                from_side, matched[from_side], applied, values_after
            )
            self.note_status_tag(work, from_side, records, effects[to_side], link is None)
            self.absorb_action_fields(merged, to_side, records[to_side], effects[to_side])
        pair = PairWork(
            source=source,
            records=records,
            link=link,
            merged=merged,
            effects=effects,
            applied_actions=applied,
            how=how,
        )
        for side in SIDES:
            self.done[side].add(records[side].id)
        if how:
            self.journal.note(
                "links", {"id_a": records["a"].id, "id_b": records["b"].id, "how": how},
                count="linked",
            )  # fmt: skip
        for key in merged.conflicts:
            self.journal.note(
                "conflicts",
                {"id_a": records["a"].id, "id_b": records["b"].id, "field": key},
                count="conflicts",
            )
            self.journal.note_finding(
                RunNote.Kind.CONFLICT, functools.partial(self.conflict_note, key, records, merged)
            )
        work.pairs.append(pair)

    def rule_effects(
        self,
        from_side: str,
        matched: list[RuleConfig],
        applied: dict[str, list[dict[str, Any]]],
        target_values: dict[str, Any],
    ) -> Effects:
        """Actions of the matching rules, and the undo of undo rules no longer matching."""
        to_side = other(from_side)
        fields = self.cfg.sides[to_side].fields
        effects = Effects()
        matched_ids = {rule.id for rule in matched}
        for rule in self.cfg.rules[from_side]:
            if not rule.undo or rule.id in matched_ids:
                continue
            entries = [e for e in applied[to_side] if e.get("rule") == rule.id]
            if entries:
                effects.extend(actions_mod.plan_undo(entries, target_values, fields=fields))
                applied[to_side] = [e for e in applied[to_side] if e.get("rule") != rule.id]
        for rule in matched:
            planned = actions_mod.plan_actions(rule.actions, target_values, fields=fields)
            effects.extend(planned)
            if rule.undo:
                applied[to_side].extend(planned.applied)
        return effects

    def note_status_tag(
        self,
        work: PageWork,
        from_side: str,
        records: dict[str, Contact],
        effects: Effects,
        new_pair: bool,
    ) -> None:
        """An unsubscribe on one side becomes "Tandem Unsubscribes" on the other."""
        to_side = other(from_side)
        if not (self.cfg.unsubscribes and self.cfg.flows[from_side]):
            return
        if not records[from_side].unsubscribed or UNSUBSCRIBE_TAG in effects.add_tags:
            return
        if not actions_mod.has_tag(records[to_side].values, UNSUBSCRIBE_TAG):
            effects.add_tags.append(UNSUBSCRIBE_TAG)
            work.mass_tags[to_side] += 1

    def absorb_action_fields(
        self, merged: MergeResult, side: str, record: Contact, effects: Effects
    ) -> None:
        """Fields set by actions are written with the merge's changes and, when mapped, land in
        the snapshot, so the next run sees no change."""
        if not effects.set_fields:
            return
        for key, value in effects.set_fields.items():
            merged.changes[side][key] = value
            for m in self.cfg.mappings:
                if m.key(side) == key:
                    normalized = m.normalize(side, value)
                    merged.diffs[side][key] = {
                        "before": m.read(side, record),
                        "after": normalized,
                    }
                    merged.snapshot[side][key] = normalized
            if key not in merged.diffs[side]:
                merged.diffs[side][key] = {"before": record.values.get(key), "after": value}

    def maybe_create(self, work: PageWork, record: Contact) -> None:
        source, target = work.source, other(work.source)
        matched = self.matching_rules(source, record, exists=False)
        if not matched:
            self.note_excluded(source, record.id, reason="no rule matches", record=record)
            return
        values: dict[str, Any] = {}
        snapshot: dict[str, dict[str, Any]] = {"a": {}, "b": {}}
        for m in self.cfg.mappings:
            if not m.flows(source):
                continue
            now = m.read(source, record)
            value = m.convert(source, now)
            if value is mapping_mod.UNCONVERTIBLE or mapping_mod.is_empty(value):
                continue
            values.update(m.changes(target, value))
            snapshot[source][m.key(source)] = now
            snapshot[target][m.key(target)] = value
        applied: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
        effects = self.rule_effects(source, matched, applied, dict(values))
        for key, value in effects.set_fields.items():
            values[key] = value
            for m in self.cfg.mappings:
                if m.key(target) == key:
                    snapshot[target][key] = m.normalize(target, value)
        add_tags = list(effects.add_tags)
        if self.cfg.unsubscribes and record.unsubscribed and UNSUBSCRIBE_TAG not in add_tags:
            # Part of a create, not a change to what the other side holds: no breaker count.
            add_tags.append(UNSUBSCRIBE_TAG)
        work.creates.append(
            CreateWork(
                source=source,
                record=record,
                values=values,
                snapshot=snapshot,
                add_tags=add_tags,
                applied_actions=applied,
            )
        )
        self.done[source].add(record.id)
        self.journal.note_side(
            target,
            "create",
            functools.partial(_create_item, record.id, values),
            count=f"created_{target}",
        )
        for tag in add_tags:
            self.journal.note_side(
                target, "tag", {"new_for": record.id, "tag": tag}, count=f"tagged_{target}"
            )

    def handle_deleted(
        self, work: PageWork, link: RecordLink, *, deleted_side: str, survivor: bool
    ) -> None:
        """A linked record was deleted (or vanished): the pair stops syncing, nothing is
        recreated, and with the deletions option the survivor gets "Tandem Trash"."""
        survivor_side = other(deleted_side)
        self.in_sync_delta -= 1
        if deleted_side == "a":
            link.deleted_a = True
        else:
            link.deleted_b = True
        work.touched_links.append(link)
        self.done["a"].add(link.id_a)
        self.done["b"].add(link.id_b)
        if survivor and self.cfg.deletions and self.cfg.flows[deleted_side]:
            survivor_id = link.record_id(survivor_side)
            work.tag_ops[(survivor_side, TRASH_TAG, True)].append((survivor_id, None))
            work.mass_tags[survivor_side] += 1
            self.journal.note_side(
                survivor_side,
                "tag",
                {"id": survivor_id, "tag": TRASH_TAG},
                count=f"tagged_{survivor_side}",
            )

    def note_excluded(
        self,
        side: str,
        record_id: str,
        *,
        reason: str,
        record: Contact | None = None,
        exists: bool = False,
    ) -> None:
        self.journal.note(
            "excluded", {"side": side, "id": record_id, "reason": reason}, count="excluded"
        )

        def note() -> dict[str, Any]:
            if reason == "no email":
                why = (
                    "It has no email address, and the connection avoids duplicates (contacts "
                    "without an email are not synced)."
                )
            elif record is not None:
                why = self.exclusion_reason(side, record, exists=exists)
            else:
                why = reason
            return {"side": side, "record_id": record_id, "reason": why[:500]}

        self.journal.note_finding(RunNote.Kind.EXCLUDED, note)

    def note_duplicate(
        self,
        side: str,
        record_id: str,
        email: str,
        *,
        twins: list[str],
        theirs: list[str],
        linked: bool,
    ) -> None:
        self.journal.note(
            "duplicates", {"side": side, "id": record_id, "email": email}, count="duplicates"
        )

        def note() -> dict[str, Any]:
            here, there = self.connectors[side].name, self.connectors[other(side)].name
            if twins:
                why = f"Other {here} contacts have the same email: {', '.join(twins[:5])}."
            elif linked:
                why = f"Its {there} match {theirs[0]} already syncs with another {here} contact."
            else:
                why = f"Several {there} contacts have this email: {', '.join(theirs[:5])}."
            return {"side": side, "record_id": record_id, "field": email, "reason": why[:500]}

        self.journal.note_finding(RunNote.Kind.DUPLICATE, note)

    def exclusion_reason(self, side: str, record: Contact, *, exists: bool) -> str:
        """Which condition of each rule of the record's direction failed, and the value it saw."""
        there = self.connectors[other(side)].name
        rules = self.cfg.rules[side]
        if not rules:
            return f"No rule syncs contacts towards {there}."
        spec = self.cfg.sides[side]
        names = self.rule_names()
        reasons = []
        for position, rule in enumerate(rules, start=1):
            name = names.get(rule.id) or f"Rule {position}"
            for condition in rule.conditions:
                if conditions_mod.condition_holds(
                    condition, record, fields=spec.fields, specials=spec.specials,
                    exists_in_other=exists,
                ):  # fmt: skip
                    continue
                reasons.append(f"{name}: {self.condition_failure(side, condition, record, exists)}")
                break
        return "No rule matches. " + "; ".join(reasons) + "."

    def condition_failure(
        self, side: str, condition: ConditionData, record: Contact, exists: bool
    ) -> str:
        spec = self.cfg.sides[side]
        operator = condition.operator.replace("_", " ")
        if condition.kind == conditions_mod.EXISTS_IN_OTHER:
            there = self.connectors[other(side)].name
            return f'"already exists in {there}" is false (no {there} contact has its email)'
        if condition.kind == conditions_mod.SPECIAL:
            special = spec.specials.get(condition.field)
            label = special.label if special else condition.field
            return f'"{label} {operator} {condition.value!r}" is false'
        field_spec = spec.fields.get(condition.field)
        label = field_spec.label if field_spec else condition.field
        saw = record.values.get(condition.field)
        shown = "empty" if mapping_mod.is_empty(saw) else repr(_jsonable(saw))
        value = "" if condition.value in (None, "") else f" {condition.value!r}"
        return f'"{label} {operator}{value}" is false (the value is {shown})'

    def rule_names(self) -> dict[int, str]:
        if self._rule_names is None:
            self._rule_names = {
                rule.pk: rule.name
                for rule in Rule.objects.filter(connection=self.connection).only("id", "name")
                if rule.name
            }
        return self._rule_names

    def conflict_note(
        self, key: str, records: dict[str, Contact], merged: MergeResult
    ) -> dict[str, Any]:
        m = next((m for m in self.cfg.mappings if m.key("a") == key), None)
        if m is None:
            return {"side": "a", "record_id": records["a"].id, "other_id": records["b"].id,
                    "field": key, "reason": "Changed on both sides."}  # fmt: skip
        if m.key("b") in merged.diffs["b"]:
            winner = "a"
        elif m.key("a") in merged.diffs["a"]:
            winner = "b"
        else:
            winner = ""
        apps = {side: self.connectors[side].name for side in SIDES}
        if winner:
            why = f"Changed on both sides; {apps[winner]}'s value won (the winning app)."
        else:
            why = "Changed on both sides; neither value was written (an empty value never wins)."
        return {
            "side": "a",
            "record_id": records["a"].id,
            "other_id": records["b"].id,
            "field": f"{m.field_a} ⇄ {m.field_b}"[:400],
            "value_a": _jsonable(m.read("a", records["a"])),
            "value_b": _jsonable(m.read("b", records["b"])),
            "winner": winner,
            "reason": why,
        }

    # Writing --------------------------------------------------------------------------------

    def apply(self, work: PageWork) -> None:
        """Plan the page's writes in the journal and, in a real run, make them."""
        for pair in work.pairs:
            for side in SIDES:
                effects = pair.effects[side]
                if pair.merged.changes[side]:
                    self.journal.note_side(
                        side,
                        "update",
                        functools.partial(
                            _update_item, pair.record_id(side), pair.merged.diffs[side]
                        ),
                        count=f"updated_{side}",
                    )
                for tags, adding, op in (
                    (effects.add_tags, True, "tag"),
                    (effects.remove_tags, False, "untag"),
                ):
                    for tag in tags:
                        work.tag_ops[(side, tag, adding)].append((pair.record_id(side), pair))
                        self.journal.note_side(
                            side, op, {"id": pair.record_id(side), "tag": tag},
                            count=f"tagged_{side}",
                        )  # fmt: skip
        self.check_breaker(work)
        if self.dry_run:
            return
        try:
            self.write_creates(work)
            self.write_updates(work)
            self.write_tags(work)
        finally:
            # Writes the apps accepted before a failure stay audited too.
            self.save_audit()

    def check_breaker(self, work: PageWork) -> None:
        if self.connection.mass_tag_confirmed:
            return
        share = settings.TANDEM_MASS_TAG_SHARE
        for side in SIDES:
            planned = work.mass_tags[side]
            if not planned:
                continue
            size = self.side_size(side)
            total = self.mass_tagged[side] + planned
            if size and total > share * size:
                app = self.cfg.sides[side].connector.name
                message = (
                    f"This run would tag {total} of {size} contacts in {app} as deleted or "
                    f"unsubscribed (more than {share:.0%}). Confirm to let it go on."
                )
                self.journal.breaker = message
                if self.dry_run:
                    raise _DryRunStopped(message)
                raise BreakerTripped(message)
            self.mass_tagged[side] = total

    def side_size(self, side: str) -> int:
        if side not in self.side_sizes:
            field_name = "deleted_a" if side == "a" else "deleted_b"
            self.side_sizes[side] = RecordLink.objects.filter(
                connection=self.connection, **{field_name: False}
            ).count()
        return self.side_sizes[side]

    def write_creates(self, work: PageWork) -> None:
        by_target: dict[str, list[CreateWork]] = defaultdict(list)
        for create in work.creates:
            by_target[other(create.source)].append(create)
        if not by_target:
            return
        with fenced(self.lease):
            for target, creates in by_target.items():
                sources = [c.record.id for c in creates]
                # An open intent left for these records was already looked up by
                # ``recover_intents`` and found not created; this attempt replaces it.
                CreateIntent.objects.filter(
                    connection=self.connection,
                    target=target,
                    source_id__in=sources,
                    completed_at__isnull=True,
                ).delete()
                intents = [
                    CreateIntent(
                        connection=self.connection,
                        target=target,
                        source_id=c.record.id,
                        key=uuid.uuid4(),
                        emails=_emails_of(c.values) or c.record.normalized_emails,
                    )
                    for c in creates
                ]
                CreateIntent.objects.bulk_create(intents)
                for create, intent in zip(creates, intents, strict=True):
                    create.intent = intent
        for target, creates in by_target.items():
            connector = self.connectors[target]
            for batch in chunks(creates, self.cfg.sides[target].caps.create_batch_size):
                requests = [
                    NewContact(
                        ref=c.record.id,
                        values=dict(c.values),
                        idempotency_key=str(c.intent.key) if c.intent else "",
                    )
                    for c in batch
                ]
                results = {r.ref: r for r in connector.create_many(requests)}
                for create in batch:
                    result = results.get(create.record.id) or WriteResult(
                        ref=create.record.id, error="The app answered nothing for this record."
                    )
                    create.result = result
                    if result.ok and result.record is not None:
                        self.journal.note_write(
                            target, result.record.id, "create", why="create", field="",
                            after=_jsonable(create.values), source_id=create.record.id,
                        )  # fmt: skip
                        self.done[target].add(result.record.id)
                        work.versions[target][result.record.id] = result.record.version
                        work.ok_ids[create.source].add(create.record.id)
                        for tag in create.add_tags:
                            work.tag_ops[(target, tag, True)].append((result.record.id, None))
                    else:
                        self.journal.counts[f"created_{target}"] -= 1
                        self.fail(
                            work, create.source, create.record.id, target, result.error,
                            throttled=result.throttled,
                        )  # fmt: skip

    def write_updates(self, work: PageWork) -> None:
        for side in SIDES:
            pairs = [p for p in work.pairs if p.merged.changes[side]]
            connector = self.connectors[side]
            for batch in chunks(pairs, self.cfg.sides[side].caps.update_batch_size):
                requests = [
                    ContactUpdate(
                        id=p.record_id(side),
                        changes=dict(p.merged.changes[side]),
                        version=p.records[side].version,
                    )
                    for p in batch
                ]
                results = {r.ref: r for r in connector.update_many(requests)}
                for pair in batch:
                    result = results.get(pair.record_id(side)) or WriteResult(
                        ref=pair.record_id(side), error="The app answered nothing for this record."
                    )
                    if result.ok and result.record is not None:
                        work.versions[side][pair.record_id(side)] = result.record.version
                        self.note_update_writes(side, pair, result.record)
                    else:
                        pair.failed = True
                        self.journal.counts[f"updated_{side}"] -= 1
                        source = other(side)
                        self.fail(
                            work, source, pair.record_id(source), side, result.error,
                            throttled=result.throttled,
                        )  # fmt: skip

    def write_tags(self, work: PageWork) -> None:
        for (side, tag, add), targets in work.tag_ops.items():
            connector = self.connectors[side]
            call = connector.tag if add else connector.untag
            owners = {record_id: pair for record_id, pair in targets}
            ids = list(owners)
            for batch in chunks(ids, self.cfg.sides[side].caps.update_batch_size):
                for result in call(batch, tag):
                    if result.ok and result.record is not None:
                        work.versions[side][result.ref] = result.record.version
                        self.note_tag_write(side, result.ref, tag, add, owners.get(result.ref))
                        continue
                    self.journal.counts[f"tagged_{side}"] -= 1
                    pair = owners.get(result.ref)
                    if pair is not None:
                        pair.failed = True
                        source = other(side)
                        self.fail(
                            work, source, pair.record_id(source), side, result.error,
                            throttled=result.throttled,
                        )  # fmt: skip
                    else:
                        # A tag on a record just created or on a deletion's survivor: the
                        # issue is the tagged record's own.
                        # (Even when throttled: reading the page again would not redo it, so it
                        # is retried as a record issue.)
                        self.fail(work, side, result.ref, side, result.error)

    def fail(
        self,
        work: PageWork,
        side: str,
        record_id: str,
        target: str,
        reason: str,
        *,
        throttled: bool = False,
    ) -> None:
        if throttled:
            work.throttled.append(Failure(side, record_id, target, reason))
            return
        reason = reason or "The app refused the record without a reason."
        work.failures.append(Failure(side, record_id, target, reason))
        self.journal.note(
            "failed",
            {"side": side, "id": record_id, "target": target, "reason": reason},
            count="failed",
        )

    # The audit: every field written, from the journal ----------------------------------------

    def note_update_writes(self, side: str, pair: PairWork, written: Contact) -> None:
        """The fields an accepted update wrote, each with its value before and why."""
        why: dict[str, tuple[str, str, int | None]] = {}
        conflicts = set(pair.merged.conflicts)
        for m in self.cfg.mappings:
            if m.key(side) not in pair.merged.diffs[side]:
                continue
            reason: str = AuditEntry.Why.MAPPING
            if m.key("a") in conflicts:
                reason = AuditEntry.Why.WINNER
            for name in mapping_mod.fields_of_mapping_key(m.key(side), m.style(side)):
                why[name] = (reason, f"{m.field_a} ⇄ {m.field_b}", None)
        effects = pair.effects[side]
        rules = {e.get("field"): e.get("rule") for e in effects.applied if e.get("field")}
        for name in effects.set_fields:
            why[name] = (AuditEntry.Why.ACTION, f"set {name}", rules.get(name))
        for name, value in pair.merged.changes[side].items():
            reason, detail, rule = why.get(name, (AuditEntry.Why.MAPPING, "", None))
            self.journal.note_write(
                side, pair.record_id(side), "update", field=name, why=reason, detail=detail,
                rule_id=rule, before=_jsonable(pair.records[side].values.get(name)),
                after=_jsonable(written.values.get(name, value)),
                source_id=pair.record_id(other(side)),
            )  # fmt: skip

    def note_tag_write(self, side: str, record_id: str, tag: str, add: bool, pair: Any) -> None:
        status = tag in (TRASH_TAG, UNSUBSCRIBE_TAG)
        rule = None
        if pair is not None:
            kind = actions_mod.ADD_TAG if add else actions_mod.REMOVE_TAG
            rule = next(
                (e.get("rule") for e in pair.effects[side].applied
                 if e.get("kind") == kind and e.get("value") == tag),
                None,
            )  # fmt: skip
        self.journal.note_write(
            side, record_id, "tag" if add else "untag", field="tags",
            why=AuditEntry.Why.TAG if status else AuditEntry.Why.ACTION, rule_id=rule,
            before=None if add else tag, after=tag if add else None,
            source_id=pair.record_id(other(side)) if pair is not None else "",
        )  # fmt: skip

    def save_notes(self) -> None:
        """Keep the run's notes so far: why records were excluded, duplicates, conflicts."""
        notes = self.journal.notes
        if not notes:
            return
        RunNote.objects.bulk_create(
            [RunNote(run=self.run, connection=self.connection, **n) for n in notes],
            batch_size=500,
        )
        notes.clear()

    def save_audit(self) -> None:
        """Keep the page's accepted writes. Not fenced: the apps hold them whatever the lease."""
        self.save_notes()
        writes = self.journal.writes
        if not writes:
            return
        AuditEntry.objects.bulk_create(
            [AuditEntry(run=self.run, connection=self.connection, **w) for w in writes],
            batch_size=500,
        )
        writes.clear()

    # Saving ---------------------------------------------------------------------------------

    def save_page(self, work: PageWork, *, side: str, checkpoint: Checkpoint | None) -> None:
        """Links, snapshots, intents, issues and the checkpoint of a fully applied page, in one
        fenced transaction: a run whose lease was taken over changes none of them."""
        if self.dry_run:
            return
        problem = checkpoint_problem(checkpoint) if checkpoint is not None else ""
        if problem:
            # Stored, it would make every later run scan again: fail this run, saying why.
            name = self.connectors[side].name
            raise ConnectorError(f"{name} handed over a checkpoint that {problem}.")
        now = timezone.now()
        with fenced(self.lease):
            self._save_creates(work, now)
            self._save_pairs(work, now)
            self._save_issues(work, now)
            if checkpoint is not None:
                field_name = "checkpoint_a" if side == "a" else "checkpoint_b"
                Connection.objects.filter(pk=self.connection.pk).update(**{field_name: checkpoint})
                setattr(self.connection, field_name, checkpoint)
        self.save_counters()

    def _save_creates(self, work: PageWork, now: dt.datetime) -> None:
        links = []
        completed: list[CreateIntent] = []
        refused: list[int] = []
        for create in work.creates:
            result, intent = create.result, create.intent
            if result is None or intent is None:
                continue
            if result.ok and result.record is not None:
                target = other(create.source)
                ids = {create.source: create.record.id, target: result.record.id}
                versions = {create.source: create.record.version, target: result.record.version}
                links.append(
                    RecordLink(
                        connection=self.connection,
                        id_a=ids["a"],
                        id_b=ids["b"],
                        snapshot=create.snapshot,
                        version_a=work.versions["a"].get(ids["a"], versions["a"]),
                        version_b=work.versions["b"].get(ids["b"], versions["b"]),
                        applied_actions=create.applied_actions,
                        synced_at=now,
                    )
                )
                intent.completed_at = now
                intent.target_id = result.record.id
                completed.append(intent)
            elif result.permanent or result.throttled:
                # Nothing was created; a later retry makes a new intent.
                refused.append(intent.pk)
        RecordLink.objects.bulk_create(links)
        self.in_sync_delta += len(links)
        _save_fields(completed, ["completed_at", "target_id"])
        if refused:
            CreateIntent.objects.filter(pk__in=refused).delete()

    def _save_pairs(self, work: PageWork, now: dt.datetime) -> None:
        new_links: list[RecordLink] = []
        changed: dict[int, RecordLink] = {link.pk: link for link in work.touched_links if link.pk}
        for pair in work.pairs:
            ok = not pair.failed
            ids = {side: pair.record_id(side) for side in SIDES}
            if ok:
                for side in SIDES:
                    work.ok_ids[side].add(ids[side])
            link = pair.link
            if link is None:
                # A new match keeps its link even when a write failed: the next run merges the
                # pair again from an empty snapshot and settles what already agrees.
                new_links.append(
                    RecordLink(
                        connection=self.connection,
                        id_a=ids["a"],
                        id_b=ids["b"],
                        snapshot=pair.merged.snapshot if ok else {},
                        version_a=work.versions["a"].get(ids["a"], pair.records["a"].version)
                        if ok
                        else "",
                        version_b=work.versions["b"].get(ids["b"], pair.records["b"].version)
                        if ok
                        else "",
                        applied_actions=pair.applied_actions if ok else {},
                        synced_at=now,
                    )
                )
                continue
            if not ok:
                continue
            updates = {
                "snapshot": pair.merged.snapshot,
                "version_a": work.versions["a"].get(ids["a"], pair.records["a"].version),
                "version_b": work.versions["b"].get(ids["b"], pair.records["b"].version),
                "applied_actions": pair.applied_actions,
                "deleted_a": False,
                "deleted_b": False,
            }
            if any(getattr(link, name) != value for name, value in updates.items()):
                for name, value in updates.items():
                    setattr(link, name, value)
                link.synced_at = now
                changed[link.pk] = link
        RecordLink.objects.bulk_create(new_links)
        self.in_sync_delta += len(new_links)
        if changed:
            _save_fields(
                list(changed.values()),
                [
                    "id_a", "id_b", "snapshot", "version_a", "version_b",
                    "applied_actions", "deleted_a", "deleted_b", "synced_at",
                ],
            )  # fmt: skip

    def _save_issues(self, work: PageWork, now: dt.datetime) -> None:
        failing = {(f.side, f.record_id) for f in work.failures}
        for side in SIDES:
            resolved = [i for i in work.ok_ids[side] if (side, i) not in failing]
            self._resolve_issues(side, resolved)
        for failure in work.failures:
            issue = (
                RecordIssue.objects.filter(
                    connection=self.connection,
                    side=failure.side,
                    record_id=failure.record_id,
                    resolved_at__isnull=True,
                )
                .order_by("pk")
                .first()
            )
            if issue is None:
                RecordIssue.objects.create(
                    connection=self.connection,
                    side=failure.side,
                    record_id=failure.record_id,
                    target=failure.target,
                    reason=failure.reason,
                    next_retry_at=now + issue_backoff(1),
                )
                continue
            issue.attempts += 1
            issue.reason = failure.reason
            issue.target = failure.target
            issue.next_retry_at = now + issue_backoff(issue.attempts)
            issue.save(
                update_fields=["attempts", "reason", "target", "next_retry_at", "last_seen_at"]
            )

    def _resolve_issues(self, side: str, record_ids: Iterable[str]) -> None:
        ids = list(record_ids)
        if ids:
            RecordIssue.objects.filter(
                connection=self.connection,
                side=side,
                record_id__in=ids,
                resolved_at__isnull=True,
            ).update(resolved_at=timezone.now())

    def save_counters(self) -> None:
        counts = self.journal.counts
        for name in SyncRun.COUNTERS:
            if name != "api_calls":
                setattr(self.run, name, counts[name])
        calls = calls_by_kind(self.connectors)
        self.run.api_calls = sum(calls.values())
        self.run.api_calls_by_kind = calls
        self.run.save(update_fields=[*SyncRun.COUNTERS, "api_calls_by_kind", "phase"])

    def finish(self) -> None:
        """A completed real run: the scan becomes listening, a confirmation is used up, and the
        connection's health counters are refreshed."""
        health = dict(self.connection.health or {})
        previous = health.get("in_sync")
        if self.scan or not isinstance(previous, int):
            in_sync = RecordLink.objects.filter(
                connection=self.connection, deleted_a=False, deleted_b=False
            ).count()
        else:
            in_sync = max(0, previous + self.in_sync_delta)
        failed = {
            row["reason"]: row["count"]
            for row in RecordIssue.objects.filter(
                connection=self.connection, resolved_at__isnull=True
            )
            .values("reason")
            .annotate(count=Count("id"))
            .order_by("reason")
        }
        health["in_sync"] = in_sync
        health["failed"] = failed
        if self.scan:
            health["excluded"] = self.journal.counts["excluded"]
            health["duplicates"] = self.journal.counts["duplicates"]
        health.setdefault("excluded", 0)
        health.setdefault("duplicates", 0)
        updates: dict[str, Any] = {"health": health}
        if self.connection.status == Connection.Status.SCANNING:
            updates["status"] = Connection.Status.ACTIVE
        if self.connection.mass_tag_confirmed:
            updates["mass_tag_confirmed"] = False
        with fenced(self.lease):
            Connection.objects.filter(pk=self.connection.pk).update(**updates)
        for name, value in updates.items():
            setattr(self.connection, name, value)

    # Crash recovery -------------------------------------------------------------------------

    def recover_intents(self) -> None:
        """Finish creates a crashed run made but never linked: find each open intent's record
        by the intent's key it was stamped with (then, for an app that cannot look keys up, by
        the emails it was created with), and link it; forget the intents that created nothing.

        The key comes first: a record created without an email, or whose email was changed
        since, is found by no email, and forgetting its intent would create it a second time."""
        for target in SIDES:
            # Unordered in SQL so the open-intent partial index answers it (completed intents
            # pile up by the hundred thousand); ordered here.
            open_intents = CreateIntent.objects.filter(
                connection=self.connection, target=target, completed_at__isnull=True
            ).order_by()
            intents = sorted(open_intents, key=lambda intent: intent.pk)
            if not intents:
                continue
            connector = self.connectors[target]
            size = self.cfg.sides[target].caps.lookup_batch_size
            for batch in chunks(intents, size):
                by_key = dict(connector.find_by_intent_keys([str(i.key) for i in batch]))
                unfound = [i for i in batch if str(i.key) not in by_key]
                emails = sorted({normalize_email(e) for i in unfound for e in i.emails})
                for email_batch in chunks(emails, size):
                    for records in connector.find_by_emails(email_batch).values():
                        for record in records:
                            if record.idempotency_key and not record.deleted:
                                by_key.setdefault(record.idempotency_key, record)
                self._settle_intents(target, batch, by_key)

    def _settle_intents(
        self, target: str, intents: list[CreateIntent], by_key: dict[str, Contact]
    ) -> None:
        source = other(target)
        now = timezone.now()
        with fenced(self.lease):
            for intent in intents:
                record = by_key.get(str(intent.key))
                if record is None:
                    intent.delete()
                    continue
                ids = {source: intent.source_id, target: record.id}
                taken = RecordLink.objects.filter(
                    Q(id_a=ids["a"]) | Q(id_b=ids["b"]), connection=self.connection
                ).exists()
                if not taken:
                    self.in_sync_delta += 1
                    RecordLink.objects.create(
                        connection=self.connection,
                        id_a=ids["a"],
                        id_b=ids["b"],
                        snapshot=self.created_snapshot(source, record),
                        synced_at=now,
                    )
                    self.journal.note(
                        "links",
                        {"id_a": ids["a"], "id_b": ids["b"], "how": "intent"},
                        count="linked",
                    )
                intent.completed_at = now
                intent.target_id = record.id
                intent.save(update_fields=["completed_at", "target_id"])

    def created_snapshot(self, source: str, created: Contact) -> dict[str, dict[str, Any]]:
        """The snapshot of a recovered create: the created record's values, as if just synced
        (the intent does not keep what was written), so a later edit of either side is seen
        as a one-sided change rather than a conflict."""
        target = other(source)
        snapshot: dict[str, dict[str, Any]] = {"a": {}, "b": {}}
        for m in self.cfg.mappings:
            if not m.flows(source):
                continue
            now = m.read(target, created)
            back = m.convert(target, now)
            if mapping_mod.is_empty(now) or back is mapping_mod.UNCONVERTIBLE:
                continue
            snapshot[target][m.key(target)] = now
            snapshot[source][m.key(source)] = back
        return snapshot


def _save_fields(objs: Sequence[models.Model], names: Sequence[str]) -> None:
    """Save ``names`` of many rows of one model: one UPDATE per row, sent as one batch
    (Django's ``bulk_update`` builds a CASE expression per row and field, far slower for
    thousands of rows)."""
    if not objs:
        return
    meta = objs[0]._meta
    fields: list[models.Field[Any, Any]] = []
    for name in names:
        found = meta.get_field(name)
        assert isinstance(found, models.Field)
        fields.append(found)
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    # Only quoted names from the model's own metadata are formatted in; values are parameters.
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608
    rows = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields] + [obj.pk]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def calls_by_kind(connectors: dict[str, Connector]) -> dict[str, int]:
    """Both apps' API calls so far, keyed "<side>: <kind>"."""
    return {
        f"{side}: {kind}": count
        for side, connector in connectors.items()
        for kind, count in connector.http.calls.items()
    }


def link_version(link: RecordLink, side: str) -> str:
    return link.version_a if side == "a" else link.version_b


def link_deleted(link: RecordLink, side: str) -> bool:
    return link.deleted_a if side == "a" else link.deleted_b


def _emails_of(values: dict[str, Any]) -> list[str]:
    raw = values.get(EMAILS) or []
    items = raw if isinstance(raw, list) else [raw]
    return [normalize_email(str(e)) for e in items if e]


def _create_item(source_id: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"source_id": source_id, "values": _jsonable(values)}


def _update_item(record_id: str, diffs: dict[str, Any]) -> dict[str, Any]:
    return {"id": record_id, "fields": _jsonable(diffs)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    return value


def run_sync(
    *,
    connection: Connection,
    run: SyncRun,
    lease: Lease | None,
    connector_a: Connector,
    connector_b: Connector,
    dry_run: bool = False,
    full: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any] | None:
    """Run one pass of ``connection``: scan or incremental, as its state says (always a scan
    through the links with ``full``). ``progress`` is told of every page read.

    Updates and saves ``run``'s counters and phase. A real run writes to both apps and keeps
    links, snapshots, intents, record issues and checkpoints, every one of them fenced by
    ``lease`` (``LeaseLost`` propagates). A dry run writes nothing (no app write, no link,
    checkpoint, intent or issue) and returns its plan: a JSON-able dict with ``phase``,
    ``counts`` (the run counters it would reach, reads left out), per side ``a`` / ``b`` the
    ``create``, ``update`` (field-level before/after), ``tag`` and ``untag`` items, the ``links``,
    ``excluded``, ``duplicates``, ``conflicts`` lists, ``breaker`` (why a real run would stop,
    or "") and ``truncated`` (lists are capped at ``PLAN_ITEM_LIMIT`` items).

    Raises ``BreakerTripped`` (real runs only) when a run would tag more than
    ``TANDEM_MASS_TAG_SHARE`` of a side, unless ``connection.mass_tag_confirmed``.
    """
    engine = SyncEngine(
        connection=connection,
        run=run,
        lease=lease,
        connector_a=connector_a,
        connector_b=connector_b,
        dry_run=dry_run,
        full=full,
        progress=progress,
    )
    journal = engine.execute()
    return journal.as_plan() if dry_run else None


__all__ = ["TRASH_TAG", "UNSUBSCRIBE_TAG", "BreakerTripped", "SyncEngine", "run_sync"]
