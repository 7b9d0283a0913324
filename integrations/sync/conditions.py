"""Rule conditions: operators by field type, app-specific conditions, and "already existing in
the app you sync with". A rule holds when all of its conditions hold; the rules of a direction
are ORed by the engine.

Operators are dicts of small functions, keyed by the operator's name; ``Condition.operator``
stores those keys. Text comparisons ignore case, the way people expect a filter to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from integrations.sync import mapping
from integrations.sync.fields import ConditionSpec, FieldSpec, FieldType
from integrations.sync.records import Contact

FIELD = "field"
SPECIAL = "special"
EXISTS_IN_OTHER = "exists_in_other"

Operator = Callable[[Any, Any], bool]


def _text(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:  # mapping.is_empty, inline
        return ""
    return str(value).strip().casefold()


def _empty(value: Any, _: Any = None) -> bool:
    return mapping.is_empty(value)


def _not_empty(value: Any, _: Any = None) -> bool:
    return not mapping.is_empty(value)


TEXT_OPERATORS: dict[str, Operator] = {
    "equals": lambda value, arg: _text(value) == _text(arg),
    "not_equals": lambda value, arg: _text(value) != _text(arg),
    "contains": lambda value, arg: _text(arg) in _text(value),
    "not_contains": lambda value, arg: _text(arg) not in _text(value),
    "starts_with": lambda value, arg: _text(value).startswith(_text(arg)),
    "is_empty": _empty,
    "is_not_empty": _not_empty,
}


def _address_text(value: Any) -> str:
    items = value if isinstance(value, list | tuple) else [value]
    return " | ".join(
        mapping.address_text(a) if isinstance(a, dict) else _text(a)
        for a in items
        if not mapping.is_empty(a)
    )


# An address reads as its written-out text for "contains" ("city is Ghent" = contains "Ghent").
ADDRESS_OPERATORS: dict[str, Operator] = {
    "contains": lambda value, arg: _text(arg).casefold() in _address_text(value).casefold(),
    "not_contains": lambda value, arg: _text(arg).casefold() not in _address_text(value).casefold(),
    "is_empty": _empty,
    "is_not_empty": _not_empty,
}


def _ordered(kind: FieldType) -> dict[str, Operator]:
    """=, <, >, between and emptiness for a type whose normalized values sort in order."""
    spec = FieldSpec(key="", label="", type=kind)

    def norm(value: Any) -> Any:
        normalized = mapping.normalize(value, spec)
        if kind == FieldType.NUMBER and not isinstance(normalized, int | float):
            return None
        return normalized

    def compare(value: Any, arg: Any, test: Callable[[Any, Any], bool]) -> bool:
        left, right = norm(value), norm(arg)
        return left is not None and right is not None and test(left, right)

    def between(value: Any, arg: Any) -> bool:
        low, high = [*list(arg), None, None][:2] if isinstance(arg, list | tuple) else (None, None)
        return compare(value, low, lambda v, lo: v >= lo) and compare(
            value, high, lambda v, hi: v <= hi
        )

    return {
        "eq": lambda value, arg: compare(value, arg, lambda v, a: v == a),
        "lt": lambda value, arg: compare(value, arg, lambda v, a: v < a),
        "gt": lambda value, arg: compare(value, arg, lambda v, a: v > a),
        "between": between,
        "is_empty": _empty,
        "is_not_empty": _not_empty,
    }


NUMBER_OPERATORS = _ordered(FieldType.NUMBER)
DATE_OPERATORS = _ordered(FieldType.DATE)
DATETIME_OPERATORS = _ordered(FieldType.DATETIME)

_BOOL = FieldSpec(key="", label="", type=FieldType.BOOLEAN)

BOOLEAN_OPERATORS: dict[str, Operator] = {
    "is_true": lambda value, _: mapping.normalize(value, _BOOL) is True,
    "is_false": lambda value, _: mapping.normalize(value, _BOOL) is not True,
}


def _items(value: Any) -> list[str]:
    if mapping.is_empty(value):
        return []
    items = value if isinstance(value, list | tuple) else [value]
    return [_text(item) for item in items if not mapping.is_empty(item)]


LIST_OPERATORS: dict[str, Operator] = {
    "has": lambda value, arg: _text(arg) in _items(value),
    "has_not": lambda value, arg: _text(arg) not in _items(value),
    "is_empty": _empty,
    "is_not_empty": _not_empty,
}

# Operator sets by field type; multi-valued fields of any type use the list operators.
OPERATORS: dict[FieldType, dict[str, Operator]] = {
    FieldType.TEXT: TEXT_OPERATORS,
    FieldType.LONG_TEXT: TEXT_OPERATORS,
    FieldType.URL: TEXT_OPERATORS,
    FieldType.EMAIL: TEXT_OPERATORS,
    FieldType.PHONE: TEXT_OPERATORS,
    FieldType.ENUM: TEXT_OPERATORS,
    FieldType.NAME: TEXT_OPERATORS,
    FieldType.NUMBER: NUMBER_OPERATORS,
    FieldType.DATE: DATE_OPERATORS,
    FieldType.DATETIME: DATETIME_OPERATORS,
    FieldType.BOOLEAN: BOOLEAN_OPERATORS,
    FieldType.TAGS: LIST_OPERATORS,
    FieldType.ADDRESS: ADDRESS_OPERATORS,
}

# App-specific conditions take "is" (the connector's test holds) or "is_not".
SPECIAL_OPERATORS: dict[str, Callable[[bool], bool]] = {
    "is": lambda held: held,
    "is_not": lambda held: not held,
}

# Operators that ignore the condition's value.
VALUELESS = frozenset({"is_empty", "is_not_empty", "is_true", "is_false"})


def operators_for(spec: FieldSpec) -> dict[str, Operator]:
    if spec.multi:
        return LIST_OPERATORS
    return OPERATORS[spec.type]


@dataclass(frozen=True)
class ConditionData:
    """A condition as plain data (the engine builds these from ``models.Condition`` rows)."""

    kind: str = FIELD
    field: str = ""
    operator: str = ""
    value: Any = None


def _unknown_field_spec(key: str) -> FieldSpec:
    # A field the app no longer offers (a deleted custom field) is read as text: "is empty"
    # still answers sensibly and nothing raises in the middle of a run.
    return FieldSpec(key=key, label=key, type=FieldType.TEXT)


def condition_holds(
    condition: ConditionData,
    record: Contact,
    *,
    fields: Mapping[str, FieldSpec],
    specials: Mapping[str, ConditionSpec],
    exists_in_other: bool,
) -> bool:
    if condition.kind == EXISTS_IN_OTHER:
        return exists_in_other
    if condition.kind == SPECIAL:
        special = specials.get(condition.field)
        decide = SPECIAL_OPERATORS.get(condition.operator)
        if special is None or decide is None:
            return False
        return decide(bool(special.evaluate(record, condition.value)))
    spec = fields.get(condition.field) or _unknown_field_spec(condition.field)
    operator = operators_for(spec).get(condition.operator)
    if operator is None:
        return False
    return operator(record.values.get(condition.field), condition.value)


def rule_matches(
    conditions: Iterable[ConditionData],
    record: Contact,
    *,
    fields: Mapping[str, FieldSpec],
    specials: Mapping[str, ConditionSpec],
    exists_in_other: bool,
) -> bool:
    """All conditions hold (a rule without conditions matches every contact)."""
    for c in conditions:
        if not condition_holds(
            c, record, fields=fields, specials=specials, exists_in_other=exists_in_other
        ):
            return False
    return True


def validate_condition(
    condition: ConditionData,
    *,
    fields: Mapping[str, FieldSpec],
    specials: Mapping[str, ConditionSpec],
) -> None:
    """Refuse a condition the source app cannot evaluate, saying why."""
    if condition.kind == EXISTS_IN_OTHER:
        return
    if condition.kind == SPECIAL:
        special = specials.get(condition.field)
        if special is None:
            raise ValidationError(f"This app offers no condition {condition.field!r}.")
        if condition.operator not in SPECIAL_OPERATORS:
            raise ValidationError(f"Use 'is' or 'is_not' with {special.label}.")
        if special.needs_value and condition.value in (None, ""):
            raise ValidationError(f"{special.label} needs a value.")
        if special.choices and special.needs_value and condition.value not in special.choices:
            raise ValidationError(
                f"{special.label} is one of {', '.join(special.choices)}, not {condition.value!r}."
            )
        return
    if condition.kind != FIELD:
        raise ValidationError(f"Unknown condition kind {condition.kind!r}.")
    spec = fields.get(condition.field)
    if spec is None:
        raise ValidationError(f"This app has no field {condition.field!r}.")
    allowed = operators_for(spec)
    if condition.operator not in allowed:
        raise ValidationError(
            f"{spec.label} cannot be tested with {condition.operator!r}; "
            f"use one of {', '.join(allowed)}."
        )
    if condition.operator == "between" and not (
        isinstance(condition.value, list | tuple) and len(condition.value) == 2
    ):
        raise ValidationError("'between' needs two values: [low, high].")
