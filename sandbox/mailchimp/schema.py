"""Request bodies checked against the Marketing API's published document
(``tests/fixtures/mailchimp/openapi.json``, the part of Mailchimp's spec 3.0.55 the emulator
serves): types, enumerations and ``required`` come from there. A body that breaks one is answered
400 ``Invalid Resource`` with ``errors: [{field, message}]``, and nothing is stored.

One erratum (``relax_merge_fields``): the document declares every ``merge_fields`` value an
object, while merge values are texts, numbers and (for addresses) objects, as Mailchimp's own
examples show (``{"FNAME": "Jane"}``); each value is checked against its merge field's type
instead (``audiences.check_merge_fields``)."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator

from sandbox.mailchimp.errors import invalid
from sandbox.openapi import inline_refs, load_document

SPEC_PATH = (
    Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "mailchimp" / "openapi.json"
)


def document() -> dict[str, Any]:
    return load_document(SPEC_PATH)


def inline(node: Any) -> Any:
    """The schema with every local ``$ref`` replaced by its target (cycles left open)."""
    return inline_refs(node, document())


def relax_merge_fields(node: Any) -> Any:
    """``node`` with any value allowed under each ``merge_fields`` (see the module's erratum)."""
    if isinstance(node, dict):
        out = {key: relax_merge_fields(value) for key, value in node.items()}
        merge = (out.get("properties") or {}).get("merge_fields")
        if isinstance(merge, dict) and "additionalProperties" in merge:
            merge["additionalProperties"] = {}
        return out
    if isinstance(node, list):
        return [relax_merge_fields(item) for item in node]
    return node


@functools.cache
def _validator(path: str, method: str) -> OAS30Validator:
    operation = document()["paths"][path][method]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    return OAS30Validator(relax_merge_fields(copy.deepcopy(inline(schema))))


def request_schema(path: str, method: str) -> dict[str, Any]:
    schema: dict[str, Any] = _validator(path, method).schema
    return copy.deepcopy(schema)


def check_body(path: str, method: str, body: Any) -> dict[str, Any]:
    """``body`` when the document's request schema for ``method path`` accepts it; else the
    400 Mailchimp answers, naming each field at fault."""
    if not isinstance(body, dict):
        raise invalid(
            "The resource submitted could not be validated. For field-specific "
            "details, see the 'errors' array.",
            [
                {
                    "field": "",
                    "message": "Schema describes object, " + f"{type(body).__name__} found instead",
                }
            ],
        )
    errors: list[ValidationError] = list(_validator(path, method).iter_errors(body))
    if errors:
        raise invalid(
            "The resource submitted could not be validated. For field-specific details, see "
            "the 'errors' array.",
            [
                {"field": ".".join(str(p) for p in e.absolute_path), "message": e.message}
                for e in errors
            ],
        )
    return body
