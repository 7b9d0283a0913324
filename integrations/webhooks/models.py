"""What the receiver keeps: each account's subscription on its app, the deliveries already
taken (so a duplicate or a replay within the window changes nothing), each connection's pending
wake-up (so a burst becomes one run) and the receiver's counters.

Imported by ``integrations.models`` so the models belong to the integrations app."""

from __future__ import annotations

import hashlib

from django.db import models
from fernet_fields import EncryptedTextField

from accounts.models import ConnectedAccount


def url_key_digest(key: str) -> str:
    """What a subscription stores of its URL's key."""
    return hashlib.sha256(key.encode()).hexdigest()


class WebhookSubscription(models.Model):
    """Tandem's receiver registered on one connected account's app.

    The receiver's URL ends with a random, unguessable key: it names the subscription (and, for
    an app that signs nothing, is its secret). ``key`` holds its SHA-256 (``url_key_digest``),
    never the key itself, so the database alone cannot forge a delivery. ``secret`` is the key the
    app signs deliveries with, encrypted at rest like credentials. ``author_id`` is the app's id
    of the user Tandem writes as (its API key's machine user), when the app tells it."""

    account = models.OneToOneField(
        ConnectedAccount, on_delete=models.CASCADE, related_name="webhook_subscription"
    )
    app = models.CharField(max_length=40)
    key = models.CharField(max_length=64, unique=True)
    remote_id = models.CharField(max_length=255)
    secret = EncryptedTextField(default="")
    author_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "webhook subscription"

    def __str__(self) -> str:
        return f"{self.app} webhook of account {self.account_id}"


class WebhookDelivery(models.Model):
    """One event taken, by the app's event id (or a digest of the signed body): a second
    delivery of it is a duplicate (or a replay) and changes nothing. Kept past the freshness
    window, after which a replay is refused as stale anyway."""

    app = models.CharField(max_length=40)
    event_key = models.CharField(max_length=128)
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "event_key"], name="webhook_delivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.app} event {self.event_key}"


class WebhookWake(models.Model):
    """A connection's pending wake-up: the records changed since its last webhook run, and
    whether a run is already queued for them. A burst of deliveries adds to ``changes`` and
    queues one run."""

    connection = models.OneToOneField(
        "integrations.Connection",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="webhook_wake",
    )
    # [[side, record id, version], ...]; bounded, ``overflow`` once more arrived than it holds.
    changes = models.JSONField(default=list, blank=True)
    overflow = models.BooleanField(default=False)
    requested_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"wake-up of connection {self.connection_id}"


class WebhookCount(models.Model):
    """How many deliveries of an app ended one way: accepted, duplicate, echo, forged, stale,
    malformed, unknown (no such subscription)."""

    app = models.CharField(max_length=40)
    outcome = models.CharField(max_length=16)
    count = models.PositiveBigIntegerField(default=0)
    last_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "outcome"], name="webhook_count_once")
        ]

    def __str__(self) -> str:
        return f"{self.app} {self.outcome}: {self.count}"


class WebhookRemoval(models.Model):
    """A receiver to remove from an app after its account was deleted some other way than
    disconnecting (the admin, a workspace's deletion, any cascade): the app's id of it and the
    account's credentials to call the app with, encrypted at rest like the account's own were, so
    the task that removes it takes only this row's id. Deleted once done or given up."""

    app = models.CharField(max_length=40)
    remote_id = models.CharField(max_length=255)
    credentials = EncryptedTextField(default="{}")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "webhook removal"

    def __str__(self) -> str:
        return f"{self.app} webhook {self.remote_id} to remove"
