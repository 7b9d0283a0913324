"""A scan's peak memory at one size, without the rest of the sync benchmark:
``python -m bench.memory_scan N [--incremental]``.

The same steps as ``python -m bench sync`` takes at one size, and nothing else: the data set
seeded through the sandbox host, the connection made, the initial scan run in a process of its
own (``bench.sync_run --groups``: its resident memory and CPU at each group of its listing go to
stderr); with ``--incremental`` then the idle run and one round of the benchmark's changes
(50 a side), whose arrival is checked. Each run's figures are printed as one JSON line (its
``rss_after`` is the run's peak, ``VmHWM``). Set ``BENCH_DATABASE_URL`` to keep off
``data/bench.sqlite3``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from typing import Any


def _run(connection_id: int, env: dict[str, str], *, groups: bool) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.sync_run", str(connection_id)]
        + (["--groups"] if groups else []),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise RuntimeError("bench.sync_run failed")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures.pop("profile", None)
    print(json.dumps(figures), flush=True)
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_scan", description=__doc__)
    parser.add_argument("n", type=int, help="Records a side.")
    parser.add_argument("--incremental", action="store_true", help="Then idle and 100 changes.")
    args = parser.parse_args(argv)

    from bench.common import setup_django

    setup_django()
    from django.test.utils import override_settings

    from bench import sync
    from bench.sandbox_host import SandboxHost

    host = SandboxHost()
    env = sync.sync_env(host.base_urls)
    overrides = override_settings(**{k: env[k] for k in sync.SETTINGS_FROM_ENV})
    try:
        overrides.enable()
        world = sync.seed(host, args.n)
        connection_id = sync.connect(world)
        _run(connection_id, env, groups=True)
        if args.incremental:
            _run(connection_id, env, groups=False)
            host.call("settle")
            to_google, to_kustomer = host.call(
                "make_changes", dataclasses.asdict(world), f"{args.n}-0"
            )
            _run(connection_id, env, groups=False)
            got_g, got_k = host.call("arrived", dataclasses.asdict(world), to_google, to_kustomer)
            print(f"arrived: {got_g}/{len(to_google)} in Google, {got_k}/{len(to_kustomer)} in "
                  "Kustomer")  # fmt: skip
    finally:
        overrides.disable()
        host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
