"""The Person mappers read a field's items without copying them (every contact read passes
there): the same contacts and write bodies as reading copies, and the person left as it was."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.connectors.google_contacts import mappers
from integrations.sync.records import ADDRESSES, COMPANY, FIRST_NAME, JOB_TITLE, LAST_NAME


def _copied_items(person: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """The mappers' items as they were read before: a sorted list of copies."""
    items = [dict(i) for i in person.get(key) or [] if isinstance(i, Mapping)]
    return sorted(items, key=lambda i: not (i.get("metadata") or {}).get("primary"))


def _copied_first(person: Mapping[str, Any], key: str) -> dict[str, Any]:
    items = _copied_items(person, key)
    return dict(items[0]) if items else {}


text = st.sampled_from(["", " ", "Ada", "Lovelace", "ada@example.com", "+44 20 7946 0000"])
primary = st.one_of(
    st.just({}), st.fixed_dictionaries({"primary": st.booleans()}), st.just({"source": {}})
)


def _item(fields: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries(fields, optional={"metadata": primary}),
        st.sampled_from(["not an object", 7, None]),
    )


persons = st.fixed_dictionaries(
    {"resourceName": st.just("people/c1"), "etag": st.just("%abc")},
    optional={
        "names": st.lists(
            _item({"givenName": text, "familyName": text, "middleName": text}), max_size=3
        ),
        "emailAddresses": st.lists(_item({"value": text}), max_size=4),
        "phoneNumbers": st.lists(_item({"value": text}), max_size=4),
        "urls": st.lists(_item({"value": text}), max_size=2),
        "organizations": st.lists(_item({"name": text, "title": text}), max_size=3),
        "addresses": st.lists(_item({"city": text, "countryCode": text}), max_size=3),
        "birthdays": st.lists(
            _item({"date": st.fixed_dictionaries({"month": st.just(5), "day": st.just(17)})}),
            max_size=2,
        ),
        "biographies": st.lists(_item({"value": text}), max_size=2),
    },
)
CHANGES = (
    {FIRST_NAME: "Grace"},
    {LAST_NAME: ""},
    {COMPANY: "Globex"},
    {JOB_TITLE: "Engineer", COMPANY: ""},
    {ADDRESSES: [{"city": "Paris"}]},
)


@settings(max_examples=300, deadline=None)
@given(person=persons)
def test_it_reads_a_person_as_it_did_from_copies(person: dict[str, Any]) -> None:
    before = copy.deepcopy(person)
    contact = mappers.person_to_contact(person, {})
    changed = [mappers.changes_to_person(changes, person) for changes in CHANGES]
    assert person == before

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mappers, "_items", _copied_items)
        patch.setattr(mappers, "_first", _copied_first)
        assert mappers.person_to_contact(person, {}) == contact
        assert [mappers.changes_to_person(changes, person) for changes in CHANGES] == changed


def test_a_write_body_does_not_share_the_stored_items() -> None:
    stored = {
        "organizations": [
            {"name": "Initech", "title": "CEO", "metadata": {"primary": True}},
            {"name": "Side gig"},
        ],
        "names": [{"givenName": "Ada", "familyName": "Lovelace"}],
    }
    before = copy.deepcopy(stored)
    body, _ = mappers.changes_to_person({COMPANY: "Globex", FIRST_NAME: "Grace"}, stored)
    body["organizations"][0]["title"] = "changed after"
    body["organizations"][1]["name"] = "changed after"
    body["names"][0]["familyName"] = "changed after"
    assert stored == before
