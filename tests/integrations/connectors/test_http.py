"""The HTTP seam, over real HTTP against a scripted local server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from werkzeug.wrappers import Request, Response

from integrations.connectors.http import HttpClient, HttpError, RateGate, parse_retry_after
from sandbox.server import ThreadedServer


class Script:
    """Answers each request with the next scripted (status, headers, body)."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], str]] = []
        self.seen: list[tuple[str, str]] = []
        # Each request's Content-Type headers and body.
        self.bodies: list[tuple[list[str], bytes]] = []

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        request = Request(environ)
        self.seen.append((request.method, request.full_path))
        self.bodies.append((request.headers.getlist("Content-Type"), request.get_data()))
        status, headers, body = self.answers.pop(0) if self.answers else (200, {}, "{}")
        return Response(body, status=status, headers=headers)(environ, start_response)


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    httpd = ThreadedServer("127.0.0.1", 0, script).start()
    yield f"http://127.0.0.1:{httpd.server_port}", script
    httpd.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> HttpClient:
    return HttpClient(app="testapp", max_retries=3, backoff_base=0.01, sleep=sleeps.append)


def test_it_retries_a_get_after_a_server_error(server, client) -> None:
    base, script = server
    script.answers = [(503, {}, "busy"), (200, {}, '{"ok": true}')]
    response = client.request("GET", f"{base}/v1/things")
    assert response.json() == {"ok": True}
    assert len(script.seen) == 2


def test_it_counts_every_call_by_kind(server, client) -> None:
    base, script = server
    script.answers = [(503, {}, ""), (200, {}, "{}"), (200, {}, "{}")]
    client.request("GET", f"{base}/v1/things")
    client.request("POST", f"{base}/v1/search", kind="search", idempotent=True)
    assert client.calls == {"GET /v1/things": 2, "search": 1}
    assert client.total_calls == 3


def test_it_honours_retry_after(server, client, sleeps) -> None:
    base, script = server
    script.answers = [(429, {"Retry-After": "3"}, ""), (200, {}, "{}")]
    client.request("GET", f"{base}/v1/things")
    (slept,) = sleeps
    assert 3.0 <= slept <= 3.3  # the announced wait, plus a little jitter


def test_it_never_retries_a_post_on_its_own(server, client) -> None:
    base, script = server
    script.answers = [(503, {}, ""), (200, {}, "{}")]
    with pytest.raises(HttpError) as excinfo:
        client.request("POST", f"{base}/v1/customers", json={"name": "x"})
    assert excinfo.value.status == 503
    assert len(script.seen) == 1


def test_it_retries_a_post_marked_idempotent(server, client) -> None:
    base, script = server
    script.answers = [(502, {}, ""), (200, {}, "{}")]
    client.request("POST", f"{base}/v1/customers/search", idempotent=True)
    assert len(script.seen) == 2


def test_it_sends_a_json_body_as_json(server, client) -> None:
    url, script = server
    body = {"name": "Zoë ✓", "n": [1, 2.5, None, True], "nested": {"k": ["v"]}}
    client.request("POST", f"{url}/contacts", json=body)
    ((content_types, sent),) = script.bodies
    assert content_types == ["application/json"]
    assert json.loads(sent) == body


def test_it_keeps_the_content_type_a_caller_gave_a_json_body(server, client) -> None:
    url, script = server
    client.request(
        "POST",
        f"{url}/contacts",
        json={"a": 1},
        headers={"content-type": "application/vnd.api+json"},
    )
    ((content_types, sent),) = script.bodies
    assert content_types == ["application/vnd.api+json"]
    assert json.loads(sent) == {"a": 1}


def test_it_sends_the_same_json_body_again_on_a_retry(server, client) -> None:
    url, script = server
    script.answers = [(503, {}, "{}"), (200, {}, "{}")]
    client.request("POST", f"{url}/search", idempotent=True, json={"and": [{"email": "x@y.z"}]})
    assert [sent for _, sent in script.bodies] == [script.bodies[0][1]] * 2
    assert json.loads(script.bodies[1][1]) == {"and": [{"email": "x@y.z"}]}


def test_it_does_not_retry_a_client_error(server, client) -> None:
    base, script = server
    script.answers = [(400, {}, '{"error": "bad"}'), (200, {}, "{}")]
    with pytest.raises(HttpError) as excinfo:
        client.request("GET", f"{base}/v1/things")
    assert excinfo.value.status == 400
    assert len(script.seen) == 1


def test_it_returns_accepted_error_statuses(server, client) -> None:
    base, script = server
    script.answers = [(409, {}, '{"errors": []}')]
    response = client.request("POST", f"{base}/v1/customers", accept={409})
    assert response.status_code == 409


def test_it_gives_up_after_the_bounded_retries(server, client, sleeps) -> None:
    base, script = server
    script.answers = [(500, {}, "")] * 10
    with pytest.raises(HttpError):
        client.request("GET", f"{base}/v1/things")
    assert len(script.seen) == 4
    assert len(sleeps) == 3


def test_it_backs_off_exponentially_with_jitter(server, client, sleeps) -> None:
    base, script = server
    script.answers = [(500, {}, "")] * 4
    with pytest.raises(HttpError):
        client.request("GET", f"{base}/v1/things")
    for attempt, slept in enumerate(sleeps):
        assert 0.01 * 2**attempt <= slept <= 2 * 0.01 * 2**attempt


def test_it_retries_connection_failures_of_a_get(client, sleeps) -> None:
    with pytest.raises(HttpError) as excinfo:
        client.request("GET", "http://127.0.0.1:9/unreachable")
    assert excinfo.value.status is None
    assert len(sleeps) == 3


def test_it_does_not_follow_redirects(server, client) -> None:
    base, script = server
    script.answers = [(302, {"Location": "http://169.254.169.254/latest"}, "")]
    with pytest.raises(HttpError) as excinfo:
        client.request("GET", f"{base}/v1/things")
    assert "redirect" in str(excinfo.value)
    assert len(script.seen) == 1


def test_it_redacts_secrets_from_errors_and_logs(server, caplog) -> None:
    base, script = server
    client = HttpClient(app="testapp", max_retries=1, backoff_base=0, sleep=lambda _: None)
    client.add_secret("tok-SECRET-123")
    script.answers = [(500, {}, ""), (500, {}, "")]
    caplog.set_level(logging.DEBUG, logger="integrations.connectors.http")
    with pytest.raises(HttpError) as excinfo:
        client.request("GET", f"{base}/v1/things?access_token=tok-SECRET-123", kind=None)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("integrations")]
    assert ours
    assert "tok-SECRET-123" not in str(excinfo.value)
    assert not [line for line in ours if "tok-SECRET-123" in line]


def test_it_shares_a_rate_limit_wait_between_clients(server, sleeps, settings) -> None:
    base, script = server
    first = HttpClient(app="testapp", gate_key="kustomer:1", max_retries=0, sleep=sleeps.append)
    second = HttpClient(
        app="testapp", gate_key="kustomer:1", max_retries=0, max_wait=60, sleep=sleeps.append
    )
    script.answers = [(200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "30"}, "{}")]
    first.request("GET", f"{base}/v1/things")
    second.request("GET", f"{base}/v1/things")
    assert len(sleeps) == 1
    assert 25 <= sleeps[0] <= 30


def test_it_keeps_gates_of_different_accounts_apart(server, sleeps) -> None:
    base, script = server
    first = HttpClient(app="testapp", gate_key="kustomer:1", max_retries=0, sleep=sleeps.append)
    other = HttpClient(app="testapp", gate_key="kustomer:2", max_retries=0, sleep=sleeps.append)
    script.answers = [(200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "30"}, "{}")]
    first.request("GET", f"{base}/v1/things")
    other.request("GET", f"{base}/v1/things")
    assert sleeps == []


def test_it_shares_the_gate_through_redis(redis_url, settings) -> None:
    from django.core.cache import caches

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    }
    caches["default"].clear()
    RateGate("kustomer:redis").block(20)
    assert 15 <= RateGate("kustomer:redis").blocked_for() <= 20
    caches["default"].clear()


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("5", 5.0), ("0", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None), (None, None)],
)
def test_it_parses_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_it_beats_the_heartbeat_before_every_attempt(server, client) -> None:
    base, script = server
    beats: list[int] = []
    client.heartbeat = lambda: beats.append(1)
    script.answers = [(503, {}, ""), (200, {}, "{}")]
    client.request("GET", f"{base}/v1/things")
    assert len(beats) >= 2


def test_it_beats_the_heartbeat_through_a_long_wait(server, client, sleeps) -> None:
    base, script = server
    beats: list[float] = []
    client.heartbeat = lambda: beats.append(sum(sleeps))
    client.max_wait = 60
    script.answers = [(503, {"Retry-After": "25"}, ""), (200, {}, "{}")]
    client.request("GET", f"{base}/v1/things")
    assert sleeps == [10.0, 10.0, 5.0]
    assert beats == [0.0, 10.0, 20.0, 25.0, 25.0]


def test_it_lets_a_lost_lease_stop_the_call(server, client) -> None:
    from integrations.leases import LeaseLost

    base, script = server

    def lost() -> None:
        raise LeaseLost("taken over")

    client.heartbeat = lost
    with pytest.raises(LeaseLost):
        client.request("GET", f"{base}/v1/things")
    assert script.seen == []


def test_it_sends_a_throttled_post_again_after_the_wait(server, client, sleeps) -> None:
    base, script = server
    script.answers = [
        (429, {"Retry-After": "2"}, ""),
        (429, {"Retry-After": "2"}, ""),
        (201, {}, "{}"),
    ]
    response = client.request("POST", f"{base}/v1/customers/bulk", json=[{"name": "x"}])
    assert response.status_code == 201
    assert script.seen == [("POST", "/v1/customers/bulk?")] * 3
    assert len(sleeps) == 2 and all(2.0 <= s <= 2.2 for s in sleeps)


def test_it_spreads_the_retries_of_throttled_calls_with_jitter(server, sleeps) -> None:
    base, script = server
    client = HttpClient(app="testapp", max_retries=8, max_wait=60, sleep=sleeps.append)
    script.answers = [(429, {"Retry-After": "5"}, "")] * 8 + [(200, {}, "{}")]
    client.request("POST", f"{base}/v1/customers", json={})
    assert len(set(sleeps)) > 1
    assert all(5.0 <= s <= 5.5 for s in sleeps)


def test_it_gives_up_on_a_post_still_throttled_after_the_retries(server, client) -> None:
    base, script = server
    script.answers = [(429, {"Retry-After": "1"}, "")] * 10
    with pytest.raises(HttpError) as excinfo:
        client.request("POST", f"{base}/v1/customers", json={})
    assert excinfo.value.status == 429
    assert len(script.seen) == client.max_retries + 1


def test_it_holds_other_workers_back_while_a_post_is_throttled(server, sleeps) -> None:
    base, script = server
    first = HttpClient(app="testapp", gate_key="acct-1", max_retries=1, sleep=sleeps.append)
    script.answers = [(429, {"Retry-After": "4"}, ""), (200, {}, "{}")]
    first.request("POST", f"{base}/v1/customers", json={})
    assert 3.0 <= RateGate("acct-1").blocked_for() <= 4.0
