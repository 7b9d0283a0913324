"""The HubSpot emulator answers, and the HubSpot connector asks, the way Tandem's contract of
HubSpot's API says (``tests/sandbox/hubspot_contract.py``, written from the API notes), for
every call Tandem makes: CRM v3 contacts (list, read, create, update, archive, search, batch
read / create / update / archive, 207 multi-status), the properties API, the v3 lists API, the
error bodies and the rate limiter's 429.

Every answer the tests get is checked against the contract's schema for its operation and
status; every request body the connector sends against the operation's request schema.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator

from integrations.connectors.http import HttpClient
from integrations.connectors.hubspot.connector import HubSpotConnector
from integrations.sync.records import ContactUpdate, NewContact
from sandbox.hubspot import HubSpotEmulator, add_demo_properties
from sandbox.server import Sandbox
from tests.sandbox.hubspot_contract import (
    FAILURES,
    OPERATIONS,
    answer_problems,
    operation_of,
    request_problems,
)

HUB = 777
TOKEN = "pat-contract"


def api_path(request: requests.PreparedRequest) -> str:
    return "/" + request.path_url.split("?")[0].split("/hubspot/", 1)[1]


def assert_answer_valid(response: requests.Response) -> None:
    method = str(response.request.method)
    path = api_path(response.request)
    found = answer_problems(method, path, response.status_code, response.content)
    assert found == [], f"{method} {path} {response.status_code}: {found}"


def test_every_schema_of_the_contract_is_valid_json_schema() -> None:
    for operation in OPERATIONS.values():
        answers = {**(operation.failures or FAILURES), **operation.answers}
        for schema in [operation.request, *answers.values()]:
            if schema is not None:
                Draft202012Validator.check_schema(schema)


@pytest.fixture(scope="module")
def server() -> Iterator[Sandbox]:
    sandbox = Sandbox(slugs=["hubspot"]).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def hub(server: Sandbox, settings: Any) -> HubSpotEmulator:
    settings.HUBSPOT_BASE_URL = server.base_url("hubspot")
    emulator: HubSpotEmulator = server.emulator("hubspot")
    emulator.reset()
    emulator.create_portal(hub_id=HUB)
    emulator.add_private_app(HUB, TOKEN)
    add_demo_properties(emulator, HUB)
    return emulator


@pytest.fixture
def call(server: Sandbox, hub: HubSpotEmulator) -> Callable[..., requests.Response]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"

    def send(method: str, path: str, **kwargs: Any) -> requests.Response:
        response = session.request(method, server.base_url("hubspot") + path, timeout=10, **kwargs)
        assert_answer_valid(response)
        return response

    return send


Call = Callable[..., requests.Response]


def make(call: Call, email: str, **props: str) -> str:
    response = call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": email, **props}}
    )
    assert response.status_code == 201
    return str(response.json()["id"])


def test_it_answers_the_contact_calls_per_the_contract(call: Call) -> None:
    made = make(call, "ann@acme.example", firstname="Ann", total_spent="12", interests="hardware")
    for n in range(3):
        make(call, f"p{n}@acme.example")
    assert call("GET", "/crm/v3/objects/contacts", params={"limit": 2}).status_code == 200
    listed = call(
        "GET", "/crm/v3/objects/contacts", params={"properties": "email,company,total_spent"}
    )
    assert listed.json()["results"][0]["properties"]["company"] is None
    assert call("GET", f"/crm/v3/objects/contacts/{made}").status_code == 200
    patched = call(
        "PATCH", f"/crm/v3/objects/contacts/{made}", json={"properties": {"lastname": "Archer"}}
    )
    assert patched.status_code == 200
    assert call("DELETE", f"/crm/v3/objects/contacts/{made}").status_code == 204
    assert call("GET", "/crm/v3/objects/contacts", params={"archived": "true"}).json()["results"][
        0
    ]["archivedAt"]


def test_it_answers_search_per_the_contract(call: Call) -> None:
    make(call, "ann@acme.example")
    make(call, "bob@acme.example")
    body = {
        "filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email"],
        "limit": 1,
        "after": "0",
    }
    response = call("POST", "/crm/v3/objects/contacts/search", json=body)
    assert response.json()["paging"]["next"]["after"] == "1"


def test_it_answers_batches_and_their_207s_per_the_contract(call: Call) -> None:
    taken = make(call, "taken@acme.example")
    created = call(
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        json={"inputs": [{"properties": {"email": "new@acme.example"}, "associations": []}]},
    )
    assert created.status_code == 201
    partial = call(
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        json={
            "inputs": [
                {"properties": {"email": "other@acme.example"}, "associations": []},
                {"properties": {"email": "taken@acme.example"}, "associations": []},
            ]
        },
    )
    assert partial.status_code == 207
    read = call(
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        json={
            "inputs": [{"id": taken}, {"id": "1"}],
            "properties": [],
            "propertiesWithHistory": [],
        },
    )
    assert read.status_code == 207
    updated = call(
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        json={
            "inputs": [
                {"id": taken, "properties": {"firstname": "T"}},
                {"id": "1", "properties": {}},
            ]
        },
    )
    assert updated.status_code == 207
    archived = call(
        "POST", "/crm/v3/objects/contacts/batch/archive", json={"inputs": [{"id": taken}]}
    )
    assert archived.status_code == 204


def test_it_answers_errors_per_the_contract(call: Call) -> None:
    make(call, "ann@acme.example")
    assert call("GET", "/crm/v3/objects/contacts/999").status_code == 404
    conflict = call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "ann@acme.example"}}
    )
    assert conflict.status_code == 409
    invalid = call("POST", "/crm/v3/objects/contacts", json={"properties": {"total_spent": "lots"}})
    assert invalid.status_code == 400
    assert call("POST", "/crm/v3/objects/contacts/search", json={"limit": 500}).status_code == 400
    stranger = call("GET", "/crm/v3/objects/contacts", headers={"Authorization": "Bearer nope"})
    assert stranger.status_code == 401


def test_it_answers_its_rate_limit_per_the_contract(call: Call, hub: HubSpotEmulator) -> None:
    hub.set_limits(HUB, burst=1)
    assert call("GET", "/crm/v3/objects/contacts").status_code == 200
    limited = call("GET", "/crm/v3/objects/contacts")
    assert limited.status_code == 429
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"


def test_it_answers_the_properties_api_per_the_contract(call: Call) -> None:
    assert call("GET", "/crm/v3/properties/contacts").status_code == 200
    assert call("GET", "/crm/v3/properties/contacts/loyalty_tier").status_code == 200
    colour = {
        "name": "favourite_colour",
        "label": "Favourite colour",
        "type": "enumeration",
        "fieldType": "select",
        "groupName": "contactinformation",
        "options": [{"label": "Red", "value": "red", "hidden": False}],
    }
    assert call("POST", "/crm/v3/properties/contacts", json=colour).status_code == 201
    assert call("POST", "/crm/v3/properties/contacts", json=colour).status_code == 409


def test_it_answers_the_lists_api_per_the_contract(call: Call) -> None:
    made = make(call, "ann@acme.example")
    created = call(
        "POST",
        "/crm/v3/lists",
        json={"name": "Tandem Trash", "objectTypeId": "0-1", "processingType": "MANUAL"},
    )
    list_id = created.json()["list"]["listId"]
    call("PUT", f"/crm/v3/lists/{list_id}/memberships/add", json=[made])
    call("GET", f"/crm/v3/lists/{list_id}/memberships")
    call("GET", f"/crm/v3/lists/{list_id}")
    call("GET", "/crm/v3/lists/object-type-id/0-1/name/Tandem Trash")
    call("POST", "/crm/v3/lists/search", json={"offset": 0, "additionalProperties": []})
    call(
        "POST",
        "/crm/v3/lists/records/memberships/batch/read",
        json={"inputs": [{"objectTypeId": "0-1", "recordId": made}]},
    )
    call("PUT", f"/crm/v3/lists/{list_id}/memberships/remove", json=[made])


def test_the_connector_asks_per_the_contract(hub: HubSpotEmulator) -> None:
    sent: list[tuple[str, str, Any]] = []

    def capture(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        path = api_path(request)
        body = json.loads(request.body) if request.body else None
        sent.append((str(request.method), path, body))
        if path.startswith("/crm/"):
            assert_answer_valid(response)

    http = HttpClient(app="hubspot", sleep=lambda _: None)
    http.session.hooks["response"].append(capture)
    connector = HubSpotConnector({"private_app_token": TOKEN}, http=http)
    existing = str(hub.add_contact(HUB, {"email": "ann@acme.example"})["id"])
    list(connector.list_changed(None))
    list(connector.list_changed({"updated_at": "2026-01-01T00:00:00.000Z"}))
    connector.find_by_emails(["ann@acme.example"])
    (created,) = connector.create_many(
        [NewContact(ref="a", values={"email": "bob@acme.example", "custom.vip": True})]
    )
    assert created.record is not None
    connector.update_many([ContactUpdate(id=existing, changes={"company": "Acme"})])
    connector.tag([existing], "Tandem Trash")
    connector.untag([existing], "Tandem Trash")
    with_bodies = [(m, p, b) for m, p, b in sent if b is not None and p.startswith("/crm/")]
    assert {(m, operation_of(m, p)) for m, p, _ in with_bodies} >= {
        ("POST", "/crm/v3/objects/contacts/search"),
        ("POST", "/crm/v3/objects/contacts/batch/read"),
        ("POST", "/crm/v3/objects/contacts/batch/create"),
        ("POST", "/crm/v3/objects/contacts/batch/update"),
        ("POST", "/crm/v3/lists"),
        ("POST", "/crm/v3/lists/search"),
        ("POST", "/crm/v3/lists/records/memberships/batch/read"),
        ("PUT", "/crm/v3/lists/{listId}/memberships/add"),
        ("PUT", "/crm/v3/lists/{listId}/memberships/remove"),
    }
    for method, path, body in with_bodies:
        assert request_problems(method, path, body) == [], (method, path)
