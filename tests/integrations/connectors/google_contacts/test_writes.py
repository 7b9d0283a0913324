from __future__ import annotations

from typing import Any

import pytest

from integrations.connectors.base import ConnectorError
from integrations.connectors.google_contacts.connector import GoogleContactsConnector
from integrations.sync.records import ContactUpdate, NewContact
from sandbox.google_contacts import GoogleContactsEmulator
from tests.integrations.connectors.google_contacts.conftest import EMAIL, person


def test_it_batches_updates_by_the_fields_they_touch(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    people = [
        emulator.add_contact(EMAIL, person(f"P{i}", "X", f"p{i}@x.example")) for i in range(4)
    ]
    changes = [
        {"emails": ["new0@x.example"]},
        {"emails": ["new1@x.example"]},
        {"phones": ["+31 20 555 0102"]},
        {"phones": ["+31 20 555 0103"]},
    ]

    results = connector.update_many(
        [
            ContactUpdate(id=p["resourceName"], changes=c, version=p["etag"])
            for p, c in zip(people, changes, strict=True)
        ]
    )

    assert all(r.ok for r in results)
    assert emulator.requests["people.batchUpdateContacts"] == 2
    assert emulator.requests["people.updateContact"] == 0
    stored = emulator.contact(EMAIL, people[2]["resourceName"])
    assert [e["value"] for e in stored["emailAddresses"]] == ["p2@x.example"]


def test_it_refuses_one_bad_update_and_writes_the_rest(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    a = emulator.add_contact(EMAIL, person("Ann", "Lee"))
    b = emulator.add_contact(EMAIL, person("Bob", "Ray"))

    results = connector.update_many(
        [
            ContactUpdate(
                id=a["resourceName"], changes={"birthday": "1990-13-40"}, version=a["etag"]
            ),
            ContactUpdate(
                id=b["resourceName"], changes={"birthday": "1991-02-03"}, version=b["etag"]
            ),
        ]
    )

    assert results[0].error.startswith("Google Contacts refused birthday:") and results[0].permanent
    assert results[1].record is not None and results[1].record.values["birthday"] == "1991-02-03"


def test_it_gives_up_on_a_contact_that_keeps_changing(
    connector: GoogleContactsConnector,
    emulator: GoogleContactsEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = emulator.add_contact(EMAIL, person("Ann", "Lee"))
    update = emulator._update

    def edited_meanwhile(*args: Any, **kwargs: Any) -> dict[str, Any]:
        emulator.edit_contact(EMAIL, a["resourceName"], urls=[{"value": "https://x.example"}])
        return update(*args, **kwargs)

    monkeypatch.setattr(emulator, "_update", edited_meanwhile)

    results = connector.update_many(
        [ContactUpdate(id=a["resourceName"], changes={"notes": "hi"}, version=a["etag"])]
    )

    assert not results[0].ok and not results[0].permanent
    assert "kept changing" in results[0].error
    assert emulator.requests["people.get"] == 2


def test_it_writes_a_custom_field_keeping_the_others(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    a = emulator.add_contact(
        EMAIL, person("Ann", "Lee", userDefined=[{"key": "loyaltyTier", "value": "gold"}])
    )

    results = connector.update_many(
        [ContactUpdate(id=a["resourceName"], changes={"custom.region": "EMEA"}, version=a["etag"])]
    )

    assert results[0].record is not None
    assert results[0].record.values["custom.region"] == "EMEA"
    stored = emulator.contact(EMAIL, a["resourceName"])
    assert {(i["key"], i["value"]) for i in stored["userDefined"]} == {
        ("loyaltyTier", "gold"),
        ("region", "EMEA"),
    }


def test_it_clears_a_custom_field_set_empty(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    a = emulator.add_contact(
        EMAIL, person("Ann", "Lee", userDefined=[{"key": "loyaltyTier", "value": "gold"}])
    )

    connector.update_many(
        [ContactUpdate(id=a["resourceName"], changes={"custom.loyaltyTier": ""}, version=a["etag"])]
    )

    assert "userDefined" not in emulator.contact(EMAIL, a["resourceName"])


def test_it_creates_a_contact_with_every_standard_field(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    values = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "emails": ["ada@x.example", "ada@home.example"],
        "phones": ["+44 20 555 0100"],
        "company": "Analytical Engines",
        "job_title": "Programmer",
        "addresses": [
            {
                "street": "1 St James's Sq",
                "city": "London",
                "region": "",
                "postal_code": "SW1Y 4JH",
                "country": "GB",
                "type": "home",
            }
        ],
        "birthday": "1815-12-10",
        "urls": ["https://ada.example"],
        "notes": "First programmer.",
        "tags": ["VIP"],
        "custom.era": "Victorian",
    }

    results = connector.create_many([NewContact(ref="ada", values=values)])

    record = results[0].record
    assert record is not None and record.values == values
    assert emulator.requests["contactGroups.create"] == 1


def test_it_labels_and_unlabels_many_contacts_at_once(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    people = [emulator.add_contact(EMAIL, person(f"P{i}", "X")) for i in range(3)]
    ids = [p["resourceName"] for p in people]

    connector.tag(ids, "Tandem Trash")
    results = connector.untag(ids[:2], "Tandem Trash")

    assert [r.record.tags if r.record else None for r in results] == [[], []]
    assert connector.get_many(ids[2:])[0].tags == ["Tandem Trash"]
    assert emulator.requests["contactGroups.members.modify"] == 2


def test_it_reports_a_missing_contact_when_labelling(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    a = emulator.add_contact(EMAIL, person("Ann", "Lee"))

    results = connector.tag([a["resourceName"], "people/c404"], "VIP")

    assert results[0].ok
    assert results[1].error == "Google Contacts: contact not found"


def test_it_changes_labels_through_an_update(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    a = emulator.add_contact(EMAIL, person("Ann", "Lee"))
    connector.tag([a["resourceName"]], "Old")

    results = connector.update_many(
        [ContactUpdate(id=a["resourceName"], changes={"tags": ["New"]}, version=a["etag"])]
    )

    assert results[0].record is not None and results[0].record.tags == ["New"]


def test_it_finds_contacts_whose_creation_answer_was_lost_by_their_intent_keys(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    emulator.fail_next(1, 500, after_commit=True, drop=True)

    with pytest.raises(ConnectorError) as raised:
        connector.create_many(
            [NewContact(ref="a", values={"emails": ["ada@x.example"]}, idempotency_key="k-a")]
        )
    found = connector.find_by_emails(["ada@x.example"])

    assert not raised.value.permanent
    assert emulator.requests["people.batchCreateContacts"] == 1
    assert [c.idempotency_key for c in found["ada@x.example"]] == ["k-a"]


def test_it_marks_creates_google_kept_throttling_as_throttled(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    emulator.fail_next(20, 429)
    results = connector.create_many(
        [NewContact(ref=f"r{i}", values={"first_name": f"P{i}"}) for i in range(3)]
    )
    assert all(r.throttled and not r.ok and not r.permanent for r in results)
    assert emulator.contacts(EMAIL) == []


def test_it_creates_through_a_short_429_storm(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    emulator.fail_next(2, 429)
    results = connector.create_many(
        [NewContact(ref=f"r{i}", values={"first_name": f"P{i}"}) for i in range(3)]
    )
    assert all(r.ok for r in results)
    assert len(emulator.contacts(EMAIL)) == 3


def test_it_marks_updates_google_kept_throttling_as_throttled(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    people = [emulator.add_contact(EMAIL, person(f"P{i}", "X")) for i in range(3)]
    emulator.fail_next(40, 429)
    results = connector.update_many(
        [
            ContactUpdate(id=p["resourceName"], changes={"notes": "hi"}, version=p["etag"])
            for p in people
        ]
    )
    assert all(r.throttled and not r.permanent for r in results)
