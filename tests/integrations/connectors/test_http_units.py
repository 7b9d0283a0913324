"""The HTTP seam's parts, one behaviour each: header parsing, safe URLs, redaction, the shared
rate gate, waits and the defaults taken from settings.

The end-to-end behaviour goes over real HTTP in ``test_http.py``; here the transport is a
scripted session, so each branch can be reached directly and fast.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import time
from typing import Any

import pytest
import requests
from django.core.cache import cache
from django.views.debug import SafeExceptionReporterFilter
from requests.structures import CaseInsensitiveDict

from integrations.connectors.http import (
    MAX_ANNOUNCED_WAIT,
    REDACTED,
    HttpClient,
    HttpError,
    RateGate,
    parse_ratelimit_reset,
    parse_retry_after,
    redact,
    safe_url,
)

URL = "https://api.example.com/v1/things"
NOW = 1_700_000_000.0


def answer(status: int = 200, headers: dict[str, str] | None = None, body: str = "{}") -> Any:
    response = requests.Response()
    response.status_code = status
    response.headers = CaseInsensitiveDict(headers or {})
    response._content = body.encode()
    return response


class ScriptedSession:
    """Answers each request with the next scripted response (200 once the script runs out; an
    exception in the script is raised) and keeps the keyword arguments every request was sent
    with."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.sent: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.sent.append(kwargs)
        next_answer = self.answers.pop(0) if self.answers else answer()
        if isinstance(next_answer, Exception):
            raise next_answer
        return next_answer


def client(*answers: Any, sleeps: list[float] | None = None, **options: Any) -> HttpClient:
    return HttpClient(
        app="testapp",
        sleep=(sleeps if sleeps is not None else []).append,
        session=ScriptedSession(*answers),  # type: ignore[arg-type]
        **options,
    )


# redact


def test_it_redacts_a_secret_of_four_characters() -> None:
    assert redact("token abcd sent", ["abcd"]) == f"token {REDACTED} sent"


def test_it_leaves_strings_shorter_than_four_characters_unredacted() -> None:
    # Three characters would redact half of every message (and every "com" of a host name).
    assert redact("the abc of it", ["abc", ""]) == "the abc of it"


# parse_retry_after


def test_it_counts_a_retry_after_date_from_the_given_now() -> None:
    # 2015-10-21 07:28:00 GMT is 1445412480.
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1_445_412_480.0) == 30.0


def test_it_never_reads_a_negative_retry_after() -> None:
    assert parse_retry_after("-3") == 0.0


# parse_ratelimit_reset


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"x-ratelimit-reset": "30"}, 30.0),  # a delta in seconds
        ({"x-ratelimit-reset": "-5"}, 0.0),  # a delta in the past: no wait
        ({"x-ratelimit-reset": str(NOW + 30)}, 30.0),  # an epoch timestamp
        ({"x-ratelimit-reset": str(NOW - 10)}, 0.0),  # an epoch already past
        ({"x-ratelimit-reset": "soon"}, None),
        ({"x-ratelimit-reset": ""}, None),
        ({}, None),
    ],
)
def test_it_reads_a_budget_reset_as_a_delta_or_an_epoch(
    headers: dict[str, str], seconds: float | None
) -> None:
    assert parse_ratelimit_reset(headers, now=NOW) == seconds


def test_it_counts_a_reset_epoch_from_the_clock_by_default() -> None:
    seconds = parse_ratelimit_reset({"x-ratelimit-reset": str(time.time() + 30)})
    assert seconds is not None and 29.0 <= seconds <= 30.0


@pytest.mark.parametrize("header", ["inf", "1e300", str(NOW + 10 * 24 * 3600)])
def test_it_believes_a_budget_reset_up_to_a_day(header: str) -> None:
    assert parse_ratelimit_reset({"x-ratelimit-reset": header}, now=NOW) == MAX_ANNOUNCED_WAIT


@pytest.mark.parametrize("header", ["inf", "1e300"])
def test_it_believes_a_retry_after_up_to_a_day(header: str) -> None:
    assert parse_retry_after(header) == MAX_ANNOUNCED_WAIT


@pytest.mark.parametrize("header", ["nan", "-inf"])
def test_it_reads_a_wait_that_is_not_a_number_as_no_wait(header: str) -> None:
    assert parse_retry_after(header) == 0.0
    assert parse_ratelimit_reset({"x-ratelimit-reset": header}, now=NOW) == 0.0


def test_it_retries_a_call_throttled_with_an_endless_wait_after_the_cap() -> None:
    # Before: RateGate.block(inf) raised OverflowError out of the seam.
    sleeps: list[float] = []
    seam = client(answer(429, {"Retry-After": "inf"}), sleeps=sleeps, gate_key="acct", max_wait=7)
    assert seam.request("GET", URL).status_code == 200
    assert sleeps and max(sleeps) == 7.0  # each wait capped: its own retry, then the gate
    assert RateGate("acct").blocked_for() <= MAX_ANNOUNCED_WAIT


def test_it_returns_an_answer_whose_budget_resets_never() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "inf"}
    seam = client(answer(200, headers), gate_key="acct")
    assert seam.request("GET", URL).status_code == 200


# safe_url


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        (
            "https://user:pa55@api.example.com:8443/v1/x?token=t#f",
            "https://api.example.com:8443/v1/x",
        ),
        ("https://api.example.com/v1/x?access_token=t", "https://api.example.com/v1/x"),
        ("http://[::1]:8080/v1/x", "http://[::1]:8080/v1/x"),
        ("http://api.example.com:99999/v1/x", "http://api.example.com/v1/x"),  # a bad port
        ("file:///var/x", "file:///var/x"),  # no host: none made up
        ("/v1/x?token=t", "/v1/x"),  # no scheme: the path alone
    ],
)
def test_it_keeps_only_scheme_host_port_and_path_of_a_url(url: str, safe: str) -> None:
    assert safe_url(url) == safe


# HttpError


def test_it_keeps_an_errors_message_status_response_and_url() -> None:
    response = answer(404)
    error = HttpError("testapp: gone", status=404, response=response, url="https://x/y")
    assert (str(error), error.status, error.response, error.url) == (
        "testapp: gone",
        404,
        response,
        "https://x/y",
    )


def test_it_gives_an_error_no_url_unless_told() -> None:
    assert HttpError("m", status=None, response=None).url == ""


def test_it_names_the_app_and_the_call_in_an_error() -> None:
    with pytest.raises(HttpError) as excinfo:
        client(answer(400)).request("GET", URL)
    assert str(excinfo.value) == "testapp: GET /v1/things answered 400"


# RateGate


def test_it_holds_nobody_back_at_an_untouched_gate() -> None:
    assert RateGate("acct").blocked_for() == 0.0


def test_it_holds_nobody_back_once_a_block_has_run_out() -> None:
    RateGate("acct").block(0.0)
    assert RateGate("acct").blocked_for() == 0.0


def test_it_never_shortens_a_block_with_a_shorter_one() -> None:
    RateGate("acct").block(30)
    RateGate("acct").block(5)
    assert 25 <= RateGate("acct").blocked_for() <= 30


def test_it_extends_a_block_with_a_longer_one() -> None:
    RateGate("acct").block(5)
    RateGate("acct").block(30)
    assert RateGate("acct").blocked_for() > 25


def test_it_holds_others_back_for_a_block_under_a_second() -> None:
    RateGate("acct").block(0.5)
    assert RateGate("acct").blocked_for() > 0.0


def test_it_drops_a_gates_cache_entry_a_second_after_its_block() -> None:
    gate = RateGate("acct")
    gate.block(0.01)
    assert cache.get(gate.key) is not None
    time.sleep(1.05)
    assert cache.get(gate.key) is None


# HttpClient defaults


def test_it_sends_the_timeouts_from_settings_by_default(settings) -> None:
    settings.HTTP_CONNECT_TIMEOUT, settings.HTTP_READ_TIMEOUT = 2.0, 9.0
    seam = client()
    seam.request("GET", URL)
    assert seam.session.sent[0]["timeout"] == (2.0, 9.0)  # type: ignore[attr-defined]


def test_it_sends_the_timeouts_it_was_given() -> None:
    seam = client(timeout=(1.0, 3.0))
    seam.request("GET", URL)
    assert seam.session.sent[0]["timeout"] == (1.0, 3.0)  # type: ignore[attr-defined]


def test_it_retries_as_often_as_settings_say_by_default(settings) -> None:
    settings.HTTP_MAX_RETRIES = 2
    seam = client(*[answer(503)] * 5)
    with pytest.raises(HttpError):
        seam.request("GET", URL)
    assert seam.total_calls == 3


def test_it_backs_off_from_the_settings_base_by_default(settings) -> None:
    settings.HTTP_BACKOFF_BASE = 0.25
    sleeps: list[float] = []
    client(answer(503), sleeps=sleeps, max_retries=1).request("GET", URL)
    (slept,) = sleeps
    assert 0.25 <= slept <= 0.5


def test_it_backs_off_from_the_base_it_was_given(settings) -> None:
    settings.HTTP_BACKOFF_BASE = 0.25
    sleeps: list[float] = []
    client(answer(503), sleeps=sleeps, max_retries=1, backoff_base=2.0).request("GET", URL)
    (slept,) = sleeps
    assert 2.0 <= slept <= 4.0


def test_it_caps_a_wait_at_the_settings_maximum_by_default(settings) -> None:
    settings.HTTP_MAX_WAIT = 4.0
    sleeps: list[float] = []
    client(answer(503, {"Retry-After": "30"}), sleeps=sleeps, max_retries=1).request("GET", URL)
    assert sleeps == [4.0]


def test_it_holds_no_other_client_back_without_a_gate_key() -> None:
    first = client(answer(429, {"Retry-After": "3"}), max_retries=0)
    with pytest.raises(HttpError):
        first.request("GET", URL)
    sleeps: list[float] = []
    client(sleeps=sleeps).request("GET", URL)
    assert sleeps == []


def test_it_drops_empty_secrets_and_redacts_the_rest() -> None:
    seam = client(answer(400, body="bad key tok-1234"), secrets=["", "tok-1234"])
    assert seam.secrets == ["tok-1234"]
    with pytest.raises(HttpError) as excinfo:
        seam.request("GET", URL)
    assert seam.error_text(excinfo.value.response) == f"bad key {REDACTED}"  # type: ignore[arg-type]


def test_it_cuts_an_error_text_to_three_hundred_characters() -> None:
    assert client().error_text(answer(400, body="x" * 400)) == "x" * 300


# Waits


def test_it_sleeps_nothing_for_a_zero_wait() -> None:
    sleeps: list[float] = []
    client(answer(503, {"Retry-After": "0"}), sleeps=sleeps, max_retries=1).request("GET", URL)
    assert sleeps == []


def test_it_sleeps_a_wait_under_a_second() -> None:
    sleeps: list[float] = []
    client(answer(503, {"Retry-After": "0.5"}), sleeps=sleeps, max_retries=1).request("GET", URL)
    assert sleeps == [0.5]


def test_it_sleeps_a_wait_in_one_go_without_a_heartbeat() -> None:
    sleeps: list[float] = []
    seam = client(answer(503, {"Retry-After": "25"}), sleeps=sleeps, max_retries=1, max_wait=60)
    seam.request("GET", URL)
    assert sleeps == [25.0]


def test_it_sleeps_the_last_slice_of_a_wait_however_short() -> None:
    sleeps: list[float] = []
    seam = client(answer(503, {"Retry-After": "20.5"}), sleeps=sleeps, max_retries=1, max_wait=60)
    seam.heartbeat = lambda: None
    seam.request("GET", URL)
    assert sleeps == [10.0, 10.0, 0.5]


def test_it_logs_who_waits_how_long_and_why(caplog) -> None:
    caplog.set_level(logging.INFO, logger="integrations.connectors.http")
    client(answer(503, {"Retry-After": "0.5"}), max_retries=1).request("GET", URL)
    assert "testapp: waiting 0.50s (status 503)" in [r.getMessage() for r in caplog.records]


# What a retry waits for


def test_it_waits_for_the_budget_reset_after_a_429() -> None:
    sleeps: list[float] = []
    seam = client(
        answer(429, {"x-ratelimit-reset": "20"}), sleeps=sleeps, max_retries=1, max_wait=60
    )
    seam.request("GET", URL)
    (slept,) = sleeps
    assert 20.0 <= slept <= 21.0


def test_it_waits_for_the_longer_of_two_announced_waits() -> None:
    sleeps: list[float] = []
    headers = {"Retry-After": "5", "x-ratelimit-reset": "20"}
    client(answer(429, headers), sleeps=sleeps, max_retries=1, max_wait=60).request("GET", URL)
    (slept,) = sleeps
    assert 20.0 <= slept <= 21.0


def test_it_ignores_the_budget_reset_after_a_server_error() -> None:
    # Kustomer sends x-ratelimit-reset on every answer; only a 429 means the budget is spent.
    sleeps: list[float] = []
    seam = client(answer(503, {"x-ratelimit-reset": "20"}), sleeps=sleeps, max_retries=1)
    seam.request("GET", URL, idempotent=True)
    (slept,) = sleeps
    assert slept < 1.0


# The budget


def test_it_holds_nobody_back_while_the_budget_has_calls_left() -> None:
    headers = {"x-ratelimit-remaining": "5", "x-ratelimit-reset": "30"}
    client(answer(200, headers), gate_key="acct").request("GET", URL)
    assert RateGate("acct").blocked_for() == 0.0


def test_it_holds_the_account_back_until_a_spent_budget_resets() -> None:
    headers = {"x-ratelimit-remaining": " 0 ", "x-ratelimit-reset": "30"}
    client(answer(200, headers), gate_key="acct").request("GET", URL)
    assert 25 <= RateGate("acct").blocked_for() <= 30


def test_it_returns_an_answer_with_a_spent_budget_and_no_gate() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "30"}
    assert client(answer(200, headers)).request("GET", URL).status_code == 200


# Secrets added later


def test_it_redacts_a_secret_added_later_from_errors() -> None:
    seam = client(answer(400))
    seam.add_secret("tok-5678")
    with pytest.raises(HttpError) as excinfo:
        seam.request("GET", f"{URL}/tok-5678")
    assert "tok-5678" not in str(excinfo.value)


# The error report


def test_it_keeps_a_request_s_variables_off_the_error_report() -> None:
    if "MUTANT_UNDER_TEST" in os.environ:
        pytest.skip("under mutmut its trampoline, not the request, is the wrapped function")

    def lost() -> None:
        raise RuntimeError("stopped")

    seam = client()
    seam.heartbeat = lost
    try:
        seam.request("GET", URL, headers={"Authorization": "Bearer tok-9999"})
    except RuntimeError:
        tb = sys.exc_info()[2]
    frames = []
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "request" and "url" in tb.tb_frame.f_locals:
            frames.append(tb.tb_frame)
        tb = tb.tb_next
    (frame,) = frames
    shown = SafeExceptionReporterFilter().get_traceback_frame_variables(None, frame)
    assert "tok-9999" not in repr(shown)
    assert {name for name, _ in shown} >= {"url", "kwargs"}


# The request loop


def test_it_never_retries_a_post_whose_connection_failed() -> None:
    seam = client(requests.ConnectionError("reset"), max_retries=3)
    with pytest.raises(HttpError):
        seam.request("POST", URL, json={})
    assert seam.total_calls == 1


def test_it_reports_a_connection_failure_with_the_safe_url_and_no_status() -> None:
    seam = client(requests.ConnectionError("reset"), max_retries=0)
    with pytest.raises(HttpError) as excinfo:
        seam.request("GET", f"{URL}?access_token=tok-1234")
    error = excinfo.value
    assert (str(error), error.url, error.status, error.response) == (
        f"testapp: GET /v1/things to {URL} failed: ConnectionError",
        URL,
        None,
        None,
    )


def test_it_logs_a_connection_failure_it_retries_and_the_one_it_gives_up_on(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="integrations.connectors.http")
    failed = f"testapp: GET /v1/things to {URL} failed: ConnectionError"
    seam = client(requests.ConnectionError("a"), requests.ConnectionError("b"), max_retries=1)
    with pytest.raises(HttpError):
        seam.request("GET", URL)
    assert [r.getMessage() for r in caplog.records] == [f"{failed}; retrying", failed]


def test_it_logs_the_wait_after_a_connection_failure(caplog) -> None:
    caplog.set_level(logging.INFO, logger="integrations.connectors.http")
    client(requests.ConnectionError("a"), max_retries=1, backoff_base=1.0).request("GET", URL)
    waits = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(waits) == 1 and waits[0].endswith("s (connection error)")


def test_it_logs_each_answer_at_debug_level(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="integrations.connectors.http")
    client(answer(204)).request("DELETE", URL)
    assert "testapp: DELETE /v1/things -> 204" in [r.getMessage() for r in caplog.records]


def test_it_logs_a_retried_status_with_its_wait(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="integrations.connectors.http")
    client(answer(503, {"Retry-After": "0.5"}), max_retries=1).request("GET", URL)
    assert [r.getMessage() for r in caplog.records] == [
        "testapp: GET /v1/things answered 503; retrying in 0.50s"
    ]


def test_it_waits_at_the_gate_even_for_under_a_second(caplog) -> None:
    caplog.set_level(logging.INFO, logger="integrations.connectors.http")
    RateGate("acct").block(0.8)
    sleeps: list[float] = []
    client(sleeps=sleeps, gate_key="acct").request("GET", URL)
    assert len(sleeps) == 1 and 0.0 < sleeps[0] <= 0.8
    assert caplog.records[0].getMessage().endswith("(shared rate limit)")


@pytest.mark.parametrize("status", [300, 399])
def test_it_treats_every_3xx_as_a_redirect_it_does_not_follow(status: int) -> None:
    with pytest.raises(HttpError) as excinfo:
        client(answer(status)).request("GET", URL)
    assert str(excinfo.value) == (
        f"testapp: GET /v1/things answered a redirect ({status}), which is not followed"
    )


def test_it_holds_nobody_back_after_a_server_error() -> None:
    client(answer(503, {"Retry-After": "20"}), gate_key="acct", max_retries=1, max_wait=60).request(
        "GET", URL
    )
    assert RateGate("acct").blocked_for() == 0.0


def test_it_holds_nobody_back_after_a_client_error() -> None:
    with pytest.raises(HttpError):
        client(answer(400), gate_key="acct", max_retries=0).request("GET", URL)
    assert RateGate("acct").blocked_for() == 0.0


@pytest.mark.parametrize(
    ("headers", "least", "most"),
    [({"Retry-After": "20"}, 15.0, 20.0), ({}, 5.0, 20.0)],  # announced, or the backoff
)
def test_it_holds_the_account_back_after_a_429_it_gives_up_on(
    headers: dict[str, str], least: float, most: float
) -> None:
    seam = client(answer(429, headers), gate_key="acct", max_retries=0, backoff_base=10.0)
    with pytest.raises(HttpError):
        seam.request("GET", URL)
    assert least <= RateGate("acct").blocked_for() <= most


@pytest.mark.parametrize(
    ("retry_after", "slept"),
    [("5", 5.5), ("0.05", 0.055), ("30", 31.0)],  # a tenth of the wait, a second at most
)
def test_it_adds_at_most_a_tenth_and_a_second_of_jitter_to_a_throttled_wait(
    monkeypatch, retry_after: str, slept: float
) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    sleeps: list[float] = []
    seam = client(answer(429, {"Retry-After": retry_after}), sleeps=sleeps, max_wait=60)
    seam.request("GET", URL)
    assert sleeps == [pytest.approx(slept)]
