"""Removing Tandem's receiver from an app when its account is deleted any way other than
disconnecting (which removes it first): the admin, a workspace's deletion, any cascade.

Just before the account's row goes, ``account_deleting`` keeps what the removal needs in a
``WebhookRemoval`` (the app's id of the receiver and the account's credentials, encrypted) and,
once the deletion commits, queues a task with that row's id only. The task calls the app with
a connector built on those credentials; it tries again later while the app cannot be reached,
and forgets the row once the receiver is gone or the app refused for good (logged: the app then
disables a webhook whose deliveries are refused as unknown, as it does any failing one).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from accounts.models import ConnectedAccount
from integrations.connectors.base import ConnectorError
from integrations.webhooks.models import WebhookRemoval, WebhookSubscription
from integrations.webhooks.verify import RECEIVERS

logger = logging.getLogger(__name__)

# Tries of a removal while the app cannot be reached, and the seconds before the second one
# (doubled each time): about two hours in all.
ATTEMPTS = 8
RETRY_FIRST = 60.0


@receiver(pre_delete, sender=ConnectedAccount, dispatch_uid="webhooks-account-deleting")
def account_deleting(sender: Any, instance: ConnectedAccount, **kwargs: Any) -> None:
    """Keep what removing the account's receiver needs, and queue its removal on commit."""
    subscription = (
        WebhookSubscription.objects.filter(account_id=instance.pk)
        .values_list("app", "remote_id")
        .first()
    )
    if subscription is None:
        return
    app, remote_id = subscription
    found = RECEIVERS.get(app)
    # HubSpot's one URL serves every portal: nothing of one account's to remove.
    if not remote_id or found is None or found.app_level:
        return
    credentials = (
        ConnectedAccount.objects.filter(pk=instance.pk)
        .values_list("credentials", flat=True)
        .first()
    )
    removal = WebhookRemoval.objects.create(
        app=app, remote_id=remote_id, credentials=credentials or "{}"
    )
    removal_id = removal.pk
    transaction.on_commit(lambda: enqueue(removal_id, attempt=0))


def enqueue(removal_id: int, *, attempt: int) -> None:
    from integrations.webhooks.tasks import webhook_removal_task

    countdown = 0.0 if attempt == 0 else RETRY_FIRST * 2 ** (attempt - 1)
    webhook_removal_task.apply_async((removal_id, attempt), countdown=countdown)


def removal_run(*, removal_id: int, attempt: int = 0) -> str:
    """Remove one deleted account's receiver from its app (the task's body). Returns "removed",
    "retry" (the app could not be reached: queued again), "given up" or "nothing"."""
    from integrations.connectors.accounts import connector_for
    from integrations.webhooks.services import webhook_source_for

    removal = WebhookRemoval.objects.filter(pk=removal_id).first()
    if removal is None:
        return "nothing"
    # Never saved: the account is gone, and a renewed token has nowhere to be kept.
    account = ConnectedAccount(app=removal.app, credentials=removal.credentials)
    try:
        source = webhook_source_for(connector_for(account))
        if source is not None:
            source.webhook_unregister(removal.remote_id)
    except ConnectorError as exc:
        if not exc.permanent and attempt + 1 < ATTEMPTS:
            enqueue(removal_id, attempt=attempt + 1)
            return "retry"
        logger.warning(
            "could not remove the %s webhook %s of a deleted account: %s",
            removal.app,
            removal.remote_id,
            exc.message,
        )
        removal.delete()
        return "given up"
    removal.delete()
    return "removed"
