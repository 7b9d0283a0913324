"""A dry run computes the run's plan and writes nothing; the real run then does exactly that."""

from __future__ import annotations

import json
from typing import Any

import pytest

from integrations.models import Connection, CreateIntent, RecordIssue, RecordLink, SyncRun
from integrations.sync.engine import run_sync
from tests.integrations.sync.conftest import Pair, make_pair

pytestmark = pytest.mark.django_db


def person(email: str | None, name: str = "Ann Lee", **more: Any) -> dict[str, Any]:
    return {"emails": [email] if email else [], "full_name": name, **more}


@pytest.fixture
def busy() -> Pair:
    """A connection about to scan: matches with differences, news on both sides, duplicates and
    a contact without an email."""
    pair = make_pair(sync_deletions=True, sync_unsubscribes=True)
    pair.a.add(person("ann@example.com", "Mary Ann Smith", company="Acme"))
    pair.b.add(emails=["ANN@example.com"], first_name="Mary", last_name="Smith", company="Globex")
    for n in range(4):
        pair.a.add(person(f"a{n}@example.com", f"Alpha Person{n}"))
        pair.b.add(emails=[f"b{n}@example.com"], first_name="Beta", last_name=f"Person{n}")
    pair.a.add(person("twin@example.com"))
    pair.a.add(person("twin@example.com", "Twin Two"))
    pair.a.add(person(None, "No Email"))
    return pair


def dry_plan(pair: Pair) -> dict[str, Any]:
    connection = pair.refresh()
    run = SyncRun.objects.create(connection=connection, dry_run=True)
    plan = run_sync(
        connection=connection,
        run=run,
        lease=None,
        connector_a=pair.a,
        connector_b=pair.b,
    )
    assert plan is not None
    return plan


def state(pair: Pair) -> tuple[Any, ...]:
    connection = pair.refresh()
    return (
        pair.writes(),
        list(RecordLink.objects.values_list("id_a", "id_b", "snapshot", "version_a", "version_b")),
        CreateIntent.objects.count(),
        RecordIssue.objects.count(),
        connection.checkpoint_a,
        connection.checkpoint_b,
        connection.status,
    )


def test_it_writes_nothing_in_a_dry_run_of_a_scan(busy: Pair) -> None:
    before = state(busy)
    dry_plan(busy)
    assert state(busy) == before


def test_it_returns_a_plan_that_is_json(busy: Pair) -> None:
    plan = dry_plan(busy)
    assert json.loads(json.dumps(plan)) == plan


def test_it_plans_creates_updates_with_before_and_after_duplicates_and_exclusions(
    busy: Pair,
) -> None:
    plan = dry_plan(busy)
    assert plan["counts"]["created_b"] == 4
    assert plan["counts"]["created_a"] == 4
    assert plan["b"]["update"][0]["fields"]["name"] == {
        "before": {"first": "Mary", "last": "Smith"},
        "after": {"first": "Mary Ann", "last": "Smith"},
    }
    assert (plan["counts"]["duplicates"], plan["counts"]["excluded"]) == (2, 1)


def test_it_does_in_a_scan_exactly_what_the_dry_run_planned(busy: Pair) -> None:
    plan = dry_plan(busy)
    assert busy.journal().as_plan() == plan


@pytest.fixture
def edited(busy: Pair) -> Pair:
    """The same connection after its scan, with edits everywhere."""
    busy.run()
    links = list(RecordLink.objects.filter(connection=busy.connection).order_by("id"))
    busy.a.edit(links[0].id_a, company="Initech")
    busy.b.edit(links[0].id_b, company="Umbrella")
    busy.b.edit(links[1].id_b, last_name="Renamed")
    busy.a.edit(links[2].id_a, full_name="Alpha Changed")
    busy.a.delete(links[3].id_a)
    busy.b.unsubscribe(links[4].id_b)
    busy.a.add(person("late@example.com", "Late Comer"))
    busy.b.add(emails=["later@example.com"], first_name="Later")
    Connection.objects.filter(pk=busy.connection.pk).update(mass_tag_confirmed=True)
    return busy


def test_it_writes_nothing_in_a_dry_run_of_an_incremental_run(edited: Pair) -> None:
    before = state(edited)
    dry_plan(edited)
    assert state(edited) == before


def test_it_does_incrementally_exactly_what_the_dry_run_planned(edited: Pair) -> None:
    plan = dry_plan(edited)
    assert plan["phase"] == "incremental"
    assert plan["counts"]["conflicts"] == 1
    assert edited.journal().as_plan() == plan


def test_it_counts_the_dry_runs_plan_on_its_run(busy: Pair) -> None:
    connection = busy.refresh()
    run = SyncRun.objects.create(connection=connection, dry_run=True)
    plan = run_sync(
        connection=connection, run=run, lease=None, connector_a=busy.a, connector_b=busy.b
    )
    run.refresh_from_db()
    assert plan is not None
    assert (run.created_a, run.created_b, run.phase) == (
        plan["counts"]["created_a"],
        plan["counts"]["created_b"],
        "scan",
    )


def test_it_returns_no_plan_from_a_real_run(busy: Pair) -> None:
    connection = busy.refresh()
    run = SyncRun.objects.create(connection=connection)
    assert (
        run_sync(connection=connection, run=run, lease=None, connector_a=busy.a, connector_b=busy.b)
        is None
    )
