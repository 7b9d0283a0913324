"""A customer search's page is decoded for what Tandem reads of each customer (its id and the
attributes ``contact_from_customer`` reads), the rest skipped; each customer is then the
contact the whole decoding gives. A page not shaped as documented is left to the whole
decoding (``None``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from integrations.connectors.kustomer.connector import KustomerConnector
from integrations.connectors.kustomer.mappers import (
    READ_ATTRIBUTES,
    contact_from_customer,
    search_page,
)
from integrations.sync.fields import FieldSpec, FieldType
from sandbox.kustomer import KustomerEmulator
from tests.integrations.connectors.kustomer.conftest import seed

# Attributes Tandem does not read, as a real customer holds them.
UNREAD = {
    "displayName": "Ann Lee",
    "displayColor": "orange",
    "externalIds": [{"externalId": "x"}],
    "sharedEmails": [],
    "lastConversation": {"id": "c1", "sentiment": {"polarity": 1}, "tags": ["t"]},
    "preview": {"previewAt": "2026-11-30T10:00:00.000Z", "text": ""},
    "recentLocation": {"updatedAt": "2026-11-30T10:00:00.000Z"},
    "modifiedAt": "2026-11-30T10:00:00.000Z",
}

CUSTOMERS: list[dict[str, Any]] = [
    {
        "type": "customer",
        "id": "c-full",
        "attributes": {
            "name": "Ann Lee",
            "company": "Acme",
            "externalId": "tandem-intent:k1",
            "locale": "en_US",
            "timeZone": "Europe/Brussels",
            "birthdayAt": "1990-02-03T00:00:00.000Z",
            "emails": [{"type": "work", "email": "ann@acme.example"}, {"email": "a@x.example"}],
            "phones": [{"type": "mobile", "phone": "+32 9 111 22 33"}],
            "urls": [{"type": "other", "url": "https://acme.example"}],
            "locations": [{"type": "home", "address1": "1 Main St", "cityName": "Gent"}],
            "tags": ["vip", "new"],
            "custom": {"tierStr": "gold", "lastOrderAt": "2026-11-01T10:00:00Z"},
            "sentiment": {"polarity": -1, "confidence": 1},
            "conversationCounts": {"all": 3, "open": 2},
            "updatedAt": "2026-11-30T10:00:00.000Z",
            "rev": 7,
            "deleted": False,
            **UNREAD,
        },
        "relationships": {"modifiedBy": {"data": {"type": "user", "id": "u1"}}},
    },
    {"type": "customer", "id": "c-nulls", "attributes": {"name": None, "emails": None, **UNREAD}},
    {"type": "customer", "id": "c-deleted", "attributes": {"deleted": True, "rev": 9}},
    {"type": "customer", "id": "c-bare", "attributes": None},
    {"type": "customer", "id": "c-none"},
    {  # odd types: parked with a problem, its emails kept
        "id": "c-odd",
        "attributes": {"name": ["Ann"], "emails": [{"email": "odd@x.example"}], "tags": "vip"},
    },
]
FIELDS = {
    "custom.lastOrderAt": FieldSpec(
        key="custom.lastOrderAt", label="Last order", type=FieldType.DATETIME
    )
}


def _body(customers: list[dict[str, Any]]) -> bytes:
    links = {"self": "/v1/customers/search?page=1", "next": "/v1/customers/search?page=2"}
    meta = {"page": 1, "totalPages": 2}
    return json.dumps({"data": customers, "links": links, "meta": meta}).encode()


@pytest.mark.parametrize("customer", CUSTOMERS, ids=lambda c: c["id"])
def test_each_customer_is_the_contact_the_whole_decoding_gives(customer: dict[str, Any]) -> None:
    page = search_page(_body([customer]))

    assert page is not None
    [resource] = page["data"]
    assert contact_from_customer(resource, FIELDS) == contact_from_customer(customer, FIELDS)


def test_it_keeps_the_read_attributes_and_the_pages_links_and_meta() -> None:
    page = search_page(_body(CUSTOMERS))

    assert page is not None
    assert page["links"]["next"] == "/v1/customers/search?page=2"
    assert page["meta"] == {"page": 1, "totalPages": 2}
    full, nulls, _, bare, none, _ = page["data"]
    assert set(full["attributes"]) == set(READ_ATTRIBUTES)
    assert nulls["attributes"] == {"name": None, "emails": None}
    assert bare == {"id": "c-bare", "attributes": None}
    assert none == {"id": "c-none"}


class _Recording(dict[str, Any]):
    """A customer's attributes that note each one read."""

    read: set[str]

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)


@pytest.mark.parametrize("customer", CUSTOMERS[:1] + CUSTOMERS[-1:], ids=["readable", "odd"])
def test_every_attribute_the_mapper_reads_is_decoded(customer: Mapping[str, Any]) -> None:
    attributes = _Recording(customer["attributes"])
    attributes.read = set()

    contact_from_customer({"id": customer["id"], "attributes": attributes}, FIELDS)

    assert attributes.read <= set(READ_ATTRIBUTES)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>",
        b"[1, 2]",
        json.dumps({"data": {"id": "c1"}}).encode(),
        json.dumps({"data": ["c1"]}).encode(),
        json.dumps({"data": [{"id": "c1", "attributes": ["x"]}]}).encode(),
    ],
    ids=["not JSON", "a list", "data an object", "a customer as text", "attributes a list"],
)
def test_a_page_not_shaped_as_documented_is_left_to_the_whole_decoding(body: bytes) -> None:
    assert search_page(body) is None


def test_a_listing_over_http_reads_the_customers_it_stored(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    ids = seed(emulator, 3)

    records = [r for page in connector.list_changed(None) for r in page.records]

    assert sorted(r.id for r in records) == sorted(ids)
    assert all(r.values["emails"] and not r.problem for r in records)
