"""One run at a time, and a run whose lease was taken over can change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from integrations.leases import LeaseLost, fenced, lease_acquire, lease_extend, lease_release
from integrations.models import Connection
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def expire(connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )


def test_it_lets_one_run_hold_the_lease() -> None:
    connection = ConnectionFactory()
    assert lease_acquire(connection_id=connection.pk, owner="w1") is not None
    assert lease_acquire(connection_id=connection.pk, owner="w2") is None


def test_it_bumps_the_generation_on_takeover_of_an_expired_lease() -> None:
    connection = ConnectionFactory()
    first = lease_acquire(connection_id=connection.pk, owner="w1")
    assert first is not None
    expire(connection)
    second = lease_acquire(connection_id=connection.pk, owner="w2")
    assert second is not None
    assert second.generation == first.generation + 1


def test_it_refuses_a_fenced_write_by_a_stale_run() -> None:
    connection = ConnectionFactory(checkpoint_a={"cursor": "old"})
    stale = lease_acquire(connection_id=connection.pk, owner="w1")
    expire(connection)
    assert lease_acquire(connection_id=connection.pk, owner="w2") is not None
    with pytest.raises(LeaseLost), fenced(stale):
        Connection.objects.filter(pk=connection.pk).update(checkpoint_a={"cursor": "stale"})
    connection.refresh_from_db()
    assert connection.checkpoint_a == {"cursor": "old"}


def test_it_commits_a_fenced_write_by_the_current_run() -> None:
    connection = ConnectionFactory()
    lease = lease_acquire(connection_id=connection.pk, owner="w1")
    with fenced(lease):
        Connection.objects.filter(pk=connection.pk).update(checkpoint_a={"cursor": "new"})
    connection.refresh_from_db()
    assert connection.checkpoint_a == {"cursor": "new"}


def test_it_rolls_back_everything_in_a_fenced_block_that_fails() -> None:
    connection = ConnectionFactory(checkpoint_a={"cursor": "old"})
    lease = lease_acquire(connection_id=connection.pk, owner="w1")
    with pytest.raises(RuntimeError), fenced(lease):
        Connection.objects.filter(pk=connection.pk).update(checkpoint_a={"cursor": "half"})
        raise RuntimeError("crash between two writes")
    connection.refresh_from_db()
    assert connection.checkpoint_a == {"cursor": "old"}


def test_it_does_not_let_a_stale_run_release_or_extend_the_new_lease() -> None:
    connection = ConnectionFactory()
    stale = lease_acquire(connection_id=connection.pk, owner="w1")
    assert stale is not None
    expire(connection)
    current = lease_acquire(connection_id=connection.pk, owner="w2")
    assert lease_release(stale) is False
    with pytest.raises(LeaseLost):
        lease_extend(stale)
    connection.refresh_from_db()
    assert connection.lease_owner == "w2"
    assert current is not None


def test_it_says_which_connection_and_lease_were_lost() -> None:
    connection = ConnectionFactory()
    stale = lease_acquire(connection_id=connection.pk, owner="w1")
    assert stale is not None
    expire(connection)
    lease_acquire(connection_id=connection.pk, owner="w2")

    with pytest.raises(LeaseLost) as lost:
        lease_extend(stale)

    assert str(lost.value) == f"connection {connection.pk}: lease {stale.generation} was lost"
