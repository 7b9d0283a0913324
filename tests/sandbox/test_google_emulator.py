from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.demo_people import demo_people
from sandbox.google_contacts import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_EMAIL,
    DEMO_REFRESH_TOKEN,
    GoogleContactsEmulator,
    seed_demo,
)
from sandbox.server import Sandbox

SANDBOX_APPS = ["google_contacts"]


@pytest.fixture
def base(sandbox: Sandbox) -> str:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    emulator.reset()
    return sandbox.base_url("google_contacts")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_it_seeds_the_demo_book_through_the_control_api(base: str) -> None:
    seeded = requests.post(f"{base}/_sandbox/seed", json={}, timeout=5).json()
    people = requests.get(
        f"{base}/_sandbox/contacts", params={"email": DEMO_EMAIL}, timeout=5
    ).json()["people"]

    assert seeded["refresh_token"] == DEMO_REFRESH_TOKEN and seeded["contacts"] == len(people)
    assert 200 <= len(people) <= 240
    assert sum(1 for p in people if not p.get("emailAddresses")) == 10
    assert any(p["names"][0]["givenName"] == "Jon" for p in people)


def test_it_honours_the_demo_refresh_token_after_a_restart(base: str) -> None:
    answer = requests.post(
        f"{base}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
        timeout=5,
    )

    me = requests.get(
        f"{base}/v1/people/me",
        params={"personFields": "emailAddresses"},
        headers=_bearer(answer.json()["access_token"]),
        timeout=5,
    )
    assert me.json()["emailAddresses"][0]["value"] == DEMO_EMAIL


def test_it_refuses_a_wrong_client_secret(base: str) -> None:
    answer = requests.post(
        f"{base}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": "wrong",
        },
        timeout=5,
    )

    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def test_it_answers_an_expired_sync_token_with_failed_precondition(base: str) -> None:
    token = requests.post(f"{base}/_sandbox/tokens", json={"email": "a@x.example"}, timeout=5)
    headers = _bearer(token.json()["access_token"])
    params: dict[str, Any] = {"personFields": "names", "requestSyncToken": "true"}
    first = requests.get(
        f"{base}/v1/people/me/connections", params=params, headers=headers, timeout=5
    )
    requests.post(f"{base}/_sandbox/knobs", json={"sync_token_ttl": 0}, timeout=5)

    expired = requests.get(
        f"{base}/v1/people/me/connections",
        params={**params, "syncToken": first.json()["nextSyncToken"]},
        headers=headers,
        timeout=5,
    )

    error = expired.json()["error"]
    assert expired.status_code == 400 and error["status"] == "FAILED_PRECONDITION"
    assert error["details"][0]["reason"] == "EXPIRED_SYNC_TOKEN"


def test_it_refuses_an_update_with_a_stale_etag(base: str) -> None:
    token = requests.post(f"{base}/_sandbox/tokens", json={"email": "a@x.example"}, timeout=5)
    headers = _bearer(token.json()["access_token"])
    created = requests.post(
        f"{base}/v1/people:createContact",
        params={"personFields": "names,metadata"},
        json={"names": [{"givenName": "Ann"}]},
        headers=headers,
        timeout=5,
    ).json()
    body = {"etag": "%stale", "names": [{"givenName": "Anna"}]}

    answer = requests.patch(
        f"{base}/v1/{created['resourceName']}:updateContact",
        params={"updatePersonFields": "names"},
        json=body,
        headers=headers,
        timeout=5,
    )

    assert answer.status_code == 400 and answer.json()["error"]["status"] == "FAILED_PRECONDITION"


def test_it_hides_writes_from_listings_until_they_propagate(base: str, sandbox: Sandbox) -> None:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    emulator.propagation_delay = 60
    headers = _bearer(emulator.issue_tokens("a@x.example")["access_token"])
    requests.post(
        f"{base}/v1/people:batchCreateContacts",
        json={"contacts": [{"contactPerson": {"names": [{"givenName": "Ann"}]}}]},
        headers=headers,
        timeout=5,
    )
    params = {"personFields": "names"}

    before = requests.get(
        f"{base}/v1/people/me/connections", params=params, headers=headers, timeout=5
    )
    emulator.advance(61)
    after = requests.get(
        f"{base}/v1/people/me/connections", params=params, headers=headers, timeout=5
    )

    assert before.json()["connections"] == [] and len(after.json()["connections"]) == 1


def test_it_overlaps_the_kustomer_demo_people_by_email(base: str, sandbox: Sandbox) -> None:
    seed_demo(sandbox.emulator("google_contacts"))
    people = sandbox.emulator("google_contacts").contacts(DEMO_EMAIL)
    shared = {e.casefold() for p in demo_people(300, seed=42) for e in p.emails}

    emails = [{e["value"].casefold() for e in p.get("emailAddresses") or []} for p in people]

    overlapping = [e for e in emails if e & shared]
    own = [e for e in emails if e and not e & shared]
    assert len(overlapping) == 180 and len(own) == 40
    given = {p["names"][0]["givenName"] for p in people}
    assert {"Jon", "Mohamed"} <= given


def test_it_answers_429_once_a_user_spends_the_minute_quota(base: str, sandbox: Sandbox) -> None:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    headers = _bearer(emulator.issue_tokens("a@x.example")["access_token"])
    requests.post(f"{base}/_sandbox/knobs", json={"quota_per_minute": 2}, timeout=5)
    params = {"personFields": "emailAddresses"}

    statuses = [
        requests.get(f"{base}/v1/people/me", params=params, headers=headers, timeout=5)
        for _ in range(3)
    ]
    emulator.advance(60)
    later = requests.get(f"{base}/v1/people/me", params=params, headers=headers, timeout=5)

    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[2].json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert later.status_code == 200


def test_it_shows_writes_after_a_number_of_requests(base: str, sandbox: Sandbox) -> None:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    emulator.propagation_requests = 2
    headers = _bearer(emulator.issue_tokens("a@x.example")["access_token"])
    requests.post(
        f"{base}/v1/people:createContact",
        params={"personFields": "names"},
        json={"names": [{"givenName": "Ann"}]},
        headers=headers,
        timeout=5,
    )
    params = {"personFields": "names"}

    counts = [
        len(
            requests.get(
                f"{base}/v1/people/me/connections", params=params, headers=headers, timeout=5
            ).json()["connections"]
        )
        for _ in range(2)
    ]

    assert counts == [0, 1]


def test_it_shows_a_deleted_contact_only_to_sync_tokens(base: str, sandbox: Sandbox) -> None:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    headers = _bearer(emulator.issue_tokens("a@x.example")["access_token"])
    gone = emulator.add_contact("a@x.example", {"names": [{"givenName": "Gone"}]})
    url = f"{base}/v1/people/me/connections"
    params = {"personFields": "names", "requestSyncToken": "true"}
    token = requests.get(url, params=params, headers=headers, timeout=5).json()["nextSyncToken"]
    requests.delete(f"{base}/v1/{gone['resourceName']}:deleteContact", headers=headers, timeout=5)

    synced = requests.get(url, params={**params, "syncToken": token}, headers=headers, timeout=5)
    listed = requests.get(url, params=params, headers=headers, timeout=5)

    assert [
        (p["resourceName"], p["metadata"]["deleted"]) for p in synced.json()["connections"]
    ] == [(gone["resourceName"], True)]
    assert listed.json()["connections"] == []


def test_it_refuses_a_batch_of_more_than_200(base: str, sandbox: Sandbox) -> None:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    headers = _bearer(emulator.issue_tokens("a@x.example")["access_token"])
    contacts = [{"contactPerson": {"names": [{"givenName": f"P{i}"}]}} for i in range(201)]

    answer = requests.post(
        f"{base}/v1/people:batchCreateContacts",
        json={"contacts": contacts, "readMask": "names"},
        headers=headers,
        timeout=5,
    )

    assert answer.status_code == 400 and answer.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert emulator.contacts("a@x.example") == []


def test_it_pages_contact_groups(base: str, sandbox: Sandbox) -> None:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    headers = _bearer(emulator.issue_tokens("a@x.example")["access_token"])
    for name in ("A", "B", "C"):
        emulator.add_group("a@x.example", name)
    url = f"{base}/v1/contactGroups"

    first = requests.get(url, params={"pageSize": 3}, headers=headers, timeout=5).json()
    rest = requests.get(
        url, params={"pageSize": 3, "pageToken": first["nextPageToken"]}, headers=headers, timeout=5
    ).json()

    names = [g["name"] for g in first["contactGroups"] + rest["contactGroups"]]
    assert names == ["myContacts", "starred", "A", "B", "C"] and "nextPageToken" not in rest


def test_it_reports_and_sets_knobs_over_http(base: str) -> None:
    requests.post(f"{base}/_sandbox/knobs", json={"propagation_delay": 30}, timeout=5)

    knobs = requests.get(f"{base}/_sandbox/knobs", timeout=5).json()

    assert knobs["propagation_delay"] == 30 and knobs["quota_per_minute"] == 0


def test_it_answers_a_malformed_control_request_with_400(base: str) -> None:
    answer = requests.post(f"{base}/_sandbox/tokens", json={}, timeout=5)

    assert answer.status_code == 400 and "email" in answer.json()["error"]


def test_it_shows_the_consent_page_with_approve_and_deny(base: str) -> None:
    page = requests.get(
        f"{base}/o/oauth2/v2/auth",
        params={
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": "http://app.example/cb",
            "response_type": "code",
            "scope": "https://www.googleapis.com/auth/contacts",
            "state": "s1",
        },
        timeout=5,
    )

    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'value="approve"' in page.text and 'value="deny"' in page.text
    assert 'name="state" value="s1"' in page.text


def test_it_reports_a_deletion_made_while_a_full_listing_was_paged(
    base: str, sandbox: Sandbox
) -> None:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    headers = _bearer(emulator.issue_tokens("a@x.example")["access_token"])
    first = emulator.add_contact("a@x.example", {"names": [{"givenName": "First"}]})
    emulator.add_contact("a@x.example", {"names": [{"givenName": "Second"}]})
    url = f"{base}/v1/people/me/connections"
    params = {"personFields": "names", "requestSyncToken": "true", "pageSize": "1"}
    page = requests.get(url, params=params, headers=headers, timeout=5).json()
    emulator.delete_contact("a@x.example", first["resourceName"])
    last = requests.get(
        url, params={**params, "pageToken": page["nextPageToken"]}, headers=headers, timeout=5
    ).json()

    changes = requests.get(
        url, params={**params, "syncToken": last["nextSyncToken"]}, headers=headers, timeout=5
    ).json()

    assert [p["resourceName"] for p in page["connections"]] == [first["resourceName"]]
    assert [(p["resourceName"], p["metadata"].get("deleted")) for p in changes["connections"]] == [
        (first["resourceName"], True)
    ]


def test_it_refuses_a_membership_of_an_unknown_group(base: str, sandbox: Sandbox) -> None:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    headers = _bearer(emulator.issue_tokens("a@x.example")["access_token"])
    membership = {"contactGroupMembership": {"contactGroupResourceName": "contactGroups/nope"}}

    answer = requests.post(
        f"{base}/v1/people:createContact",
        params={"personFields": "names"},
        json={"names": [{"givenName": "Ann"}], "memberships": [membership]},
        headers=headers,
        timeout=5,
    )

    error = answer.json()["error"]
    assert answer.status_code == 400 and error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["fieldViolations"][0]["field"] == "memberships[0]"


def test_it_lists_the_most_recently_changed_first_on_request(base: str, sandbox: Sandbox) -> None:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    headers = _bearer(emulator.issue_tokens("a@x.example")["access_token"])
    for name in ("A", "B", "C"):
        emulator.add_contact("a@x.example", {"names": [{"givenName": name}]})
    url = f"{base}/v1/people/me/connections"
    params = {"personFields": "names", "pageSize": "2", "sortOrder": "LAST_MODIFIED_DESCENDING"}

    first = requests.get(url, params=params, headers=headers, timeout=5).json()
    rest = requests.get(
        url, params={**params, "pageToken": first["nextPageToken"]}, headers=headers, timeout=5
    ).json()

    names = [p["names"][0]["givenName"] for p in first["connections"] + rest["connections"]]
    assert names == ["C", "B", "A"] and "nextPageToken" not in rest


def test_it_refuses_a_sort_order_when_syncing(base: str, sandbox: Sandbox) -> None:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    headers = _bearer(emulator.issue_tokens("a@x.example")["access_token"])

    answer = requests.get(
        f"{base}/v1/people/me/connections",
        params={
            "personFields": "names",
            "requestSyncToken": "true",
            "sortOrder": "LAST_MODIFIED_DESCENDING",
        },
        headers=headers,
        timeout=5,
    )

    assert answer.status_code == 400 and answer.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_its_listings_follow_the_change_order_through_edits_and_deletions(
    sandbox: Sandbox, base: str
) -> None:
    emulator: GoogleContactsEmulator = sandbox.emulator("google_contacts")
    email = "order@x.example"
    token = emulator.issue_tokens(email)["access_token"]
    names = [
        emulator.add_contact(email, {"names": [{"givenName": f"P{i}"}]})["resourceName"]
        for i in range(5)
    ]
    url, headers = f"{base}/v1/people/me/connections", _bearer(token)
    params: dict[str, Any] = {"personFields": "names", "requestSyncToken": "true"}
    first = requests.get(url, params=params, headers=headers, timeout=5).json()
    emulator.edit_contact(email, names[1], names=[{"givenName": "P1 edited"}])
    emulator.delete_contact(email, names[3])
    emulator.edit_contact(email, names[0], names=[{"givenName": "P0 edited"}])

    full = requests.get(url, params={**params, "pageSize": "2"}, headers=headers, timeout=5)
    changed = requests.get(
        url, params={**params, "syncToken": first["nextSyncToken"]}, headers=headers, timeout=5
    ).json()

    assert [p["resourceName"] for p in first["connections"]] == names
    assert [p["resourceName"] for p in full.json()["connections"]] == [names[2], names[4]]
    assert full.json()["totalItems"] == 4
    assert [
        (p["resourceName"], bool(p.get("metadata", {}).get("deleted")))
        for p in changed["connections"]
    ] == [(names[1], False), (names[3], True), (names[0], False)]
    assert changed["totalItems"] == 3
