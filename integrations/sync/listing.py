"""A scan's full listing of one side, read from the app once and kept on local disk for the run.

The scan needs every record of both sides twice: first to index emails (a record is only matched
or created once both sides are known), then to process page by page, with random access to the
counterparts it matches. Listing the app twice costs a second full read of each account, and
holding the records in memory does not scale, so the first read spills each record to an
anonymous temporary file: the run then walks the pages and looks records up by id from disk,
holding only offsets in memory, by the id's hash in flat arrays (``sync/packed.py``): the record
read at an offset says whether it is the one asked for. The file is unlinked from the start and
gone when closed.

A record is kept as plain data with ``marshal`` (a tuple of its fields) when all it holds is of
the exact types marshal gives back as they were (text, numbers, booleans, ``None``, bytes, and
lists, tuples and dicts of them; its time naive or in UTC); any other record is pickled. Each
is written as its length, a tag byte and the bytes. Marshal takes about a third of pickle's CPU
for a contact, both ways.
"""

from __future__ import annotations

import datetime as dt
import marshal
import pickle
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from integrations.sync.packed import HashIndex
from integrations.sync.records import Checkpoint, Contact, Page, previous_ids

# Before each record: its length (the tag byte and the bytes after it), then the tag.
_HEADER = struct.Struct("<IB")
_MARSHAL, _PICKLE = 1, 2
# Bytes read at once for a record looked up by id.
_READ_AHEAD = 2048
# Types marshal writes and reads back as the same type and value.
_EXACT = frozenset({str, int, float, bool, type(None), bytes})
_NO_TIME = 0
_NAIVE = 1
_UTC = 2


def _plain(value: Any) -> bool:
    """Whether ``value`` is made only of types marshal gives back exactly (no subclass, no
    other buffer: marshal would write a ``bytearray`` as ``bytes``)."""
    kind = type(value)
    if kind in _EXACT:
        return True
    # A record's values are mostly text and short lists of text: an item of an exact type is
    # judged here, without a call.
    if kind is list or kind is tuple:
        for item in value:  # noqa: SIM110 (a loop: no generator frame per list)
            if type(item) not in _EXACT and not _plain(item):
                return False
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) not in _EXACT or (type(item) not in _EXACT and not _plain(item)):
                return False
        return True
    return False


def _dump(record: Contact) -> bytes:
    """A record as the bytes kept: marshalled plain data when it is plain, else pickled."""
    when = record.updated_at
    if when is None:
        time: tuple[int, ...] = (_NO_TIME,)
    elif type(when) is dt.datetime and (when.tzinfo is None or when.tzinfo is dt.UTC):
        time = (_NAIVE if when.tzinfo is None else _UTC, when.year, when.month, when.day,
                when.hour, when.minute, when.second, when.microsecond, when.fold)  # fmt: skip
    else:
        time = ()
    fields = (record.id, record.version, record.values, record.deleted, record.unsubscribed,
              record.facts, record.idempotency_key, record.problem)  # fmt: skip
    if time and type(record) is Contact and _plain(fields):
        data = marshal.dumps((time, *fields), 4)
        return _HEADER.pack(len(data) + 1, _MARSHAL) + data
    data = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data) + 1, _PICKLE) + data


def _load(tag: int, data: bytes | memoryview) -> Contact:
    if tag == _PICKLE:
        # Only this run's own file is unpickled: records it pickled itself.
        record: Contact = pickle.loads(data)  # noqa: S301
        return record
    # Only this run's own file is read: plain data it marshalled itself.
    time, *fields = marshal.loads(data)  # noqa: S302
    when = None
    if time[0] != _NO_TIME:
        year, month, day, hour, minute, second, micro, fold = time[1:]
        zone = dt.UTC if time[0] == _UTC else None
        when = dt.datetime(year, month, day, hour, minute, second, micro, zone, fold=fold)
    record_id, version, values, deleted, unsubscribed, facts, key, problem = fields
    return Contact(record_id, when, version, values, deleted, unsubscribed, facts, key, problem)


@dataclass(frozen=True)
class _PageMark:
    start: int
    end: int
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
        start = offset = file.tell()
        for record in page.records:
            self._offsets.add(record.id, offset)
            data = _dump(record)
            file.write(data)
            offset += len(data)
            for old in previous_ids(record):
                self._aliases.setdefault(old, record.id)
        mark = _PageMark(start, offset, len(page.records), page.checkpoint, page.full_scan)
        self._pages.append(mark)
        self.size += len(page.records)

    def pages(self, min_records: int = 1) -> Iterator[Page]:
        """The pages in listing order, consecutive ones joined until each holds at least
        ``min_records`` records (fuller write batches); a joined page carries the checkpoint of
        its last listed page, safe once all of it is applied."""
        pending: list[Contact] = []
        for mark in self._pages:
            self._file.seek(mark.start)
            data = memoryview(self._file.read(mark.end - mark.start))
            at = 0
            for _ in range(mark.count):
                size, tag = _HEADER.unpack_from(data, at)
                at += _HEADER.size
                pending.append(_load(tag, data[at : at + size - 1]))
                at += size - 1
            data.release()
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
            # One read for most records (a contact takes a few hundred bytes), a second for
            # the rest of a larger one.
            data = self._file.read(_READ_AHEAD)
            size, tag = _HEADER.unpack_from(data)
            end = _HEADER.size + size - 1
            if len(data) < end:
                data += self._file.read(end - len(data))
            record = _load(tag, memoryview(data)[_HEADER.size : end])
            if record.id == record_id:
                return record
        return None

    def close(self) -> None:
        self._file.close()
