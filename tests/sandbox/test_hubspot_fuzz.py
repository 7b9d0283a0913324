"""Whatever JSON a client sends to a HubSpot write or search, the emulator answers its success
status or one of HubSpot's 4xx in HubSpot's error shape, never a server error, and a refused
single write stores nothing. Bounded and deterministic: derandomized Hypothesis, no example
database, requests served in-process (the emulator is a WSGI app)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from sandbox.hubspot import HubSpotEmulator, add_demo_properties

HUB = 9
TOKEN = "pat-fuzz"
scalars = st.none() | st.booleans() | st.integers(-3, 10**13) | st.text(max_size=6)
keys = st.sampled_from(
    ["properties", "inputs", "id", "idProperty", "email", "firstname", "total_spent", "vip",
     "interests", "last_order", "lifecyclestage", "filterGroups", "filters", "propertyName",
     "operator", "value", "values", "highValue", "sorts", "direction", "limit", "after",
     "objectWriteTraceId", "name", "label", "type", "fieldType", "groupName", "options",
     "processingType", "objectTypeId", "recordId", "x"]
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=10,
)
properties = st.dictionaries(
    st.sampled_from(["email", "firstname", "total_spent", "vip", "interests", "last_order",
                     "lifecyclestage", "hs_object_id", "nope"]),
    scalars | st.sampled_from(["a@b.example", "gold", "hardware;software", "2026-01-31",
                               "1572480000000", "true", "12.5", "customer"]),
    max_size=4,
)  # fmt: skip
inputs = st.fixed_dictionaries(
    {"properties": properties | json_values},
    optional={"id": scalars, "idProperty": st.sampled_from(["email", "x"]),
              "objectWriteTraceId": scalars},
)  # fmt: skip
names = st.sampled_from(["email", "total_spent", "lastmodifieddate", "nope"]) | scalars
filters = st.fixed_dictionaries(
    {"propertyName": names,
     "operator": st.sampled_from(["EQ", "GTE", "BETWEEN", "IN", "HAS_PROPERTY", "CONTAINS_TOKEN",
                                  "LIKE"]) | scalars},
    optional={"value": scalars, "values": json_values, "highValue": scalars},
)  # fmt: skip
bodies = (
    json_values
    | st.fixed_dictionaries({"properties": properties | json_values})
    | st.fixed_dictionaries({"inputs": st.lists(inputs, max_size=3) | json_values})
    | st.fixed_dictionaries(
        {"filterGroups": st.lists(st.fixed_dictionaries({"filters": st.lists(filters, max_size=3)}),
                                  max_size=3)},
        optional={"sorts": json_values, "limit": scalars, "after": scalars,
                  "properties": json_values, "query": scalars},
    )
)  # fmt: skip
CALLS = [
    ("POST", "/crm/v3/objects/contacts", (201,)),
    ("PATCH", "/crm/v3/objects/contacts/{id}", (200,)),
    ("POST", "/crm/v3/objects/contacts/search", (200,)),
    ("POST", "/crm/v3/objects/contacts/batch/read", (200, 207)),
    ("POST", "/crm/v3/objects/contacts/batch/create", (201, 207)),
    ("POST", "/crm/v3/objects/contacts/batch/update", (200, 207)),
    ("POST", "/crm/v3/objects/contacts/batch/archive", (204,)),
    ("POST", "/crm/v3/properties/contacts", (201,)),
    ("POST", "/crm/v3/lists", (200,)),
    ("PUT", "/crm/v3/lists/{list}/memberships/add", (200,)),
    ("POST", "/crm/v3/lists/records/memberships/batch/read", (200,)),
]


@pytest.mark.parametrize(("method", "path", "success"), CALLS)
def test_it_never_answers_a_body_with_a_server_error(
    method: str, path: str, success: tuple[int, ...]
) -> None:
    emulator = HubSpotEmulator()
    emulator.create_portal(hub_id=HUB)
    emulator.add_private_app(HUB, TOKEN)
    emulator.set_limits(HUB, burst=10**9, search_per_second=10**9, daily=10**9)
    add_demo_properties(emulator, HUB)
    contact = str(emulator.add_contact(HUB, {"email": "kept@acme.example"})["id"])
    listed = emulator.portals[HUB]
    list_id = "1"
    listed.lists[list_id] = {
        "listId": list_id, "listVersion": 1, "name": "Fuzz", "processingType": "MANUAL",
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z",
    }  # fmt: skip
    listed.members[list_id] = {}
    client = Client(emulator)
    url = path.replace("{id}", contact).replace("{list}", list_id)

    @settings(
        max_examples=50,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=bodies)
    def check(body: Any) -> None:
        before = emulator.contacts(HUB)
        answer = client.open(
            url,
            method=method,
            data=json.dumps(body),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        assert answer.status_code in (*success, 400, 404, 409), (answer.status_code, body)
        if answer.status_code == 204:
            return
        assert answer.headers["Content-Type"].startswith("application/json")
        if answer.status_code >= 400:
            assert answer.get_json()["status"] == "error"
            assert answer.get_json()["category"]
            assert emulator.contacts(HUB) == before

    check()
