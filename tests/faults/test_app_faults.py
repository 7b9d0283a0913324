"""Faults of the apps themselves, over real HTTP on the sandbox: a 429 storm with a reset, then
5xx answers and timeouts on a share of requests. No request goes out inside a rate-limit wait,
retries are bounded and jittered, a throttled write is sent again in the same run (never
counted failed), and both apps converge once the faults stop."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from django.utils import timezone

from integrations.connectors.http import parse_ratelimit_reset
from integrations.connectors.kustomer.client import KustomerClient
from integrations.models import Connection, RecordIssue, SyncRun
from sandbox.kit import Fault
from tests.e2e.conftest import Pair, person

pytestmark = [pytest.mark.faults, pytest.mark.django_db]


@dataclass
class Sent:
    started: float
    answered: float
    method: str
    url: str
    status: int | None
    wait: float | None  # a 429's wait, from its headers
    body: str = ""


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Sent]:
    """Every request this process sends, with when it went out and what came back."""
    log: list[Sent] = []
    original = requests.Session.request

    def request(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        started = time.time()
        body = repr([kwargs.get(k) for k in ("params", "json", "data")])
        try:
            response = original(self, method, url, *args, **kwargs)
        except requests.RequestException:
            log.append(Sent(started, time.time(), method, url, None, None, body))
            raise
        answered = time.time()
        wait = None
        if response.status_code == 429:
            wait = parse_ratelimit_reset(response.headers, now=answered)
        log.append(Sent(started, answered, method, url, response.status_code, wait, body))
        return response

    monkeypatch.setattr(requests.Session, "request", request)
    return log


def inside_waits(log: list[Sent], host: str) -> list[Sent]:
    """Requests to ``host`` sent while a 429 from it said to wait (50 ms of clock slack)."""
    windows = [(s.answered, s.answered + s.wait) for s in log if host in s.url and s.wait]
    return [
        s
        for s in log
        if host in s.url and any(start < s.started < end - 0.05 for start, end in windows)
    ]


def everyone_once(pair: Pair, emails: set[str]) -> None:
    in_kustomer = Counter(e["email"] for c in pair.customers() for e in c.get("emails") or [])
    in_google = Counter(e["value"] for c in pair.contacts() for e in c.get("emailAddresses") or [])
    assert set(in_kustomer) == emails and set(in_google) == emails
    assert max(in_kustomer.values()) == max(in_google.values()) == 1


def test_it_waits_out_a_429_storm_and_sends_the_throttled_write_again_in_the_same_run(
    pair: Pair, sent: list[Sent], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.HTTP_MAX_WAIT = 5.0
    emails = {f"g{n}@acme.example" for n in range(4)} | {"kim@acme.example"}
    for n in range(4):
        pair.add_contact(person(f"Gee{n}", "Google", f"g{n}@acme.example"))
    pair.add_customer("Kim Kustomer", "kim@acme.example")
    connection = pair.connect()
    original = KustomerClient.create_customer

    def storm_on_first_create(self: KustomerClient, body: Any) -> Any:
        monkeypatch.setattr(KustomerClient, "create_customer", original)
        pair.kustomer.set_faults(count=2, status=429, reset=1.0)
        return original(self, body)

    monkeypatch.setattr(KustomerClient, "create_customer", storm_on_first_create)
    run = pair.sync(connection)
    throttled = [s for s in sent if s.status == 429]
    assert len(throttled) == 2
    assert inside_waits(sent, pair.subdomain) == []
    assert (run.outcome, run.failed, run.created_a) == (SyncRun.Outcome.SUCCESS, 0, 4)
    everyone_once(pair, emails)
    print(f"\nFIGURES throttled=2 inside_waits=0 failed={run.failed}")


def test_it_converges_after_5xx_answers_and_timeouts_on_a_share_of_requests(
    pair: Pair, sent: list[Sent], settings: Any
) -> None:
    settings.HTTP_READ_TIMEOUT = 0.5
    settings.HTTP_BACKOFF_BASE = 0.02
    rng = random.Random(5)
    emails = set()
    for n in range(8):
        pair.add_contact(person(f"Gee{n}", "Google", f"g{n}@acme.example"))
        pair.add_customer(f"Kay{n} Kustomer", f"k{n}@acme.example")
        emails |= {f"g{n}@acme.example", f"k{n}@acme.example"}
    connection = pair.connect()

    def share() -> list[Fault]:
        return [
            rng.choice([Fault("status", status=503), Fault("sleep", seconds=1.0)])
            if rng.random() < 0.3
            else Fault("sleep", seconds=0.0)
            for _ in range(60)
        ]

    outcomes = []
    for round_ in range(3):
        pair.kustomer.faults.extend(share())
        pair.google.faults.extend(share())
        pair.add_customer(f"Late{round_} Kustomer", f"late{round_}@acme.example")
        emails.add(f"late{round_}@acme.example")
        outcomes.append(pair.sync(connection).outcome)
        Connection.objects.filter(pk=connection.pk).update(lease_owner="", lease_expires_at=None)
    pair.kustomer.faults.clear()
    pair.google.faults.clear()
    for _ in range(4):
        RecordIssue.objects.filter(connection=connection).update(
            next_retry_at=timezone.now() - dt.timedelta(seconds=1)
        )
        last = pair.sync(connection)
        if last.outcome == SyncRun.Outcome.SUCCESS and last.created_a + last.created_b == 0:
            break
    everyone_once(pair, emails)
    failures = [s for s in sent if s.status is None or (s.status or 0) >= 500]
    # Bounded: no request is tried more than the seam's retries allow, one after another.
    streak, longest, previous = 0, 0, None
    for s in sent:
        key = (s.method, s.url, s.body)
        streak = streak + 1 if key == previous else 1
        longest, previous = max(longest, streak), key
    assert longest <= settings.HTTP_MAX_RETRIES + 1
    print(
        f"\nFIGURES faulted={len(failures)} requests={len(sent)} outcomes={outcomes} "
        f"longest_streak={longest}"
    )
