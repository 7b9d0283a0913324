"""One ``connection_sync`` in a process of its own:
``python -m bench.sync_run <connection id> [--profile]``.

The sync benchmark runs every measured sync this way, so the peak memory it reports is that
of one Tandem run (a worker's), not of the benchmark process nor of the emulators. The process
is set up as a worker's is before its first task (Django, then the task modules), and the run
is timed from there. Settings come from the environment the benchmark passes (database, app
base URLs); the figures are printed as one JSON line. ``--profile`` runs the sync under
cProfile (slower) and adds the functions of the run by own time and, among Tandem's own, by
cumulative time. ``--groups`` prints to stderr, as a scan takes each group of its listing, the
process's resident memory (``VmRSS``), its peak so far (``VmHWM``) and the CPU seconds so far:
where a scan's peak memory comes from (``python -m bench.memory_scan``).
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from integrations.sync.records import Page

TOP = 14


def _where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    return f"{'/'.join(filename.rsplit('/', 2)[-2:])}:{line} {name}"


def _profile_rows(profiler: cProfile.Profile) -> dict[str, list[list[Any]]]:
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    items = list(stats.items())
    own = sorted(items, key=lambda item: item[1][2], reverse=True)[:TOP]
    ours = [item for item in items if "/integrations/" in item[0][0]]
    cumulative = sorted(ours, key=lambda item: item[1][3], reverse=True)[:TOP]
    return {
        "own": [[_where(key), value[1], round(value[2], 3)] for key, value in own],
        "cumulative": [[_where(key), value[1], round(value[3], 3)] for key, value in cumulative],
    }


def _memory() -> tuple[int, int]:
    """This process's resident memory and its peak so far, in MB (Linux)."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) // 1024
    return found.get("VmRSS", 0), found.get("VmHWM", 0)


def _report_groups() -> None:
    """Print the memory and CPU at each group a scan takes from its listing."""
    import time

    from integrations.sync import listing

    pages = listing.Listing.pages
    taken = [0]

    def reported(self: listing.Listing, min_records: int = 1) -> Iterator[Page]:
        for page in pages(self, min_records):
            taken[0] += 1
            rss, peak = _memory()
            print(
                f"group {taken[0]} records={len(page.records)} rss_mb={rss} peak_mb={peak} "
                f"cpu_s={time.process_time():.1f}",
                file=sys.stderr,
                flush=True,
            )
            yield page

    listing.Listing.pages = reported  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    # Set up as a worker is before its first task: Celery's worker imports the task modules
    # when it starts, before its pool forks (and with them the engine, ``integrations.tasks``).
    from config.celery_app import app

    app.loader.import_default_modules()
    from bench.common import peak_rss_mb, timed
    from integrations.services.runs import connection_sync

    if "--groups" in argv:
        _report_groups()
    profiler = cProfile.Profile() if "--profile" in argv else None
    rss_before = peak_rss_mb()
    with timed() as t:
        if profiler is not None:
            profiler.enable()
        run = connection_sync(connection_id=int(argv[0]))
        if profiler is not None:
            profiler.disable()
    if run is None:
        print("another run holds the lease", file=sys.stderr)
        return 1
    figures = {
        "wall": t.wall,
        "cpu": t.cpu,
        "calls": int(run.api_calls),
        "by_kind": dict(run.api_calls_by_kind or {}),
        "outcome": str(run.outcome),
        "failed": int(run.failed),
        "error": str(run.error or ""),
        "rss_before": rss_before,
        "rss_after": peak_rss_mb(),
        "profile": _profile_rows(profiler) if profiler is not None else {},
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
