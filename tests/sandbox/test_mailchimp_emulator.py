"""The Mailchimp emulator's contract over HTTP, from Mailchimp's documented rules (api-notes §4):
API keys with their data center, subscriber hashes, upserts with ``status_if_new``, the compliance
states nobody leaves through the API, archive and permanent delete, tags, listings, the connection
limit, OAuth metadata, problem+json errors, the kit's faults and saved state."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox.mailchimp import (
    DEFAULT_MERGE_FIELDS,
    DEMO_API_KEY,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_LIST_ID,
    MailchimpEmulator,
    seed_demo,
)
from sandbox.server import Sandbox

SANDBOX_APPS = ["mailchimp"]

KEY = "a" * 32 + "-us6"


def md5(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


@pytest.fixture
def emulator(sandbox: Sandbox) -> MailchimpEmulator:
    emulator: MailchimpEmulator = sandbox.emulator("mailchimp")
    emulator.reset()
    account, _ = emulator.create_account(
        "us6", name="Acme", login_email="o@acme.example", api_key=KEY
    )
    emulator.create_audience(
        account.user_id,
        "Acme list",
        list_id="acme000001",
        merge_fields=[
            *DEFAULT_MERGE_FIELDS,
            ("TIER", "Tier", "dropdown", {"choices": ["a", "b"]}),
            ("SPEND", "Spend", "number", {}),
        ],
    )
    return emulator


Call = Callable[..., requests.Response]


@pytest.fixture
def call(sandbox: Sandbox, emulator: MailchimpEmulator) -> Call:
    base = sandbox.base_url("mailchimp") + "/us6/3.0"

    def send(method: str, path: str, *, key: str = KEY, **kwargs: Any) -> requests.Response:
        return requests.request(method, base + path, auth=("anystring", key), timeout=5, **kwargs)

    return send


MEMBERS = "/lists/acme000001/members"


def add(call: Call, email: str, status: str = "subscribed", **body: Any) -> dict[str, Any]:
    response = call("POST", MEMBERS, json={"email_address": email, "status": status, **body})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_an_api_key_answers_ping_with_any_user_name(call: Call) -> None:
    response = call("GET", "/ping")
    assert response.json() == {"health_status": "Everything's Chimpy!"}


def test_a_key_sent_to_another_data_center_is_refused_as_problem_json(
    sandbox: Sandbox, call: Call
) -> None:
    response = requests.get(
        sandbox.base_url("mailchimp") + "/us19/3.0/ping", auth=("x", KEY), timeout=5
    )
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["title"] == "API Key Invalid"
    assert call("GET", "/ping", key="b" * 32 + "-us6").status_code == 401


def test_the_merge_fields_api_types_each_field(call: Call) -> None:
    fields = call("GET", "/lists/acme000001/merge-fields", params={"count": 1000}).json()
    types = {f["tag"]: f["type"] for f in fields["merge_fields"]}
    assert types == {
        "FNAME": "text",
        "LNAME": "text",
        "ADDRESS": "address",
        "PHONE": "phone",
        "BIRTHDAY": "birthday",
        "TIER": "dropdown",
        "SPEND": "number",
    }
    tier = next(f for f in fields["merge_fields"] if f["tag"] == "TIER")
    assert tier["options"]["choices"] == ["a", "b"]


def test_a_member_is_keyed_by_the_md5_of_its_lower_case_email(call: Call) -> None:
    member = add(call, "Ann@Example.com", merge_fields={"FNAME": "Ann"})
    assert member["id"] == md5("ann@example.com")
    assert call("GET", f"{MEMBERS}/ann@example.com").json()["merge_fields"]["FNAME"] == "Ann"


def test_adding_an_existing_member_answers_member_exists(call: Call) -> None:
    add(call, "ann@example.com")
    response = call(
        "POST", MEMBERS, json={"email_address": "ann@example.com", "status": "subscribed"}
    )
    assert response.status_code == 400
    assert response.json()["title"] == "Member Exists"


def test_put_creates_with_status_if_new_and_leaves_an_existing_status_alone(call: Call) -> None:
    path = f"{MEMBERS}/{md5('bo@example.com')}"
    body = {"email_address": "bo@example.com", "status_if_new": "subscribed"}
    assert call("PUT", path, json=body).json()["status"] == "subscribed"
    add(call, "cy@example.com", status="unsubscribed")
    again = call(
        "PUT",
        f"{MEMBERS}/{md5('cy@example.com')}",
        json={
            "email_address": "cy@example.com",
            "status_if_new": "subscribed",
            "merge_fields": {"FNAME": "Cy"},
        },
    )
    assert again.json()["status"] == "unsubscribed"
    assert again.json()["merge_fields"]["FNAME"] == "Cy"


@pytest.mark.parametrize("state", ["unsubscribed", "cleaned"])
def test_nobody_unsubscribed_or_cleaned_is_subscribed_again(
    call: Call, emulator: MailchimpEmulator, state: str
) -> None:
    add(call, "di@example.com")
    emulator.unsubscribe("acme000001", "di@example.com", cleaned=state == "cleaned")
    path = f"{MEMBERS}/{md5('di@example.com')}"
    for method, body in (
        ("PATCH", {"status": "subscribed"}),
        (
            "PUT",
            {
                "email_address": "di@example.com",
                "status_if_new": "subscribed",
                "status": "subscribed",
            },
        ),
    ):
        response = call(method, path, json=body)
        assert response.status_code == 400
        assert response.json()["title"] == "Member In Compliance State"
    assert call("GET", path).json()["status"] == state


def test_last_changed_moves_on_every_write(call: Call, emulator: MailchimpEmulator) -> None:
    emulator.freeze_clock(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))
    path = f"{MEMBERS}/{add(call, 'ed@example.com')['id']}"
    stamps = [call("GET", path).json()["last_changed"]]
    for method, suffix, body in (
        ("PATCH", "", {"merge_fields": {"FNAME": "Ed"}}),
        ("POST", "/tags", {"tags": [{"name": "vip", "status": "active"}]}),
        ("DELETE", "", None),
    ):
        emulator.advance_clock(5)
        assert call(method, path + suffix, json=body).status_code in (200, 204)
        stamps.append(call("GET", path).json()["last_changed"])
    assert stamps == [
        "2026-03-01T12:00:00+00:00",
        "2026-03-01T12:00:05+00:00",
        "2026-03-01T12:00:10+00:00",
        "2026-03-01T12:00:15+00:00",
    ]


def test_delete_archives_and_only_a_status_filter_lists_archived_members(call: Call) -> None:
    add(call, "fay@example.com")
    add(call, "gus@example.com")
    assert call("DELETE", f"{MEMBERS}/fay@example.com").status_code == 204
    listed = call("GET", MEMBERS).json()
    assert [m["email_address"] for m in listed["members"]] == ["gus@example.com"]
    archived = call("GET", MEMBERS, params={"status": "archived"}).json()["members"]
    assert [(m["email_address"], m["status"]) for m in archived] == [
        ("fay@example.com", "archived")
    ]
    again = call("DELETE", f"{MEMBERS}/fay@example.com")
    assert (again.status_code, again.json()["title"]) == (405, "Method Not Allowed")


def test_a_permanently_deleted_email_cannot_be_added_again(call: Call) -> None:
    add(call, "hal@example.com")
    path = f"{MEMBERS}/{md5('hal@example.com')}"
    assert call("POST", path + "/actions/delete-permanent").status_code == 204
    assert call("GET", path).status_code == 404
    for method, url, body in (
        ("POST", MEMBERS, {"email_address": "hal@example.com", "status": "subscribed"}),
        ("PUT", path, {"email_address": "hal@example.com", "status_if_new": "subscribed"}),
    ):
        response = call(method, url, json=body)
        assert response.json()["title"] == "Forgotten Email Not Subscribed"


def test_tags_are_set_active_or_inactive_and_unknown_ones_are_created(call: Call) -> None:
    member = add(call, "ida@example.com", tags=["old"])
    path = f"{MEMBERS}/{member['id']}/tags"
    body = {
        "tags": [{"name": "brand new", "status": "active"}, {"name": "old", "status": "inactive"}],
        "is_syncing": True,
    }
    assert call("POST", path, json=body).status_code == 204
    assert [t["name"] for t in call("GET", path).json()["tags"]] == ["brand new"]
    bad = call("POST", path, json={"tags": [{"name": "x", "status": "maybe"}]})
    assert bad.json()["title"] == "Invalid Resource"


def test_merge_values_are_checked_by_type_and_a_refused_member_is_not_stored(call: Call) -> None:
    response = call(
        "POST",
        MEMBERS,
        json={
            "email_address": "jo@example.com",
            "status": "subscribed",
            "merge_fields": {
                "TIER": "z",
                "SPEND": "lots",
                "NOPE": "1",
                "ADDRESS": {"addr1": "1 Main St"},
            },
        },
    )
    assert response.status_code == 400
    assert sorted(e["field"] for e in response.json()["errors"]) == [
        "ADDRESS",
        "NOPE",
        "SPEND",
        "TIER",
    ]
    assert call("GET", f"{MEMBERS}/jo@example.com").status_code == 404


def test_a_body_that_is_not_json_answers_json_parse_exception(call: Call) -> None:
    response = call("POST", MEMBERS, data="{nope", headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["title"]) == (400, "JSON Parse Exception")


def test_listing_pages_by_offset_up_to_a_thousand(call: Call) -> None:
    for index in range(5):
        add(call, f"p{index}@example.com")
    page = call("GET", MEMBERS, params={"count": 2, "offset": 2}).json()
    assert [m["email_address"] for m in page["members"]] == ["p2@example.com", "p3@example.com"]
    assert page["total_items"] == 5
    too_many = call("GET", MEMBERS, params={"count": 1001})
    assert too_many.status_code == 400


def test_since_last_changed_lists_members_changed_after_it_in_the_order_asked(
    call: Call, emulator: MailchimpEmulator
) -> None:
    emulator.freeze_clock(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))
    for index in range(3):
        add(call, f"s{index}@example.com")
        emulator.advance_clock(60)
    params = {
        "since_last_changed": "2026-03-01T12:00:00+00:00",
        "sort_field": "last_changed",
        "sort_dir": "DESC",
    }
    listed = call("GET", MEMBERS, params=params).json()["members"]
    assert [m["email_address"] for m in listed] == ["s2@example.com", "s1@example.com"]


def test_fields_and_exclude_fields_shape_the_answer(call: Call) -> None:
    add(call, "ty@example.com", merge_fields={"FNAME": "Ty"})
    only = call("GET", MEMBERS, params={"fields": "members.email_address,total_items"}).json()
    assert only == {"members": [{"email_address": "ty@example.com"}], "total_items": 1}
    without = call("GET", f"{MEMBERS}/ty@example.com", params={"exclude_fields": "merge_fields"})
    assert "merge_fields" not in without.json()
    assert call("GET", f"{MEMBERS}/ty@example.com").json()["merge_fields"]["FNAME"] == "Ty"


def test_more_simultaneous_connections_than_allowed_answer_429(
    call: Call, emulator: MailchimpEmulator
) -> None:
    emulator.max_connections, emulator.latency = 2, 0.3
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(call("GET", "/ping").status_code))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert sorted(statuses) == [200, 200, 429, 429]
    emulator.latency = 0
    assert call("GET", "/ping").status_code == 200


def test_the_kit_faults_answer_in_mailchimps_shape(call: Call, emulator: MailchimpEmulator) -> None:
    emulator.fail_next(1, 503)
    response = call("GET", "/ping")
    assert (response.status_code, response.json()["status"]) == (503, 503)
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert call("GET", "/ping").status_code == 200


def test_oauth_metadata_names_the_data_center_of_the_token(sandbox: Sandbox) -> None:
    emulator: MailchimpEmulator = sandbox.emulator("mailchimp")
    emulator.reset()
    seed_demo(emulator, count=5)
    root = sandbox.base_url("mailchimp")
    redirect = "http://tandem.example/connect/mailchimp/callback/"
    consent = requests.post(
        root + "/oauth2/authorize",
        data={
            "response_type": "code",
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": redirect,
            "state": "s1",
            "decision": "approve",
        },
        allow_redirects=False,
        timeout=5,
    )
    code = consent.headers["Location"].split("code=")[1].split("&")[0]
    token = requests.post(
        root + "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "redirect_uri": redirect,
            "code": code,
        },
        timeout=5,
    ).json()
    assert token["expires_in"] == 0
    metadata = requests.get(
        root + "/oauth2/metadata",
        timeout=5,
        headers={"Authorization": f"OAuth {token['access_token']}"},
    ).json()
    assert metadata["dc"] == "us19"
    lists = requests.get(
        metadata["api_endpoint"] + "/3.0/lists",
        timeout=5,
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert DEMO_LIST_ID in [a["id"] for a in lists.json()["lists"]]


def test_the_demo_audience_holds_unsubscribed_and_cleaned_members() -> None:
    emulator = MailchimpEmulator()
    summary = seed_demo(emulator)
    statuses = [m["status"] for m in emulator.members(DEMO_LIST_ID)]
    assert statuses.count("unsubscribed") > 0 and statuses.count("cleaned") > 0
    assert statuses.count("archived") == 1
    assert summary["subscribed"] + summary["pending"] > 100
    key_auth = emulator.keys[DEMO_API_KEY]
    assert emulator.accounts[key_auth].dc == "us19"


def test_a_saved_state_loads_back_whole() -> None:
    emulator = MailchimpEmulator()
    seed_demo(emulator, count=20)
    emulator.unsubscribe(DEMO_LIST_ID, emulator.members(DEMO_LIST_ID)[0]["email_address"])
    copy = MailchimpEmulator()
    copy.load_state(emulator.dump_state())
    assert copy.members(DEMO_LIST_ID) == emulator.members(DEMO_LIST_ID)
    assert copy.keys == emulator.keys


def test_batch_subscribe_adds_new_members_and_reports_each_one_it_cannot(
    call: Call, emulator: MailchimpEmulator
) -> None:
    add(call, "old@example.com", status="unsubscribed")
    emulator.audience("acme000001").forgotten.add(md5("gone@example.com"))
    members = [
        {"email_address": e, "status": "subscribed", "merge_fields": {"FNAME": "N"}}
        for e in ("new@example.com", "old@example.com", "gone@example.com", "new@example.com")
    ]
    answer = call("POST", "/lists/acme000001", json={"members": members}).json()
    assert [m["email_address"] for m in answer["new_members"]] == ["new@example.com"]
    codes = {e["email_address"]: e["error_code"] for e in answer["errors"]}
    assert codes == {
        "old@example.com": "ERROR_CONTACT_EXISTS",
        "gone@example.com": "ERROR_GENERIC",
        "new@example.com": "ERROR_GENERIC",
    }
    assert (answer["total_created"], answer["error_count"]) == (1, 3)


def test_batch_update_existing_never_subscribes_again(call: Call) -> None:
    add(call, "old@example.com", status="unsubscribed")
    members = [
        {
            "email_address": "old@example.com",
            "status": "subscribed",
            "merge_fields": {"FNAME": "Ole"},
        }
    ]
    answer = call(
        "POST", "/lists/acme000001", json={"members": members, "update_existing": True}
    ).json()
    (member,) = answer["updated_members"]
    assert (member["status"], member["merge_fields"]["FNAME"]) == ("unsubscribed", "Ole")


def test_batch_subscribe_takes_at_most_500_members(call: Call) -> None:
    members = [{"email_address": f"m{i}@example.com", "status": "subscribed"} for i in range(501)]
    response = call("POST", "/lists/acme000001", json={"members": members})
    assert (response.status_code, response.json()["title"]) == (400, "Invalid Resource")
    assert call("GET", MEMBERS).json()["total_items"] == 0


def test_a_member_path_takes_its_contact_id_which_an_email_change_keeps(call: Call) -> None:
    member = add(call, "kim@example.com")
    changed = call(
        "PATCH", f"{MEMBERS}/{member['contact_id']}", json={"email_address": "kim@new.example"}
    ).json()
    assert (changed["id"], changed["contact_id"]) == (md5("kim@new.example"), member["contact_id"])
    assert (
        call("GET", f"{MEMBERS}/{member['contact_id']}").json()["email_address"]
        == "kim@new.example"
    )
    assert call("GET", f"{MEMBERS}/{member['id']}").status_code == 404


def test_a_refused_tag_name_leaves_the_member_as_it_was(call: Call) -> None:
    member = add(call, "lu@example.com", merge_fields={"FNAME": "Lu"})
    path = f"{MEMBERS}/{member['id']}"
    put = call(
        "PUT",
        path,
        json={
            "email_address": "lu@example.com",
            "status_if_new": "subscribed",
            "merge_fields": {"FNAME": "Lou"},
            "tags": [""],
        },
    )
    assert put.status_code == 200 and put.json()["tags"] == []
    response = call(
        "POST",
        MEMBERS,
        json={"email_address": "mo@example.com", "status": "subscribed", "tags": ["ok", ""]},
    )
    assert (response.status_code, response.json()["title"]) == (400, "Invalid Resource")
    assert call("GET", f"{MEMBERS}/mo@example.com").status_code == 404
