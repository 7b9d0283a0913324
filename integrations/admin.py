"""The ops admin. Configuration goes through the same validated forms as the customer pages
(``integrations/forms.py``), so a condition, mapping or option the engine cannot honour is a
form error here too. Run history is read-only; actions need the change permission. Staff see
only their own workspaces' objects unless they may support every workspace
(``accounts/admin_scope.py``)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from accounts.admin_scope import WorkspaceFreeAdmin, WorkspaceScopedAdmin
from integrations import services
from integrations.connectors.base import Capabilities, ConnectorError
from integrations.connectors.registry import connector_class
from integrations.forms import (
    ActionForm,
    ConditionForm,
    ConnectionFields,
    FieldMappingForm,
    FieldsUnavailable,
)
from integrations.models import (
    Action,
    AppRequest,
    AppVote,
    AuditEntry,
    BeatTick,
    Condition,
    Connection,
    CreateIntent,
    FieldMapping,
    RecordIssue,
    RecordLink,
    Rule,
    RunNote,
    Side,
    SyncRun,
)
from integrations.services import setup
from integrations.webhooks.models import (
    WebhookCount,
    WebhookDelivery,
    WebhookSubscription,
    WebhookWake,
)

# What the sync loop (or the webhook receiver) writes and nobody edits; deleting their owner
# still deletes them.
HISTORY_MODELS = (
    SyncRun, RecordLink, CreateIntent, RecordIssue, AuditEntry, RunNote, BeatTick,
    WebhookSubscription, WebhookWake,
)  # fmt: skip


def _capabilities(app: str) -> Capabilities | None:
    try:
        return connector_class(app).capabilities
    except LookupError:
        return None


def _problem(exc: Exception) -> str:
    if isinstance(exc, ConnectorError):
        return exc.message
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


def connection_fields(request: HttpRequest, connection: Connection) -> ConnectionFields | None:
    """Both apps' fields for ``connection``, asked once per request. When an app cannot answer,
    ``None``, and the reason is shown once as an admin message."""
    cache: dict[int, ConnectionFields | str] = request.__dict__.setdefault("_tandem_fields", {})
    if connection.pk not in cache:
        try:
            cache[connection.pk] = ConnectionFields.load(connection)
        except FieldsUnavailable as exc:
            cache[connection.pk] = exc.message
            messages.error(
                request,
                f"The apps' fields could not be loaded, so conditions, actions and mappings of "
                f"{connection} are read-only for now: {exc.message}",
            )
    found = cache[connection.pk]
    return found if isinstance(found, ConnectionFields) else None


def _bind(form: type[forms.BaseForm], **bound: Any) -> type[forms.BaseForm]:
    """``form`` with keyword arguments the admin does not know to pass (the loaded fields)."""

    class Bound(form):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **bound, **kwargs)

    Bound.__name__ = form.__name__
    return Bound


class CascadesHistory(admin.ModelAdmin):
    """Deleting a connection (or what owns one) deletes its history with it: the history
    admins refuse deleting rows one by one, which must not block the cascade."""

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if self.has_delete_permission(request):
            history = {str(m._meta.verbose_name) for m in HISTORY_MODELS}
            perms_needed = {p for p in perms_needed if str(p) not in history}
        return deleted, counts, perms_needed, protected


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by the sync loop only; ops staff read it."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# -- Connections ----------------------------------------------------------------------------------


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    form = FieldMappingForm
    extra = 0
    fields = ["field_a", "field_b", "direction", "enabled", "is_default", "value_map"]
    readonly_fields = ["is_default"]


class FieldMappingReadOnlyInline(admin.TabularInline):
    """The mappings as they are, while the apps cannot tell their fields."""

    model = FieldMapping
    extra = 0
    fields = readonly_fields = (
        "field_a", "field_b", "direction", "enabled", "is_default", "value_map",
    )  # fmt: skip
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RuleInline(admin.TabularInline):
    """Rules are edited on their own page (conditions and actions need the rule's direction);
    here they are listed with a link."""

    model = Rule
    extra = 0
    fields = readonly_fields = ("direction", "position", "name", "undo", "summary", "edit")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="IF … THEN")
    def summary(self, obj: Rule) -> str:
        if obj.pk is None:
            return "-"
        conditions = " and ".join(str(c) for c in obj.conditions.all()) or "all contacts"
        actions = ", ".join(str(a) for a in obj.actions.all())
        return f"IF {conditions} THEN sync" + (f" and {actions}" if actions else "")

    @admin.display(description="Conditions and actions")
    def edit(self, obj: Rule) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("admin:integrations_rule_change", args=[obj.pk])
        return format_html('<a href="{}">edit</a>', url)


class RunInline(admin.TabularInline):
    model = SyncRun
    extra = 0
    max_num = 0
    can_delete = False
    fields = readonly_fields = (
        "started_at", "phase", "outcome", "dry_run", "read_a", "read_b", "created_a",
        "created_b", "updated_a", "updated_b", "failed", "api_calls",
    )  # fmt: skip
    show_change_link = True
    ordering = ["-started_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SyncRun]:
        return super().get_queryset(request).order_by("-started_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ConnectionAdminForm(forms.ModelForm):
    """Options are checked against what both apps support; a new connection asks both apps for
    their fields first (its default mappings come from them), and an app that cannot answer
    is a form error: nothing is saved."""

    start = forms.BooleanField(
        label="Start syncing right away",
        required=False,
        initial=True,
        help_text="Off: the connection is saved as a draft to finish configuring first.",
    )

    class Meta:
        model = Connection
        fields = [
            "workspace", "name", "account_a", "account_b", "direction", "winner",
            "avoid_duplicates", "sync_deletions", "sync_unsubscribes", "sync_interval",
            "next_sync_at", "mass_tag_confirmed",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection_fields: ConnectionFields | None = None
        for name, label in (
            ("account_a", "First app's account"),
            ("account_b", "Second app's account"),
        ):
            if name in self.fields:
                self.fields[name].label = label
        if self.instance.pk:
            # Sides by their apps, never "A" / "B".
            app_a = self.instance.account_a.app_name
            app_b = self.instance.account_b.app_name
            named: dict[str, list[tuple[str, str]]] = {
                "winner": [(Side.A, app_a), (Side.B, app_b)],
                "direction": [
                    (Connection.Direction.TWO_WAY, f"Two-way: {app_a} ⇄ {app_b}"),
                    (Connection.Direction.A_TO_B, f"One-way: {app_a} → {app_b}"),
                    (Connection.Direction.B_TO_A, f"One-way: {app_b} → {app_a}"),
                ],
            }
            for name, choices in named.items():
                field = self.fields.get(name)
                if isinstance(field, forms.ChoiceField):
                    field.choices = choices

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        stored = self.instance if self.instance.pk else None
        a = cleaned.get("account_a") or (stored.account_a if stored else None)
        b = cleaned.get("account_b") or (stored.account_b if stored else None)
        if a is None or b is None:
            return cleaned
        interval = cleaned.get("sync_interval")
        if interval is not None and not (
            setup.SHORTEST_INTERVAL <= interval <= setup.LONGEST_INTERVAL
        ):
            self.add_error("sync_interval", "Sync between every minute and once a week.")
        try:
            caps = (connector_class(a.app).capabilities, connector_class(b.app).capabilities)
        except LookupError as exc:
            self.add_error(None, str(exc))
            return cleaned
        for option, supported in (
            ("sync_deletions", all(c.supports_deletions for c in caps)),
            ("sync_unsubscribes", all(c.supports_unsubscribes for c in caps)),
        ):
            if cleaned.get(option) and not supported:
                self.add_error(
                    option,
                    f"{a.app_name} and {b.app_name} do not both support this option.",
                )
        if self.instance.pk is None and not self.errors:
            try:
                self.connection_fields = ConnectionFields.load_accounts(a, b)
            except FieldsUnavailable as exc:
                self.add_error(None, f"The apps' fields could not be loaded: {exc.message}")
        return cleaned


@admin.register(Connection)
class ConnectionAdmin(WorkspaceScopedAdmin, CascadesHistory):
    form = ConnectionAdminForm
    list_display = [
        "__str__", "workspace", "direction", "status", "next_sync_at", "last_run_at",
        "health_summary",
    ]  # fmt: skip
    list_filter = ["status", "direction", "account_a__app", "account_b__app"]
    search_fields = ["name", "workspace__name", "account_a__label", "account_b__label"]
    autocomplete_fields = ["workspace", "account_a", "account_b"]
    # The status follows from facts (runs, accounts) and the Pause / Resume / Resync actions;
    # the checkpoints are the loop's own: a hand-typed one would skip or repeat records.
    readonly_fields = [
        "status", "status_reason", "health_summary", "failed_by_reason", "lease_owner",
        "lease_expires_at", "lease_generation", "last_run_at", "created_at", "updated_at",
        "checkpoint_a", "checkpoint_b", "add_rule",
    ]  # fmt: skip
    actions = ["sync_now", "pause", "resume", "resync"]

    def get_fieldsets(self, request: HttpRequest, obj: Connection | None = None) -> Any:
        sync = [
            "direction", "winner", "avoid_duplicates", "sync_deletions", "sync_unsubscribes",
            "sync_interval", "next_sync_at",
        ]  # fmt: skip
        if obj is None:
            return (
                (None, {"fields": ("workspace", "name", "account_a", "account_b")}),
                ("Sync", {"fields": [*sync, "start"]}),
            )
        # An option one of the two apps lacks is not offered at all.
        caps = [_capabilities(obj.account_a.app), _capabilities(obj.account_b.app)]
        if not all(c is not None and c.supports_deletions for c in caps):
            sync.remove("sync_deletions")
        if not all(c is not None and c.supports_unsubscribes for c in caps):
            sync.remove("sync_unsubscribes")
        return (
            (None, {"fields": ("workspace", "name", "apps")}),
            ("Sync", {"fields": sync}),
            (
                "Status",
                {"fields": ("status", "status_reason", "mass_tag_confirmed", "last_run_at")},
            ),
            ("Health", {"fields": ("health_summary", "failed_by_reason")}),
            ("Rules", {"fields": ("add_rule",)}),
            (
                "Loop internals",
                {
                    "classes": ("collapse",),
                    "fields": (
                        "checkpoints",
                        "lease_owner",
                        "lease_expires_at",
                        "lease_generation",
                        "created_at",
                        "updated_at",
                    ),
                },
            ),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Connection | None = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # Another pair of accounts is another connection: its links would be wrong.
            readonly += ["workspace", "account_a", "account_b", "apps", "checkpoints"]
        return readonly

    @admin.display(description="Accounts")
    def apps(self, obj: Connection) -> str:
        return f"{obj.account_a} ⇄ {obj.account_b}"

    @admin.display(description="Checkpoints (where each app's change feed is read from)")
    def checkpoints(self, obj: Connection) -> str:
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{}: {}</li>",
                (
                    (obj.account_a.app_name, json.dumps(obj.checkpoint_a) or "-"),
                    (obj.account_b.app_name, json.dumps(obj.checkpoint_b) or "-"),
                ),
            ),
        )

    def get_inlines(self, request: HttpRequest, obj: Connection | None) -> Any:
        if obj is None:
            # A new connection starts with the default mappings and rules of its two apps.
            return []
        mappings = (
            FieldMappingInline
            if self.has_change_permission(request, obj) and connection_fields(request, obj)
            else FieldMappingReadOnlyInline
        )
        return [mappings, RuleInline, RunInline]

    def get_formset_kwargs(
        self, request: HttpRequest, obj: Any, inline: Any, prefix: str
    ) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, FieldMappingInline):
            fields = connection_fields(request, obj)
            kwargs["form_kwargs"] = {"fields": fields, "connection": obj}
        return kwargs

    def save_model(self, request: HttpRequest, obj: Connection, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        fields = form.connection_fields
        assert isinstance(fields, ConnectionFields), "clean() loaded both apps' fields"
        created = setup.connection_create(
            workspace=obj.workspace,
            account_a=obj.account_a,
            account_b=obj.account_b,
            name=obj.name,
            direction=obj.direction,
            winner=obj.winner,
            avoid_duplicates=obj.avoid_duplicates,
            sync_deletions=obj.sync_deletions,
            sync_unsubscribes=obj.sync_unsubscribes,
            start=bool(form.cleaned_data.get("start")),
            sync_interval=obj.sync_interval,
            **fields.service_kwargs(),
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    @admin.display(description="Add a rule")
    def add_rule(self, obj: Connection) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("admin:integrations_rule_add") + "?" + urlencode({"connection": obj.pk})
        return format_html('<a href="{}">Add a rule to this connection</a>', url)

    @admin.display(description="Health")
    def health_summary(self, obj: Connection) -> str:
        health = obj.health or {}
        if not health:
            return "no run yet"
        failed = health.get("failed") or {}
        failed_total = sum(failed.values()) if isinstance(failed, dict) else failed
        return (
            f"{health.get('in_sync', 0)} in sync, {health.get('excluded', 0)} excluded, "
            f"{health.get('duplicates', 0)} duplicates, {failed_total} failed"
        )

    @admin.display(description="Failed, by reason")
    def failed_by_reason(self, obj: Connection) -> str:
        failed = (obj.health or {}).get("failed") or {}
        if not isinstance(failed, dict) or not failed:
            return "-"
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li>{}: {}</li>", sorted(failed.items())),
        )

    @admin.action(description="Sync now", permissions=["change"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset:
            try:
                services.connection_sync_now(connection=connection)
            except services.ConnectionNotRunnable as exc:
                self.message_user(request, str(exc), level=messages.WARNING)
            else:
                self.message_user(request, f"{connection}: sync queued.")

    @admin.action(description="Pause", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset:
            services.connection_pause(connection=connection)
        self.message_user(request, f"Paused {queryset.count()} connection(s).")

    @admin.action(description="Resume", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset:
            services.connection_resume(connection=connection)
        self.message_user(request, f"Resumed {queryset.count()} connection(s).")

    @admin.action(description="Resync from scratch", permissions=["change"])
    def resync(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset:
            services.connection_resync(connection=connection)
        self.message_user(request, f"{queryset.count()} connection(s) will scan again.")


# -- Rules, conditions, actions -------------------------------------------------------------------


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
        if not str(wanted).isdigit() or not isinstance(field, forms.ModelChoiceField):
            return None
        # Only among the choices: another workspace's connection names no apps here.
        return field.queryset.filter(pk=int(str(wanted))).first()  # type: ignore[union-attr]

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
        kwargs["form"] = _bind(self.part_form, fields=fields, direction=obj.rule.direction)
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


@admin.register(FieldMapping)
class FieldMappingAdmin(WorkspaceScopedAdmin):
    """Changing or toggling one mapping; new custom mappings are added on their connection's
    page, where both apps' fields are known."""

    workspace_path = "connection__workspace"

    list_display = ["__str__", "connection", "direction", "enabled", "is_default"]
    list_filter = ["direction", "enabled", "is_default"]
    search_fields = ["field_a", "field_b", "connection__name"]
    fields = ["connection", "field_a", "field_b", "direction", "enabled", "value_map"]
    readonly_fields = ["connection"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        if allowed and obj is not None:
            return connection_fields(request, obj.connection) is not None
        return allowed

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        fields = connection_fields(request, obj.connection) if obj is not None else None
        if fields is not None:
            kwargs["form"] = _bind(FieldMappingForm, fields=fields, connection=obj.connection)
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: FieldMapping, form: Any, change: bool) -> None:
        form.save(commit=True)


# -- History --------------------------------------------------------------------------------------


@admin.register(RecordLink)
class RecordLinkAdmin(WorkspaceScopedAdmin, ReadOnlyAdmin):
    workspace_path = "connection__workspace"
    list_display = ["id_a", "id_b", "connection", "synced_at", "deleted_a", "deleted_b"]
    list_filter = ["deleted_a", "deleted_b"]
    search_fields = ["id_a", "id_b", "connection__name"]


@admin.register(CreateIntent)
class CreateIntentAdmin(WorkspaceScopedAdmin, ReadOnlyAdmin):
    workspace_path = "connection__workspace"
    list_display = ["key", "connection", "target", "source_id", "created_at", "completed_at"]
    list_filter = ["target"]
    search_fields = ["source_id", "target_id", "connection__name"]


@admin.register(SyncRun)
class SyncRunAdmin(WorkspaceScopedAdmin, ReadOnlyAdmin):
    workspace_path = "connection__workspace"
    list_display = [
        "started_at", "connection", "phase", "outcome", "dry_run", "read_a", "read_b",
        "created_a", "created_b", "updated_a", "updated_b", "failed", "api_calls",
    ]  # fmt: skip
    list_filter = ["outcome", "phase", "dry_run"]
    search_fields = ["connection__name", "error"]
    date_hierarchy = "started_at"


@admin.register(RecordIssue)
class RecordIssueAdmin(WorkspaceScopedAdmin, ReadOnlyAdmin):
    workspace_path = "connection__workspace"
    list_display = [
        "record_id", "connection", "side", "target", "reason", "attempts", "last_seen_at",
        "resolved_at",
    ]  # fmt: skip
    list_filter = ["side", "target", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["record_id", "reason", "connection__name"]


@admin.register(AuditEntry)
class AuditEntryAdmin(WorkspaceScopedAdmin, ReadOnlyAdmin):
    workspace_path = "connection__workspace"
    list_display = ["created_at", "connection", "run", "side", "record_id", "kind", "field", "why"]
    list_filter = ["kind", "why", "side"]
    search_fields = ["record_id", "field", "connection__name"]
    raw_id_fields = ["run"]


@admin.register(RunNote)
class RunNoteAdmin(WorkspaceScopedAdmin, ReadOnlyAdmin):
    workspace_path = "connection__workspace"
    list_display = ["created_at", "connection", "run", "kind", "side", "record_id", "reason"]
    list_filter = ["kind", "side"]
    search_fields = ["record_id", "field", "reason", "connection__name"]
    raw_id_fields = ["run"]


@admin.register(BeatTick)
class BeatTickAdmin(WorkspaceFreeAdmin, ReadOnlyAdmin):
    list_display = ["name", "at"]


# -- Webhooks: written by the receiver, read here ------------------------------------------------


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(WorkspaceScopedAdmin, ReadOnlyAdmin):
    workspace_path = "account__workspace"
    # The signing secret and the receiver URL's key are secrets: never shown.
    fields = readonly_fields = (
        "account", "app", "remote_id", "author_id", "created_at", "last_delivery_at",
    )  # fmt: skip
    list_display = ["__str__", "account", "app", "created_at", "last_delivery_at"]
    list_filter = ["app"]
    search_fields = ["account__label", "remote_id"]


@admin.register(WebhookWake)
class WebhookWakeAdmin(WorkspaceScopedAdmin, ReadOnlyAdmin):
    workspace_path = "connection__workspace"
    list_display = ["__str__", "overflow", "requested_at", "queued_at"]
    search_fields = ["connection__name"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(WorkspaceFreeAdmin, ReadOnlyAdmin):
    list_display = ["app", "event_key", "received_at"]
    list_filter = ["app"]
    search_fields = ["event_key"]


@admin.register(WebhookCount)
class WebhookCountAdmin(WorkspaceFreeAdmin, ReadOnlyAdmin):
    list_display = ["app", "outcome", "count", "last_at"]
    list_filter = ["app", "outcome"]


# -- The apps pipeline ----------------------------------------------------------------------------


@admin.register(AppVote)
class AppVoteAdmin(WorkspaceFreeAdmin, admin.ModelAdmin):
    list_display = ["app", "user", "created_at"]
    list_filter = ["app"]
    search_fields = ["app", "user__email"]
    raw_id_fields = ["user"]


@admin.register(AppRequest)
class AppRequestAdmin(WorkspaceFreeAdmin, admin.ModelAdmin):
    list_display = ["name", "user", "created_at"]
    search_fields = ["name", "note", "user__email"]
    raw_id_fields = ["user"]


# -- A run's page lists what it wrote to the apps (its audit entries) -------------------------

RUN_WRITES_SHOWN = 200


@admin.display(description="What this run wrote")
def _run_writes(admin_view: SyncRunAdmin, obj: SyncRun) -> str:
    entries = list(obj.audit_entries.order_by("id")[: RUN_WRITES_SHOWN + 1])
    if not entries:
        return "Nothing (a dry run, or its audit was pruned)." if obj.dry_run or obj.pk else "-"
    apps = {"a": obj.connection.account_a.app_name, "b": obj.connection.account_b.app_name}
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                apps.get(e.side, e.side), e.record_id, e.get_kind_display(), e.field or "-",
                "" if e.before is None else repr(e.before),
                "" if e.after is None else repr(e.after),
                e.get_why_display() + (f" ({e.detail})" if e.detail else ""),
            )
            for e in entries[:RUN_WRITES_SHOWN]
        ),
    )  # fmt: skip
    url = reverse("admin:integrations_auditentry_changelist") + "?" + urlencode({"run": obj.pk})
    more = (
        format_html('<p><a href="{}">All {} writes of this run</a></p>', url,
                    obj.audit_entries.count())
        if len(entries) > RUN_WRITES_SHOWN
        else format_html('<p><a href="{}">Search these writes</a></p>', url)
    )  # fmt: skip
    return format_html(
        "<table><thead><tr><th>App</th><th>Record</th><th>Write</th><th>Field</th>"
        "<th>Before</th><th>After</th><th>Why</th></tr></thead><tbody>{}</tbody></table>{}",
        rows,
        more,
    )


SyncRunAdmin.run_writes = _run_writes  # type: ignore[attr-defined]
SyncRunAdmin.readonly_fields = [*SyncRunAdmin.readonly_fields, "run_writes"]


# -- ... and why it left contacts alone or had to choose (its notes) ------------------------------

RUN_NOTES_SHOWN = 200


def _shown(value: Any) -> str:
    return "(empty)" if value in (None, "", [], {}) else repr(value)


def _notes_table(obj: SyncRun, kinds: list[str], headers: list[str], row: Any) -> str:
    notes = list(obj.notes.filter(kind__in=kinds).order_by("id")[: RUN_NOTES_SHOWN + 1])
    if not notes:
        return "None." if obj.pk else "-"
    apps = {"a": obj.connection.account_a.app_name, "b": obj.connection.account_b.app_name}
    rows = format_html_join("", "<tr>{}</tr>", ((row(n, apps),) for n in notes[:RUN_NOTES_SHOWN]))
    total = obj.notes.filter(kind__in=kinds).count()
    more = (
        format_html("<p>The first {} of {} kept.</p>", RUN_NOTES_SHOWN, total)
        if total > RUN_NOTES_SHOWN
        else ""
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>{}",
                       format_html_join("", "<th>{}</th>", ((h,) for h in headers)), rows,
                       more)  # fmt: skip


@admin.display(description="Conflicts")
def _run_conflicts(admin_view: SyncRunAdmin, obj: SyncRun) -> str:
    def row(n: RunNote, apps: dict[str, str]) -> str:
        return format_html(
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            f"{apps['a']} {n.record_id} ⇄ {apps['b']} {n.other_id}", n.field,
            _shown(n.value_a), _shown(n.value_b), apps.get(n.winner, "neither"), n.reason,
        )  # fmt: skip

    apps = (
        {"a": obj.connection.account_a.app_name, "b": obj.connection.account_b.app_name}
        if obj.pk
        else {"a": "one app", "b": "the other app"}
    )
    headers = ["Records", "Field", f"Value in {apps['a']}", f"Value in {apps['b']}", "Won", "Why"]
    return _notes_table(obj, [RunNote.Kind.CONFLICT], headers, row)


@admin.display(description="Excluded contacts and duplicates")
def _run_exclusions(admin_view: SyncRunAdmin, obj: SyncRun) -> str:
    def row(n: RunNote, apps: dict[str, str]) -> str:
        return format_html(
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            apps.get(n.side, n.side), n.record_id, n.get_kind_display(),
            n.reason + (f" ({n.field})" if n.kind == RunNote.Kind.DUPLICATE else ""),
        )  # fmt: skip

    headers = ["App", "Record", "What", "Why"]
    return _notes_table(obj, [RunNote.Kind.EXCLUDED, RunNote.Kind.DUPLICATE], headers, row)


SyncRunAdmin.run_conflicts = _run_conflicts  # type: ignore[attr-defined]
SyncRunAdmin.run_exclusions = _run_exclusions  # type: ignore[attr-defined]
SyncRunAdmin.readonly_fields = [*SyncRunAdmin.readonly_fields, "run_conflicts", "run_exclusions"]
