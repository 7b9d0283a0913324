"""Edit -> other app by polling alone: an edit in Kustomer until it shows in Google Contacts,
through real beat + worker processes and no webhooks (``python -m bench polling``, or
``python -m bench.polling [--edits N]``; issue 15: median and worst of 20 edits).

Processes, each started here and stopped by its own process group (``bench.webhooks``'
harness): a private redis-server, the emulators, one Celery worker and Celery beat, whose
dispatcher ticks every 15 s. No public URL is set, so no webhook is registered: every run
after the first scan is one the dispatcher found due. The connection polls every
``INTERVAL_S`` (the issue's target default). The edits are spread over one polling cycle
(interval + tick), one every ``cycle / edits`` seconds, so they land at every phase of it; the
Google emulator is polled until each new name is there.

Minutes long whatever the edits (each waits for a poll), so ``--quick`` leaves it out.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from bench import figures
from bench.common import Table
from bench.webhooks import ROLES, Processes, free_port, kustomer_google_pair, wait_for

EDITS = 20
INTERVAL_S = 60
DISPATCHER_TICK_S = 15  # TANDEM_DISPATCH_EVERY_SECONDS, its default
CYCLE_S = INTERVAL_S + DISPATCHER_TICK_S
# An edit not there three cycles after it was made is lost, not slow.
ARRIVAL_TIMEOUT_S = 3 * CYCLE_S
LOOK_EVERY_S = 0.5


@contextlib.contextmanager
def fleet(workdir: Path) -> Iterator[tuple[Processes, dict[str, str]]]:
    """Redis, the emulators, a worker and beat, with no public URL (polling only)."""
    redis_port, sandbox_port = free_port(), free_port()
    urls = {
        "redis": f"redis://127.0.0.1:{redis_port}/0",
        "sandbox": f"http://127.0.0.1:{sandbox_port}",
    }
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.faults.settings",  # tasks through the broker
        "CELERY_BROKER_URL": urls["redis"],
        "CACHE_URL": urls["redis"],
        "TANDEM_PUBLIC_URL": "",
        "KUSTOMER_BASE_URL_TEMPLATE": urls["sandbox"] + "/kustomer/{subdomain}",
        "GOOGLE_OAUTH_TOKEN_URL": urls["sandbox"] + "/google_contacts/token",
        "GOOGLE_PEOPLE_BASE_URL": urls["sandbox"] + "/google_contacts",
        "GOOGLE_OAUTH_CLIENT_ID": "tandem-demo",
        "GOOGLE_OAUTH_CLIENT_SECRET": "tandem-demo-secret",
    }
    processes = Processes(workdir, env)
    try:
        processes.start(
            "redis",
            [str(shutil.which("redis-server")), "--port", str(redis_port), "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        )  # fmt: skip
        processes.start(
            "sandbox",
            [sys.executable, "manage.py", "sandbox", "--port", str(sandbox_port), "--no-seed",
             "--apps", "kustomer,google_contacts"],
        )  # fmt: skip
        processes.start(
            "worker",
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
             "--loglevel", "info", "-n", "bench-polling@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
        )  # fmt: skip
        processes.start(
            "beat",
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "info",
             "-s", str(workdir / "beat-schedule")],
        )  # fmt: skip
        wait_for(
            lambda: requests.get(urls["sandbox"] + "/kustomer/_sandbox/stats", timeout=2).ok,
            timeout=60,
            what="the emulators",
        )
        wait_for(
            lambda: "ready" in processes.tail("worker", 20_000),
            timeout=60,
            what="the worker",
            step=0.2,
        )
        yield processes, urls
    finally:
        processes.stop_all()


def edit_times(edits: int, cycle: float = CYCLE_S) -> list[float]:
    """Seconds after the first edit at which each edit is made: spread over one cycle."""
    return [index * cycle / edits for index in range(edits)]


def measure(edits: int) -> dict[str, Any]:
    from django.conf import settings

    from integrations.models import SyncRun
    from integrations.services import connection_create_for_accounts, connection_sync

    workdir = Path(tempfile.mkdtemp(prefix="bench-polling-"))
    try:
        with fleet(workdir) as (processes, urls):
            sandbox = urls["sandbox"]
            settings.TANDEM_PUBLIC_URL = ""
            pair = kustomer_google_pair(
                sandbox, prefix="p", workspace_name="Bench polling", edits=edits, key_roles=ROLES
            )
            subdomain, created, email = pair.subdomain, pair.created, pair.email
            account_a, account_b, workspace = pair.kustomer, pair.google, pair.kustomer.workspace
            google = sandbox + "/google_contacts/_sandbox"
            connection = connection_create_for_accounts(
                workspace=workspace,
                account_a=account_a,
                account_b=account_b,
                sync_interval=INTERVAL_S,
            )
            connection_sync(connection_id=connection.pk)

            def families() -> dict[str, str]:
                listed = requests.get(google + "/contacts", params={"email": email}, timeout=5)
                found = {}
                for person in listed.json()["people"]:
                    for address in person.get("emailAddresses") or []:
                        found[address["value"]] = str(person["names"][0].get("familyName", ""))
                return found

            api = sandbox + f"/kustomer/{subdomain}/v1"
            due = edit_times(edits)
            made: dict[int, float] = {}
            latencies: dict[int, float] = {}
            started = time.monotonic()
            while len(latencies) < edits:
                now = time.monotonic()
                for n, at in enumerate(due):
                    if n not in made and now - started >= at:
                        requests.patch(
                            f"{api}/customers/{created[n]['id']}",
                            json={"name": f"Person{n} Edit{n}"},
                            headers={"Authorization": "Bearer editor"},
                            timeout=10,
                        ).raise_for_status()
                        made[n] = time.monotonic()
                with contextlib.suppress(requests.RequestException):
                    seen = families()
                    for n, when in made.items():
                        if n not in latencies and seen.get(f"p{n}@ex.com") == f"Edit{n}":
                            latencies[n] = time.monotonic() - when
                late = [
                    n
                    for n, when in made.items()
                    if n not in latencies and time.monotonic() - when > ARRIVAL_TIMEOUT_S
                ]
                if late:
                    raise RuntimeError(
                        f"edits {late} never arrived in {ARRIVAL_TIMEOUT_S} s.\n"
                        f"beat:\n{processes.tail('beat')}\nworker:\n{processes.tail('worker')}"
                    )
                time.sleep(LOOK_EVERY_S)
            runs = SyncRun.objects.filter(connection=connection).count()
            return {"latencies": [latencies[n] for n in range(edits)], "runs": runs}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(quick: bool, edits: int = EDITS) -> tuple[list[Table], str]:
    title = f"Edit -> other app by polling: Kustomer edit until in Google, interval {INTERVAL_S} s"
    if quick:
        table = Table(title, ["result"])
        table.add("not measured in --quick: each edit waits for a poll (minutes)")
        return [table], "polling not measured (--quick)"
    if shutil.which("redis-server") is None:
        table = Table(title, ["result"])
        table.add("not measured: no redis-server on PATH")
        return [table], "polling not measured (no redis-server)"
    found = measure(edits)
    latencies = found["latencies"]
    median, worst = statistics.median(latencies), max(latencies)
    figures.record("polling.median_s", median)
    figures.record("polling.worst_s", worst)
    figures.record("polling.edits", edits)
    figures.record("polling.interval_s", INTERVAL_S)
    table = Table(
        f"{title} ({edits} edits spread over one {CYCLE_S} s cycle; real beat + worker, "
        "no webhooks)",
        ["measure", "value"],
    )
    table.add("median (s)", median)
    table.add("worst (s)", worst)
    table.add("best (s)", min(latencies))
    table.add("each (s, in edit order)", " ".join(f"{s:.1f}" for s in latencies))
    table.add("runs (first scan + polled runs)", found["runs"])
    return [table], f"polling edit median {median:.1f}s worst {worst:.1f}s"


if __name__ == "__main__":
    from bench.common import setup_django

    parser = argparse.ArgumentParser(prog="python -m bench.polling")
    parser.add_argument("--edits", type=int, default=EDITS)
    args = parser.parse_args()
    setup_django("bench-polling.sqlite3")
    tables, summary = run(False, args.edits)
    for result in tables:
        print(result.render(), "\n")
    print("SUMMARY", summary)
