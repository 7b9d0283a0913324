"""The Google emulator answers from its stored persons without copying them first: what a
listing leaves out of its answer must stay in the store, and an answer must not change with
later writes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import requests

from sandbox.google_contacts import GoogleContactsEmulator
from sandbox.google_contacts.people import restrict
from sandbox.server import Sandbox

SANDBOX_APPS = ["google_contacts"]

EMAIL = "ada@gmail.example"
FIELDS = "names,emailAddresses,metadata"


@pytest.fixture
def emulator(sandbox: Sandbox) -> GoogleContactsEmulator:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    emulator.reset()
    return emulator


def _get(sandbox: Sandbox, token: str, path: str, **params: Any) -> dict[str, Any]:
    answer = requests.get(
        f"{sandbox.base_url('google_contacts')}/v1/{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def _listed(sandbox: Sandbox, token: str, **params: Any) -> dict[str, Any]:
    return _get(
        sandbox, token, "people/me/connections", personFields=FIELDS, pageSize=100, **params
    )


def test_it_keeps_previous_names_for_sync_tokens_after_a_full_listing_left_them_out(
    sandbox: Sandbox, emulator: GoogleContactsEmulator
) -> None:
    token = emulator.issue_tokens(EMAIL)["access_token"]
    first = emulator.add_contact(EMAIL, {"names": [{"givenName": "Ada"}]})["resourceName"]
    sync_token = _listed(sandbox, token, requestSyncToken="true")["nextSyncToken"]
    renamed = emulator.change_resource_name(EMAIL, first)

    full = _listed(sandbox, token)["connections"]
    changed = _listed(sandbox, token, syncToken=sync_token, requestSyncToken="true")

    assert [p["resourceName"] for p in full] == [renamed]
    assert "previousResourceNames" not in full[0]["metadata"]
    assert changed["connections"][0]["metadata"]["previousResourceNames"] == [first]
    assert emulator.contact(EMAIL, renamed)["metadata"]["previousResourceNames"] == [first]


def test_its_answers_do_not_change_with_later_edits(
    sandbox: Sandbox, emulator: GoogleContactsEmulator
) -> None:
    token = emulator.issue_tokens(EMAIL)["access_token"]
    name = emulator.add_contact(
        EMAIL,
        {"names": [{"givenName": "Ada"}], "emailAddresses": [{"value": "ada@example.com"}]},
    )["resourceName"]
    listed = _listed(sandbox, token)["connections"][0]
    read = _get(sandbox, token, "people:batchGet", resourceNames=name, personFields=FIELDS)

    emulator.edit_contact(EMAIL, name, emailAddresses=[{"value": "ada@new.example"}])
    again = _listed(sandbox, token)["connections"][0]

    assert listed["emailAddresses"][0]["value"] == "ada@example.com"
    assert read["responses"][0]["person"]["emailAddresses"][0]["value"] == "ada@example.com"
    assert again["emailAddresses"][0]["value"] == "ada@new.example"
    assert again["etag"] != listed["etag"]
    # Only the fields asked for, even though the stored person holds more.
    assert set(again) == {"resourceName", "etag", "names", "emailAddresses", "metadata"}
    assert "memberships" in emulator.contact(EMAIL, name)


ALL_FIELDS = (
    "names,emailAddresses,phoneNumbers,organizations,addresses,birthdays,urls,biographies,"
    "userDefined,clientData,memberships,metadata"
)


@pytest.mark.parametrize("fields", [ALL_FIELDS, FIELDS])
def test_a_listing_answers_each_person_as_restricted_to_the_fields_asked_for(
    sandbox: Sandbox, emulator: GoogleContactsEmulator, fields: str
) -> None:
    token = emulator.issue_tokens(EMAIL)["access_token"]
    sync_token = _get(
        sandbox, token, "people/me/connections", personFields=fields, requestSyncToken="true"
    )["nextSyncToken"]
    names = [
        emulator.add_contact(EMAIL, body)["resourceName"]
        for body in (
            {"names": [{"givenName": "Ada"}], "emailAddresses": [{"value": "ada@example.com"}]},
            {
                "names": [{"givenName": "Bo"}],
                "phoneNumbers": [{"value": "+32 9 111 22 33"}],
                "biographies": [{"value": "Met at a fair"}],
                "userDefined": [{"key": "Tier", "value": "Gold"}],
            },
        )
    ]
    renamed = emulator.change_resource_name(EMAIL, names[0])
    emulator.delete_contact(EMAIL, names[1])
    kept = emulator.add_contact(EMAIL, {"names": [{"givenName": "Cy"}]})["resourceName"]
    answers = []
    for params in ({}, {"syncToken": sync_token}):
        answer = requests.get(
            f"{sandbox.base_url('google_contacts')}/v1/people/me/connections",
            params={"personFields": fields, "requestSyncToken": "true", **params},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        answer.raise_for_status()
        # The text json_response would have made of it.
        assert answer.text == json.dumps(answer.json())
        assert answer.headers["Content-Type"] == "application/json"
        answers.append(answer.json()["connections"])
    full, changed = answers

    wanted = set(fields.split(","))
    expected = {name: restrict(emulator.contact(EMAIL, name), wanted) for name in (renamed, kept)}
    full_expected = copy.deepcopy(expected)
    del full_expected[renamed]["metadata"]["previousResourceNames"]
    assert {p["resourceName"]: p for p in full} == full_expected
    live = {p["resourceName"]: p for p in changed if not p["metadata"].get("deleted")}
    assert live == expected
    (tombstone,) = [p for p in changed if p["metadata"].get("deleted")]
    assert tombstone["resourceName"] == names[1]


def test_a_listing_answers_each_stored_person_with_the_text_kept_when_it_was_shown(
    sandbox: Sandbox, emulator: GoogleContactsEmulator
) -> None:
    token = emulator.issue_tokens(EMAIL)["access_token"]
    name = emulator.add_contact(EMAIL, {"names": [{"givenName": "Ada"}]})["resourceName"]
    entry = emulator.books[EMAIL].entries[name]
    kept = entry.shown_text
    assert kept == json.dumps(entry.shown)

    def answer() -> str:
        listed = requests.get(
            f"{sandbox.base_url('google_contacts')}/v1/people/me/connections",
            params={"personFields": ALL_FIELDS},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        listed.raise_for_status()
        assert listed.text == json.dumps(listed.json())
        return listed.text

    assert kept in answer()
    emulator.edit_contact(EMAIL, name, names=[{"givenName": "Ada", "familyName": "King"}])
    assert entry.shown_text != kept
    assert entry.shown_text in answer()
    assert entry.shown is not None and entry.shown["names"][0]["familyName"] == "King"
    # A state saved before the texts were kept has none: the person is encoded instead.
    entry.shown_text = ""
    assert json.loads(answer())["connections"] == [entry.shown]
