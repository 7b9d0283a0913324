"""Writing HubSpot contacts over HTTP against the emulator: batch creates and updates with a
207 read record by record, cleared values, static lists as tags."""

from __future__ import annotations

from integrations.connectors.hubspot.connector import HubSpotConnector
from integrations.sync.records import ContactUpdate, NewContact
from sandbox.hubspot import HubSpotEmulator
from tests.integrations.connectors.hubspot.conftest import HUB


def stored(emulator: HubSpotEmulator, contact_id: str) -> dict[str, str]:
    (found,) = [c for c in emulator.contacts(HUB) if c["id"] == contact_id]
    return dict(found["properties"])


def test_it_creates_a_batch_in_one_call_and_types_the_values(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    items = [
        NewContact(
            ref=f"r{n}",
            values={
                "email": f"p{n}@acme.example",
                "first_name": f"P{n}",
                "custom.total_spent": 10.0 + n,
                "custom.vip": True,
                "custom.interests": ["hardware", "software"],
                "address": {"city": "Ghent", "country": "BE"},
            },
        )
        for n in range(3)
    ]
    emulator.requests.clear()
    results = connector.create_many(items)
    assert [r.ok for r in results] == [True, True, True]
    assert emulator.requests["POST /crm/v3/objects/contacts/batch/create"] == 1
    record = results[1].record
    assert record is not None
    props = stored(emulator, record.id)
    assert props["total_spent"] == "11"
    assert props["vip"] == "true"
    assert props["interests"] == "hardware;software"
    assert (props["city"], props["country"]) == ("Ghent", "BE")


def test_it_fails_only_the_refused_record_of_a_207(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    emulator.add_contact(HUB, {"email": "taken@acme.example"})
    results = connector.create_many(
        [
            NewContact(ref="a", values={"email": "new@acme.example"}),
            NewContact(ref="b", values={"email": "taken@acme.example"}),
        ]
    )
    assert results[0].ok and results[0].ref == "a"
    assert not results[1].ok and results[1].permanent
    assert "Contact already exists" in results[1].error
    assert results[1].error.startswith("HubSpot refused email:")


def test_it_refuses_a_value_of_the_wrong_type_before_sending_it(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    emulator.requests.clear()
    (result,) = connector.create_many(
        [NewContact(ref="a", values={"email": "a@acme.example", "custom.loyalty_tier": "iron"})]
    )
    assert not result.ok and "custom.loyalty_tier" in result.error
    assert emulator.requests["POST /crm/v3/objects/contacts/batch/create"] == 0


def test_it_updates_a_batch_and_clears_an_emptied_value(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    a = str(emulator.add_contact(HUB, {"email": "a@acme.example", "company": "Acme"})["id"])
    b = str(emulator.add_contact(HUB, {"email": "b@acme.example"})["id"])
    results = connector.update_many(
        [
            ContactUpdate(id=a, changes={"company": ""}),
            ContactUpdate(id=b, changes={"job_title": "CTO"}),
        ]
    )
    assert [r.ok for r in results] == [True, True]
    assert "company" not in stored(emulator, a)
    assert stored(emulator, b)["jobtitle"] == "CTO"


def test_it_reports_a_missing_contact_of_an_update_batch_alone(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    a = str(emulator.add_contact(HUB, {"email": "a@acme.example"})["id"])
    results = connector.update_many(
        [
            ContactUpdate(id=a, changes={"job_title": "CTO"}),
            ContactUpdate(id="999999", changes={"job_title": "CFO"}),
        ]
    )
    assert results[0].ok
    assert not results[1].ok and results[1].ref == "999999"


def test_it_puts_a_contact_on_a_static_list_it_creates_and_takes_it_off(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    made = str(emulator.add_contact(HUB, {"email": "a@acme.example"})["id"])
    (tagged,) = connector.tag([made], "Tandem Trash")
    assert tagged.ok and tagged.record is not None and tagged.record.tags == ["Tandem Trash"]
    assert emulator.list_members(HUB, "Tandem Trash") == {made}
    (untagged,) = connector.untag([made], "Tandem Trash")
    assert untagged.ok and emulator.list_members(HUB, "Tandem Trash") == set()


def test_it_sets_the_lists_a_change_of_tags_asks_for(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    made = str(emulator.add_contact(HUB, {"email": "a@acme.example"})["id"])
    connector.tag([made], "Old")
    (result,) = connector.update_many([ContactUpdate(id=made, changes={"tags": ["New"]})])
    assert result.ok
    assert emulator.list_members(HUB, "New") == {made}
    assert emulator.list_members(HUB, "Old") == set()


def test_it_joins_the_lists_a_new_contact_asks_for(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    (result,) = connector.create_many(
        [NewContact(ref="a", values={"email": "a@acme.example", "tags": ["VIP"]})]
    )
    assert result.ok and result.record is not None
    assert emulator.list_members(HUB, "VIP") == {result.record.id}


def test_it_refuses_to_tag_with_a_list_that_is_not_static(
    emulator: HubSpotEmulator, connector: HubSpotConnector
) -> None:
    from sandbox.hubspot import lists

    made = str(emulator.add_contact(HUB, {"email": "a@acme.example"})["id"])
    portal = emulator.portals[HUB]
    body = {"name": "Active", "objectTypeId": "0-1", "processingType": "DYNAMIC"}
    lists.create(portal, body, "77", "2026-01-01T00:00:00.000Z")
    (result,) = connector.tag([made], "Active")
    assert not result.ok and result.permanent
    assert "not a static list" in result.error
