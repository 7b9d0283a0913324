"""What every admin of the integrations shares: the apps' fields, loaded once per request, and
the history that deleting a connection takes with it but nobody edits row by row."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from integrations.forms import ConnectionFields, FieldsUnavailable
from integrations.models import (
    AuditEntry,
    BeatTick,
    Connection,
    CreateIntent,
    RecheckRecord,
    RecordIssue,
    RecordLink,
    RunNote,
    SyncRun,
)
from integrations.webhooks.models import WebhookSubscription, WebhookWake

# What the sync loop (or the webhook receiver) writes and nobody edits; deleting their owner
# still deletes them.
HISTORY_MODELS = (
    SyncRun, RecordLink, CreateIntent, RecordIssue, RecheckRecord, AuditEntry, RunNote, BeatTick,
    WebhookSubscription, WebhookWake,
)  # fmt: skip


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


def bind_form(form: type[forms.BaseForm], **bound: Any) -> type[forms.BaseForm]:
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
