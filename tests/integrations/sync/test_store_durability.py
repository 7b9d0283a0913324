"""What the store commits with a sync of its own on SQLite's write-ahead log (settings:
``synchronous=NORMAL``, a sync at the log's checkpoints only)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection as db
from django.db import transaction

from integrations.models import CreateIntent, SyncRun
from integrations.sync.planner import CreatePlan
from integrations.sync.records import Contact
from integrations.sync.store import Store
from tests.factories import ConnectionFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(db.vendor != "sqlite", reason="SQLite's sync levels"),
]


@pytest.fixture
def commit_levels(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """SQLite's ``synchronous`` level at each commit."""
    levels: list[int] = []
    db.ensure_connection()
    commit = db._commit

    def watched() -> None:
        levels.append(db.connection.execute("PRAGMA synchronous").fetchone()[0])
        commit()

    monkeypatch.setattr(db, "_commit", watched)
    yield levels


def level() -> int:
    with db.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        return int(cursor.fetchone()[0])


def create(i: int) -> CreatePlan:
    record = Contact(id=f"src{i}", values={"emails": [f"p{i}@example.com"]}, version="1")
    return CreatePlan("a", record, {}, {}, [], {})


def test_it_commits_the_intents_with_a_sync_of_their_own(commit_levels: list[int]) -> None:
    connection = ConnectionFactory()
    store = Store(connection, SyncRun.objects.create(connection=connection), lease=None)
    assert level() == 1  # NORMAL, as the settings open SQLite
    commit_levels.clear()
    kept = store.keep_intents([create(1), create(2)])
    assert commit_levels == [2]  # FULL: the log synced at this commit
    assert level() == 1
    assert CreateIntent.objects.filter(pk__in=[i.pk for i in kept.values()]).count() == 2


def test_it_keeps_intents_inside_a_transaction_without_touching_its_level(
    commit_levels: list[int],
) -> None:
    connection = ConnectionFactory()
    store = Store(connection, SyncRun.objects.create(connection=connection), lease=None)
    commit_levels.clear()
    with transaction.atomic():
        store.keep_intents([create(1)])
    assert (commit_levels, level()) == ([1], 1)
