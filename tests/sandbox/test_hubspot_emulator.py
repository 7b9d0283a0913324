"""The HubSpot emulator's contract, over HTTP: what api-notes §3 says the real CRM v3 API does
with contacts, search, batches, properties, static lists, rate limits and OAuth."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.hubspot import DEMO_HUB_ID, DEMO_TOKEN, HubSpotEmulator
from sandbox.server import Sandbox

TOKEN = "pat-test-token"


@pytest.fixture(scope="module")
def server() -> Iterator[Sandbox]:
    sandbox = Sandbox(slugs=["hubspot"]).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def hub(server: Sandbox) -> HubSpotEmulator:
    emulator: HubSpotEmulator = server.emulator("hubspot")
    emulator.reset()
    emulator.create_portal(hub_id=1)
    emulator.add_private_app(1, TOKEN)
    return emulator


class Api:
    def __init__(self, base: str, token: str = TOKEN) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=10, **kwargs)


@pytest.fixture
def api(server: Sandbox, hub: HubSpotEmulator) -> Api:
    return Api(server.base_url("hubspot"))


def create(api: Api, **props: str) -> dict[str, Any]:
    response = api("POST", "/crm/v3/objects/contacts", json={"properties": props})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def search(api: Api, **body: Any) -> requests.Response:
    return api("POST", "/crm/v3/objects/contacts/search", json=body)


def test_it_refuses_a_request_without_a_valid_token(server: Sandbox, hub: HubSpotEmulator) -> None:
    response = Api(server.base_url("hubspot"), "nope")("GET", "/crm/v3/objects/contacts")
    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"
    assert response.json()["status"] == "error" and response.json()["correlationId"]


def test_it_creates_a_contact_with_string_values_and_both_stamps(api: Api) -> None:
    made = create(api, email="ann@acme.example", firstname="Ann")
    assert made["properties"]["email"] == "ann@acme.example"
    assert made["properties"]["hs_object_id"] == made["id"]
    assert made["properties"]["lastmodifieddate"] == made["updatedAt"] == made["createdAt"]
    assert made["archived"] is False


def test_it_answers_409_with_the_existing_id_for_an_email_in_use(api: Api) -> None:
    first = create(api, email="ann@acme.example")
    response = api(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "ANN@acme.example"}}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {first['id']}"


def test_it_refuses_a_value_of_the_wrong_type_naming_the_property(api: Api) -> None:
    response = api(
        "POST",
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "x@acme.example", "hs_object_id": "5", "nope": "1"}},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    codes = {e["context"]["propertyName"][0]: e["code"] for e in body["errors"]}
    assert codes == {"hs_object_id": "READ_ONLY_VALUE", "nope": "PROPERTY_DOESNT_EXIST"}
    assert api("GET", "/crm/v3/objects/contacts").json()["results"] == []


def test_it_clears_a_value_written_empty_and_moves_lastmodifieddate(
    api: Api, hub: HubSpotEmulator
) -> None:
    made = create(api, email="ann@acme.example", company="Acme")
    hub.advance_clock(5)
    response = api(
        "PATCH", f"/crm/v3/objects/contacts/{made['id']}", json={"properties": {"company": ""}}
    )
    assert response.status_code == 200
    body = response.json()
    assert "company" not in body["properties"] or body["properties"]["company"] is None
    assert body["updatedAt"] > made["updatedAt"]
    assert body["properties"]["lastmodifieddate"] == body["updatedAt"]


def test_it_reads_a_contact_by_email(api: Api) -> None:
    made = create(api, email="ann@acme.example")
    response = api(
        "GET", "/crm/v3/objects/contacts/ANN@acme.example", params={"idProperty": "email"}
    )
    assert response.status_code == 200 and response.json()["id"] == made["id"]


def test_it_archives_on_delete_and_lists_archived_ones_only_when_asked(api: Api) -> None:
    kept = create(api, email="kept@acme.example")
    gone = create(api, email="gone@acme.example")
    assert api("DELETE", f"/crm/v3/objects/contacts/{gone['id']}").status_code == 204
    live = api("GET", "/crm/v3/objects/contacts").json()["results"]
    archived = api("GET", "/crm/v3/objects/contacts", params={"archived": "true"}).json()
    assert [c["id"] for c in live] == [kept["id"]]
    assert [c["id"] for c in archived["results"]] == [gone["id"]]
    assert archived["results"][0]["archived"] is True and archived["results"][0]["archivedAt"]
    assert api("GET", f"/crm/v3/objects/contacts/{gone['id']}").status_code == 404


def test_it_pages_the_listing_with_an_after_cursor_and_no_paging_on_the_last_page(
    api: Api,
) -> None:
    ids = [create(api, email=f"p{n}@acme.example")["id"] for n in range(5)]
    first = api("GET", "/crm/v3/objects/contacts", params={"limit": 3}).json()
    after = first["paging"]["next"]["after"]
    second = api("GET", "/crm/v3/objects/contacts", params={"limit": 3, "after": after}).json()
    assert [c["id"] for c in first["results"] + second["results"]] == ids
    assert "paging" not in second
    assert api("GET", "/crm/v3/objects/contacts", params={"limit": 101}).status_code == 400


def test_it_searches_on_lastmodifieddate_ascending_without_archived_ones(
    api: Api, hub: HubSpotEmulator
) -> None:
    old = create(api, email="old@acme.example")
    hub.advance_clock(60)
    newer = create(api, email="new@acme.example")
    hub.advance_clock(60)
    gone = create(api, email="gone@acme.example")
    api("DELETE", f"/crm/v3/objects/contacts/{gone['id']}")
    response = search(
        api,
        filterGroups=[
            {
                "filters": [
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "GTE",
                        "value": newer["updatedAt"],
                    }
                ]
            }
        ],
        sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        limit=200,
    )
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [newer["id"]]
    assert response.json()["total"] == 1
    assert old["id"] not in [c["id"] for c in response.json()["results"]]


def test_it_ors_filter_groups_and_ands_their_filters(api: Api) -> None:
    create(api, email="a@acme.example", firstname="Ann", lastname="Archer")
    create(api, email="b@acme.example", firstname="Ann", lastname="Baker")
    create(api, email="c@acme.example", firstname="Cy", lastname="Cole")
    groups = [
        {
            "filters": [
                {"propertyName": "firstname", "operator": "EQ", "value": "ann"},
                {"propertyName": "lastname", "operator": "EQ", "value": "Baker"},
            ]
        },
        {"filters": [{"propertyName": "email", "operator": "IN", "values": ["c@acme.example"]}]},
    ]
    found = search(api, filterGroups=groups).json()["results"]
    assert sorted(c["properties"]["email"] for c in found) == ["b@acme.example", "c@acme.example"]


def test_it_refuses_more_filters_than_hubspot_allows(api: Api) -> None:
    group = {"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 11}
    response = search(api, filterGroups=[group])
    assert response.status_code == 400
    assert search(api, filterGroups=[{"filters": []}] * 6).status_code == 400
    assert search(api, limit=201).status_code == 400


def test_it_answers_400_past_the_10000th_result(api: Api) -> None:
    response = search(api, limit=200, after="9900")
    assert response.status_code == 400
    assert "10000" in response.json()["message"]
    assert search(api, limit=100, after="9900").status_code == 200


def test_it_answers_207_with_each_refused_input_of_a_batch_create(api: Api) -> None:
    create(api, email="taken@acme.example")
    response = api(
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        json={
            "inputs": [
                {"properties": {"email": "new@acme.example"}, "associations": []},
                {"properties": {"email": "taken@acme.example"}, "associations": []},
            ]
        },
    )
    assert response.status_code == 207
    body = response.json()
    assert body["numErrors"] == 1 and body["errors"][0]["category"] == "CONFLICT"
    assert [c["properties"]["email"] for c in body["results"]] == ["new@acme.example"]


def test_it_answers_201_for_a_batch_create_without_errors(api: Api) -> None:
    response = api(
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        json={"inputs": [{"properties": {"email": f"{n}@acme.example"}} for n in range(3)]},
    )
    assert response.status_code == 201
    assert response.json()["status"] == "COMPLETE" and "errors" not in response.json()


def test_it_refuses_a_batch_of_more_than_100_inputs(api: Api) -> None:
    inputs = [{"id": str(n)} for n in range(101)]
    response = api("POST", "/crm/v3/objects/contacts/batch/read", json={"inputs": inputs})
    assert response.status_code == 400


def test_it_reads_a_batch_and_reports_missing_ids(api: Api) -> None:
    made = create(api, email="ann@acme.example", firstname="Ann")
    response = api(
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        json={"inputs": [{"id": made["id"]}, {"id": "999"}], "properties": ["firstname"]},
    )
    assert response.status_code == 207
    body = response.json()
    assert body["results"][0]["properties"] == {"firstname": "Ann"}
    assert body["errors"][0]["context"]["ids"] == ["999"]


def test_it_updates_a_batch_and_refuses_a_bad_value_alone(api: Api) -> None:
    a = create(api, email="a@acme.example")
    b = create(api, email="b@acme.example")
    response = api(
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        json={
            "inputs": [
                {"id": a["id"], "properties": {"lifecyclestage": "customer"}},
                {"id": b["id"], "properties": {"lifecyclestage": "astronaut"}},
            ]
        },
    )
    assert response.status_code == 207
    assert response.json()["results"][0]["properties"]["lifecyclestage"] == "customer"
    assert "astronaut" in response.json()["errors"][0]["message"]


def test_it_archives_a_batch(api: Api) -> None:
    made = create(api, email="a@acme.example")
    response = api(
        "POST", "/crm/v3/objects/contacts/batch/archive", json={"inputs": [{"id": made["id"]}]}
    )
    assert response.status_code == 204
    assert api("GET", "/crm/v3/objects/contacts").json()["results"] == []


def test_it_creates_a_typed_custom_property_and_checks_its_values(api: Api) -> None:
    response = api(
        "POST",
        "/crm/v3/properties/contacts",
        json={
            "name": "tier",
            "label": "Tier",
            "type": "enumeration",
            "fieldType": "checkbox",
            "groupName": "contactinformation",
            "options": [
                {"label": "Gold", "value": "gold", "hidden": False},
                {"label": "Silver", "value": "silver", "hidden": False},
            ],
        },
    )
    assert response.status_code == 201
    names = [p["name"] for p in api("GET", "/crm/v3/properties/contacts").json()["results"]]
    assert "tier" in names and "email" in names
    assert create(api, email="a@acme.example", tier="gold;silver")["properties"]["tier"] == (
        "gold;silver"
    )
    refused = api(
        "POST",
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "b@acme.example", "tier": "gold;bronze"}},
    )
    assert refused.status_code == 400 and "INVALID_OPTION" in refused.text


def test_it_answers_409_for_a_property_name_in_use(api: Api) -> None:
    body = {
        "name": "email",
        "label": "Email",
        "type": "string",
        "fieldType": "text",
        "groupName": "contactinformation",
    }
    response = api("POST", "/crm/v3/properties/contacts", json=body)
    assert response.status_code == 409


def test_it_stores_dates_at_midnight_and_refuses_other_times(api: Api) -> None:
    api(
        "POST",
        "/crm/v3/properties/contacts",
        json={
            "name": "renewal",
            "label": "Renewal",
            "type": "date",
            "fieldType": "date",
            "groupName": "contactinformation",
        },
    )
    made = create(api, email="a@acme.example", renewal="1572480000000")
    assert made["properties"]["renewal"] == "2019-10-31"
    response = api(
        "POST",
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "b@acme.example", "renewal": "1572480000001"}},
    )
    assert response.status_code == 400 and "not midnight" in response.text


def test_it_adds_and_removes_members_of_a_static_list(api: Api, hub: HubSpotEmulator) -> None:
    made = create(api, email="a@acme.example")
    created = api(
        "POST",
        "/crm/v3/lists",
        json={"name": "Tandem Trash", "objectTypeId": "0-1", "processingType": "MANUAL"},
    ).json()["list"]
    list_id = created["listId"]
    added = api("PUT", f"/crm/v3/lists/{list_id}/memberships/add", json=[made["id"], "999"])
    assert added.json() == {
        "recordsIdsAdded": [made["id"]],
        "recordIdsRemoved": [],
        "recordIdsMissing": ["999"],
    }
    by_name = api("GET", "/crm/v3/lists/object-type-id/0-1/name/Tandem Trash").json()
    assert by_name["list"]["listId"] == list_id
    read = api(
        "POST",
        "/crm/v3/lists/records/memberships/batch/read",
        json={"inputs": [{"objectTypeId": "0-1", "recordId": made["id"]}]},
    ).json()
    assert [m["listId"] for m in read["results"][0]["recordListMemberships"]] == [list_id]
    api("PUT", f"/crm/v3/lists/{list_id}/memberships/remove", json=[made["id"]])
    assert hub.list_members(1, "Tandem Trash") == set()


def test_it_refuses_a_duplicate_list_name(api: Api) -> None:
    body = {"name": "VIP", "objectTypeId": "0-1", "processingType": "MANUAL"}
    assert api("POST", "/crm/v3/lists", json=body).status_code == 200
    assert api("POST", "/crm/v3/lists", json=body).status_code == 400


def test_it_counts_the_ten_second_window_in_its_headers_and_answers_429_past_it(
    api: Api, hub: HubSpotEmulator
) -> None:
    hub.set_limits(1, burst=3)
    answers = [api("GET", "/crm/v3/objects/contacts") for _ in range(4)]
    assert [a.headers["X-HubSpot-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert answers[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "3"
    assert answers[3].status_code == 429
    body = answers[3].json()
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"


def test_it_limits_searches_per_second_without_rate_limit_headers(
    api: Api, hub: HubSpotEmulator
) -> None:
    hub.set_limits(1, search_per_second=2)
    answers = [search(api) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "X-HubSpot-RateLimit-Remaining" not in answers[0].headers
    assert answers[2].json()["policyName"] == "SECONDLY"
    time.sleep(1.05)
    assert search(api).status_code == 200


def test_it_refuses_a_call_outside_the_tokens_scopes(server: Sandbox, hub: HubSpotEmulator) -> None:
    hub.add_private_app(1, "read-only", frozenset({"crm.objects.contacts.read"}))
    response = Api(server.base_url("hubspot"), "read-only")(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "a@acme.example"}}
    )
    assert response.status_code == 403 and response.json()["category"] == "MISSING_SCOPES"


def test_it_trades_a_refresh_token_for_an_access_token_and_refuses_a_revoked_one(
    server: Sandbox, hub: HubSpotEmulator
) -> None:
    hub.add_client("client", "secret")
    tokens = hub.issue_tokens(1, "owner@acme.example")
    form = {
        "grant_type": "refresh_token",
        "client_id": "client",
        "client_secret": "secret",
        "refresh_token": tokens["refresh_token"],
    }
    url = server.base_url("hubspot") + "/oauth/v1/token"
    fresh = requests.post(url, data=form, timeout=10).json()
    assert fresh["expires_in"] == 1800
    me = Api(server.base_url("hubspot"), fresh["access_token"])
    assert me("GET", "/crm/v3/objects/contacts").status_code == 200
    info = requests.get(
        server.base_url("hubspot") + f"/oauth/v1/access-tokens/{fresh['access_token']}", timeout=10
    ).json()
    assert (info["hub_id"], info["user"]) == (1, "owner@acme.example")
    hub.revoke(tokens["refresh_token"])
    refused = requests.post(url, data=form, timeout=10)
    assert refused.status_code == 400 and refused.json()["status"] == "BAD_REFRESH_TOKEN"


def test_it_refuses_an_expired_access_token(server: Sandbox, hub: HubSpotEmulator) -> None:
    access = hub.issue_tokens(1)["access_token"]
    hub.expire_access_tokens()
    response = Api(server.base_url("hubspot"), access)("GET", "/crm/v3/objects/contacts")
    assert response.status_code == 401
    assert response.json()["category"] == "EXPIRED_AUTHENTICATION"


def test_it_seeds_a_demo_account_that_keeps_after_a_save_and_load(
    server: Sandbox, hub: HubSpotEmulator
) -> None:
    summary = hub.seed_demo()
    assert summary["contacts"] > 200
    restored = HubSpotEmulator()
    restored.load_state(hub.dump_state())
    assert len(restored.contacts(DEMO_HUB_ID)) == summary["contacts"]
    demo = Api(server.base_url("hubspot"), DEMO_TOKEN)
    properties = demo("GET", "/crm/v3/properties/contacts").json()["results"]
    assert {"loyalty_tier", "interests", "total_spent"} <= {p["name"] for p in properties}


def test_it_answers_an_injected_fault_in_hubspots_shape(api: Api, hub: HubSpotEmulator) -> None:
    hub.fail_next(1, 503)
    response = api("GET", "/crm/v3/objects/contacts")
    assert response.status_code == 503 and response.json()["status"] == "error"
    assert api("GET", "/crm/v3/objects/contacts").status_code == 200


def test_it_names_each_refused_input_by_its_write_trace_id(api: Api) -> None:
    create(api, email="taken@acme.example")
    response = api(
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        json={
            "inputs": [
                {"properties": {"email": "new@acme.example"}, "objectWriteTraceId": "one"},
                {"properties": {"email": "taken@acme.example"}, "objectWriteTraceId": "two"},
            ]
        },
    )
    body = response.json()
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["one"]
    assert body["errors"][0]["context"]["objectWriteTraceId"] == ["two"]


def filtered(api: Api, *filters: dict[str, Any]) -> list[str]:
    response = search(api, filterGroups=[{"filters": list(filters)}], properties=["email"])
    assert response.status_code == 200, response.text
    return sorted(c["properties"]["email"] for c in response.json()["results"])


def test_it_compares_numbers_as_numbers_and_tokens_with_wildcards(
    api: Api, hub: HubSpotEmulator
) -> None:
    hub.set_limits(1, search_per_second=100)
    api(
        "POST",
        "/crm/v3/properties/contacts",
        json={
            "name": "score",
            "label": "Score",
            "type": "number",
            "fieldType": "number",
            "groupName": "contactinformation",
        },
    )
    create(api, email="nine@acme.example", score="9", company="Acme Rockets")
    create(api, email="ten@acme.example", score="10")
    create(api, email="none@other.example")
    between = {"propertyName": "score", "operator": "BETWEEN", "value": "5", "highValue": "9.5"}
    assert filtered(api, between) == ["nine@acme.example"]
    assert filtered(api, {"propertyName": "score", "operator": "GT", "value": "9"}) == [
        "ten@acme.example"
    ]
    assert filtered(api, {"propertyName": "score", "operator": "NOT_HAS_PROPERTY"}) == [
        "none@other.example"
    ]
    token = {"propertyName": "company", "operator": "CONTAINS_TOKEN", "value": "rock*"}
    assert filtered(api, token) == ["nine@acme.example"]
    assert search(api, query="acme rockets").json()["total"] == 1


def test_it_sorts_descending_when_asked(api: Api, hub: HubSpotEmulator) -> None:
    create(api, email="first@acme.example")
    hub.advance_clock(1)
    create(api, email="second@acme.example")
    found = search(api, sorts=[{"propertyName": "createdate", "direction": "DESCENDING"}])
    assert [c["properties"]["email"] for c in found.json()["results"]] == [
        "second@acme.example",
        "first@acme.example",
    ]


def test_it_makes_a_portal_with_a_token_through_its_control_route(server: Sandbox) -> None:
    base = server.base_url("hubspot")
    made = requests.post(f"{base}/_sandbox/portals", json={"token": "pat-control"}, timeout=10)
    assert made.status_code == 201
    hub_id = made.json()["hub_id"]
    seeded = requests.post(
        f"{base}/_sandbox/portals/{hub_id}/contacts",
        json=[{"email": "a@acme.example"}],
        timeout=10,
    )
    assert seeded.status_code == 201
    listed = Api(base, "pat-control")("GET", "/crm/v3/objects/contacts").json()["results"]
    assert [c["properties"]["email"] for c in listed] == ["a@acme.example"]


def test_it_sends_a_denied_install_back_with_access_denied(
    server: Sandbox, hub: HubSpotEmulator
) -> None:
    hub.add_client("client", "secret")
    answer = requests.post(
        server.base_url("hubspot") + "/oauth/authorize",
        data={
            "client_id": "client",
            "redirect_uri": "https://tandem.example/cb",
            "state": "s1",
            "decision": "deny",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == "https://tandem.example/cb?error=access_denied&state=s1"


def test_it_shows_a_write_in_search_only_once_indexed(api: Api, hub: HubSpotEmulator) -> None:
    made = create(api, email="ann@acme.example", company="Old Co")
    hub.set_limits(1, search_lag=30, search_per_second=100)
    api("PATCH", f"/crm/v3/objects/contacts/{made['id']}", json={"properties": {"company": "New"}})
    create(api, email="bob@acme.example")
    asked = {"properties": ["email", "company"]}
    before = search(api, **asked).json()["results"]
    assert [(c["properties"]["email"], c["properties"]["company"]) for c in before] == [
        ("ann@acme.example", "Old Co")
    ]
    hub.advance_clock(31)
    after = search(api, **asked).json()["results"]
    assert [c["properties"]["email"] for c in after] == ["ann@acme.example", "bob@acme.example"]
    assert after[0]["properties"]["company"] == "New"


def test_it_keeps_unsubscribed_from_all_email_out_of_the_apis_reach(
    api: Api, hub: HubSpotEmulator
) -> None:
    made = create(api, email="ann@acme.example")
    refused = api(
        "PATCH",
        f"/crm/v3/objects/contacts/{made['id']}",
        json={"properties": {"hs_email_optout": "true"}},
    )
    assert refused.status_code == 400 and "READ_ONLY_VALUE" in refused.text
    hub.unsubscribe_contact(1, made["id"])
    read = api(
        "GET", f"/crm/v3/objects/contacts/{made['id']}", params={"properties": "hs_email_optout"}
    )
    assert read.json()["properties"]["hs_email_optout"] == "true"
    assert read.json()["updatedAt"] >= made["updatedAt"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/crm/v3/objects/contacts/batch/update", {"inputs": [{"id": "1", "properties": "x"}]}),
        ("/crm/v3/objects/contacts/batch/create", {"inputs": [{"properties": ["x"]}]}),
        ("/crm/v3/objects/contacts/batch/read", {"inputs": [{"id": {"nested": 1}}]}),
        (
            "/crm/v3/properties/contacts",
            {
                "name": "tier",
                "label": "Tier",
                "type": "enumeration",
                "fieldType": "select",
                "groupName": "contactinformation",
                "options": [{"label": "A", "value": "a", "displayOrder": "first"}],
            },
        ),
        ("/crm/v3/objects/contacts/search", {"filterGroups": [{"filters": [1]}]}),
    ],
)
def test_it_refuses_a_malformed_body_whole_with_a_400(
    api: Api, hub: HubSpotEmulator, path: str, body: dict[str, Any]
) -> None:
    create(api, email="kept@acme.example")
    response = api("POST", path, json=body)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert len(hub.contacts(1)) == 1
