from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from integrations import services
from integrations.connectors.base import ConnectorError
from integrations.models import (
    Action,
    Condition,
    Connection,
    CreateIntent,
    FieldMapping,
    RecordIssue,
    RecordLink,
    Rule,
    SyncRun,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by the sync loop only; ops staff read it."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    extra = 0
    fields = ["field_a", "field_b", "direction", "enabled", "is_default", "value_map"]
    readonly_fields = ["is_default"]


class RuleInline(admin.TabularInline):
    model = Rule
    extra = 0
    fields = ["direction", "position", "name", "undo", "summary", "edit"]
    readonly_fields = ["summary", "edit"]
    show_change_link = True

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


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = [
        "__str__", "workspace", "direction", "status", "next_sync_at", "last_run_at",
        "health_summary",
    ]  # fmt: skip
    list_filter = ["status", "direction", "account_a__app", "account_b__app"]
    search_fields = ["name", "workspace__name", "account_a__label", "account_b__label"]
    autocomplete_fields = ["workspace", "account_a", "account_b"]
    readonly_fields = [
        "status_reason", "health_summary", "failed_by_reason", "lease_owner", "lease_expires_at",
        "lease_generation", "last_run_at", "created_at", "updated_at",
    ]  # fmt: skip
    fieldsets = (
        (None, {"fields": ("workspace", "name", "account_a", "account_b")}),
        (
            "Sync",
            {
                "fields": (
                    "direction",
                    "winner",
                    "avoid_duplicates",
                    "sync_deletions",
                    "sync_unsubscribes",
                    "sync_interval",
                    "next_sync_at",
                )
            },
        ),
        ("Status", {"fields": ("status", "status_reason", "mass_tag_confirmed", "last_run_at")}),
        ("Health", {"fields": ("health_summary", "failed_by_reason")}),
        (
            "Loop internals",
            {
                "classes": ("collapse",),
                "fields": (
                    "checkpoint_a",
                    "checkpoint_b",
                    "lease_owner",
                    "lease_expires_at",
                    "lease_generation",
                    "created_at",
                    "updated_at",
                ),
            },
        ),
    )
    inlines = [FieldMappingInline, RuleInline, RunInline]
    actions = ["sync_now", "pause", "resume", "resync"]

    def save_model(self, request: HttpRequest, obj: Connection, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new connection starts with the default mappings and rules of its two apps, which
        # only the apps themselves can tell.
        try:
            created = services.connection_create_for_accounts(
                workspace=obj.workspace,
                account_a=obj.account_a,
                account_b=obj.account_b,
                name=obj.name,
                direction=obj.direction,
                winner=obj.winner,
                avoid_duplicates=obj.avoid_duplicates,
                sync_deletions=obj.sync_deletions,
                sync_unsubscribes=obj.sync_unsubscribes,
                start=obj.status != Connection.Status.DRAFT,
            )
        except (ConnectorError, ValidationError) as exc:
            obj.status = Connection.Status.DRAFT
            super().save_model(request, obj, form, change)
            reason = exc.message if isinstance(exc, ConnectorError) else "; ".join(exc.messages)
            self.message_user(
                request,
                f"Saved as a draft without default mappings: {reason}",
                level=messages.WARNING,
            )
            return
        obj.pk = created.pk
        obj.refresh_from_db()

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

    @admin.action(description="Sync now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset:
            try:
                services.connection_sync_now(connection=connection)
            except services.ConnectionNotRunnable as exc:
                self.message_user(request, str(exc), level=messages.WARNING)
            else:
                self.message_user(request, f"{connection}: sync queued.")

    @admin.action(description="Pause")
    def pause(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset:
            services.connection_pause(connection=connection)
        self.message_user(request, f"Paused {queryset.count()} connection(s).")

    @admin.action(description="Resume")
    def resume(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset:
            services.connection_resume(connection=connection)
        self.message_user(request, f"Resumed {queryset.count()} connection(s).")

    @admin.action(description="Resync from scratch")
    def resync(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset:
            services.connection_resync(connection=connection)
        self.message_user(request, f"{queryset.count()} connection(s) will scan again.")


class ConditionInline(admin.TabularInline):
    model = Condition
    extra = 0


class ActionInline(admin.TabularInline):
    model = Action
    extra = 0


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "connection", "direction", "position", "undo"]
    list_filter = ["direction", "undo"]
    search_fields = ["name", "connection__name"]
    autocomplete_fields = ["connection"]
    raw_id_fields = ["mirror"]
    inlines = [ConditionInline, ActionInline]


@admin.register(FieldMapping)
class FieldMappingAdmin(admin.ModelAdmin):
    list_display = ["__str__", "connection", "direction", "enabled", "is_default"]
    list_filter = ["direction", "enabled", "is_default"]
    search_fields = ["field_a", "field_b", "connection__name"]
    autocomplete_fields = ["connection"]


@admin.register(RecordLink)
class RecordLinkAdmin(ReadOnlyAdmin):
    list_display = ["id_a", "id_b", "connection", "synced_at", "deleted_a", "deleted_b"]
    list_filter = ["deleted_a", "deleted_b"]
    search_fields = ["id_a", "id_b", "connection__name"]


@admin.register(CreateIntent)
class CreateIntentAdmin(ReadOnlyAdmin):
    list_display = ["key", "connection", "target", "source_id", "created_at", "completed_at"]
    list_filter = ["target"]
    search_fields = ["source_id", "target_id", "connection__name"]


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at", "connection", "phase", "outcome", "dry_run", "read_a", "read_b",
        "created_a", "created_b", "updated_a", "updated_b", "failed", "api_calls",
    ]  # fmt: skip
    list_filter = ["outcome", "phase", "dry_run"]
    search_fields = ["connection__name", "error"]
    date_hierarchy = "started_at"


@admin.register(RecordIssue)
class RecordIssueAdmin(ReadOnlyAdmin):
    list_display = [
        "record_id", "connection", "side", "target", "reason", "attempts", "last_seen_at",
        "resolved_at",
    ]  # fmt: skip
    list_filter = ["side", "target", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["record_id", "reason", "connection__name"]


@admin.register(Condition)
class ConditionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "rule", "kind"]
    list_filter = ["kind"]
    search_fields = ["field", "operator", "rule__connection__name"]
    raw_id_fields = ["rule"]


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "rule", "kind"]
    list_filter = ["kind"]
    search_fields = ["field", "rule__connection__name"]
    raw_id_fields = ["rule"]
