"""A page that changes nothing the store keeps (every record already applied, the checkpoint the
connection already holds) is not stored: no transaction, no query. The first run after a scan
reads back tens of pages of Tandem's own Google writes, each with the feed's first checkpoint
until the last; any page with something to keep, or a new checkpoint, is stored as before."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from integrations.leases import lease_acquire
from integrations.models import Connection, RecordIssue, SyncRun
from integrations.sync.planner import Failure, Plan
from integrations.sync.state import RunState
from integrations.sync.store import Store
from integrations.sync.writer import Outcomes
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

HELD = {"sync_token": "s1"}


@pytest.fixture
def store() -> Store:
    connection = ConnectionFactory(checkpoint_b=dict(HELD))
    lease = lease_acquire(connection_id=connection.pk, owner="test")
    assert lease is not None
    run = SyncRun.objects.create(connection=connection, lease_generation=lease.generation)
    return Store(Connection.objects.get(pk=connection.pk), run, lease)


def _save(store: Store, plan: Plan, outcomes: Outcomes, checkpoint: Any) -> int:
    with CaptureQueriesContext(db) as queries:
        store.save_page(
            plan, outcomes, side="b", name="Google", checkpoint=checkpoint, state=RunState()
        )
    return len(queries)


@pytest.mark.parametrize("checkpoint", [dict(HELD), None], ids=["the held one", "none"])
def test_a_page_with_nothing_to_keep_and_the_held_checkpoint_runs_no_query(
    store: Store, checkpoint: Any
) -> None:
    assert _save(store, Plan(source="b"), Outcomes(), checkpoint) == 0


def test_a_page_with_nothing_to_keep_but_a_new_checkpoint_stores_it(store: Store) -> None:
    assert _save(store, Plan(source="b"), Outcomes(), {"sync_token": "s2"}) > 0

    assert Connection.objects.get(pk=store.connection.pk).checkpoint_b == {"sync_token": "s2"}


def test_a_page_with_a_failure_and_the_held_checkpoint_is_stored(store: Store) -> None:
    outcomes = Outcomes()
    outcomes.fail("b", "people/c1", "a", "Kustomer refused emails: taken")

    assert _save(store, Plan(source="b"), outcomes, dict(HELD)) > 0

    issue = RecordIssue.objects.get(connection=store.connection)
    assert (issue.side, issue.record_id) == ("b", "people/c1")


def test_a_page_whose_plan_parks_a_record_is_stored(store: Store) -> None:
    plan = Plan(source="b", failures=[Failure("b", "people/c2", "a", "unreadable")])

    assert _save(store, plan, Outcomes(), dict(HELD)) > 0

    assert RecordIssue.objects.filter(record_id="people/c2").exists()
