"""A scan's full listing of one side, read from the app once and kept on local disk for the run.

The scan needs every record of both sides twice: first to index emails (a record is only matched
or created once both sides are known), then to process page by page, with random access to the
counterparts it matches. Listing the app twice costs a second full read of each account, and
holding the records in memory does not scale, so the first read spills each record (pickled) to
an anonymous temporary file: the run then walks the pages and looks records up by id from disk,
holding only offsets in memory, by the id's hash in flat arrays (``sync/packed.py``): the record
read at an offset says whether it is the one asked for. The file is unlinked from the start and
gone when closed.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from integrations.sync.packed import HashIndex
from integrations.sync.records import Checkpoint, Contact, Page, previous_ids


@dataclass(frozen=True)
class _PageMark:
    start: int
    count: int
    checkpoint: Checkpoint
    full_scan: bool


class Listing:
    """Pages of one side as listed, by position on disk; records by id (or an id they had)."""

    def __init__(self) -> None:
        # Open for the listing's life, closed by ``close`` (the engine's ``finally``).
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="tandem-listing-")  # noqa: SIM115
        self._pages: list[_PageMark] = []
        self._offsets = HashIndex()
        # Ids records answered to before (Google resourceName changes): the few that did.
        self._aliases: dict[str, str] = {}
        self.size = 0

    def add_page(self, page: Page) -> None:
        """Keep one page of the listing, after the pages kept before it."""
        file = self._file
        file.seek(0, 2)
        start = file.tell()
        for record in page.records:
            self._offsets.add(record.id, file.tell())
            pickle.dump(record, file, protocol=pickle.HIGHEST_PROTOCOL)
            for old in previous_ids(record):
                self._aliases.setdefault(old, record.id)
        self._pages.append(_PageMark(start, len(page.records), page.checkpoint, page.full_scan))
        self.size += len(page.records)

    def pages(self, min_records: int = 1) -> Iterator[Page]:
        """The pages in listing order, consecutive ones joined until each holds at least
        ``min_records`` records (fuller write batches); a joined page carries the checkpoint of
        its last listed page, safe once all of it is applied."""
        pending: list[Contact] = []
        for mark in self._pages:
            self._file.seek(mark.start)
            # Only this run's own file is unpickled: records it pickled itself.
            pending.extend(pickle.load(self._file) for _ in range(mark.count))  # noqa: S301
            if len(pending) >= min_records or mark is self._pages[-1]:
                yield Page(records=pending, checkpoint=mark.checkpoint, full_scan=mark.full_scan)
                pending = []

    def get_many(self, ids: Iterable[str]) -> dict[str, Contact]:
        """Listed records by the ids asked for (a record also answers to a former id)."""
        found: dict[str, Contact] = {}
        for record_id in ids:
            record = self._get(self._aliases.get(record_id, record_id))
            if record is not None:
                found[record_id] = record
        return found

    def _get(self, record_id: str) -> Contact | None:
        # Listed last wins (a record listed twice), as a later page is the fresher read.
        for offset in reversed(self._offsets.candidates(record_id)):
            self._file.seek(offset)
            record: Contact = pickle.load(self._file)  # noqa: S301
            if record.id == record_id:
                return record
        return None

    def close(self) -> None:
        self._file.close()
