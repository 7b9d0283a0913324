"""Request bodies checked against Kustomer's official OpenAPI document
(``tests/fixtures/kustomer/openapi.json``): the document is the source of every type, length,
enumeration and format rule. A body that breaks one is refused with 400 in Kustomer's error shape,
``source.pointer`` naming the attribute, and nothing is stored.

Where the document contradicts Kustomer's own guides, the guides win, and only there
(``ERRATA``):

- ``custom`` is declared ``additionalProperties: false``, which would refuse every custom
  attribute; its keys and values are checked by their type suffix instead (``custom_problem``);
- bulk create items may carry ``_clientRef`` (the bulk guide), which the item schema omits.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from sandbox.kustomer.errors import bad_request
from sandbox.openapi import inline_refs, load_document

SPEC_PATH = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "kustomer" / "openapi.json"
# The loose schema ``custom`` is checked with; its keys and values by suffix afterwards.
CUSTOM_SCHEMA: dict[str, Any] = {"type": "object", "maxProperties": 100}
ERRATA = ("custom: keys checked by type suffix", "bulk items: _clientRef allowed")


def document() -> dict[str, Any]:
    return load_document(SPEC_PATH)


def inline(node: Any) -> Any:
    """The schema with every local ``$ref`` replaced by its target (cycles left open)."""
    return inline_refs(node, document())


def request_schema(path: str, method: str) -> dict[str, Any]:
    operation = document()["paths"][path][method]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    return copy.deepcopy(inline(schema))


def _relax_custom(customer: dict[str, Any]) -> dict[str, Any]:
    customer.setdefault("properties", {})["custom"] = dict(CUSTOM_SCHEMA)
    return customer


@functools.cache
def _validator(kind: str) -> OAS30Validator:
    if kind == "customer":
        schema = _relax_custom(request_schema("/customers", "post"))
    elif kind == "customer_update":
        schema = _relax_custom(request_schema("/customers/{id}", "patch"))
    elif kind == "bulk_update_item":
        schema = _relax_custom(request_schema("/customers/bulk", "put")["items"])
    elif kind in ("bulk_create", "bulk_update"):
        schema = request_schema("/customers/bulk", "post" if kind == "bulk_create" else "put")
        _relax_custom(schema["items"])
        schema["items"]["properties"]["_clientRef"] = {"type": "string", "maxLength": 255}
    elif kind == "search":
        schema = request_schema("/customers/search", "post")
    else:
        raise KeyError(kind)
    return OAS30Validator(schema, format_checker=oas30_format_checker)


@functools.cache
def customer_attributes() -> frozenset[str]:
    """The attributes a customer body may hold, as the document lists them."""
    return frozenset(request_schema("/customers", "post")["properties"])


def _describe(error: ValidationError, prefix: str) -> tuple[str, str]:
    pointer = prefix + "".join(f"/{part}" for part in error.absolute_path)
    message = error.message
    if len(message) > 200:
        message = message[:200] + "..."
    where = pointer.lstrip("/") or "the body"
    return f"{where}: {message}", pointer


def check(kind: str, body: Any, prefix: str = "") -> None:
    """Refuse ``body`` with a 400 when it breaks the document's schema for ``kind``
    (``customer``, ``customer_update``, ``bulk_update_item``, ``bulk_create``, ``bulk_update``
    or ``search``)."""
    if kind in ("customer", "customer_update", "bulk_update_item") and isinstance(body, dict):
        for key in body:
            allowed = customer_attributes() | ({"id"} if kind == "bulk_update_item" else set())
            if key not in allowed:
                raise bad_request(f"Unknown attribute {key}", f"{prefix}/{key}")
    error = best_match(_validator(kind).iter_errors(body))
    if error is not None:
        detail, pointer = _describe(error, prefix)
        raise bad_request(detail, pointer or prefix or "/")
