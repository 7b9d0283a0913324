"""The whole loop with real parts: beat's dispatcher task claims the due connection and sends
its run through Redis to a real Celery worker process, which syncs Kustomer and Google Contacts
on the sandboxes over HTTP and records the run in PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection as db

from config.celery_app import app
from integrations import tasks
from integrations.models import SyncRun
from tests.e2e.conftest import Pair, person

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    s = db.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def use_broker(url: str, *, eager: bool) -> None:
    """Point this process's Celery app at another broker. Connections and producers made for
    the previous broker are cached on the app, so they are dropped too."""
    app.conf.update(task_always_eager=eager, broker_url=url)
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture
def worker(redis_url: str, pair: Pair, settings, sandbox_server):  # type: ignore[no-untyped-def]
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": redis_url,
        "CACHE_URL": redis_url,
        "KUSTOMER_BASE_URL_TEMPLATE": settings.KUSTOMER_BASE_URL_TEMPLATE,
        "GOOGLE_OAUTH_TOKEN_URL": settings.GOOGLE_OAUTH_TOKEN_URL,
        "GOOGLE_PEOPLE_BASE_URL": settings.GOOGLE_PEOPLE_BASE_URL,
        "GOOGLE_OAUTH_CLIENT_ID": settings.GOOGLE_OAUTH_CLIENT_ID,
        "GOOGLE_OAUTH_CLIENT_SECRET": settings.GOOGLE_OAUTH_CLIENT_SECRET,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "info",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    previous = (app.conf.broker_url, app.conf.task_always_eager)
    use_broker(redis_url, eager=False)
    try:
        yield process
    finally:
        use_broker(previous[0], eager=previous[1])
        # The whole process group: a worker left behind would steal the next test's tasks.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def test_it_syncs_through_beat_dispatch_and_a_real_worker(pair: Pair, worker) -> None:  # type: ignore[no-untyped-def]
    pair.add_customer("Wanda Worker", "wanda@acme.example")
    pair.add_contact(person("Walt", "Worker", "walt@acme.example"))
    connection = pair.connect()
    assert tasks.dispatch_due_connections_task() == 1
    deadline = time.monotonic() + 90
    run = None
    while time.monotonic() < deadline:
        run = SyncRun.objects.filter(connection=connection).exclude(outcome="running").first()
        if run is not None:
            break
        time.sleep(0.5)
    if run is None:
        worker.terminate()
        output = worker.communicate(timeout=20)[0]
        pytest.fail(f"no run finished within 90 s; worker said:\n{output[-3000:]}")
    if run.outcome != "success":
        worker.terminate()
        pytest.fail(f"{run.error}; worker said:\n{worker.communicate(timeout=20)[0][-3000:]}")
    assert {e["value"] for c in pair.contacts() for e in c.get("emailAddresses") or []} == {
        "wanda@acme.example",
        "walt@acme.example",
    }
    connection.refresh_from_db()
    assert connection.lease_owner == ""
    assert connection.next_sync_at is not None
