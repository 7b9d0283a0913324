"""The ``updated_at`` change feed: ties at the cursor, versions that moved on, the page cap."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.connectors.base import ConnectorError
from integrations.connectors.feed import Listed, UpdatedAtCursor, updated_at_pages
from integrations.sync.records import Contact

T1, T2, T3 = "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z"


def rec(record_id: str, version: str = "1") -> Contact:
    return Contact(id=record_id, version=version)


class Search:
    """Records by stamp, searched ``>= since`` in pages of ``size``, ``cap`` pages at most."""

    def __init__(self, records: list[tuple[Contact, str]], *, size: int = 2, cap: int = 99):
        self.records = records
        self.size = size
        self.cap = cap
        self.since: list[str | None] = []

    def __call__(self, since: str | None) -> Iterator[Listed]:
        self.since.append(since)
        found = [(r, s) for r, s in self.records if since is None or s >= since]
        pages = [found[i : i + self.size] for i in range(0, len(found), self.size)] or [[]]
        for number, page in enumerate(pages, start=1):
            last = number == len(pages)
            capped = not last and number == self.cap
            yield Listed(page, last=last, capped=capped)
            if capped:
                return


def ids(pages: list) -> list[str]:  # type: ignore[type-arg]
    return [r.id for page in pages for r in page.records]


def test_it_reads_everything_first_as_a_full_scan() -> None:
    pages = list(updated_at_pages(None, Search([(rec("a"), T1), (rec("b"), T2)]), app_name="X"))

    assert ids(pages) == ["a", "b"] and all(p.full_scan for p in pages)
    assert pages[-1].checkpoint == {"updated_at": T2, "seen_ids": ["b"], "revs": {"b": "1"}}


def test_it_skips_the_ties_already_applied_at_the_cursor() -> None:
    search = Search([(rec("a"), T1), (rec("b"), T1), (rec("c"), T2)])
    checkpoint = {"updated_at": T1, "seen_ids": ["a"], "revs": {"a": "1"}}

    pages = list(updated_at_pages(checkpoint, search, app_name="X"))

    assert ids(pages) == ["b", "c"] and not any(p.full_scan for p in pages)
    assert search.since == [T1]


def test_it_reads_a_tie_again_when_its_version_moved_on() -> None:
    checkpoint = {"updated_at": T1, "seen_ids": ["a"], "revs": {"a": "1"}}

    pages = list(updated_at_pages(checkpoint, Search([(rec("a", "2"), T1)]), app_name="X"))

    assert ids(pages) == ["a"]


def test_it_restarts_from_the_last_stamp_after_the_page_cap() -> None:
    records = [(rec("a"), T1), (rec("b"), T2), (rec("c"), T3), (rec("d"), T3)]
    search = Search(records, size=1, cap=2)

    pages = list(updated_at_pages(None, search, app_name="X"))

    assert ids(pages) == ["a", "b", "c", "d"]
    assert search.since == [None, T2, T3]


def test_it_stops_when_one_stamp_fills_more_than_a_capped_search() -> None:
    records = [(rec(str(n)), T1) for n in range(5)]

    with pytest.raises(ConnectorError) as raised:
        list(updated_at_pages(None, Search(records, size=1, cap=2), app_name="Acme CRM"))

    assert raised.value.message.startswith("Acme CRM: more records share one updated time")


def test_it_accepts_the_ties_of_an_older_checkpoint_without_versions() -> None:
    cursor = UpdatedAtCursor({"updated_at": T1, "seen_ids": ["a"]})

    assert not cursor.admit(rec("a", "7"), T1)
    assert cursor.admit(rec("b"), T1)
