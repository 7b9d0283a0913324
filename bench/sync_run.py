"""One ``connection_sync`` in a process of its own: ``python -m bench.sync_run <connection id>``.

The sync benchmark runs every measured sync this way, so the peak memory it reports is that
of one Tandem run (a worker's), not of the benchmark process nor of the emulators. Settings
come from the environment the benchmark passes (database, app base URLs); the figures are
printed as one JSON line.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from bench.common import peak_rss_mb, timed
    from integrations.services.runs import connection_sync

    rss_before = peak_rss_mb()
    with timed() as t:
        run = connection_sync(connection_id=int(argv[0]))
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
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
