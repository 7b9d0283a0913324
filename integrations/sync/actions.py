"""Rule actions on the receiving side (set a field, add or remove a tag or label), and their
reversal by the undo toggle.

Planning is pure: given the target record's values, an action yields only the change that is
not in place yet, so a run that finds everything done writes nothing. Each change that was
really made is described by an ``applied`` entry; the engine keeps those of undo rules on the
link (``RecordLink.applied_actions``) so they can be reversed when the record stops matching.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from integrations.sync import mapping
from integrations.sync.fields import FieldSpec
from integrations.sync.records import TAGS

SET_FIELD = "set_field"
ADD_TAG = "add_tag"
REMOVE_TAG = "remove_tag"


@dataclass(frozen=True)
class ActionData:
    kind: str
    field: str = ""
    value: Any = None
    rule_id: int | None = None


@dataclass
class Effects:
    """Changes to make on one target record."""

    set_fields: dict[str, Any] = field(default_factory=dict)
    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.set_fields or self.add_tags or self.remove_tags)

    def extend(self, other: Effects) -> None:
        self.set_fields.update(other.set_fields)
        for tag in other.add_tags:
            if tag not in self.add_tags:
                self.add_tags.append(tag)
            if tag in self.remove_tags:
                self.remove_tags.remove(tag)
        for tag in other.remove_tags:
            if tag not in self.remove_tags:
                self.remove_tags.append(tag)
            if tag in self.add_tags:
                self.add_tags.remove(tag)
        self.applied.extend(other.applied)


def has_tag(values: Mapping[str, Any], tag: str) -> bool:
    wanted = tag.strip().casefold()
    return any(str(t).strip().casefold() == wanted for t in values.get(TAGS) or [])


def _spec(key: str, fields: Mapping[str, FieldSpec]) -> FieldSpec:
    return fields.get(key) or FieldSpec(key=key, label=key, type=mapping.FieldType.TEXT)


def _set_field(
    action: ActionData, values: Mapping[str, Any], fields: Mapping[str, FieldSpec]
) -> Effects:
    spec = _spec(action.field, fields)
    current = values.get(action.field)
    if mapping.normalize(current, spec) == mapping.normalize(action.value, spec):
        return Effects()
    entry = {"rule": action.rule_id, "kind": SET_FIELD, "field": action.field}
    entry |= {"value": action.value, "previous": current}
    return Effects(set_fields={action.field: action.value}, applied=[entry])


def _add_tag(action: ActionData, values: Mapping[str, Any], _: Mapping[str, FieldSpec]) -> Effects:
    tag = str(action.value)
    if has_tag(values, tag):
        return Effects()
    return Effects(
        add_tags=[tag], applied=[{"rule": action.rule_id, "kind": ADD_TAG, "value": tag}]
    )


def _remove_tag(
    action: ActionData, values: Mapping[str, Any], _: Mapping[str, FieldSpec]
) -> Effects:
    tag = str(action.value)
    if not has_tag(values, tag):
        return Effects()
    entry = {"rule": action.rule_id, "kind": REMOVE_TAG, "value": tag}
    return Effects(remove_tags=[tag], applied=[entry])


ACTIONS: dict[str, Callable[[ActionData, Mapping[str, Any], Mapping[str, FieldSpec]], Effects]] = {
    SET_FIELD: _set_field,
    ADD_TAG: _add_tag,
    REMOVE_TAG: _remove_tag,
}


def _undo_set_field(
    entry: Mapping[str, Any], values: Mapping[str, Any], fields: Mapping[str, FieldSpec]
) -> Effects:
    spec = _spec(entry["field"], fields)
    # Somebody changed the field since the action set it: their value stays.
    if mapping.normalize(values.get(entry["field"]), spec) != mapping.normalize(
        entry["value"], spec
    ):
        return Effects()
    return Effects(set_fields={entry["field"]: entry.get("previous")})


def _undo_add_tag(entry: Mapping[str, Any], values: Mapping[str, Any], _: Any) -> Effects:
    return Effects(remove_tags=[entry["value"]]) if has_tag(values, entry["value"]) else Effects()


def _undo_remove_tag(entry: Mapping[str, Any], values: Mapping[str, Any], _: Any) -> Effects:
    return Effects() if has_tag(values, entry["value"]) else Effects(add_tags=[entry["value"]])


REVERSALS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any], Any], Effects]] = {
    SET_FIELD: _undo_set_field,
    ADD_TAG: _undo_add_tag,
    REMOVE_TAG: _undo_remove_tag,
}


def plan_actions(
    actions: Iterable[ActionData],
    target_values: Mapping[str, Any],
    *,
    fields: Mapping[str, FieldSpec],
) -> Effects:
    """The changes the actions still need on a target record holding ``target_values``."""
    effects = Effects()
    for action in actions:
        effects.extend(ACTIONS[action.kind](action, target_values, fields))
    return effects


def plan_undo(
    entries: Iterable[Mapping[str, Any]],
    target_values: Mapping[str, Any],
    *,
    fields: Mapping[str, FieldSpec],
) -> Effects:
    """The changes that reverse applied actions ``entries`` on a target record."""
    effects = Effects()
    for entry in entries:
        effects.extend(REVERSALS[entry["kind"]](entry, target_values, fields))
    return effects


def validate_action(
    action: ActionData, *, fields: Mapping[str, FieldSpec], supports_tags: bool, tag_noun: str
) -> None:
    """Refuse an action the receiving app cannot carry out, saying why."""
    if action.kind not in ACTIONS:
        raise ValidationError(f"Unknown action {action.kind!r}.")
    if action.kind == SET_FIELD:
        spec = fields.get(action.field)
        if spec is None:
            raise ValidationError(f"The receiving app has no field {action.field!r}.")
        if spec.read_only:
            raise ValidationError(f"{spec.label} is read-only in the receiving app.")
        if spec.choices and action.value not in spec.choices:
            raise ValidationError(
                f"{spec.label} is one of {', '.join(spec.choices)}, not {action.value!r}."
            )
        return
    if not supports_tags:
        raise ValidationError(f"The receiving app has no {tag_noun}s.")
    if not str(action.value or "").strip():
        raise ValidationError(f"Name the {tag_noun} to add or remove.")
