"""Field mappings: a custom one added, an existing one changed or turned on and off, with
its value map (dropdown choices paired line by line) checked against both apps' fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from integrations.forms.fields import ConnectionFields
from integrations.forms.values import choice_of, grouped_field_choices, set_choices, type_label
from integrations.models import Connection, FieldMapping
from integrations.services import setup
from integrations.sync import mapping as mapping_mod
from integrations.sync.fields import FieldSpec, FieldType
from integrations.sync.records import NAME

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
        set_choices(
            self,
            "field_a",
            [
                *grouped_field_choices(a, include=[k for k in keys_a if k != NAME]),
                *([("Name", name_choice)] if NAME in keys_a else []),
            ],
        )
        set_choices(
            self,
            "field_b",
            [
                *grouped_field_choices(b, include=[k for k in keys_b if k != NAME]),
                *([("Name", name_choice)] if NAME in keys_b else []),
            ],
        )
        self.fields["field_a"].label = f"{a.app} field"
        self.fields["field_b"].label = f"{b.app} field"
        set_choices(self, "direction", fields.mapping_direction_choices())
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
                source = choice_of(f"{a.app} field {spec_a.label}", spec_a.choices, source)
            if spec_b.choices:
                target = choice_of(f"{b.app} field {spec_b.label}", spec_b.choices, target)
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
