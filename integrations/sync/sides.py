"""The two sides of a connection and the ways records flow between them: the one place that
knows ``"a"`` from ``"b"``. Plain data, no Django."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from typing import TypeAlias, TypeVar

# "a" or "b".
Side: TypeAlias = str
SIDES: tuple[Side, Side] = ("a", "b")

T = TypeVar("T")


def other(side: str) -> Side:
    """The side across from ``side``."""
    return "b" if side == "a" else "a"


def as_side(value: str) -> Side:
    """``value`` checked to be a side."""
    if value not in SIDES:
        raise ValueError(f"Unknown side {value!r}.")
    return value


class Direction(enum.StrEnum):
    """Which way records (a connection, a rule) or values (a field mapping) flow. A rule is
    always one-way: its source is where the records it tests live."""

    TWO_WAY = "two_way"
    A_TO_B = "a_to_b"
    B_TO_A = "b_to_a"

    @classmethod
    def from_side(cls, source: str) -> Direction:
        """The one-way direction out of ``source``."""
        return cls.A_TO_B if source == "a" else cls.B_TO_A

    def flows_from(self, source: str) -> bool:
        """Whether anything flows out of ``source`` (into the other side)."""
        return self is Direction.TWO_WAY or self is Direction.from_side(source)

    def flows_into(self, target: str) -> bool:
        return self.flows_from(other(target))

    @property
    def source(self) -> Side:
        """The side a one-way direction flows out of."""
        if self is Direction.TWO_WAY:
            raise ValueError("A two-way direction has no single source.")
        return "a" if self is Direction.A_TO_B else "b"


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """``items`` in consecutive lists of at most ``size`` (at least one) items."""
    size = max(1, size)
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
