"""Leases with generation fencing: one run of a connection at a time, and a run whose lease
was taken over can change nothing.

A run holds ``Lease(connection_id, owner, generation)``. Every write of checkpoints, links,
snapshots and intents happens inside ``fenced(lease)``, which locks the connection row and checks
that the generation is still the run's; a takeover bumps the generation, so the stale run's next
fenced write raises ``LeaseLost`` and its transaction rolls back.

Leases are short (``TANDEM_LEASE_SECONDS``, two minutes by default) and a live run keeps its
own alive with a ``Heartbeat``, called as it works (every page, every HTTP call), which renews
the lease a few times per lease length. A worker that dies stops beating, so its connection is
free again within a lease length rather than after the longest run anyone could imagine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations.models import Connection


class LeaseLost(Exception):
    """The run's lease expired and another run took the connection over."""


@dataclass(frozen=True)
class Lease:
    connection_id: int
    owner: str
    generation: int


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_acquire(
    *, connection_id: int, owner: str | None = None, seconds: int | None = None
) -> Lease | None:
    """Take the connection's lease if nobody holds a live one; ``None`` if somebody does."""
    owner = owner or new_owner()
    now = timezone.now()
    expires = now + dt.timedelta(seconds=seconds or settings.TANDEM_LEASE_SECONDS)
    taken = Connection.objects.filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now), pk=connection_id
    ).update(
        lease_owner=owner,
        lease_expires_at=expires,
        lease_generation=F("lease_generation") + 1,
    )
    if not taken:
        return None
    generation = (
        Connection.objects.filter(pk=connection_id, lease_owner=owner)
        .values_list("lease_generation", flat=True)
        .first()
    )
    if generation is None:
        return None
    return Lease(connection_id=connection_id, owner=owner, generation=generation)


def lease_extend(lease: Lease, *, seconds: int | None = None) -> None:
    expires = timezone.now() + dt.timedelta(seconds=seconds or settings.TANDEM_LEASE_SECONDS)
    if not Connection.objects.filter(
        pk=lease.connection_id, lease_generation=lease.generation
    ).update(lease_expires_at=expires):
        raise LeaseLost(f"connection {lease.connection_id}: lease {lease.generation} was lost")


def lease_release(lease: Lease, *, next_sync_at: dt.datetime | None = None) -> bool:
    """Give the lease back and schedule the next run; a no-op if the lease was already lost."""
    updates: dict[str, object] = {"lease_owner": "", "lease_expires_at": None}
    if next_sync_at is not None:
        updates["next_sync_at"] = next_sync_at
    return bool(
        Connection.objects.filter(pk=lease.connection_id, lease_generation=lease.generation).update(
            **updates
        )
    )


@contextlib.contextmanager
def fenced(lease: Lease | None) -> Iterator[None]:
    """A transaction that commits only while ``lease`` is still current.

    The connection row stays locked until commit (PostgreSQL), so a takeover waits for this
    write to finish or finds it rolled back. ``None`` (a dry run) writes nothing fenced.
    """
    with transaction.atomic():
        if lease is not None:
            current = (
                Connection.objects.select_for_update()
                .filter(pk=lease.connection_id)
                .values_list("lease_generation", flat=True)
                .first()
            )
            if current != lease.generation:
                raise LeaseLost(
                    f"connection {lease.connection_id}: lease {lease.generation} superseded"
                )
        yield


class Heartbeat:
    """Renews ``lease`` when called, at most once per ``every`` seconds (a quarter of the lease
    by default), so it can be called as often as work is done. Raises ``LeaseLost`` once another
    run took the connection over. A ``None`` lease (a dry run) beats for nothing."""

    def __init__(self, lease: Lease | None, *, every: float | None = None) -> None:
        self.lease = lease
        self.every = settings.TANDEM_LEASE_SECONDS / 4 if every is None else every
        self.last = time.monotonic()

    def __call__(self) -> None:
        if self.lease is None:
            return
        now = time.monotonic()
        if now - self.last < self.every:
            return
        lease_extend(self.lease)
        self.last = now
