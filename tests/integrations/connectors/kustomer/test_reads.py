from __future__ import annotations

import datetime as dt
import weakref
from collections import Counter
from typing import Any

import pytest

from integrations.connectors.kustomer.connector import KustomerConnector
from integrations.sync.fields import FieldType
from integrations.sync.records import Contact
from sandbox.kustomer import KustomerEmulator
from tests.integrations.connectors.kustomer.conftest import SUBDOMAIN, seed

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def read_all(connector: KustomerConnector, checkpoint: dict | None) -> tuple[list[Contact], dict]:
    records: list[Contact] = []
    last = checkpoint or {}
    for page in connector.list_changed(checkpoint):
        records.extend(page.records)
        last = page.checkpoint
    return records, last


def test_it_discovers_custom_attributes_typed_by_suffix(connector: KustomerConnector) -> None:
    fields = connector.field_map()
    assert fields["full_name"].canonical == "name.full"
    assert fields["emails"].multi and fields["emails"].type == FieldType.EMAIL
    tier = fields["custom.loyaltyTierStr"]
    assert tier.type == FieldType.ENUM and tier.choices == ("bronze", "silver", "gold")
    assert tier.custom
    assert fields["custom.totalSpentNum"].type == FieldType.NUMBER
    assert fields["custom.vipBool"].type == FieldType.BOOLEAN
    assert fields["custom.lastOrderAt"].type == FieldType.DATETIME


def test_it_reads_every_record_once_across_the_page_cap_with_ties(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    emulator.set_limits(search_max_page_size=2)
    # 125+ searches: more than an API key's real search budget of 100 a minute.
    emulator.set_rate_limit(SUBDOMAIN, 1000, search_per_minute=1000)
    emulator.freeze_clock(T0)
    first = seed(emulator, 150)
    emulator.freeze_clock(T0 + dt.timedelta(seconds=1))
    second = seed(emulator, 100, start=150)
    records, checkpoint = read_all(connector, None)
    counts = Counter(r.id for r in records)
    assert set(counts) == set(first + second)
    assert max(counts.values()) == 1
    assert checkpoint["updated_at"] == "2026-03-01T12:00:01.000Z"


def test_it_reads_only_changes_after_a_checkpoint(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    emulator.freeze_clock(T0)
    ids = seed(emulator, 5)
    _, checkpoint = read_all(connector, None)
    emulator.freeze_clock(T0)  # same timestamp: a tie with what was read
    late = seed(emulator, 1, start=5)
    emulator.advance_clock(30)
    results = connector.tag([ids[2]], "vip")
    assert results[0].ok
    records, _ = read_all(connector, checkpoint)
    assert sorted(r.id for r in records) == sorted([*late, ids[2]])


def test_it_reads_a_record_again_when_its_rev_changed_at_the_same_timestamp(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    emulator.freeze_clock(T0)
    ids = seed(emulator, 3)
    _, checkpoint = read_all(connector, None)
    connector.tag([ids[0]], "again")
    records, _ = read_all(connector, checkpoint)
    assert [r.id for r in records] == [ids[0]]
    assert records[0].tags == ["again"]


def test_it_marks_the_first_read_a_full_scan(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    seed(emulator, 2)
    pages = list(connector.list_changed(None))
    assert pages and all(p.full_scan for p in pages)
    assert not any(p.full_scan for p in connector.list_changed(pages[-1].checkpoint))


def test_it_sees_deletions_as_tombstones(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    ids = seed(emulator, 2)
    _, checkpoint = read_all(connector, None)
    connector.client.request("DELETE", f"/v1/customers/{ids[1]}", kind="delete customer")
    records, _ = read_all(connector, checkpoint)
    gone = [r for r in records if r.id == ids[1]]
    assert gone and gone[0].deleted
    assert [c.id for c in connector.get_many(ids)] == [ids[0]]


def test_it_maps_custom_values_and_facts(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    created = emulator.add_customer(
        SUBDOMAIN,
        {
            "name": "Ana Silva",
            "emails": [{"email": "ana@example.com"}, {"email": "ana@work.example"}],
            "sentiment": {"polarity": -1, "confidence": 0.9},
            "birthdayAt": "1990-04-02T00:00:00.000Z",
            "custom": {"loyaltyTierStr": "gold", "lastOrderAt": "2026-01-02T03:04:05.000Z"},
        },
    )
    (record,) = connector.get_many([created["id"]])
    assert record.values["emails"] == ["ana@example.com", "ana@work.example"]
    assert record.values["birthday"] == "1990-04-02"
    assert record.values["custom.loyaltyTierStr"] == "gold"
    assert record.values["custom.lastOrderAt"] == "2026-01-02T03:04:05Z"
    assert record.facts == {"sentiment": "negative", "open_conversations": 0}
    assert record.version == "1"


def test_it_finds_records_by_email_case_insensitively(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    ids = seed(emulator, 25)
    found = connector.find_by_emails([f"P{i}@Example.com" for i in range(22)] + ["no@x.example"])
    assert len(found) == 22
    assert found["p21@example.com"][0].id == ids[21]


def test_reading_a_customer_someone_else_modified_does_not_name_tandems_machine_user(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    # The last modifier of a customer Tandem only read is whoever edited it (here the org's own
    # user): taking them for Tandem's machine user would hide their edits from the change feed.
    (customer_id,) = seed(emulator, 1)
    assert [c.id for c in connector.get_many([customer_id])] == [customer_id]
    assert connector.client.author == ""


class _DecodedPage(dict):  # type: ignore[type-arg]
    """A search page as decoded, which a weak reference can follow."""


def test_it_lets_go_of_a_search_page_before_decoding_the_next(
    connector: KustomerConnector, emulator: KustomerEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.set_limits(search_max_page_size=2)
    ids = seed(emulator, 5)
    client = connector.client
    decode = client.decode
    decoded: list[weakref.ref[_DecodedPage]] = []
    alive_at_decode: list[bool] = []

    def kept(response: Any) -> _DecodedPage:
        alive_at_decode.append(bool(decoded) and decoded[-1]() is not None)
        page = _DecodedPage(decode(response))
        decoded.append(weakref.ref(page))
        return page

    monkeypatch.setattr(client, "decode", kept)
    records, _ = read_all(connector, None)
    assert sorted(r.id for r in records) == sorted(ids)
    assert alive_at_decode == [False, False, False]
