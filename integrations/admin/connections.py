"""Connections and their field mappings: created through the same services as the customer
pages (a new connection asks both apps for their fields first), with Sync now / Pause / Resume
/ Resync as actions."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from accounts.admin_scope import WorkspaceScopedAdmin
from integrations import services
from integrations.admin.base import CascadesHistory, bind_form, connection_fields
from integrations.connectors.base import Capabilities
from integrations.connectors.registry import connector_class
from integrations.forms import ConnectionFields, FieldMappingForm, FieldsUnavailable
from integrations.models import Connection, FieldMapping, Rule, Side, SyncRun
from integrations.services import setup


def _capabilities(app: str) -> Capabilities | None:
    try:
        return connector_class(app).capabilities
    except LookupError:
        return None


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
            "workspace", "name", "account_a", "account_b", "choices", "direction", "winner",
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
            chosen = cleaned.get("choices")
            try:
                self.connection_fields = ConnectionFields.load_accounts(
                    a, b, choices=chosen if isinstance(chosen, dict) else None
                )
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
                (None, {"fields": ("workspace", "name", "account_a", "account_b", "choices")}),
                ("Sync", {"fields": [*sync, "start"]}),
            )
        # An option one of the two apps lacks is not offered at all.
        caps = [_capabilities(obj.account_a.app), _capabilities(obj.account_b.app)]
        if not all(c is not None and c.supports_deletions for c in caps):
            sync.remove("sync_deletions")
        if not all(c is not None and c.supports_unsubscribes for c in caps):
            sync.remove("sync_unsubscribes")
        return (
            (None, {"fields": ("workspace", "name", "apps", "choices")}),
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
            # Another pair of accounts (or another audience) is another connection: its links
            # would be wrong.
            readonly += ["workspace", "account_a", "account_b", "apps", "checkpoints", "choices"]
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
            choices=obj.choices,
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
            kwargs["form"] = bind_form(FieldMappingForm, fields=fields, connection=obj.connection)
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: FieldMapping, form: Any, change: bool) -> None:
        form.save(commit=True)
