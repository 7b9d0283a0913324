"""The journal: what a run did, or a dry run would do. Filled once per page from the plan (its
decisions and listed writes) and the writer's outcomes (what the apps accepted, what failed):
a dry run returns it as its plan, a real run keeps its counters, audit and notes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from integrations.sync import actions as actions_mod
from integrations.sync import mapping as mapping_mod
from integrations.sync.config import Config
from integrations.sync.findings import jsonable
from integrations.sync.planner import TRASH_TAG, UNSUBSCRIBE_TAG, Item, PairPlan, Plan, TagOp
from integrations.sync.records import Contact
from integrations.sync.sides import SIDES, other
from integrations.sync.writer import Outcomes

READS = frozenset({"read_a", "read_b"})
# A plan lists at most this many items per list; its counts are always complete.
PLAN_ITEM_LIMIT = 1000
# A real run keeps at most this many notes (``RunNote``) per kind: excluded, duplicate, conflict.
RUN_NOTES_LIMIT = 1000
# Why a value was written (``AuditEntry.Why``).
WHY_MAPPING, WHY_WINNER, WHY_ACTION, WHY_CREATE, WHY_TAG = (
    "mapping", "winner", "action", "create", "tag",
)  # fmt: skip
# What each list of findings counts.
COUNTS = {"links": "linked", "excluded": "excluded", "duplicates": "duplicates",
          "conflicts": "conflicts"}  # fmt: skip


class Journal:
    """Counts and items of one run. A dry run returns it as its plan; a real run keeps the same
    record, so the two can be compared."""

    LISTS = ("links", "excluded", "duplicates", "conflicts", "failed")
    SIDE_LISTS = ("create", "update", "tag", "untag")

    def __init__(self, phase: str, *, keep: bool) -> None:
        self.phase = phase
        self.counts: Counter[str] = Counter()
        self.items: dict[str, list[dict[str, Any]]] = {name: [] for name in self.LISTS}
        self.side_items: dict[str, dict[str, list[dict[str, Any]]]] = {
            side: {name: [] for name in self.SIDE_LISTS} for side in SIDES
        }
        self.truncated = False
        self.breaker = ""
        # ``keep``: a real run's journal keeps every field written to an app, uncapped, for the
        # audit (``AuditEntry``), and why records were excluded, duplicates and conflicts for
        # the run's notes (``RunNote``), at most ``RUN_NOTES_LIMIT`` of each kind.
        self.writes: list[dict[str, Any]] | None = [] if keep else None
        self.notes: list[dict[str, Any]] | None = [] if keep else None
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

    def note_finding(self, kind: str, item: Callable[[], dict[str, Any]]) -> None:
        if self.notes is None or self.notes_kept[kind] >= RUN_NOTES_LIMIT:
            return
        self.notes_kept[kind] += 1
        self.notes.append({"kind": kind, **item()})

    def note_write(self, side: str, record_id: str, kind: str, **entry: Any) -> None:
        if self.writes is not None:
            self.writes.append({"side": side, "record_id": record_id, "kind": kind, **entry})

    def read(self, side: str, count: int) -> None:
        self.counts[f"read_{side}"] += count

    # Filling from a page --------------------------------------------------------------------

    def record(self, config: Config, plan: Plan, outcomes: Outcomes) -> None:
        """The page's decisions and listed writes from ``plan``, its counts from ``outcomes``."""
        for found in plan.findings:
            self.note(found.name, found.item, count=COUNTS[found.name])
            if found.note is not None:
                self.note_finding(found.note_kind, found.note)
        for failure in plan.failures:
            self.failed(failure.side, failure.record_id, failure.target, failure.reason)
        for side, name, item in plan.side_items:
            self._append(self.side_items[side][name], item)
        for create, record in outcomes.created:
            self.counts[f"created_{create.target}"] += 1
            if record is not None:
                self.note_write(
                    create.target, record.id, "create", why=WHY_CREATE, field="",
                    after=jsonable(create.values), source_id=create.record.id,
                )  # fmt: skip
        for side, pair, written in outcomes.updated:
            self.counts[f"updated_{side}"] += 1
            if written is not None:
                self.update_writes(config, side, pair, written)
        for op, _ in outcomes.tagged:
            self.counts[f"tagged_{op.side}"] += 1
            if _ is not None:
                self.tag_write(op)
        for failure in outcomes.failures:
            self.failed(failure.side, failure.record_id, failure.target, failure.reason)
        if outcomes.stopped:
            self.breaker = outcomes.stopped

    def failed(self, side: str, record_id: str, target: str, reason: str) -> None:
        item = {"side": side, "id": record_id, "target": target, "reason": reason}
        self.note("failed", item, count="failed")

    def update_writes(self, config: Config, side: str, pair: PairPlan, written: Contact) -> None:
        """The fields an accepted update wrote, each with its value before and why."""
        if self.writes is None:
            return
        why: dict[str, tuple[str, str, int | None]] = {}
        conflicts = set(pair.merged.conflicts)
        for m in config.mappings:
            if m.key(side) not in pair.merged.diffs[side]:
                continue
            reason = WHY_WINNER if m.key("a") in conflicts else WHY_MAPPING
            for name in mapping_mod.fields_of_mapping_key(m.key(side), m.style(side)):
                why[name] = (reason, f"{m.field_a} ⇄ {m.field_b}", None)
        effects = pair.effects[side]
        rules = {e.get("field"): e.get("rule") for e in effects.applied if e.get("field")}
        for name in effects.set_fields:
            why[name] = (WHY_ACTION, f"set {name}", rules.get(name))
        for name, value in pair.merged.changes[side].items():
            reason, detail, rule = why.get(name, (WHY_MAPPING, "", None))
            self.note_write(
                side, pair.record_id(side), "update", field=name, why=reason, detail=detail,
                rule_id=rule, before=jsonable(pair.records[side].values.get(name)),
                after=jsonable(written.values.get(name, value)),
                source_id=pair.record_id(other(side)),
            )  # fmt: skip

    def tag_write(self, op: TagOp) -> None:
        status = op.tag in (TRASH_TAG, UNSUBSCRIBE_TAG)
        rule = None
        pair = op.pair
        if pair is not None:
            kind = actions_mod.ADD_TAG if op.add else actions_mod.REMOVE_TAG
            rule = next(
                (e.get("rule") for e in pair.effects[op.side].applied
                 if e.get("kind") == kind and e.get("value") == op.tag),
                None,
            )  # fmt: skip
        self.note_write(
            op.side, op.record_id, "tag" if op.add else "untag", field="tags",
            why=WHY_TAG if status else WHY_ACTION, rule_id=rule,
            before=None if op.add else op.tag, after=op.tag if op.add else None,
            source_id=pair.record_id(other(op.side)) if pair is not None else "",
        )  # fmt: skip

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
