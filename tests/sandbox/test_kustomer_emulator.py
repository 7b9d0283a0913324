"""The Kustomer emulator's own behaviour over HTTP: validation, uniqueness, revisions, the page
cap, budgets, the emulated sign-in, the demo org and the JSON control API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox.kustomer import (
    DEMO_API_KEY,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    KustomerEmulator,
    seed_demo,
)
from sandbox.server import Sandbox

SANDBOX_APPS = ["kustomer"]

KEY = "acme-key-0001"
READ_ONLY = "acme-read-only"


@pytest.fixture
def emulator(sandbox: Sandbox) -> KustomerEmulator:
    emulator: KustomerEmulator = sandbox.emulator("kustomer")
    emulator.reset()
    emulator.create_org(
        "acme",
        users=[("owner@acme.example", "pw-123456")],
        api_keys={
            KEY: [
                "org.permission.customer.read",
                "org.permission.customer.create",
                "org.permission.customer.update",
                "org.permission.search.create",
            ],
            READ_ONLY: ["org.permission.customer.read"],
        },
        metadata={"tierStr": {"displayName": "Tier", "enumeration": ["a", "b"]}},
    )
    return emulator


Call = Callable[..., requests.Response]


@pytest.fixture
def call(sandbox: Sandbox, emulator: KustomerEmulator) -> Call:
    def send(method: str, path: str, *, key: str = KEY, **kwargs: Any) -> requests.Response:
        return requests.request(
            method,
            sandbox.base_url("kustomer") + path,
            headers={"Authorization": f"Bearer {key}"},
            timeout=5,
            **kwargs,
        )

    return send


def error_of(response: requests.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["errors"][0]
    return error


def test_it_rejects_an_unknown_attribute_with_a_pointer(call: Call) -> None:
    response = call("POST", "/acme/v1/customers", json={"name": "X", "nickname": "x"})
    assert response.status_code == 400
    assert error_of(response)["source"] == {"pointer": "/nickname"}


def test_it_rejects_a_custom_key_without_a_type_suffix(call: Call) -> None:
    response = call("POST", "/acme/v1/customers", json={"custom": {"tier": "a"}})
    assert response.status_code == 400
    assert error_of(response)["source"] == {"pointer": "/custom/tier"}


def test_it_rejects_a_value_outside_the_enumeration(call: Call) -> None:
    response = call("POST", "/acme/v1/customers", json={"custom": {"tierStr": "z"}})
    assert response.status_code == 400
    assert "one of a, b" in error_of(response)["detail"]


@pytest.mark.parametrize(
    ("attrs", "pointer"),
    [
        ({"emails": [{"email": "SAME@example.com"}]}, "/emails"),
        ({"phones": [{"phone": "+1 555 555 0100"}]}, "/phones"),
        ({"externalId": "crm-1"}, "/externalId"),
    ],
)
def test_it_answers_409_for_an_identifier_another_customer_holds(
    call: Call, emulator: KustomerEmulator, attrs: dict[str, Any], pointer: str
) -> None:
    emulator.add_customer(
        "acme",
        {
            "emails": [{"email": "same@example.com"}],
            "phones": [{"phone": "+15555550100"}],
            "externalId": "crm-1",
        },
    )
    response = call("POST", "/acme/v1/customers", json=attrs)
    assert response.status_code == 409
    error = error_of(response)
    assert (error["status"], error["code"], error["source"]["pointer"]) == (
        "409",
        "duplicate",
        pointer,
    )


def test_it_frees_the_identifiers_of_a_deleted_customer(
    call: Call, emulator: KustomerEmulator
) -> None:
    old = emulator.add_customer("acme", {"emails": [{"email": "reuse@example.com"}]})
    emulator.delete_customer("acme", old["id"])
    response = call("POST", "/acme/v1/customers", json={"emails": [{"email": "reuse@example.com"}]})
    assert response.status_code == 201


def test_it_bumps_rev_and_updated_at_on_every_write(call: Call, emulator: KustomerEmulator) -> None:
    emulator.freeze_clock(dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    created = emulator.add_customer("acme", {"name": "Rev"})
    emulator.advance_clock(2.5)
    response = call("PATCH", f"/acme/v1/customers/{created['id']}", json={"name": "Rev Two"})
    attrs = response.json()["data"]["attributes"]
    assert (attrs["rev"], attrs["updatedAt"]) == (2, "2026-05-01T00:00:02.500Z")


def test_it_answers_409_for_a_stale_rev(call: Call, emulator: KustomerEmulator) -> None:
    created = emulator.add_customer("acme", {"name": "Rev"})
    emulator.update_customer("acme", created["id"], {"name": "Changed"})
    response = call("PATCH", f"/acme/v1/customers/{created['id']}", json={"name": "X", "rev": 1})
    assert response.status_code == 409


def test_it_refuses_pages_past_the_cap(call: Call, emulator: KustomerEmulator) -> None:
    emulator.set_limits(max_pages=3)
    response = call(
        "POST", "/acme/v1/customers/search", params={"page": 4}, json={"queryContext": "customer"}
    )
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": "page"}


def test_it_hides_deleted_customers_unless_asked(call: Call, emulator: KustomerEmulator) -> None:
    gone = emulator.add_customer("acme", {"name": "Gone"}, deleted=True)
    body: dict[str, Any] = {"queryContext": "customer"}
    assert call("POST", "/acme/v1/customers/search", json=body).json()["data"] == []
    shown = call("POST", "/acme/v1/customers/search", json={**body, "includeDeleted": True})
    assert [(c["id"], c["attributes"]["deleted"]) for c in shown.json()["data"]] == [
        (gone["id"], True)
    ]


def test_it_limits_searches_by_api_keys_separately(call: Call, emulator: KustomerEmulator) -> None:
    emulator.set_rate_limit("acme", 100, search_per_minute=1)
    body = {"queryContext": "customer"}
    assert call("POST", "/acme/v1/customers/search", json=body).status_code == 200
    limited = call("POST", "/acme/v1/customers/search", json=body)
    assert limited.status_code == 429
    assert limited.headers["x-ratelimit-limit"] == "1"
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert call("GET", "/acme/v1/customers").status_code == 200


def test_it_sends_the_budget_headers_on_every_answer(
    call: Call, emulator: KustomerEmulator
) -> None:
    emulator.set_rate_limit("acme", 10)
    response = call("GET", "/acme/v1/customers")
    assert response.headers["x-ratelimit-limit"] == "10"
    assert response.headers["x-ratelimit-remaining"] == "9"
    assert float(response.headers["x-ratelimit-reset"]) > 1_000_000_000


def test_it_answers_401_for_an_unknown_token_and_403_for_a_missing_role(call: Call) -> None:
    assert call("GET", "/acme/v1/customers", key="nope").status_code == 401
    forbidden = call("POST", "/acme/v1/customers", key=READ_ONLY, json={"name": "X"})
    assert forbidden.status_code == 403
    assert "org.permission.customer.create" in error_of(forbidden)["detail"]


def test_it_answers_an_unknown_org_with_org_not_found(call: Call) -> None:
    response = call("GET", "/globex/v1/customers")
    assert (response.status_code, error_of(response)["code"]) == (404, "org_not_found")


def test_it_signs_a_user_in_with_email_and_password(call: Call) -> None:
    login = call(
        "POST", "/acme/v1/auth/login", json={"email": "Owner@acme.example", "password": "pw-123456"}
    )
    token = login.json()["data"]["attributes"]["token"]
    assert call("GET", "/acme/v1/customers", key=token).status_code == 200


def test_it_refuses_a_wrong_password(call: Call) -> None:
    login = call(
        "POST", "/acme/v1/auth/login", json={"email": "owner@acme.example", "password": "nope"}
    )
    assert login.status_code == 401


def test_it_records_the_machine_user_of_the_key_as_modifier(call: Call) -> None:
    created = call("POST", "/acme/v1/customers", json={"name": "Mine"}).json()["data"]
    relationships = created["relationships"]
    assert relationships["modifiedBy"]["data"] == relationships["createdBy"]["data"]
    assert relationships["modifiedBy"]["data"]["type"] == "user"


def test_it_completes_a_bulk_job_with_results_per_client_ref(
    call: Call, emulator: KustomerEmulator
) -> None:
    roles = ["org.permission.customer.create", "org.permission.bulk.read"]
    emulator.add_api_key("acme", "acme-bulk", roles)
    items = [
        {"name": "One", "emails": [{"email": "one@example.com"}], "_clientRef": "a"},
        {"name": "Dup", "emails": [{"email": "one@example.com"}], "_clientRef": "b"},
    ]
    job = call("POST", "/acme/v1/customers/bulk", key="acme-bulk", json=items).json()["data"]
    polled = call("GET", f"/acme/v1/bulk/{job['id']}", key="acme-bulk").json()["data"]
    assert polled["attributes"]["status"] == "complete"
    batches = call("GET", f"/acme/v1/bulk/{job['id']}/batches", key="acme-bulk").json()["data"]
    results = {r["_clientRef"]: r["status"] for r in batches[0]["attributes"]["results"]}
    assert results == {"a": "created", "b": "error"}


def test_it_needs_every_or_no_item_to_carry_a_client_ref(call: Call) -> None:
    items = [{"name": "One", "_clientRef": "a"}, {"name": "Two"}]
    assert call("POST", "/acme/v1/customers/bulk", json=items).status_code == 400


def test_it_drops_the_connection_after_committing_on_request(
    call: Call, emulator: KustomerEmulator
) -> None:
    emulator.set_faults(after_commit=True, drop=True)
    with pytest.raises(requests.ConnectionError):
        call("POST", "/acme/v1/customers", json={"name": "Committed"})
    assert [c["attributes"]["name"] for c in emulator.customers("acme")] == ["Committed"]


def test_it_seeds_a_demo_org_reachable_with_the_documented_credentials(
    sandbox: Sandbox, emulator: KustomerEmulator
) -> None:
    seed_demo(emulator, count=40)
    base = sandbox.base_url("kustomer") + "/demo/v1"
    login = requests.post(
        base + "/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}, timeout=5
    )
    assert login.status_code == 200
    metadata = requests.get(
        base + "/metadata/customer",
        headers={"Authorization": f"Bearer {DEMO_API_KEY}"},
        timeout=5,
    ).json()["data"]["attributes"]["properties"]
    assert metadata["loyaltyTierStr"]["enumeration"] == ["bronze", "silver", "gold"]
    customers = emulator.customers("demo")
    assert len(customers) >= 35
    assert {c["attributes"]["sentiment"]["polarity"] for c in customers} == {-1, 0, 1}
    assert any(c["attributes"]["conversationCounts"]["open"] for c in customers)
    assert all(c["attributes"]["custom"]["loyaltyTierStr"] for c in customers)


def control(sandbox: Sandbox, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(
        method, sandbox.base_url("kustomer") + "/_sandbox/" + path, json=body, timeout=5
    )


def test_it_is_controlled_over_http(sandbox: Sandbox, emulator: KustomerEmulator) -> None:
    assert control(sandbox, "POST", "reset").status_code == 200
    created = control(
        sandbox,
        "POST",
        "orgs",
        {"subdomain": "bench", "api_keys": {"bench-key": None}, "metadata": {"vipBool": {}}},
    )
    assert created.status_code == 201
    seeded = control(sandbox, "POST", "orgs/bench/customers", [{"name": f"P{i}"} for i in range(3)])
    assert seeded.status_code == 201
    assert control(sandbox, "POST", "orgs/bench/seed_demo", {"count": 5}).json() == {"created": 5}
    assert control(sandbox, "POST", "faults", {"count": 1, "status": 503}).status_code == 200
    api = sandbox.base_url("kustomer") + "/bench/v1/customers"
    headers = {"Authorization": "Bearer bench-key"}
    assert requests.get(api, headers=headers, timeout=5).status_code == 503
    assert requests.get(api, headers=headers, timeout=5).status_code == 200
    dump = control(sandbox, "GET", "orgs/bench/customers").json()["data"]
    assert len(dump) == 8
    stats = control(sandbox, "GET", "stats").json()
    assert stats["requests"] == {"GET /customers": 2}


def test_it_answers_a_control_error_as_json(sandbox: Sandbox, emulator: KustomerEmulator) -> None:
    response = control(sandbox, "POST", "orgs", {"no_subdomain": True})
    assert response.status_code == 400
    assert "subdomain" in response.json()["error"]


def test_its_change_feed_search_answers_what_a_full_scan_would(
    call: Call, emulator: KustomerEmulator
) -> None:
    # Ties on updatedAt, later edits and a deletion: the index must keep the scan's order.
    emulator.freeze_clock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    ids = [emulator.add_customer("acme", {"name": f"C{i}"})["id"] for i in range(6)]
    emulator.freeze_clock(dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    emulator.update_customer("acme", ids[1], {"name": "C1 edited"})
    emulator.delete_customer("acme", ids[3])
    emulator.freeze_clock(None)
    emulator.update_customer("acme", ids[0], {"name": "C0 edited"})
    bound = {"customer_updated_at": {"gte": "2026-01-02T00:00:00.000Z"}}

    def found(criteria: list[dict[str, Any]], **more: Any) -> list[str]:
        body = {"queryContext": "customer", "sort": [{"customer_updated_at": "asc"}], **more}
        if criteria:
            body["and"] = criteria
        response = call("POST", "/acme/v1/customers/search", json=body)
        return [c["id"] for c in response.json()["data"]]

    # A second, looser bound is no longer a plain change-feed query: it takes the full scan.
    looser = {"customer_updated_at": {"gte": "2025-12-01T00:00:00.000Z"}}
    assert found([bound], includeDeleted=True) == found([bound, looser], includeDeleted=True)
    assert found([bound], includeDeleted=True) == [ids[1], ids[3], ids[0]]
    assert found([bound]) == [ids[1], ids[0]]
    assert found([]) == [ids[2], ids[4], ids[5], ids[1], ids[0]]
