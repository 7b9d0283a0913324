"""`make bench` (or `python -m bench [--quick] [names...]`): run the benchmarks, print a table
for each and one summary line of ratios, and write bench/results/latest.md."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import subprocess
import sys

from bench import figures, targets
from bench.common import RESULTS, machine, setup_django

# The peer runs after sync (its tables put Tandem's figures beside its own); the targets table
# comes last, from every figure the run measured.
BENCHMARKS = ["dispatcher", "engine_cpu", "sync", "peer", "polling"]


def _commit() -> str:
    """The checkout measured: HEAD, marked dirty when tracked files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], check=False).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with uncommitted changes)" if dirty else "")


def _default_interval() -> int:
    """The polling interval a new connection gets (``TANDEM_SYNC_INTERVAL_SECONDS``, bounded)."""
    from integrations.models import default_sync_interval

    return default_sync_interval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Only the smaller sizes.")
    parser.add_argument("names", nargs="*", help=f"Some of: {', '.join(BENCHMARKS)}.")
    args = parser.parse_args(argv)
    names = args.names or BENCHMARKS
    setup_django()
    out = [
        f"# Tandem benchmarks, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine()}",
        "",
        f"Commit: {_commit()}",
        "",
    ]
    summaries = []
    figures.clear()
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        tables, summary = module.run(args.quick)
        figures.harvest(name, tables)
        for table in tables:
            text = table.render()
            print(text, "\n", flush=True)
            out += [text, ""]
        summaries.append(summary)
    rows = targets.evaluate(figures.snapshot(), default_interval=_default_interval())
    text = targets.table(rows).render()
    print(text, "\n", flush=True)
    out += [text, ""]
    summaries.append(targets.summary(rows))
    print("SUMMARY " + " | ".join(summaries))
    out += ["SUMMARY " + " | ".join(summaries), ""]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / ("latest-quick.md" if args.quick else "latest.md")).write_text("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
