"""The store's lookups of links by record id (one ``IN`` of plain parameters, in chunks the
database takes) answer what Django's ``__in`` lookups answer, on the database the tests run
on (SQLite, or PostgreSQL with ``DATABASE_URL``)."""

from __future__ import annotations

import pytest
from django.db import connection as db

from integrations.models import RecordLink, SyncRun
from integrations.sync.records import Contact
from integrations.sync.store import Store, _link
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

# More ids than one statement of SQLite takes (999 parameters): the lookups go in chunks.
N = 2_500


@pytest.fixture
def store() -> Store:
    connection, elsewhere = ConnectionFactory(), ConnectionFactory()
    mine = [
        RecordLink(
            connection=connection,
            id_a=f"a{i}",
            id_b=f"b{i}",
            version_a=f"v{i}",
            snapshot={"a": {"n": i}},
            deleted_b=i % 7 == 0,
        )
        for i in range(0, N, 2)
    ]
    theirs = [RecordLink(connection=elsewhere, id_a=f"a{i}", id_b=f"b{i}") for i in range(N)]
    RecordLink.objects.bulk_create(mine + theirs)
    return Store(connection, SyncRun.objects.create(connection=connection), lease=None)


def test_the_lookups_split_what_one_statement_cannot_take() -> None:
    assert (db.features.max_query_params or 65535) < N or db.vendor != "sqlite"


def test_it_finds_the_records_already_applied_as_an_in_lookup_does(store: Store) -> None:
    records = [Contact(id=f"a{i}", version=f"v{i}" if i % 3 else "other") for i in range(N)]
    expected = {
        record_id
        for record_id, version in RecordLink.objects.filter(
            connection=store.connection, id_a__in=[r.id for r in records]
        ).values_list("id_a", "version_a")
        if version == {r.id: r.version for r in records}[record_id]
    }
    assert store.applied_ids("a", records) == expected
    assert len(expected) == len([i for i in range(0, N, 2) if i % 3])


def test_it_finds_the_links_of_records_by_id_or_by_an_id_they_had(store: Store) -> None:
    records = [Contact(id=f"b{i}") for i in range(1, N, 2)]  # linked under no id of theirs
    records += [Contact(id=f"new{i}", facts={"previous_ids": [f"b{i}"]}) for i in range(0, N, 4)]
    records += [Contact(id=f"b{i}") for i in range(2, N, 4)]
    found = store.links_for("b", records)
    links = RecordLink.objects.filter(connection=store.connection).order_by()
    by_b = {row[2]: _link(row) for row in links.values_list(
        "pk", "id_a", "id_b", "version_a", "version_b", "deleted_a", "deleted_b", "snapshot",
        "applied_actions",
    )}  # fmt: skip
    expected = {f"new{i}": by_b[f"b{i}"] for i in range(0, N, 4)}
    expected |= {f"b{i}": by_b[f"b{i}"] for i in range(2, N, 4)}
    assert found == expected
    assert found["new4"].snapshot == {"a": {"n": 4}} and found["b14"].deleted_b is True


def test_it_tells_which_records_are_linked_under_their_id_or_an_id_they_had(
    store: Store,
) -> None:
    ids = [f"b{i}" for i in range(1, N, 2)] + [f"n{i}" for i in range(0, N, 4)]
    previous = {f"n{i}": [f"b{i}"] for i in range(0, N, 4)}
    assert store.linked_ids("b", ids, previous) == {f"n{i}" for i in range(0, N, 4)}
    assert store.linked_ids("a", [f"a{i}" for i in range(N)], {}) == {
        f"a{i}" for i in range(0, N, 2)
    }
