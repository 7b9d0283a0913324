"""A worker killed or frozen mid-run: its run is closed as abandoned, its connection runs again
within a couple of dispatcher ticks, and a live run keeps its short lease by beating."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from integrations import services
from integrations.connectors.http import HttpClient
from integrations.leases import Heartbeat, Lease, LeaseLost, fenced, lease_acquire
from integrations.models import Connection, SyncRun
from integrations.sync import engine
from integrations.sync.records import Checkpoint, Page
from tests.factories import ConnectionFactory
from tests.integrations.sync.conftest import make_pair
from tests.integrations.test_runs import IdleApp

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def idle_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "integrations.services.runs.connector_for",
        lambda account, **_: IdleApp({}, http=HttpClient(app="idle")),
    )


@pytest.fixture
def engine_does(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[..., None]], None]:
    def install(double: Callable[..., None]) -> None:
        monkeypatch.setattr(engine, "run_sync", lambda **kwargs: double(**kwargs))

    return install


def nothing(**_: Any) -> None:
    return None


def expire(connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )


def killed_run(connection: Connection) -> SyncRun:
    """A run whose worker took the lease and died without a word."""
    lease = lease_acquire(connection_id=connection.pk, owner="dead-worker")
    assert lease is not None
    return SyncRun.objects.create(connection=connection, lease_generation=lease.generation)


def test_it_closes_the_run_of_a_dead_worker_as_abandoned(engine_does) -> None:
    engine_does(nothing)
    connection = ConnectionFactory()
    dead = killed_run(connection)
    expire(connection)
    run = services.connection_sync(connection_id=connection.pk)
    assert run is not None and run.outcome == SyncRun.Outcome.SUCCESS
    dead.refresh_from_db()
    assert dead.outcome == SyncRun.Outcome.ABANDONED
    assert dead.finished_at is not None
    assert "worker stopped" in dead.error


def test_it_leaves_the_runs_of_other_connections_and_dry_runs_alone(engine_does) -> None:
    engine_does(nothing)
    connection = ConnectionFactory()
    other = killed_run(ConnectionFactory())
    dry = SyncRun.objects.create(connection=connection, dry_run=True)
    services.connection_sync(connection_id=connection.pk)
    other.refresh_from_db()
    dry.refresh_from_db()
    assert other.outcome == SyncRun.Outcome.RUNNING
    assert dry.outcome == SyncRun.Outcome.RUNNING


def test_it_runs_a_dead_workers_connection_again_within_two_dispatcher_ticks() -> None:
    connection = ConnectionFactory(next_sync_at=timezone.now() - dt.timedelta(seconds=1))
    start = timezone.now()
    assert services.connections_claim_due(now=start) == [connection.pk]
    killed_run(connection)
    tick = dt.timedelta(seconds=60)
    assert services.connections_claim_due(now=start + tick) == []
    later = start + 2 * tick + dt.timedelta(seconds=5)
    assert settings.TANDEM_LEASE_SECONDS <= 2 * 60
    assert services.connections_claim_due(now=later) == [connection.pk]


def test_it_keeps_the_lease_of_a_run_longer_than_the_lease_by_beating(
    engine_does, settings
) -> None:
    settings.TANDEM_LEASE_SECONDS = 1
    connection = ConnectionFactory()
    intruders: list[object] = []

    def long_run(*, connector_a: IdleApp, **_: Any) -> None:
        heartbeat = connector_a.http.heartbeat
        assert heartbeat is not None
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            time.sleep(0.1)
            heartbeat()  # what every HTTP call does
            intruders.append(lease_acquire(connection_id=connection.pk, owner="intruder"))

    engine_does(long_run)
    run = services.connection_sync(connection_id=connection.pk)
    assert run is not None and run.outcome == SyncRun.Outcome.SUCCESS
    assert len(intruders) > 10
    assert intruders == [None] * len(intruders)


def test_it_loses_the_lease_of_a_run_that_does_not_beat(engine_does, settings) -> None:
    settings.TANDEM_LEASE_SECONDS = 1
    connection = ConnectionFactory()
    taken: list[Lease | None] = []

    def silent_run(**_: Any) -> None:
        time.sleep(1.2)
        taken.append(lease_acquire(connection_id=connection.pk, owner="next-worker"))

    engine_does(silent_run)
    services.connection_sync(connection_id=connection.pk)
    assert taken[0] is not None


def test_it_lets_a_frozen_worker_change_nothing_once_taken_over(engine_does) -> None:
    connection = ConnectionFactory(checkpoint_a={"cursor": "old"})
    seen: dict[str, Any] = {}

    def frozen_then_wakes(*, lease: Lease, run: SyncRun, **_: Any) -> None:
        seen["frozen"] = run.pk
        expire(connection)  # frozen past its lease...
        engine_does(takes_over)
        seen["second"] = services.connection_sync(connection_id=connection.pk)
        with fenced(lease):  # ...and wakes up to write its page
            Connection.objects.filter(pk=connection.pk).update(checkpoint_a={"cursor": "stale"})

    def takes_over(*, lease: Lease, run: SyncRun, **_: Any) -> None:
        assert SyncRun.objects.get(pk=seen["frozen"]).outcome == SyncRun.Outcome.ABANDONED
        with fenced(lease):
            Connection.objects.filter(pk=connection.pk).update(checkpoint_a={"cursor": "new"})

    engine_does(frozen_then_wakes)
    stale = services.connection_sync(connection_id=connection.pk)
    assert stale is not None and stale.outcome == SyncRun.Outcome.STOPPED
    assert seen["second"].outcome == SyncRun.Outcome.SUCCESS
    connection.refresh_from_db()
    assert connection.checkpoint_a == {"cursor": "new"}
    assert connection.lease_owner == ""


def test_it_stops_a_frozen_worker_at_its_next_heartbeat(engine_does) -> None:
    connection = ConnectionFactory()
    stale = lease_acquire(connection_id=connection.pk, owner="frozen")
    assert stale is not None
    expire(connection)
    assert lease_acquire(connection_id=connection.pk, owner="next") is not None
    with pytest.raises(LeaseLost):
        Heartbeat(stale, every=0)()


def test_it_beats_the_lease_on_every_page_the_engine_reads(settings) -> None:
    settings.TANDEM_LEASE_SECONDS = 1
    pair = make_pair()
    for n in range(12):
        pair.a.add(emails=[f"p{n}@example.com"], full_name=f"Person {n}")
    lease = lease_acquire(connection_id=pair.connection.pk, owner="engine")
    assert lease is not None
    pair.lease = lease
    listed = pair.a.list_changed
    intruders: list[Lease | None] = []

    def slow_pages(checkpoint: Checkpoint | None) -> Iterator[Page]:
        for page in listed(checkpoint):
            time.sleep(0.4)
            intruders.append(lease_acquire(connection_id=pair.connection.pk, owner="intruder"))
            yield page

    pair.a.list_changed = slow_pages  # type: ignore[method-assign]
    run = pair.run()
    assert len(intruders) >= 4  # four pages of 0.4 s: longer than the lease
    assert intruders == [None] * len(intruders)
    assert run.created_b == 12
