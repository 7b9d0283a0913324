"""The Kustomer emulator's identifier index (email, phone, external id -> the customer holding
it): kept as plain strings under each kind, so that the garbage collector never tracks it and a
change to one customer never makes the next young collection walk every identifier of the org;
a state saved while it was keyed by (kind, value) loads into that shape."""

from __future__ import annotations

import gc

import pytest
import requests

from sandbox.kustomer import ALL_ROLES, KustomerEmulator
from sandbox.server import Sandbox

SANDBOX_APPS = ["kustomer"]

KEY = "acme-key-0001"


@pytest.fixture
def emulator(sandbox: Sandbox) -> KustomerEmulator:
    emulator: KustomerEmulator = sandbox.emulator("kustomer")
    emulator.reset()
    emulator.create_org("acme", api_keys={KEY: ALL_ROLES})
    for i in range(20):
        emulator.add_customer(
            "acme",
            {
                "name": f"Person {i}",
                "emails": [{"email": f"Person{i}@Example.com"}],
                "phones": [{"phone": f"+1 415 555 {1000 + i}"}],
                "externalId": f"ext-{i}",
            },
        )
    return emulator


def _lookup(sandbox: Sandbox, what: str) -> requests.Response:
    return requests.get(
        f"{sandbox.base_url('kustomer')}/acme/v1/customers/{what}",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=5,
    )


def test_the_identifier_index_is_never_tracked_by_the_garbage_collector(
    emulator: KustomerEmulator,
) -> None:
    first = emulator.customers("acme")[0]
    emulator.update_customer(
        "acme", first["id"], {"emails": [{"email": "moved@example.com"}], "externalId": "new-1"}
    )
    index = emulator.org("acme").index
    assert set(index) == {"emails", "phones", "externalId"}
    assert [kind for kind, values in index.items() if gc.is_tracked(values)] == []
    assert index["emails"]["moved@example.com"] == first["id"]
    assert "person0@example.com" not in index["emails"]


def test_a_state_saved_with_kind_and_value_keys_loads_and_answers_lookups(
    sandbox: Sandbox, emulator: KustomerEmulator
) -> None:
    org = emulator.org("acme")
    expected = {kind: dict(values) for kind, values in org.index.items()}
    # The shape a state saved before this change holds: one dict keyed by (kind, value).
    org.index = {(kind, v): h for kind, values in expected.items() for v, h in values.items()}  # type: ignore[misc]
    saved = emulator.dump_state()
    emulator.reset()
    emulator.load_state(saved)

    assert emulator.org("acme").index == expected
    holder = expected["emails"]["person3@example.com"]
    found = _lookup(sandbox, "email=person3@example.com")
    assert found.status_code == 200, found.text
    assert found.json()["data"]["id"] == holder
    assert _lookup(sandbox, "externalId=ext-3").json()["data"]["id"] == holder
    assert _lookup(sandbox, "email=nobody@example.com").status_code == 404


def test_a_duplicate_identifier_is_still_refused_after_a_load(
    sandbox: Sandbox, emulator: KustomerEmulator
) -> None:
    emulator.load_state(emulator.dump_state())
    taken = requests.post(
        f"{sandbox.base_url('kustomer')}/acme/v1/customers",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"name": "Copy", "emails": [{"email": "PERSON5@example.com"}]},
        timeout=5,
    )
    assert taken.status_code == 409, taken.text
    assert "person5@example.com" in taken.text
