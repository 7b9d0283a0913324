"""The figures one ``python -m bench`` run measured, by name, for what comes after them in the
same run: the peer's tables (Tandem's figures beside vdirsyncer's) and the targets table.

A benchmark records what it measured; a figure nobody recorded was not measured in this run.
Names are dotted, with the size after an ``@``: ``sync.initial.wall@10000``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.common import Table

_FIGURES: dict[str, float] = {}


def key(name: str, n: int | None = None) -> str:
    return name if n is None else f"{name}@{n}"


def record(name: str, value: float, n: int | None = None) -> None:
    _FIGURES[key(name, n)] = float(value)


def get(name: str, n: int | None = None) -> float | None:
    return _FIGURES.get(key(name, n))


def sizes(name: str) -> list[int]:
    """The sizes ``name`` was measured at, smallest first."""
    prefix = f"{name}@"
    return sorted(int(k[len(prefix) :]) for k in _FIGURES if k.startswith(prefix))


def snapshot() -> dict[str, float]:
    return dict(_FIGURES)


def clear() -> None:
    _FIGURES.clear()


def column(table: Table, name: str) -> list[Any]:
    """The values of the column headed ``name`` (none when the table has no such column)."""
    columns: Sequence[str] = table.columns
    if name not in columns:
        return []
    at = list(columns).index(name)
    return [row[at] for row in table.rows if len(row) > at]


def harvest(benchmark: str, tables: list[Table]) -> None:
    """Record the figures of the benchmarks that only return tables (engine CPU, dispatcher),
    read from their columns by heading."""
    for table in tables:
        if benchmark == "engine_cpu":
            # The target's figure is the pass from empty caches (as a fresh worker meets new
            # records, and as the benchmark measured before there were caches); a table
            # without a caches column has that one row.
            rates = column(table, "pairs / cpu s")
            caches = column(table, "caches") or ["empty"] * len(rates)
            for kind, rate in zip(caches, rates, strict=False):
                cold = str(kind).startswith("empty")
                record("engine.pairs_per_cpu_s" if cold else "engine.pairs_per_cpu_s_warm", rate)
        elif benchmark == "dispatcher":
            connections = column(table, "active connections")
            queries = column(table, "queries")
            for size, count in zip(connections, queries, strict=False):
                record("dispatcher.queries_per_tick", count, size)
