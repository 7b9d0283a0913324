"""Thin Celery tasks: they take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task

from integrations.models import Connection
from integrations.services import ConnectionNotRunnable, connection_sync, connections_claim_due

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def dispatch_due_connections_task() -> int:
    """Beat runs this every minute: claim every due connection once and enqueue its run."""
    claimed = connections_claim_due()
    for connection_id in claimed:
        sync_connection_task.delay(connection_id)
    if claimed:
        logger.info("dispatched %s connection(s)", len(claimed))
    return len(claimed)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sync_connection_task(connection_id: int) -> None:
    """Run one connection's sync loop once. Safe to run twice: the lease lets one through."""
    try:
        connection_sync(connection_id=connection_id)
    except ConnectionNotRunnable as exc:
        logger.info("%s; skipped", exc)
    except Connection.DoesNotExist:
        logger.info("connection %s no longer exists; skipped", connection_id)
