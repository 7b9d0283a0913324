"""The three-way merge of one linked pair, field by field, against the link's snapshot.

- a field changed on one side flows to the other;
- changed on both sides to different values is a conflict, settled by the winning side;
- an empty value never erases a filled one by winning (the filled one flows instead);
- a field changed on neither side is never written;
- a field that may not flow (rules, mapping or connection direction) is left as it is, and its
  snapshot too, so the change still flows if it becomes allowed later.

Snapshots hold each side's normalized value per mapping key as last synced:
``{"a": {field_a: value}, "b": {field_b: value}}``. A key missing from the snapshot (a fresh
link, a mapping added later) counts a filled value as changed and an empty one as unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any

from integrations.sync.mapping import UNCONVERTIBLE, Mapping, is_empty
from integrations.sync.sides import other

MISSING: Any = object()


@dataclass(frozen=True)
class FieldOutcome:
    """What the merge decided for one mapping: the side whose value flows (``None``: nothing is
    written), the normalized value written on the other side, and whether it was a conflict."""

    source: str | None = None
    value: Any = None
    conflict: bool = False
    settled: bool = False


# Most fields of a pair linked by email hold the same on both sides: one outcome (frozen) for
# them all.
_SETTLED = FieldOutcome(settled=True)


def _changed(now: Any, snap: Any) -> bool:
    if snap is MISSING:
        return not is_empty(now)
    return bool(now != snap)


def merge_field(
    mapping: Mapping,
    *,
    now_a: Any,
    now_b: Any,
    snap_a: Any = MISSING,
    snap_b: Any = MISSING,
    winner: str,
    may_flow: MappingABC[str, bool],
) -> FieldOutcome:
    """Decide one field. ``may_flow[side]`` says whether values may flow out of ``side``."""
    if mapping.equivalent(now_a, now_b):
        return _SETTLED
    now = {"a": now_a, "b": now_b}
    snap = {"a": snap_a, "b": snap_b}
    changed = {side: _changed(now[side], snap[side]) for side in ("a", "b")}
    conflict = changed["a"] and changed["b"]
    if conflict:
        # The empty winner yields: a filled value is never erased by winning. A winner that
        # may not flow (a one-way connection the other way round) yields too: the direction
        # outranks the winner.
        sources: list[str] = [other(winner)] if is_empty(now[winner]) else [winner, other(winner)]
    else:
        sources = [side for side in ("a", "b") if changed[side]]
    for source in sources:
        if not (may_flow.get(source) and mapping.flows(source)):
            continue
        target = other(source)
        value = mapping.convert(
            source,
            now[source],
            target_now=now[target],
            snap_source=snap[source],
            snap_target=snap[target],
        )
        if value is UNCONVERTIBLE:
            continue
        return FieldOutcome(source=source, value=value, conflict=conflict)
    return FieldOutcome(conflict=conflict)


@dataclass
class MergeResult:
    # Record fields to write per side.
    changes: dict[str, dict[str, Any]] = field(default_factory=lambda: {"a": {}, "b": {}})
    # Per side, mapping key -> {"before": ..., "after": ...} (normalized), for plans and logs.
    diffs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {"a": {}, "b": {}})
    # The snapshot to store once the writes succeed.
    snapshot: dict[str, dict[str, Any]] = field(default_factory=lambda: {"a": {}, "b": {}})
    conflicts: list[str] = field(default_factory=list)

    def writes(self, side: str) -> bool:
        return bool(self.changes[side])


def merge(
    mappings: Iterable[Mapping],
    values_a: MappingABC[str, Any],
    values_b: MappingABC[str, Any],
    snapshot: MappingABC[str, Any],
    *,
    winner: str,
    may_flow: MappingABC[str, bool],
) -> MergeResult:
    """Merge a linked pair's values field by field; see the module docstring for the rules."""
    old_a: MappingABC[str, Any] = snapshot.get("a") or {}
    old_b: MappingABC[str, Any] = snapshot.get("b") or {}
    # MergeResult's fields given rather than made by its factories: one merge per pair.
    result = MergeResult(
        {"a": {}, "b": {}}, {"a": {}, "b": {}}, {"a": dict(old_a), "b": dict(old_b)}, []
    )
    snap_of_a, snap_of_b = old_a.get, old_b.get
    for m in mappings:
        key_a, key_b, read_a, read_b = m.reads
        now_a, now_b = read_a(values_a), read_b(values_b)
        snap_a, snap_b = snap_of_a(key_a, MISSING), snap_of_b(key_b, MISSING)
        if now_a == snap_a and now_b == snap_b:
            # Changed on neither side (most fields of most pairs): nothing flows, and the
            # snapshot already holds both values, whether or not they are equivalent.
            continue
        outcome = merge_field(
            m,
            now_a=now_a,
            now_b=now_b,
            snap_a=snap_a,
            snap_b=snap_b,
            winner=winner,
            may_flow=may_flow,
        )
        if outcome.conflict:
            result.conflicts.append(key_a)
        if outcome.settled:
            result.snapshot["a"][key_a] = now_a
            result.snapshot["b"][key_b] = now_b
            continue
        if outcome.source is None:
            continue
        now = {"a": now_a, "b": now_b}
        source, target = outcome.source, other(outcome.source)
        result.changes[target].update(m.changes(target, outcome.value))
        result.diffs[target][m.key(target)] = {"before": now[target], "after": outcome.value}
        result.snapshot[source][m.key(source)] = now[source]
        result.snapshot[target][m.key(target)] = outcome.value
    return result
