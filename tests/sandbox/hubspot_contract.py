"""Tandem's own contract of the HubSpot calls Tandem makes: for each operation, the JSON Schema
of its request body and of its answer per status. Written by Tandem from its API notes
(api-notes §3: the contact object, the endpoints and their batch limits, the search limits,
the property types, the error shape of §3.6 and the 429 body of §3.5) and from what the
connector and the emulator rely on (the lists API, the property fields the connector reads).
HubSpot's published OpenAPI documents are proprietary and not redistributable, so they are not
kept in this repository and nothing here is taken from them.

Objects are closed (``additionalProperties: false``): a key the contract does not name is a
shape break, as a misspelt or invented key would be. Not covered: ``/account-info/v3/details``,
the OAuth endpoints and webhook subscriptions (the emulator's own tests check those).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

Schema = dict[str, Any]

MAX_BATCH = 100  # inputs per contacts batch call (§3.3)
MAX_SEARCH_LIMIT = 200  # results per search page (§3.3)
MAX_FILTER_GROUPS = 5  # §3.3, since Aug 2024
MAX_FILTERS_PER_GROUP = 10


def closed(required: Mapping[str, Schema], optional: Mapping[str, Schema] | None = None) -> Schema:
    """An object with exactly these keys: the ``required`` ones and, maybe, the ``optional``."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
        "additionalProperties": False,
    }


def array(items: Schema, *, most: int | None = None, least: int = 0) -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if most is not None:
        schema["maxItems"] = most
    if least:
        schema["minItems"] = least
    return schema


def one_of(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def integer(least: int | None = None, most: int | None = None) -> Schema:
    schema: Schema = {"type": "integer"}
    if least is not None:
        schema["minimum"] = least
    if most is not None:
        schema["maximum"] = most
    return schema


TEXT: Schema = {"type": "string"}
NAME: Schema = {"type": "string", "minLength": 1}
FLAG: Schema = {"type": "boolean"}
ANY_OBJECT: Schema = {"type": "object"}
INSTANT: Schema = {"type": "string", "format": "date-time"}  # ISO 8601, milliseconds, "Z"
RECORD_ID: Schema = {"type": "string", "pattern": "^[0-9]+$"}  # ids are numeric strings
CONTACTS_TYPE_ID: Schema = {"type": "string", "const": "0-1"}  # the contacts object type
# Error context: each key names a list of strings (``ids``, ``existingId``, ``propertyName``).
CONTEXT: Schema = {"type": "object", "additionalProperties": array(TEXT)}

# ---- contacts (§3.2, §3.3) -------------------------------------------------------------------

# Every property value is a string (§3.2); a property asked for that the contact has no value
# of is answered null.
VALUES_OUT: Schema = {"type": "object", "additionalProperties": {"type": ["string", "null"]}}
VALUES_IN: Schema = {"type": "object", "additionalProperties": TEXT}  # "" clears a value

CONTACT: Schema = {
    **closed(
        {
            "id": RECORD_ID,
            "properties": VALUES_OUT,
            "createdAt": INSTANT,
            "updatedAt": INSTANT,
            "archived": FLAG,
        },
        {
            "archivedAt": INSTANT,
            "propertiesWithHistory": {
                "type": "object",
                "additionalProperties": array(ANY_OBJECT),
            },
            "associations": ANY_OBJECT,
            "url": TEXT,
            "objectWriteTraceId": TEXT,
        },
    ),
    # An archived contact says when it was archived.
    "if": {"properties": {"archived": {"const": True}}},
    "then": {"required": ["archivedAt"]},
}

# Absent on the last page (§3.3).
PAGING = closed({"next": closed({"after": NAME}, {"link": TEXT})})

CONTACT_PAGE = closed({"results": array(CONTACT)}, {"paging": PAGING})

NEW_CONTACT = closed({"properties": VALUES_IN}, {"associations": array(ANY_OBJECT)})
CHANGED_CONTACT = closed({"properties": VALUES_IN})

OPERATORS = one_of(
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
)
FILTER = closed(
    {"propertyName": NAME, "operator": OPERATORS},
    {"value": TEXT, "highValue": TEXT, "values": array(TEXT)},
)
SEARCH = closed(
    {},
    {
        # Groups are OR-ed, the filters of a group AND-ed.
        "filterGroups": array(
            closed({"filters": array(FILTER, most=MAX_FILTERS_PER_GROUP)}),
            most=MAX_FILTER_GROUPS,
        ),
        "sorts": array(
            closed({"propertyName": NAME}, {"direction": one_of("ASCENDING", "DESCENDING")})
        ),
        "properties": array(NAME),
        "limit": integer(1, MAX_SEARCH_LIMIT),
        "after": TEXT,
        "query": TEXT,
    },
)
SEARCH_PAGE = closed(
    {"total": integer(0), "results": array(CONTACT)},
    {"paging": PAGING},
)

BATCH_READ = closed(
    {
        "inputs": array(closed({"id": NAME}), most=MAX_BATCH),
        "properties": array(NAME),
        "propertiesWithHistory": array(NAME),
    },
    {"idProperty": NAME},  # "email" to read by email
)
BATCH_CREATE = closed(
    {
        "inputs": array(
            closed(
                {"properties": VALUES_IN},
                # ``objectWriteTraceId`` comes back on the input's result or error: HubSpot
                # answers a batch in no particular order.
                {"associations": array(ANY_OBJECT), "objectWriteTraceId": NAME},
            ),
            most=MAX_BATCH,
        )
    }
)
BATCH_UPDATE = closed(
    {
        "inputs": array(
            closed(
                {"id": NAME, "properties": VALUES_IN},
                {"idProperty": NAME, "objectWriteTraceId": NAME},
            ),
            most=MAX_BATCH,
        )
    }
)
BATCH_ARCHIVE = closed({"inputs": array(closed({"id": NAME}), most=MAX_BATCH)})

# One failed input (or group of inputs) of a batch; ``context`` names them by ``ids`` or
# ``objectWriteTraceId``.
ERROR_DETAIL = closed(
    {"message": TEXT},
    {"code": TEXT, "in": TEXT, "context": CONTEXT, "subCategory": TEXT},
)
BATCH_ERROR = closed(
    {"status": one_of("error"), "category": NAME, "message": TEXT, "context": CONTEXT},
    {"subCategory": TEXT, "errors": array(ERROR_DETAIL), "links": ANY_OBJECT, "id": TEXT},
)
# The batch endpoints Tandem calls answer when done: their status is COMPLETE.
BATCH_FIELDS: dict[str, Schema] = {
    "status": one_of("COMPLETE"),
    "results": array(CONTACT),
    "startedAt": INSTANT,
    "completedAt": INSTANT,
}
BATCH_EXTRAS: dict[str, Schema] = {"requestedAt": INSTANT, "links": ANY_OBJECT}
BATCH_DONE = closed(BATCH_FIELDS, BATCH_EXTRAS)
# 207 Multi-Status: some inputs failed; each failure is in ``errors[]`` (§3.6).
BATCH_PARTIAL = closed(
    {**BATCH_FIELDS, "errors": array(BATCH_ERROR, least=1), "numErrors": integer(1)},
    BATCH_EXTRAS,
)

# ---- properties (§3.3 "Property types") ------------------------------------------------------

PROPERTY_TYPES = one_of(
    "string", "number", "date", "datetime", "enumeration", "bool", "phone_number"
)
FIELD_TYPES = one_of(
    "text",
    "textarea",
    "number",
    "date",
    "select",
    "radio",
    "checkbox",
    "booleancheckbox",
    "phonenumber",
    "html",
    "file",
    "calculation_equation",
)
OPTION = closed(
    {"label": TEXT, "value": NAME},
    {"displayOrder": integer(), "hidden": FLAG, "description": TEXT},
)
PROPERTY = closed(
    {
        "name": NAME,
        "label": TEXT,
        "type": PROPERTY_TYPES,
        "fieldType": FIELD_TYPES,
        "groupName": NAME,
        "options": array(OPTION),
        # What the connector reads to know whether Tandem may write the property.
        "modificationMetadata": closed(
            {"archivable": FLAG, "readOnlyDefinition": FLAG, "readOnlyValue": FLAG},
            {"readOnlyOptions": FLAG},
        ),
    },
    {
        "description": TEXT,
        "displayOrder": integer(),
        "calculated": FLAG,
        "externalOptions": FLAG,
        "hasUniqueValue": FLAG,
        "hidden": FLAG,
        "hubspotDefined": FLAG,
        "formField": FLAG,
        "archived": FLAG,
        "createdAt": INSTANT,
        "updatedAt": INSTANT,
        "archivedAt": INSTANT,
    },
)
NEW_PROPERTY = closed(
    {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "label": NAME,
        "type": PROPERTY_TYPES,
        "fieldType": FIELD_TYPES,
        "groupName": NAME,  # "contactinformation"
    },
    {
        "options": array(OPTION),
        "description": TEXT,
        "hasUniqueValue": FLAG,
        "formField": FLAG,
        "displayOrder": integer(),
        "hidden": FLAG,
    },
)

# ---- lists (the v3 lists API, as the connector uses it for its tags) -------------------------

PROCESSING_TYPES = one_of("MANUAL", "DYNAMIC", "SNAPSHOT")  # MANUAL: a static list
LIST = closed(
    {
        "listId": RECORD_ID,
        "listVersion": integer(0),
        "name": NAME,
        "objectTypeId": CONTACTS_TYPE_ID,
        "processingType": PROCESSING_TYPES,
        "processingStatus": NAME,
        "createdAt": INSTANT,
        "updatedAt": INSTANT,
    },
    {
        "size": integer(0),
        # In search results: the extra list properties asked for, by name.
        "additionalProperties": {"type": "object", "additionalProperties": TEXT},
    },
)
ONE_LIST = closed({"list": LIST})
NEW_LIST = closed(
    {"name": NAME, "objectTypeId": CONTACTS_TYPE_ID, "processingType": PROCESSING_TYPES}
)
LIST_SEARCH = closed(
    {},
    {
        "query": TEXT,
        "offset": integer(0),
        "count": integer(1, 500),
        "processingTypes": array(PROCESSING_TYPES),
        "additionalProperties": array(NAME),
    },
)
LIST_SEARCH_PAGE = closed(
    {"lists": array(LIST), "offset": integer(0), "hasMore": FLAG, "total": integer(0)}
)
RECORD_IDS = array(RECORD_ID, most=100_000)
MEMBERSHIP_CHANGE = closed(
    {
        "recordsIdsAdded": array(RECORD_ID),  # sic: HubSpot's spelling
        "recordIdsRemoved": array(RECORD_ID),
        "recordIdsMissing": array(RECORD_ID),
    }
)
MEMBERS_PAGE = closed(
    {"results": array(closed({"recordId": RECORD_ID, "membershipTimestamp": INSTANT}))},
    {"total": integer(0), "paging": PAGING},
)
MEMBERSHIPS_READ = closed(
    {
        "inputs": array(
            closed({"objectTypeId": CONTACTS_TYPE_ID, "recordId": RECORD_ID}), most=MAX_BATCH
        )
    }
)
MEMBERSHIP_FIELDS: dict[str, Schema] = {
    "status": one_of("COMPLETE"),
    "results": array(
        closed(
            {
                "objectTypeId": CONTACTS_TYPE_ID,
                "recordId": RECORD_ID,
                "recordListMemberships": array(
                    closed(
                        {
                            "listId": RECORD_ID,
                            "listVersion": integer(0),
                            "firstAddedTimestamp": INSTANT,
                            "lastAddedTimestamp": INSTANT,
                        },
                        {"isPublicList": FLAG},
                    )
                ),
            }
        )
    ),
    "startedAt": INSTANT,
    "completedAt": INSTANT,
}
MEMBERSHIPS_DONE = closed(MEMBERSHIP_FIELDS, BATCH_EXTRAS)
MEMBERSHIPS_PARTIAL = closed(
    {**MEMBERSHIP_FIELDS, "errors": array(BATCH_ERROR, least=1), "numErrors": integer(1)},
    BATCH_EXTRAS,
)

# ---- errors (§3.6) and the rate limiter's 429 (§3.5) -----------------------------------------

ERROR = closed(
    {
        "status": one_of("error"),
        "message": TEXT,
        "correlationId": {"type": "string", "format": "uuid"},
        "category": {"type": "string", "pattern": "^[A-Z][A-Z_]*$"},  # VALIDATION_ERROR ...
    },
    {"subCategory": TEXT, "context": CONTEXT, "links": ANY_OBJECT, "errors": array(ERROR_DETAIL)},
)
RATE_LIMITED = closed(
    {
        "status": one_of("error"),
        "message": TEXT,
        "errorType": one_of("RATE_LIMIT"),
        "correlationId": {"type": "string", "format": "uuid"},
        # SECONDLY: the search endpoint's own per-second limit.
        "policyName": one_of("TEN_SECONDLY_ROLLING", "DAILY", "SECONDLY"),
    },
    {"requestId": TEXT},  # gone since 2020, still tolerated
)

# What any operation may answer when it fails.
FAILURES: dict[int, Schema] = {
    400: ERROR,
    401: ERROR,
    403: ERROR,
    404: ERROR,
    413: ERROR,
    429: RATE_LIMITED,
    500: ERROR,
    502: ERROR,
    503: ERROR,
    504: ERROR,
}
NO_BODY = None  # 204


@dataclass(frozen=True)
class Operation:
    request: Schema | None
    answers: Mapping[int, Schema | None]
    failures: Mapping[int, Schema] | None = None  # FAILURES when None


# The writes that answer 409: an email another contact has, a property name in use.
OR_CONFLICT: dict[int, Schema] = {**FAILURES, 409: ERROR}


CONTACTS = "/crm/v3/objects/contacts"
LISTS = "/crm/v3/lists"
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", CONTACTS): Operation(None, {200: CONTACT_PAGE}),
    ("POST", CONTACTS): Operation(NEW_CONTACT, {201: CONTACT}, OR_CONFLICT),  # email in use
    ("POST", f"{CONTACTS}/search"): Operation(SEARCH, {200: SEARCH_PAGE}),
    ("POST", f"{CONTACTS}/batch/read"): Operation(
        BATCH_READ, {200: BATCH_DONE, 207: BATCH_PARTIAL}
    ),
    ("POST", f"{CONTACTS}/batch/create"): Operation(
        BATCH_CREATE, {201: BATCH_DONE, 207: BATCH_PARTIAL}
    ),
    ("POST", f"{CONTACTS}/batch/update"): Operation(
        BATCH_UPDATE, {200: BATCH_DONE, 207: BATCH_PARTIAL}
    ),
    ("POST", f"{CONTACTS}/batch/archive"): Operation(BATCH_ARCHIVE, {204: NO_BODY}),
    ("GET", f"{CONTACTS}/{{contactId}}"): Operation(None, {200: CONTACT}),
    ("PATCH", f"{CONTACTS}/{{contactId}}"): Operation(CHANGED_CONTACT, {200: CONTACT}, OR_CONFLICT),
    ("DELETE", f"{CONTACTS}/{{contactId}}"): Operation(None, {204: NO_BODY}),
    ("GET", "/crm/v3/properties/contacts"): Operation(
        None, {200: closed({"results": array(PROPERTY)})}
    ),
    ("POST", "/crm/v3/properties/contacts"): Operation(NEW_PROPERTY, {201: PROPERTY}, OR_CONFLICT),
    ("GET", "/crm/v3/properties/contacts/{propertyName}"): Operation(None, {200: PROPERTY}),
    ("POST", LISTS): Operation(NEW_LIST, {200: ONE_LIST}),
    ("POST", f"{LISTS}/search"): Operation(LIST_SEARCH, {200: LIST_SEARCH_PAGE}),
    ("GET", f"{LISTS}/{{listId}}"): Operation(None, {200: ONE_LIST}),
    ("GET", f"{LISTS}/object-type-id/{{objectTypeId}}/name/{{listName}}"): Operation(
        None, {200: ONE_LIST}
    ),
    ("GET", f"{LISTS}/{{listId}}/memberships"): Operation(None, {200: MEMBERS_PAGE}),
    ("PUT", f"{LISTS}/{{listId}}/memberships/add"): Operation(RECORD_IDS, {200: MEMBERSHIP_CHANGE}),
    ("PUT", f"{LISTS}/{{listId}}/memberships/remove"): Operation(
        RECORD_IDS, {200: MEMBERSHIP_CHANGE}
    ),
    ("POST", f"{LISTS}/records/memberships/batch/read"): Operation(
        MEMBERSHIPS_READ, {200: MEMBERSHIPS_DONE, 207: MEMBERSHIPS_PARTIAL}
    ),
}


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))


PATTERNS = {key: _pattern(key[1]) for key in OPERATIONS}


def operation_of(method: str, path: str) -> str:
    """The template of the operation ``method path`` is a call of (``AssertionError`` when the
    contract has none: a call Tandem makes should be in it)."""
    for (known, template), pattern in PATTERNS.items():
        if known == method.upper() and pattern.fullmatch(path):
            return template
    raise AssertionError(f"the contract has no {method} {path}")


def problems(schema: Schema, value: Any) -> list[str]:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)
    ]


def request_problems(method: str, path: str, body: Any) -> list[str]:
    """Why ``body`` is not a request body of ``method path`` (none when it is)."""
    schema = OPERATIONS[(method.upper(), operation_of(method, path))].request
    if schema is None:
        return [] if body is None else ["this call takes no body"]
    return problems(schema, body)


def answer_problems(method: str, path: str, status: int, body: bytes) -> list[str]:
    """Why ``body`` is not an answer of ``method path`` with ``status`` (none when it is)."""
    operation = OPERATIONS[(method.upper(), operation_of(method, path))]
    answers = {**(operation.failures or FAILURES), **operation.answers}
    if status not in answers:
        return [f"{status} is not an answer of {method} {path}"]
    schema = answers[status]
    if schema is None:
        return [] if body == b"" else [f"a {status} has no body"]
    try:
        value = json.loads(body)
    except ValueError:
        return ["the body is not JSON"]
    return problems(schema, value)
