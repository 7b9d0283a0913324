"""What the sync loop writes, read-only: runs (a run's page shows what it wrote, its
conflicts and whom it left alone), links, create intents, record issues, records to read
again, the audit, run notes and the beat's ticks."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from accounts.admin_scope import WorkspaceFreeAdmin, WorkspaceScopedAdmin
from integrations.admin.base import ReadOnlyAdmin
from integrations.models import (
    AuditEntry,
    BeatTick,
    CreateIntent,
    RecheckRecord,
    RecordIssue,
    RecordLink,
    RunNote,
    SyncRun,
)

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
    readonly_fields = ["run_writes", "run_conflicts", "run_exclusions"]
    run_writes = _run_writes
    run_conflicts = _run_conflicts
    run_exclusions = _run_exclusions


@admin.register(RecordIssue)
class RecordIssueAdmin(WorkspaceScopedAdmin, ReadOnlyAdmin):
    workspace_path = "connection__workspace"
    list_display = [
        "record_id", "connection", "side", "target", "reason", "attempts", "last_seen_at",
        "resolved_at",
    ]  # fmt: skip
    list_filter = ["side", "target", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["record_id", "reason", "connection__name"]


@admin.register(RecheckRecord)
class RecheckRecordAdmin(WorkspaceScopedAdmin, ReadOnlyAdmin):
    """Records the next run reads again by id (a write that came back with someone's edit)."""

    workspace_path = "connection__workspace"
    list_display = ["record_id", "connection", "side", "run", "marked_at"]
    list_filter = ["side"]
    search_fields = ["record_id", "connection__name"]
    raw_id_fields = ["run"]


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
