"""Validated configuration writes, shared by the customer pages and the admin.

Every form checks its input in ``clean()`` with the engine's own validators (conditions,
actions, mappings) against the two accounts' real fields, and saves through the services of
``integrations/services/setup.py``. Sides are named by their apps ("Kustomer field"), never A/B.

Load the fields once per request, then hand them to every form::

    try:
        fields = ConnectionFields.load(connection)
    except FieldsUnavailable as exc:
        ...  # show exc.message: the app could not be asked (bad subdomain, revoked grant ...)

Constructors (everything after ``data`` is keyword-only):

- ``ConditionForm(data=None, *, fields, direction, instance=None, prefix=None, initial=None)``
  and ``ActionForm(...)`` with the same arguments: one condition / action of a rule of
  ``direction`` (``Rule.Direction``). ``.condition`` / ``.action`` hold the cleaned dict.
  ``ConditionFormSet`` / ``ActionFormSet`` are their formsets (``form_kwargs={"fields":...,
  "direction": ...}``).
- ``RuleForm(data=None, *, fields, connection, direction=None, instance=None, prefix=None)``:
  name, undo, the "other way around" toggle, with ``.conditions`` and ``.actions`` formsets
  (validated by ``is_valid()``); ``.save() -> Rule`` creates or replaces (mirror kept in step).
  ``direction`` is needed for a new rule (defaults to the connection's first synced one).
- ``FieldMappingForm(data=None, *, fields, connection, instance=None, prefix=None)``: a custom
  mapping, or (with ``instance``) toggling / changing one; ``.save() -> FieldMapping``.
- ``FieldMappingToggleForm(data=None, *, fields, instance)``: on/off only; ``.save()``.
- ``ConnectionOptionsForm(data=None, *, instance, fields=None)``: winner, avoid duplicates,
  interval, and the deletions / unsubscribes options only when both apps support them;
  ``.save() -> Connection``.
- ``ConnectionForm(data=None, *, workspace, account_a=None, account_b=None)``: a new
  connection between two of the workspace's accounts; ``.save() -> Connection``.
  ``.connection_fields`` holds the loaded fields after a successful ``is_valid()``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.models import ConnectedAccount, Workspace
from integrations.connectors.accounts import connector_for
from integrations.connectors.base import Capabilities, ConnectorError
from integrations.connectors.registry import connector_class
from integrations.models import Action, Condition, Connection, FieldMapping, Rule, Side
from integrations.services import setup
from integrations.sync import actions as actions_mod
from integrations.sync import conditions as conditions_mod
from integrations.sync import mapping as mapping_mod
from integrations.sync.fields import ConditionSpec, FieldSpec, FieldType
from integrations.sync.records import NAME

EXISTS_IN_OTHER = conditions_mod.EXISTS_IN_OTHER


# -- The two apps' fields -------------------------------------------------------------------------


class FieldsUnavailable(Exception):
    """An app could not tell its fields; ``message`` says which and why, safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SideFields:
    """One side of a connection: its app's name, fields and capabilities."""

    side: str
    app: str
    specs: dict[str, FieldSpec]
    capabilities: Capabilities
    # The tags or labels the account already has, where the app lists them (suggestions).
    tag_names: tuple[str, ...] = ()

    @property
    def field_list(self) -> list[FieldSpec]:
        return list(self.specs.values())

    @property
    def specials(self) -> dict[str, ConditionSpec]:
        return {spec.key: spec for spec in self.capabilities.conditions}

    def spec(self, key: str) -> FieldSpec | None:
        """The field ``key`` (the composite ``name`` included)."""
        return mapping_mod.spec_for(key, self.specs, self.capabilities.name_style)

    def label(self, key: str) -> str:
        spec = self.spec(key)
        return spec.label if spec else key


@dataclass(frozen=True)
class ConnectionFields:
    """Both sides' fields and capabilities, loaded once per request."""

    a: SideFields
    b: SideFields

    @classmethod
    def build(
        cls,
        *,
        app_a: str,
        fields_a: Iterable[FieldSpec],
        capabilities_a: Capabilities,
        app_b: str,
        fields_b: Iterable[FieldSpec],
        capabilities_b: Capabilities,
    ) -> ConnectionFields:
        if app_a == app_b:
            app_a, app_b = f"{app_a} (first)", f"{app_b} (second)"
        return cls(
            a=SideFields(Side.A, app_a, {s.key: s for s in fields_a}, capabilities_a),
            b=SideFields(Side.B, app_b, {s.key: s for s in fields_b}, capabilities_b),
        )

    @classmethod
    def load(cls, connection: Connection) -> ConnectionFields:
        """Ask both apps of ``connection`` for their fields (custom ones included)."""
        return cls.load_accounts(connection.account_a, connection.account_b)

    @classmethod
    def load_accounts(
        cls, account_a: ConnectedAccount, account_b: ConnectedAccount
    ) -> ConnectionFields:
        fields_a, caps_a, tags_a = _load_side(account_a)
        fields_b, caps_b, tags_b = _load_side(account_b)
        name_a, name_b = account_a.app_name, account_b.app_name
        if name_a == name_b:
            name_a, name_b = f"{name_a} ({account_a.label})", f"{name_b} ({account_b.label})"
        return cls(
            a=SideFields(Side.A, name_a, {s.key: s for s in fields_a}, caps_a, tags_a),
            b=SideFields(Side.B, name_b, {s.key: s for s in fields_b}, caps_b, tags_b),
        )

    def side(self, side: str) -> SideFields:
        return self.a if side == Side.A else self.b

    def service_kwargs(self) -> dict[str, Any]:
        """The fields and capabilities arguments every set-up service takes."""
        return {
            "fields_a": self.a.field_list,
            "fields_b": self.b.field_list,
            "capabilities_a": self.a.capabilities,
            "capabilities_b": self.b.capabilities,
        }

    def rule_direction_label(self, direction: str) -> str:
        source, target = _rule_sides(direction)
        return f"{self.side(source).app} → {self.side(target).app}"

    def mapping_direction_choices(self) -> list[tuple[str, str]]:
        a, b = self.a.app, self.b.app
        return [
            (FieldMapping.Direction.TWO_WAY, f"Both ways ({a} ⇄ {b})"),
            (FieldMapping.Direction.A_TO_B, f"{a} → {b} only"),
            (FieldMapping.Direction.B_TO_A, f"{b} → {a} only"),
        ]


def _load_side(
    account: ConnectedAccount,
) -> tuple[list[FieldSpec], Capabilities, tuple[str, ...]]:
    where = f"{account.app_name} ({account.label})"
    try:
        connector = connector_for(account)
        fields = connector.fields()
    except ConnectorError as exc:
        raise FieldsUnavailable(f"{where}: {exc.message}") from None
    except (ValueError, LookupError) as exc:
        # A stored credential the connector refuses (a bad subdomain) or an unknown app.
        raise FieldsUnavailable(f"{where}: {exc}") from None
    return fields, connector.capabilities, _tag_names(connector)


def _tag_names(connector: Any) -> tuple[str, ...]:
    """The labels an app lists (Google contact groups), offered as suggestions; an app that
    cannot list them now only costs the suggestions."""
    groups = getattr(connector, "groups", None)
    if not callable(groups):
        return ()
    try:
        names = groups().values()
    except ConnectorError:
        return ()
    return tuple(sorted({str(name) for name in names if name}, key=str.casefold))


def _set_choices(form: forms.BaseForm, name: str, choices: Any) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def _rule_sides(direction: str) -> tuple[str, str]:
    if direction == Rule.Direction.A_TO_B:
        return Side.A, Side.B
    return Side.B, Side.A


# -- Typed values ---------------------------------------------------------------------------------

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

# "low and high", "low; high", "low, high" or "low .. high".
_RANGE_SPLIT = re.compile(r"\s*(?:\band\b|;|,|\.\.|…)\s*", re.IGNORECASE)
_TRUE = {"yes", "true", "y", "1", "on"}
_FALSE = {"no", "false", "n", "0", "off"}


def type_label(spec: FieldSpec) -> str:
    label = mapping_mod.TYPE_LABELS[spec.type]
    return f"list of {label}" if spec.multi and spec.type != FieldType.TAGS else label


def _choice(spec_label: str, choices: Iterable[str], text: str) -> str:
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
        return _choice(spec.label, spec.choices, text)
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


def _suggest(form: forms.BaseForm, name: str, values: Iterable[str], what: str) -> None:
    values = tuple(values)
    field = form.fields[name]
    if isinstance(field.widget, SuggestingInput):
        field.widget.suggestions = values
    if values:
        field.help_text = f"{what}: {', '.join(values[:30])}" + (" …" if len(values) > 30 else "")


def _grouped_field_choices(
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


# -- Conditions and actions -----------------------------------------------------------------------


class ConditionForm(forms.ModelForm):
    """IF <source field> <operator> <value>: one condition of a rule, typed by the field."""

    field = forms.ChoiceField(label="Field")
    operator = forms.ChoiceField(label="Operator", required=False)
    value = forms.CharField(label="Value", required=False, max_length=1000, widget=SuggestingInput)

    class Meta:
        model = Condition
        fields = ["field", "operator", "value"]

    def __init__(self, *args: Any, fields: ConnectionFields, direction: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        source, target = _rule_sides(direction)
        self.source = fields.side(source)
        self.target = fields.side(target)
        self.condition: dict[str, Any] | None = None
        stored = self.instance.field if self.instance.pk else None
        subjects = _grouped_field_choices(
            self.source,
            include=[stored] if stored and self.instance.kind == Condition.Kind.FIELD else [],
        )
        specials = [(key, spec.label) for key, spec in self.source.specials.items()]
        if specials:
            subjects.append((f"{self.source.app} conditions", specials))
        subjects.append(("Other", [(EXISTS_IN_OTHER, f"Already exists in {self.target.app}")]))
        _set_choices(self, "field", subjects)
        self.fields["field"].label = f"{self.source.app} field"
        _set_choices(self, "operator", [("", "—"), *OPERATOR_GROUPS])
        self.fields["value"].help_text = (
            "Typed by the field: a number, a date (2024-12-31), yes / no, or one of a "
            "dropdown's choices; for 'between' two values: 10 and 20."
        )
        if self.instance.pk and not self.is_bound:
            self.initial.update(self.initial_for(self.instance))
        elif not isinstance(self.initial.get("value", ""), str):
            self.initial["value"] = value_text(self.initial["value"])
        self._offer_operators(self.data.get(self.add_prefix("field")) if self.is_bound else None)

    @staticmethod
    def initial_for(condition: Condition) -> dict[str, Any]:
        subject = EXISTS_IN_OTHER if condition.kind == Condition.Kind.EXISTS_IN_OTHER else None
        return {
            "field": subject or condition.field,
            "operator": condition.operator,
            "value": value_text(condition.value),
        }

    def _offer_operators(self, chosen: Any) -> None:
        """Show only the operators the chosen field's type takes (validation still knows them
        all, so a wrong one gets the engine's reason rather than a bare "invalid choice")."""
        subject = str(chosen or self.initial.get("field") or "")
        offered = self._operators_for(subject)
        if offered is not None:
            self.fields["operator"].widget.choices = [
                ("", "—"),
                *((key, OPERATOR_LABELS.get(key, key)) for key in offered),
            ]
        spec = self.source.specs.get(subject)
        special = self.source.specials.get(subject)
        choices = (spec.choices if spec else ()) or (special.choices if special else ())
        if choices:
            _suggest(self, "value", choices, "One of")
        elif (spec and spec.type == FieldType.TAGS) or (special and not special.choices):
            noun = self.source.capabilities.tag_noun
            _suggest(
                self, "value", self.source.tag_names, f"{noun.capitalize()}s in {self.source.app}"
            )

    def _operators_for(self, subject: str) -> list[str] | None:
        if subject == EXISTS_IN_OTHER:
            return []
        if subject in self.source.specials:
            return list(conditions_mod.SPECIAL_OPERATORS)
        spec = self.source.specs.get(subject)
        return list(conditions_mod.operators_for(spec)) if spec else None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        subject = cleaned.get("field")
        if not subject:
            return cleaned
        operator = str(cleaned.get("operator") or "")
        text = str(cleaned.get("value") or "")
        try:
            condition = self._condition(subject, operator, text)
            conditions_mod.validate_condition(
                conditions_mod.ConditionData(**condition),
                fields=self.source.specs,
                specials=self.source.specials,
            )
        except ValidationError as exc:
            target = getattr(exc, "form_field", None)
            self.add_error(target, ValidationError(exc.messages))
            return cleaned
        self.condition = condition
        self.instance.kind = condition["kind"]
        cleaned.update(
            field=condition["field"], operator=condition["operator"], value=condition["value"]
        )
        return cleaned

    def _condition(self, subject: str, operator: str, text: str) -> dict[str, Any]:
        if subject == EXISTS_IN_OTHER:
            return {"kind": EXISTS_IN_OTHER, "field": "", "operator": "", "value": None}
        special = self.source.specials.get(subject)
        if special is not None:
            if operator not in conditions_mod.SPECIAL_OPERATORS:
                raise _at("operator", f"Use 'is' or 'is not' with {special.label}.")
            value: Any = None
            if special.needs_value:
                if not text.strip():
                    raise _at("value", f"{special.label} needs a value.")
                value = (
                    _at_value(lambda: _choice(special.label, special.choices, text))
                    if special.choices
                    else text.strip()
                )
            return {
                "kind": conditions_mod.SPECIAL,
                "field": subject,
                "operator": operator,
                "value": value,
            }
        spec = self.source.specs.get(subject)
        if spec is None:
            raise _at(
                "field",
                f"{self.source.app} no longer offers the field {subject!r}: choose another one "
                "or delete this condition.",
            )
        allowed = conditions_mod.operators_for(spec)
        offered = ", ".join(OPERATOR_LABELS.get(k, k) for k in allowed)
        if not operator:
            raise _at("operator", f"Choose how to test {spec.label}: {offered}.")
        if operator not in allowed:
            raise _at(
                "operator",
                f"{spec.label} ({type_label(spec)}) cannot be tested with "
                f"'{OPERATOR_LABELS.get(operator, operator)}'; use one of: {offered}.",
            )
        return {
            "kind": conditions_mod.FIELD,
            "field": subject,
            "operator": operator,
            "value": _at_value(lambda: self._typed(spec, operator, text)),
        }

    @staticmethod
    def _typed(spec: FieldSpec, operator: str, text: str) -> Any:
        if operator in conditions_mod.VALUELESS:
            return None
        # Lists hold items of the field's type; tags and labels are names.
        item = (
            FieldSpec(spec.key, spec.label, FieldType.TEXT) if spec.type == FieldType.TAGS else spec
        )
        if operator == "between":
            parts = [p for p in _RANGE_SPLIT.split(text.strip()) if p]
            if len(parts) != 2:
                raise ValidationError(
                    f"'between' takes two values, low and high (for example 10 and 20), "
                    f"not {text.strip()!r}."
                )
            low, high = (typed_value(item, p) for p in parts)
            if mapping_mod.normalize(low, item) > mapping_mod.normalize(high, item):
                raise ValidationError(f"The low value {low!r} is above the high value {high!r}.")
            return [low, high]
        # Text tests ("contains") take any text, even for a dropdown or an email field.
        exact = operator in ("equals", "not_equals", "eq", "lt", "gt")
        if spec.type in mapping_mod.TEXT_TYPES | {FieldType.ENUM, FieldType.EMAIL}:
            exact = exact and operator in ("equals", "not_equals")
        return typed_value(item, text, exact_choice=exact)


def _at(field: str, message: str) -> ValidationError:
    error = ValidationError(message)
    error.form_field = field  # type: ignore[attr-defined]
    return error


def _at_value(compute: Any) -> Any:
    try:
        return compute()
    except ValidationError as exc:
        raise _at("value", " ".join(exc.messages)) from None


class ActionForm(forms.ModelForm):
    """THEN on the receiving app: set a field to a value, or add / remove a tag or label."""

    kind = forms.ChoiceField(label="Action")
    field = forms.ChoiceField(label="Field", required=False)
    value = forms.CharField(label="Value", required=False, max_length=1000, widget=SuggestingInput)

    class Meta:
        model = Action
        fields = ["kind", "field", "value"]

    def __init__(self, *args: Any, fields: ConnectionFields, direction: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        source, target = _rule_sides(direction)
        self.source = fields.side(source)
        self.target = fields.side(target)
        self.action: dict[str, Any] | None = None
        caps = self.target.capabilities
        noun = caps.tag_noun
        kinds = [("", "— choose an action —")]
        if actions_mod.SET_FIELD in caps.actions:
            kinds.append((actions_mod.SET_FIELD, f"Set a {self.target.app} field"))
        if caps.supports_tags:
            if actions_mod.ADD_TAG in caps.actions:
                kinds.append((actions_mod.ADD_TAG, f"Add a {noun} in {self.target.app}"))
            if actions_mod.REMOVE_TAG in caps.actions:
                kinds.append((actions_mod.REMOVE_TAG, f"Remove a {noun} in {self.target.app}"))
        _set_choices(self, "kind", kinds)
        stored = self.instance.field if self.instance.pk else ""
        _set_choices(
            self,
            "field",
            _grouped_field_choices(
                self.target,
                keep=lambda spec: not spec.read_only and spec.type != FieldType.TAGS,
                include=[stored] if stored else [],
            ),
        )
        self.fields["field"].label = f"{self.target.app} field"
        self.fields["field"].help_text = f"Only to set a field; a {noun} needs none."
        self.fields[
            "value"
        ].help_text = f"The value to set (typed by the field), or the {noun}'s name."
        if self.instance.pk and not self.is_bound:
            self.initial.update(self.initial_for(self.instance))
        elif not isinstance(self.initial.get("value", ""), str):
            self.initial["value"] = value_text(self.initial["value"])
        self._suggest_values()

    def _suggest_values(self) -> None:
        chosen = self.data.get(self.add_prefix("kind")) if self.is_bound else None
        kind = str(chosen or self.initial.get("kind") or "")
        if kind in (actions_mod.ADD_TAG, actions_mod.REMOVE_TAG):
            noun = self.target.capabilities.tag_noun
            _suggest(
                self, "value", self.target.tag_names, f"{noun.capitalize()}s in {self.target.app}"
            )
            return
        key = self.data.get(self.add_prefix("field")) if self.is_bound else None
        spec = self.target.specs.get(str(key or self.initial.get("field") or ""))
        if spec is not None and spec.choices:
            _suggest(self, "value", spec.choices, "One of")

    @staticmethod
    def initial_for(action: Action) -> dict[str, Any]:
        return {"kind": action.kind, "field": action.field, "value": value_text(action.value)}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        if not kind:
            return cleaned
        key = str(cleaned.get("field") or "")
        text = str(cleaned.get("value") or "")
        caps = self.target.capabilities
        if kind == actions_mod.SET_FIELD:
            spec = self.target.specs.get(key)
            if spec is None:
                self.add_error("field", f"Choose the {self.target.app} field to set.")
                return cleaned
            try:
                value: Any = typed_value(spec, text)
            except ValidationError as exc:
                self.add_error("value", exc)
                return cleaned
        else:
            key = ""
            value = text.strip()
        action = {"kind": kind, "field": key, "value": value}
        try:
            actions_mod.validate_action(
                actions_mod.ActionData(**action),
                fields=self.target.specs,
                supports_tags=caps.supports_tags,
                tag_noun=caps.tag_noun,
            )
        except ValidationError as exc:
            self.add_error("value" if kind != actions_mod.SET_FIELD else None, exc)
            return cleaned
        self.action = action
        cleaned.update(action)
        return cleaned


class _PartsFormSet(forms.BaseFormSet):
    """Conditions or actions of one rule; deleted and untouched extra forms are left out."""

    def parts(self) -> list[dict[str, Any]]:
        found = []
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):  # type: ignore[attr-defined]
                continue
            part = getattr(form, "condition", None) or getattr(form, "action", None)
            if part is not None:
                found.append(part)
        return found


ConditionFormSet: type[_PartsFormSet] = cast(
    type[_PartsFormSet],
    forms.formset_factory(ConditionForm, formset=_PartsFormSet, extra=1, can_delete=True),
)
ActionFormSet: type[_PartsFormSet] = cast(
    type[_PartsFormSet],
    forms.formset_factory(ActionForm, formset=_PartsFormSet, extra=1, can_delete=True),
)


# -- Rules ----------------------------------------------------------------------------------------


class RuleForm(forms.Form):
    """A rule for one direction with its conditions and actions, created or edited."""

    name = forms.CharField(label="Name", required=False, max_length=200)
    undo = forms.BooleanField(
        label="Undo the actions when a contact stops matching", required=False
    )
    mirror = forms.BooleanField(label="Also the other way around", required=False)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        fields: ConnectionFields,
        connection: Connection,
        direction: str | None = None,
        instance: Rule | None = None,
        prefix: str | None = None,
    ) -> None:
        self.connection = connection
        self.connection_fields = fields
        self.instance = instance
        self.direction = self._direction(connection, direction, instance)
        initial: dict[str, Any] = {}
        if instance is not None:
            partner = instance.mirror_id or getattr(instance, "mirrored_by", None)
            initial = {"name": instance.name, "undo": instance.undo, "mirror": bool(partner)}
        super().__init__(data, prefix=prefix, initial=initial)
        source, target = _rule_sides(self.direction)
        source_app, target_app = fields.side(source).app, fields.side(target).app
        self.direction_label = fields.rule_direction_label(self.direction)
        self.fields["mirror"].label = (
            f"Also the other way around ({target_app} → {source_app}), with the same "
            "conditions and actions through the field mappings"
        )
        opposite = Rule.Direction.B_TO_A if source == Side.A else Rule.Direction.A_TO_B
        if not setup._direction_synced(connection, opposite):
            del self.fields["mirror"]
        part_kwargs = {"fields": fields, "direction": self.direction}
        conditions = list(instance.conditions.all()) if instance is not None else []
        actions = list(instance.actions.all()) if instance is not None else []
        self.conditions: _PartsFormSet = ConditionFormSet(
            data,
            prefix=self.add_prefix("conditions"),
            form_kwargs=part_kwargs,
            initial=[ConditionForm.initial_for(c) for c in conditions],
        )
        self.actions: _PartsFormSet = ActionFormSet(
            data,
            prefix=self.add_prefix("actions"),
            form_kwargs=part_kwargs,
            initial=[ActionForm.initial_for(a) for a in actions],
        )

    @staticmethod
    def _direction(connection: Connection, direction: str | None, instance: Rule | None) -> str:
        if instance is not None:
            return instance.direction
        if direction in Rule.Direction.values:
            return str(direction)
        for candidate in (Rule.Direction.A_TO_B, Rule.Direction.B_TO_A):
            if setup._direction_synced(connection, candidate):
                return candidate
        return Rule.Direction.A_TO_B

    def is_valid(self) -> bool:
        valid = super().is_valid()
        # Every formset is validated so that each shows its errors.
        conditions_valid = self.conditions.is_valid()
        actions_valid = self.actions.is_valid()
        return valid and conditions_valid and actions_valid and not self.errors

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not (self.conditions.is_valid() and self.actions.is_valid()):
            return cleaned
        try:
            setup.rule_check(
                connection=self.connection,
                direction=self.direction,
                conditions=self.conditions.parts(),
                actions=self.actions.parts(),
                mirror=bool(cleaned.get("mirror")),
                **self.connection_fields.service_kwargs(),
            )
        except ValidationError as exc:
            self.add_error(None, ValidationError(exc.messages))
        return cleaned

    def save(self) -> Rule:
        conditions, actions = self.conditions.parts(), self.actions.parts()
        options: dict[str, Any] = {
            "undo": bool(self.cleaned_data.get("undo")),
            "mirror": bool(self.cleaned_data.get("mirror")),
            "name": self.cleaned_data.get("name") or "",
        }
        if self.instance is None:
            return setup.rule_create(
                connection=self.connection,
                direction=self.direction,
                conditions=conditions,
                actions=actions,
                **options,
                **self.connection_fields.service_kwargs(),
            )
        return setup.rule_update(
            rule=self.instance,
            conditions=conditions,
            actions=actions,
            **options,
            **self.connection_fields.service_kwargs(),
        )


# -- Field mappings -------------------------------------------------------------------------------

_MAP_SEPARATOR = re.compile(r"\s*(?:=>|->|→|=)\s*")


def parse_value_map(text: str) -> dict[str, str]:
    """Lines ``from = to`` (also ``->``, ``=>``, ``→``) as a dict; blank lines are skipped."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = _MAP_SEPARATOR.split(line.strip(), maxsplit=1)
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise ValidationError(
                f"Line {number} ({line.strip()[:60]!r}) is not 'value = other value'."
            )
        source, target = parts
        if source in found:
            raise ValidationError(f"{source!r} is mapped twice (line {number}).")
        found[source] = target
    return found


def value_map_text(value_map: Any) -> str:
    if not isinstance(value_map, dict):
        return ""
    return "\n".join(f"{k} = {v}" for k, v in value_map.items())


class FieldMappingForm(forms.ModelForm):
    """A custom mapping of one field on each side, or (with an instance) toggling and changing
    an existing one: its fields stay, its direction, value map and on/off can change."""

    field_a = forms.ChoiceField(label="Field")
    field_b = forms.ChoiceField(label="Field")
    direction = forms.ChoiceField(label="Direction")
    enabled = forms.BooleanField(label="On", required=False, initial=True)
    value_map = forms.CharField(
        label="Value map",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=10000,
    )

    class Meta:
        model = FieldMapping
        fields = ["field_a", "field_b", "direction", "enabled", "value_map"]

    def __init__(
        self, *args: Any, fields: ConnectionFields, connection: Connection, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.connection_fields = fields
        self.connection = connection
        self.stored_enabled = self.instance.enabled if self.instance.pk else False
        a, b = fields.a, fields.b
        existing = self.instance.pk is not None
        keys_a = [self.instance.field_a] if existing else []
        keys_b = [self.instance.field_b] if existing else []
        name_choice = [(NAME, "Name")]
        _set_choices(
            self,
            "field_a",
            [
                *_grouped_field_choices(a, include=[k for k in keys_a if k != NAME]),
                *([("Name", name_choice)] if NAME in keys_a else []),
            ],
        )
        _set_choices(
            self,
            "field_b",
            [
                *_grouped_field_choices(b, include=[k for k in keys_b if k != NAME]),
                *([("Name", name_choice)] if NAME in keys_b else []),
            ],
        )
        self.fields["field_a"].label = f"{a.app} field"
        self.fields["field_b"].label = f"{b.app} field"
        _set_choices(self, "direction", fields.mapping_direction_choices())
        if not existing and not self.is_bound:
            self.initial["direction"] = setup._connection_mapping_direction(connection)
        self.fields[
            "value_map"
        ].help_text = f"For dropdowns: one line per value, '{a.app} value = {b.app} value'."
        if existing:
            # A mapping's fields are what it is: map other fields with a new mapping.
            self.fields["field_a"].disabled = True
            self.fields["field_b"].disabled = True
            if not self.is_bound:
                self.initial["value_map"] = value_map_text(self.instance.value_map)

    def clean_value_map(self) -> dict[str, str]:
        return parse_value_map(str(self.cleaned_data.get("value_map") or ""))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        key_a, key_b = cleaned.get("field_a"), cleaned.get("field_b")
        direction = cleaned.get("direction")
        value_map = cleaned.get("value_map")
        if not key_a or not key_b or not direction or value_map is None:
            return cleaned
        a, b = self.connection_fields.a, self.connection_fields.b
        spec_a, spec_b = a.spec(key_a), b.spec(key_b)
        enabled = bool(cleaned.get("enabled")) if self.instance.pk else True
        if spec_a is None or spec_b is None:
            if enabled:
                gone = f"{a.app} field {key_a!r}" if spec_a is None else f"{b.app} field {key_b!r}"
                self.add_error(None, f"{gone} no longer exists: this mapping can only be off.")
            return cleaned
        try:
            value_map = self._check_value_map(spec_a, spec_b, direction, value_map)
        except ValidationError as exc:
            self.add_error("value_map", exc)
            return cleaned
        cleaned["value_map"] = value_map
        if not enabled:
            return cleaned
        refusals = mapping_mod.mapping_refusals(
            spec_a, spec_b, direction=direction, value_map=value_map
        )
        if refusals:
            self.add_error(
                None,
                f"{a.app} field {spec_a.label} ({type_label(spec_a)}) and {b.app} field "
                f"{spec_b.label} ({type_label(spec_b)}) cannot be mapped "
                f"{self._direction_words(direction)}: " + " ".join(refusals),
            )
            return cleaned
        try:
            if self.instance.pk is None:
                setup.field_mapping_check(
                    connection=self.connection,
                    field_a=key_a,
                    field_b=key_b,
                    direction=direction,
                    value_map=value_map,
                    fields_a=a.field_list,
                    fields_b=b.field_list,
                )
            else:
                mapping_mod.validate_mapping(
                    spec_a, spec_b, direction=direction, value_map=value_map
                )
                if not self.stored_enabled:
                    setup._check_free(self.connection, key_a, key_b, exclude=self.instance.pk)
        except ValidationError as exc:
            self.add_error(None, exc)
        return cleaned

    def _direction_words(self, direction: str) -> str:
        a, b = self.connection_fields.a.app, self.connection_fields.b.app
        if direction == FieldMapping.Direction.A_TO_B:
            return f"from {a} to {b}"
        if direction == FieldMapping.Direction.B_TO_A:
            return f"from {b} to {a}"
        return "both ways"

    def _check_value_map(
        self, spec_a: FieldSpec, spec_b: FieldSpec, direction: str, value_map: dict[str, str]
    ) -> dict[str, str]:
        if not value_map:
            return value_map
        a, b = self.connection_fields.a, self.connection_fields.b
        if FieldType.ENUM not in (spec_a.type, spec_b.type):
            raise ValidationError(
                f"A value map pairs dropdown choices; neither {a.app} field {spec_a.label} nor "
                f"{b.app} field {spec_b.label} is a dropdown."
            )
        canonical: dict[str, str] = {}
        for source, target in value_map.items():
            if spec_a.choices:
                source = _choice(f"{a.app} field {spec_a.label}", spec_a.choices, source)
            if spec_b.choices:
                target = _choice(f"{b.app} field {spec_b.label}", spec_b.choices, target)
            canonical[source] = target
        if direction in (FieldMapping.Direction.TWO_WAY, FieldMapping.Direction.B_TO_A):
            seen: dict[str, str] = {}
            for source, target in canonical.items():
                if target in seen:
                    raise ValidationError(
                        f"{seen[target]!r} and {source!r} both map to {target!r}, so a value "
                        f"coming back from {b.app} would be ambiguous: sync this one way only."
                    )
                seen[target] = source
        return canonical

    def save(self, commit: bool = True) -> FieldMapping:
        if not commit:
            # The admin saves in two steps; the service does the real write on commit.
            return super().save(commit=False)
        data = self.cleaned_data
        kwargs = self.connection_fields.service_kwargs()
        if self.instance.pk is None:
            self.instance = setup.field_mapping_add(
                connection=self.connection,
                field_a=data["field_a"],
                field_b=data["field_b"],
                direction=data["direction"],
                value_map=data["value_map"],
                fields_a=kwargs["fields_a"],
                fields_b=kwargs["fields_b"],
            )
            return self.instance
        current = FieldMapping.objects.get(pk=self.instance.pk)
        self.instance = setup.field_mapping_update(
            field_mapping=current,
            enabled=bool(data.get("enabled")),
            direction=data["direction"],
            value_map=data["value_map"],
            fields_a=kwargs["fields_a"],
            fields_b=kwargs["fields_b"],
            name_style_a=self.connection_fields.a.capabilities.name_style,
            name_style_b=self.connection_fields.b.capabilities.name_style,
        )
        return self.instance


class FieldMappingToggleForm(forms.Form):
    """Turn one mapping (default ones too) on or off."""

    enabled = forms.BooleanField(label="On", required=False)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        fields: ConnectionFields,
        instance: FieldMapping,
        prefix: str | None = None,
    ) -> None:
        super().__init__(data, prefix=prefix, initial={"enabled": instance.enabled})
        self.connection_fields = fields
        self.instance = instance
        a, b = fields.a, fields.b
        self.fields[
            "enabled"
        ].label = f"{a.app} {a.label(instance.field_a)} ⇄ {b.app} {b.label(instance.field_b)}"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        enabled = bool(cleaned.get("enabled"))
        if enabled and not self.instance.enabled:
            a, b = self.connection_fields.a, self.connection_fields.b
            spec_a, spec_b = a.spec(self.instance.field_a), b.spec(self.instance.field_b)
            try:
                if spec_a is None or spec_b is None:
                    raise ValidationError("One of the mapped fields no longer exists.")
                mapping_mod.validate_mapping(
                    spec_a,
                    spec_b,
                    direction=self.instance.direction,
                    value_map=self.instance.value_map
                    if isinstance(self.instance.value_map, dict)
                    else {},
                )
                setup._check_free(
                    self.instance.connection,
                    self.instance.field_a,
                    self.instance.field_b,
                    exclude=self.instance.pk,
                )
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned

    def save(self) -> FieldMapping:
        fields = self.connection_fields
        return setup.field_mapping_update(
            field_mapping=self.instance,
            enabled=bool(self.cleaned_data.get("enabled")),
            fields_a=fields.a.field_list,
            fields_b=fields.b.field_list,
            name_style_a=fields.a.capabilities.name_style,
            name_style_b=fields.b.capabilities.name_style,
            value_map=self.instance.value_map if isinstance(self.instance.value_map, dict) else {},
        )


# -- Connections ----------------------------------------------------------------------------------

INTERVALS: list[tuple[int, str]] = [
    (60, "Every minute"),
    (300, "Every 5 minutes"),
    (900, "Every 15 minutes"),
    (1800, "Every 30 minutes"),
    (3600, "Every hour"),
    (6 * 3600, "Every 6 hours"),
    (24 * 3600, "Once a day"),
]


def _interval_label(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"Every {seconds // 3600} hours"
    if seconds % 60 == 0:
        return f"Every {seconds // 60} minutes"
    return f"Every {seconds} seconds"


def _capabilities(account: ConnectedAccount) -> Capabilities:
    return connector_class(account.app).capabilities


class ConnectionOptionsForm(forms.ModelForm):
    """Which app wins a conflict, whether to skip contacts without email, how often to sync,
    and the options both apps support (an option one app lacks is not offered at all)."""

    winner = forms.ChoiceField(label="When a field changed in both apps, keep the value of")
    sync_interval = forms.TypedChoiceField(label="Sync", coerce=int)

    class Meta:
        model = Connection
        fields = [
            "winner",
            "avoid_duplicates",
            "sync_interval",
            "sync_deletions",
            "sync_unsubscribes",
        ]
        labels = {
            "avoid_duplicates": "Avoid duplicates: skip contacts without an email address",
        }

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        instance: Connection,
        fields: ConnectionFields | None = None,
        prefix: str | None = None,
    ) -> None:
        super().__init__(data, instance=instance, prefix=prefix)
        if fields is not None:
            app_a, app_b = fields.a.app, fields.b.app
            caps_a, caps_b = fields.a.capabilities, fields.b.capabilities
        else:
            app_a, app_b = instance.account_a.app_name, instance.account_b.app_name
            caps_a, caps_b = _capabilities(instance.account_a), _capabilities(instance.account_b)
        self.capabilities = (caps_a, caps_b)
        _set_choices(self, "winner", [(Side.A, app_a), (Side.B, app_b)])
        intervals = list(INTERVALS)
        if instance.sync_interval not in dict(intervals):
            intervals.append((instance.sync_interval, _interval_label(instance.sync_interval)))
            intervals.sort()
        _set_choices(self, "sync_interval", intervals)
        both = (caps_a, caps_b)
        if all(c.supports_deletions for c in both):
            self.fields["sync_deletions"].label = (
                f"Sync deletions: a contact deleted in one app gets the "
                f"{caps_b.tag_noun} / {caps_a.tag_noun} 'Tandem Trash' in the other"
            )
        else:
            del self.fields["sync_deletions"]
        if all(c.supports_unsubscribes for c in both):
            self.fields["sync_unsubscribes"].label = (
                "Sync unsubscribes: an unsubscribe in one app is tagged 'Tandem Unsubscribes' "
                "in the other"
            )
        else:
            del self.fields["sync_unsubscribes"]

    def save(self, commit: bool = True) -> Connection:
        if not commit:
            # The admin saves in two steps; the service does the real write on commit.
            return super().save(commit=False)
        data = self.cleaned_data
        caps_a, caps_b = self.capabilities
        stored = Connection.objects.get(pk=self.instance.pk)
        self.instance = setup.connection_settings_update(
            connection=stored,
            capabilities_a=caps_a,
            capabilities_b=caps_b,
            winner=data["winner"],
            avoid_duplicates=bool(data.get("avoid_duplicates")),
            sync_interval=int(data["sync_interval"]),
            sync_deletions=bool(data.get("sync_deletions", False)),
            sync_unsubscribes=bool(data.get("sync_unsubscribes", False)),
        )
        return self.instance


class _AccountChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.app_name}: {obj.label}"


class ConnectionForm(forms.Form):
    """A new connection between two of the workspace's accounts, with a direction named by
    the apps. The two apps are asked for their fields in ``clean()``: an app that cannot
    answer is a form error, and nothing is created."""

    account_a = _AccountChoice(queryset=ConnectedAccount.objects.none(), label="First app")
    account_b = _AccountChoice(queryset=ConnectedAccount.objects.none(), label="Second app")
    direction = forms.ChoiceField(label="Direction")
    name = forms.CharField(label="Name", required=False, max_length=200)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        workspace: Workspace,
        account_a: ConnectedAccount | None = None,
        account_b: ConnectedAccount | None = None,
        start: bool = True,
        prefix: str | None = None,
    ) -> None:
        initial = {"account_a": account_a, "account_b": account_b}
        super().__init__(data, prefix=prefix, initial=initial)
        self.workspace = workspace
        self.start = start
        self.connection_fields: ConnectionFields | None = None
        accounts: QuerySet[ConnectedAccount] = ConnectedAccount.objects.filter(workspace=workspace)
        for name, fixed in (("account_a", account_a), ("account_b", account_b)):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = accounts
            if fixed is not None:
                field.disabled = True
                field.label = f"{fixed.app_name} account"
        name_a = account_a.app_name if account_a else "the first app"
        name_b = account_b.app_name if account_b else "the second app"
        _set_choices(
            self,
            "direction",
            [
                (Connection.Direction.TWO_WAY, f"Two-way: {name_a} ⇄ {name_b}"),
                (Connection.Direction.A_TO_B, f"One-way: {name_a} → {name_b}"),
                (Connection.Direction.B_TO_A, f"One-way: {name_b} → {name_a}"),
            ],
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        a, b = cleaned.get("account_a"), cleaned.get("account_b")
        if a is None or b is None:
            return cleaned
        if a.pk == b.pk:
            self.add_error("account_b", "Choose two different accounts.")
            return cleaned
        try:
            self.connection_fields = ConnectionFields.load_accounts(a, b)
        except FieldsUnavailable as exc:
            self.add_error(None, exc.message)
        return cleaned

    def save(self) -> Connection:
        assert self.connection_fields is not None, "save() after a successful is_valid()"
        data = self.cleaned_data
        return setup.connection_create(
            workspace=self.workspace,
            account_a=data["account_a"],
            account_b=data["account_b"],
            direction=data["direction"],
            name=data.get("name") or "",
            start=self.start,
            **self.connection_fields.service_kwargs(),
        )
