"""The emulator answers, and the connector asks, the way Mailchimp's published Marketing API
document says (``tests/fixtures/mailchimp/openapi.json``, spec 3.0.55; see its README), for every
endpoint the connector calls: ``/ping``, ``/lists``, ``/lists/{id}``, merge fields, members
(list, get, add, upsert, update) and member tags, and for the error body.

Responses are validated against the document's response schemas; the connector's requests (path,
query parameters and JSON bodies, captured on the wire) against its parameters and request
schemas. ``ERRATA`` relaxes exactly what the document gets wrong, each with its reason:

- the OpenAPI conversion named both the member and the member collection ``List_Members_2``, so
  the document's member answers point at the collection; a member is checked against the
  document's member schema ``List_Members`` (the one its batch answer uses) instead;
- the member ``status`` enumeration omits ``archived``, which the same document lists as a
  ``status`` filter and Mailchimp answers for archived members (api-notes §4.2);
- ``merge_fields`` values are declared objects; they are texts, numbers and address objects.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from openapi_schema_validator import OAS30Validator

from integrations.connectors.http import HttpClient
from integrations.connectors.mailchimp.connector import MailchimpConnector
from integrations.sync.records import ContactUpdate, NewContact
from sandbox.mailchimp import DEMO_API_KEY, DEMO_LIST_ID, MailchimpEmulator, seed_demo
from sandbox.mailchimp.schema import document, inline, relax_merge_fields
from sandbox.server import Sandbox

SANDBOX_APPS = ["mailchimp"]

MEMBER = "#/components/schemas/List_Members"
COLLECTION = "/lists/{list_id}/members"
ONE = "/lists/{list_id}/members/{subscriber_hash}"


def _member_schema() -> dict[str, Any]:
    schema: dict[str, Any] = copy.deepcopy(inline({"$ref": MEMBER}))
    schema["properties"]["status"]["enum"].append("archived")
    return schema


def response_schema(path: str, method: str, status: str) -> dict[str, Any]:
    operation = document()["paths"][path][method]
    responses = operation["responses"]
    content = (responses.get(status) or responses["default"])["content"]["application/json"]
    schema: dict[str, Any] = copy.deepcopy(inline(content["schema"]))
    if status.startswith("2") and (path == ONE or (path == COLLECTION and method == "post")):
        schema = _member_schema()
    elif status.startswith("2") and path == COLLECTION:
        schema["properties"]["members"]["items"] = _member_schema()
    return dict(relax_merge_fields(schema))


def problems(schema: dict[str, Any], instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in OAS30Validator(schema).iter_errors(instance)
    ]


@pytest.fixture
def emulator(sandbox: Sandbox) -> MailchimpEmulator:
    emulator: MailchimpEmulator = sandbox.emulator("mailchimp")
    emulator.reset()
    seed_demo(emulator, count=30)
    return emulator


@pytest.fixture
def base(sandbox: Sandbox, emulator: MailchimpEmulator) -> str:
    return sandbox.base_url("mailchimp") + "/us19/3.0"


def send(base: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, base + path, auth=("x", DEMO_API_KEY), timeout=5, **kwargs)


def some_member(emulator: MailchimpEmulator, status: str = "subscribed") -> str:
    found = next(m for m in emulator.members(DEMO_LIST_ID) if m["status"] == status)
    return str(found["id"])


CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("GET", "/ping", "/ping", {}),
    ("GET", "/lists", "/lists", {}),
    ("GET", "/lists/{list_id}", f"/lists/{DEMO_LIST_ID}", {}),
    (
        "GET",
        "/lists/{list_id}/merge-fields",
        f"/lists/{DEMO_LIST_ID}/merge-fields",
        {"params": {"count": 1000}},
    ),
    (
        "POST",
        "/lists/{list_id}/merge-fields",
        f"/lists/{DEMO_LIST_ID}/merge-fields",
        {"json": {"name": "Shoe size", "type": "number"}},
    ),
    (
        "GET",
        COLLECTION,
        f"/lists/{DEMO_LIST_ID}/members",
        {"params": {"count": 1000, "sort_field": "last_changed", "sort_dir": "ASC"}},
    ),
    ("GET", COLLECTION, f"/lists/{DEMO_LIST_ID}/members", {"params": {"status": "archived"}}),
    (
        "POST",
        "/lists/{list_id}",
        f"/lists/{DEMO_LIST_ID}",
        {"json": {"members": [{"email_address": "b1@example.com", "status": "subscribed"}]}},
    ),
    (
        "POST",
        COLLECTION,
        f"/lists/{DEMO_LIST_ID}/members",
        {
            "json": {
                "email_address": "new@example.com",
                "status": "subscribed",
                "tags": ["a"],
                "merge_fields": {"FNAME": "New", "SPEND": 3},
            }
        },
    ),
]


@pytest.mark.parametrize(("method", "template", "path", "kwargs"), CASES)
def test_each_answer_matches_the_document(
    base: str, method: str, template: str, path: str, kwargs: dict[str, Any]
) -> None:
    response = send(base, method, path, **kwargs)
    assert response.status_code == 200, response.text
    schema = response_schema(template, method.lower(), "200")
    assert problems(schema, response.json()) == []


def test_member_answers_match_the_document(base: str, emulator: MailchimpEmulator) -> None:
    member = some_member(emulator)
    path = f"/lists/{DEMO_LIST_ID}/members/{member}"
    email = next(m["email_address"] for m in emulator.members(DEMO_LIST_ID) if m["id"] == member)
    answers = [
        ("get", send(base, "GET", path)),
        ("patch", send(base, "PATCH", path, json={"merge_fields": {"FNAME": "Zed"}})),
        (
            "put",
            send(base, "PUT", path, json={"email_address": email, "status_if_new": "subscribed"}),
        ),
        (
            "get",
            send(base, "GET", f"/lists/{DEMO_LIST_ID}/members/{some_member(emulator, 'archived')}"),
        ),
    ]
    for method, response in answers:
        assert response.status_code == 200, response.text
        assert problems(response_schema(ONE, method, "200"), response.json()) == []
    tags = send(base, "GET", path + "/tags")
    schema = response_schema(ONE + "/tags", "get", "200")
    assert problems(schema, tags.json()) == []


def test_an_error_is_the_documents_problem_detail(base: str) -> None:
    response = send(base, "GET", f"/lists/{DEMO_LIST_ID}/members/nobody@example.com")
    assert response.status_code == 404
    schema = response_schema(ONE, "get", "default")
    assert problems(schema, response.json()) == []


class Recorder(requests.Session):
    """A real session that also keeps what was sent (method, URL, JSON body)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, Any]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.sent.append((str(method), str(url), kwargs.get("json")))
        return super().request(method, url, *args, **kwargs)


def _operation(url: str, method: str) -> tuple[str, dict[str, Any]]:
    path = urlsplit(url).path.split("/3.0", 1)[1]
    for template, item in document()["paths"].items():
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
        if re.fullmatch(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not in the document")


def _typed(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        return value == "true"
    if kind == "array":
        return value.split(",")
    return value


def test_the_connectors_requests_match_the_document(
    sandbox: Sandbox, emulator: MailchimpEmulator, settings: Any
) -> None:
    settings.MAILCHIMP_BASE_URL_TEMPLATE = sandbox.base_url("mailchimp") + "/{dc}/3.0"
    session = Recorder()
    connector = MailchimpConnector(
        {"api_key": DEMO_API_KEY, "list_id": DEMO_LIST_ID},
        http=HttpClient(app="mailchimp", session=session),
    )
    connector.check()
    checkpoint = [page.checkpoint for page in connector.list_changed(None)][-1]
    batched = connector.create_many(
        [
            NewContact(ref=str(i), values={"email": f"b{i}@example.com", "last_name": "B"})
            for i in range(3)
        ]
    )
    assert all(result.ok for result in batched)
    created = connector.create_many(
        [
            NewContact(
                ref="1",
                values={
                    "email": "wire@example.com",
                    "first_name": "Wire",
                    "custom.TIER": "gold",
                    "tags": ["vip"],
                },
            )
        ]
    )[0]
    assert created.record is not None
    connector.update_many(
        [
            ContactUpdate(
                id=created.record.id,
                changes={"last_name": "Tap", "custom.SPEND": 12.5, "email": "wired@example.com"},
            )
        ]
    )
    connector.untag([created.record.id], "vip")
    list(connector.list_changed(checkpoint))
    assert {m for m, _, _ in session.sent} == {"GET", "PUT", "PATCH", "POST"}
    for method, url, body in session.sent:
        template, operation = _operation(url, method)
        declared = {p["name"]: p["schema"] for p in operation.get("parameters") or []}
        for name, value in parse_qsl(urlsplit(url).query):
            assert name in declared, f"{method} {template}: {name} is not a parameter"
            typed = _typed(value, declared[name])
            assert problems(declared[name], typed) == [], (template, name, value)
        if body is not None:
            content = operation["requestBody"]["content"]["application/json"]["schema"]
            schema = relax_merge_fields(inline(content))
            assert problems(schema, json.loads(json.dumps(body))) == [], (method, template)
