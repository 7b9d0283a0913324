"""A change feed's pages are read from the socket in one piece (``stream=True`` and one read of
the raw body): the answers are the same as ``Response.json`` gives, and the connection goes
back to the pool for the next page rather than being held by an unread stream."""

from __future__ import annotations

from typing import Any

from integrations.connectors.api import json_object
from integrations.connectors.google_contacts.connector import GoogleContactsConnector
from sandbox.google_contacts import GoogleContactsEmulator

from .conftest import EMAIL, person


def _new_connections(connector: GoogleContactsConnector) -> int:
    pools = connector.api.http.session.get_adapter("http://").poolmanager.pools
    # urllib3's pool container refuses plain iteration; keys() is its way.
    return sum(pools[key].num_connections for key in pools.keys())  # noqa: SIM118


def test_the_pages_of_a_listing_are_read_whole_over_one_connection(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    for i in range(5):
        emulator.add_contact(EMAIL, person(f"P{i}", "Reader", f"p{i}@example.com"))
    pages: list[dict[str, Any]] = []
    token = ""
    while True:
        answer = json_object(connector.api.connections_page(page_size=2, page_token=token))
        pages.append(answer)
        token = answer.get("nextPageToken", "")
        if not token:
            break

    assert [len(p["connections"]) for p in pages] == [2, 2, 1]
    assert sorted(p["names"][0]["givenName"] for a in pages for p in a["connections"]) == [
        f"P{i}" for i in range(5)
    ]
    # Every page read to its end, so the first connection served them all.
    assert _new_connections(connector) == 1


def test_a_body_that_is_not_a_json_object_reads_as_an_empty_one() -> None:
    assert json_object(b'{"connections": []}') == {"connections": []}
    assert json_object(b"[1, 2]") == {}
    assert json_object(b"<html>") == {}
    assert json_object(b"") == {}
