"""Compact in-memory tables for a run's per-record lookups (the listing's offsets, the email
index, the ids a run has dealt with): a dict of 100,000 str keys costs about 15 MB in Python
objects; the same lookups over flat arrays cost a tenth of that.

``Strings`` keeps strings as one UTF-8 buffer, numbered in the order added. ``HashIndex`` maps
a string key to integers through the key's ``hash()`` held in a sorted array: it answers the
values of every key hashing alike, and its caller checks which are really the key's (a listed
record's id, an index entry's email), so a hash collision never gives a wrong answer. A hash is
kept in its low 32 bits (4 bytes where 8 held all of it): among a scan's 140,000 ids a side,
two share them about twice, which costs one comparison more.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, MutableSet

# The bits of a key's hash() kept (``array("I")``: 4 bytes).
_LOW = 0xFFFF_FFFF


def numbers() -> array[int]:
    """An array for offsets and counts: 4 bytes each (``append_number`` widens it)."""
    return array("I")


def append_number(kept: array[int], number: int) -> array[int]:
    """``kept`` with ``number`` appended: in 4 bytes each while every number fits, else in a
    new array of 8 bytes each (past 4 GiB of text, say), which is answered."""
    try:
        kept.append(number)
    except OverflowError:
        kept = array("q", kept)
        kept.append(number)
    return kept


def _low_hash(text: str) -> int:
    return hash(text) & _LOW


# Text of lowercase hex digits, as many apps' record ids are (Kustomer's: 24 digits), is kept
# as its bytes behind a 0xFF byte, which UTF-8 never holds: half the size, read back as it was.
_HEX_TEXT = re.compile("(?:[0-9a-f]{2})+")
_HEX_MARK = 0xFF
_HEX_AT_LEAST = 16


def _encoded(text: str) -> bytes:
    if len(text) >= _HEX_AT_LEAST and _HEX_TEXT.fullmatch(text):
        return b"\xff" + bytes.fromhex(text)
    return text.encode()


class Strings:
    """Strings numbered in the order added, kept as one UTF-8 buffer (lowercase hex text of
    16 digits or more as its bytes)."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = numbers()

    def add(self, text: str) -> int:
        """Keep ``text``; its number is returned."""
        self._data += _encoded(text)
        self._ends = append_number(self._ends, len(self._data))
        return len(self._ends) - 1

    def extend(self, texts: Iterable[str]) -> None:
        """``add`` each of ``texts``, in order."""
        data, ends = self._data, self._ends
        for text in texts:
            data += _encoded(text)
            ends = append_number(ends, len(data))
        self._ends = ends

    def trim(self) -> None:
        """Give back the slack the buffers grew with (a copy of each at its size)."""
        self._data = bytearray(self._data)
        self._ends = array(self._ends.typecode, self._ends)

    def __getitem__(self, number: int) -> str:
        start = self._ends[number - 1] if number else 0
        data = self._data
        if start < len(data) and data[start] == _HEX_MARK:
            return data[start + 1 : self._ends[number]].hex()
        return data[start : self._ends[number]].decode()

    def __len__(self) -> int:
        return len(self._ends)


class HashIndex:
    """String key -> integers, by the key's hash; ``candidates`` may include values of other
    keys with the same hash, which the caller tells apart."""

    def __init__(self) -> None:
        self._hashes = array("I")
        self._values = numbers()
        # Entries from ``_sorted`` on are in the order added; sorted before the next lookup.
        self._sorted = 0

    def add(self, key: str, value: int) -> None:
        self._hashes.append(hash(key) & _LOW)
        self._values = append_number(self._values, value)

    def candidates(self, key: str) -> list[int]:
        """Values added under ``key`` (or a key hashing alike), in the order added."""
        if self._sorted != len(self._hashes):
            self._sort()
        hashes, values = self._hashes, self._values
        wanted = hash(key) & _LOW
        found: list[int] = []
        at = bisect_left(hashes, wanted)
        while at < len(hashes) and hashes[at] == wanted:
            found.append(values[at])
            at += 1
        return found

    def _sort(self) -> None:
        # By hash, then by the order added (the entry's number in the low bits): the values of
        # one hash stay in the order added. One list of ints is sorted in place, and the
        # arrays are filled from it without lists of their own (a scan's index holds some
        # 120,000 entries: every list of them is ~4 MB of int objects more at that moment).
        bits = max(len(self._hashes), 1).bit_length()
        mask = (1 << bits) - 1
        keys = [(key << bits) | number for number, key in enumerate(self._hashes)]
        keys.sort()
        values, size = self._values, len(keys)
        # Made at their final size and filled in place (no slack from growing).
        hashes = array("I", [0]) * size
        ordered = array(values.typecode, [0]) * size
        for n, key in enumerate(keys):
            hashes[n] = key >> bits
            ordered[n] = values[key & mask]
        self._hashes, self._values = hashes, ordered
        self._sorted = size

    def __len__(self) -> int:
        return len(self._hashes)


class _Chunk:
    """Strings sorted by hash, with their hashes: a frozen part of a ``StringSet``."""

    def __init__(self, hashes: array[int], texts: Strings) -> None:
        self.hashes = hashes
        self.texts = texts

    @classmethod
    def of(cls, texts: list[str]) -> _Chunk:
        texts.sort(key=_low_hash)
        strings = Strings()
        strings.extend(texts)
        return cls(array("I", map(_low_hash, texts)), strings)

    @classmethod
    def merged(cls, one: _Chunk, other: _Chunk) -> _Chunk:
        """The strings of both, by hash, copied as bytes: never all made ``str`` objects again
        at once (merging 100,000 ids that way held 10 MB of them for the moment). Each buffer
        is made at its final size and filled in place: one built by appending grows by copies
        (for a moment old and new) and keeps the slack of its last growth."""
        one_hashes, one_data, one_ends = one.hashes, one.texts._data, one.texts._ends
        other_hashes, other_data, other_ends = other.hashes, other.texts._data, other.texts._ends
        size_one, size_other = len(one_hashes), len(other_hashes)
        size = size_one + size_other
        hashes = array("I", [0]) * size
        data = bytearray(len(one_data) + len(other_data))
        # String ends in 4 bytes while they fit, as ``append_number`` keeps them.
        narrow = numbers()
        wide = len(data) >= 1 << (8 * narrow.itemsize)
        ends = array("q" if wide else narrow.typecode, [0]) * size
        i = j = at = 0
        for n in range(size):
            if j == size_other or (i < size_one and one_hashes[i] <= other_hashes[j]):
                hashes[n] = one_hashes[i]
                start, end = one_ends[i - 1] if i else 0, one_ends[i]
                data[at : at + end - start] = one_data[start:end]
                i += 1
            else:
                hashes[n] = other_hashes[j]
                start, end = other_ends[j - 1] if j else 0, other_ends[j]
                data[at : at + end - start] = other_data[start:end]
                j += 1
            at += end - start
            ends[n] = at
        strings = Strings()
        strings._data, strings._ends = data, ends
        return cls(hashes, strings)

    def find(self, text: str, wanted: int) -> bool:
        """Whether ``text`` (whose hash is ``wanted``) is here."""
        hashes = self.hashes
        at = bisect_left(hashes, wanted)
        while at < len(hashes) and hashes[at] == wanted:
            if self.texts[at] == text:
                return True
            at += 1
        return False

    def __iter__(self) -> Iterator[str]:
        texts = self.texts
        return (texts[number] for number in range(len(texts)))

    def __len__(self) -> int:
        return len(self.hashes)


class StringSet(MutableSet[str]):
    """A set of strings (record ids) for a run that deals with hundreds of thousands: the
    latest additions in a plain ``set``, the rest frozen in chunks of strings sorted by hash
    (about 45 bytes a short id, where a ``set`` of ``str`` costs about 110). Every
    ``CHUNK`` additions become a chunk, merged with the chunks before it no larger than it
    while the merged one stays within ``MERGED_MAX`` (so about log2(MERGED_MAX / CHUNK) chunks,
    and one more for each ``MERGED_MAX`` strings, each found by a bisect). What is removed from a
    chunk is remembered aside until added again. Operators that make a new set (``-``,
    ``|``, ``&``, ``^``) answer a plain ``set``."""

    CHUNK = 4096
    # No chunk is merged past this many strings: a merge holds its chunks and the merged one
    # at once, and the set's last merges come at the end of a scan, when its memory peaks
    # (ids 65,536 + 65,536: some 5 MB more for the moment). Past it a lookup bisects one more
    # chunk for each such many.
    MERGED_MAX = 32768

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self._recent: set[str] = set()
        self._chunks: list[_Chunk] = []
        # Strings in a chunk that were removed since.
        self._removed: set[str] = set()
        self._size = 0
        for text in texts:
            self.add(text)

    @classmethod
    def _from_iterable(cls, texts: Iterable[str]) -> set[str]:
        return set(texts)

    def _frozen(self, text: str) -> bool:
        wanted = hash(text) & _LOW
        for chunk in self._chunks:  # noqa: SIM110 (a loop: any() over a generator is slower)
            if chunk.find(text, wanted):
                return True
        return False

    def __contains__(self, text: object) -> bool:
        if not isinstance(text, str):
            return False
        if text in self._recent:
            return True
        return bool(self._chunks) and text not in self._removed and self._frozen(text)

    def add(self, text: str) -> None:
        if text in self._recent:
            return
        if self._chunks and self._frozen(text):
            if text in self._removed:
                self._removed.discard(text)
                self._size += 1
            return
        self._recent.add(text)
        self._size += 1
        if len(self._recent) >= self.CHUNK:
            self._freeze()

    def discard(self, text: str) -> None:
        if text in self._recent:
            self._recent.discard(text)
            self._size -= 1
        elif text not in self._removed and self._chunks and self._frozen(text):
            self._removed.add(text)
            self._size -= 1

    def _freeze(self) -> None:
        chunk = _Chunk.of(list(self._recent))
        self._recent = set()
        # Merged with the chunks before it no larger than it (up to ``MERGED_MAX``): the
        # chunks' sizes fall.
        chunks = self._chunks
        while (
            chunks
            and len(chunks[-1]) <= len(chunk)
            and len(chunks[-1]) + len(chunk) <= self.MERGED_MAX
        ):
            chunk = _Chunk.merged(chunks.pop(), chunk)
        self._chunks.append(chunk)

    def __iter__(self) -> Iterator[str]:
        yield from list(self._recent)
        for chunk in list(self._chunks):
            for text in chunk:
                if text not in self._removed:
                    yield text

    def __len__(self) -> int:
        return self._size
