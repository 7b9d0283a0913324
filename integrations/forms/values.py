"""Typed values from what was typed in a form (numbers, dates, yes / no, a dropdown's
choices), the operators offered by type, and the choice and suggestion helpers every form
uses."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from integrations.forms.fields import SideFields
from integrations.sync import mapping as mapping_mod
from integrations.sync.fields import FieldSpec, FieldType

OPERATOR_GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Text",
        [
            ("equals", "is"),
            ("not_equals", "is not"),
            ("contains", "contains"),
            ("not_contains", "does not contain"),
            ("starts_with", "starts with"),
            ("is_empty", "is empty"),
            ("is_not_empty", "is not empty"),
        ],
    ),
    (
        "Numbers and dates",
        [
            ("eq", "is equal to"),
            ("lt", "is less than / before"),
            ("gt", "is greater than / after"),
            ("between", "is between (two values: low and high)"),
        ],
    ),
    ("Yes / no", [("is_true", "is yes"), ("is_false", "is no")]),
    ("Lists, tags and labels", [("has", "has"), ("has_not", "does not have")]),
    ("App conditions", [("is", "is"), ("is_not", "is not")]),
]
OPERATOR_LABELS: dict[str, str] = {
    key: label for _, group in OPERATOR_GROUPS for key, label in group
}

_TRUE = {"yes", "true", "y", "1", "on"}
_FALSE = {"no", "false", "n", "0", "off"}


def set_choices(form: forms.BaseForm, name: str, choices: Any) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def type_label(spec: FieldSpec) -> str:
    label = mapping_mod.TYPE_LABELS[spec.type]
    return f"list of {label}" if spec.multi and spec.type != FieldType.TAGS else label


def choice_of(spec_label: str, choices: Iterable[str], text: str) -> str:
    """``text`` as one of ``choices`` (case-insensitively), or the reason it is not."""
    by_fold = {str(c).casefold(): str(c) for c in choices}
    found = by_fold.get(text.strip().casefold())
    if found is None:
        raise ValidationError(
            f"{spec_label} is one of {', '.join(by_fold.values())}, not {text.strip()!r}."
        )
    return found


def _number(text: str, what: str) -> int | float:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise ValidationError(
            f"{what} is a number field: {text.strip()!r} is not a number."
        ) from None
    if not number.is_finite() or not math.isfinite(float(number)):
        raise ValidationError(f"{what} needs a finite number, not {text.strip()!r}.")
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def typed_value(spec: FieldSpec, text: str, *, exact_choice: bool = True) -> Any:
    """One value typed for ``spec`` from what was typed in a form, as JSON-able data; raises
    ``ValidationError`` naming the field and what is wrong."""
    text = text.strip()
    if not text:
        raise ValidationError(f"Give a value for {spec.label}.")
    kind = spec.type
    if kind == FieldType.NUMBER:
        return _number(text, spec.label)
    if kind == FieldType.BOOLEAN:
        folded = text.casefold()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
        raise ValidationError(f"{spec.label} is yes or no, not {text!r}.")
    if kind == FieldType.DATE:
        try:
            day = forms.DateField().clean(text)
        except ValidationError:
            raise ValidationError(
                f"{spec.label} is a date: {text!r} is not one (write it as 2024-12-31)."
            ) from None
        return day.isoformat()
    if kind == FieldType.DATETIME:
        try:
            moment = forms.DateTimeField().clean(text)
        except ValidationError:
            raise ValidationError(
                f"{spec.label} is a date and time: {text!r} is not one "
                "(write it as 2024-12-31 17:30)."
            ) from None
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, dt.UTC)
        return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat()
    if kind == FieldType.ENUM and spec.choices and exact_choice:
        return choice_of(spec.label, spec.choices, text)
    if kind == FieldType.EMAIL and exact_choice and "@" not in text:
        raise ValidationError(f"{spec.label} holds email addresses: {text!r} is not one.")
    return text


def value_text(value: Any) -> str:
    """A stored condition or action value as the text a form shows."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return " and ".join(value_text(v) for v in value)
    return str(value)


class SuggestingInput(forms.TextInput):
    """A text input with a list of suggested values (an HTML datalist): the values of a
    dropdown, the labels an account has. Typing something else stays possible where it makes
    sense; ``clean()`` decides."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.suggestions: tuple[str, ...] = ()

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> Any:
        if not self.suggestions:
            return super().render(name, value, attrs, renderer)
        attrs = dict(attrs or {})
        list_id = f"{attrs.get('id') or name}_suggestions"
        attrs["list"] = list_id
        field = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}">', ((s,) for s in self.suggestions))
        return format_html('{}<datalist id="{}">{}</datalist>', field, list_id, options)


def suggest(form: forms.BaseForm, name: str, values: Iterable[str], what: str) -> None:
    values = tuple(values)
    field = form.fields[name]
    if isinstance(field.widget, SuggestingInput):
        field.widget.suggestions = values
    if values:
        field.help_text = f"{what}: {', '.join(values[:30])}" + (" …" if len(values) > 30 else "")


def grouped_field_choices(
    side: SideFields, keep: Any = None, include: Iterable[str] = ()
) -> list[Any]:
    """A side's fields as grouped choices: standard ones, then custom ones."""
    standard: list[tuple[str, str]] = []
    custom: list[tuple[str, str]] = []
    for spec in side.field_list:
        if keep is not None and not keep(spec):
            continue
        entry = (spec.key, f"{spec.label} ({type_label(spec)})")
        (custom if spec.custom else standard).append(entry)
    groups: list[Any] = [("", "— choose a field —")]
    if standard:
        groups.append((f"{side.app} fields", standard))
    if custom:
        groups.append((f"{side.app} custom fields", custom))
    known = {key for _, entries in groups[1:] for key, _ in entries}
    extra = [(key, f"{key} (no longer offered by {side.app})") for key in include]
    extra = [entry for entry in extra if entry[0] and entry[0] not in known]
    if extra:
        groups.append(("No longer offered", extra))
    return groups
