"""Schemathesis, driven by Kustomer's official OpenAPI document, against the Kustomer emulator:
for every operation Tandem calls and the ones the emulator adds (lookups, bulk update and
delete), generated requests, valid and invalid, never get a server error, responses conform to
the document's schemas, and invalid requests are refused with a 4xx.

Bounded and deterministic: few examples per operation, derandomized, no example database. The
document's error statuses are not declared per operation (only 200/201/204 are), so the status
code conformance check is left out; response schemas get the same three errata as
``test_kustomer_openapi`` (each with its reason there)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from sandbox.kustomer import ALL_ROLES, KustomerEmulator
from sandbox.kustomer.schema import CUSTOM_SCHEMA, SPEC_PATH
from sandbox.server import Sandbox
from tests.sandbox.test_kustomer_openapi import ERRATA, response_schema

KEY = "schemathesis-key"
ORG = "fuzz"
# (path, method): Tandem's calls, then the emulator's additions.
OPERATIONS = [
    ("/customers", "GET"),
    ("/customers/{id}", "GET"),
    ("/customers", "POST"),
    ("/customers/{id}", "PATCH"),
    ("/customers/search", "POST"),
    ("/customers/bulk", "POST"),
    ("/metadata/{resource}", "GET"),
    ("/customers/{id}", "PUT"),
    ("/customers/{id}", "DELETE"),
    ("/customers/email={email}", "GET"),
    ("/customers/externalId={externalId}", "GET"),
    ("/customers/phone={phone}", "GET"),
    ("/customers/bulk", "PUT"),
    ("/customers/bulk", "DELETE"),
]


def document() -> dict[str, Any]:
    """The official document with the response errata applied, and only ``OPERATIONS``."""
    raw: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    doc = copy.deepcopy(raw)
    for (path, method, status), _ in ERRATA.items():
        content = doc["paths"][path][method]["responses"][status]["content"]["application/json"]
        content["schema"] = response_schema(path, method, status)
    wanted: dict[str, set[str]] = {}
    for path, method in OPERATIONS:
        wanted.setdefault(path, set()).add(method.lower())
    doc["paths"] = {
        path: {m: op for m, op in ops.items() if m in wanted[path] or m == "parameters"}
        for path, ops in doc["paths"].items()
        if path in wanted
    }
    for ops in doc["paths"].values():
        for method, op in ops.items():
            if method == "parameters":
                continue
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json")
            if body is not None:
                _request_errata(body["schema"])
    _one_body_for_ids(doc)
    return doc


def _one_body_for_ids(doc: dict[str, Any]) -> None:
    """Kustomer's bulk-operations guide (api-notes C12) also takes ``PUT /customers/bulk?ids=``
    with one customer body applied to every id; the document only describes the array form."""
    content = doc["paths"]["/customers/bulk"]["put"]["requestBody"]["content"]
    one = doc["paths"]["/customers/{id}"]["patch"]["requestBody"]["content"]["application/json"]
    array = content["application/json"]["schema"]
    content["application/json"]["schema"] = {"anyOf": [array, copy.deepcopy(one["schema"])]}


def _request_errata(schema: dict[str, Any]) -> None:
    """The emulator's request errata (sandbox/kustomer/schema.py): ``custom`` keys are checked
    by type suffix, not refused outright; bulk create items may carry ``_clientRef``."""
    customer = schema.get("items", schema)
    properties = customer.get("properties", {})
    if "custom" in properties:
        properties["custom"] = dict(CUSTOM_SCHEMA)
        if "items" in schema:
            properties["_clientRef"] = {"type": "string", "maxLength": 255}


schema = schemathesis.openapi.from_dict(document())
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    max_examples=6,
    deterministic=True,
)


@pytest.fixture(scope="module")
def kustomer() -> Iterator[tuple[str, KustomerEmulator]]:
    server = Sandbox(slugs=["kustomer"]).start()
    emulator: KustomerEmulator = server.emulator("kustomer")
    emulator.create_org(ORG, api_keys={KEY: ALL_ROLES})
    for i in range(3):
        emulator.add_customer(ORG, {"name": f"Seed {i}", "emails": [{"email": f"s{i}@x.example"}]})
    try:
        yield server.base_url("kustomer") + f"/{ORG}/v1", emulator
    finally:
        server.stop()


@schema.parametrize()
@settings(
    max_examples=6,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_it_answers_every_generated_request_per_the_document(
    case: schemathesis.Case, kustomer: tuple[str, KustomerEmulator]
) -> None:
    base_url, _ = kustomer
    case.call_and_validate(
        base_url=base_url,
        headers={"Authorization": f"Bearer {KEY}"},
        checks=[
            not_a_server_error,
            response_schema_conformance,
            content_type_conformance,
            negative_data_rejection,
        ],
    )


def test_it_covers_every_operation_tandem_calls() -> None:
    covered = {
        (op.path, op.method.upper())
        for op in (result.ok() for result in schema.get_all_operations())
    }

    assert covered == set(OPERATIONS)
    assert all(re.match(r"^/", path) for path, _ in covered)
