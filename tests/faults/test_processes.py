"""Faults with real processes: PostgreSQL, a private Redis, Celery workers and beats started
here with subprocess, the sandbox apps on 127.0.0.1. Slow (a couple of minutes in all): marked
``faults``, run once in CI, in the PostgreSQL + Redis pass. Figures: docs/reliability.md."""

from __future__ import annotations

import itertools
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from integrations.models import Connection, SyncRun
from tests.e2e.conftest import Pair, person
from tests.faults.harness import (
    LEASE_SECONDS,
    TICK_SECONDS,
    Fleet,
    RedisServer,
    child_env,
    sending_to,
    tasks_finished,
    wait_for,
)

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# A run is picked up within two dispatcher ticks of its connection falling due; on top of the
# ticks, the worker needs a moment to receive the task and start the run.
PICKUP_SLACK = 1.5


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fleet(pair: Pair, settings: Any, redis_server: RedisServer, tmp_path: Path) -> Iterator[Fleet]:
    processes = Fleet(tmp_path, child_env(settings, redis_server.url))
    try:
        yield processes
    finally:
        processes.stop_all()


@dataclass
class People:
    """Who was added to which app and the name each should end up with on both sides."""

    pair: Pair
    names: dict[str, str] = field(default_factory=dict)  # email -> "Given Family"
    kustomer_ids: dict[str, str] = field(default_factory=dict)
    google_ids: dict[str, str] = field(default_factory=dict)
    edited: set[str] = field(default_factory=set)

    def add(self, n: int) -> None:
        email = f"k{n}@acme.example"
        self.names[email] = f"Kay{n} Kustomer"
        self.kustomer_ids[email] = self.pair.add_customer(self.names[email], email)
        email = f"g{n}@acme.example"
        self.names[email] = f"Gee{n} Google"
        self.google_ids[email] = self.pair.add_contact(person(f"Gee{n}", "Google", email))

    def edit_one_side(self, n: int) -> None:
        """One person's name edited once, in one app only: it must arrive in the other."""
        email = f"{'k' if n % 2 else 'g'}{n}@acme.example"
        given, family = f"Ed{n}", "Edited"
        self.names[email] = f"{given} {family}"
        self.edited.add(email)
        if n % 2:
            self.pair.kustomer.update_customer(
                self.pair.subdomain, self.kustomer_ids[email], {"name": f"{given} {family}"}
            )
        else:
            self.pair.google.edit_contact(
                self.pair.google_email,
                self.google_ids[email],
                names=[{"givenName": given, "familyName": family}],
            )

    def duplicates(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for customer in self.pair.customers():
            if not customer.get("deleted"):
                counts.update(f"kustomer:{e['email']}" for e in customer.get("emails") or [])
        for contact in self.pair.contacts():
            counts.update(f"google:{e['value']}" for e in contact.get("emailAddresses") or [])
        return {key: n for key, n in counts.items() if n > 1}

    def lost_edits(self) -> dict[str, tuple[str, str, str]]:
        """Every person whose name differs from the expected one in either app."""
        in_kustomer = {
            e["email"]: c.get("name") or ""
            for c in self.pair.customers()
            for e in c.get("emails") or []
        }
        in_google = {}
        for contact in self.pair.contacts():
            names = (contact.get("names") or [{}])[0]
            full = f"{names.get('givenName', '')} {names.get('familyName', '')}".strip()
            for e in contact.get("emailAddresses") or []:
                in_google[e["value"]] = full
        return {
            email: (want, in_kustomer.get(email, "<missing>"), in_google.get(email, "<missing>"))
            for email, want in self.names.items()
            if in_kustomer.get(email) != want or in_google.get(email) != want
        }


def make_due(connection: Connection) -> None:
    """Due now ("Sync now"), once the run before has released its lease: a release schedules
    the next run and would undo this."""
    wait_for(
        lambda: (
            Connection.objects.filter(pk=connection.pk, lease_owner="").exists()
            or Connection.objects.filter(
                pk=connection.pk, lease_expires_at__lte=timezone.now()
            ).exists()
        ),
        timeout=LEASE_SECONDS + 10,
        what="the lease to be free",
    )
    Connection.objects.filter(pk=connection.pk).update(next_sync_at=timezone.now())


def latest_run(connection: Connection, after: int = 0) -> SyncRun | None:
    return (
        SyncRun.objects.filter(connection=connection, pk__gt=after, dry_run=False)
        .order_by("-pk")
        .first()
    )


def converge(connection: Connection, fleet: Fleet, *, after: int, timeout: float = 60) -> SyncRun:
    """Runs until one succeeds with nothing left to do after everything before it; returns it."""
    last = after
    deadline = time.monotonic() + timeout
    quiet = None
    while time.monotonic() < deadline:
        make_due(connection)
        run = wait_for(
            lambda last=last: (
                SyncRun.objects.filter(connection=connection, pk__gt=last, dry_run=False)
                .exclude(outcome=SyncRun.Outcome.RUNNING)
                .order_by("pk")
                .first()
            ),
            timeout=max(1.0, deadline - time.monotonic()),
            what="a finished run",
        )
        last = run.pk
        writes = sum(getattr(run, f"{kind}_{side}") for kind in ("created", "updated", "tagged")
                     for side in "ab")  # fmt: skip
        if run.outcome == SyncRun.Outcome.SUCCESS and writes == 0:
            quiet = run
            break
    if quiet is None:
        worker_logs = "\n".join(fleet.output(name) for name in fleet.processes)
        raise AssertionError(f"no quiet run within {timeout:.0f}s:\n{worker_logs[-4000:]}")
    return quiet


def test_it_survives_workers_killed_mid_run_with_nothing_duplicated_or_lost(
    pair: Pair, fleet: Fleet
) -> None:
    rng = random.Random(20261130)
    pair.kustomer.set_faults(count=100_000, sleep=0.02)  # a slow app: runs last long enough
    pair.google.fail_next(100_000, sleep=0.02)
    people = People(pair)
    for n in range(3):
        people.add(n)
    connection = pair.connect()
    fleet.worker("w0")
    fleet.worker("w1")
    fleet.beat("beat")
    kills: list[tuple[int, float]] = []  # (killed run id, its lease's expiry as a timestamp)
    pickups: list[float] = []
    n, last = 3, 0
    deadline = time.monotonic() + 150
    while len(kills) < 20 and time.monotonic() < deadline:
        people.add(n)
        if n >= 5:
            people.edit_one_side(n - 2)
        n += 1
        make_due(connection)
        run = wait_for(
            lambda last=last: SyncRun.objects.filter(
                connection=connection, pk__gt=last, dry_run=False
            ).first(),
            timeout=20,
            what="the next run to start",
        )
        last = run.pk
        time.sleep(rng.uniform(0.0, 0.4))
        connection.refresh_from_db()
        run.refresh_from_db()
        if run.outcome != SyncRun.Outcome.RUNNING or not connection.lease_owner:
            continue
        pid = int(connection.lease_owner.split(":")[1])
        name = fleet.pids().get(pid)
        assert name is not None, f"lease held by an unknown process {connection.lease_owner}"
        fleet.kill(name)
        run.refresh_from_db()
        if run.outcome != SyncRun.Outcome.RUNNING:
            continue  # it finished just before the kill: not a kill mid-run
        assert connection.lease_expires_at is not None
        kills.append((run.pk, connection.lease_expires_at.timestamp()))
        fleet.worker(f"{name}-{len(kills)}")
        # The next run: once the dead run's lease is over, within two dispatcher ticks.
        make_due(connection)
        following = wait_for(
            lambda last=last: SyncRun.objects.filter(
                connection=connection, pk__gt=last, dry_run=False
            ).first(),
            timeout=LEASE_SECONDS + 2 * TICK_SECONDS + 10,
            what="a run after the kill",
        )
        pickups.append(following.started_at.timestamp() - kills[-1][1])
        last = following.pk - 1  # the next iteration may kill this one
    assert len(kills) >= 20, f"only {len(kills)} kills mid-run within the time budget"
    pair.kustomer.set_faults(count=0)
    pair.google.fail_next(0)
    converge(connection, fleet, after=last)
    outcomes = dict(
        SyncRun.objects.filter(pk__in=[k for k, _ in kills]).values_list("pk", "outcome")
    )
    assert set(outcomes.values()) == {SyncRun.Outcome.ABANDONED}
    assert max(pickups) <= 2 * TICK_SECONDS + PICKUP_SLACK, pickups
    assert people.duplicates() == {}
    assert people.lost_edits() == {}
    print(
        f"\nFIGURES kills={len(kills)} people={len(people.names)} edits={len(people.edited)} "
        f"duplicates=0 lost=0 max_pickup={max(pickups):.2f}s"
    )


def app_state(pair: Pair, connection: Connection) -> tuple[Any, ...]:
    from integrations.models import RecordLink

    connection.refresh_from_db()
    links = sorted(
        RecordLink.objects.filter(connection=connection).values_list(
            "id_a", "id_b", "version_a", "version_b"
        )
    )
    customers = sorted((c["id"], c.get("updatedAt"), c.get("name")) for c in pair.customers())
    contacts = sorted((c["resourceName"], c.get("etag")) for c in pair.contacts())
    return customers, contacts, links, connection.checkpoint_a, connection.checkpoint_b


def assert_never_two_runs_at_once(connection: Connection) -> None:
    runs = list(SyncRun.objects.filter(connection=connection, dry_run=False).order_by("started_at"))
    generations = [r.lease_generation for r in runs]
    assert len(set(generations)) == len(generations), generations
    assert generations == sorted(generations), generations
    finished = [r for r in runs if r.outcome not in (SyncRun.Outcome.ABANDONED, "stopped")]
    for before, after in itertools.pairwise(finished):
        assert before.finished_at is not None
        assert after.started_at >= before.finished_at, (before.pk, after.pk)


def test_it_runs_a_connection_once_under_two_beats_and_a_frozen_lease_holder(
    pair: Pair, fleet: Fleet, redis_server: RedisServer
) -> None:
    from integrations import tasks

    people = People(pair)
    for n in range(6):
        people.add(n)
    pair.kustomer.set_faults(count=100_000, sleep=0.05)
    connection = pair.connect()
    fleet.worker("w0")
    fleet.worker("w1")
    fleet.beat("beat0")
    fleet.beat("beat1")
    make_due(connection)
    run = wait_for(
        lambda: SyncRun.objects.filter(connection=connection).first(), timeout=30, what="a run"
    )
    time.sleep(0.3)
    connection.refresh_from_db()
    frozen = fleet.pids()[int(connection.lease_owner.split(":")[1])]
    finished_before = tasks_finished(fleet, frozen)
    fleet.kill(frozen, signal.SIGSTOP)
    try:
        with sending_to(redis_server.url):
            for _ in range(20):
                tasks.sync_connection_task.delay(connection.pk)
        pair.kustomer.set_faults(count=0)
        # Another worker takes the connection over once the frozen run's lease is over.
        converge(connection, fleet, after=run.pk, timeout=90)
        before_wake = app_state(pair, connection)
    finally:
        fleet.kill(frozen, signal.SIGCONT)
    wait_for(
        lambda: tasks_finished(fleet, frozen) > finished_before,
        timeout=30,
        what="the woken worker to give its run up",
    )
    assert app_state(pair, connection) == before_wake
    run.refresh_from_db()
    assert run.outcome in (SyncRun.Outcome.ABANDONED, SyncRun.Outcome.STOPPED)
    assert_never_two_runs_at_once(connection)
    assert people.duplicates() == {}
    assert people.lost_edits() == {}
    print(
        f"\nFIGURES runs={SyncRun.objects.filter(connection=connection).count()} enqueues=20 "
        f"beats=2 frozen_run={run.outcome} stale_changes=0"
    )


def terminate_worker_connections() -> int:
    """``pg_terminate_backend`` on every other connection to the test database: the workers'."""
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def next_run_start(connection: Connection, after: int, timeout: float) -> tuple[SyncRun, float]:
    """The next run, and how long after this call it started."""
    make_due(connection)
    asked = time.time()
    try:
        run = wait_for(
            lambda: SyncRun.objects.filter(
                connection=connection, pk__gt=after, dry_run=False
            ).first(),
            timeout=timeout,
            what="the next run",
        )
    except AssertionError as exc:
        state = Connection.objects.filter(pk=connection.pk).values(
            "status", "status_reason", "next_sync_at", "lease_owner", "lease_expires_at"
        )[0]
        runs = list(
            SyncRun.objects.filter(connection=connection)
            .order_by("-pk")
            .values("pk", "outcome", "error")[:3]
        )
        raise AssertionError(f"{exc}; connection {state}; runs {runs}") from None
    return run, run.started_at.timestamp() - asked


def test_it_recovers_from_a_redis_restart_and_dropped_database_connections(
    pair: Pair, fleet: Fleet, redis_server: RedisServer
) -> None:
    people = People(pair)
    for n in range(4):
        people.add(n)
    connection = pair.connect()
    fleet.worker("w0")
    fleet.worker("w1")
    fleet.beat("beat")
    last = converge(connection, fleet, after=0).pk
    waits: dict[str, list[float]] = {"redis": [], "postgres": []}
    terminated = 0
    for round_ in range(3):
        people.add(10 + round_)
        people.edit_one_side(round_)
        pair.kustomer.set_faults(count=100_000, sleep=0.05)
        run, _ = next_run_start(connection, last, timeout=30)
        redis_server.restart(down_for=1.0)
        pair.kustomer.set_faults(count=0)
        lease_free = wait_for(
            lambda run=run: (
                SyncRun.objects.filter(pk=run.pk).exclude(outcome=SyncRun.Outcome.RUNNING).exists()
                or Connection.objects.filter(
                    pk=connection.pk, lease_expires_at__lte=timezone.now()
                ).exists()
            ),
            timeout=LEASE_SECONDS + 30,
            what="the run under the Redis restart to end or lose its lease",
        )
        assert lease_free
        later, waited = next_run_start(connection, run.pk, timeout=60)
        waits["redis"].append(waited)
        last = converge(connection, fleet, after=later.pk - 1).pk

        people.add(20 + round_)
        pair.google.fail_next(100_000, sleep=0.05)
        run, _ = next_run_start(connection, last, timeout=30)
        time.sleep(0.2)
        terminated += terminate_worker_connections()
        pair.google.fail_next(0)
        wait_for(
            lambda run=run: (
                SyncRun.objects.filter(pk=run.pk).exclude(outcome=SyncRun.Outcome.RUNNING).exists()
                or Connection.objects.filter(
                    pk=connection.pk, lease_expires_at__lte=timezone.now()
                ).exists()
            ),
            timeout=LEASE_SECONDS + 30,
            what="the run under dropped connections to end or lose its lease",
        )
        later, waited = next_run_start(connection, run.pk, timeout=60)
        waits["postgres"].append(waited)
        last = converge(connection, fleet, after=later.pk - 1).pk
    assert terminated > 0
    assert {name: p.poll() for name, p in fleet.processes.items()} == dict.fromkeys(
        fleet.processes
    ), "a worker or beat died"
    assert_never_two_runs_at_once(connection)
    assert people.duplicates() == {}
    assert people.lost_edits() == {}
    print(f"\nFIGURES terminated={terminated} waits={waits}")
    assert max(waits["postgres"]) <= 2 * TICK_SECONDS + PICKUP_SLACK, waits
    assert max(waits["redis"]) <= 2 * TICK_SECONDS + PICKUP_SLACK, waits
