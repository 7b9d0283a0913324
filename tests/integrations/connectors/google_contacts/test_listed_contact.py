"""A change feed's contact converts its values from the Person only when they are first read,
and is then the contact ``person_to_contact`` gives at once, field for field; a change feed's
page (``listed_page``) decodes of each person only what is read at once."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from integrations.connectors.google_contacts import mappers
from integrations.connectors.google_contacts.mappers import (
    ListedContact,
    listed_page,
    person_to_contact,
)

GROUPS = {"contactGroups/friends": "Friends", "contactGroups/vip": "VIP"}

PEOPLE: list[dict[str, Any]] = [
    {
        "resourceName": "people/c1",
        "etag": "%E1",
        "metadata": {
            "sources": [
                {"type": "PROFILE", "updateTime": "2026-01-01T00:00:00Z"},
                {"type": "CONTACT", "updateTime": "2026-11-30T10:00:00.5Z"},
            ],
            "previousResourceNames": ["people/c0"],
        },
        "names": [
            {"honorificPrefix": "Dr", "givenName": "Ann", "middleName": "Jo", "familyName": "Lee"}
        ],
        "emailAddresses": [
            {"value": "home@x.example"},
            {"value": "ann@x.example", "metadata": {"primary": True}},
            {"value": "  "},
        ],
        "phoneNumbers": [{"value": "+32 9 111 22 33"}],
        "urls": [{"value": "https://x.example"}],
        "organizations": [{"name": "Acme", "title": "CEO"}],
        "addresses": [{"streetAddress": "1 Main St", "city": "Gent", "countryCode": "BE"}],
        "birthdays": [{"date": {"month": 2, "day": 29}}],
        "biographies": [{"value": "Met at a fair"}],
        "memberships": [
            {"contactGroupMembership": {"contactGroupResourceName": "contactGroups/vip"}},
            {"contactGroupMembership": {"contactGroupResourceName": "contactGroups/myContacts"}},
        ],
        "userDefined": [{"key": "Tier", "value": "Gold"}, {"key": "", "value": "x"}],
        "clientData": [{"key": "tandemIntent", "value": "intent-1"}],
    },
    {"resourceName": "people/c2", "etag": "%E2", "names": [{"givenName": "Bo"}]},
    {"resourceName": "people/c3", "etag": "%E3"},
    {
        "resourceName": "people/c4",
        "etag": "%E4",
        "metadata": {"deleted": True, "sources": [{"type": "CONTACT"}]},
    },
]


@pytest.mark.parametrize("person", PEOPLE, ids=lambda p: p["resourceName"])
def test_it_is_the_contact_converted_at_once(person: dict[str, Any]) -> None:
    at_once = person_to_contact(copy.deepcopy(person), GROUPS)

    deferred = person_to_contact(copy.deepcopy(person), GROUPS, deferred=True)

    assert dataclasses.asdict(deferred) == dataclasses.asdict(at_once)
    assert deferred == at_once and at_once == deferred
    assert deferred.normalized_emails == at_once.normalized_emails


def test_it_converts_nothing_until_its_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    converted: list[str] = []
    convert = mappers.person_values

    def counted(person: Any, groups: Any) -> dict[str, Any]:
        converted.append(person["resourceName"])
        return convert(person, groups)

    monkeypatch.setattr(mappers, "person_values", counted)

    contact = person_to_contact(PEOPLE[0], GROUPS, deferred=True)

    assert isinstance(contact, ListedContact)
    assert (contact.id, contact.version, contact.idempotency_key) == (
        "people/c1",
        "%E1",
        "intent-1",
    )
    assert contact.facts == {"previous_ids": ["people/c0"]}
    assert contact.updated_at is not None and contact.updated_at.month == 11
    assert converted == []
    assert contact.make_storable().values["emails"] == ["ann@x.example", "home@x.example"]
    assert contact.values["tags"] == ["VIP"]
    assert converted == ["people/c1"]


def test_values_set_before_they_are_read_replace_the_persons() -> None:
    contact = person_to_contact(PEOPLE[0], GROUPS, deferred=True)

    contact.values = {"first_name": "Set"}

    assert contact.values == {"first_name": "Set"}


def test_a_tombstone_is_a_plain_deleted_contact() -> None:
    contact = person_to_contact(PEOPLE[3], GROUPS, deferred=True)

    assert type(contact) is not ListedContact
    assert contact.deleted and contact.values == {}


def _page(people: list[dict[str, Any]], **tokens: str) -> bytes:
    return json.dumps({"connections": people, "totalItems": len(people), **tokens}).encode()


@pytest.mark.parametrize("person", PEOPLE, ids=lambda p: p["resourceName"])
def test_a_feed_pages_contact_is_the_contact_converted_at_once(person: dict[str, Any]) -> None:
    at_once = person_to_contact(copy.deepcopy(person), GROUPS)

    page = listed_page(_page([person]), GROUPS)

    assert page is not None
    [listed] = page.records
    assert dataclasses.asdict(listed) == dataclasses.asdict(at_once)
    assert listed == at_once and at_once == listed
    assert listed.normalized_emails == at_once.normalized_emails


def test_a_feed_page_decodes_no_persons_values_until_they_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[Any] = []
    decode = mappers.jsoncodec.decode

    def counted(data: Any) -> Any:
        decoded.append(bytes(data))
        return decode(data)

    monkeypatch.setattr(mappers.jsoncodec, "decode", counted)

    page = listed_page(_page(PEOPLE[:3]), GROUPS)

    assert page is not None
    first, second, third = page.records
    assert isinstance(first, ListedContact)
    assert (first.id, first.version, first.idempotency_key) == ("people/c1", "%E1", "intent-1")
    assert first.facts == {"previous_ids": ["people/c0"]}
    assert decoded == []
    assert second.values == {"first_name": "Bo"}
    assert json.loads(decoded[0])["resourceName"] == "people/c2"
    assert third.values == {}
    assert len(decoded) == 2


def test_a_feed_pages_contacts_read_in_any_order_each_get_their_own_persons_values() -> None:
    # The page's persons are split out of its body once, at the first read, and shared.
    page = listed_page(_page(PEOPLE[:3]), GROUPS)

    assert page is not None
    first, _, third = page.records
    assert third.values == person_to_contact(copy.deepcopy(PEOPLE[2]), GROUPS).values
    assert first.values == person_to_contact(copy.deepcopy(PEOPLE[0]), GROUPS).values
    assert first.values != third.values


def test_a_feed_page_gives_its_page_and_sync_tokens() -> None:
    middle = listed_page(_page(PEOPLE[:1], nextPageToken="p2"), GROUPS)
    last = listed_page(_page(PEOPLE[1:2], nextSyncToken="s9"), GROUPS)
    empty = listed_page(b'{"totalItems": 0, "nextSyncToken": "s10"}', GROUPS)

    assert middle is not None and (middle.next_page_token, middle.next_sync_token) == ("p2", "")
    assert last is not None and (last.next_page_token, last.next_sync_token) == ("", "s9")
    assert empty is not None and (empty.records, empty.next_sync_token) == ([], "s10")


@pytest.mark.parametrize(
    "body",
    [
        _page([{**PEOPLE[1], "metadata": []}]),  # a list where the API has an object
        _page([{**PEOPLE[1], "clientData": {"key": "tandemIntent"}}]),
        _page([{"etag": "%E9"}]),  # no resourceName
        b"[1, 2]",
        b"<html>",
    ],
    ids=["metadata list", "clientData object", "no resourceName", "a list", "not JSON"],
)
def test_a_feed_page_not_shaped_as_documented_is_left_to_the_whole_decoding(body: bytes) -> None:
    assert listed_page(body, GROUPS) is None
