"""The store's and the journal's shortcuts against what they stand in for: the JSON encoder
made once (``json.dumps``), ``jsonable``'s copy of plain values (its general rules), the run's
notes kept by ``_insert`` (``bulk_create``), the open issues and stale intents found by a plain
``IN`` (Django's ``__in``) and the intents' keys (``uuid.uuid4``). On the database the tests
run on (SQLite, or PostgreSQL with ``DATABASE_URL``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import uuid
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from integrations.models import CreateIntent, RecordIssue, RecordLink, RunNote, SyncRun
from integrations.sync import store as store_mod
from integrations.sync.findings import jsonable
from integrations.sync.planner import CreatePlan
from integrations.sync.records import Contact
from integrations.sync.store import Store
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


class Word(str):
    """A str subclass, as a TextChoices member is."""


class Number(int):
    """An int subclass, as an IntegerChoices member is."""


@dataclasses.dataclass
class Point:
    x: int
    when: dt.date


def reference_jsonable(value: Any) -> Any:
    """``jsonable`` as it was written before its shortcuts: every value by the rules."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): reference_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [reference_jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return reference_jsonable(dataclasses.asdict(value))
    return value


DAY = dt.date(2026, 11, 30)
MOMENT = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
VALUES: list[Any] = [
    None, "", "text", Word("w"), 0, 7, Number(3), True, False, 1.5, math.inf, DAY, MOMENT,
    [], ["a", "b"], ["a", 1, None, True, 2.5], [Word("w"), "x"], ["a", DAY], ("a", "b"),
    ["a", ["b"]], {}, {"emails": ["x@example.com"], "name": "N", "n": 1},
    {"a": {"b": ["c"]}, "d": ("e",), "f": DAY, "g": [MOMENT], "h": Word("h")},
    {1: "one", None: "none", Word("k"): "word", 2.5: ["x"]}, Point(1, DAY), [Point(2, DAY)],
    {"p": Point(3, DAY), "q": [{"r": DAY}]}, object,
]  # fmt: skip


@pytest.mark.parametrize("value", VALUES)
def test_jsonable_gives_what_its_general_rules_give(value: Any) -> None:
    got, expected = jsonable(value), reference_jsonable(value)
    assert got == expected
    assert json.dumps(got, default=repr) == json.dumps(expected, default=repr)
    # Same types, key by key and item by item (a str subclass stays one, a key becomes text).
    assert repr(got) == repr(expected)
    if isinstance(value, dict | list):
        # A copy: the audit keeps it while the record's own values may change.
        assert got is not value


def test_jsonable_copies_a_record_values_plain_lists() -> None:
    values = {"emails": ["x@example.com"], "phones": ["+1"]}
    got = jsonable(values)
    assert got == values
    assert got["emails"] is not values["emails"]


JSON_VALUES: list[Any] = [
    {}, [], [[]], {"a": [1.5, -0.0, 1e300, 10**30, True, None, "ü✓\"\\\n\u2028"]},
    {"a": {"b": {"c": []}}, "d": [{"e": 1}]}, {1: 2, False: 3, None: 4, 2.5: 5},
    {"é": "ß", "": ""}, [Word("w"), Number(4)],
]  # fmt: skip


@pytest.mark.parametrize("value", JSON_VALUES)
def test_a_json_value_the_store_keeps_reads_back_as_the_fields_own_would(value: Any) -> None:
    connection = ConnectionFactory()
    rows = [{"connection": connection.pk, "id_a": "a1", "id_b": "b1", "snapshot": value}]
    store_mod._insert(RecordLink, rows)
    kept = RecordLink.objects.get(connection=connection)
    kept.delete()
    RecordLink.objects.create(connection=connection, id_a="a1", id_b="b1", snapshot=value)
    assert kept.snapshot == RecordLink.objects.get(connection=connection).snapshot


def test_the_store_refuses_to_keep_what_json_cannot_hold() -> None:
    connection = ConnectionFactory()
    rows = [{"connection": connection.pk, "id_a": "a1", "id_b": "b1", "snapshot": {"a": object()}}]
    with pytest.raises(TypeError), transaction.atomic():
        store_mod._insert(RecordLink, rows)
    assert not RecordLink.objects.filter(connection=connection).exists()


def test_the_intents_keys_are_random_version_4_uuids() -> None:
    keys = store_mod._uuid4s(1000)
    assert len(set(keys)) == 1000
    assert all(key.version == 4 and key.variant == uuid.RFC_4122 for key in keys)
    assert store_mod._uuid4s(0) == []


def test_it_keeps_the_notes_as_bulk_create_does() -> None:
    connection = ConnectionFactory()
    notes: list[dict[str, Any]] = [
        {"kind": "excluded", "side": "a", "record_id": "r1", "reason": "No rule matches."},
        {"kind": "duplicate", "side": "b", "record_id": "r2", "field": "x@example.com",
         "reason": "Several contacts have this email."},
        {"kind": "conflict", "side": "a", "record_id": "r3", "other_id": "o3",
         "field": "phones ⇄ phones", "value_a": ["+1"], "value_b": None, "winner": "a",
         "reason": "Changed on both sides."},
        {"kind": "conflict", "side": "a", "record_id": "r4", "other_id": "o4", "field": "n",
         "value_a": {"first": "Ann"}, "value_b": "", "winner": "", "reason": "Neither."},
    ]  # fmt: skip
    run = SyncRun.objects.create(connection=connection)
    store = Store(connection, run, lease=None)
    journal = store.new_journal("scan")
    assert journal.notes is not None
    journal.notes.extend(dict(n) for n in notes)
    before = timezone.now()
    store.save_notes(journal)
    assert journal.notes == []
    slow_run = SyncRun.objects.create(connection=connection)
    RunNote.objects.bulk_create([RunNote(run=slow_run, connection=connection, **n) for n in notes])

    def rows(of: SyncRun) -> list[dict[str, Any]]:
        found = RunNote.objects.filter(run=of).order_by("pk").values()
        return [{k: v for k, v in r.items() if k not in ("id", "run_id", "created_at")}
                for r in found]  # fmt: skip

    assert rows(run) == rows(slow_run)
    assert len(rows(run)) == 4
    assert all(before <= n.created_at <= timezone.now() for n in RunNote.objects.filter(run=run))


def test_it_resolves_only_the_open_issues_of_the_records_named() -> None:
    connection, elsewhere = ConnectionFactory(), ConnectionFactory()
    later = timezone.now() + dt.timedelta(hours=1)
    past = timezone.now() - dt.timedelta(days=1)

    def issue(conn: Any, side: str, record_id: str, resolved: dt.datetime | None) -> int:
        return int(
            RecordIssue.objects.create(
                connection=conn, side=side, record_id=record_id, target="b" if side == "a"
                else "a", reason="refused", next_retry_at=later, resolved_at=resolved,
            ).pk
        )  # fmt: skip

    open_a1 = issue(connection, "a", "r1", None)
    old_a1 = issue(connection, "a", "r1", past)
    open_a2 = issue(connection, "a", "r2", None)
    open_b1 = issue(connection, "b", "r1", None)
    other_a1 = issue(elsewhere, "a", "r1", None)
    store = Store(connection, SyncRun.objects.create(connection=connection), lease=None)
    # More ids than one statement takes (SQLite: 999 parameters), one of them with an issue.
    store.resolve_issues("a", [f"x{i}" for i in range(1500)] + ["r1"])
    resolved = dict(RecordIssue.objects.values_list("pk", "resolved_at"))
    assert resolved[open_a1] is not None and resolved[open_a1] > past
    assert resolved[old_a1] == past
    assert resolved[open_a2] is None
    assert resolved[open_b1] is None
    assert resolved[other_a1] is None
    store.resolve_issues("a", [])
    assert RecordIssue.objects.filter(resolved_at__isnull=True).count() == 3


def test_a_new_intent_replaces_only_the_open_intent_of_its_record_and_side() -> None:
    connection, elsewhere = ConnectionFactory(), ConnectionFactory()
    store = Store(connection, SyncRun.objects.create(connection=connection), lease=None)
    now = timezone.now()
    completed = CreateIntent.objects.create(
        connection=connection, target="b", source_id="src1", completed_at=now, target_id="t1"
    )
    other_side = CreateIntent.objects.create(connection=connection, target="a", source_id="src1")
    other_record = CreateIntent.objects.create(connection=connection, target="b", source_id="s2")
    other_connection = CreateIntent.objects.create(
        connection=elsewhere, target="b", source_id="src1"
    )
    stale = CreateIntent.objects.create(connection=connection, target="b", source_id="src1")
    create = CreatePlan("a", Contact(id="src1", values={}), {}, {}, [], {})
    kept = store.keep_intents([create])["src1"]
    assert set(CreateIntent.objects.values_list("pk", flat=True)) == {
        completed.pk, other_side.pk, other_record.pk, other_connection.pk, kept.pk,
    }  # fmt: skip
    assert kept.pk != stale.pk
    assert uuid.UUID(kept.key).version == 4


def test_values_given_for_every_row_are_stored_as_if_each_row_named_them() -> None:
    connection = ConnectionFactory()
    now = timezone.now()
    same = {"connection": connection.pk, "deleted_a": False, "synced_at": now, "created_at": now}
    rows: list[dict[str, Any]] = [
        {"id_a": f"a{i}", "id_b": f"b{i}", "snapshot": {"a": {"n": i}}} for i in range(5)
    ]
    store_mod._insert(RecordLink, rows, same=same)
    fast = RecordLink.objects.filter(connection=connection).order_by("pk")
    got = [{k: v for k, v in r.items() if k != "id"} for r in fast.values()]
    fast.delete()
    store_mod._insert(RecordLink, [{**same, **row} for row in rows])
    slow = RecordLink.objects.filter(connection=connection).order_by("pk")
    assert got == [{k: v for k, v in r.items() if k != "id"} for r in slow.values()]
    assert len(got) == 5 and all(r["synced_at"] == now for r in got)
    with pytest.raises(TypeError, match="deleted_a"):
        store_mod._insert(RecordLink, [{**rows[0], "deleted_a": True}], same=same)
    with pytest.raises(TypeError, match="colour"):
        store_mod._insert(RecordLink, rows, same={**same, "colour": "red"})


def test_the_rows_inserted_are_answered_by_their_key_as_each_row_gave_it() -> None:
    connection = ConnectionFactory()
    keys: list[Any] = [uuid.uuid4() if i % 2 else str(uuid.uuid4()) for i in range(300)]
    rows = [
        {"connection": connection.pk, "target": "b", "source_id": f"s{i}", "key": key}
        for i, key in enumerate(keys)
    ]
    found = store_mod._insert_returning(CreateIntent, rows, key="key")
    assert set(found) == set(keys)
    for key, pk in found.items():
        intent = CreateIntent.objects.get(pk=pk)
        assert intent.key == (key if isinstance(key, uuid.UUID) else uuid.UUID(key))


def test_the_rows_found_by_a_plain_in_are_those_django_reads() -> None:
    # More ids than one statement takes; texts a JSON array must escape (SQLite answers the
    # rows as one); integers past 32 bits; an id no link holds.
    connection = ConnectionFactory()
    odd = ['q"uote', "back\\slash", "ünï✓", "tab\tnew\nline", "nul\x01", "</x>", "' OR 1"]
    ids = [f"b{i}" for i in range(1_200)] + odd
    RecordLink.objects.bulk_create(
        [
            RecordLink(connection=connection, id_a=f"a{i}", id_b=id_b, version_b=f"v{i}{id_b}")
            for i, id_b in enumerate(ids)
        ]
    )
    other = ConnectionFactory()
    RecordLink.objects.create(connection=other, id_a="a", id_b="b1", version_b="elsewhere")
    big = RecordLink.objects.filter(connection=connection, id_b="b8")
    big.update(id=2**40)
    asked = ids[::2] + odd + ["nobody"]
    found = store_mod._rows_in(
        RecordLink, ["id_b", "version_b", "pk"], "id_b", asked, connection=connection.pk
    )
    expected = RecordLink.objects.filter(connection=connection, id_b__in=asked).values_list(
        "id_b", "version_b", "pk"
    )
    assert len(found) == len(set(asked)) - 1
    assert sorted(found) == sorted(expected)
    assert all(type(pk) is int for *_, pk in found) and 2**40 in {pk for *_, pk in found}
