"""The Google People emulator against the People API reference (api-notes §2): every
``personFields`` path, ``pageSize`` defaults and caps, sort orders, write answers, sync tokens
(bound to their listing, expiring), etag conflicts, batch deletes, contact search, and malformed
bodies answered 400 ``INVALID_ARGUMENT`` in the ``google.rpc.Status`` shape, never a server
error, with nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox.google_contacts import PERSON_FIELDS, GoogleContactsEmulator
from sandbox.server import Sandbox

USER = "contract@gmail.example"
Call = Callable[..., requests.Response]
ALL_29 = sorted(PERSON_FIELDS)


@pytest.fixture
def emulator(contract_sandbox: Sandbox) -> GoogleContactsEmulator:
    emulator: GoogleContactsEmulator = contract_sandbox.emulator("google_contacts")
    emulator.reset()
    emulator.add_user(USER)
    return emulator


@pytest.fixture
def call(contract_sandbox: Sandbox, emulator: GoogleContactsEmulator) -> Call:
    def send(method: str, path: str, **kwargs: Any) -> requests.Response:
        # A fresh access token each time: tests move the clock past a token's hour.
        token = emulator.issue_tokens(USER)["access_token"]
        return requests.request(
            method,
            f"{contract_sandbox.base_url('google_contacts')}/v1/{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            **kwargs,
        )

    return send


def assert_google_error(response: requests.Response, code: int, status: str) -> dict[str, Any]:
    assert response.status_code == code, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (code, status) and error["message"]
    return dict(error)


def listing(call: Call, **params: Any) -> requests.Response:
    return call("GET", "people/me/connections", params=params)


def test_it_accepts_all_29_person_fields(call: Call, emulator: GoogleContactsEmulator) -> None:
    person = emulator.add_contact(USER, {"names": [{"givenName": "Ann"}]})
    fields = ",".join(ALL_29)

    listed = listing(call, personFields=fields)
    one = call("GET", person["resourceName"], params={"personFields": fields})

    assert len(ALL_29) == 29
    assert listed.status_code == one.status_code == 200
    assert one.json()["names"][0]["givenName"] == "Ann"


def test_it_refuses_an_unknown_person_field_naming_the_mask(call: Call) -> None:
    error = assert_google_error(
        listing(call, personFields="names,shoeSizes"), 400, "INVALID_ARGUMENT"
    )
    assert error["details"][0]["fieldViolations"][0]["field"] == "personFields"


def test_it_needs_person_fields_on_reads(call: Call) -> None:
    assert_google_error(listing(call), 400, "INVALID_ARGUMENT")


def test_it_reads_page_size_0_as_the_default_of_100(
    call: Call, emulator: GoogleContactsEmulator
) -> None:
    for i in range(101):
        emulator.add_contact(USER, {"names": [{"givenName": f"P{i:03d}"}]})

    page = listing(call, personFields="names", pageSize=0).json()

    assert len(page["connections"]) == 100 and "nextPageToken" in page


@pytest.mark.parametrize("size", ["-1", "1001", "many"])
def test_it_refuses_a_page_size_out_of_range(call: Call, size: str) -> None:
    assert_google_error(listing(call, personFields="names", pageSize=size), 400, "INVALID_ARGUMENT")


def test_it_sorts_by_first_or_last_name(call: Call, emulator: GoogleContactsEmulator) -> None:
    for given, family in (("Cy", "Adams"), ("Ann", "Cole"), ("Bea", "Berg")):
        emulator.add_contact(USER, {"names": [{"givenName": given, "familyName": family}]})

    def order(sort: str) -> list[str]:
        page = listing(call, personFields="names", sortOrder=sort, pageSize=2).json()
        rest = listing(
            call, personFields="names", sortOrder=sort, pageSize=2, pageToken=page["nextPageToken"]
        ).json()
        return [p["names"][0]["givenName"] for p in page["connections"] + rest["connections"]]

    assert order("FIRST_NAME_ASCENDING") == ["Ann", "Bea", "Cy"]
    assert order("LAST_NAME_ASCENDING") == ["Cy", "Bea", "Ann"]


@pytest.mark.parametrize("sort", ["FIRST_NAME_ASCENDING", "LAST_MODIFIED_DESCENDING"])
def test_it_refuses_a_sort_order_when_syncing(call: Call, sort: str) -> None:
    response = listing(call, personFields="names", sortOrder=sort, requestSyncToken="true")

    assert_google_error(response, 400, "INVALID_ARGUMENT")


def test_it_refuses_an_unknown_sort_order(call: Call) -> None:
    assert_google_error(
        listing(call, personFields="names", sortOrder="BY_SHOE_SIZE"), 400, "INVALID_ARGUMENT"
    )


def test_it_answers_a_create_without_person_fields_with_every_field(call: Call) -> None:
    body = {
        "names": [{"givenName": "Ann"}],
        "emailAddresses": [{"value": "ann@x.example"}],
        "organizations": [{"name": "Acme", "title": "CTO"}],
    }

    created = call("POST", "people:createContact", json=body).json()

    assert created["emailAddresses"][0]["value"] == "ann@x.example"
    assert created["organizations"][0]["title"] == "CTO"
    assert created["memberships"] and created["metadata"]["sources"]


def test_it_answers_an_update_without_person_fields_with_every_field(
    call: Call, emulator: GoogleContactsEmulator
) -> None:
    person = emulator.add_contact(
        USER, {"names": [{"givenName": "Ann"}], "emailAddresses": [{"value": "ann@x.example"}]}
    )

    updated = call(
        "PATCH",
        f"{person['resourceName']}:updateContact",
        params={"updatePersonFields": "names"},
        json={"etag": person["etag"], "names": [{"givenName": "Anna"}]},
    ).json()

    assert updated["names"][0]["givenName"] == "Anna"
    assert updated["emailAddresses"][0]["value"] == "ann@x.example"


def test_it_binds_a_sync_token_to_the_listing_that_issued_it(
    call: Call, emulator: GoogleContactsEmulator
) -> None:
    emulator.add_contact(USER, {"names": [{"givenName": "Ann"}]})
    first = listing(call, personFields="names", requestSyncToken="true").json()
    token = first["nextSyncToken"]

    other_fields = listing(
        call, personFields="names,emailAddresses", requestSyncToken="true", syncToken=token
    )
    other_size = listing(
        call, personFields="names", pageSize=5, requestSyncToken="true", syncToken=token
    )
    same = listing(call, personFields="names", requestSyncToken="true", syncToken=token)

    assert_google_error(other_fields, 400, "INVALID_ARGUMENT")
    assert_google_error(other_size, 400, "INVALID_ARGUMENT")
    assert same.status_code == 200 and same.json().get("connections", []) == []


def test_it_expires_a_sync_token_after_seven_days(
    call: Call, emulator: GoogleContactsEmulator
) -> None:
    token = listing(call, personFields="names", requestSyncToken="true").json()["nextSyncToken"]
    emulator.advance_clock(7 * 24 * 3600 + 1)

    response = listing(call, personFields="names", requestSyncToken="true", syncToken=token)

    error = assert_google_error(response, 400, "FAILED_PRECONDITION")
    assert error["details"][0]["reason"] == "EXPIRED_SYNC_TOKEN"


def test_it_answers_an_expired_sync_token_with_410_when_told_to(
    call: Call, emulator: GoogleContactsEmulator
) -> None:
    emulator.expired_sync_status = 410
    token = listing(call, personFields="names", requestSyncToken="true").json()["nextSyncToken"]
    emulator.advance_clock(8 * 24 * 3600)

    response = listing(call, personFields="names", requestSyncToken="true", syncToken=token)

    assert response.status_code == 410


def test_it_refuses_a_stale_etag_with_failed_precondition_and_keeps_the_contact(
    call: Call, emulator: GoogleContactsEmulator
) -> None:
    person = emulator.add_contact(USER, {"names": [{"givenName": "Ann"}]})
    emulator.edit_contact(USER, person["resourceName"], names=[{"givenName": "Ann B"}])

    response = call(
        "PATCH",
        f"{person['resourceName']}:updateContact",
        params={"updatePersonFields": "names"},
        json={"etag": person["etag"], "names": [{"givenName": "X"}]},
    )

    error = assert_google_error(response, 400, "FAILED_PRECONDITION")
    assert error["details"][0]["reason"] == "failedPrecondition"
    assert emulator.contact(USER, person["resourceName"])["names"][0]["givenName"] == "Ann B"


def test_it_needs_an_etag_to_update(call: Call, emulator: GoogleContactsEmulator) -> None:
    person = emulator.add_contact(USER, {"names": [{"givenName": "Ann"}]})

    response = call(
        "PATCH",
        f"{person['resourceName']}:updateContact",
        params={"updatePersonFields": "names"},
        json={"names": [{"givenName": "X"}]},
    )

    assert_google_error(response, 400, "INVALID_ARGUMENT")


def test_it_deletes_contacts_in_a_batch(call: Call, emulator: GoogleContactsEmulator) -> None:
    names = [
        emulator.add_contact(USER, {"names": [{"givenName": f"P{i}"}]})["resourceName"]
        for i in range(3)
    ]

    response = call("POST", "people:batchDeleteContacts", json={"resourceNames": names[:2]})

    assert response.status_code == 200 and response.json() == {}
    assert [p["resourceName"] for p in emulator.contacts(USER)] == names[2:]


def test_it_deletes_nothing_when_a_batch_names_a_missing_contact(
    call: Call, emulator: GoogleContactsEmulator
) -> None:
    kept = emulator.add_contact(USER, {"names": [{"givenName": "Ann"}]})["resourceName"]

    response = call(
        "POST", "people:batchDeleteContacts", json={"resourceNames": [kept, "people/c404"]}
    )

    assert_google_error(response, 404, "NOT_FOUND")
    assert [p["resourceName"] for p in emulator.contacts(USER)] == [kept]


def test_it_refuses_a_batch_delete_of_more_than_500(call: Call) -> None:
    names = [f"people/c{i}" for i in range(501)]

    response = call("POST", "people:batchDeleteContacts", json={"resourceNames": names})

    assert_google_error(response, 400, "INVALID_ARGUMENT")


def test_it_searches_contacts_by_prefix_after_an_empty_warm_up(
    call: Call, emulator: GoogleContactsEmulator
) -> None:
    emulator.add_contact(
        USER,
        {"names": [{"givenName": "Ann", "familyName": "Lee"}],
         "emailAddresses": [{"value": "ann.lee@x.example"}]},
    )  # fmt: skip
    emulator.add_contact(USER, {"names": [{"givenName": "Bob", "familyName": "Annex"}]})
    emulator.add_contact(USER, {"names": [{"givenName": "Cy"}]})

    warm_up = call("GET", "people:searchContacts", params={"query": "", "readMask": "names"})
    found = call("GET", "people:searchContacts", params={"query": "ann", "readMask": "names"})
    by_email = call(
        "GET", "people:searchContacts", params={"query": "ann.lee@", "readMask": "names"}
    )

    assert warm_up.status_code == 200 and warm_up.json() == {}
    given = sorted(r["person"]["names"][0]["givenName"] for r in found.json()["results"])
    assert given == ["Ann", "Bob"]
    assert [r["person"]["names"][0]["givenName"] for r in by_email.json()["results"]] == ["Ann"]


def test_it_caps_a_search_page_at_30_and_needs_a_read_mask(
    call: Call, emulator: GoogleContactsEmulator
) -> None:
    for i in range(35):
        emulator.add_contact(USER, {"names": [{"givenName": f"Ann{i}"}]})

    found = call(
        "GET", "people:searchContacts", params={"query": "ann", "readMask": "names", "pageSize": 50}
    )
    no_mask = call("GET", "people:searchContacts", params={"query": "ann"})

    assert len(found.json()["results"]) == 30
    assert_google_error(no_mask, 400, "INVALID_ARGUMENT")


# Malformed bodies on every write path: (method, path, query, body).
MALFORMED_WRITES: list[tuple[str, str, dict[str, str], Any]] = [
    ("POST", "people:createContact", {}, ["Ann"]),
    ("POST", "people:createContact", {}, {"names": "Ann"}),
    ("POST", "people:createContact", {}, {"names": [{"givenName": 5}]}),
    ("POST", "people:createContact", {}, {"names": [{"givenName": "A"}, {"givenName": "B"}]}),
    ("POST", "people:createContact", {}, {"birthdays": [{"date": {"month": "May", "day": 1}}]}),
    ("POST", "people:createContact", {}, {"memberships": [{"contactGroupMembership": "x"}]}),
    ("POST", "people:createContact", {}, {"nickname": [{"value": "Annie"}]}),
    ("POST", "people:createContact", {}, {"emailAddresses": [{"value": ""}]}),
    ("POST", "people:createContact", {}, {"organizations": [{"current": "yes"}]}),
    ("POST", "people:createContact", {"personFields": "shoeSizes"}, {"names": []}),
    ("POST", "people:batchCreateContacts", {}, {"contacts": ["Ann"]}),
    ("POST", "people:batchCreateContacts", {}, {"contacts": {"a": 1}}),
    (
        "POST",
        "people:batchCreateContacts",
        {},
        {"contacts": [{"contactPerson": {"emailAddresses": [{"value": 5}]}}]},
    ),
    (
        "POST",
        "people:batchCreateContacts",
        {},
        {"contacts": [{"contactPerson": {}}], "readMask": 5},
    ),
    (
        "POST",
        "people:batchUpdateContacts",
        {},
        {"contacts": {"people/c1": "x"}, "updateMask": "names"},
    ),
    ("POST", "people:batchUpdateContacts", {}, {"contacts": {}, "updateMask": 5}),
    ("POST", "people:batchUpdateContacts", {}, [1, 2]),
    ("PATCH", "{person}:updateContact", {"updatePersonFields": "names"}, "Ann"),
    ("PATCH", "{person}:updateContact", {"updatePersonFields": "photos"}, {"etag": "{etag}"}),
    ("PATCH", "{person}:updateContact", {"updatePersonFields": "names"}, {"etag": 7}),
    ("POST", "contactGroups", {}, {"contactGroup": "VIP"}),
    ("POST", "contactGroups", {}, ["VIP"]),
    ("POST", "contactGroups/myContacts/members:modify", {}, {"resourceNamesToAdd": "people/c1"}),
    ("POST", "people:batchDeleteContacts", {}, {"resourceNames": "people/c1"}),
    ("POST", "people:batchDeleteContacts", {}, {"resourceNames": [5]}),
]


@pytest.mark.parametrize(("method", "path", "query", "body"), MALFORMED_WRITES)
def test_it_answers_a_malformed_write_with_400_json_and_stores_nothing(
    call: Call,
    emulator: GoogleContactsEmulator,
    method: str,
    path: str,
    query: dict[str, str],
    body: Any,
) -> None:
    person = emulator.add_contact(USER, {"names": [{"givenName": "Ann"}]})
    before = emulator.contacts(USER)
    path = path.replace("{person}", person["resourceName"])
    if isinstance(body, dict) and body.get("etag") == "{etag}":
        body = {**body, "etag": person["etag"]}

    response = call(method, path, params=query, json=body)

    assert_google_error(response, 400, "INVALID_ARGUMENT")
    assert emulator.contacts(USER) == before
    assert emulator.add_user(USER).groups == {}


def test_it_answers_a_body_that_is_not_json_with_400(call: Call) -> None:
    response = call("POST", "people:createContact", data="{not json")

    assert_google_error(response, 400, "INVALID_ARGUMENT")


def test_it_refuses_a_page_token_with_other_parameters(
    call: Call, emulator: GoogleContactsEmulator
) -> None:
    for i in range(3):
        emulator.add_contact(USER, {"names": [{"givenName": f"P{i}"}]})
    first = listing(call, personFields="names", pageSize=2).json()

    other = listing(call, personFields="names,emailAddresses", pageSize=2,
                    pageToken=first["nextPageToken"])  # fmt: skip
    same = listing(call, personFields="names", pageSize=2, pageToken=first["nextPageToken"])

    assert_google_error(other, 400, "INVALID_ARGUMENT")
    assert [p["names"][0]["givenName"] for p in same.json()["connections"]] == ["P2"]


def test_it_issues_the_sync_token_on_the_last_page_only(
    call: Call, emulator: GoogleContactsEmulator
) -> None:
    for i in range(3):
        emulator.add_contact(USER, {"names": [{"givenName": f"P{i}"}]})

    first = listing(call, personFields="names", pageSize=2, requestSyncToken="true").json()
    last = listing(call, personFields="names", pageSize=2, requestSyncToken="true",
                   pageToken=first["nextPageToken"]).json()  # fmt: skip

    assert "nextSyncToken" not in first and "nextPageToken" not in last
    assert last["nextSyncToken"] and last["totalItems"] == 3
