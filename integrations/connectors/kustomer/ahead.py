"""A Kustomer search's next pages, asked for ahead while the listing decodes the one before.

On localhost a search page of 500 customers takes about as long to serve as Tandem takes to
decode and convert it, and against the real API a round trip comes on top: read one after the
other, a listing waits for each page, then works on it. The search is paged by number, and its
first page says how many there are (``meta.totalPages``; api-notes §1.4), so the links of the
pages after it are known before they are read: they are asked for in order, ``UNDER_WAY`` at
once (each in a thread of its own), while the listing decodes the page before; each time the
listing takes a page the next link is asked for. Two under way rather than one let the app
serve one page while the other's answer travels and Tandem reads it: at 10,000 customers the
scan's listing took 0.69 s instead of 0.77 (medians of four, bench/README.md, ninth
session). Only the HTTP answers wait (their bytes, at most ``UNDER_WAY`` of them); each page
is decoded when the listing takes it, after the page before was let go.

The listing still follows each page's ``links.next`` as given: a page asked for ahead is used
only when its link is exactly that one. When the search's size changed while it was read (the
link names another page, or no page follows), what was asked for ahead is dropped and the
links are followed one by one from there. The same calls are made as without it, unless the
search shrank under it (then up to ``UNDER_WAY`` answers are dropped unused). An error of a
call made ahead is raised when the listing takes that page, as it would have been when asking
for it, except a refused token: the threads never renew one (renewed credentials are kept by
the listing's caller, in its own thread), so a page refused so is asked for again by the
listing, which renews the token as it always did, and nothing more is asked for ahead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol

import requests

from integrations.connectors.kustomer.client import MAX_PAGES, page_of, with_page
from integrations.sync.errors import ConnectorError
from integrations.sync.pipeline import closing_connections

# Answers asked for ahead and not yet taken by the listing, each asked in a thread of its own.
UNDER_WAY = 2


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
    ``link`` names, decoded; on exit the asks not yet under way are dropped and those under
    way waited for."""

    def __init__(self, client: _Client, body: Mapping[str, Any], first: Mapping[str, Any]):
        self._client = client
        self._body = body
        self._links = deque(links_ahead(first))
        self._asked: deque[tuple[str, Future[requests.Response]]] = deque()
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> SearchAhead:
        if self._links:
            self._pool = ThreadPoolExecutor(
                max_workers=UNDER_WAY, thread_name_prefix="tandem-read-kustomer-ahead"
            )
            self._ask()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop()

    def _ask(self) -> None:
        """Ask for the next links until ``UNDER_WAY`` answers are asked for and not taken."""
        assert self._pool is not None
        while self._links and len(self._asked) < UNDER_WAY:
            link = self._links.popleft()
            answer = partial(self._client.follow_answer, link, self._body, renew=False)
            self._asked.append((link, self._pool.submit(closing_connections, answer)))

    def _stop(self) -> None:
        if self._pool is not None:
            for _, future in self._asked:
                future.cancel()
            self._pool.shutdown(wait=True)
            self._pool = None
            self._asked.clear()
            self._links.clear()

    def follow(self, link: str) -> dict[str, Any]:
        """The page ``link`` names: the answer asked for ahead when it is that page's, else
        asked for now (and nothing more ahead)."""
        if self._pool is not None:
            if not self._asked or self._asked[0][0] != link:
                self._stop()
            else:
                _, future = self._asked.popleft()
                # The next one is asked for before this one is waited for and decoded.
                self._ask()
                try:
                    response = future.result()
                except ConnectorError as error:
                    self._stop()
                    if error.status != 401:
                        raise
                else:
                    return self._client.decode(response)
        return self._client.decode(self._client.follow_answer(link, self._body))
