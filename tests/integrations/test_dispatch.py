"""The dispatcher claims each due, runnable connection exactly once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection as db_connection
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ConnectedAccount
from integrations import tasks
from integrations.models import Connection
from integrations.services import connections_claim_due
from integrations.services.runs import connection_is_runnable
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def due(**kwargs: object) -> Connection:
    kwargs.setdefault("next_sync_at", timezone.now() - dt.timedelta(seconds=5))
    return ConnectionFactory(**kwargs)


def test_it_claims_due_active_and_scanning_connections() -> None:
    active = due(status=Connection.Status.ACTIVE)
    scanning = due(status=Connection.Status.SCANNING)
    assert set(connections_claim_due()) == {active.pk, scanning.pk}


@pytest.mark.parametrize("status", ["draft", "paused", "needs_reauth", "error"])
def test_it_leaves_connections_that_cannot_run(status: str) -> None:
    connection = due(status=status)
    # An error stops the loop when an account was refused; see the test below for the rest.
    ConnectedAccount.objects.filter(pk=connection.account_a_id).update(status="error")
    assert connections_claim_due() == []


def test_it_claims_a_connection_in_error_whose_accounts_are_fine() -> None:
    failing = due(status=Connection.Status.ERROR, status_reason="The last 3 runs failed")
    assert connections_claim_due() == [failing.pk]


def test_it_leaves_connections_not_yet_due() -> None:
    ConnectionFactory(next_sync_at=timezone.now() + dt.timedelta(minutes=3))
    assert connections_claim_due() == []


def test_it_leaves_connections_whose_run_holds_a_live_lease() -> None:
    due(lease_expires_at=timezone.now() + dt.timedelta(minutes=5), lease_owner="w1")
    assert connections_claim_due() == []


def test_it_claims_a_connection_only_once() -> None:
    connection = due()
    assert connections_claim_due() == [connection.pk]
    assert connections_claim_due() == []


def test_it_pushes_the_next_sync_out_by_a_lease_so_a_lost_task_is_retried(settings) -> None:
    connection = due()
    now = timezone.now()
    connections_claim_due(now=now)
    connection.refresh_from_db()
    assert connection.next_sync_at == now + dt.timedelta(seconds=settings.TANDEM_LEASE_SECONDS)


def test_it_claims_at_most_a_batch_per_tick() -> None:
    for _ in range(5):
        due()
    assert len(connections_claim_due(limit=3)) == 3
    assert len(connections_claim_due(limit=3)) == 2


def test_it_uses_a_constant_number_of_queries_per_tick() -> None:
    for _ in range(3):
        due()
    with CaptureQueriesContext(db_connection) as few:
        connections_claim_due()
    for _ in range(30):
        due()
    with CaptureQueriesContext(db_connection) as many:
        connections_claim_due()
    assert len(few.captured_queries) == len(many.captured_queries)


def test_it_enqueues_one_sync_per_claimed_connection(monkeypatch) -> None:
    first, second = due(), due()
    sent: list[int] = []
    monkeypatch.setattr(tasks.sync_connection_task, "delay", sent.append)
    assert tasks.dispatch_due_connections_task() == 2
    assert sorted(sent) == sorted([first.pk, second.pk])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_claims_each_connection_once_with_concurrent_dispatchers() -> None:
    ids = {due().pk for _ in range(60)}
    barrier = threading.Barrier(4)
    claims: list[list[int]] = []
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            barrier.wait()
            for _ in range(3):
                claims.append(connections_claim_due(limit=25))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    claimed = [pk for claim in claims for pk in claim]
    assert sorted(claimed) == sorted(ids)


def test_it_leaves_a_paused_connection_whose_accounts_are_fine() -> None:
    due(status=Connection.Status.PAUSED)
    assert connections_claim_due() == []


def test_it_claims_a_connection_never_scheduled() -> None:
    connection = ConnectionFactory(next_sync_at=None)
    assert connections_claim_due() == [connection.pk]


def test_it_claims_the_longest_overdue_connections_first() -> None:
    now = timezone.now()
    later = due(next_sync_at=now - dt.timedelta(minutes=1))
    earlier = due(next_sync_at=now - dt.timedelta(minutes=9))
    assert connections_claim_due(now=now, limit=1) == [earlier.pk]
    assert connections_claim_due(now=now, limit=1) == [later.pk]


def test_it_claims_a_batch_of_the_configured_size_by_default(settings) -> None:
    settings.TANDEM_DISPATCH_BATCH = 2
    for _ in range(3):
        due()
    assert len(connections_claim_due()) == 2


@pytest.mark.parametrize(
    ("status", "account_status", "runnable"),
    [
        ("active", "ok", True),
        ("scanning", "error", True),  # its own run finds and reports the refused account
        ("error", "ok", True),  # runs failing: retried
        ("error", "error", False),  # a refused credential: waits for re-authorization
        ("paused", "ok", False),
        ("draft", "ok", False),
    ],
)
def test_it_tells_whether_a_connection_may_run(
    status: str, account_status: str, runnable: bool
) -> None:
    connection = ConnectionFactory(status=status)
    ConnectedAccount.objects.filter(pk=connection.account_b_id).update(status=account_status)
    connection.refresh_from_db()
    assert connection_is_runnable(Connection.objects.get(pk=connection.pk)) is runnable


def due_in_bulk(count: int) -> None:
    """``count`` more due active connections, inserted in a few statements."""
    model = due(status=Connection.Status.ACTIVE)
    Connection.objects.bulk_create(
        [
            Connection(
                workspace_id=model.workspace_id,
                account_a_id=model.account_a_id,
                account_b_id=model.account_b_id,
                status=Connection.Status.ACTIVE,
                next_sync_at=model.next_sync_at,
            )
            for _ in range(count - 1)
        ],
        batch_size=2000,
    )


def dispatch_tick_queries(monkeypatch) -> tuple[int, int]:
    """One tick of beat's dispatcher task: (queries it made, connections it enqueued)."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.sync_connection_task, "delay", sent.append)
    with CaptureQueriesContext(db_connection) as queries:
        tasks.dispatch_due_connections_task()
    return len(queries.captured_queries), len(sent)


def test_a_tick_makes_as_many_queries_for_10_000_due_connections_as_for_10(
    monkeypatch, settings
) -> None:
    settings.TANDEM_DISPATCH_BATCH = 500
    dispatch_tick_queries(monkeypatch)  # beat's first tick creates its stamp; later ones update
    due_in_bulk(10)
    few, claimed_few = dispatch_tick_queries(monkeypatch)
    Connection.objects.all().delete()
    due_in_bulk(10_000)
    many, claimed_many = dispatch_tick_queries(monkeypatch)
    assert (claimed_few, claimed_many) == (10, 500)
    assert many == few <= 6


def test_ticks_drain_10_000_due_connections_a_batch_at_a_time_with_the_same_queries(
    monkeypatch, settings
) -> None:
    settings.TANDEM_DISPATCH_BATCH = 500
    dispatch_tick_queries(monkeypatch)  # beat's first tick creates its stamp; later ones update
    due_in_bulk(10_000)
    ticks = [dispatch_tick_queries(monkeypatch) for _ in range(21)]
    assert [claimed for _, claimed in ticks] == [500] * 20 + [0]
    assert len({queries for queries, _ in ticks}) == 1
