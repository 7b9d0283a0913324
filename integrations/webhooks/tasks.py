"""Thin Celery tasks of the webhooks: they take ids and call a service (listed in
``CELERY_IMPORTS`` so workers know them)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def webhook_subscribe_task(account_id: int, attempt: int = 0, renew: bool = False) -> None:
    """Register Tandem's receiver on a newly connected account's app (``renew``: again, at
    today's public URL), trying again later while the app cannot take it yet."""
    from integrations.webhooks.services import subscribe_run

    subscribe_run(account_id=account_id, attempt=attempt, renew=renew)


@shared_task(acks_late=True, ignore_result=True)
def webhook_run_task(connection_id: int, attempt: int = 0) -> None:
    """Run a connection for the deliveries gathered since its last webhook run."""
    from integrations.webhooks.wake import wake_run

    wake_run(connection_id=connection_id, attempt=attempt)


@shared_task(acks_late=True, ignore_result=True)
def webhook_removal_task(removal_id: int, attempt: int = 0) -> None:
    """Remove a deleted account's receiver from its app (by the ``WebhookRemoval``'s id)."""
    from integrations.webhooks.removal import removal_run

    removal_run(removal_id=removal_id, attempt=attempt)
