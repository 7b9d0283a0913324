"""The Kustomer emulator answers "changed since, by anyone but these users" (a change feed
leaving out its own writes) from its index split by last modifier: the same customers in the
same order, page by page, as filtering every change since the bound."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox.kustomer import KustomerEmulator
from sandbox.server import Sandbox

SANDBOX_APPS = ["kustomer"]

KEY, OTHER_KEY = "acme-key-0001", "acme-key-0002"
ROLES = [
    "org.permission.customer.read",
    "org.permission.customer.create",
    "org.permission.customer.update",
    "org.permission.customer.delete",
    "org.permission.search.create",
]
START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def emulator(sandbox: Sandbox) -> KustomerEmulator:
    emulator: KustomerEmulator = sandbox.emulator("kustomer")
    emulator.reset()
    emulator.create_org("acme")
    emulator.set_rate_limit("acme", 10**6, search_per_minute=10**6)
    return emulator


Call = Callable[..., requests.Response]


@pytest.fixture
def users(emulator: KustomerEmulator) -> dict[str, str]:
    return {key: emulator.add_api_key("acme", key, ROLES) for key in (KEY, OTHER_KEY)}


@pytest.fixture
def call(sandbox: Sandbox, users: dict[str, str]) -> Call:
    def send(method: str, path: str, *, key: str = KEY, **kwargs: Any) -> requests.Response:
        response = requests.request(
            method,
            sandbox.base_url("kustomer") + "/acme/v1" + path,
            headers={"Authorization": f"Bearer {key}"},
            timeout=5,
            **kwargs,
        )
        assert response.status_code < 300, response.text
        return response

    return send


def _history(call: Call, emulator: KustomerEmulator, seed: int) -> None:
    """Creates, edits and deletions by two API keys and by people in Kustomer's UI, several
    in the same millisecond (ties on the update time are ordered by id)."""
    rng = random.Random(seed)
    emulator.freeze_clock(START)
    ids: list[str] = []
    for step in range(60):
        if step % 3 == 0:  # a few changes share each stamp
            emulator.advance_clock(rng.choice([0.001, 0.5, 2.0]))
        who = rng.choice([KEY, OTHER_KEY, "ui"])
        action = rng.choice(["create", "edit", "edit", "delete"]) if ids else "create"
        if action == "create":
            name = {"name": f"Person {step}"}
            if who == "ui":
                ids.append(emulator.add_customer("acme", name)["id"])
            else:
                ids.append(call("POST", "/customers", key=who, json=name).json()["data"]["id"])
        elif action == "edit":
            target = rng.choice(ids)
            if who == "ui":
                emulator.update_customer("acme", target, {"company": f"Co {step}"})
            else:
                call("PATCH", f"/customers/{target}", key=who, json={"company": f"Co {step}"})
        else:
            target = ids.pop(rng.randrange(len(ids)))
            if who == "ui":
                emulator.delete_customer("acme", target)
            else:
                call("DELETE", f"/customers/{target}", key=who)


def _expected(
    emulator: KustomerEmulator, excluded: set[str], since: str, *, include_deleted: bool
) -> list[str]:
    """The customers the search must find, by filtering every stored one."""
    bound = dt.datetime.fromisoformat(since.replace("Z", "+00:00"))
    found = []
    for customer in emulator.customers("acme"):
        attrs = customer["attributes"]
        modifier = customer["relationships"]["modifiedBy"]["data"]["id"]
        updated = dt.datetime.fromisoformat(attrs["updatedAt"].replace("Z", "+00:00"))
        if modifier in excluded or updated < bound:
            continue
        if attrs.get("deleted") and not include_deleted:
            continue
        found.append((updated, customer["id"]))
    return [customer_id for _, customer_id in sorted(found)]


def _searched(call: Call, body: dict[str, Any], page_size: int) -> list[str]:
    found: list[str] = []
    page = 1
    while True:
        answer = call(
            "POST", "/customers/search", params={"page": page, "pageSize": page_size}, json=body
        ).json()
        found += [customer["id"] for customer in answer["data"]]
        assert answer["meta"]["total"] >= len(found)
        if not answer["links"]["next"]:
            return found
        page += 1


def _body(not_group: list[dict[str, Any]], since: str, include_deleted: bool) -> dict[str, Any]:
    return {
        "queryContext": "customer",
        "sort": [{"customer_updated_at": "asc"}],
        "and": [{"customer_updated_at": {"gte": since}}],
        "not": not_group,
        "includeDeleted": include_deleted,
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("include_deleted", [False, True], ids=["live", "with-deleted"])
def test_it_finds_what_filtering_every_change_finds(
    call: Call,
    emulator: KustomerEmulator,
    users: dict[str, str],
    seed: int,
    include_deleted: bool,
) -> None:
    _history(call, emulator, seed)
    stamps = sorted({c["attributes"]["updatedAt"] for c in emulator.customers("acme")})
    for since in (stamps[0], stamps[len(stamps) // 3], stamps[-2], "2000-01-01T00:00:00.000Z"):
        for not_group, excluded in (
            ([{"customer_modified_by": {"equals": users[KEY]}}], {users[KEY]}),
            ([{"customer_modified_by": {"in": list(users.values())}}], set(users.values())),
        ):
            expected = _expected(emulator, excluded, since, include_deleted=include_deleted)
            body = _body(not_group, since, include_deleted)
            for page_size in (7, 100):
                assert _searched(call, body, page_size) == expected


def test_it_rebuilds_the_index_for_an_org_saved_before_it_had_one(
    call: Call, emulator: KustomerEmulator, users: dict[str, str]
) -> None:
    _history(call, emulator, 4)
    org = emulator.org("acme")
    del vars(org)["by_modifier"]
    for doc in org.customers.values():
        doc.pop("modifier_key")
    since = "2000-01-01T00:00:00.000Z"

    def check() -> None:
        for user in users.values():
            body = _body([{"customer_modified_by": {"equals": user}}], since, True)
            expected = _expected(emulator, {user}, since, include_deleted=True)
            assert _searched(call, body, 100) == expected

    check()
    _history(call, emulator, 5)  # changes after the rebuild keep it current
    check()
