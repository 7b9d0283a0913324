"""Why the run left a record alone or settled a field: the texts of the run's notes
(``RunNote``) for an excluded record, a duplicate email and a conflict. Pure: built from the
run's configuration and the records, only for the notes a run keeps."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from integrations.sync import conditions as conditions_mod
from integrations.sync import mapping as mapping_mod
from integrations.sync.conditions import ConditionData
from integrations.sync.config import Config
from integrations.sync.merge import MergeResult
from integrations.sync.records import Contact
from integrations.sync.sides import SIDES, other

# The kinds of a run's notes (``RunNote.Kind``).
EXCLUDED = "excluded"
DUPLICATE = "duplicate"
CONFLICT = "conflict"


# Types JSON holds as they are (``str``, ``int`` and ``float`` themselves; their subclasses, an
# enum's member say, take the checks below).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: dates as ISO text, dataclasses and tuples as dicts and
    lists. A record's values are mostly text and lists of text: those are copied without a
    call per item."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    plain = _PLAIN
    if kind is dict:
        return {
            (k if type(k) is str else str(k)): (
                v if type(v) in plain
                else list(v) if type(v) is list and all(type(i) in plain for i in v)
                else jsonable(v)
            )
            for k, v in value.items()
        }  # fmt: skip
    if kind is list and all(type(v) in plain for v in value):
        return list(value)
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    return value


def excluded_note(
    config: Config, side: str, record_id: str, reason: str, record: Contact | None, exists: bool
) -> dict[str, Any]:
    if reason == "no email":
        why = (
            "It has no email address, and the connection avoids duplicates (contacts "
            "without an email are not synced)."
        )
    elif record is not None:
        why = exclusion_reason(config, side, record, exists=exists)
    else:
        why = reason
    return {"side": side, "record_id": record_id, "reason": why[:500]}


def duplicate_note(
    config: Config,
    side: str,
    record_id: str,
    email: str,
    *,
    twins: list[str],
    theirs: list[str],
    linked: bool,
) -> dict[str, Any]:
    here, there = config.sides[side].name, config.sides[other(side)].name
    if twins:
        why = f"Other {here} contacts have the same email: {', '.join(twins[:5])}."
    elif linked:
        why = f"Its {there} match {theirs[0]} already syncs with another {here} contact."
    else:
        why = f"Several {there} contacts have this email: {', '.join(theirs[:5])}."
    return {"side": side, "record_id": record_id, "field": email, "reason": why[:500]}


def exclusion_reason(config: Config, side: str, record: Contact, *, exists: bool) -> str:
    """Which condition of each rule of the record's direction failed, and the value it saw."""
    there = config.sides[other(side)].name
    rules = config.rules[side]
    if not rules:
        return f"No rule syncs contacts towards {there}."
    spec = config.sides[side]
    reasons = []
    for position, rule in enumerate(rules, start=1):
        name = config.rule_names.get(rule.id) or f"Rule {position}"
        for condition in rule.conditions:
            if conditions_mod.condition_holds(
                condition, record, fields=spec.fields, specials=spec.specials,
                exists_in_other=exists,
            ):  # fmt: skip
                continue
            reasons.append(f"{name}: {condition_failure(config, side, condition, record)}")
            break
    return "No rule matches. " + "; ".join(reasons) + "."


def condition_failure(config: Config, side: str, condition: ConditionData, record: Contact) -> str:
    spec = config.sides[side]
    operator = condition.operator.replace("_", " ")
    if condition.kind == conditions_mod.EXISTS_IN_OTHER:
        there = config.sides[other(side)].name
        return f'"already exists in {there}" is false (no {there} contact has its email)'
    if condition.kind == conditions_mod.SPECIAL:
        special = spec.specials.get(condition.field)
        label = special.label if special else condition.field
        return f'"{label} {operator} {condition.value!r}" is false'
    field_spec = spec.fields.get(condition.field)
    label = field_spec.label if field_spec else condition.field
    saw = record.values.get(condition.field)
    shown = "empty" if mapping_mod.is_empty(saw) else repr(jsonable(saw))
    value = "" if condition.value in (None, "") else f" {condition.value!r}"
    return f'"{label} {operator}{value}" is false (the value is {shown})'


def conflict_note(
    config: Config, key: str, records: dict[str, Contact], merged: MergeResult
) -> dict[str, Any]:
    m = next((m for m in config.mappings if m.key("a") == key), None)
    if m is None:
        return {"side": "a", "record_id": records["a"].id, "other_id": records["b"].id,
                "field": key, "reason": "Changed on both sides."}  # fmt: skip
    if m.key("b") in merged.diffs["b"]:
        winner = "a"
    elif m.key("a") in merged.diffs["a"]:
        winner = "b"
    else:
        winner = ""
    apps = {side: config.sides[side].name for side in SIDES}
    if winner:
        why = f"Changed on both sides; {apps[winner]}'s value won (the winning app)."
    else:
        why = "Changed on both sides; neither value was written (an empty value never wins)."
    return {
        "side": "a",
        "record_id": records["a"].id,
        "other_id": records["b"].id,
        "field": f"{m.field_a} ⇄ {m.field_b}"[:400],
        "value_a": jsonable(m.read("a", records["a"])),
        "value_b": jsonable(m.read("b", records["b"])),
        "winner": winner,
        "reason": why,
    }
