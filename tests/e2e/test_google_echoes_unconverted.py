"""Kustomer ↔ Google over real HTTP: the first run after a scan reads Tandem's own Google writes
back through the sync-token feed, and converts the values of none of them. The records whose
values it converts are exactly those the engine's general check (``Store.applied_ids``, by id
and etag) judges not applied, and a person's edit among the echoes still reaches Kustomer."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.connectors.google_contacts import mappers
from integrations.models import SyncRun
from integrations.sync.store import Store
from tests.e2e.conftest import Pair, person

pytestmark = pytest.mark.django_db


def test_the_run_after_a_scan_converts_only_what_is_not_its_own_write(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ann and Bob on both apps (the scan adds Bob's company in Google), Cy and Eve only in
    # Kustomer (the scan creates them in Google), Di only in Google.
    for name, email in (("Ann Lee", "ann"), ("Bob Ray", "bob"), ("Cy Oh", "cy"), ("Eve Ek", "eve")):
        pair.add_customer(name, f"{email}@acme.example", company=f"{name} Co")
    pair.add_contact(person("Ann", "Lee", "ann@acme.example", company="Ann Lee Co"))
    pair.add_contact(person("Bob", "Ray", "bob@acme.example"))
    pair.add_contact(person("Di", "Fox", "di@acme.example"))
    connection = pair.connect()
    scan = pair.sync(connection)
    assert scan.phase == SyncRun.Phase.SCAN and scan.outcome == SyncRun.Outcome.SUCCESS
    # A person edits one of the contacts Tandem created, after the scan wrote it.
    cy = pair.contact_by_email("cy@acme.example")
    pair.google.edit_contact(
        pair.google_email, cy["resourceName"], organizations=[{"name": "Cy's own Co"}]
    )

    listed: list[str] = []
    converted: list[str] = []
    judged: dict[str, set[str]] = {}
    to_page, to_values = mappers.listed_page, mappers.person_values
    applied_ids = Store.applied_ids

    def listing(body: bytes, groups: Any) -> mappers.ListedPage | None:
        page = to_page(body, groups)
        assert page is not None, "the emulator's answer did not decode as the API documents it"
        listed.extend(record.id for record in page.records)
        return page

    def values(person: Any, groups: Any) -> dict[str, Any]:
        converted.append(str(person["resourceName"]))
        return to_values(person, groups)

    def applied(store: Store, side: str, records: Any) -> set[str]:
        records = list(records)
        found = applied_ids(store, side, records)
        if side == "b":
            judged.update({"read": {r.id for r in records}, "applied": found})
        return found

    monkeypatch.setattr(mappers, "listed_page", listing)
    monkeypatch.setattr(mappers, "person_values", values)
    monkeypatch.setattr(Store, "applied_ids", applied)
    run = pair.sync(connection)

    assert run.phase == SyncRun.Phase.INCREMENTAL and run.outcome == SyncRun.Outcome.SUCCESS
    # The feed returned Tandem's writes (Bob's update, Eve's create) and the edited Cy.
    eve = pair.contact_by_email("eve@acme.example")["resourceName"]
    bob = pair.contact_by_email("bob@acme.example")["resourceName"]
    assert {cy["resourceName"], eve, bob} <= set(listed)
    assert judged["read"] == set(listed)
    assert {eve, bob} <= judged["applied"]
    # Converted: exactly the records the general check did not find applied.
    assert sorted(set(listed) & set(converted)) == sorted(judged["read"] - judged["applied"])
    assert cy["resourceName"] in converted
    assert pair.customer_by_email("cy@acme.example")["company"] == "Cy's own Co"
