"""The HubSpot emulator answers, and the HubSpot connector asks, the way HubSpot's published
OpenAPI documents say, for every call Tandem makes: CRM v3 contacts (list, read, create, update,
archive, search, batch read / create / update / archive), the properties API and the v3 lists
API. The documents' parts Tandem uses are in ``tests/fixtures/hubspot/`` (see its README).

Responses are validated against the documents' response schemas (errors against their
``Error`` / ``StandardError``), requests the connector sends against the request schemas. Two
places where the documents and HubSpot's own guides disagree are relaxed in ``ERRATA``, each with
its reason, and nothing else.

Not in these documents, so not validated here: ``GET /account-info/v3/details`` and the OAuth
endpoints (``/oauth/v1/token``, ``/oauth/v1/access-tokens/{token}``), which HubSpot documents in
its account and OAuth guides; their shapes are checked by the emulator's contract tests.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_schema_validator import OAS30Validator

from integrations.connectors.http import HttpClient
from integrations.connectors.hubspot.connector import HubSpotConnector
from integrations.sync.records import ContactUpdate, NewContact
from sandbox.hubspot import HubSpotEmulator, add_demo_properties
from sandbox.server import Sandbox

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hubspot"
HUB = 777
TOKEN = "pat-openapi"


@cache
def document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def _nullable_property_values(components: dict[str, Any]) -> None:
    # The documents make every property value a string; HubSpot answers null for a property
    # asked for (``properties=...``) that the record has no value of, as its reference
    # examples show. The emulator does the same.
    for node in _walk(components.get("schemas", {})):
        props = node.get("properties", {}).get("properties")
        if isinstance(props, dict) and "additionalProperties" in props:
            props["additionalProperties"] = {"type": "string", "nullable": True}


def _sorts_as_objects(components: dict[str, Any]) -> None:
    # The document types ``sorts`` items as strings; HubSpot's search guide (api-notes §3.3)
    # sends ``{"propertyName", "direction"}`` objects, which the API takes. Either form passes.
    search = components["schemas"]["PublicObjectSearchRequest"]
    search["properties"]["sorts"]["items"] = {
        "oneOf": [
            {"type": "string"},
            {
                "type": "object",
                "required": ["propertyName"],
                "properties": {
                    "propertyName": {"type": "string"},
                    "direction": {"type": "string", "enum": ["ASCENDING", "DESCENDING"]},
                },
            },
        ]
    }


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


REQUEST_ERRATA: dict[str, Callable[[dict[str, Any]], None]] = {
    "/crm/v3/objects/contacts/search": _sorts_as_objects,
}

# Each template path and the document it is in.
TEMPLATES: dict[str, str] = {
    "/crm/v3/objects/contacts": "contacts",
    "/crm/v3/objects/contacts/search": "contacts",
    "/crm/v3/objects/contacts/batch/read": "contacts",
    "/crm/v3/objects/contacts/batch/create": "contacts",
    "/crm/v3/objects/contacts/batch/update": "contacts",
    "/crm/v3/objects/contacts/batch/archive": "contacts",
    "/crm/v3/objects/contacts/{contactId}": "contacts",
    "/crm/v3/properties/{objectType}": "properties",
    "/crm/v3/properties/{objectType}/{propertyName}": "properties",
    "/crm/v3/lists": "lists",
    "/crm/v3/lists/search": "lists",
    "/crm/v3/lists/records/memberships/batch/read": "lists",
    "/crm/v3/lists/object-type-id/{objectTypeId}/name/{listName}": "lists",
    "/crm/v3/lists/{listId}/memberships/add": "lists",
    "/crm/v3/lists/{listId}/memberships/remove": "lists",
    "/crm/v3/lists/{listId}/memberships": "lists",
    "/crm/v3/lists/{listId}": "lists",
}


def template_of(path: str) -> str:
    for template in TEMPLATES:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return template
    raise AssertionError(f"no documented path for {path}")


def _resolvable(
    name: str, node: dict[str, Any], fix: Callable[[dict[str, Any]], None] | None
) -> dict[str, Any]:
    """``node`` as a schema whose ``$ref``s resolve (lazily) in a copy of the document, with
    the erratum ``fix`` applied to that copy's components. Inlining every ``$ref`` instead
    would blow up on the lists document's recursive filter branches."""
    doc = copy.deepcopy(document(name))
    if fix is not None:
        fix(doc["components"])
    return {**copy.deepcopy(node), "components": doc["components"]}


def response_schema(template: str, method: str, status: int) -> dict[str, Any]:
    name = TEMPLATES[template]
    responses = document(name)["paths"][template][method.lower()]["responses"]
    answer = responses.get(str(status)) or responses["default"]
    if "$ref" in answer:  # #/components/responses/Error
        answer = document(name)["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    # The error response is declared for any content type (``*/*``).
    content = answer["content"].get("application/json") or answer["content"]["*/*"]
    return _resolvable(name, content["schema"], _nullable_property_values)


def request_schema(template: str, method: str) -> dict[str, Any]:
    name = TEMPLATES[template]
    body = document(name)["paths"][template][method.lower()]["requestBody"]
    return _resolvable(
        name, body["content"]["application/json"]["schema"], REQUEST_ERRATA.get(template)
    )


def problems(schema: dict[str, Any], value: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in OAS30Validator(schema).iter_errors(value)
    ]


def assert_answer_valid(response: requests.Response) -> None:
    if response.status_code == 204:  # "No content", as documented
        assert response.content == b""
        return
    path = "/" + response.request.path_url.split("?")[0].split("/hubspot/", 1)[1]
    template = template_of(path)
    assert response.request.method is not None
    schema = response_schema(template, response.request.method, response.status_code)
    assert problems(schema, response.json()) == []


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


def test_it_answers_the_contact_calls_per_the_document(call: Call) -> None:
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


def test_it_answers_search_per_the_document(call: Call) -> None:
    make(call, "ann@acme.example")
    make(call, "bob@acme.example")
    body = {
        "filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}],
        "sorts": ["lastmodifieddate"],
        "properties": ["email"],
        "limit": 1,
        "after": "0",
    }
    response = call("POST", "/crm/v3/objects/contacts/search", json=body)
    assert response.json()["paging"]["next"]["after"] == "1"


def test_it_answers_batches_and_their_207s_per_the_document(call: Call) -> None:
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
    archived = requests.post(
        read.request.url.replace("batch/read", "batch/archive"),  # type: ignore[union-attr]
        json={"inputs": [{"id": taken}]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert archived.status_code == 204


def test_it_answers_errors_per_the_document(call: Call) -> None:
    make(call, "ann@acme.example")
    assert call("GET", "/crm/v3/objects/contacts/999").status_code == 404
    conflict = call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "ann@acme.example"}}
    )
    assert conflict.status_code == 409
    invalid = call("POST", "/crm/v3/objects/contacts", json={"properties": {"total_spent": "lots"}})
    assert invalid.status_code == 400
    assert call("POST", "/crm/v3/objects/contacts/search", json={"limit": 500}).status_code == 400


def test_it_answers_the_properties_api_per_the_document(call: Call) -> None:
    assert call("GET", "/crm/v3/properties/contacts").status_code == 200
    assert call("GET", "/crm/v3/properties/contacts/loyalty_tier").status_code == 200
    created = call(
        "POST",
        "/crm/v3/properties/contacts",
        json={
            "name": "favourite_colour",
            "label": "Favourite colour",
            "type": "enumeration",
            "fieldType": "select",
            "groupName": "contactinformation",
            "options": [{"label": "Red", "value": "red", "hidden": False}],
        },
    )
    assert created.status_code == 201


def test_it_answers_the_lists_api_per_the_document(call: Call) -> None:
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


def test_the_connector_asks_per_the_document(hub: HubSpotEmulator) -> None:
    sent: list[tuple[str, str, Any]] = []

    def capture(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        path = "/" + request.path_url.split("?")[0].split("/hubspot/", 1)[1]
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
    assert {template_of(p) for _, p, _ in with_bodies} >= {
        "/crm/v3/objects/contacts/search",
        "/crm/v3/objects/contacts/batch/read",
        "/crm/v3/objects/contacts/batch/create",
        "/crm/v3/objects/contacts/batch/update",
        "/crm/v3/lists",
        "/crm/v3/lists/search",
        "/crm/v3/lists/records/memberships/batch/read",
        "/crm/v3/lists/{listId}/memberships/add",
        "/crm/v3/lists/{listId}/memberships/remove",
    }
    for method, path, body in with_bodies:
        template = template_of(path)
        assert problems(request_schema(template, method), body) == [], (method, path)
