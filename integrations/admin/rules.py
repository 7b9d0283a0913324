"""Rules with their conditions and actions. Conditions and actions are edited through the
rule's validated forms, against the connection's fields and the rule's direction; a rule's
"other way around" follows every change."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.admin_scope import WorkspaceScopedAdmin
from integrations import services
from integrations.admin.base import bind_form, connection_fields
from integrations.connectors.base import ConnectorError
from integrations.connectors.registry import connector_class
from integrations.forms import ActionForm, ConditionForm
from integrations.models import Action, Condition, Connection, Rule
from integrations.services import setup


def _problem(exc: Exception) -> str:
    if isinstance(exc, ConnectorError):
        return exc.message
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


class ConditionInline(admin.TabularInline):
    model = Condition
    form = ConditionForm
    extra = 1
    fields = ["field", "operator", "value"]


class ActionInline(admin.TabularInline):
    model = Action
    form = ActionForm
    extra = 1
    fields = ["kind", "field", "value"]


class ConditionReadOnlyInline(admin.TabularInline):
    model = Condition
    extra = 0
    fields = readonly_fields = ("kind", "field", "operator", "value")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ActionReadOnlyInline(admin.TabularInline):
    model = Action
    extra = 0
    fields = readonly_fields = ("kind", "field", "value")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RuleAdminForm(forms.ModelForm):
    """A rule's own settings. Its mirror ("other way around") is a rule of the same connection
    for the opposite direction, never itself."""

    class Meta:
        model = Rule
        fields = ["connection", "direction", "position", "name", "undo", "mirror"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mirror = self.fields.get("mirror")
        if isinstance(mirror, forms.ModelChoiceField) and self.instance.pk:
            mirror.queryset = Rule.objects.filter(
                connection_id=self.instance.connection_id
            ).select_related("connection__account_a", "connection__account_b")
            mirror.label = "Other way around"
            mirror.label_from_instance = _rule_by_apps  # type: ignore[method-assign,assignment]
            mirror.help_text = "The rule for the opposite direction kept in step with this one."
        connection = self._connection()
        direction = self.fields.get("direction")
        if connection is not None and isinstance(direction, forms.ChoiceField):
            direction.choices = [
                ("", "---------"),
                *((value, _direction_by_apps(connection, value)) for value in Rule.Direction),
            ]

    def _connection(self) -> Connection | None:
        if self.instance.connection_id:
            return self.instance.connection
        wanted = self.initial.get("connection") or self.data.get(self.add_prefix("connection"))
        field = self.fields.get("connection")
        if not isinstance(field, forms.ModelChoiceField):
            return None
        try:
            # Only among the choices: another workspace's connection names no apps here.
            return field.clean(wanted)
        except ValidationError:
            return None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        connection = cleaned.get("connection") or (
            self.instance.connection if self.instance.connection_id else None
        )
        direction = cleaned.get("direction") or self.instance.direction
        if connection is None or not direction:
            return cleaned
        if not setup._direction_synced(connection, direction):
            self.add_error(
                "direction" if "direction" in self.fields else None,
                f"{connection} does not sync this way ({connection.get_direction_display()}).",
            )
        position = cleaned.get("position")
        if position is not None and self.instance.pk is not None:
            taken = Rule.objects.filter(
                connection=connection, direction=direction, position=position
            ).exclude(pk=self.instance.pk)
            if taken.exists():
                self.add_error("position", "Another rule of this direction has this position.")
        mirror = cleaned.get("mirror")
        if mirror is not None:
            if self.instance.pk is not None and mirror.pk == self.instance.pk:
                self.add_error("mirror", "A rule cannot be its own other way around.")
            elif mirror.connection_id != connection.pk:
                self.add_error("mirror", "The other way around is a rule of the same connection.")
            elif mirror.direction == direction:
                self.add_error(
                    "mirror", "The other way around is a rule for the opposite direction."
                )
        return cleaned


def _direction_by_apps(connection: Connection, direction: str) -> str:
    apps = (connection.account_a.app_name, connection.account_b.app_name)
    source, target = apps if direction == Rule.Direction.A_TO_B else apps[::-1]
    return f"{source} → {target}"


def _rule_by_apps(rule: Rule) -> str:
    return f"{rule} ({_direction_by_apps(rule.connection, rule.direction)})"


@admin.register(Rule)
class RuleAdmin(WorkspaceScopedAdmin):
    workspace_path = "connection__workspace"
    form = RuleAdminForm
    list_display = ["__str__", "connection", "direction", "position", "undo"]
    list_filter = ["direction", "undo"]
    search_fields = ["name", "connection__name"]
    autocomplete_fields = ["connection"]

    def get_fields(self, request: HttpRequest, obj: Rule | None = None) -> Any:
        if obj is None:
            return ["connection", "direction", "name", "undo"]
        return ["connection", "syncs", "position", "name", "undo", "mirror"]

    def get_readonly_fields(self, request: HttpRequest, obj: Rule | None = None) -> Any:
        # Conditions and actions are written for one connection's apps and one direction.
        return ["connection", "syncs"] if obj is not None else []

    @admin.display(description="Direction")
    def syncs(self, obj: Rule) -> str:
        return _direction_by_apps(obj.connection, obj.direction)

    def get_inlines(self, request: HttpRequest, obj: Rule | None) -> Any:
        if obj is None:
            # Conditions and actions come once the rule knows its connection and direction.
            return []
        if self.has_change_permission(request, obj) and connection_fields(request, obj.connection):
            return [ConditionInline, ActionInline]
        return [ConditionReadOnlyInline, ActionReadOnlyInline]

    def get_formset_kwargs(
        self, request: HttpRequest, obj: Any, inline: Any, prefix: str
    ) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, ConditionInline | ActionInline):
            fields = connection_fields(request, obj.connection)
            kwargs["form_kwargs"] = {"fields": fields, "direction": obj.direction}
        return kwargs

    def save_model(self, request: HttpRequest, obj: Rule, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new rule goes last among its direction's rules, like the customer pages add it.
        caps_a = connector_class(obj.connection.account_a.app).capabilities
        caps_b = connector_class(obj.connection.account_b.app).capabilities
        created = setup.rule_create(
            connection=obj.connection,
            direction=obj.direction,
            conditions=[],
            actions=[],
            fields_a=[],
            fields_b=[],
            capabilities_a=caps_a,
            capabilities_b=caps_b,
            undo=obj.undo,
            name=obj.name,
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if change:
            _keep_partner_in_step(self, request, form.instance)

    def delete_model(self, request: HttpRequest, obj: Rule) -> None:
        services.rule_delete(rule=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        for rule in queryset:
            if Rule.objects.filter(pk=rule.pk).exists():
                services.rule_delete(rule=rule)


def _keep_partner_in_step(model_admin: admin.ModelAdmin, request: HttpRequest, rule: Rule) -> None:
    """After the admin changed a rule's conditions or actions, rewrite its "other way around"
    rule to match; when that cannot be done, say so (the change itself stays saved)."""
    partner = setup._partner(rule)
    fields = connection_fields(request, rule.connection)
    if partner is None or fields is None:
        return
    try:
        setup.rule_mirror_refresh(rule=rule, **fields.service_kwargs())
    except ValidationError as exc:
        model_admin.message_user(
            request,
            f"Saved, but the other way around ({partner}) could not follow and was left as "
            f"it was: {_problem(exc)}",
            level=messages.WARNING,
        )


class _PartAdmin(WorkspaceScopedAdmin):
    """A condition or action edited on its own page, through the rule's validated form;
    new ones are added on their rule's page, where the rule's apps are known."""

    workspace_path = "rule__connection__workspace"

    part_form: type[forms.BaseForm] = forms.ModelForm
    readonly_fields = ["rule"]
    raw_id_fields = ["rule"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        if allowed and obj is not None:
            return connection_fields(request, obj.rule.connection) is not None
        return allowed

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            return super().get_form(request, obj, change, **kwargs)
        fields = connection_fields(request, obj.rule.connection)
        if fields is None:
            return super().get_form(request, obj, change, **kwargs)
        kwargs["form"] = bind_form(self.part_form, fields=fields, direction=obj.rule.direction)
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _keep_partner_in_step(self, request, obj.rule)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        rule = obj.rule
        super().delete_model(request, obj)
        _keep_partner_in_step(self, request, rule)


@admin.register(Condition)
class ConditionAdmin(_PartAdmin):
    part_form = ConditionForm
    list_display = ["__str__", "rule", "kind"]
    list_filter = ["kind"]
    search_fields = ["field", "operator", "rule__connection__name"]
    fields = ["rule", "field", "operator", "value"]


@admin.register(Action)
class ActionAdmin(_PartAdmin):
    part_form = ActionForm
    list_display = ["__str__", "rule", "kind"]
    list_filter = ["kind"]
    search_fields = ["field", "rule__connection__name"]
    fields = ["rule", "kind", "field", "value"]
