"""The emulator kit: one control vocabulary for every app (faults, clock, request log, stats,
reset, demo seed), the same fault queue and clock, and the state saved without the transient
parts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox.google_contacts import DEMO_EMAIL
from sandbox.kit import Emulator, Fault
from sandbox.kustomer import ALL_ROLES, DEMO_SUBDOMAIN, KustomerEmulator
from sandbox.server import Sandbox

SLUGS = ["kustomer", "google_contacts"]
USER = "kit@gmail.example"


@pytest.fixture(params=SLUGS)
def app(request: pytest.FixtureRequest, sandbox: Sandbox) -> tuple[str, Emulator]:
    slug: str = request.param
    emulator: Emulator = sandbox.emulator(slug)
    emulator.reset()
    return slug, emulator


def api_call(sandbox: Sandbox, slug: str, emulator: Any) -> Callable[[], requests.Response]:
    """One cheap authenticated API request of the app."""
    base = sandbox.base_url(slug)
    if slug == "kustomer":
        emulator.create_org("kit", api_keys={"kit-key": ALL_ROLES})
        return lambda: requests.get(
            f"{base}/kit/v1/customers", headers={"Authorization": "Bearer kit-key"}, timeout=5
        )
    token = emulator.issue_tokens(USER)["access_token"]
    return lambda: requests.get(
        f"{base}/v1/people/me",
        params={"personFields": "emailAddresses"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def control(sandbox: Sandbox, slug: str, method: str, path: str, body: Any = None) -> Any:
    return requests.request(
        method, f"{sandbox.base_url(slug)}/_sandbox/{path}", json=body, timeout=5
    )


def test_it_fails_the_next_requests_on_the_faults_route(
    sandbox: Sandbox, app: tuple[str, Emulator]
) -> None:
    slug, emulator = app
    call = api_call(sandbox, slug, emulator)

    queued = control(sandbox, slug, "POST", "faults", {"count": 2, "status": 503})
    pending = control(sandbox, slug, "GET", "faults").json()

    assert queued.json() == {"ok": True, "pending": 2} and pending["pending"] == 2
    assert [call().status_code for _ in range(3)] == [503, 503, 200]


def test_it_freezes_and_advances_the_clock_on_the_clock_route(
    sandbox: Sandbox, app: tuple[str, Emulator]
) -> None:
    slug, emulator = app

    frozen = control(sandbox, slug, "POST", "clock", {"freeze": "2026-01-01T00:00:00Z"}).json()
    moved = control(sandbox, slug, "POST", "clock", {"advance": 90}).json()

    assert frozen == {"now": "2026-01-01T00:00:00+00:00", "frozen": True}
    assert moved["now"] == "2026-01-01T00:01:30+00:00"
    assert emulator.clock.now() == dt.datetime(2026, 1, 1, 0, 1, 30, tzinfo=dt.UTC)


def test_it_logs_requests_and_counts_them_in_stats(
    sandbox: Sandbox, app: tuple[str, Emulator]
) -> None:
    slug, emulator = app
    call = api_call(sandbox, slug, emulator)
    call()
    call()

    logged = control(sandbox, slug, "GET", "requests").json()["requests"]
    stats = control(sandbox, slug, "GET", "stats").json()
    control(sandbox, slug, "DELETE", "requests")

    assert len(logged) == 2 and logged[0] == logged[1]
    assert stats == {"request_count": 2, "requests": {logged[0]: 2}}
    assert control(sandbox, slug, "GET", "stats").json()["request_count"] == 0


def test_it_resets_data_faults_clock_and_log(sandbox: Sandbox, app: tuple[str, Emulator]) -> None:
    slug, emulator = app
    api_call(sandbox, slug, emulator)()
    emulator.fail_next(3, 500)
    emulator.freeze_clock(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))

    assert control(sandbox, slug, "POST", "reset").json() == {"ok": True}

    assert len(emulator.faults) == 0 and emulator.clock.frozen is None
    assert emulator.stats() == {"request_count": 0, "requests": {}}
    assert emulator.dump_state() == type(emulator)().dump_state()


def test_it_seeds_the_demo_data_on_the_seed_demo_route(
    sandbox: Sandbox, app: tuple[str, Emulator]
) -> None:
    slug, _ = app

    seeded = control(sandbox, slug, "POST", "seed_demo")

    assert seeded.status_code == 201
    summary = seeded.json()
    assert summary.get("customers", summary.get("contacts", 0)) > 100


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "faults", {"count": "many"}, 400),
        ("POST", "faults", {"status": 200}, 400),
        ("POST", "faults", [1], 400),
        ("POST", "clock", {"freeze": "soon"}, 400),
        ("POST", "clock", {}, 400),
        ("GET", "weather", None, 404),
    ],
)
def test_it_answers_a_bad_control_request_as_json(
    sandbox: Sandbox, app: tuple[str, Emulator], method: str, path: str, body: Any, status: int
) -> None:
    slug, _ = app

    answer = control(sandbox, slug, method, path, body)

    assert answer.status_code == status and answer.json()["error"]


def test_it_stalls_a_request_for_a_sleep_fault(sandbox: Sandbox, app: tuple[str, Emulator]) -> None:
    slug, emulator = app
    call = api_call(sandbox, slug, emulator)
    emulator.fail_next(1, sleep=0.3)

    started = dt.datetime.now(dt.UTC)
    answer = call()

    assert answer.status_code == 200
    assert dt.datetime.now(dt.UTC) - started >= dt.timedelta(seconds=0.3)


def test_it_drops_pending_faults_when_given_an_empty_list(app: tuple[str, Emulator]) -> None:
    _, emulator = app
    emulator.fail_next(5, 500)

    emulator.faults = []

    assert len(emulator.faults) == 0 and emulator.take_fault() is None


def test_it_saves_the_data_but_not_the_faults_or_the_log(app: tuple[str, Emulator]) -> None:
    slug, emulator = app
    emulator.seed_demo()
    emulator.fail_next(2, 429)
    emulator.requests.record("GET /x")

    fresh: Any = type(emulator)()
    fresh.load_state(emulator.dump_state())

    saved: Any = emulator
    if slug == "kustomer":
        assert fresh.customers(DEMO_SUBDOMAIN) == saved.customers(DEMO_SUBDOMAIN)
    else:
        assert fresh.contacts(DEMO_EMAIL) == saved.contacts(DEMO_EMAIL)
    assert len(fresh.faults) == 0 and fresh.requests.total == 0


def test_it_keeps_the_keyword_fault_control_of_kustomer(sandbox: Sandbox) -> None:
    emulator: KustomerEmulator = sandbox.emulator("kustomer")
    emulator.reset()

    emulator.set_faults(count=1, status=429, reset=2.5)

    assert emulator.take_fault() == Fault("status", status=429, reset=2.5)


def test_it_answers_an_emulator_bug_with_a_500_in_the_apps_shape(
    sandbox: Sandbox, app: tuple[str, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    slug, emulator = app
    call = api_call(sandbox, slug, emulator)

    def broken(*args: Any) -> Any:
        raise RuntimeError("emulator bug")

    monkeypatch.setattr(emulator, "_route", broken)
    answer = call()

    assert answer.status_code == 500
    body = answer.json()
    assert (
        body["errors"][0]["status"] == "500" if slug == "kustomer" else body["error"]["code"] == 500
    )
