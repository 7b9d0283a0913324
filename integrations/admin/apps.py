"""The apps pipeline: customers' votes for an app and requests for one not listed."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin_scope import WorkspaceFreeAdmin
from integrations.models import AppRequest, AppVote


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
