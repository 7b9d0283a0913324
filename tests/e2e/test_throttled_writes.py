"""A 429 storm that hits a Kustomer bulk create, over real HTTP on the sandbox's fault injection:
the run neither fails the records nor files them as issues, and the next run creates each once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from integrations.connectors.kustomer.client import KustomerClient
from integrations.models import RecordIssue, SyncRun
from tests.e2e.conftest import Pair, person

pytestmark = pytest.mark.django_db


def storm_at_bulk_create(pair: Pair, monkeypatch: pytest.MonkeyPatch, *, count: int) -> None:
    """The next ``count`` Kustomer requests from the bulk create POST on answer 429."""
    bulk_create = KustomerClient.bulk_create_customers

    def stormy(self: KustomerClient, items: list[dict[str, Any]]) -> Any:
        pair.kustomer.set_faults(count=count, status=429, reset=0.1)
        monkeypatch.setattr(KustomerClient, "bulk_create_customers", bulk_create)
        return bulk_create(self, items)

    monkeypatch.setattr(KustomerClient, "bulk_create_customers", stormy)


def add_people(pair: Pair, count: int) -> None:
    for n in range(count):
        pair.add_contact(person(f"Given{n}", f"Family{n}", f"p{n}@acme.example"))


def emails_on_kustomer(pair: Pair) -> Counter[str]:
    return Counter(e["email"] for c in pair.customers() for e in c.get("emails") or [])


def test_it_rides_out_a_short_429_storm_on_a_bulk_create(pair: Pair, monkeypatch) -> None:
    add_people(pair, 12)
    connection = pair.connect()
    storm_at_bulk_create(pair, monkeypatch, count=2)
    run = pair.sync(connection)
    assert run.outcome == SyncRun.Outcome.SUCCESS
    assert (run.created_a, run.failed) == (12, 0)
    assert set(emails_on_kustomer(pair).values()) == {1}


def test_it_leaves_writes_throttled_past_the_retries_for_the_next_run(
    pair: Pair, monkeypatch
) -> None:
    add_people(pair, 12)
    connection = pair.connect()
    storm_at_bulk_create(pair, monkeypatch, count=50)
    first = pair.sync(connection)
    assert first.outcome == SyncRun.Outcome.SUCCESS
    assert (first.created_a, first.failed) == (0, 0)
    assert "429" in first.error
    assert not RecordIssue.objects.filter(connection=connection).exists()
    assert pair.customers() == []
    pair.kustomer.set_faults(count=0, status=429)
    connection.refresh_from_db()
    second = pair.sync(connection)
    assert (second.created_a, second.failed) == (12, 0)
    assert emails_on_kustomer(pair) == Counter({f"p{n}@acme.example": 1 for n in range(12)})
