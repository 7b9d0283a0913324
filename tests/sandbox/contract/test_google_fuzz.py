"""Whatever JSON a client sends to a People API write, the emulator answers 200 or Google's 400
``INVALID_ARGUMENT`` (or 404 for a contact that is not there), in JSON, never a server error.
Bounded and deterministic: derandomized Hypothesis, no example database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.google_contacts import GoogleContactsEmulator
from sandbox.server import Sandbox

USER = "fuzz@gmail.example"
scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=5)
keys = st.sampled_from(
    ["names", "emailAddresses", "givenName", "value", "date", "month", "memberships", "etag",
     "contactGroupMembership", "contactGroupResourceName", "contacts", "contactPerson",
     "updateMask", "readMask", "resourceNames", "people/c1", "x"]
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)
# Bodies shaped like people, with values of any type where the fields go.
items = st.dictionaries(
    st.sampled_from(["givenName", "familyName", "value", "type", "key", "date", "metadata",
                     "contactGroupMembership", "current", "x"]),
    json_values,
    max_size=3,
)  # fmt: skip
people = st.dictionaries(
    st.sampled_from(["names", "emailAddresses", "phoneNumbers", "birthdays", "userDefined",
                     "memberships", "organizations", "biographies", "etag", "metadata"]),
    st.lists(items, max_size=2) | json_values,
    max_size=3,
)  # fmt: skip
bodies = (
    json_values
    | people
    | st.fixed_dictionaries(
        {"contacts": st.lists(st.fixed_dictionaries({"contactPerson": people}), max_size=2)},
        optional={"readMask": st.sampled_from(["names", "", "x"])},
    )
    | st.fixed_dictionaries(
        {"contacts": st.dictionaries(st.sampled_from(["people/c1", "{person}"]), people),
         "updateMask": st.sampled_from(["names", "emailAddresses,birthdays", "photos", ""])}
    )
)  # fmt: skip
WRITES = [
    ("POST", "people:createContact", {}),
    ("POST", "people:batchCreateContacts", {}),
    ("POST", "people:batchUpdateContacts", {}),
    ("POST", "people:batchDeleteContacts", {}),
    ("PATCH", "{person}:updateContact", {"updatePersonFields": "names,emailAddresses"}),
    ("POST", "contactGroups", {}),
    ("POST", "contactGroups/myContacts/members:modify", {}),
]


@pytest.fixture(scope="module")
def google() -> Iterator[tuple[str, str, str]]:
    server = Sandbox(slugs=["google_contacts"]).start()
    emulator: GoogleContactsEmulator = server.emulator("google_contacts")
    emulator.access_token_lifetime = 24 * 3600
    token = emulator.issue_tokens(USER)["access_token"]
    person = emulator.add_contact(USER, {"names": [{"givenName": "Ann"}]})["resourceName"]
    try:
        yield server.base_url("google_contacts"), token, person
    finally:
        server.stop()


@pytest.mark.parametrize(("method", "path", "query"), WRITES)
def test_it_never_answers_a_write_with_a_server_error(
    google: tuple[str, str, str], method: str, path: str, query: dict[str, str]
) -> None:
    base, token, person = google

    @settings(
        max_examples=80,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=bodies)
    def check(body: Any) -> None:
        if isinstance(body, dict) and isinstance(body.get("contacts"), dict):
            body["contacts"] = {
                name.replace("{person}", person): value for name, value in body["contacts"].items()
            }
        answer = requests.request(
            method,
            f"{base}/v1/{path.replace('{person}', person)}",
            params=query,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert answer.status_code in (200, 400, 404, 409), (answer.status_code, body)
        assert answer.headers["Content-Type"].startswith("application/json")
        if answer.status_code != 200:
            assert answer.json()["error"]["status"] in (
                "INVALID_ARGUMENT", "FAILED_PRECONDITION", "NOT_FOUND", "ALREADY_EXISTS"
            )  # fmt: skip

    check()
