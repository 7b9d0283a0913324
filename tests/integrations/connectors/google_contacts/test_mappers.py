from __future__ import annotations

from integrations.connectors.google_contacts import mappers
from integrations.connectors.google_contacts.connector import GoogleContactsConnector
from integrations.sync.fields import ConditionSpec
from integrations.sync.records import Contact


def _condition(key: str) -> ConditionSpec:
    return next(c for c in GoogleContactsConnector.capabilities.conditions if c.key == key)


def test_it_reads_the_primary_email_first_whatever_the_order() -> None:
    person = {
        "resourceName": "people/c1",
        "emailAddresses": [
            {"value": "other@x.example", "metadata": {"primary": False}},
            {"value": "main@x.example", "metadata": {"primary": True}},
        ],
    }

    contact = mappers.person_to_contact(person, {})

    assert contact.values["emails"] == ["main@x.example", "other@x.example"]


def test_it_reads_a_tombstone_as_a_deleted_contact() -> None:
    person = {
        "resourceName": "people/c1",
        "etag": "%e",
        "metadata": {"deleted": True, "sources": [{"type": "CONTACT"}]},
    }

    contact = mappers.person_to_contact(person, {})

    assert contact.deleted and contact.values == {} and contact.version == "%e"


def test_it_reads_only_user_groups_as_labels() -> None:
    person = {
        "resourceName": "people/c1",
        "memberships": [
            {"contactGroupMembership": {"contactGroupResourceName": "contactGroups/myContacts"}},
            {"contactGroupMembership": {"contactGroupResourceName": "contactGroups/abc"}},
        ],
    }

    contact = mappers.person_to_contact(person, {"contactGroups/abc": "VIP"})

    assert contact.tags == ["VIP"]


def test_it_writes_a_birthday_without_a_year() -> None:
    body, mask = mappers.changes_to_person({"birthday": "--02-29"})

    assert body == {"birthdays": [{"date": {"month": 2, "day": 29}}]} and mask == {"birthdays"}


def test_it_keeps_the_job_title_when_only_the_company_changes() -> None:
    current = {"organizations": [{"name": "Old", "title": "CTO", "metadata": {"primary": True}}]}

    body, mask = mappers.changes_to_person({"company": "New"}, current)

    assert body == {"organizations": [{"name": "New", "title": "CTO"}]}
    assert mask == {"organizations"}


def test_it_stamps_the_intent_key_as_client_data() -> None:
    body = mappers.new_person({"first_name": "Ada", "tags": ["VIP"]}, "intent-1")

    assert body == {
        "names": [{"givenName": "Ada"}],
        "clientData": [{"key": "tandemIntent", "value": "intent-1"}],
    }


def test_it_names_the_field_google_refused() -> None:
    error = {
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": "contacts[3].phoneNumbers[0]"}],
            }
        ]
    }

    assert mappers.refused_field(error) == "phones"


def test_it_matches_a_label_condition_case_insensitively() -> None:
    has_label = _condition("google_contacts.has_label")
    lacks_label = _condition("google_contacts.lacks_label")
    contact = Contact(id="people/c1", values={"tags": ["VIP"]})

    assert has_label.evaluate(contact, "vip")
    assert not lacks_label.evaluate(contact, "VIP")


def test_it_dates_a_contact_by_its_own_source_not_the_profile() -> None:
    person = {
        "resourceName": "people/c1",
        "metadata": {
            "sources": [
                {"type": "PROFILE", "updateTime": "2026-01-01T00:00:00Z"},
                {"type": "CONTACT", "updateTime": "2026-03-04T05:06:07Z"},
            ]
        },
    }

    contact = mappers.person_to_contact(person, {})

    assert contact.updated_at is not None and contact.updated_at.isoformat().startswith(
        "2026-03-04T05:06:07"
    )


def test_it_reads_honorifics_and_middle_names_into_the_name_parts() -> None:
    person = {
        "resourceName": "people/c1",
        "names": [
            {
                "honorificPrefix": "Dr.",
                "givenName": "Martin",
                "middleName": "Luther",
                "familyName": "King",
                "honorificSuffix": "Jr.",
            }
        ],
    }

    values = mappers.person_to_contact(person, {}).values

    assert values == {
        "name_prefix": "Dr.",
        "first_name": "Martin Luther",
        "last_name": "King",
        "name_suffix": "Jr.",
    }


def test_it_writes_honorifics_to_their_own_fields_never_the_family_name() -> None:
    changes = {
        "name_prefix": "Dr.",
        "first_name": "Martin Luther",
        "last_name": "King",
        "name_suffix": "Jr.",
    }

    body, mask = mappers.changes_to_person(changes, {})

    assert body == {
        "names": [
            {
                "honorificPrefix": "Dr.",
                "givenName": "Martin Luther",
                "familyName": "King",
                "honorificSuffix": "Jr.",
            }
        ]
    }
    assert mask == {"names"}


def test_it_drops_the_stored_middle_name_when_the_first_name_is_written() -> None:
    current = {"names": [{"givenName": "Martin", "middleName": "Luther", "familyName": "King"}]}

    body, _ = mappers.changes_to_person({"first_name": "Martin Luther"}, current)

    assert body["names"] == [{"givenName": "Martin Luther", "familyName": "King"}]


def test_it_keeps_the_stored_honorifics_when_only_the_family_name_changes() -> None:
    current = {"names": [{"honorificPrefix": "Dr.", "givenName": "Ann", "familyName": "Lee"}]}

    body, _ = mappers.changes_to_person({"last_name": "Kim"}, current)

    assert body["names"] == [{"honorificPrefix": "Dr.", "givenName": "Ann", "familyName": "Kim"}]


def test_it_offers_fields_for_honorifics() -> None:
    connector = GoogleContactsConnector({"refresh_token": "r"})
    assert {"name_prefix", "name_suffix"} <= set(connector.fields_for_sync(()))
