from __future__ import annotations

import pytest

from integrations.connectors.base import ConnectorError
from integrations.connectors.kustomer.connector import KustomerConnector
from integrations.sync.records import ContactUpdate, NewContact
from sandbox.kustomer import KustomerEmulator
from tests.integrations.connectors.kustomer.conftest import SUBDOMAIN


def stored(emulator: KustomerEmulator) -> dict[str, dict]:
    return {c["id"]: c["attributes"] for c in emulator.customers(SUBDOMAIN)}


def test_it_creates_records_with_custom_attributes(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    (result,) = connector.create_many(
        [
            NewContact(
                ref="r1",
                values={
                    "full_name": "Jane Doe",
                    "emails": ["jane@example.com"],
                    "custom.loyaltyTierStr": "silver",
                    "custom.totalSpentNum": 12.5,
                    "custom.vipBool": True,
                    "custom.lastOrderAt": "2026-10-01T12:00:00Z",
                },
                idempotency_key="abc123",
            )
        ]
    )
    assert result.ok and result.record is not None
    assert result.record.idempotency_key == "abc123"
    attrs = stored(emulator)[result.record.id]
    assert attrs["externalId"] == "tandem:abc123"
    assert attrs["custom"] == {
        "loyaltyTierStr": "silver",
        "totalSpentNum": 12.5,
        "vipBool": True,
        "lastOrderAt": "2026-10-01T12:00:00.000Z",
    }


def test_it_refuses_an_invalid_custom_value_before_sending(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    connector.fields()
    before = emulator.request_count
    (result,) = connector.create_many(
        [NewContact(ref="r1", values={"full_name": "X", "custom.loyaltyTierStr": "platinum"})]
    )
    assert not result.ok and result.permanent
    assert (
        result.error
        == "Kustomer refused custom.loyaltyTierStr: must be one of bronze, silver, gold"
    )
    assert emulator.request_count == before


def test_it_fails_only_the_duplicate_email_and_writes_the_rest(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    emulator.add_customer(SUBDOMAIN, {"name": "Old", "emails": [{"email": "taken@example.com"}]})
    results = connector.create_many(
        [
            NewContact(ref="a", values={"full_name": "A", "emails": ["taken@example.com"]}),
            NewContact(ref="b", values={"full_name": "B", "emails": ["b@example.com"]}),
        ]
    )
    assert [r.ref for r in results] == ["a", "b"]
    assert not results[0].ok and results[0].permanent
    assert results[0].error.startswith("Kustomer refused emails: Duplicate email taken@example.com")
    assert results[1].ok
    assert len(emulator.customers(SUBDOMAIN)) == 2


def test_it_updates_only_the_changed_attributes(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    created = emulator.add_customer(
        SUBDOMAIN,
        {"name": "Ann", "emails": [{"email": "ann@example.com"}], "custom": {"vipBool": False}},
    )
    (result,) = connector.update_many(
        [
            ContactUpdate(
                id=created["id"], changes={"phones": ["+15555550123"], "custom.vipBool": True}
            )
        ]
    )
    assert result.ok and result.record is not None
    attrs = stored(emulator)[created["id"]]
    assert attrs["name"] == "Ann"
    assert [e["email"] for e in attrs["emails"]] == ["ann@example.com"]
    assert [p["phone"] for p in attrs["phones"]] == ["+15555550123"]
    assert attrs["custom"] == {"vipBool": True}
    assert result.record.version == "2"


def test_it_reports_an_update_of_a_missing_record(connector: KustomerConnector) -> None:
    (result,) = connector.update_many([ContactUpdate(id="5f00000000000000000000ff", changes={})])
    assert result.error == "Kustomer: customer not found"


def test_it_tags_and_untags(connector: KustomerConnector, emulator: KustomerEmulator) -> None:
    created = emulator.add_customer(SUBDOMAIN, {"name": "T", "tags": ["keep"]})
    assert connector.tag([created["id"]], "vip")[0].ok
    assert stored(emulator)[created["id"]]["tags"] == ["keep", "vip"]
    assert connector.untag([created["id"]], "vip")[0].ok
    assert stored(emulator)[created["id"]]["tags"] == ["keep"]


def test_it_waits_for_the_rate_limit_reset_on_429(
    connector: KustomerConnector, emulator: KustomerEmulator, waits: list[float]
) -> None:
    emulator.set_faults(count=1, status=429, reset=3)
    connector.check()
    assert waits and waits[0] >= 2


def test_it_answers_429_with_ratelimit_headers_when_the_budget_is_spent(
    connector: KustomerConnector, emulator: KustomerEmulator, waits: list[float]
) -> None:
    emulator.set_rate_limit(SUBDOMAIN, 2)
    connector.check()
    connector.check()
    with pytest.raises(ConnectorError) as caught:
        connector.check()
    assert caught.value.status == 429 and not caught.value.permanent
    assert waits  # the seam waited for the reset before giving up


def test_it_turns_a_transient_server_error_on_create_into_a_retryable_result(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    connector.fields()
    emulator.set_faults(count=1, after_commit=True)
    (result,) = connector.create_many([NewContact(ref="r", values={"full_name": "Z"})])
    assert not result.ok and not result.permanent
    assert len(emulator.customers(SUBDOMAIN)) == 1  # applied before the 500: the engine's
    # idempotency key (externalId "tandem:...") lets the next run find it
