"""A Kustomer search's next pages asked for ahead (``connectors/kustomer/ahead.py``): while the
listing decodes a page, the next is already asked for; the links are still followed as given."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from integrations.connectors.base import ConnectorError
from integrations.connectors.kustomer.ahead import SearchAhead, links_ahead
from integrations.connectors.kustomer.client import MAX_PAGES
from integrations.connectors.kustomer.connector import KustomerConnector
from sandbox.kustomer import KustomerEmulator
from tests.integrations.connectors.kustomer.conftest import EMAIL, PASSWORD, SUBDOMAIN, seed

SEARCH = "/v1/customers/search?page={}&pageSize=2"


def first_page(total: int | None, *, last: int | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"page": 1, "pageSize": 2}
    if total is not None:
        meta["totalPages"] = total
    links = {"next": SEARCH.format(2), "last": SEARCH.format(last) if last else None}
    return {"meta": meta, "links": links, "data": []}


def test_the_pages_ahead_are_those_after_the_first_by_its_page_count() -> None:
    assert links_ahead(first_page(4)) == [SEARCH.format(n) for n in (2, 3, 4)]


def test_the_page_count_comes_from_the_last_link_when_meta_lacks_it() -> None:
    assert links_ahead(first_page(None, last=3)) == [SEARCH.format(n) for n in (2, 3)]


def test_no_page_is_asked_for_ahead_past_the_searchs_page_cap() -> None:
    assert links_ahead(first_page(MAX_PAGES + 50))[-1] == SEARCH.format(MAX_PAGES)


def test_no_page_is_asked_for_ahead_of_a_single_page_or_an_unknown_count() -> None:
    single = {"meta": {"totalPages": 1}, "links": {"next": None}, "data": []}
    assert (links_ahead(single), links_ahead(first_page(None))) == ([], [])


class FakeClient:
    """Answers of a search by link, each "decoded" as the page it names; counts the asks."""

    def __init__(self, errors: Mapping[str, Exception] | None = None) -> None:
        self.asked: list[str] = []
        self.renewing: list[bool] = []
        self.errors = dict(errors or {})

    def follow_answer(self, link: str, body: Mapping[str, Any], *, renew: bool = True) -> Any:
        self.asked.append(link)
        self.renewing.append(renew)
        if link in self.errors:
            raise self.errors.pop(link)
        return {"link": link}

    def decode(self, response: Any) -> dict[str, Any]:
        return dict(response)


def test_a_link_other_than_the_one_asked_for_ahead_is_followed_as_given() -> None:
    client = FakeClient()
    with SearchAhead(client, {}, first_page(4)) as ahead:
        assert ahead.follow(SEARCH.format(2)) == {"link": SEARCH.format(2)}
        # The search changed size under the listing: page 3 now links to another page.
        moved = "/v1/customers/search?page=3&pageSize=3"
        assert ahead.follow(moved) == {"link": moved}
        assert ahead.follow(SEARCH.format(9)) == {"link": SEARCH.format(9)}
    assert client.asked[-2:] == [moved, SEARCH.format(9)]
    assert client.asked.count(SEARCH.format(9)) == 1


def test_an_error_asking_ahead_is_raised_when_its_page_is_taken() -> None:
    failure = ConnectorError("Kustomer: the API answered 500.")
    client = FakeClient(errors={SEARCH.format(3): failure})
    with SearchAhead(client, {}, first_page(4)) as ahead:
        assert ahead.follow(SEARCH.format(2)) == {"link": SEARCH.format(2)}
        with pytest.raises(ConnectorError, match="answered 500"):
            ahead.follow(SEARCH.format(3))


def test_a_page_refused_for_its_token_ahead_is_asked_for_again_by_the_listing() -> None:
    refused = ConnectorError("Kustomer: the sign-in token was not accepted.", status=401)
    client = FakeClient(errors={SEARCH.format(3): refused})
    with SearchAhead(client, {}, first_page(4)) as ahead:
        assert ahead.follow(SEARCH.format(2)) == {"link": SEARCH.format(2)}
        assert ahead.follow(SEARCH.format(3)) == {"link": SEARCH.format(3)}
        assert ahead.follow(SEARCH.format(4)) == {"link": SEARCH.format(4)}
    # Ahead, never renewing; then the listing itself, which may.
    assert client.asked[:2] == [SEARCH.format(2), SEARCH.format(3)]
    assert client.renewing[:2] == [False, False]
    assert client.asked[-2:] == [SEARCH.format(3), SEARCH.format(4)]
    assert client.renewing[-2:] == [True, True]


def test_a_token_renewed_during_a_search_read_ahead_is_kept_by_the_listings_thread(
    make_connector: Callable[..., KustomerConnector], emulator: KustomerEmulator
) -> None:
    emulator.set_limits(search_max_page_size=2)
    ids = seed(emulator, 7)  # 4 pages of 2: page 4 is asked for once page 2 is taken
    connector = make_connector(email=EMAIL, password=PASSWORD)
    kept_in: list[int] = []
    connector.on_credentials_changed = lambda credentials: kept_in.append(threading.get_ident())
    connector.check()
    token = connector.credentials["token"]
    kept_in.clear()
    pages = connector.list_changed(None)
    records = list(next(pages).records)
    emulator.expire_tokens(SUBDOMAIN)
    records += [r for page in pages for r in page.records]
    assert sorted(r.id for r in records) == sorted(ids)
    assert connector.credentials["token"] != token
    assert kept_in and set(kept_in) == {threading.get_ident()}


def test_leaving_early_stops_asking_ahead() -> None:
    client = FakeClient()
    with SearchAhead(client, {}, first_page(50)) as ahead:
        ahead.follow(SEARCH.format(2))
    asked = len(client.asked)
    assert asked <= 4  # page 2, then pages 3 and 4 under way when told to stop
    assert not [t for t in threading.enumerate() if t.name.startswith("tandem-read-kustomer")]


def test_two_pages_are_under_way_at_once_while_the_listing_waits() -> None:
    both_asked = threading.Barrier(2, timeout=5)

    class Meeting(FakeClient):
        def follow_answer(self, link: str, body: Mapping[str, Any], *, renew: bool = True) -> Any:
            if link in (SEARCH.format(2), SEARCH.format(3)):
                both_asked.wait()  # broken (and raising) unless both asks are under way
            return super().follow_answer(link, body, renew=renew)

    client = Meeting()
    with SearchAhead(client, {}, first_page(4)) as ahead:
        pages = [ahead.follow(SEARCH.format(n)) for n in (2, 3, 4)]
    assert pages == [{"link": SEARCH.format(n)} for n in (2, 3, 4)]
    assert client.asked.count(SEARCH.format(2)) == 1 and not both_asked.broken


def test_the_next_page_is_asked_for_before_the_one_before_is_decoded(
    connector: KustomerConnector, emulator: KustomerEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.set_limits(search_max_page_size=2)
    ids = seed(emulator, 7)  # 4 pages of 2
    client = connector.client
    follow_answer, decode = client.follow_answer, client.decode
    asked = {page: threading.Event() for page in range(1, 6)}
    seen_before_decoding: list[bool] = []

    def answer(link: str, body: Mapping[str, Any], *, renew: bool = True) -> Any:
        response = follow_answer(link, body, renew=renew)
        asked[int(link.split("page=")[1].split("&")[0])].set()
        return response

    def decoding(response: Any) -> dict[str, Any]:
        page = decode(response)
        number = page["meta"]["page"]
        if 1 < number < 4:
            seen_before_decoding.append(asked[number + 1].wait(5))
        return page

    monkeypatch.setattr(client, "follow_answer", answer)
    monkeypatch.setattr(client, "decode", decoding)
    records = [r for page in connector.list_changed(None) for r in page.records]
    assert sorted(r.id for r in records) == sorted(ids)
    assert seen_before_decoding == [True, True]


def test_a_search_read_ahead_makes_the_calls_of_one_read_page_by_page(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    emulator.set_limits(search_max_page_size=2)
    seed(emulator, 9)  # 5 pages of 2
    before = connector.http.calls["search customers"]
    records = [r for page in connector.list_changed(None) for r in page.records]
    assert len(records) == 9
    assert connector.http.calls["search customers"] - before == 5


def test_customers_added_while_a_search_is_read_ahead_are_read_by_it_or_from_its_checkpoint(
    connector: KustomerConnector, emulator: KustomerEmulator
) -> None:
    emulator.set_limits(search_max_page_size=2)
    ids = seed(emulator, 5)  # 3 pages of 2 when the search starts
    pages = connector.list_changed(None)
    first = next(pages)
    ids += seed(emulator, 4, start=5)  # after the pages asked for ahead, or before some
    listed, checkpoint = list(first.records), first.checkpoint
    for page in pages:
        listed += page.records
        checkpoint = page.checkpoint
    again = [r for page in connector.list_changed(checkpoint) for r in page.records]
    assert len({r.id for r in listed}) == len(listed)
    assert {r.id for r in listed} | {r.id for r in again} == set(ids)
