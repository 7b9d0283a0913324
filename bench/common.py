"""Shared helpers of the benchmarks: Django set-up on a throwaway database, tables, timing."""

from __future__ import annotations

import cProfile
import io
import os
import platform
import pstats
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def setup_django(database: str = "bench.sqlite3") -> None:
    """Configure Django on the test settings with a fresh benchmark database (SQLite in
    data/, or ``BENCH_DATABASE_URL`` for PostgreSQL) and migrate it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    data = ROOT / "data"
    data.mkdir(exist_ok=True)
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        os.environ["DATABASE_URL"] = url
    else:
        path = data / database
        # The file and its write-ahead log: an old log beside a new file would be replayed.
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def extra_phone_of(index: int) -> str:
    """The extra phone the benchmarks give every fifth shared person on the Kustomer side (and
    on the peer's side A), so those pairs differ. Unique for every index below 10 million:
    Kustomer refuses a second customer with the same phone."""
    return f"+1 555 {index // 10_000 % 1_000:03d} {index % 10_000:04d}"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count() or 0} cores, Python {platform.python_version()}"


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM starts afresh at exec, where
    ``ru_maxrss`` would carry the peak of the parent the process was forked from."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Timer:
    wall: float = 0.0
    cpu: float = 0.0


@contextmanager
def timed() -> Iterator[Timer]:
    timer = Timer()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield timer
    finally:
        timer.wall = time.perf_counter() - wall
        timer.cpu = time.process_time() - cpu


@dataclass
class Table:
    title: str
    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)

    def add(self, *row: Any) -> None:
        self.rows.append(row)

    def render(self) -> str:
        cells = [[str(c) for c in self.columns]] + [[_fmt(v) for v in row] for row in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [f"## {self.title}", ""]
        lines.append(
            "| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |"
        )
        lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for row in cells[1:]:
            lines.append(
                "| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |"
            )
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


Benchmark = Callable[[bool], tuple[list[Table], str]]


def profile_table(title: str, profiler: cProfile.Profile, top: int = 12) -> Table:
    """The ``top`` functions of a finished profile by own time, as a table."""
    stats = pstats.Stats(profiler, stream=io.StringIO())
    table = Table(title, ["function", "calls", "own s"])
    for (filename, line, name), (_, calls, own, _cum, _) in sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda item: item[1][2],
        reverse=True,
    )[:top]:
        where = filename.rsplit("/", 2)[-2:]
        table.add(f"{'/'.join(where)}:{line} {name}", calls, own)
    return table
