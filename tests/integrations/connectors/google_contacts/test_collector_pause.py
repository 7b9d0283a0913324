"""The change feed holds Python's garbage collector off while it decodes and converts a page
(a page of 1,000 persons set off a full collection every few pages), and gives it back as it
found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from integrations.connectors.google_contacts import connector as google
from integrations.connectors.google_contacts.connector import (
    GoogleContactsConnector,
    collector_paused,
)
from sandbox.google_contacts import GoogleContactsEmulator

from .conftest import EMAIL


@pytest.fixture
def collector_running() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not was:
            gc.disable()


def _book(emulator: GoogleContactsEmulator, count: int) -> None:
    for i in range(count):
        emulator.add_contact(
            EMAIL,
            {
                "names": [{"givenName": f"P{i}", "familyName": "X"}],
                "emailAddresses": [{"value": f"p{i}@x.example"}],
            },
        )


def test_it_converts_each_page_with_the_collector_paused_and_restarts_it(
    emulator: GoogleContactsEmulator,
    connector: GoogleContactsConnector,
    monkeypatch: pytest.MonkeyPatch,
    collector_running: None,
) -> None:
    _book(emulator, 3)
    running: list[bool] = []
    convert = google.mappers.person_to_contact

    def watched(person: Any, groups: Any, **options: Any) -> Any:
        running.append(gc.isenabled())
        return convert(person, groups, **options)

    monkeypatch.setattr(google.mappers, "person_to_contact", watched)

    pages = list(connector.list_changed(None))

    assert sum(len(page.records) for page in pages) == 3
    assert running == [False, False, False]
    assert gc.isenabled()


def test_it_leaves_a_collector_someone_else_stopped_stopped(
    emulator: GoogleContactsEmulator, connector: GoogleContactsConnector
) -> None:
    _book(emulator, 2)
    was = gc.isenabled()
    gc.disable()
    try:
        list(connector.list_changed(None))
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_it_restarts_the_collector_after_a_page_fails(
    emulator: GoogleContactsEmulator,
    connector: GoogleContactsConnector,
    monkeypatch: pytest.MonkeyPatch,
    collector_running: None,
) -> None:
    _book(emulator, 1)

    def broken(person: Any, groups: Any, **options: Any) -> Any:
        raise RuntimeError("unreadable person")

    monkeypatch.setattr(google.mappers, "person_to_contact", broken)

    with pytest.raises(RuntimeError):
        list(connector.list_changed(None))
    assert gc.isenabled()


def test_the_last_of_overlapping_pauses_restarts_it(collector_running: None) -> None:
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
