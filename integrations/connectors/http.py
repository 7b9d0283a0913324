"""The one HTTP seam every connector talks through.

Timeouts on every call; bounded retry with exponential backoff and jitter on 408, 429, 5xx and
connection failures only; ``Retry-After`` and ``x-ratelimit-reset`` honoured and shared between
workers through the cache; a non-idempotent POST is never retried automatically, except after a
429 (the app refused it unprocessed: throttling is not a failure); redirects are never followed;
secrets are redacted from every log line and error; every call is counted.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.cache import cache
from django.views.decorators.debug import sensitive_variables

from integrations import jsoncodec

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
REDACTED = "[redacted]"
# A wait is slept in slices this long, beating the heartbeat between them.
HEARTBEAT_SLICE = 10.0
# An announced wait is believed up to a day: "inf" or a year would overflow the gate's cache
# timeout (and hold every worker of the account back for as long).
MAX_ANNOUNCED_WAIT = 24 * 3600.0


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def _announced(seconds: float) -> float:
    """An announced wait as seconds to believe: none below zero (nor for "nan"), a day at most."""
    return min(max(0.0, seconds), MAX_ANNOUNCED_WAIT)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return _announced(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return _announced(when.timestamp() - (time.time() if now is None else now))


def parse_ratelimit_reset(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds until the budget resets, from ``x-ratelimit-reset`` (epoch seconds or a delta)."""
    value = headers.get("x-ratelimit-reset")
    if not value:
        return None
    try:
        reset = float(value)
    except ValueError:
        return None
    current = time.time() if now is None else now
    # Epoch timestamps are large; small numbers are a delta in seconds.
    return _announced(reset - current if reset > 1_000_000_000 else reset)


class HttpError(Exception):
    """Raised by the seam when an answer is not usable; connectors turn it into
    ``ConnectorError`` with the app's own words."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        response: requests.Response | None,
        url: str = "",
    ):
        super().__init__(message)
        self.status = status
        self.response = response
        # Where the request went, without credentials, query or fragment (see ``safe_url``).
        self.url = url


def safe_url(url: str) -> str:
    """``url`` fit for a message: scheme, host, port and path only (a query string or a
    ``user:password@`` part may hold a secret)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else parts.path


class RateGate:
    """Shared "wait until" per app account, kept in the cache so every worker honours a 429 or
    an exhausted budget seen by any other."""

    def __init__(self, key: str) -> None:
        self.key = f"tandem:rate-gate:{key}"

    def blocked_for(self) -> float:
        until = cache.get(self.key)
        return max(0.0, float(until) - time.time()) if until else 0.0

    def block(self, seconds: float) -> None:
        until = time.time() + seconds
        current = cache.get(self.key)
        if current is None or float(current) < until:
            cache.set(self.key, until, timeout=int(seconds) + 1)


class HttpClient:
    def __init__(
        self,
        *,
        app: str,
        secrets: Iterable[str] = (),
        gate_key: str | None = None,
        max_retries: int | None = None,
        timeout: tuple[float, float] | None = None,
        backoff_base: float | None = None,
        max_wait: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.app = app
        self.secrets = [s for s in secrets if s]
        self.gate = RateGate(gate_key) if gate_key else None
        self.max_retries = settings.HTTP_MAX_RETRIES if max_retries is None else max_retries
        self.timeout = timeout or (settings.HTTP_CONNECT_TIMEOUT, settings.HTTP_READ_TIMEOUT)
        self.backoff_base = settings.HTTP_BACKOFF_BASE if backoff_base is None else backoff_base
        self.max_wait = settings.HTTP_MAX_WAIT if max_wait is None else max_wait
        self.sleep = sleep
        self.session = session or requests.Session()
        self.calls: Counter[str] = Counter()
        # A run may call an app from several threads at once (``sync/pipeline.py``).
        self._lock = threading.Lock()
        self._heartbeat: Callable[[], None] | None = None
        self._heartbeat_thread = 0

    @property
    def heartbeat(self) -> Callable[[], None] | None:
        """Called before every attempt and through long waits: the run service hangs its lease
        heartbeat here, so a run busy with (or waiting on) an app keeps its connection. It is
        beaten only in the thread that hung it: it renews the lease in the database, whose
        connections are per thread (that thread beats it while it waits on the others)."""
        return self._heartbeat

    @heartbeat.setter
    def heartbeat(self, beat: Callable[[], None] | None) -> None:
        self._heartbeat = beat
        self._heartbeat_thread = threading.get_ident()

    def add_secret(self, secret: str) -> None:
        if secret and secret not in self.secrets:
            self.secrets.append(secret)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def _redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def _beat(self) -> None:
        if self._heartbeat is not None and threading.get_ident() == self._heartbeat_thread:
            self._heartbeat()

    def _wait(self, seconds: float, reason: str) -> None:
        seconds = min(seconds, self.max_wait)
        if seconds <= 0:
            return
        logger.info("%s: waiting %.2fs (%s)", self.app, seconds, reason)
        if self.heartbeat is None:
            self.sleep(seconds)
            return
        while seconds > 0:
            step = min(seconds, HEARTBEAT_SLICE)
            self.sleep(step)
            seconds -= step
            self._beat()

    def _backoff(self, attempt: int) -> float:
        delay: float = self.backoff_base * (2**attempt)
        return delay + random.uniform(0, delay)

    def request(
        self,
        method: str,
        url: str,
        *,
        kind: str | None = None,
        idempotent: bool | None = None,
        accept: Iterable[int] = (),
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request, retrying where that is safe.

        Returns the response for a 2xx status or one listed in ``accept``; raises ``HttpError``
        for anything else once retries are spent. ``kind`` labels the call in the counters
        (default: method + path). ``idempotent=True`` marks a POST that only reads (a search).
        """
        method = method.upper()
        kind = kind or f"{method} {urlsplit(url).path}"
        retryable = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        accepted = set(accept)
        kwargs.setdefault("timeout", self.timeout)
        kwargs["allow_redirects"] = False
        if kwargs.get("json") is not None and kwargs.get("data") is None:
            # Encoded here, once for every try, in a tenth of the time requests' own encoding
            # (``json.dumps``) takes: a batch of 200 contacts is some 200 KB.
            kwargs["data"] = jsoncodec.encode(kwargs.pop("json"))
            headers = dict(kwargs.get("headers") or {})
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
            kwargs["headers"] = headers
        attempt = 0
        while True:
            self._beat()
            if self.gate is not None:
                blocked = self.gate.blocked_for()
                if blocked > 0:
                    self._wait(blocked, "shared rate limit")
            with self._lock:
                self.calls[kind] += 1
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.RequestException as exc:
                where = self._redact(safe_url(url))
                message = self._redact(
                    f"{self.app}: {kind} to {where} failed: {type(exc).__name__}"
                )
                if retryable and attempt < self.max_retries:
                    logger.warning("%s; retrying", message)
                    self._wait(self._backoff(attempt), "connection error")
                    attempt += 1
                    continue
                logger.warning("%s", message)
                raise HttpError(message, status=None, response=None, url=where) from None

            status = response.status_code
            logger.debug("%s: %s -> %s", self.app, kind, status)
            self._note_budget(response)
            if 200 <= status < 300 or status in accepted:
                return response
            # A 429 means the app did not process the request, so even a POST is sent again
            # once the wait is over; other workers of the account wait at the shared gate.
            throttled = status == 429
            if status in RETRY_STATUSES and (retryable or throttled) and attempt < self.max_retries:
                wait = self._retry_wait(response, attempt)
                if throttled and self.gate is not None:
                    self.gate.block(wait)
                if throttled:
                    # Jitter, so the workers released by one reset do not all knock at once.
                    wait += random.uniform(0, min(1.0, wait / 10))
                logger.warning(
                    "%s: %s answered %s; retrying in %.2fs", self.app, kind, status, wait
                )
                self._wait(wait, f"status {status}")
                attempt += 1
                continue
            if status == 429 and self.gate is not None:
                self.gate.block(self._retry_wait(response, attempt))
            if 300 <= status < 400:
                message = (
                    f"{self.app}: {kind} answered a redirect ({status}), which is not followed"
                )
            else:
                message = f"{self.app}: {kind} answered {status}"
            raise HttpError(self._redact(message), status=status, response=response)

    # Everything under a request (headers, bodies, tokens) stays off the debug page. Wrapped
    # here rather than with "@": mutmut leaves decorated functions unmutated, and this is the
    # seam's core.
    request = sensitive_variables()(request)

    def _retry_wait(self, response: requests.Response, attempt: int) -> float:
        waits = [
            w
            for w in (
                parse_retry_after(response.headers.get("Retry-After")),
                parse_ratelimit_reset(response.headers) if response.status_code == 429 else None,
            )
            if w is not None
        ]
        return max(waits) if waits else self._backoff(attempt)

    def _note_budget(self, response: requests.Response) -> None:
        if self.gate is None:
            return
        remaining = response.headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.strip() == "0":
            reset = parse_ratelimit_reset(response.headers)
            if reset:
                self.gate.block(reset)

    def error_text(self, response: requests.Response, limit: int = 300) -> str:
        """A short, redacted excerpt of an error body for messages."""
        return self._redact(response.text[:limit])
