"""The store: what a run reads and keeps in the database.

It reads the links of a page's records and keeps, fenced by the run's lease, the create intents
(before the apps are written), then per page in one transaction the links, snapshots, intents,
record issues and the checkpoint; after each page the run's counters, audit and notes. A run
whose lease was taken over changes none of the fenced rows. ``DryStore`` reads the same and
keeps nothing but the run's own counters.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from django.db import connection as db
from django.db import models, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import Count, Q
from django.db.models.fields import AutoFieldMixin
from django.utils import timezone

from integrations.jsoncodec import decode, encode_text
from integrations.leases import Lease, fenced
from integrations.models import (
    AuditEntry,
    Connection,
    CreateIntent,
    RecordIssue,
    RecordLink,
    RunNote,
    SyncRun,
)
from integrations.sync.apps import App, calls_by_kind
from integrations.sync.errors import ConnectorError
from integrations.sync.journal import Journal
from integrations.sync.planner import CreatePlan, Plan
from integrations.sync.records import (
    EMAILS,
    Checkpoint,
    Contact,
    checkpoint_problem,
    normalize_email,
    previous_ids,
)
from integrations.sync.sides import SIDES, other
from integrations.sync.state import Link, RunState
from integrations.sync.writer import Intent, Outcomes

ISSUE_RETRY_BASE = dt.timedelta(minutes=5)
ISSUE_RETRY_MAX = dt.timedelta(days=1)
# SQLite's ``PRAGMA synchronous`` level that syncs at every commit.
SQLITE_FULL = 2
LINK_FIELDS = ("pk", "id_a", "id_b", "version_a", "version_b", "deleted_a", "deleted_b",
               "snapshot", "applied_actions")  # fmt: skip


def issue_backoff(attempts: int) -> dt.timedelta:
    """How long a failing record waits before its next retry: doubling, capped at a day."""
    delay: dt.timedelta = ISSUE_RETRY_BASE * (2 ** max(0, attempts - 1))
    return min(delay, ISSUE_RETRY_MAX)


class Store:
    """Reads and keeps one real run's rows."""

    keeps = True

    def __init__(self, connection: Connection, run: SyncRun, lease: Lease | None) -> None:
        self.connection = connection
        self.run = run
        self.lease = lease

    def new_journal(self, phase: str) -> Journal:
        return Journal(phase, keep=self.keeps)

    # Reading links --------------------------------------------------------------------------

    def _links(self) -> models.QuerySet[RecordLink]:
        # Unordered: the models' default ordering joins the connection and defeats the index.
        return RecordLink.objects.filter(connection=self.connection).order_by()

    def applied_ids(self, side: str, records: Iterable[Contact]) -> set[str]:
        """Records already applied: their link holds this very id and version (the overlap
        window, or a run's own writes read back). Found reading two columns, not the links."""
        versions = {r.id: r.version for r in records if r.version}
        if not versions:
            return set()
        rows = self._links_in(side, versions, f"id_{side}", f"version_{side}")
        return {record_id for record_id, version in rows if versions.get(record_id) == version}

    def links_for(self, side: str, records: Iterable[Contact]) -> dict[str, Link]:
        """Links of these records, by record id, found by id or by an id the record had."""
        previous: dict[str, str] = {}
        ids = []
        for record in records:
            ids.append(record.id)
            for old in previous_ids(record):
                previous[old] = record.id
        ids.extend(previous)
        if not ids:
            return {}
        pks = {pk for (pk,) in self._links_in(side, ids, "pk")}
        if not pks:
            return {}
        rows = self._links().filter(pk__in=pks).values_list(*LINK_FIELDS)
        found: dict[str, Link] = {}
        for row in sorted(rows, key=lambda row: row[0]):
            link = _link(row)
            record_id = link.id(side)
            found.setdefault(previous.get(record_id, record_id), link)
        return found

    def linked_ids(self, side: str, ids: list[str], previous: Mapping[str, list[str]]) -> set[str]:
        """Which of these records already have a link, under their id or an id they had."""
        if not ids:
            return set()
        known_as = {record_id: record_id for record_id in ids}
        for record_id in ids:
            for old in previous.get(record_id, []):
                known_as[old] = record_id
        found = self._links_in(side, known_as, f"id_{side}")
        return {known_as[record_id] for (record_id,) in found}

    def _links_in(self, side: str, ids: Iterable[str], *names: str) -> list[tuple[Any, ...]]:
        """``names`` (text or integer fields) of this connection's links whose ``id_<side>`` is
        one of ``ids``."""
        return _rows_in(RecordLink, names, f"id_{side}", ids, connection=self.connection.pk)

    def live_links(self, side: str) -> int:
        return self._links().filter(**{f"deleted_{side}": False}).count()

    # Create intents -------------------------------------------------------------------------

    def keep_intents(self, creates: list[CreatePlan]) -> dict[str, Intent]:
        """An intent per create, kept before the apps are written (fenced)."""
        kept: dict[str, Intent] = {}
        with _synced_commit(), fenced(self.lease):
            for target in SIDES:
                batch = [c for c in creates if c.target == target]
                if not batch:
                    continue
                # An open intent left for these records was already looked up by the recovery
                # and found not created; this attempt replaces it.
                # Found by one plain IN (``_rows_in``): none, in all but a recovery.
                stale = _rows_in(
                    CreateIntent, ["pk"], "source_id", [c.record.id for c in batch],
                    null=("completed_at",), connection=self.connection.pk, target=target,
                )  # fmt: skip
                if stale:
                    CreateIntent.objects.filter(pk__in=[pk for (pk,) in stale]).delete()
                rows = [
                    {
                        "connection": self.connection.pk,
                        "target": target,
                        "source_id": c.record.id,
                        "key": key,
                        "emails": _emails_of(c.values) or c.record.normalized_emails,
                    }
                    for c, key in zip(batch, _uuid4s(len(batch)), strict=True)
                ]
                pks = _insert_returning(CreateIntent, rows, key="key")
                for create, row in zip(batch, rows, strict=True):
                    kept[create.record.id] = Intent(pk=pks[row["key"]], key=str(row["key"]))
        return kept

    def open_intents(self, target: str) -> list[CreateIntent]:
        # Unordered in SQL so the open-intent partial index answers it (completed intents pile
        # up by the hundred thousand); ordered here.
        found = CreateIntent.objects.filter(
            connection=self.connection, target=target, completed_at__isnull=True
        ).order_by()
        return sorted(found, key=lambda intent: intent.pk)

    def settle_intents(
        self,
        target: str,
        intents: list[CreateIntent],
        by_key: Mapping[str, Contact],
        snapshot: Any,
        journal: Journal,
        state: RunState,
    ) -> None:
        """Link the records open intents created (``snapshot(record)`` their snapshot); forget
        the intents that created nothing."""
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
                    state.in_sync_delta += 1
                    RecordLink.objects.create(
                        connection=self.connection,
                        id_a=ids["a"],
                        id_b=ids["b"],
                        snapshot=snapshot(record),
                        synced_at=now,
                    )
                    journal.note(
                        "links",
                        {"id_a": ids["a"], "id_b": ids["b"], "how": "intent"},
                        count="linked",
                    )
                intent.completed_at = now
                intent.target_id = record.id
                intent.save(update_fields=["completed_at", "target_id"])

    # Record issues --------------------------------------------------------------------------

    def due_issue_ids(self, side: str, now: dt.datetime) -> list[str]:
        due = RecordIssue.objects.filter(
            connection=self.connection, side=side, resolved_at__isnull=True, next_retry_at__lte=now
        )
        return list(due.order_by("pk").values_list("record_id", flat=True))

    def resolve_issues(self, side: str, record_ids: Iterable[str]) -> None:
        """Resolve the open issues of these records: found by one plain ``IN`` (``_rows_in``;
        a page's thousands of ids, most with no issue), then resolved by primary key."""
        ids = list(record_ids)
        if not ids:
            return
        found = _rows_in(
            RecordIssue, ["pk"], "record_id", ids, null=("resolved_at",),
            connection=self.connection.pk, side=side,
        )  # fmt: skip
        if found:
            RecordIssue.objects.filter(pk__in=[pk for (pk,) in found]).update(
                resolved_at=timezone.now()
            )

    def resolve_gone(self, side: str, record_ids: list[str]) -> None:
        """Issues of records the app no longer has."""
        with fenced(self.lease):
            self.resolve_issues(side, record_ids)

    # A page ---------------------------------------------------------------------------------

    def save_page(
        self,
        plan: Plan,
        outcomes: Outcomes,
        *,
        side: str,
        name: str,
        checkpoint: Checkpoint | None,
        state: RunState,
    ) -> None:
        """Links, snapshots, intents, issues and the checkpoint of a fully applied page, in one
        fenced transaction: a run whose lease was taken over changes none of them. A page that
        changes none of them (its records all applied already, its checkpoint the one the
        connection holds: most pages of a change feed that reads back a scan's writes) is not
        stored at all."""
        held = checkpoint is None or checkpoint == self.connection.checkpoint(side)
        if held and _stores_nothing(plan, outcomes):
            return
        problem = checkpoint_problem(checkpoint) if checkpoint is not None else ""
        if problem:
            # Stored, it would make every later run scan again: fail this run, saying why.
            raise ConnectorError(f"{name} handed over a checkpoint that {problem}.")
        now = timezone.now()
        ok_ids = {s: set(outcomes.ok_ids[s]) for s in SIDES}
        with fenced(self.lease):
            state.in_sync_delta += self._save_creates(plan, outcomes, now)
            state.in_sync_delta += self._save_pairs(plan, outcomes, ok_ids, now)
            self._save_issues(plan, outcomes, ok_ids, now)
            if checkpoint is not None:
                field_name = f"checkpoint_{side}"
                Connection.objects.filter(pk=self.connection.pk).update(**{field_name: checkpoint})
                setattr(self.connection, field_name, checkpoint)

    def _new_link(self, ids: Mapping[str, str], **values: Any) -> dict[str, Any]:
        """A new ``RecordLink`` row's own values; the columns every new link of a page has
        alike are ``_new_links``'."""
        return {"id_a": ids["a"], "id_b": ids["b"], **values}

    def _insert_links(self, links: Sequence[Mapping[str, Any]], now: dt.datetime) -> None:
        """Insert new links (``_new_link``), every column named (``_insert``)."""
        same = {"connection": self.connection.pk, "deleted_a": False, "deleted_b": False,
                "created_at": now, "synced_at": now}  # fmt: skip
        _insert(RecordLink, links, same=same)

    def _save_creates(self, plan: Plan, outcomes: Outcomes, now: dt.datetime) -> int:
        links: list[dict[str, Any]] = []
        completed: list[dict[str, Any]] = []
        refused: list[int] = []
        for create in plan.creates:
            result = outcomes.create_results.get(create.record.id)
            intent = outcomes.intents.get(create.record.id)
            if result is None or intent is None or intent.pk is None:
                continue
            if result.ok and result.record is not None:
                target = create.target
                ids = {create.source: create.record.id, target: result.record.id}
                versions = {create.source: create.record.version, target: result.record.version}
                links.append(
                    self._new_link(
                        ids,
                        snapshot=create.snapshot,
                        version_a=outcomes.versions["a"].get(ids["a"], versions["a"]),
                        version_b=outcomes.versions["b"].get(ids["b"], versions["b"]),
                        applied_actions=create.applied_actions,
                    )
                )
                completed.append(
                    {"pk": intent.pk, "completed_at": now, "target_id": result.record.id}
                )
            elif result.permanent or result.throttled:
                # Nothing was created; a later retry makes a new intent.
                refused.append(intent.pk)
        self._insert_links(links, now)
        _save_fields(CreateIntent, completed, ["completed_at", "target_id"])
        if refused:
            CreateIntent.objects.filter(pk__in=refused).delete()
        return len(links)

    def _save_pairs(
        self, plan: Plan, outcomes: Outcomes, ok_ids: dict[str, set[str]], now: dt.datetime
    ) -> int:
        new_links: list[dict[str, Any]] = []
        changed: dict[int, dict[str, Any]] = {}
        for touched in plan.touched_links:
            if touched.pk is not None:
                changed[touched.pk] = _row(touched, synced_at=None)
        failed = outcomes.failed_pair_ids()
        for pair in plan.pairs:
            ok = id(pair) not in failed
            ids = {side: pair.record_id(side) for side in SIDES}
            if ok:
                for side in SIDES:
                    ok_ids[side].add(ids[side])
            versions = {
                side: outcomes.versions[side].get(ids[side], pair.records[side].version)
                for side in SIDES
            }
            link = pair.link
            if link is None:
                # A new match keeps its link even when a write failed: the next run merges the
                # pair again from an empty snapshot and settles what already agrees.
                new_links.append(
                    self._new_link(
                        ids,
                        snapshot=pair.merged.snapshot if ok else {},
                        version_a=versions["a"] if ok else "",
                        version_b=versions["b"] if ok else "",
                        applied_actions=pair.applied_actions if ok else {},
                    )
                )
                continue
            if not ok or link.pk is None:
                continue
            updated = Link(
                id_a=link.id_a,
                id_b=link.id_b,
                version_a=versions["a"],
                version_b=versions["b"],
                snapshot=pair.merged.snapshot,
                applied_actions=pair.applied_actions,
                pk=link.pk,
            )
            if updated != link:
                changed[link.pk] = _row(updated, synced_at=now)
            elif link.pk in changed:
                changed[link.pk] = _row(link, synced_at=None)
        self._insert_links(new_links, now)
        if changed:
            rows = list(changed.values())
            synced = [r for r in rows if r["synced_at"] is not None]
            _save_fields(RecordLink, synced, LINK_SAVED)
            _save_fields(RecordLink, [r for r in rows if r["synced_at"] is None], LINK_SAVED[:-1])
        return len(new_links)

    def _save_issues(
        self, plan: Plan, outcomes: Outcomes, ok_ids: dict[str, set[str]], now: dt.datetime
    ) -> None:
        failures = [*plan.failures, *outcomes.failures]
        failing = {(f.side, f.record_id) for f in failures}
        for side in SIDES:
            self.resolve_issues(side, [i for i in ok_ids[side] if (side, i) not in failing])
        for failure in failures:
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

    # The run's own record -------------------------------------------------------------------

    def save_audit(self, journal: Journal) -> None:
        """Keep the accepted writes and notes so far. Not fenced: the apps hold the writes
        whatever the lease."""
        self.save_notes(journal)
        writes = journal.writes
        if writes:
            run, connection = self.run.pk, self.connection.pk
            _insert(AuditEntry, writes, same={"run": run, "connection": connection})
            writes.clear()

    def save_notes(self, journal: Journal) -> None:
        notes = journal.notes
        if notes:
            run, connection = self.run.pk, self.connection.pk
            _insert(RunNote, notes, same={"run": run, "connection": connection})
            notes.clear()

    def save_counters(self, journal: Journal, apps: Mapping[str, App]) -> None:
        for name in SyncRun.COUNTERS:
            if name != "api_calls":
                setattr(self.run, name, journal.counts[name])
        calls = calls_by_kind(apps)
        self.run.api_calls = sum(calls.values())
        self.run.api_calls_by_kind = calls
        self.run.save(update_fields=[*SyncRun.COUNTERS, "api_calls_by_kind", "phase"])

    def start(self, phase: str, error: str) -> None:
        self.run.phase = phase
        if error:
            self.run.error = error
        self.run.save(update_fields=["phase", "error"])

    def add_error(self, note: str, replaces: str) -> None:
        """Add ``note`` to the run's error, in place of the earlier note ``replaces``."""
        previous = self.run.error.replace(replaces, "").strip()
        self.run.error = " ".join(p for p in (previous, note) if p)
        self.run.save(update_fields=["error"])

    def finish(self, journal: Journal, state: RunState, *, scan: bool) -> None:
        """A completed real run: the scan becomes listening, a confirmation is used up, and the
        connection's health counters are refreshed."""
        health = dict(self.connection.health or {})
        previous = health.get("in_sync")
        if scan or not isinstance(previous, int):
            in_sync = self._links().filter(deleted_a=False, deleted_b=False).count()
        else:
            in_sync = max(0, previous + state.in_sync_delta)
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
        if scan:
            health["excluded"] = journal.counts["excluded"]
            health["duplicates"] = journal.counts["duplicates"]
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


class DryStore(Store):
    """A dry run's store: reads like a real run's and keeps nothing of the connection's."""

    keeps = False

    def keep_intents(self, creates: list[CreatePlan]) -> dict[str, Intent]:
        return {c.record.id: Intent(pk=None, key="") for c in creates}

    def open_intents(self, target: str) -> list[CreateIntent]:
        return []

    def due_issue_ids(self, side: str, now: dt.datetime) -> list[str]:
        return []

    def resolve_gone(self, side: str, record_ids: list[str]) -> None:
        pass

    def save_page(
        self,
        plan: Plan,
        outcomes: Outcomes,
        *,
        side: str,
        name: str,
        checkpoint: Checkpoint | None,
        state: RunState,
    ) -> None:
        pass

    def save_audit(self, journal: Journal) -> None:
        pass

    def finish(self, journal: Journal, state: RunState, *, scan: bool) -> None:
        pass


LINK_SAVED = ["id_a", "id_b", "snapshot", "version_a", "version_b", "applied_actions",
              "deleted_a", "deleted_b", "synced_at"]  # fmt: skip


def _stores_nothing(plan: Plan, outcomes: Outcomes) -> bool:
    """Whether ``save_page`` has no row to write for the page (its checkpoint aside): no link
    made or changed, no intent completed, no issue opened or resolved."""
    return not (
        plan.creates
        or plan.pairs
        or plan.touched_links
        or plan.failures
        or outcomes.failures
        or any(outcomes.ok_ids.values())
    )


def _link(row: Sequence[Any]) -> Link:
    pk, id_a, id_b, version_a, version_b, deleted_a, deleted_b, snapshot, applied = row
    return Link(
        id_a=id_a,
        id_b=id_b,
        version_a=version_a,
        version_b=version_b,
        deleted_a=deleted_a,
        deleted_b=deleted_b,
        snapshot=snapshot or {},
        applied_actions=applied or {},
        pk=pk,
    )


def _row(link: Link, *, synced_at: dt.datetime | None) -> dict[str, Any]:
    """A link's saved columns (``LINK_SAVED``) by field name, with its primary key."""
    return {
        "pk": link.pk,
        "id_a": link.id_a,
        "id_b": link.id_b,
        "version_a": link.version_a,
        "version_b": link.version_b,
        "deleted_a": link.deleted_a,
        "deleted_b": link.deleted_b,
        "snapshot": link.snapshot,
        "applied_actions": link.applied_actions,
        "synced_at": synced_at,
    }


@contextlib.contextmanager
def _synced_commit() -> Iterator[None]:
    """The transaction in the block committed with a sync to disk of its own. SQLite on the
    settings' write-ahead log with ``synchronous=NORMAL`` syncs the log at its checkpoints,
    not at every commit: a power cut may take the last commits back. A create intent must
    outlive any crash once its create may be sent (DESIGN.md §4, rule 8), so its commit is
    made ``FULL`` (one sync of the log). Elsewhere (PostgreSQL, SQLite already ``FULL``, or
    inside a transaction, whose commit is its owner's) nothing changes."""
    if db.vendor != "sqlite" or db.in_atomic_block:
        yield
        return
    with db.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        level = int(cursor.fetchone()[0])
        if level >= SQLITE_FULL:
            yield
            return
        cursor.execute(f"PRAGMA synchronous = {SQLITE_FULL}")
    try:
        yield
    finally:
        with db.cursor() as cursor:
            cursor.execute(f"PRAGMA synchronous = {level}")


def _uuid4s(count: int) -> list[uuid.UUID]:
    """``count`` random UUIDs, as ``uuid.uuid4()`` makes each, from one read of the system's
    random source instead of one read per UUID."""
    random = os.urandom(16 * count)
    return [uuid.UUID(bytes=random[i : i + 16], version=4) for i in range(0, 16 * count, 16)]


def _emails_of(values: dict[str, Any]) -> list[str]:
    raw = values.get(EMAILS) or []
    items = raw if isinstance(raw, list) else [raw]
    return [normalize_email(str(e)) for e in items if e]


def _insert(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    same: Mapping[str, Any] | None = None,
) -> None:
    """Insert many rows of ``model``, each a dict of column values by field name (a field a
    row leaves out takes its default, ``auto_now_add`` the time of the call; ``same``: values
    of fields every row has, which the rows do not name): multi-row INSERTs
    (``_insert_statements``) in one transaction. ``bulk_create`` makes a model instance and
    compiles every field of every row, which costs more than the database for the tens of
    thousands of links a scan makes."""
    if not rows:
        return
    fields, columns = _columns(model)
    params = _params(fields, rows, same)
    # One transaction, as ``bulk_create``'s: outside one, SQLite would commit (and sync to
    # disk) every row.
    with transaction.atomic(savepoint=False), db.cursor() as cursor:
        for sql, values in _insert_statements(model, columns, len(fields), params):
            cursor.execute(sql, values)


def _insert_statements(
    model: type[models.Model], columns: str, width: int, params: Sequence[tuple[Any, ...]]
) -> Iterator[tuple[str, list[Any]]]:
    """The INSERTs of ``params`` (rows of ``width`` prepared values), each its SQL and its
    values, ``_rows_per_statement`` rows to one."""
    per_call = _rows_per_statement(width)
    for start in range(0, len(params), per_call):
        batch = params[start : start + per_call]
        yield _insert_sql(model, columns, len(batch)), [v for row in batch for v in row]


def _rows_per_statement(width: int) -> int:
    """Rows of ``width`` values one INSERT takes, within the database's parameter limit.

    Several rows a statement rather than one (``executemany``): SQLite lets Python's lock go
    at every step of a statement, a row each for ``executemany``, and while another of the
    run's threads is working (a page being decoded, a write's answer) each step waits its
    turn to take it back. 1,000 rows took 0.27 to 0.64 s so against 0.04 s in statements of
    200 (bench/README.md, "GIL hand-offs", twelfth session)."""
    return max(1, min(1000, (db.features.max_query_params or 65535) // width))


def _insert_returning(
    model: type[models.Model], rows: Sequence[Mapping[str, Any]], *, key: str
) -> dict[Any, int]:
    """``_insert``, answering each row's primary key by its value of the unique field ``key``
    (as the row gave it): multi-row INSERTs with ``RETURNING``, matched by ``key`` rather than
    by the order the database happens to answer in."""
    if not rows:
        return {}
    fields, columns = _columns(model)
    meta = model._meta
    key_field = meta.get_field(key)
    assert isinstance(key_field, models.Field) and key_field.unique
    key_column, pk_column = db.ops.quote_name(key_field.column), db.ops.quote_name(meta.pk.column)
    params = _params(fields, rows)
    # Each row's key as sent, which the database answers as it is (SQLite: a UUID's text), to
    # the key as the row gave it; an answer in another form is made a value of the field.
    position = fields.index(key_field)
    sent = {prepared[position]: row[key] for prepared, row in zip(params, rows, strict=True)}
    given: dict[Any, Any] = {}
    found: dict[Any, int] = {}
    with transaction.atomic(savepoint=False), db.cursor() as cursor:
        for sql, values in _insert_statements(model, columns, len(fields), params):
            cursor.execute(f"{sql} RETURNING {pk_column}, {key_column}", values)
            for pk, value in cursor.fetchall():
                original = sent.get(value, _MISSING)
                if original is _MISSING:
                    if not given:
                        given = {key_field.to_python(row[key]): row[key] for row in rows}
                    original = given[key_field.to_python(value)]
                found[original] = pk
    if len(found) != len(rows):
        raise RuntimeError(f"{meta.db_table}: {len(rows)} rows inserted, {len(found)} answered")
    return found


def _rows_in(
    model: type[models.Model],
    names: Sequence[str],
    field_name: str,
    values: Iterable[str],
    *,
    null: Sequence[str] = (),
    **equal: int | str,
) -> list[tuple[Any, ...]]:
    """``names`` of the rows of ``model`` whose text field ``field_name`` holds one of
    ``values``, whose fields ``equal`` hold those values and whose fields ``null`` are
    ``NULL``: one ``IN`` with each value a
    parameter as it is (Django's ``__in`` lookup prepares every one through the field: 3 ms
    for 1,000 ids on SQLite, 0.4 ms this way). ``names`` must be text or integer fields,
    which the database gives back as Django would (no converter).

    On SQLite the rows come back as one JSON array (``json_group_array``), one step of the
    statement instead of one a row: every step lets Python's lock go, and taking it back
    waits while another of the run's threads works (``_rows_per_statement``). 1,000 rows
    took 0.76 s against that thread, 0.013 s as one array (bench/README.md, twelfth
    session)."""
    meta = model._meta
    quote = db.ops.quote_name

    def column(name: str) -> str:
        field = meta.pk if name == "pk" else meta.get_field(name)
        assert isinstance(field, models.Field)
        assert isinstance(field, models.IntegerField | models.CharField | models.ForeignKey)
        return quote(field.column)

    matched = meta.get_field(field_name)
    assert isinstance(matched, models.CharField | models.TextField)
    # As a text field prepares a lookup's value.
    texts = [value if type(value) is str else str(value) for value in values]
    select = ", ".join(column(name) for name in names)
    where = "".join(f"{column(name)} = %s AND " for name in equal)
    for name in null:
        unset = meta.get_field(name)
        assert isinstance(unset, models.Field) and unset.null
        where += f"{quote(unset.column)} IS NULL AND "
    # Only quoted names from the model's own metadata are formatted in; values are parameters.
    table = quote(meta.db_table)
    per_call = (db.features.max_query_params or 65535) - len(equal)
    as_array = db.vendor == "sqlite"
    if as_array:
        select = f"json_group_array(json_array({select}))"
    rows: list[tuple[Any, ...]] = []
    with db.cursor() as cursor:
        for start in range(0, len(texts), per_call):
            chunk = texts[start : start + per_call]
            marks = ", ".join(["%s"] * len(chunk))
            matches = f"{quote(matched.column)} IN ({marks})"
            sql = f"SELECT {select} FROM {table} WHERE {where}{matches}"  # noqa: S608
            cursor.execute(sql, [*equal.values(), *chunk])
            if as_array:
                ((array,),) = cursor.fetchall()
                rows.extend(tuple(row) for row in decode(array))
            else:
                rows.extend(tuple(row) for row in cursor.fetchall())
    return rows


def _columns(model: type[models.Model]) -> tuple[list[models.Field[Any, Any]], str]:
    meta = model._meta
    fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
    return fields, ", ".join(db.ops.quote_name(f.column) for f in fields)


def _insert_sql(model: type[models.Model], columns: str, rows: int) -> str:
    marks = "(" + ", ".join(["%s"] * (columns.count(",") + 1)) + ")"
    # Only quoted names from the model's own metadata are formatted in; values are parameters.
    table = db.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({columns}) VALUES {', '.join([marks] * rows)}"  # noqa: S608


def _params(
    fields: Sequence[models.Field[Any, Any]],
    rows: Sequence[Mapping[str, Any]],
    same: Mapping[str, Any] | None = None,
) -> list[tuple[Any, ...]]:
    """The rows' values as the database takes them, field by field in ``fields``' order
    (``same``: a field's value for every row, prepared once). Prepared a column at a time:
    most columns hold one kind of value throughout."""
    same = same or {}
    names = {f.name for f in fields}
    named = set().union(*rows)
    unknown = (named | set(same)) - names
    if unknown:
        raise TypeError(f"not fields of the table: {', '.join(sorted(unknown))}")
    if named & set(same):
        raise TypeError(f"given for every row and by a row: {', '.join(sorted(named & set(same)))}")
    now = timezone.now()
    columns = [
        [_Preparer(f)(same[f.name])] * len(rows) if f.name in same else _column(f, rows, now)
        for f in fields
    ]
    return list(zip(*columns, strict=True))


_MISSING = object()
# ``_Preparer._ways`` by database and field.
_WAYS: dict[tuple[str, str, models.Field[Any, Any]], tuple[frozenset[type], bool, bool, bool]] = {}


def _column(
    field: models.Field[Any, Any], rows: Sequence[Mapping[str, Any]], now: dt.datetime
) -> list[Any]:
    """One field's values of ``rows``, prepared; a row that leaves the field out gives its
    default (``auto_now_add``: ``now``)."""
    name, missing = field.name, _MISSING
    values = [row.get(name, missing) for row in rows]
    if missing in values:
        if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            values = [now if v is missing else v for v in values]
        else:
            values = [field.get_default() if v is missing else v for v in values]
    return _Preparer(field).column(values)


class _Preparer:
    """``field.get_db_prep_save`` for the values of one batch of rows, without its calls where
    the answer is known: text for a text field, a bool for a boolean, an int for an integer or
    a foreign key (each its own database value); a datetime (every row's ``now``) or an empty
    JSON container prepared once per value; a JSON object or list encoded as text
    (``jsoncodec``) where that is all this database's JSON preparation does (SQLite: text)."""

    def __init__(self, field: models.Field[Any, Any]) -> None:
        self.slow = partial(field.get_db_prep_save, connection=db)
        key = (db.alias, db.vendor, field)
        ways = _WAYS.get(key)
        if ways is None:
            ways = _WAYS[key] = self._ways(field)
        self.plain, self.memo, self.uuid_hex, self.json_text = ways
        self.seen: dict[Any, Any] = {}
        # ``None`` prepared, once it is met.
        self.none: Any = _MISSING

    def _ways(self, field: models.Field[Any, Any]) -> tuple[frozenset[type], bool, bool, bool]:
        """How this field's values are prepared on this database (the same for every batch:
        kept in ``_WAYS``)."""
        sample: Any = None
        if isinstance(field, models.ForeignKey):
            if isinstance(field.target_field, AutoFieldMixin):
                sample = 1
        elif isinstance(field, models.CharField | models.TextField):
            sample = "text"
        elif isinstance(field, models.BooleanField):
            sample = True
        elif isinstance(field, models.IntegerField):
            sample = 1
        elif isinstance(field, models.UUIDField):
            sample = uuid.UUID(int=1)
        # Only where this database's adapter gives the value back as it is (PostgreSQL's wraps
        # a big integer, say).
        plain: frozenset[type] = frozenset(
            {type(sample)} if sample is not None and self.slow(sample) is sample else ()
        )
        memo = isinstance(field, models.DateTimeField | models.JSONField)
        # A UUID kept as its hex text (SQLite: no UUID type), without the field's checks.
        uuid_hex = sample.__class__ is uuid.UUID and not plain and self.slow(sample) == sample.hex
        json_text = isinstance(field, models.JSONField) and _json_is_text(field)
        return plain, memo, uuid_hex, json_text

    def __call__(self, value: Any) -> Any:
        kind = type(value)
        if kind in self.plain:
            return value
        if self.json_text and (kind is dict or kind is list) and value:
            return encode_text(value)
        if kind is uuid.UUID and self.uuid_hex:
            return value.hex
        if value is None:
            if self.none is _MISSING:
                self.none = self.slow(None)
            return self.none
        if self.memo:
            if kind is dt.datetime:
                key: Any = value
            elif (kind is dict or kind is list) and not value:
                key = kind
            else:
                return self.slow(value)
            seen = self.seen
            if key not in seen:
                seen[key] = self.slow(value)
            return seen[key]
        return self.slow(value)

    def column(self, values: list[Any]) -> list[Any]:
        """``values`` prepared: as they are when each is of a type given back as it is."""
        if self.plain and set(map(type, values)) <= self.plain:
            return values
        return list(map(self, values))


def _json_is_text(field: models.JSONField[Any]) -> bool:
    """Whether ``field.get_db_prep_save`` of a JSON object or list is ``json.dumps`` of it (the
    field's own preparation unchanged, no encoder, and this database's JSON adapter the base
    one; PostgreSQL's wraps the value instead): JSON text, which the store then encodes
    itself (``jsoncodec``: the same values when read back)."""
    base = type(db.ops).adapt_json_value is BaseDatabaseOperations.adapt_json_value
    kind = type(field)
    own = (
        kind.get_db_prep_save is models.JSONField.get_db_prep_save
        and kind.get_db_prep_value is models.JSONField.get_db_prep_value
        and kind.get_prep_value is models.Field.get_prep_value
    )
    return base and own and field.encoder is None


def _save_fields(
    model: type[models.Model], rows: Sequence[Mapping[str, Any]], names: Sequence[str]
) -> None:
    """Save ``names`` of many rows of ``model`` (each a dict by field name, with its ``pk``):
    one UPDATE per row, sent as one batch, the values prepared as ``_insert``'s (Django's
    ``bulk_update`` builds a CASE expression per row and field, far slower for thousands of
    rows)."""
    if not rows:
        return
    meta = model._meta
    fields: list[models.Field[Any, Any]] = []
    for name in names:
        found = meta.get_field(name)
        assert isinstance(found, models.Field)
        fields.append(found)
    quote = db.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    # Only quoted names from the model's own metadata are formatted in; values are parameters.
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608
    columns = [_Preparer(f).column([row[f.name] for row in rows]) for f in fields]
    params = list(zip(*columns, [row["pk"] for row in rows], strict=True))
    with transaction.atomic(savepoint=False), db.cursor() as cursor:
        cursor.executemany(sql, params)
