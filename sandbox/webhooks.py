"""The emulator kit's webhook delivery: a sender thread that POSTs signed deliveries to the URLs
the apps' subscribers registered, with each app's retry schedule.

An app emulator builds the body and its signature headers (each app signs differently) and
hands them to ``WebhookSender.send``; the sender delivers them in order on one thread, outside
the emulator's lock, so a slow receiver never stalls the app's API. Each attempt has a
connection of its own, closed once answered: no receiver's server keeps a thread waiting on an
idle connection of the sandbox's (a test's live server did, until the interpreter's exit).
A delivery that fails (no 2xx within ``timeout`` seconds, or no connection) is tried again
after the next delay of the schedule; when the schedule is spent the sender gives up and
tells the app (``on_give_up``), which may disable the subscription, as the real apps do.

The queue is bounded (``max_queue``): past it a delivery is dropped and counted, never blocking
the app. ``retry_scale`` shrinks the schedule for tests (0.001 turns minutes into
milliseconds); ``hold`` queues without sending until ``release``. ``sent`` keeps the last
deliveries as sent (URL, headers, body), so a test can send one again: a duplicate, a replay,
or several in another order.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import hmac
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import requests

logger = logging.getLogger(__name__)


def hmac_sha256_hex(key: str, message: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``message`` with ``key`` (Kustomer's signature)."""
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Sent:
    """One delivery as it went out (every attempt sends the same bytes)."""

    subscription: str
    url: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    attempt: int = field(compare=False)
    delivery: Sent = field(compare=False)


@dataclass
class SenderStats:
    delivered: int = 0
    failed_attempts: int = 0
    given_up: int = 0
    dropped: int = 0
    # The HTTP status (or 0 for no answer) of every attempt, oldest first, bounded.
    attempts: deque[tuple[str, int]] = field(default_factory=lambda: deque(maxlen=1000))


class WebhookSender:
    """Deliveries on one background thread, retried on ``schedule`` (seconds between tries)."""

    def __init__(
        self,
        *,
        schedule: Sequence[float],
        timeout: float = 5.0,
        max_queue: int = 10_000,
        keep_sent: int = 1_000,
        on_give_up: Callable[[str], None] | None = None,
        name: str = "webhooks",
    ) -> None:
        self.schedule = tuple(float(delay) for delay in schedule)
        self.timeout = timeout
        self.max_queue = max_queue
        self.retry_scale = 1.0
        self.on_give_up = on_give_up
        self.name = name
        self.stats = SenderStats()
        self.sent: deque[Sent] = deque(maxlen=keep_sent)
        self._heap: list[_Pending] = []
        self._seq = itertools.count()
        self._sending: list[Sent] = []
        self._wake = threading.Condition()
        self._stopping = False
        self._held = False
        self._thread: threading.Thread | None = None

    # ---- the app's side ------------------------------------------------------------------

    def send(self, subscription: str, url: str, body: bytes, headers: Mapping[str, str]) -> bool:
        """Queue one delivery now; ``False`` (and counted as dropped) when the queue is full."""
        delivery = Sent(subscription, url, dict(headers), body)
        with self._wake:
            if self._stopping:
                return False
            if len(self._heap) >= self.max_queue:
                self.stats.dropped += 1
                return False
            self.sent.append(delivery)
            heapq.heappush(self._heap, _Pending(time.monotonic(), next(self._seq), 0, delivery))
            self._start()
            self._wake.notify()
        return True

    def forget(self, subscription: str) -> int:
        """Drop the pending deliveries of a deleted subscription; how many were dropped."""
        with self._wake:
            kept = [p for p in self._heap if p.delivery.subscription != subscription]
            dropped = len(self._heap) - len(kept)
            self._heap = kept
            heapq.heapify(self._heap)
            return dropped

    def clear(self) -> None:
        """Forget every pending delivery, what was sent and the counters (an app's reset)."""
        with self._wake:
            self._heap.clear()
            self.sent.clear()
            self.stats = SenderStats()

    # ---- tests' side ---------------------------------------------------------------------

    def hold(self) -> None:
        """Queue deliveries without sending them until ``release`` (a receiver that is down,
        or deliveries to be sent together)."""
        with self._wake:
            self._held = True

    def release(self) -> None:
        with self._wake:
            self._held = False
            self._wake.notify_all()

    def pending(self, subscription: str | None = None) -> int:
        """Deliveries queued or in flight (retries included), of one subscription or all."""
        with self._wake:
            return sum(
                1
                for delivery in [p.delivery for p in self._heap] + self._sending
                if subscription is None or delivery.subscription == subscription
            )

    def wait_idle(self, timeout: float = 10.0, subscription: str | None = None) -> bool:
        """Wait until nothing is queued or in flight, for one subscription or all; ``False`` on
        timeout."""
        deadline = time.monotonic() + timeout
        while self.pending(subscription):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self._wake:
                self._wake.wait(min(left, 0.05))
        return True

    @property
    def running(self) -> bool:
        """Whether the delivery thread is alive (it starts with the first delivery)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread; what is still queued is not delivered."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    # ---- the thread ----------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def _next(self) -> _Pending | None:
        with self._wake:
            while not self._stopping:
                if self._heap and not self._held:
                    wait = self._heap[0].due - time.monotonic()
                    if wait <= 0:
                        pending = heapq.heappop(self._heap)
                        self._sending.append(pending.delivery)
                        return pending
                    self._wake.wait(min(wait, 1.0))
                else:
                    self._wake.wait(1.0)
            return None

    def _loop(self) -> None:
        while True:
            pending = self._next()
            if pending is None:
                return
            try:
                self._attempt(pending)
            except Exception:  # a bug here must not end deliveries for good
                logger.exception("sandbox: %s delivery failed", self.name)
            finally:
                with self._wake:
                    self._sending.remove(pending.delivery)
                    self._wake.notify_all()

    def _attempt(self, pending: _Pending) -> None:
        delivery = pending.delivery
        status = 0
        with contextlib.suppress(requests.RequestException):
            response = requests.post(
                delivery.url,
                data=delivery.body,
                headers=dict(delivery.headers),
                timeout=self.timeout,
                allow_redirects=False,
            )
            status = response.status_code
        with self._wake:
            self.stats.attempts.append((delivery.subscription, status))
            if 200 <= status < 300:
                self.stats.delivered += 1
                return
            self.stats.failed_attempts += 1
            if pending.attempt < len(self.schedule) and not self._stopping:
                delay = self.schedule[pending.attempt] * self.retry_scale
                heapq.heappush(
                    self._heap,
                    _Pending(
                        time.monotonic() + delay, next(self._seq), pending.attempt + 1, delivery
                    ),
                )
                return
            self.stats.given_up += 1
        logger.info("sandbox: %s gave up on a delivery to %s", self.name, delivery.url)
        if self.on_give_up is not None:
            self.on_give_up(delivery.subscription)
