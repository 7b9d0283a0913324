"""The webhook receiver's records, read-only: subscriptions (never their secrets), pending
wakes, delivered event keys, counts and the removals of deleted accounts' receivers (never
their credentials)."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin_scope import WorkspaceFreeAdmin, WorkspaceScopedAdmin
from integrations.admin.base import ReadOnlyAdmin
from integrations.webhooks.models import (
    WebhookCount,
    WebhookDelivery,
    WebhookRemoval,
    WebhookSubscription,
    WebhookWake,
)


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


@admin.register(WebhookRemoval)
class WebhookRemovalAdmin(WorkspaceFreeAdmin, ReadOnlyAdmin):
    # The deleted account's credentials are secrets: never shown.
    fields = readonly_fields = ("app", "remote_id", "created_at")
    list_display = ["__str__", "app", "created_at"]
    list_filter = ["app"]
