"""Joining or leaving a static list in HubSpot leaves a contact's ``lastmodifieddate`` as it
was; the incremental read still reports the contact, from the members kept in its checkpoint."""

from __future__ import annotations

import pytest

from integrations.connectors.base import ConnectorError
from integrations.connectors.hubspot import memberships
from integrations.connectors.hubspot.connector import HubSpotConnector
from integrations.sync.records import Checkpoint, checkpoint_problem
from sandbox.hubspot import HubSpotEmulator
from tests.integrations.connectors.hubspot.conftest import HUB


def add(emulator: HubSpotEmulator, email: str) -> str:
    # Older than the overlap the change search starts with.
    emulator.advance_clock(-3600)
    made = str(emulator.add_contact(HUB, {"email": email})["id"])
    emulator.advance_clock(3600)
    return made


def stamp(emulator: HubSpotEmulator, contact_id: str) -> str:
    (found,) = [c for c in emulator.contacts(HUB) if c["id"] == contact_id]
    return str(found["properties"]["lastmodifieddate"])


def settled(connector: HubSpotConnector, checkpoint: Checkpoint | None) -> Checkpoint:
    return list(connector.list_changed(checkpoint))[-1].checkpoint


def test_a_contact_added_to_a_list_with_no_other_change_is_reported(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    ann, bob = add(emulator, "ann@acme.example"), add(emulator, "bob@acme.example")
    connector.tag([bob], "VIP")
    checkpoint = settled(connector, None)
    before = stamp(emulator, ann)
    connector.tag([ann], "VIP")
    assert stamp(emulator, ann) == before
    records = [r for p in connector.list_changed(checkpoint) for r in p.records]
    assert [(r.id, r.tags) for r in records] == [(ann, ["VIP"])]


def test_a_contact_removed_from_a_list_is_reported(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    ann, bob = add(emulator, "ann@acme.example"), add(emulator, "bob@acme.example")
    connector.tag([ann, bob], "VIP")
    checkpoint = settled(connector, None)
    connector.untag([bob], "VIP")
    records = [r for p in connector.list_changed(checkpoint) for r in p.records]
    assert [(r.id, r.tags) for r in records] == [(bob, [])]


def test_a_list_change_changes_the_version_a_link_keeps(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    ann = add(emulator, "ann@acme.example")
    (plain,) = connector.get_many([ann])
    connector.tag([ann], "VIP")
    (tagged,) = connector.get_many([ann])
    assert tagged.updated_at == plain.updated_at
    assert tagged.version != plain.version


def test_nothing_is_reported_when_nothing_changed_for_one_call_a_list_page(
    emulator: HubSpotEmulator, connector: HubSpotConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memberships, "PAGE_SIZE", 2)
    ids = [add(emulator, f"p{n}@acme.example") for n in range(5)]
    connector.tag(ids, "VIP")
    connector.tag(ids[:1], "Newsletter")
    checkpoint = settled(connector, None)
    emulator.requests.clear()
    pages = list(connector.list_changed(checkpoint))
    assert [r for p in pages for r in p.records] == []
    # VIP: 5 members, 3 pages; Newsletter: 1 page. No contact read.
    assert emulator.requests["GET /crm/v3/lists/{id}/memberships"] == 4
    assert emulator.requests["POST /crm/v3/objects/contacts/batch/read"] == 0
    assert pages[-1].checkpoint[memberships.KEY] == checkpoint[memberships.KEY]


def test_the_kept_members_are_a_small_valid_checkpoint_value(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    ids = [add(emulator, f"p{n}@acme.example") for n in range(120)]
    connector.tag(ids, "VIP")
    checkpoint = settled(connector, None)
    assert checkpoint_problem(checkpoint) == ""
    kept = checkpoint[memberships.KEY]
    assert len(kept) < 200
    assert memberships.decode(kept) == {
        connector._list_id("VIP", create=False): frozenset(int(i) for i in ids)
    }


def test_members_it_did_not_write_are_refused_with_a_clear_error(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    checkpoint = {**settled(connector, None), memberships.KEY: "not-ours"}
    with pytest.raises(ConnectorError, match="resync the connection"):
        list(connector.list_changed(checkpoint))
