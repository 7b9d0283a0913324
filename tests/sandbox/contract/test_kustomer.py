"""The Kustomer emulator against the rules of Kustomer's official OpenAPI document
(tests/fixtures/kustomer/openapi.json) and its guides (api-notes §1): request bodies of the
document's types only, errors in Kustomer's shape (``errors[0]`` with status, code, title, detail
and a source), never a server error, nothing stored from a refused request; the 413 over 100 kB,
paging and its cap, ``rev`` conflicts, lookups, bulk jobs and search criteria."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox.kustomer import ALL_ROLES, KustomerEmulator
from sandbox.kustomer.schema import SPEC_PATH
from sandbox.server import Sandbox

KEY = "contract-key"
ORG = "contract"
Call = Callable[..., requests.Response]


@pytest.fixture
def emulator(contract_sandbox: Sandbox) -> KustomerEmulator:
    emulator: KustomerEmulator = contract_sandbox.emulator("kustomer")
    emulator.reset()
    emulator.create_org(
        ORG, api_keys={KEY: ALL_ROLES}, metadata={"tierStr": {"enumeration": ["a", "b"]}}
    )
    return emulator


@pytest.fixture
def call(contract_sandbox: Sandbox, emulator: KustomerEmulator) -> Call:
    def send(method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method,
            f"{contract_sandbox.base_url('kustomer')}/{ORG}/v1{path}",
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=10,
            **kwargs,
        )

    return send


def assert_kustomer_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """The JSON:API error shape Kustomer's docs show, with the expected status and code."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    (error,) = response.json()["errors"]
    assert error["status"] == str(status) and error["code"] == code
    assert error["title"] and error["detail"] and error["meta"] == {}
    return dict(error)


# Wrongly typed customer attributes the document refuses (each with the pointer it names).
WRONG_ATTRIBUTES = [
    ({"avatarUrl": 12345}, "/avatarUrl"),
    ({"externalId": {"id": "x"}}, "/externalId"),
    ({"externalId": ""}, "/externalId"),
    ({"defaultLang": "x" * 101}, "/defaultLang"),
    ({"name": 42}, "/name"),
    ({"name": "x" * 257}, "/name"),
    ({"company": ["Acme"]}, "/company"),
    ({"username": True}, "/username"),
    ({"locale": "x" * 17}, "/locale"),
    ({"timeZone": "x" * 65}, "/timeZone"),
    ({"gender": "x"}, "/gender"),
    ({"signedUpAt": "yesterday"}, "/signedUpAt"),
    ({"birthdayAt": 19900101}, "/birthdayAt"),
    ({"emails": "ann@x.example"}, "/emails"),
    ({"emails": [{"email": "ann@x.example", "type": "mobile"}]}, "/emails/0/type"),
    ({"phones": [{"phone": 5551234}]}, "/phones/0/phone"),
    ({"urls": [{"type": "website"}]}, "/urls/0"),
    ({"tags": "vip"}, "/tags"),
    ({"tags": [f"t{i}" for i in range(21)]}, "/tags"),
    ({"tags": ["bad,tag!"]}, "/tags/0"),
    ({"sentiment": "happy"}, "/sentiment"),
    ({"sentiment": {"polarity": 2, "confidence": 0.5}}, "/sentiment/polarity"),
    ({"locations": "Paris"}, "/locations"),
    ({"locations": [{"countryCode": "FRA"}]}, "/locations/0/countryCode"),
    ({"custom": "gold"}, "/custom"),
    ({"externalIds": [{"verified": True}]}, "/externalIds/0"),
    ({"socials": [{"type": "myspace"}]}, "/socials/0"),
]


@pytest.mark.parametrize(("attrs", "pointer"), WRONG_ATTRIBUTES)
def test_it_refuses_a_wrongly_typed_attribute_on_create_and_stores_nothing(
    call: Call, emulator: KustomerEmulator, attrs: dict[str, Any], pointer: str
) -> None:
    response = call("POST", "/customers", json={"name": "Ann", **attrs} | attrs)

    error = assert_kustomer_error(response, 400, "bad_request")
    assert error["source"]["pointer"] == pointer
    assert emulator.customers(ORG) == []


@pytest.mark.parametrize(("attrs", "pointer"), WRONG_ATTRIBUTES)
def test_it_refuses_a_wrongly_typed_attribute_on_update_and_keeps_the_customer(
    call: Call, emulator: KustomerEmulator, attrs: dict[str, Any], pointer: str
) -> None:
    customer = emulator.add_customer(ORG, {"name": "Ann"})

    response = call("PATCH", f"/customers/{customer['id']}", json=attrs)

    assert_kustomer_error(response, 400, "bad_request")
    assert emulator.customer(ORG, customer["id"])["attributes"]["rev"] == 1


def test_it_refuses_a_body_that_is_not_an_object(call: Call, emulator: KustomerEmulator) -> None:
    for body in ([{"name": "Ann"}], "Ann", 7):
        assert_kustomer_error(call("POST", "/customers", json=body), 400, "bad_request")
    assert_kustomer_error(call("POST", "/customers", data="{not json"), 400, "bad_request")
    assert emulator.customers(ORG) == []


def test_it_answers_413_for_a_body_over_100_kb_and_stores_nothing(
    call: Call, emulator: KustomerEmulator
) -> None:
    body = {"name": "Ann", "custom": {"notesTxt": "x" * 1000}, "username": "u" * 100}
    body["company"] = "c" * (101 * 1024)

    assert_kustomer_error(call("POST", "/customers", json=body), 413, "payload_too_large")
    assert emulator.customers(ORG) == []


def test_it_answers_409_for_a_stale_rev(call: Call, emulator: KustomerEmulator) -> None:
    customer = emulator.add_customer(ORG, {"name": "Ann"})
    emulator.update_customer(ORG, customer["id"], {"name": "Ann B"})

    response = call("PATCH", f"/customers/{customer['id']}", json={"name": "X", "rev": 1})

    assert assert_kustomer_error(response, 409, "conflict")["source"]["pointer"] == "/rev"
    assert emulator.customer(ORG, customer["id"])["attributes"]["name"] == "Ann B"


def test_it_finds_a_customer_by_email_external_id_and_phone(
    call: Call, emulator: KustomerEmulator
) -> None:
    customer = emulator.add_customer(
        ORG,
        {
            "name": "Ann",
            "externalId": "crm-1",
            "emails": [{"email": "Ann@X.example"}],
            "phones": [{"phone": "+1 (555) 555-0123"}],
        },
    )

    for path in ("/customers/email=ann%40x.example", "/customers/externalId=crm-1",
                 "/customers/phone=15555550123"):  # fmt: skip
        response = call("GET", path)
        assert response.status_code == 200 and response.json()["data"]["id"] == customer["id"]


def test_it_answers_404_for_a_lookup_of_nobody_or_a_deleted_customer(
    call: Call, emulator: KustomerEmulator
) -> None:
    customer = emulator.add_customer(ORG, {"name": "Ann", "emails": [{"email": "ann@x.example"}]})
    emulator.delete_customer(ORG, customer["id"])

    assert_kustomer_error(call("GET", "/customers/email=ann@x.example"), 404, "not_found")
    assert_kustomer_error(call("GET", "/customers/externalId=nobody"), 404, "not_found")


def test_it_updates_customers_in_a_bulk_job_with_a_result_per_item(
    call: Call, emulator: KustomerEmulator
) -> None:
    ann = emulator.add_customer(ORG, {"name": "Ann", "emails": [{"email": "ann@x.example"}]})["id"]
    bob = emulator.add_customer(ORG, {"name": "Bob"})["id"]
    body = [
        {"id": ann, "name": "Ann B"},
        {"id": bob, "name": "Bob B", "emails": [{"email": "ann@x.example"}]},
        {"id": "5f" + "0" * 22, "name": "Nobody"},
    ]

    job = call("PUT", "/customers/bulk", json=body)
    batches = call("GET", f"/bulk/{job.json()['data']['id']}/batches").json()["data"]

    assert job.status_code == 201
    assert job.json()["data"]["attributes"]["context"] == "api.sobjects.customers.bulk-update"
    results = batches[0]["attributes"]["results"]
    assert [r["status"] for r in results] == ["updated", "error", "error"]
    assert emulator.customer(ORG, ann)["attributes"]["name"] == "Ann B"
    assert emulator.customer(ORG, bob)["attributes"]["name"] == "Bob"


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_it_refuses_a_whole_bulk_job_that_breaks_the_document(
    call: Call, emulator: KustomerEmulator, method: str
) -> None:
    ann = emulator.add_customer(ORG, {"name": "Ann"})["id"]
    body = [{"id": ann, "name": "Ann B"}, {"id": ann, "name": 5}]
    if method == "POST":
        body = [{"name": "Cy"}, {"name": 5}]

    error = assert_kustomer_error(call(method, "/customers/bulk", json=body), 400, "bad_request")

    assert error["source"]["pointer"] == "/1/name"
    assert [c["attributes"]["name"] for c in emulator.customers(ORG)] == ["Ann"]


def test_it_applies_one_body_to_the_ids_of_a_bulk_update(
    call: Call, emulator: KustomerEmulator
) -> None:
    ids = [emulator.add_customer(ORG, {"name": f"C{i}"})["id"] for i in range(2)]

    job = call("PUT", "/customers/bulk", params={"ids": ",".join(ids)}, json={"tags": ["vip"]})

    assert job.status_code == 201
    assert [emulator.customer(ORG, i)["attributes"]["tags"] for i in ids] == [["vip"], ["vip"]]


def test_it_deletes_customers_in_a_bulk_job(call: Call, emulator: KustomerEmulator) -> None:
    ids = [emulator.add_customer(ORG, {"name": f"C{i}"})["id"] for i in range(2)]

    job = call("DELETE", "/customers/bulk", params={"ids": ",".join(ids)})

    assert job.status_code == 201
    assert job.json()["data"]["attributes"]["context"] == "api.sobjects.customers.bulk-delete"
    assert all(emulator.customer(ORG, i)["attributes"]["deleted"] for i in ids)
    assert_kustomer_error(call("GET", f"/customers/{ids[0]}"), 404, "not_found")


def test_it_needs_ids_for_a_bulk_delete(call: Call) -> None:
    error = assert_kustomer_error(call("DELETE", "/customers/bulk"), 400, "bad_request")
    assert error["source"] == {"parameter": "ids"}


def search(call: Call, body: dict[str, Any], **params: Any) -> requests.Response:
    return call("POST", "/customers/search", json={"queryContext": "customer", **body},
                params=params)  # fmt: skip


MALFORMED_SEARCHES = [
    {"and": 5},
    {"and": [5]},
    {"or": "customer_name"},
    {"and": [{"customer_name": "Ann"}]},
    {"and": [{"customer_name": {"like": "Ann"}}]},
    {"and": [{"customer_shoe_size": {"equals": 42}}]},
    {"and": [{"customer_email": {"in": "ann@x.example"}}]},
    {"and": [{"customer_updated_at": {"gte": "yesterday"}}]},
    {"and": [{"customer_updated_at": {"gte": "2026-01-01"}}], "timeZone": "Mars/Olympus_Mons"},
    {"and": [{"customer_updated_at": {"gte": 20260101}}]},
    {"and": [{"customer_conversations_count": {"gte": "many"}}]},
    {"and": [{"customer_custom_tier": {"equals": "a"}}]},
    {"and": [{"customer_name": {"equals": "x"}}] * 2},
    {"and": [{"customer_name": {"equals": f"x{i}"}} for i in range(21)]},
    {"sort": [{"customer_updated_at": "up"}]},
    {"sort": [{"customer_shoe_size": "asc"}]},
    {"sort": "customer_name"},
    {"includeDeleted": "yes"},
    {"queryContext": "planet"},
    {"queryContext": "conversation"},
    {"surprise": True},
]


@pytest.mark.parametrize("body", MALFORMED_SEARCHES)
def test_it_answers_a_malformed_search_with_400_in_its_error_shape(
    call: Call, emulator: KustomerEmulator, body: dict[str, Any]
) -> None:
    emulator.add_customer(ORG, {"name": "Ann"})

    assert_kustomer_error(search(call, body), 400, "bad_request")


def test_it_reads_a_date_only_bound_in_the_search_time_zone(
    call: Call, emulator: KustomerEmulator
) -> None:
    emulator.freeze_clock(dt.datetime(2026, 1, 1, 23, 30, tzinfo=dt.UTC))
    customer = emulator.add_customer(ORG, {"name": "Ann"})
    emulator.freeze_clock(None)
    bound = {"and": [{"customer_updated_at": {"gte": "2026-01-02"}}]}

    def found(zone: str) -> list[str]:
        response = search(call, {**bound, "timeZone": zone})
        assert response.status_code == 200
        return [c["id"] for c in response.json()["data"]]

    # Midnight of 2 January is 15:00 UTC the day before in Tokyo, 05:00 UTC in New York.
    assert found("Asia/Tokyo") == [customer["id"]]
    assert found("America/New_York") == []


def test_it_matches_contains_on_whole_words_only(call: Call, emulator: KustomerEmulator) -> None:
    words = emulator.add_customer(ORG, {"name": "Test Record"})["id"]
    emulator.add_customer(ORG, {"name": "testAnotherRecord"})

    response = search(call, {"and": [{"customer_name": {"contains": "test"}}]})

    assert [c["id"] for c in response.json()["data"]] == [words]


def test_it_searches_by_conversation_status(call: Call, emulator: KustomerEmulator) -> None:
    busy = emulator.add_customer(ORG, {"name": "Busy"}, open_conversations=2)["id"]
    emulator.add_customer(ORG, {"name": "Idle"})

    response = search(call, {"and": [{"customer_status": {"in": ["open"]}}]})

    assert [c["id"] for c in response.json()["data"]] == [busy]


def test_it_caps_search_at_100_pages_and_says_which_parameter(
    call: Call, emulator: KustomerEmulator
) -> None:
    response = search(call, {}, page=101, pageSize=1)

    error = assert_kustomer_error(response, 400, "bad_request")
    assert error["source"] == {"parameter": "page"}


def test_it_pages_with_links_until_next_is_null(call: Call, emulator: KustomerEmulator) -> None:
    for i in range(5):
        emulator.add_customer(ORG, {"name": f"C{i}"})
    seen: list[str] = []
    path: str | None = "/customers?page=1&pageSize=2"

    while path:
        page = call("GET", path.removeprefix("/v1")).json()
        seen += [c["id"] for c in page["data"]]
        path = page["links"]["next"]

    assert len(seen) == len(set(seen)) == 5


def test_it_caps_a_list_page_at_100(call: Call, emulator: KustomerEmulator) -> None:
    response = call("GET", "/customers", params={"pageSize": 500})

    assert response.json()["meta"]["pageSize"] == 100


def test_it_lists_and_searches_a_planted_customer_with_odd_attributes_as_stored(
    call: Call, emulator: KustomerEmulator
) -> None:
    odd = emulator.plant_customer(
        ORG, {"name": "Olga", "sentiment": "happy", "locations": "Paris", "externalId": {"a": 1}}
    )["id"]
    since = {"and": [{"customer_updated_at": {"gte": "2020-01-01T00:00:00.000Z"}}],
             "sort": [{"customer_updated_at": "asc"}]}  # fmt: skip

    one = call("GET", f"/customers/{odd}")
    listed = call("GET", "/customers")
    found = search(call, since)

    assert one.status_code == listed.status_code == found.status_code == 200
    attributes = one.json()["data"]["attributes"]
    assert (attributes["sentiment"], attributes["locations"]) == ("happy", "Paris")
    assert attributes["externalId"] == {"a": 1}
    assert [c["id"] for c in listed.json()["data"]] == [odd]
    assert [c["id"] for c in found.json()["data"]] == [odd]


def document_search_examples() -> list[dict[str, Any]]:
    """The request bodies the official document shows for ``POST /customers/search``."""
    operation = json.loads(SPEC_PATH.read_text())["paths"]["/customers/search"]["post"]
    text = operation["requestBody"]["description"]
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def test_it_answers_the_documents_own_search_examples_oldest_first(
    call: Call, emulator: KustomerEmulator
) -> None:
    examples = document_search_examples()
    emulator.freeze_clock(dt.datetime(2016, 7, 27, 22, 30, 48, 939000, tzinfo=dt.UTC))
    older = emulator.add_customer(ORG, {"name": "Older"})["id"]
    emulator.freeze_clock(dt.datetime(2016, 8, 1, tzinfo=dt.UTC))
    newer = emulator.add_customer(ORG, {"name": "Newer"})["id"]
    emulator.freeze_clock(dt.datetime(2015, 12, 31, tzinfo=dt.UTC))
    emulator.add_customer(ORG, {"name": "Before 2016"})
    emulator.freeze_clock(None)

    answers = [call("POST", "/customers/search", json=body) for body in examples]

    assert len(examples) == 2 and [a.status_code for a in answers] == [200, 200]
    assert [[c["id"] for c in a.json()["data"]] for a in answers] == [[older, newer]] * 2


def test_it_checks_a_bulk_create_whole_even_with_an_ids_parameter(call: Call) -> None:
    body = [{"name": "Link", "sharedSocials": [{"type": "web", "url": 5}]}]
    response = call("POST", "/customers/bulk", params={"ids": "a,b"}, json=body)
    assert_kustomer_error(response, 400, "bad_request")
