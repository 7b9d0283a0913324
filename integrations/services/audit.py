"""The audit of what runs wrote to the apps: keeping it, pruning it, and undoing a run.

A real run's journal keeps every write the app accepted and the store saves them as
``AuditEntry`` rows page by page (``sync/store.py``). ``run_undo`` reads them back: every field
the run wrote whose value is still the one it wrote is put back, every tag it added is removed
(and every tag it removed is added again), and records it created are listed and tagged
"Tandem Undo" where the app has tags (never deleted). The undo is a ``SyncRun`` of its own
(phase "undo") whose writes are audited like any run's, so it can be undone in turn.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from integrations.connectors.base import ConnectorError
from integrations.models import AuditEntry, Connection, RecordLink, RunNote, SyncRun
from integrations.sync.fields import FieldSpec, FieldType
from integrations.sync.sides import chunks

logger = logging.getLogger(__name__)

UNDO_TAG = "Tandem Undo"
PRUNE_BATCH = 1000


class UndoRefused(Exception):
    """The run cannot be undone (unknown, a dry run, still running, nothing audited ...)."""


class UndoBusy(UndoRefused):
    """Another run of the connection holds its lease right now."""


# -- Reads ----------------------------------------------------------------------------------------


def run_audit_entries(*, run: SyncRun) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(run=run).order_by("id")


def record_audit_entries(
    *, connection: Connection, record_ids: Iterable[str], limit: int = 50
) -> QuerySet[AuditEntry]:
    """The latest writes to these records (either side), newest first."""
    return (
        AuditEntry.objects.filter(connection=connection, record_id__in=list(record_ids))
        .select_related("run")
        .order_by("-created_at", "-id")[:limit]
    )


# -- Pruning --------------------------------------------------------------------------------------


def audit_cutoff(*, now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=settings.TANDEM_AUDIT_DAYS)


def audit_prune(
    *, now: dt.datetime | None = None, batch: int = PRUNE_BATCH, max_batches: int | None = None
) -> int:
    """Delete audit entries (and run notes) older than ``TANDEM_AUDIT_DAYS``, ``batch`` rows
    per statement (a long-lived table must never be locked by one huge DELETE); at most
    ``max_batches`` of each."""
    cutoff = audit_cutoff(now=now)
    deleted = 0
    for model in (AuditEntry, RunNote):
        batches = 0
        while max_batches is None or batches < max_batches:
            ids = list(
                model.objects.filter(created_at__lt=cutoff)
                .order_by()
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                break
            count = model.objects.filter(pk__in=ids).delete()[0]
            if model is AuditEntry:
                deleted += count
            batches += 1
    return deleted


def runs_to_prune(*, older_than_days: int, now: dt.datetime | None = None) -> QuerySet[SyncRun]:
    try:
        cutoff = (now or timezone.now()) - dt.timedelta(days=older_than_days)
    except OverflowError:
        # Further back than any date: no run started that long ago.
        return SyncRun.objects.none()
    return SyncRun.objects.filter(started_at__lt=cutoff).exclude(outcome=SyncRun.Outcome.RUNNING)


def runs_prune(
    *,
    older_than_days: int,
    batch: int = 500,
    now: dt.datetime | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Delete finished runs started more than ``older_than_days`` days ago, and their audit
    entries, in batches. Returns (runs, entries) deleted; ``on_batch(runs, entries)`` after
    each batch."""
    if older_than_days < 0:
        raise ValueError("older_than_days must be 0 or more.")
    runs = runs_to_prune(older_than_days=older_than_days, now=now).order_by()
    total_runs = total_entries = 0
    while True:
        ids = list(runs.values_list("pk", flat=True)[:batch])
        if not ids:
            break
        entries = 0
        while True:
            entry_ids = list(
                AuditEntry.objects.filter(run_id__in=ids)
                .order_by()
                .values_list("pk", flat=True)[: PRUNE_BATCH * 5]
            )
            if not entry_ids:
                break
            entries += AuditEntry.objects.filter(pk__in=entry_ids).delete()[0]
        RunNote.objects.filter(run_id__in=ids).delete()
        SyncRun.objects.filter(pk__in=ids).delete()
        total_runs += len(ids)
        total_entries += entries
        if on_batch is not None:
            on_batch(len(ids), entries)
    return total_runs, total_entries


# -- Undo -----------------------------------------------------------------------------------------


@dataclass
class UndoPlan:
    """What an undo does (or, in a dry run, would do), per side."""

    restore: list[dict[str, Any]] = field(default_factory=list)
    changed_since: list[dict[str, Any]] = field(default_factory=list)
    untag: list[dict[str, Any]] = field(default_factory=list)
    retag: list[dict[str, Any]] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    gone: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, undo_of: int) -> dict[str, Any]:
        return {
            "undo_of": undo_of,
            "restore": self.restore,
            "changed_since": self.changed_since,
            "untag": self.untag,
            "retag": self.retag,
            "created": self.created,
            "gone": self.gone,
            "failed": self.failed,
        }


def _text_spec(key: str) -> FieldSpec:
    return FieldSpec(key=key, label=key, type=FieldType.TEXT)


def _same(current: Any, wrote: Any, spec: FieldSpec) -> bool:
    """Whether the app still holds the value the run wrote (in the app's own form, or one
    that normalizes alike: an app may store "+32 9 ..." as "+329...")."""
    from integrations.sync import mapping

    if current == wrote or (mapping.is_empty(current) and mapping.is_empty(wrote)):
        return True
    try:
        return bool(mapping.normalize(current, spec) == mapping.normalize(wrote, spec))
    except (TypeError, ValueError, AttributeError, KeyError):
        return False


def _writable(value: Any, spec: FieldSpec) -> Any:
    """A value from before the run, as an update writes it (an empty text is "", a list [])."""
    from integrations.sync import mapping

    if not mapping.is_empty(value):
        return value
    if spec.multi or spec.type == FieldType.TAGS:
        return []
    return "" if spec.type in mapping.TEXT_LIKE else None


@dataclass
class _Undo:
    """One undo: the run undone, its audit grouped per record, and what is done about it."""

    original: SyncRun
    run: SyncRun
    connection: Connection
    connectors: dict[str, Any]
    dry_run: bool
    lease: Any = None
    plan: UndoPlan = field(default_factory=UndoPlan)
    entries: list[AuditEntry] = field(default_factory=list)

    def app(self, side: str) -> str:
        return str(self.connectors[side].name)

    def execute(self) -> None:
        from integrations.leases import lease_extend
        from integrations.sync import actions

        # Per record: the value before the run's first write and after its last one.
        fields: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
        tags: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        created: list[tuple[str, str]] = []
        for entry in self.entries:
            key = (entry.side, entry.record_id)
            if entry.kind == AuditEntry.Kind.UPDATE:
                held = fields[key].setdefault(entry.field, {"before": entry.before})
                held["after"] = entry.after
            elif entry.kind in (AuditEntry.Kind.TAG, AuditEntry.Kind.UNTAG):
                tag = str(entry.after if entry.kind == AuditEntry.Kind.TAG else entry.before)
                tags[key][tag] = entry.kind
            elif entry.kind == AuditEntry.Kind.CREATE:
                created.append(key)
        for side in ("a", "b"):
            wanted = {rid for s, rid in [*fields, *tags, *created] if s == side}
            current = self.fetch(side, sorted(wanted))
            names = {name for (s, _), held in fields.items() if s == side for name in held}
            specs = self.specs(side, names)
            updates: dict[str, dict[str, Any]] = {}
            tag_ops: dict[tuple[str, bool], list[str]] = defaultdict(list)
            for (s, record_id), held in fields.items():
                if s != side:
                    continue
                record = current.get(record_id)
                if record is None:
                    self.plan.gone.append({"side": side, "record_id": record_id})
                    continue
                for name, values in held.items():
                    spec = specs.get(name) or _text_spec(name)
                    now = record.values.get(name)
                    item = {"side": side, "record_id": record_id, "field": name}
                    if not _same(now, values["after"], spec):
                        self.plan.changed_since.append(
                            item | {"wrote": values["after"], "now": now}
                        )
                        continue
                    restored = _writable(values["before"], spec)
                    if _same(now, restored, spec):
                        continue
                    updates.setdefault(record_id, {})[name] = restored
                    self.plan.restore.append(item | {"from": now, "to": restored})
            for (s, record_id), by_tag in tags.items():
                if s != side:
                    continue
                record = current.get(record_id)
                if record is None:
                    if not any(g["record_id"] == record_id for g in self.plan.gone):
                        self.plan.gone.append({"side": side, "record_id": record_id})
                    continue
                for tag, kind in by_tag.items():
                    has = actions.has_tag(record.values, tag)
                    item = {"side": side, "record_id": record_id, "tag": tag}
                    if kind == AuditEntry.Kind.TAG and has:
                        tag_ops[(tag, False)].append(record_id)
                        self.plan.untag.append(item)
                    elif kind == AuditEntry.Kind.UNTAG and not has:
                        tag_ops[(tag, True)].append(record_id)
                        self.plan.retag.append(item)
            caps = self.connectors[side].capabilities
            for s, record_id in created:
                if s != side:
                    continue
                record = current.get(record_id)
                tag_it = (
                    caps.supports_tags
                    and record is not None
                    and not actions.has_tag(record.values, UNDO_TAG)
                )
                if tag_it:
                    tag_ops[(UNDO_TAG, True)].append(record_id)
                self.plan.created.append(
                    {"side": side, "record_id": record_id, "tagged": UNDO_TAG if tag_it else ""}
                )
            if not self.dry_run:
                if self.lease is not None:
                    lease_extend(self.lease)
                self.write(side, updates, current, specs, tag_ops)

    def fetch(self, side: str, ids: list[str]) -> dict[str, Any]:
        connector = self.connectors[side]
        found: dict[str, Any] = {}
        for batch in chunks(ids, connector.capabilities.lookup_batch_size):
            for record in connector.get_many(batch):
                if not record.deleted:
                    found[record.id] = record
        return found

    def specs(self, side: str, names: set[str]) -> dict[str, FieldSpec]:
        if not names:
            return {}
        return dict(self.connectors[side].fields_for_sync(names))

    def write(
        self,
        side: str,
        updates: dict[str, dict[str, Any]],
        current: dict[str, Any],
        specs: dict[str, FieldSpec],
        tag_ops: dict[tuple[str, bool], list[str]],
    ) -> None:
        from integrations.sync.records import ContactUpdate

        connector = self.connectors[side]
        audit: list[AuditEntry] = []
        written: dict[str, tuple[Any, set[str]]] = {}
        ids = list(updates)
        size = connector.capabilities.update_batch_size
        for batch in chunks(ids, size):
            requests = [
                ContactUpdate(id=rid, changes=updates[rid], version=current[rid].version)
                for rid in batch
            ]
            for result in connector.update_many(requests):
                if not result.ok or result.record is None:
                    self.failed(side, result.ref, result.error)
                    continue
                written[result.ref] = (result.record, set(updates[result.ref]))
                setattr(self.run, f"updated_{side}", getattr(self.run, f"updated_{side}") + 1)
                for name, value in updates[result.ref].items():
                    audit.append(
                        self.entry(
                            side, result.ref, AuditEntry.Kind.UPDATE, name,
                            before=current[result.ref].values.get(name),
                            after=result.record.values.get(name, value),
                        )
                    )  # fmt: skip
        for (tag, add), record_ids in tag_ops.items():
            call = connector.tag if add else connector.untag
            for tag_batch in chunks(record_ids, size):
                for result in call(tag_batch, tag):
                    if not result.ok:
                        self.failed(side, result.ref, result.error)
                        continue
                    setattr(self.run, f"tagged_{side}", getattr(self.run, f"tagged_{side}") + 1)
                    kind = AuditEntry.Kind.TAG if add else AuditEntry.Kind.UNTAG
                    audit.append(
                        self.entry(
                            side, result.ref, kind, "tags",
                            before=None if add else tag, after=tag if add else None,
                        )
                    )  # fmt: skip
        AuditEntry.objects.bulk_create(audit, batch_size=500)
        self.settle_links(side, written)

    def entry(
        self, side: str, record_id: str, kind: str, name: str, *, before: Any, after: Any
    ) -> AuditEntry:
        from integrations.sync.findings import jsonable as _jsonable

        return AuditEntry(
            run=self.run,
            connection=self.connection,
            side=side,
            record_id=record_id,
            kind=kind,
            field=name,
            before=_jsonable(before),
            after=_jsonable(after),
            why=AuditEntry.Why.UNDO,
            detail=f"undo of run {self.original.pk}",
        )

    def failed(self, side: str, record_id: str, reason: str) -> None:
        self.run.failed += 1
        self.plan.failed.append(
            {"side": side, "record_id": record_id, "reason": reason or "refused without a reason"}
        )

    def settle_links(self, side: str, written: dict[str, tuple[Any, set[str]]]) -> None:
        """The restored values become the links' snapshot on that side, so the next run sees
        no change there and does not write the run's values back at once."""
        from integrations.leases import fenced
        from integrations.sync import mapping
        from integrations.sync.selectors import load_config

        if not written:
            return
        config = load_config(self.connection, self.connectors["a"], self.connectors["b"])
        id_field = "id_a" if side == "a" else "id_b"
        links = RecordLink.objects.filter(
            connection=self.connection, **{f"{id_field}__in": list(written)}
        )
        changed = []
        for link in links:
            record, restored = written[link.record_id(side)]
            snapshot = {s: dict((link.snapshot or {}).get(s) or {}) for s in ("a", "b")}
            for m in config.mappings:
                names = mapping.fields_of_mapping_key(m.key(side), m.style(side))
                if restored.intersection(names):
                    snapshot[side][m.key(side)] = m.read(side, record)
            link.snapshot = snapshot
            setattr(link, f"version_{side}", record.version)
            changed.append(link)
        with fenced(self.lease):
            RecordLink.objects.bulk_update(changed, ["snapshot", f"version_{side}"])


def run_undo(*, run_id: int, dry_run: bool = False) -> SyncRun:
    """Undo what run ``run_id`` wrote; see the module docstring. Returns the undo's own run,
    whose ``plan`` says what was (or would be) restored, left alone, untagged and listed.

    Raises ``UndoRefused`` for a run that cannot be undone, ``UndoBusy`` when another run holds
    the connection. A connector failure ends the undo run as failed (its error says why).
    """
    from integrations.connectors.accounts import connector_for
    from integrations.leases import LeaseLost, lease_acquire, lease_release
    from integrations.sync.apps import calls_by_kind

    original = (
        SyncRun.objects.select_related("connection__account_a", "connection__account_b")
        .filter(pk=run_id)
        .first()
    )
    if original is None:
        raise UndoRefused(f"No run with id {run_id}.")
    if original.dry_run:
        raise UndoRefused(f"Run {run_id} was a dry run: it wrote nothing.")
    if original.outcome == SyncRun.Outcome.RUNNING:
        raise UndoRefused(f"Run {run_id} is still running; undo it once it has finished.")
    entries = list(run_audit_entries(run=original))
    if not entries:
        raise UndoRefused(
            f"Run {run_id} has no audited writes to undo (it wrote nothing, or its audit is "
            f"older than {settings.TANDEM_AUDIT_DAYS} days and was pruned)."
        )
    connection = original.connection
    lease = None
    if not dry_run:
        lease = lease_acquire(connection_id=connection.pk)
        if lease is None:
            raise UndoBusy(
                f"Connection {connection.pk} is being synced right now; try again in a moment."
            )
    run = SyncRun.objects.create(
        connection=connection,
        dry_run=dry_run,
        phase=SyncRun.Phase.UNDO,
        lease_generation=lease.generation if lease else 0,
        plan={"undo_of": original.pk},
    )
    connectors = {
        "a": connector_for(connection.account_a, choices=connection.choices_for("a")),
        "b": connector_for(connection.account_b, choices=connection.choices_for("b")),
    }
    undo = _Undo(
        original=original,
        run=run,
        connection=connection,
        connectors=connectors,
        dry_run=dry_run,
        lease=lease,
        entries=entries,
    )
    try:
        undo.execute()
        run.outcome = SyncRun.Outcome.PARTIAL if run.failed else SyncRun.Outcome.SUCCESS
    except ConnectorError as exc:
        run.outcome = SyncRun.Outcome.FAILED
        run.error = exc.message
    except LeaseLost as exc:
        run.outcome = SyncRun.Outcome.STOPPED
        run.error = f"{exc}; what was written so far is audited under this run."
    except Exception as exc:
        run.outcome = SyncRun.Outcome.FAILED
        run.error = f"internal error ({type(exc).__name__})"
        raise
    finally:
        calls = calls_by_kind(connectors)
        run.api_calls, run.api_calls_by_kind = sum(calls.values()), calls
        run.plan = undo.plan.as_dict(original.pk)
        run.finished_at = timezone.now()
        run.save()
        if lease is not None:
            lease_release(lease)
    return run
