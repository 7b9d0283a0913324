"""One test per safeguard the rest of the suite did not catch: each fails when its safeguard is
removed (checked by removing it, see docs/reliability.md)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection as db
from django.utils import timezone
from werkzeug.wrappers import Request, Response

from integrations.connectors.accounts import connector_for
from integrations.connectors.http import HttpClient, HttpError, RateGate
from integrations.leases import fenced, lease_acquire, lease_extend, lease_release
from integrations.models import Connection, SyncRun
from integrations.services import connection_sync
from integrations.sync.engine import BreakerTripped
from sandbox.server import ThreadedServer
from tests.e2e.conftest import Pair
from tests.factories import ConnectionFactory
from tests.integrations.sync.conftest import make_pair

SECRET = "tok-SECRET-5f0c1d2e"


# -- The row lock of the fencing check (PostgreSQL, two threads) ---------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_makes_a_takeover_wait_for_the_fenced_write_of_the_run_it_replaces() -> None:
    """Without ``select_for_update`` the takeover lands between the stale run's check and its
    commit, and the stale run's write commits after the new run took over."""
    connection = ConnectionFactory(checkpoint_a={"cursor": "old"})
    stale = lease_acquire(connection_id=connection.pk, owner="w1")
    Connection.objects.filter(pk=connection.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    checked, seen = threading.Event(), {}

    def stale_run() -> None:
        try:
            with fenced(stale):
                checked.set()
                time.sleep(1.0)
                Connection.objects.filter(pk=connection.pk).update(checkpoint_a={"cursor": "w1"})
        finally:
            db.close()

    def takeover() -> None:
        try:
            assert checked.wait(10)
            seen["lease"] = lease_acquire(connection_id=connection.pk, owner="w2")
            seen["checkpoint"] = Connection.objects.get(pk=connection.pk).checkpoint_a
        finally:
            db.close()

    threads = [threading.Thread(target=stale_run), threading.Thread(target=takeover)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert seen["lease"] is not None
    # The takeover came after the stale run's write committed, never in between.
    assert seen["checkpoint"] == {"cursor": "w1"}


# -- The mass-tag breaker counts the run, not one page ------------------------------------------


@pytest.mark.django_db
def test_it_trips_the_breaker_on_the_runs_total_when_no_page_alone_is_too_many() -> None:
    pair = make_pair(sync_deletions=True)  # pages of 3; 20% of 20 linked contacts is 4
    ids = [pair.a.add({"emails": [f"p{n}@example.com"], "full_name": "P"}) for n in range(20)]
    pair.run()
    for record_id in ids[:6]:
        pair.a.delete(record_id)
    with pytest.raises(BreakerTripped, match="of 20 contacts in Beta"):
        pair.run()


# -- The seam: secrets reach log lines only redacted; the rate gate holds others back -----------


class Echo:
    """Answers each request with the next scripted (status, headers, body); a body may echo
    the request's own Authorization header, as some APIs do in their errors."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], str]] = []
        self.seen: list[float] = []

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        self.seen.append(time.monotonic())
        status, headers, body = self.answers.pop(0) if self.answers else (200, {}, "{}")
        body = body.replace("{auth}", request.headers.get("Authorization", ""))
        return Response(body, status=status, headers=headers)(environ, start_response)


@pytest.fixture
def echo() -> Iterator[tuple[str, Echo]]:
    script = Echo()
    httpd = ThreadedServer("127.0.0.1", 0, script).start()
    yield f"http://127.0.0.1:{httpd.server_port}", script
    httpd.stop()


def ours(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("integrations")]


@pytest.mark.django_db
def test_it_keeps_a_key_an_error_body_echoes_out_of_the_runs_log_line_and_error(
    echo: tuple[str, Echo], caplog: pytest.LogCaptureFixture, pair: Pair, settings: Any
) -> None:
    """Kustomer answers 403 with a body that quotes the request's Authorization header: the
    run fails with the app's words, and the key is in neither its log line nor its error."""
    base, script = echo
    key = str(connector_for(pair.account_a).credentials["api_key"])
    connection = pair.connect()
    settings.KUSTOMER_BASE_URL_TEMPLATE = base + "/{subdomain}"
    script.answers = [
        (403, {}, '{"errors": [{"status": "403", "detail": "{auth} lacks a role"}]}')
    ] * 10
    caplog.set_level(logging.DEBUG)
    connection_sync(connection_id=connection.pk)
    run = SyncRun.objects.get(connection=connection)
    failed = [line for line in ours(caplog) if "run failed" in line]
    assert failed and "Bearer [redacted] lacks a role" in failed[0]
    assert not [line for line in ours(caplog) if key in line]
    assert key not in run.error and "[redacted]" in run.error


def test_it_redacts_a_token_in_the_path_of_a_failed_request_from_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Some APIs put the key in the path; a connection error logs the path it failed on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = HttpClient(app="testapp", secrets=[SECRET], max_retries=1, sleep=lambda _: None)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(HttpError) as excinfo:
        client.request("GET", f"http://127.0.0.1:{port}/v1/{SECRET}/things")
    lines = ours(caplog)
    assert [line for line in lines if "/v1/[redacted]/things" in line]
    assert not [line for line in lines if SECRET in line]
    assert SECRET not in str(excinfo.value)


def test_it_holds_another_worker_back_until_a_retried_429_is_over(
    echo: tuple[str, Echo], settings: Any
) -> None:
    """The first worker's 429 is retried (and succeeds); the second worker, sharing the account's
    gate, sends nothing until the wait the app asked for is over."""
    # This process's own cache: a shared Redis database may be cleared by another test run.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    base, script = echo
    first = HttpClient(app="testapp", gate_key="acct-429", max_retries=2, backoff_base=0)
    second = HttpClient(app="testapp", gate_key="acct-429", max_retries=0, backoff_base=0)
    script.answers = [(429, {"Retry-After": "2"}, ""), (200, {}, "{}"), (200, {}, "{}")]
    done = threading.Event()

    def worker_one() -> None:
        first.request("POST", f"{base}/v1/customers", json={})
        done.set()

    thread = threading.Thread(target=worker_one)
    thread.start()
    deadline = time.monotonic() + 5
    while not script.seen and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    throttled_at = script.seen[0]
    second.request("GET", f"{base}/v1/things")
    thread.join(10)
    assert done.is_set()
    assert len(script.seen) == 3
    assert min(script.seen[1:]) - throttled_at >= 1.9
    assert RateGate("acct-429").blocked_for() <= 2


# -- Leases touch their own connection only (mutation survivors of leases.py) -------------------


@pytest.mark.django_db
def test_it_takes_the_lease_of_its_own_connection_only() -> None:
    mine, other = ConnectionFactory(), ConnectionFactory()
    assert lease_acquire(connection_id=mine.pk, owner="w1") is not None
    other.refresh_from_db()
    assert (other.lease_owner, other.lease_expires_at, other.lease_generation) == ("", None, 0)


@pytest.mark.django_db
def test_it_extends_and_releases_the_lease_of_its_own_connection_only() -> None:
    mine, other = ConnectionFactory(), ConnectionFactory()
    lease = lease_acquire(connection_id=mine.pk, owner="w1")
    theirs = lease_acquire(connection_id=other.pk, owner="w2")
    assert lease is not None and theirs is not None
    assert lease.generation == theirs.generation  # the same number on two connections
    before = Connection.objects.get(pk=other.pk).lease_expires_at
    time.sleep(0.01)
    lease_extend(lease)
    later = timezone.now() + dt.timedelta(minutes=7)
    assert lease_release(lease, next_sync_at=later)
    other.refresh_from_db()
    mine.refresh_from_db()
    assert (other.lease_owner, other.lease_expires_at) == ("w2", before)
    assert (mine.lease_owner, mine.next_sync_at) == ("", later)


@pytest.mark.django_db
def test_it_reads_back_the_generation_of_the_connection_it_took() -> None:
    first, second = ConnectionFactory(), ConnectionFactory()
    for _ in range(3):  # the second connection changed hands before
        Connection.objects.filter(pk=second.pk).update(lease_expires_at=None)
        lease_acquire(connection_id=second.pk, owner="someone")
        Connection.objects.filter(pk=second.pk).update(lease_owner="", lease_expires_at=None)
    assert lease_acquire(connection_id=first.pk, owner="w1") is not None
    lease = lease_acquire(connection_id=second.pk, owner="w1")
    assert lease is not None
    assert lease.generation == Connection.objects.get(pk=second.pk).lease_generation == 4
