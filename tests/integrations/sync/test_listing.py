"""The scan's on-disk listing of one side."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.sync.listing import Listing
from integrations.sync.records import Contact, Page


@pytest.fixture
def listing() -> Iterator[Listing]:
    kept = Listing()
    yield kept
    kept.close()


def page(ids: list[str], seq: int) -> Page:
    return Page(records=[Contact(id=i, values={"emails": [f"{i}@x.test"]}) for i in ids],
                checkpoint={"seq": seq})  # fmt: skip


def test_it_gives_the_pages_back_in_order_with_their_checkpoints(listing: Listing) -> None:
    listing.add_page(page(["a", "b"], 1))
    listing.add_page(page(["c"], 2))
    got = [([r.id for r in p.records], p.checkpoint) for p in listing.pages()]
    assert got == [(["a", "b"], {"seq": 1}), (["c"], {"seq": 2})]


def test_it_joins_pages_until_a_group_is_large_enough(listing: Listing) -> None:
    for n in range(5):
        listing.add_page(page([f"r{n}x", f"r{n}y"], n))
    got = [(len(p.records), p.checkpoint["seq"]) for p in listing.pages(min_records=3)]
    # Groups end on a listed page's boundary; the last group holds what is left.
    assert got == [(4, 1), (4, 3), (2, 4)]


def test_it_finds_records_by_id_and_by_an_id_they_had(listing: Listing) -> None:
    renamed = Contact(id="people/new", facts={"previous_ids": ["people/old"]})
    listing.add_page(Page(records=[Contact(id="people/1"), renamed], checkpoint={}))
    found = listing.get_many(["people/1", "people/old", "people/none"])
    assert {asked: r.id for asked, r in found.items()} == {
        "people/1": "people/1",
        "people/old": "people/new",
    }
