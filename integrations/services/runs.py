"""Writes that drive a connection's sync loop: dispatch, run, pause, resume, resync."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import ConnectedAccount
from accounts.services import connected_account_mark
from integrations.connectors.accounts import connector_for
from integrations.connectors.base import Connector, ConnectorError
from integrations.leases import Heartbeat, Lease, LeaseLost, lease_acquire, lease_release
from integrations.models import MAX_SYNC_INTERVAL, MIN_SYNC_INTERVAL, Connection, SyncRun
from integrations.services.notifications import (
    incident_clear_connection,
    notify_account_needs_reauth,
    notify_connection_paused,
)
from integrations.sync import recheck

logger = logging.getLogger(__name__)


class ConnectionNotRunnable(Exception):
    """The connection cannot run now (paused, needs re-authorization, draft ...)."""


# This many real runs failing in a row put the connection into "error" ("Needs attention"). It
# is still retried, less often after each failure, and its next good run makes it active again.
FAILURES_FOR_ERROR = 3
FAILURE_BACKOFF_MAX = dt.timedelta(hours=6)
# EXISTS rather than a join: an UPDATE whose filter joins another table becomes
# ``WHERE id IN (SELECT ...)``, and PostgreSQL does not re-check a subquery's conditions on a
# row it waited to lock, so two dispatchers could claim the same connection.
_ACCOUNTS_OK = Exists(
    ConnectedAccount.objects.filter(pk=OuterRef("account_a"), status=ConnectedAccount.Status.OK)
) & Exists(
    ConnectedAccount.objects.filter(pk=OuterRef("account_b"), status=ConnectedAccount.Status.OK)
)


def _runnable_filter() -> Q:
    # An error whose account is fine (runs failing, not a refused credential) is retried.
    return Q(status__in=Connection.RUNNABLE) | (Q(status=Connection.Status.ERROR) & _ACCOUNTS_OK)


def connection_is_runnable(connection: Connection) -> bool:
    if connection.status in Connection.RUNNABLE:
        return True
    return connection.status == Connection.Status.ERROR and all(
        account.status == ConnectedAccount.Status.OK
        for account in (connection.account_a, connection.account_b)
    )


def _due_filter(now: dt.datetime) -> Q:
    return (
        _runnable_filter()
        & (Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now))
        & (Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
    )


def connections_claim_due(*, now: dt.datetime | None = None, limit: int | None = None) -> list[int]:
    """Claim every due connection exactly once, even with several dispatchers at once.

    One conditional UPDATE stamps a fresh token on rows that are still due and pushes their
    ``next_sync_at`` out by a lease length (so an enqueued task lost with its worker is retried);
    the claimer then reads back the rows carrying its token. Two queries, whatever the count.
    """
    now = now or timezone.now()
    limit = limit or settings.TANDEM_DISPATCH_BATCH
    token = uuid.uuid4()
    due_ids = Connection.objects.filter(_due_filter(now)).order_by("next_sync_at", "id")
    Connection.objects.filter(_due_filter(now), pk__in=due_ids.values("pk")[:limit]).update(
        dispatch_token=token,
        next_sync_at=now + dt.timedelta(seconds=settings.TANDEM_LEASE_SECONDS),
    )
    return list(Connection.objects.filter(dispatch_token=token).values_list("pk", flat=True))


def next_sync_after(moment: dt.datetime, interval: object) -> dt.datetime:
    """``moment`` plus the connection's interval, held within the model's bounds: an interval
    stored past validation must not crash the release of the lease (or schedule a year 5195)."""
    try:
        seconds = int(interval)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        seconds = settings.TANDEM_SYNC_INTERVAL_SECONDS
    seconds = min(max(seconds, MIN_SYNC_INTERVAL), MAX_SYNC_INTERVAL)
    return moment + dt.timedelta(seconds=seconds)


def failure_backoff(failures: int, interval: int) -> int:
    """Seconds to wait after ``failures`` failed runs in a row: the interval doubled per
    failure, capped at six hours (or the interval, when that is longer)."""
    interval = max(int(interval), MIN_SYNC_INTERVAL)
    longest = max(interval, int(FAILURE_BACKOFF_MAX.total_seconds()))
    return min(interval * 2 ** min(max(failures, 0), 16), longest)


def _failures_in_a_row(connection_id: int) -> int:
    outcomes = (
        SyncRun.objects.filter(connection_id=connection_id, dry_run=False)
        .exclude(outcome=SyncRun.Outcome.RUNNING)
        .order_by("-started_at", "-id")
        .values_list("outcome", flat=True)[:20]
    )
    count = 0
    for outcome in outcomes:
        if outcome not in (SyncRun.Outcome.FAILED, SyncRun.Outcome.ABANDONED):
            break
        count += 1
    return count


def _settle_status(lease: Lease, run: SyncRun, failures: int) -> None:
    """A good run clears "error"; the ``FAILURES_FOR_ERROR``-th failure in a row sets it, with
    the reason. A status an operator or a refused credential set is left alone."""
    current = Connection.objects.filter(pk=lease.connection_id, lease_generation=lease.generation)
    if run.outcome in (SyncRun.Outcome.SUCCESS, SyncRun.Outcome.PARTIAL):
        current.filter(status=Connection.Status.ERROR).update(
            status=Connection.Status.ACTIVE, status_reason=""
        )
    elif run.outcome == SyncRun.Outcome.FAILED and failures >= FAILURES_FOR_ERROR:
        current.filter(status__in=Connection.RUNNABLE).update(
            status=Connection.Status.ERROR,
            status_reason=(
                f"The last {failures} runs failed, the latest with: {run.error or 'no reason'}. "
                "Tandem keeps retrying, less often each time."
            ),
        )


def _runnable_or_raise(connection: Connection) -> None:
    if not connection_is_runnable(connection):
        raise ConnectionNotRunnable(
            f"Connection {connection.pk} is {connection.get_status_display().lower()}"
            + (f": {connection.status_reason}" if connection.status_reason else "")
        )


def _finish(run: SyncRun, outcome: str, error: str = "") -> SyncRun:
    run.outcome = outcome
    # A note the engine left (a checkpoint it could not use) stays with the run's own error.
    run.error = " ".join(part for part in (run.error, error) if part)
    run.finished_at = timezone.now()
    run.save()
    return run


def _needs_reauthorization(
    connection: Connection, side_account: ConnectedAccount, message: str
) -> None:
    connected_account_mark(
        account=side_account, status=ConnectedAccount.Status.NEEDS_REAUTH, error=message
    )
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.NEEDS_REAUTH, status_reason=message
    )
    notify_account_needs_reauth(account=side_account)


def connection_sync(
    *,
    connection_id: int,
    dry_run: bool = False,
    owner: str | None = None,
    full: bool = False,
    progress: Callable[[str, str, int], None] | None = None,
) -> SyncRun | None:
    """Run one pass of a connection's sync loop and return its ``SyncRun``.

    A real run takes the lease (``None`` is returned when another run holds it), records the
    run, calls the engine, then releases the lease and schedules the next run. A dry run takes
    no lease and writes nothing but its ``SyncRun`` with the plan. ``full`` scans through the
    links whatever the checkpoints say (and leaves them as they are); ``progress`` is told of
    every page read.
    """
    from integrations.sync import engine

    connection = Connection.objects.select_related("account_a", "account_b").get(pk=connection_id)
    if not dry_run:
        _runnable_or_raise(connection)
    lease: Lease | None = None
    if not dry_run:
        lease = lease_acquire(connection_id=connection_id, owner=owner)
        if lease is None:
            logger.info("connection %s: another run holds the lease", connection_id)
            return None
        connection.refresh_from_db()
        _abandon_older_runs(lease)
    run = SyncRun.objects.create(
        connection=connection,
        dry_run=dry_run,
        lease_generation=lease.generation if lease else 0,
    )
    connectors: dict[str, Connector] = {}
    heartbeat = Heartbeat(lease)
    try:
        connectors = {
            "a": connector_for(connection.account_a, choices=connection.choices_for("a")),
            "b": connector_for(connection.account_b, choices=connection.choices_for("b")),
        }
        for connector in connectors.values():
            connector.http.heartbeat = heartbeat
        recheck.hide_own_writes(connection, connectors)
        plan = engine.run_sync(
            connection=connection,
            run=run,
            lease=lease,
            connector_a=connectors["a"],
            connector_b=connectors["b"],
            full=full,
            progress=progress,
        )
        if plan is not None:
            run.plan = plan
        _finish(run, SyncRun.Outcome.PARTIAL if run.failed else SyncRun.Outcome.SUCCESS)
    except LeaseLost as exc:
        logger.warning("connection %s: %s", connection_id, exc)
        _finish(run, SyncRun.Outcome.STOPPED, str(exc))
        return run
    except engine.BreakerTripped as exc:
        Connection.objects.filter(pk=connection_id).update(
            status=Connection.Status.PAUSED, status_reason=str(exc), breaker_tripped=True
        )
        notify_connection_paused(connection=connection, reason=str(exc))
        _finish(run, SyncRun.Outcome.STOPPED, str(exc))
    except ConnectorError as exc:
        side = exc.side
        if exc.permanent and side is not None:
            account = connection.account_a if side == "a" else connection.account_b
            if exc.reauthorize:
                _needs_reauthorization(connection, account, exc.message)
            else:
                connected_account_mark(
                    account=account, status=ConnectedAccount.Status.ERROR, error=exc.message
                )
                Connection.objects.filter(pk=connection_id).update(
                    status=Connection.Status.ERROR, status_reason=exc.message
                )
        logger.warning("connection %s: run failed: %s", connection_id, exc.message)
        _finish(run, SyncRun.Outcome.FAILED, exc.message)
    except Exception as exc:
        # A bug must not leave the run "running" forever; the worker logs the traceback.
        _finish(run, SyncRun.Outcome.FAILED, f"internal error ({type(exc).__name__})")
        raise
    finally:
        recheck.keep_learned(connectors)
        if lease is not None:
            finished = timezone.now()
            Connection.objects.filter(pk=connection_id, lease_generation=lease.generation).update(
                last_run_at=finished
            )
            failures = (
                _failures_in_a_row(connection_id) if run.outcome == SyncRun.Outcome.FAILED else 0
            )
            _settle_status(lease, run, failures)
            wait = (
                failure_backoff(failures, connection.sync_interval)
                if failures
                else connection.sync_interval
            )
            lease_release(lease, next_sync_at=next_sync_after(finished, wait))
    return run


def _abandon_older_runs(lease: Lease) -> int:
    """Runs of the connection still "running" under an older lease lost their worker (killed,
    or frozen past its lease: its next fenced write fails): they are closed as abandoned."""
    return SyncRun.objects.filter(
        connection_id=lease.connection_id,
        outcome=SyncRun.Outcome.RUNNING,
        dry_run=False,
        lease_generation__lt=lease.generation,
    ).update(
        outcome=SyncRun.Outcome.ABANDONED,
        finished_at=timezone.now(),
        error="Its worker stopped before the run finished; a later run took over.",
    )


def connection_pause(*, connection: Connection, reason: str = "Paused by an operator.") -> None:
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.PAUSED, status_reason=reason
    )
    connection.refresh_from_db()


def connection_resume(*, connection: Connection) -> None:
    """Resume a paused, errored or re-authorized connection; a connection never fully scanned
    scans first. A mass-tag pause resumed by an operator counts as the confirmation."""
    connection.refresh_from_db()
    scanned = bool(connection.checkpoint_a) and bool(connection.checkpoint_b)
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.ACTIVE if scanned else Connection.Status.SCANNING,
        status_reason="",
        next_sync_at=timezone.now(),
        mass_tag_confirmed=connection.breaker_tripped or connection.mass_tag_confirmed,
        breaker_tripped=False,
    )
    incident_clear_connection(connection=connection)
    connection.refresh_from_db()


def connection_sync_now(*, connection: Connection) -> None:
    """Make the connection due now and hand it to a worker."""
    from integrations.tasks import sync_connection_task

    _runnable_or_raise(connection)
    Connection.objects.filter(pk=connection.pk).update(next_sync_at=timezone.now())
    transaction.on_commit(lambda: sync_connection_task.delay(connection.pk))


def connection_resync(*, connection: Connection) -> None:
    """Forget the checkpoints and scan both sides again from scratch. Links are kept, so the
    re-scan goes through them and creates nothing twice."""
    Connection.objects.filter(pk=connection.pk).update(
        checkpoint_a={},
        checkpoint_b={},
        status=Connection.Status.SCANNING,
        status_reason="",
        next_sync_at=timezone.now(),
    )
    connection.refresh_from_db()
