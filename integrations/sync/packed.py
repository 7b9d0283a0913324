"""Compact in-memory tables for a scan's per-record lookups (the listing's offsets, the email
index): a dict of 100,000 str keys costs about 15 MB in Python objects; the same lookups over
flat arrays cost a tenth of that.

``Strings`` keeps strings as one UTF-8 buffer, numbered in the order added. ``HashIndex`` maps
a string key to integers through the key's ``hash()`` held in a sorted array: it answers the
values of every key hashing alike, and its caller checks which are really the key's (a listed
record's id, an index entry's email), so a hash collision never gives a wrong answer.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left


class Strings:
    """Strings numbered in the order added, kept as one UTF-8 buffer."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("q")

    def add(self, text: str) -> int:
        """Keep ``text``; its number is returned."""
        self._data += text.encode()
        self._ends.append(len(self._data))
        return len(self._ends) - 1

    def __getitem__(self, number: int) -> str:
        start = self._ends[number - 1] if number else 0
        return self._data[start : self._ends[number]].decode()

    def __len__(self) -> int:
        return len(self._ends)


class HashIndex:
    """String key -> integers, by the key's hash; ``candidates`` may include values of other
    keys with the same hash, which the caller tells apart."""

    def __init__(self) -> None:
        self._hashes = array("q")
        self._values = array("q")
        # Entries from ``_sorted`` on are in the order added; sorted before the next lookup.
        self._sorted = 0

    def add(self, key: str, value: int) -> None:
        self._hashes.append(hash(key))
        self._values.append(value)

    def candidates(self, key: str) -> list[int]:
        """Values added under ``key`` (or a key hashing alike), in the order added."""
        if self._sorted != len(self._hashes):
            self._sort()
        hashes, values = self._hashes, self._values
        wanted = hash(key)
        found: list[int] = []
        at = bisect_left(hashes, wanted)
        while at < len(hashes) and hashes[at] == wanted:
            found.append(values[at])
            at += 1
        return found

    def _sort(self) -> None:
        # A stable sort by hash keeps the values of one hash in the order added.
        order = sorted(range(len(self._hashes)), key=self._hashes.__getitem__)
        self._hashes = array("q", [self._hashes[i] for i in order])
        self._values = array("q", [self._values[i] for i in order])
        self._sorted = len(self._hashes)

    def __len__(self) -> int:
        return len(self._hashes)
