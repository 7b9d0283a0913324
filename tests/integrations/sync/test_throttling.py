"""Writes the other app throttled past the HTTP seam's retries are no failure: no record issue,
no "failed" count; the page is read again by the next run, which writes them once."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.models import CreateIntent, RecordIssue, RecordLink
from integrations.sync.records import NewContact, WriteResult
from tests.integrations.sync.conftest import Pair, make_pair
from tests.integrations.sync.memory_app import MemoryApp

pytestmark = pytest.mark.django_db


def throttle(app: MemoryApp, calls: int) -> None:
    """The app's next ``calls`` create or update calls answer 429 for every record."""
    create_many, update_many = app.create_many, app.update_many
    left = {"calls": calls}

    def throttled(items: list[Any], real: Any) -> list[WriteResult]:
        if left["calls"] <= 0:
            return list(real(items))
        left["calls"] -= 1
        refs = [i.ref if isinstance(i, NewContact) else i.id for i in items]
        return [
            WriteResult(ref=r, error="429 too many requests", permanent=False, throttled=True)
            for r in refs
        ]

    app.create_many = lambda items: throttled(items, create_many)  # type: ignore[method-assign]
    app.update_many = lambda items: throttled(items, update_many)  # type: ignore[method-assign]


def people(pair: Pair, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        pair.a.add(emails=[f"p{n}@example.com"], full_name=f"Person {n}")


def test_it_neither_fails_nor_reports_throttled_creates() -> None:
    pair = make_pair()
    people(pair, 3)
    throttle(pair.b, calls=10)
    run = pair.run()
    assert run.failed == 0
    assert run.created_b == 0
    assert not RecordIssue.objects.exists()
    assert "429" in run.error and "left for the next run" in run.error
    assert not CreateIntent.objects.filter(completed_at__isnull=True).exists()


def test_it_writes_throttled_creates_once_on_the_next_run() -> None:
    pair = make_pair()
    people(pair, 3)
    throttle(pair.b, calls=1)
    first = pair.run()
    assert first.created_b == 1  # the batch after the throttled one went through
    second = pair.run()
    assert second.failed == 0
    assert sorted(len(pair.b.holders(f"p{n}@example.com")) for n in range(3)) == [1, 1, 1]
    assert RecordLink.objects.filter(connection=pair.connection).count() == 3


def test_it_keeps_the_checkpoint_before_a_throttled_page() -> None:
    pair = make_pair()
    people(pair, 1)
    pair.run()
    kept = pair.refresh().checkpoint_a
    people(pair, 3, start=1)
    throttle(pair.b, calls=1)
    run = pair.run()
    assert run.failed == 0
    assert pair.refresh().checkpoint_a == kept
    pair.run()
    assert all(len(pair.b.holders(f"p{n}@example.com")) == 1 for n in range(4))


def test_it_retries_a_throttled_update_on_the_next_run() -> None:
    pair = make_pair()
    people(pair, 1)
    pair.run()
    (record_id,) = pair.a.records
    pair.a.edit(record_id, full_name="Person Renamed")
    throttle(pair.b, calls=1)
    run = pair.run()
    assert run.failed == 0 and run.updated_b == 0
    assert not RecordIssue.objects.exists()
    pair.run()
    (holder,) = pair.b.holders("p0@example.com")
    assert pair.b.values(holder)["first_name"] == "Person"
    assert pair.b.values(holder)["last_name"] == "Renamed"


def test_it_still_fails_a_record_the_app_refuses() -> None:
    pair = make_pair()
    people(pair, 1)
    pair.b.reject = lambda values: "invalid phone"
    run = pair.run()
    assert run.failed == 1
    assert RecordIssue.objects.filter(connection=pair.connection).count() == 1
