"""A 429 storm that hits a write, over real HTTP against the emulator's fault injection:
throttling is not a failure. The seam sends the throttled POST again after the announced wait;
a write still throttled after the retries comes back marked throttled, not failed."""

from __future__ import annotations

from integrations.connectors.kustomer.connector import KustomerConnector
from sandbox.kustomer import KustomerEmulator
from tests.integrations.connectors.kustomer.conftest import SUBDOMAIN
from tests.integrations.connectors.kustomer.test_limits_and_recovery import (
    new_people,
    requests_of,
)


def test_it_creates_a_bulk_batch_through_a_short_429_storm(
    connector: KustomerConnector, emulator: KustomerEmulator, waits: list[float]
) -> None:
    connector.fields()
    emulator.set_faults(count=2, status=429, reset=0.5)
    results = connector.create_many(new_people(12))
    assert all(r.ok for r in results)
    assert requests_of(emulator)["POST /customers/bulk"] == 3
    assert len(emulator.customers(SUBDOMAIN)) == 12  # each created once
    assert len(waits) >= 2


def test_it_creates_single_records_through_a_short_429_storm(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    connector.fields()
    emulator.set_faults(count=2, status=429, reset=0.2)
    results = connector.create_many(new_people(2))
    assert all(r.ok for r in results)
    assert len(emulator.customers(SUBDOMAIN)) == 2


def test_it_marks_a_bulk_create_still_throttled_after_the_retries(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    connector.fields()
    emulator.set_faults(count=20, status=429, reset=0.1)
    results = connector.create_many(new_people(12))
    assert all(r.throttled and not r.ok and not r.permanent for r in results)
    assert emulator.customers(SUBDOMAIN) == []


def test_it_marks_an_update_still_throttled_after_the_retries(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    from integrations.sync.records import ContactUpdate

    created = emulator.add_customer(SUBDOMAIN, {"name": "Ann"})
    connector.fields()
    emulator.set_faults(count=20, status=429, reset=0.1)
    (result,) = connector.update_many([ContactUpdate(id=created["id"], changes={"company": "X"})])
    assert result.throttled and not result.permanent


def test_it_does_not_mark_a_server_error_as_throttled(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    connector.fields()
    emulator.set_faults(count=1, status=503)
    (result,) = connector.create_many(new_people(1))
    assert not result.ok and not result.throttled
