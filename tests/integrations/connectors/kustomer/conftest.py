from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integrations.connectors.http import HttpClient
from integrations.connectors.kustomer.connector import KustomerConnector
from sandbox.kustomer import ALL_ROLES, KustomerEmulator
from sandbox.server import Sandbox

SUBDOMAIN = "acme"
EMAIL = "owner@acme.example"
PASSWORD = "correct-horse-battery"
API_KEY = "acme-full-key-0001"
METADATA = {
    "loyaltyTierStr": {"displayName": "Loyalty Tier", "enumeration": ["bronze", "silver", "gold"]},
    "totalSpentNum": {"displayName": "Total Spent"},
    "vipBool": {"displayName": "VIP"},
    "lastOrderAt": {"displayName": "Last Order"},
}


@pytest.fixture(scope="module")
def kustomer_sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox(slugs=["kustomer"]).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def emulator(kustomer_sandbox: Sandbox, settings: Any) -> KustomerEmulator:
    settings.KUSTOMER_BASE_URL_TEMPLATE = kustomer_sandbox.base_url("kustomer") + "/{subdomain}"
    emulator: KustomerEmulator = kustomer_sandbox.emulator("kustomer")
    emulator.reset()
    emulator.create_org(
        SUBDOMAIN,
        users=[(EMAIL, PASSWORD)],
        api_keys={API_KEY: ALL_ROLES, "read-only-key": ["org.permission.metadata.read"]},
        metadata=METADATA,
    )
    return emulator


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def make_connector(
    emulator: KustomerEmulator, waits: list[float]
) -> Callable[..., KustomerConnector]:
    def make(**credentials: Any) -> KustomerConnector:
        credentials.setdefault("subdomain", SUBDOMAIN)
        if "email" not in credentials:
            credentials.setdefault("api_key", API_KEY)
        return KustomerConnector(credentials, http=HttpClient(app="kustomer", sleep=waits.append))

    return make


@pytest.fixture
def connector(make_connector: Callable[..., KustomerConnector]) -> KustomerConnector:
    return make_connector()


def seed(emulator: KustomerEmulator, count: int, start: int = 0) -> list[str]:
    """``count`` customers added to the org, numbered from ``start``; their ids."""
    return [
        emulator.add_customer(
            SUBDOMAIN, {"name": f"Person {i}", "emails": [{"email": f"p{i}@example.com"}]}
        )["id"]
        for i in range(start, start + count)
    ]
