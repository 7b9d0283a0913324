"""Batches and per-record write results, the same for every app.

A write answers one ``WriteResult`` per record. What a failure means is decided once, here: the
app refusing the record (``RecordRefused``) fails that record for good; a transient error (a
timeout, a 5xx, a 429 that outlasted the retries) fails it for now, and a 429 marks it throttled
so the run leaves it for the next one; any other permanent error (credentials refused, a
permission missing) concerns the whole account and is raised, stopping the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from integrations.connectors.base import ConnectorError, RecordRefused
from integrations.sync.records import WriteResult

T = TypeVar("T")


def chunked(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """``items`` in consecutive lists of at most ``size``."""
    size = max(1, size)
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def throttled(ref: str, exc: ConnectorError) -> WriteResult:
    """A write the app kept refusing with 429: not processed, so no failure of the record."""
    return WriteResult(ref=ref, error=exc.message, permanent=False, throttled=True)


def failed(ref: str, exc: ConnectorError) -> WriteResult:
    """The result of a write that raised ``exc``; raises it again when it is about the account
    rather than the record."""
    if isinstance(exc, RecordRefused):
        return WriteResult(ref=ref, error=exc.message, permanent=True)
    if exc.permanent:
        raise exc
    if exc.status == 429:
        return throttled(ref, exc)
    return WriteResult(ref=ref, error=exc.message, permanent=False)


def write_each(
    items: Iterable[T], *, ref: Callable[[T], str], write: Callable[[T], WriteResult]
) -> list[WriteResult]:
    """One write per item, in order; a failed write becomes its item's result (see ``failed``)
    and the others go on."""
    results = []
    for item in items:
        try:
            results.append(write(item))
        except ConnectorError as exc:
            results.append(failed(ref(item), exc))
    return results
