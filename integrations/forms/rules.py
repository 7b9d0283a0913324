"""A rule with its conditions (IF) and actions (THEN): each typed by the connection's fields
and checked with the engine's own validators, and the rule saved through the set-up services
with its "other way around" kept in step."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from integrations.forms.fields import ConnectionFields, rule_sides
from integrations.forms.values import (
    OPERATOR_GROUPS,
    OPERATOR_LABELS,
    SuggestingInput,
    choice_of,
    grouped_field_choices,
    set_choices,
    suggest,
    type_label,
    typed_value,
    value_text,
)
from integrations.models import Action, Condition, Connection, Rule, Side
from integrations.services import setup
from integrations.sync import actions as actions_mod
from integrations.sync import conditions as conditions_mod
from integrations.sync import mapping as mapping_mod
from integrations.sync.fields import FieldSpec, FieldType

EXISTS_IN_OTHER = conditions_mod.EXISTS_IN_OTHER

# "low and high", "low; high", "low, high" or "low .. high".
_RANGE_SPLIT = re.compile(r"\s*(?:\band\b|;|,|\.\.|…)\s*", re.IGNORECASE)


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
        source, target = rule_sides(direction)
        self.source = fields.side(source)
        self.target = fields.side(target)
        self.condition: dict[str, Any] | None = None
        stored = self.instance.field if self.instance.pk else None
        subjects = grouped_field_choices(
            self.source,
            include=[stored] if stored and self.instance.kind == Condition.Kind.FIELD else [],
        )
        specials = [(key, spec.label) for key, spec in self.source.specials.items()]
        if specials:
            subjects.append((f"{self.source.app} conditions", specials))
        subjects.append(("Other", [(EXISTS_IN_OTHER, f"Already exists in {self.target.app}")]))
        set_choices(self, "field", subjects)
        self.fields["field"].label = f"{self.source.app} field"
        set_choices(self, "operator", [("", "—"), *OPERATOR_GROUPS])
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
            suggest(self, "value", choices, "One of")
        elif (spec and spec.type == FieldType.TAGS) or (special and not special.choices):
            noun = self.source.capabilities.tag_noun
            suggest(
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
                    _at_value(lambda: choice_of(special.label, special.choices, text))
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
        source, target = rule_sides(direction)
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
        set_choices(self, "kind", kinds)
        stored = self.instance.field if self.instance.pk else ""
        set_choices(
            self,
            "field",
            grouped_field_choices(
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
            suggest(
                self, "value", self.target.tag_names, f"{noun.capitalize()}s in {self.target.app}"
            )
            return
        key = self.data.get(self.add_prefix("field")) if self.is_bound else None
        spec = self.target.specs.get(str(key or self.initial.get("field") or ""))
        if spec is not None and spec.choices:
            suggest(self, "value", spec.choices, "One of")

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
        source, target = rule_sides(self.direction)
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
