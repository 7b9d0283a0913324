"""Bulk creates, rate limits, faults and the recovery of creates whose answer was lost, over real
HTTP against the emulator."""

from __future__ import annotations

import socket
import time
from collections import Counter
from typing import Any

import pytest

from integrations.connectors.base import ConnectorError
from integrations.connectors.http import HttpClient
from integrations.connectors.kustomer.connector import KustomerConnector
from integrations.sync.records import ContactUpdate, NewContact
from sandbox.kustomer import KustomerEmulator
from tests.integrations.connectors.kustomer.conftest import API_KEY, SUBDOMAIN


def new_people(count: int, start: int = 0) -> list[NewContact]:
    return [
        NewContact(
            ref=f"r{i}",
            values={"full_name": f"Bulk Person {i}", "emails": [f"bulk{i}@example.com"]},
            idempotency_key=f"key-{i}",
        )
        for i in range(start, start + count)
    ]


def requests_of(emulator: KustomerEmulator) -> Counter[str]:
    return Counter(kind.split("?")[0] for kind in emulator.requests)


def test_it_creates_a_large_batch_in_one_bulk_job(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    results = connector.create_many(new_people(12))
    assert all(r.ok for r in results)
    assert [r.ref for r in results] == [f"r{i}" for i in range(12)]
    assert [r.record.idempotency_key for r in results if r.record] == [
        f"key-{i}" for i in range(12)
    ]
    made = requests_of(emulator)
    assert made["POST /customers/bulk"] == 1
    assert made["POST /customers"] == 0


def test_it_does_not_read_a_bulk_jobs_customers_back(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    results = connector.create_many(new_people(12))
    made = requests_of(emulator)
    # The bulk job and its results; no search or GET of the new customers.
    assert [kind for kind in made if "customers" in kind] == ["POST /customers/bulk"]
    stored = {c["id"]: str(c["attributes"]["rev"]) for c in emulator.customers(SUBDOMAIN)}
    # The version the run keeps on the link is the stored one: the next read skips the echo.
    assert {r.record.id: r.record.version for r in results if r.record} == stored


def test_it_fails_only_the_duplicate_in_a_bulk_job(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    emulator.add_customer(SUBDOMAIN, {"name": "Old", "emails": [{"email": "bulk3@example.com"}]})
    results = connector.create_many(new_people(10))
    failed = [r for r in results if not r.ok]
    assert [r.ref for r in failed] == ["r3"]
    assert failed[0].permanent
    assert failed[0].error.startswith("Kustomer refused emails: Duplicate email bulk3@example.com")
    assert len(emulator.customers(SUBDOMAIN)) == 10


def test_it_creates_a_small_batch_one_request_each(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    assert all(r.ok for r in connector.create_many(new_people(3)))
    made = requests_of(emulator)
    assert made["POST /customers"] == 3
    assert made["POST /customers/bulk"] == 0


def test_it_waits_out_a_429_storm_for_the_announced_reset(
    connector: KustomerConnector, emulator: KustomerEmulator, waits: list[float]
) -> None:
    emulator.set_faults(count=3, status=429, reset=4)
    connector.check()
    assert len(waits) == 3
    assert all(3 <= w <= 4.4 for w in waits)  # the announced reset, plus a little jitter


def test_it_waits_until_the_spent_budget_resets_and_goes_on(emulator: KustomerEmulator) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        emulator.end_rate_window(SUBDOMAIN)  # as if the minute had passed

    connector = KustomerConnector(
        {"subdomain": SUBDOMAIN, "api_key": API_KEY},
        http=HttpClient(app="kustomer", sleep=sleep, max_wait=120),
    )
    emulator.set_rate_limit(SUBDOMAIN, 2)
    for _ in range(3):
        connector.check()
    assert len(waits) == 1
    assert 55 <= waits[0] <= 61  # x-ratelimit-reset: the end of the 60 s window, plus jitter


def test_it_retries_a_server_error_on_a_read(
    connector: KustomerConnector, emulator: KustomerEmulator, waits: list[float]
) -> None:
    emulator.set_faults(count=2, status=503)
    assert connector.check().label
    assert len(waits) == 2


def test_it_recovers_a_create_whose_connection_dropped_after_commit(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    connector.fields()
    emulator.set_faults(count=1, after_commit=True, drop=True)
    (person,) = new_people(1)
    (result,) = connector.create_many([person])
    assert not result.ok and not result.permanent
    assert "Kustomer" in result.error
    found = connector.find_by_emails(["bulk0@example.com"])
    assert [c.idempotency_key for c in found["bulk0@example.com"]] == ["key-0"]


def test_it_keeps_an_existing_external_id_instead_of_the_intent_key(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    (result,) = connector.create_many(
        [NewContact(ref="x", values={"externalId": "crm-7"}, idempotency_key="key-x")]
    )
    assert result.record is not None
    assert result.record.values["externalId"] == "crm-7"
    assert result.record.idempotency_key == ""


def test_it_replaces_list_attributes_whole_on_update(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    created = emulator.add_customer(
        SUBDOMAIN,
        {"name": "Two Mails", "emails": [{"email": "a@example.com"}, {"email": "b@example.com"}]},
    )
    (result,) = connector.update_many(
        [ContactUpdate(id=created["id"], changes={"emails": ["b@example.com", "c@example.com"]})]
    )
    assert result.record is not None
    assert result.record.values["emails"] == ["b@example.com", "c@example.com"]


def test_it_round_trips_addresses_and_urls(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    address = {
        "street": "Korenmarkt 1",
        "city": "Ghent",
        "region": "East Flanders",
        "postal_code": "9000",
        "country": "BE",
        "type": "work",
    }
    (result,) = connector.create_many(
        [
            NewContact(
                ref="a",
                values={"addresses": [address], "urls": ["https://example.com/me"]},
            )
        ]
    )
    assert result.record is not None
    assert result.record.values["addresses"] == [address]
    assert result.record.values["urls"] == ["https://example.com/me"]


def test_it_refuses_a_custom_attribute_without_a_type_suffix_before_sending(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    connector.fields()
    before = emulator.request_count
    (result,) = connector.update_many(
        [ContactUpdate(id="5f0000000000000000000001", changes={"custom.loyalty": "x"})]
    )
    assert result.error == "Kustomer refused custom.loyalty: not a custom attribute of this org"
    assert emulator.request_count == before


def test_it_words_an_unreachable_org_host_without_secrets(settings: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.KUSTOMER_BASE_URL_TEMPLATE = f"http://127.0.0.1:{port}/{{subdomain}}"
    connector = KustomerConnector(
        {"subdomain": "acme", "api_key": "secret-key-never-shown"},
        http=HttpClient(app="kustomer", max_retries=0, sleep=lambda s: None),
    )
    started = time.monotonic()
    with pytest.raises(ConnectorError) as caught:
        connector.check()
    assert time.monotonic() - started < 5
    assert "acme.kustomerapp.com could not be reached" in caught.value.message
    assert "secret-key" not in caught.value.message
