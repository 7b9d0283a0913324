"""Thin Celery tasks: they take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task

from integrations.models import Connection, SyncRun
from integrations.services import ConnectionNotRunnable, connection_sync, connections_claim_due
from integrations.services.audit import audit_prune

# The engine is loaded with the tasks, when a worker starts and before its pool forks: each
# child has it from the start (its pages shared with the others until written), and a child's
# first run does not import it (some 30 modules). Other processes load it at their first run.
from integrations.sync import engine  # noqa: F401

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def dispatch_due_connections_task() -> int:
    """Beat runs this every minute: claim every due connection once and enqueue its run."""
    from config.health import beat_tick_stamp

    beat_tick_stamp()
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
        run = connection_sync(connection_id=connection_id)
        if run is not None:
            log_run(run)
        # Keeping the audit within TANDEM_AUDIT_DAYS costs each run one small batch at most.
        audit_prune(max_batches=1)
    except ConnectionNotRunnable as exc:
        logger.info("%s; skipped", exc)
    except Connection.DoesNotExist:
        logger.info("connection %s no longer exists; skipped", connection_id)


def log_run(run: SyncRun) -> None:
    """The worker's one line per run: connection, run, phase, outcome, counters, calls, time
    (and the error, already redacted by the HTTP seam). With LOG_FORMAT=json the same facts
    are fields of the line."""
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
    fields = {
        "connection_id": run.connection_id,
        "run_id": run.pk,
        "phase": run.phase,
        "outcome": run.outcome,
        **{name: getattr(run, name) for name in SyncRun.COUNTERS},
        "seconds": round(seconds, 2),
        "error": run.error,
    }
    logger.log(
        logging.WARNING if run.outcome == SyncRun.Outcome.FAILED else logging.INFO,
        "connection %s run %s %s %s in %.2fs: read %s/%s, created %s/%s, updated %s/%s, "
        "tagged %s/%s, excluded %s, duplicates %s, failed %s, conflicts %s, %s API calls%s",
        run.connection_id, run.pk, run.phase, run.outcome, seconds, run.read_a, run.read_b,
        run.created_a, run.created_b, run.updated_a, run.updated_b, run.tagged_a, run.tagged_b,
        run.excluded, run.duplicates, run.failed, run.conflicts, run.api_calls,
        f"; {run.error}" if run.error else "",
        extra=fields,
    )  # fmt: skip
