"""A Kustomer search's next pages, asked for ahead while the listing decodes the one before.

On localhost a search page of 500 customers takes about as long to serve as Tandem takes to
decode and convert it, and against the real API a round trip comes on top: read one after the
other, a listing waits for each page, then works on it. The search is paged by number, and its
first page says how many there are (``meta.totalPages``; api-notes §1.4), so the links of the
pages after it are known before they are read: a thread asks for them in order, one page ahead
of the listing (one answer waiting, one under way), while the listing decodes and converts the
page before. Only the HTTP answers wait (their bytes); each page is decoded when the listing
takes it, after the page before was let go.

The listing still follows each page's ``links.next`` as given: a page asked for ahead is used
only when its link is exactly that one. When the search's size changed while it was read (the
link names another page, or no page follows), what was asked for ahead is dropped and the
links are followed one by one from there. The same calls are made as without it, unless the
search shrank under it (then up to two answers are dropped unused). An error of a call made
ahead is raised when the listing takes that page, as it would have been when asking for it,
except a refused token: the thread never renews one (renewed credentials are kept by the
listing's caller, in its own thread), so a page refused so is asked for again by the listing,
which renews the token as it always did, and nothing more is asked for ahead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import requests

from integrations.connectors.kustomer.client import MAX_PAGES, page_of, with_page
from integrations.sync.errors import ConnectorError
from integrations.sync.pipeline import Ahead


class _Client(Protocol):
    def follow_answer(
        self, link: str, body: Mapping[str, Any], *, renew: bool = True
    ) -> requests.Response: ...

    def decode(self, response: requests.Response) -> dict[str, Any]: ...


def links_ahead(first: Mapping[str, Any]) -> list[str]:
    """The links of the pages after a search's first one, by its page count (``meta``, else
    ``links.last``), made from its ``links.next``; up to the last page a search reads
    (``MAX_PAGES``). None (an empty list) when the first page names no next page or no page
    count."""
    links = first.get("links") or {}
    following = links.get("next")
    if not isinstance(following, str):
        return []
    start = page_of(following)
    if start is None:
        return []
    total = (first.get("meta") or {}).get("totalPages")
    if not isinstance(total, int):
        total = page_of(str(links.get("last") or "")) or 0
    return [with_page(following, number) for number in range(start, min(total, MAX_PAGES) + 1)]


class SearchAhead:
    """Use as a context manager around a listing's loop: ``follow(link)`` gives the page
    ``link`` names, decoded; on exit the thread is told to stop and waited for."""

    def __init__(self, client: _Client, body: Mapping[str, Any], first: Mapping[str, Any]):
        self._client = client
        self._body = body
        links = links_ahead(first)
        self._ahead: Ahead[tuple[str, requests.Response]] | None = None
        self._answers: Iterator[tuple[str, tuple[str, requests.Response]]] | None = None
        if links:
            self._ahead = Ahead({"kustomer-ahead": self._ask(links)}, depth=1, beat=_no_beat)

    def _ask(self, links: list[str]) -> Iterator[tuple[str, requests.Response]]:
        for link in links:
            yield link, self._client.follow_answer(link, self._body, renew=False)

    def __enter__(self) -> SearchAhead:
        if self._ahead is not None:
            self._answers = iter(self._ahead.__enter__())
        return self

    def __exit__(self, *_: object) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._ahead is not None:
            self._ahead.__exit__(None, None, None)
            self._ahead = self._answers = None

    def follow(self, link: str) -> dict[str, Any]:
        """The page ``link`` names: the answer asked for ahead when it is that page's, else
        asked for now (and nothing more ahead)."""
        if self._answers is not None:
            try:
                _, (asked, response) = next(self._answers)
            except StopIteration:
                self._stop()
            except ConnectorError as error:
                self._stop()
                if error.status != 401:
                    raise
            else:
                if asked == link:
                    return self._client.decode(response)
                self._stop()
        return self._client.decode(self._client.follow_answer(link, self._body))


def _no_beat() -> None:
    """The listing runs in a reading thread, which has no heartbeat to beat."""
