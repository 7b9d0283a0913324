"""The store's own INSERTs (``_insert``, ``_insert_returning``) against what Django's
``bulk_create`` stores, on the database the tests run on (SQLite, or PostgreSQL with
``DATABASE_URL``)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from django.db import IntegrityError, models
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.models import AuditEntry, CreateIntent, RecordLink, SyncRun
from integrations.sync import store as store_mod
from integrations.sync.planner import CreatePlan
from integrations.sync.records import Contact
from integrations.sync.store import Store
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


class Word(str):
    """A str subclass, as a TextChoices member is."""


VALUES: list[Any] = [
    None, "", "plain", "ünïcode ✓", Word("a"), SyncRun.Phase.SCAN, True, False, 0, 7, 2**40,
    NOW, NOW.astimezone(dt.timezone(dt.timedelta(hours=5))), dt.datetime(2020, 1, 2, 3, 4, 5),
    {}, [], {"a": {"emails": ["x@example.com"], "n": 1.5}}, [1, "two", None], uuid.uuid4(),
]  # fmt: skip

# A naive datetime is one of the values compared: Django warns as it prepares it.
NAIVE_WARNING = "ignore:DateTimeField .* received a naive datetime:RuntimeWarning"


def comparable(field: models.Field[Any, Any], value: Any) -> Any:
    # PostgreSQL's JSON adapter wraps the value (``Jsonb``), which has no equality of its own.
    if hasattr(value, "obj"):
        return ("json", value.obj)
    # SQLite's is JSON text, which the store writes in a form of its own (``jsoncodec``):
    # compared as the values it reads back as.
    if isinstance(field, models.JSONField) and isinstance(value, str):
        return ("json", json.loads(value))
    return value


@pytest.mark.filterwarnings(NAIVE_WARNING)
@pytest.mark.parametrize("model", [RecordLink, CreateIntent, AuditEntry])
def test_it_prepares_every_value_as_django_does(model: type[models.Model]) -> None:
    for field in model._meta.concrete_fields:
        prep = store_mod._Preparer(field)
        # Twice: the second time from what the first one kept.
        for value in VALUES + VALUES:
            try:
                expected = field.get_db_prep_save(value, connection=db)
            except Exception as exc:
                with pytest.raises(type(exc)):
                    prep(value)
                continue
            got = prep(value)
            assert comparable(field, got) == comparable(field, expected), (field.name, value)
            assert type(got) is type(expected), (field.name, value)


@pytest.mark.filterwarnings(NAIVE_WARNING)
@pytest.mark.parametrize("model", [RecordLink, CreateIntent, AuditEntry])
def test_it_prepares_a_column_of_values_as_django_does_each(model: type[models.Model]) -> None:
    # A column of one type (given back as it is, or encoded at once) and a mixed one.
    columns = [[v] * 3 for v in VALUES] + [VALUES, VALUES[::-1]]
    for field in model._meta.concrete_fields:
        for column in columns:
            try:
                expected = [field.get_db_prep_save(v, connection=db) for v in column]
            except Exception as exc:
                with pytest.raises(type(exc)):
                    store_mod._Preparer(field).column(list(column))
                continue
            got = store_mod._Preparer(field).column(list(column))
            assert [comparable(field, v) for v in got] == [
                comparable(field, v) for v in expected
            ], field.name
            assert [type(v) for v in got] == [type(v) for v in expected], field.name


def stored(model: type[models.Model], pks: list[int]) -> list[dict[str, Any]]:
    rows = model.objects.filter(pk__in=pks).order_by("pk").values()
    return [{k: v for k, v in row.items() if k not in ("id", "created_at")} for row in rows]


def test_it_inserts_links_as_bulk_create_does() -> None:
    connection = ConnectionFactory()
    rows: list[dict[str, Any]] = [
        {
            "connection": connection.pk,
            "id_a": f"a{i}",
            "id_b": f"b{i}",
            "snapshot": {"a": {"emails": [f"p{i}@example.com"]}, "b": {}} if i % 2 else {},
            "version_a": str(i),
            "version_b": "",
            "applied_actions": {"a": [{"kind": "add_tag", "value": "x"}]} if i % 3 else {},
            "deleted_a": i % 4 == 0,
            "deleted_b": False,
            "synced_at": NOW if i % 5 else None,
            "created_at": NOW,
        }
        for i in range(300)
    ]
    store_mod._insert(RecordLink, rows)
    links = RecordLink.objects.filter(connection=connection)
    fast_pks = list(links.order_by("pk").values_list("pk", flat=True))
    fast = stored(RecordLink, fast_pks)
    assert all(link.created_at == NOW for link in links)
    links.delete()
    RecordLink.objects.bulk_create(
        [RecordLink(**{**row, "connection": connection}) for row in rows]
    )
    slow = stored(RecordLink, list(links.order_by("pk").values_list("pk", flat=True)))
    assert len(fast) == 300
    assert fast == slow


def test_it_inserts_many_rows_in_statements_of_several_rows_each() -> None:
    # Not one statement a row (``executemany``): SQLite lets Python's lock go at every step.
    connection = ConnectionFactory()
    rows: list[dict[str, Any]] = [
        {"connection": connection.pk, "id_a": f"a{i}", "id_b": f"b{i}"} for i in range(2_500)
    ]
    width = len(store_mod._columns(RecordLink)[0])
    per_statement = store_mod._rows_per_statement(width)
    with CaptureQueriesContext(db) as queries:
        store_mod._insert(RecordLink, rows)
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert 1 < per_statement < len(rows)
    assert len(inserts) == -(-len(rows) // per_statement)
    assert RecordLink.objects.filter(connection=connection).count() == len(rows)


def test_it_gives_what_a_row_leaves_out_its_default_and_refuses_unknown_columns() -> None:
    connection = ConnectionFactory()
    before = timezone.now()
    store_mod._insert(RecordLink, [{"connection": connection.pk, "id_a": "a", "id_b": "b"}])
    link = RecordLink.objects.get(connection=connection)
    assert (link.snapshot, link.applied_actions, link.version_a, link.deleted_a) == (
        {},
        {},
        "",
        False,
    )
    assert link.synced_at is None
    assert before <= link.created_at <= timezone.now()
    with pytest.raises(TypeError, match="colour"):
        store_mod._insert(RecordLink, [{"connection": connection.pk, "colour": "red"}])


def contact(i: int) -> Contact:
    return Contact(id=f"src{i}", values={"emails": [f"p{i}@example.com"]})


def test_it_keeps_an_intent_per_create_with_its_own_row() -> None:
    connection = ConnectionFactory()
    run = SyncRun.objects.create(connection=connection)
    store = Store(connection, run, lease=None)
    # More than one INSERT's worth of rows (SQLite takes 999 parameters a statement).
    creates = [
        CreatePlan(
            source="a" if i % 2 else "b",
            record=contact(i),
            values={"emails": [f"P{i}@Example.com"]} if i % 3 else {},
            snapshot={},
            add_tags=[],
            applied_actions={},
        )
        for i in range(450)
    ]
    kept = store.keep_intents(creates)
    assert len(kept) == 450
    for create in creates:
        intent = CreateIntent.objects.get(pk=kept[create.record.id].pk)
        assert str(intent.key) == kept[create.record.id].key
        assert (intent.connection_id, intent.target, intent.source_id) == (
            connection.pk, create.target, create.record.id,
        )  # fmt: skip
        assert intent.emails == [create.record.id.replace("src", "p") + "@example.com"]
        assert intent.completed_at is None and intent.target_id == ""
    assert len({k.key for k in kept.values()}) == 450


def test_it_replaces_an_open_intent_kept_before() -> None:
    connection = ConnectionFactory()
    store = Store(connection, SyncRun.objects.create(connection=connection), lease=None)
    create = CreatePlan("a", contact(1), {}, {}, [], {})
    first = store.keep_intents([create])["src1"]
    second = store.keep_intents([create])["src1"]
    assert first.key != second.key
    assert list(CreateIntent.objects.values_list("pk", flat=True)) == [second.pk]


def test_it_keeps_the_audit_as_bulk_create_does() -> None:
    connection = ConnectionFactory()
    run = SyncRun.objects.create(connection=connection)
    writes: list[dict[str, Any]] = [
        {"side": "b", "record_id": "r1", "kind": "create", "why": "create", "field": "",
         "after": {"emails": ["x@example.com"]}, "source_id": "s1"},
        {"side": "a", "record_id": "r2", "kind": "update", "field": "company", "why": "winner",
         "detail": "company ⇄ company", "rule_id": None, "before": None, "after": "Acme",
         "source_id": "s2"},
        {"side": "a", "record_id": "r3", "kind": "tag", "field": "tags", "why": "action",
         "rule_id": 12, "before": None, "after": "VIP", "source_id": ""},
    ]  # fmt: skip
    store = Store(connection, run, lease=None)
    journal = store.new_journal("scan")
    assert journal.writes is not None
    journal.writes.extend(dict(w) for w in writes)
    store.save_audit(journal)
    assert journal.writes == []
    fast = list(AuditEntry.objects.filter(run=run).order_by("pk").values_list("pk", flat=True))
    slow_run = SyncRun.objects.create(connection=connection)
    AuditEntry.objects.bulk_create(
        [AuditEntry(run=slow_run, connection=connection, **w) for w in writes]
    )
    slow = list(AuditEntry.objects.filter(run=slow_run).order_by("pk").values_list("pk", flat=True))
    drop = {"run_id"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in stored(AuditEntry, fast)] == [
        {k: v for k, v in r.items() if k not in drop} for r in stored(AuditEntry, slow)
    ]


@pytest.mark.django_db(transaction=True)
def test_it_inserts_many_rows_in_one_transaction() -> None:
    # Outside a transaction SQLite would commit every row by itself: one transaction keeps
    # all the rows or none (and syncs to disk once).
    connection = ConnectionFactory()
    rows: list[dict[str, Any]] = [
        {"connection": connection.pk, "id_a": f"a{i}", "id_b": f"b{i}"} for i in range(3)
    ]
    rows.append({"connection": connection.pk, "id_a": None, "id_b": "b"})
    with pytest.raises(IntegrityError):
        store_mod._insert(RecordLink, rows)
    assert not RecordLink.objects.filter(connection=connection).exists()
    intents: list[dict[str, Any]] = [
        {"connection": connection.pk, "target": "b", "source_id": f"s{i}", "key": key}
        for i, key in enumerate([uuid.uuid4(), uuid.uuid4()] * 2)
    ]
    with pytest.raises(IntegrityError):
        store_mod._insert_returning(CreateIntent, intents, key="key")
    assert not CreateIntent.objects.filter(connection=connection).exists()


def test_it_saves_the_fields_named_as_django_saves_them() -> None:
    connection = ConnectionFactory()
    links = RecordLink.objects.bulk_create(
        [RecordLink(connection=connection, id_a=f"a{i}", id_b=f"b{i}") for i in range(4)]
    )
    values: list[dict[str, Any]] = [
        {"pk": link.pk, "id_a": f"A{i}", "snapshot": {"a": {"n": i}} if i % 2 else {},
         "deleted_b": i == 3, "synced_at": NOW if i else None}
        for i, link in enumerate(links)
    ]  # fmt: skip
    store_mod._save_fields(RecordLink, values, ["id_a", "snapshot", "deleted_b", "synced_at"])
    fast = stored(RecordLink, [link.pk for link in links])
    for link, row in zip(links, values, strict=True):
        for name, value in row.items():
            if name != "pk":
                setattr(link, name, value)
        link.save()
    assert fast == stored(RecordLink, [link.pk for link in links])
    assert [r["id_a"] for r in fast] == ["A0", "A1", "A2", "A3"]
