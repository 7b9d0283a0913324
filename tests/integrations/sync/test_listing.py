"""The scan's on-disk listing of one side."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.sync import packed
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


def test_it_finds_the_record_asked_for_among_ids_that_hash_alike(
    listing: Listing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packed, "hash", lambda key: 7, raising=False)
    listing.add_page(page(["first", "second", "third"], 1))
    found = listing.get_many(["second", "first", "fourth"])
    assert {asked: r.id for asked, r in found.items()} == {"second": "second", "first": "first"}


def test_a_record_listed_twice_is_found_as_listed_last(listing: Listing) -> None:
    listing.add_page(Page(records=[Contact(id="r1", version="1")], checkpoint={}))
    listing.add_page(Page(records=[Contact(id="r1", version="2")], checkpoint={}))
    assert listing.get_many(["r1"])["r1"].version == "2"
