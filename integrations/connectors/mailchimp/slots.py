"""Mailchimp's only rate limit: at most 10 simultaneous connections per account (api-notes §4.5;
more answer 429). Every request of a Mailchimp connector takes one of the account's slots first,
counted in the cache so every worker shares them, and gives it back when answered. The count
lives ``HOLD`` seconds from its first take, so slots a killed worker never gave back are free
again by then (the count may then admit a request too many for a moment: Mailchimp answers it
429, which the HTTP seam waits out)."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
from django.core.cache import cache
from django.views.decorators.debug import sensitive_variables

LIMIT = 10
# How long a count lives from its first take.
HOLD = 120
# How long to wait for a free slot before sending anyway (Mailchimp then answers 429, which
# the HTTP seam waits out and retries).
MAX_WAIT = 30.0
STEP = 0.05


@sensitive_variables("api_key")
def slots_key(api_key: str) -> str:
    """The cache key counting one account's connections: a digest, never the key itself."""
    return "tandem:mailchimp-slots:" + hashlib.sha256(api_key.encode()).hexdigest()[:24]


class ConnectionSlots(requests.Session):
    """A session that sends through ``inner`` once one of ``limit`` slots is free."""

    def __init__(
        self,
        inner: requests.Session,
        key: str,
        *,
        limit: int = LIMIT,
        max_wait: float = MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.inner = inner
        self.key = key
        self.limit = limit
        self.max_wait = max_wait
        self.sleep = sleep

    @contextmanager
    def slot(self) -> Iterator[None]:
        waited = 0.0
        while True:
            cache.add(self.key, 0, timeout=HOLD)
            try:
                taken = cache.incr(self.key)
            except ValueError:  # the count expired between add and incr
                continue
            if taken <= self.limit or waited >= self.max_wait:
                break
            self._give_back()
            self.sleep(STEP)
            waited += STEP
        try:
            yield
        finally:
            self._give_back()

    def _give_back(self) -> None:
        with contextlib.suppress(ValueError):  # the count expired meanwhile
            cache.decr(self.key)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        with self.slot():
            return self.inner.request(method, url, *args, **kwargs)
