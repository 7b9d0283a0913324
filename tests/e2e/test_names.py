"""Names keep their parts between Kustomer's one full name and Google's names[0], end to end:
honorifics go to Google's prefix and suffix, particles stay with the family name, and a name
written by one app comes back unchanged after a trip through the other."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Pair, person

pytestmark = pytest.mark.django_db


def google_name(pair: Pair, email: str) -> dict[str, Any]:
    name: dict[str, Any] = pair.contact_by_email(email)["names"][0]
    return {k: v for k, v in name.items() if k != "metadata" and not k.startswith("display")}


def test_it_sends_a_kustomer_full_name_to_googles_name_parts(pair: Pair) -> None:
    pair.add_customer("Dr. Martin Luther King Jr.", "mlk@acme.example")
    connection = pair.connect()
    pair.sync(connection)
    name = google_name(pair, "mlk@acme.example")
    assert name.get("honorificPrefix") == "Dr."
    assert name.get("givenName") == "Martin Luther"
    assert name.get("familyName") == "King"
    assert name.get("honorificSuffix") == "Jr."


def test_it_brings_googles_name_parts_back_to_the_same_full_name(pair: Pair) -> None:
    pair.add_customer("Dr. Martin Luther King Jr.", "mlk@acme.example")
    connection = pair.connect()
    pair.sync(connection)
    second = pair.sync(connection)
    assert (second.updated_a, second.updated_b) == (0, 0)
    assert pair.customer_by_email("mlk@acme.example")["name"] == "Dr. Martin Luther King Jr."


def test_it_joins_googles_parts_into_kustomers_name_and_back(pair: Pair) -> None:
    parts = {
        "honorificPrefix": "Prof.",
        "givenName": "Jan",
        "familyName": "van der Berg",
        "honorificSuffix": "PhD",
    }
    pair.add_contact({**person("x", "x", "jan@acme.example"), "names": [parts]})
    connection = pair.connect()
    pair.sync(connection)
    assert pair.customer_by_email("jan@acme.example")["name"] == "Prof. Jan van der Berg PhD"
    second = pair.sync(connection)
    assert (second.updated_a, second.updated_b) == (0, 0)
    assert {k: google_name(pair, "jan@acme.example").get(k) for k in parts} == parts


def test_it_changes_only_the_family_name_when_kustomer_renames(pair: Pair) -> None:
    customer_id = pair.add_customer("Dr. Martin Luther King Jr.", "mlk@acme.example")
    connection = pair.connect()
    pair.sync(connection)
    pair.kustomer.update_customer(
        pair.subdomain, customer_id, {"name": "Dr. Martin Luther Kingston Jr."}
    )
    pair.sync(connection)
    name = google_name(pair, "mlk@acme.example")
    assert (name.get("honorificPrefix"), name.get("givenName")) == ("Dr.", "Martin Luther")
    assert (name.get("familyName"), name.get("honorificSuffix")) == ("Kingston", "Jr.")
