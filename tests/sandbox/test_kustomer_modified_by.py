"""The emulator's ``customer_modified_by`` search criterion, in the shape Kustomer's OpenAPI
document gives it: a ``user`` attribute (operator ``list``) of the search operation's standard
attributes, put in the request body's ``not`` group to ask for the customers someone other than
an API key's machine user modified last."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
from openapi_schema_validator import OAS30Validator

from sandbox.kustomer import KustomerEmulator
from sandbox.kustomer.schema import document, inline
from sandbox.kustomer.search import USER_ID
from sandbox.server import Sandbox

SANDBOX_APPS = ["kustomer"]

KEY = "acme-key-0001"
OTHER_KEY = "acme-key-0002"
SEARCH = "/customers/search"  # under the server URL, .../v1


@pytest.fixture
def emulator(sandbox: Sandbox) -> KustomerEmulator:
    emulator: KustomerEmulator = sandbox.emulator("kustomer")
    emulator.reset()
    emulator.create_org("acme")
    return emulator


Call = Callable[..., requests.Response]


@pytest.fixture
def machine_users(emulator: KustomerEmulator) -> dict[str, str]:
    return {key: emulator.add_api_key("acme", key, ALL) for key in (KEY, OTHER_KEY)}


ALL = [
    "org.permission.customer.read",
    "org.permission.customer.create",
    "org.permission.customer.update",
    "org.permission.search.create",
]


@pytest.fixture
def call(sandbox: Sandbox, machine_users: dict[str, str]) -> Call:
    def send(method: str, path: str, *, key: str = KEY, **kwargs: Any) -> requests.Response:
        return requests.request(
            method,
            sandbox.base_url("kustomer") + "/acme" + path,
            headers={"Authorization": f"Bearer {key}"},
            timeout=5,
            **kwargs,
        )

    return send


def standard_attributes() -> dict[str, Any]:
    """The "Standard attributes JSON Schema" of the search operation's description."""
    description = document()["paths"][SEARCH]["post"]["description"]
    section = description.split("## Standard attributes JSON Schema", 1)[1]
    block = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert block is not None
    schema: dict[str, Any] = json.loads(block.group(1))
    return schema


def not_modified_by(user_id: str, since: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "queryContext": "customer",
        "sort": [{"customer_updated_at": "asc"}],
        "not": [{"customer_modified_by": {"equals": user_id}}],
    }
    if since is not None:
        body["and"] = [{"customer_updated_at": {"gte": since}}]
    return body


def test_the_document_lists_customer_modified_by_as_a_user_attribute() -> None:
    schema = standard_attributes()
    assert schema["properties"]["customer_modified_by"] == {
        "$ref": "#/definitions/user",
        "operator": "list",
    }
    assert USER_ID.pattern == schema["definitions"]["user"]["pattern"]


def test_a_not_modified_by_search_body_is_one_the_document_accepts() -> None:
    request_schema = inline(
        document()["paths"][SEARCH]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    body = not_modified_by("5f0000000000000000000001", since="2026-01-01T00:00:00.000Z")
    OAS30Validator(request_schema).validate(body)


def test_the_keys_machine_user_is_each_customers_last_modifier(
    call: Call, emulator: KustomerEmulator, machine_users: dict[str, str]
) -> None:
    created = call("POST", "/v1/customers", json={"name": "Mine"}).json()["data"]
    assert created["relationships"]["modifiedBy"]["data"]["id"] == machine_users[KEY]
    emulator.update_customer("acme", created["id"], {"name": "Edited in Kustomer"})
    edited = emulator.customer("acme", created["id"])
    assert edited["relationships"]["modifiedBy"]["data"]["id"] not in machine_users.values()


@pytest.mark.parametrize("since", [None, "2000-01-01T00:00:00.000Z"], ids=["scan", "feed"])
def test_it_leaves_out_what_the_machine_user_modified_last(
    call: Call, emulator: KustomerEmulator, machine_users: dict[str, str], since: str | None
) -> None:
    mine = call("POST", "/v1/customers", json={"name": "Mine"}).json()["data"]["id"]
    theirs = call("POST", "/v1/customers", key=OTHER_KEY, json={"name": "Theirs"}).json()
    in_ui = emulator.add_customer("acme", {"name": "Made in Kustomer"})["id"]
    mine_then_edited = call("POST", "/v1/customers", json={"name": "Mine, then"}).json()["data"]
    emulator.update_customer("acme", mine_then_edited["id"], {"name": "Edited in Kustomer"})
    edited_then_mine = emulator.add_customer("acme", {"name": "Theirs, then"})["id"]
    call("PATCH", f"/v1/customers/{edited_then_mine}", json={"name": "Mine at last"})
    response = call("POST", "/v1" + SEARCH, json=not_modified_by(machine_users[KEY], since))
    assert response.status_code == 200
    found = [c["id"] for c in response.json()["data"]]
    assert found == [theirs["data"]["id"], in_ui, mine_then_edited["id"]]
    assert mine not in found


@pytest.mark.parametrize(
    "criterion",
    [
        {"customer_modified_by": {"equals": "not-a-user-id"}},
        {"customer_modified_by": {"gte": "5f0000000000000000000001"}},
        {"customer_modified_by": {"contains": "5f0000000000000000000001"}},
    ],
    ids=["not-a-user-id", "range", "contains"],
)
def test_it_refuses_a_modified_by_criterion_the_document_does_not_allow(
    call: Call, criterion: dict[str, Any]
) -> None:
    body = {"queryContext": "customer", "not": [criterion]}
    response = call("POST", "/v1" + SEARCH, json=body)
    assert response.status_code == 400
    assert "customer_modified_by" in response.json()["errors"][0]["source"]["pointer"]
