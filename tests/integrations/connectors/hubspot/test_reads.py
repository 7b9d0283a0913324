"""Reading HubSpot contacts over HTTP against the emulator: the full listing, the change search
with its 10,000-result restart, archived contacts as deletions, typed properties and lists."""

from __future__ import annotations

import datetime as dt

import pytest

from integrations.connectors.hubspot import connector as hubspot_connector
from integrations.connectors.hubspot.connector import HubSpotConnector
from integrations.sync.fields import FieldType
from sandbox.hubspot import HubSpotEmulator
from tests.integrations.connectors.hubspot.conftest import HUB


def add(emulator: HubSpotEmulator, email: str, **props: str) -> str:
    return str(emulator.add_contact(HUB, {"email": email, **props})["id"])


def test_it_lists_every_contact_on_a_first_run_and_anchors_the_next(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    for n in range(150):
        add(emulator, f"p{n}@acme.example", firstname=f"P{n}")
    pages = list(connector.list_changed(None))
    assert len(pages) == 2 and all(p.full_scan for p in pages)
    assert sum(len(p.records) for p in pages) == 150
    assert pages[0].checkpoint == {}
    assert pages[-1].checkpoint["updated_at"]
    assert emulator.requests["GET /crm/v3/objects/contacts"] == 2


def test_it_reads_only_what_changed_since_the_checkpoint(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    # Older than the overlap the next search starts with.
    emulator.advance_clock(-3600)
    add(emulator, "old@acme.example")
    emulator.advance_clock(3600)
    checkpoint = list(connector.list_changed(None))[-1].checkpoint
    changed = add(emulator, "new@acme.example", firstname="Nia")
    pages = list(connector.list_changed(checkpoint))
    records = [r for p in pages for r in p.records]
    assert [r.id for r in records] == [changed]
    assert records[0].values["first_name"] == "Nia"
    # Nothing new: the ties at the cursor are not read again.
    again = [r for p in connector.list_changed(pages[-1].checkpoint) for r in p.records]
    assert again == []


def test_it_restarts_the_search_from_the_last_stamp_before_10000_results(
    emulator: HubSpotEmulator, connector: HubSpotConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cap and the page, shrunk: 2 a page, and no reading past the 4th result.
    monkeypatch.setattr(hubspot_connector, "SEARCH_MAX_RESULTS", 4)
    monkeypatch.setattr(hubspot_connector, "SEARCH_PAGE_SIZE", 2)
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    for n in range(7):
        emulator.freeze_clock(start + dt.timedelta(seconds=n))
        add(emulator, f"p{n}@acme.example")
    emulator.freeze_clock(None)
    since = {"updated_at": "2026-03-01T00:00:00.000Z"}
    records = [r for p in connector.list_changed(since) for r in p.records]
    assert len(records) == 7 and len({r.id for r in records}) == 7
    assert emulator.requests["POST /crm/v3/objects/contacts/search"] >= 4


def test_it_reads_contacts_archived_since_the_checkpoint_as_deletions(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    emulator.advance_clock(-3600)
    gone = add(emulator, "gone@acme.example")
    emulator.advance_clock(3600)
    checkpoint = list(connector.list_changed(None))[-1].checkpoint
    emulator.archive_contact(HUB, gone)
    records = [r for p in connector.list_changed(checkpoint) for r in p.records]
    assert [(r.id, r.deleted) for r in records] == [(gone, True)]


def test_it_types_custom_properties_from_the_properties_api(
    connector: HubSpotConnector,
) -> None:
    fields = connector.field_map()
    assert fields["custom.total_spent"].type == FieldType.NUMBER
    assert fields["custom.vip"].type == FieldType.BOOLEAN
    assert fields["custom.last_order"].type == FieldType.DATE
    assert fields["custom.loyalty_tier"].type == FieldType.ENUM
    assert fields["custom.loyalty_tier"].choices == ("bronze", "silver", "gold")
    assert fields["custom.interests"].multi is True
    assert "custom.email" not in fields


def test_it_reads_property_values_as_their_types(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    made = add(
        emulator,
        "ann@acme.example",
        total_spent="12.5",
        vip="true",
        last_order="2026-01-31",
        interests="hardware;services",
        city="Ghent",
        country="BE",
    )
    (record,) = connector.get_many([made])
    assert record.values["custom.total_spent"] == 12.5
    assert record.values["custom.vip"] is True
    assert record.values["custom.last_order"] == "2026-01-31"
    assert record.values["custom.interests"] == ["hardware", "services"]
    assert record.values["address"] == {"city": "Ghent", "country": "BE"}
    assert record.values["emails"] == ["ann@acme.example"]


def test_it_reads_static_lists_as_tags_and_every_list_for_conditions(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    made = add(emulator, "ann@acme.example", lifecyclestage="customer")
    connector.tag([made], "Newsletter")
    (record,) = connector.get_many([made])
    assert record.tags == ["Newsletter"]
    spec = {c.key: c for c in connector.capabilities.conditions}
    assert spec["hubspot.in_list"].evaluate(record, "newsletter")
    assert not spec["hubspot.not_in_list"].evaluate(record, "Newsletter")
    assert spec["hubspot.lifecycle_stage"].evaluate(record, "customer")


def test_it_finds_contacts_by_email_in_one_call(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    made = add(emulator, "Ann@Acme.example")
    add(emulator, "bob@acme.example")
    emulator.requests.clear()
    found = connector.find_by_emails(["ann@acme.example", "nobody@acme.example"])
    assert [c.id for c in found["ann@acme.example"]] == [made]
    assert "nobody@acme.example" not in found
    assert emulator.requests["POST /crm/v3/objects/contacts/batch/read"] == 1


def test_it_finds_a_change_search_indexed_after_a_later_one(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    emulator.advance_clock(-3600)
    late = add(emulator, "late@acme.example")
    emulator.advance_clock(3600)
    checkpoint = list(connector.list_changed(None))[-1].checkpoint
    emulator.advance_clock(200)
    emulator.set_limits(HUB, search_lag=30)
    emulator.edit_contact(HUB, late, {"firstname": "Lata"})  # indexed 30 s from now
    emulator.set_limits(HUB, search_lag=0)
    emulator.advance_clock(5)
    add(emulator, "quick@acme.example")  # indexed at once, stamped after the other
    first = list(connector.list_changed(checkpoint))
    assert [r.values["emails"] for p in first for r in p.records] == [["quick@acme.example"]]
    emulator.advance_clock(30)
    second = [r for p in connector.list_changed(first[-1].checkpoint) for r in p.records]
    assert [r.values.get("first_name") for r in second if r.id == late] == ["Lata"]


def test_it_reads_a_contact_unsubscribed_from_all_email(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    made = add(emulator, "ann@acme.example")
    emulator.unsubscribe_contact(HUB, made)
    (record,) = connector.get_many([made])
    assert record.unsubscribed is True
