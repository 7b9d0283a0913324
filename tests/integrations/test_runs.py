"""The run service around the engine: lease, run record, outcomes, scheduling.

The engine is replaced here by test doubles that act like it at its boundary; the engine's own
behaviour is tested in tests/integrations/sync/.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import ConnectedAccount
from integrations import selectors, services, tasks
from integrations.connectors.base import AccountInfo, Capabilities, Connector, ConnectorError
from integrations.connectors.http import HttpClient
from integrations.leases import Lease, fenced
from integrations.models import Connection, SyncRun
from integrations.services import runs
from integrations.sync import engine
from integrations.sync.apps import blaming
from integrations.sync.fields import FieldSpec, NameStyle
from integrations.sync.records import Contact, ContactUpdate, NewContact, Page, WriteResult
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


class IdleApp(Connector):
    """An app with nothing in it; the engine doubles below decide what a run does."""

    slug = "idle"
    name = "Idle"
    credential_fields = ()
    capabilities = Capabilities(name_style=NameStyle.FULL)
    revoked = False

    def check(self) -> AccountInfo:
        return AccountInfo(label="idle")

    def fields(self) -> list[FieldSpec]:
        return []

    def list_changed(self, checkpoint: dict[str, Any] | None) -> Iterator[Page]:
        yield Page(records=[], checkpoint={"cursor": 1})

    def get_many(self, ids: list[str]) -> list[Contact]:
        if self.revoked:
            raise ConnectorError("Idle: the grant was revoked", reauthorize=True)
        return []

    def find_by_emails(self, emails: list[str]) -> dict[str, list[Contact]]:
        return {}

    def create_many(self, items: list[NewContact]) -> list[WriteResult]:
        return []

    def update_many(self, items: list[ContactUpdate]) -> list[WriteResult]:
        return []

    def tag(self, ids: list[str], tag: str) -> list[WriteResult]:
        return []

    def untag(self, ids: list[str], tag: str) -> list[WriteResult]:
        return []


@pytest.fixture
def apps(monkeypatch: pytest.MonkeyPatch) -> dict[int, IdleApp]:
    built: dict[int, IdleApp] = {}

    def build(account: ConnectedAccount, **_: Any) -> IdleApp:
        app = IdleApp({}, http=HttpClient(app="idle"))
        built[account.pk] = app
        return app

    monkeypatch.setattr("integrations.services.runs.connector_for", build)
    return built


EngineDouble = Callable[..., dict | None]


@pytest.fixture
def engine_does(monkeypatch: pytest.MonkeyPatch) -> Callable[[EngineDouble], list[dict]]:
    calls: list[dict] = []

    def install(double: EngineDouble) -> list[dict]:
        def run_sync(**kwargs: Any) -> dict | None:
            calls.append(kwargs)
            return double(**kwargs)

        monkeypatch.setattr(engine, "run_sync", run_sync)
        return calls

    return install


def reads_one_each(*, run: SyncRun, **_: Any) -> None:
    run.read_a = run.read_b = 1
    return None


def test_it_records_a_successful_run(apps, engine_does) -> None:
    engine_does(reads_one_each)
    connection = ConnectionFactory()
    run = services.connection_sync(connection_id=connection.pk)
    assert run is not None
    run.refresh_from_db()
    assert run.outcome == SyncRun.Outcome.SUCCESS
    assert (run.read_a, run.read_b) == (1, 1)
    assert run.finished_at is not None


def test_it_releases_the_lease_and_schedules_the_next_run(apps, engine_does) -> None:
    engine_does(reads_one_each)
    connection = ConnectionFactory(sync_interval=600)
    before = timezone.now()
    services.connection_sync(connection_id=connection.pk)
    connection.refresh_from_db()
    assert connection.lease_owner == ""
    assert connection.lease_expires_at is None
    assert connection.next_sync_at is not None
    assert connection.next_sync_at >= before + dt.timedelta(seconds=600)


def test_it_hands_the_engine_both_apps_and_the_lease(apps, engine_does) -> None:
    calls = engine_does(reads_one_each)
    connection = ConnectionFactory()
    services.connection_sync(connection_id=connection.pk)
    (call,) = calls
    assert call["connector_a"] is apps[connection.account_a_id]
    assert call["connector_b"] is apps[connection.account_b_id]
    assert isinstance(call["lease"], Lease)
    assert call["run"].dry_run is False


def test_it_skips_a_connection_whose_lease_is_held(apps, engine_does) -> None:
    calls = engine_does(reads_one_each)
    connection = ConnectionFactory(
        lease_owner="other-worker", lease_expires_at=timezone.now() + dt.timedelta(minutes=5)
    )
    assert services.connection_sync(connection_id=connection.pk) is None
    assert calls == []
    assert not SyncRun.objects.exists()


@pytest.mark.parametrize("status", ["draft", "paused", "needs_reauth", "error"])
def test_it_refuses_to_run_a_connection_that_cannot_run(apps, engine_does, status) -> None:
    engine_does(reads_one_each)
    connection = ConnectionFactory(status=status)
    # An error stops the loop when an account was refused (runs that fail are retried).
    ConnectedAccount.objects.filter(pk=connection.account_b_id).update(status="error")
    with pytest.raises(services.ConnectionNotRunnable):
        services.connection_sync(connection_id=connection.pk)


def test_it_puts_the_failing_side_into_needs_reauthorization(apps, engine_does) -> None:
    def unauthorized(*, connector_b: IdleApp, **_: Any) -> None:
        connector_b.revoked = True
        with blaming("b"):  # the engine's view of side B says where its errors come from
            connector_b.get_many(["x"])

    engine_does(unauthorized)
    connection = ConnectionFactory()
    run = services.connection_sync(connection_id=connection.pk)
    assert run is not None and run.outcome == SyncRun.Outcome.FAILED
    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTH
    assert connection.account_b.status == ConnectedAccount.Status.NEEDS_REAUTH
    assert connection.account_a.status == ConnectedAccount.Status.OK


def test_it_stops_a_run_whose_lease_was_taken_over(apps, engine_does) -> None:
    def taken_over(*, connection: Connection, lease: Lease, **_: Any) -> None:
        Connection.objects.filter(pk=connection.pk).update(
            lease_generation=lease.generation + 1, lease_owner="usurper"
        )
        with fenced(lease):
            Connection.objects.filter(pk=connection.pk).update(checkpoint_a={"cursor": "stale"})

    engine_does(taken_over)
    connection = ConnectionFactory(checkpoint_a={"cursor": "kept"})
    run = services.connection_sync(connection_id=connection.pk)
    assert run is not None and run.outcome == SyncRun.Outcome.STOPPED
    connection.refresh_from_db()
    assert connection.checkpoint_a == {"cursor": "kept"}
    assert connection.lease_owner == "usurper"


def test_it_pauses_the_connection_when_the_breaker_trips(apps, engine_does) -> None:
    def trips(**_: Any) -> None:
        raise engine.BreakerTripped("this run would tag 80% of Google Contacts as deleted")

    engine_does(trips)
    connection = ConnectionFactory()
    services.connection_sync(connection_id=connection.pk)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.PAUSED
    assert "80%" in connection.status_reason


def test_it_takes_resuming_after_the_breaker_as_the_confirmation(apps, engine_does) -> None:
    def trips(**_: Any) -> None:
        raise engine.BreakerTripped("would tag too much")

    engine_does(trips)
    connection = ConnectionFactory(checkpoint_a={"c": 1}, checkpoint_b={"c": 1})
    services.connection_sync(connection_id=connection.pk)
    services.connection_resume(connection=connection)
    assert connection.status == Connection.Status.ACTIVE
    assert connection.mass_tag_confirmed is True


def test_it_runs_a_dry_run_without_a_lease_and_keeps_its_plan(apps, engine_does) -> None:
    calls = engine_does(lambda **_: {"b": {"create": [{"from": "a-1"}]}})
    connection = ConnectionFactory(status=Connection.Status.DRAFT)
    run = services.connection_sync(connection_id=connection.pk, dry_run=True)
    assert calls[0]["lease"] is None and calls[0]["run"].dry_run is True
    assert run is not None
    run.refresh_from_db()
    assert run.dry_run is True
    assert run.plan == {"b": {"create": [{"from": "a-1"}]}}
    connection.refresh_from_db()
    assert connection.lease_generation == 0


def test_it_runs_through_the_celery_task_with_only_the_id(apps, engine_does) -> None:
    calls = engine_does(reads_one_each)
    connection = ConnectionFactory()
    tasks.sync_connection_task.delay(connection.pk)
    assert len(calls) == 1
    assert SyncRun.objects.get().outcome == SyncRun.Outcome.SUCCESS


def test_it_ignores_a_task_for_a_paused_connection(apps, engine_does, caplog) -> None:
    calls = engine_does(reads_one_each)
    connection = ConnectionFactory(status=Connection.Status.PAUSED)
    caplog.set_level(logging.INFO)
    tasks.sync_connection_task.delay(connection.pk)
    assert calls == []
    assert "paused" in caplog.text


def test_it_resyncs_from_scratch_keeping_links(apps) -> None:
    connection = ConnectionFactory(checkpoint_a={"c": 1}, checkpoint_b={"c": 2})
    services.connection_resync(connection=connection)
    assert connection.status == Connection.Status.SCANNING
    assert connection.checkpoint_a == {} and connection.checkpoint_b == {}


def test_it_pauses_and_resumes(apps) -> None:
    connection = ConnectionFactory(checkpoint_a={"c": 1}, checkpoint_b={"c": 2})
    services.connection_pause(connection=connection)
    assert connection.status == Connection.Status.PAUSED
    services.connection_resume(connection=connection)
    assert connection.status == Connection.Status.ACTIVE
    assert connection.next_sync_at is not None


def test_it_marks_a_run_failed_when_the_engine_breaks(apps, engine_does) -> None:
    def breaks(**_: Any) -> None:
        raise KeyError("a bug")

    engine_does(breaks)
    connection = ConnectionFactory()
    with pytest.raises(KeyError):
        services.connection_sync(connection_id=connection.pk)
    run = SyncRun.objects.get()
    assert run.outcome == SyncRun.Outcome.FAILED
    assert run.error == "internal error (KeyError)"
    connection.refresh_from_db()
    assert connection.lease_owner == ""


# -- Status derived from the runs ---------------------------------------------------------------


def type_error(**_: Any) -> None:
    raise TypeError("unsupported operand")


def run_failing(connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(next_sync_at=None)
    with pytest.raises(TypeError):
        services.connection_sync(connection_id=connection.pk)


def test_it_needs_attention_after_three_failed_runs_in_a_row(apps, engine_does) -> None:
    engine_does(type_error)
    connection = ConnectionFactory()
    for _ in range(3):
        run_failing(connection)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ERROR
    assert "The last 3 runs failed" in connection.status_reason
    assert "internal error (TypeError)" in connection.status_reason
    state = selectors.connection_state(connection=connection)
    assert (state.label, state.tone) == ("Needs attention", "bad")
    assert "internal error (TypeError)" in state.reason


def test_it_stays_active_after_two_failed_runs(apps, engine_does) -> None:
    engine_does(type_error)
    connection = ConnectionFactory()
    for _ in range(2):
        run_failing(connection)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE


def test_it_does_not_count_failures_before_a_good_run(apps, engine_does) -> None:
    connection = ConnectionFactory()
    engine_does(type_error)
    for _ in range(2):
        run_failing(connection)
    engine_does(reads_one_each)
    services.connection_sync(connection_id=connection.pk)
    engine_does(type_error)
    run_failing(connection)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE


def test_it_makes_a_failing_connection_active_again_after_a_good_run(apps, engine_does) -> None:
    engine_does(type_error)
    connection = ConnectionFactory()
    for _ in range(3):
        run_failing(connection)
    engine_does(reads_one_each)
    run = services.connection_sync(connection_id=connection.pk)
    assert run is not None and run.outcome == SyncRun.Outcome.SUCCESS
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    assert connection.status_reason == ""


def test_it_keeps_retrying_a_failing_connection_through_the_dispatcher(apps, engine_does) -> None:
    engine_does(type_error)
    connection = ConnectionFactory()
    for _ in range(3):
        run_failing(connection)
    Connection.objects.filter(pk=connection.pk).update(next_sync_at=timezone.now())
    assert services.connections_claim_due() == [connection.pk]


def test_it_backs_off_after_each_failed_run(apps, engine_does) -> None:
    engine_does(type_error)
    connection = ConnectionFactory(sync_interval=300)
    waits = []
    for _ in range(4):
        before = timezone.now()
        run_failing(connection)
        connection.refresh_from_db()
        assert connection.next_sync_at is not None
        waits.append((connection.next_sync_at - before).total_seconds())
    assert [round(w / 300) for w in waits] == [2, 4, 8, 16]


def test_it_caps_the_backoff_at_six_hours() -> None:
    assert runs.failure_backoff(30, 300) == 6 * 3600
    assert runs.failure_backoff(30, 7 * 24 * 3600) == 7 * 24 * 3600


def test_it_schedules_the_interval_again_after_a_good_run(apps, engine_does) -> None:
    engine_does(type_error)
    connection = ConnectionFactory(sync_interval=300)
    run_failing(connection)
    engine_does(reads_one_each)
    before = timezone.now()
    services.connection_sync(connection_id=connection.pk)
    connection.refresh_from_db()
    assert connection.next_sync_at is not None
    assert (connection.next_sync_at - before).total_seconds() < 310


def test_it_leaves_a_paused_connection_paused_when_its_run_fails(apps, engine_does) -> None:
    connection = ConnectionFactory()

    def paused_meanwhile(**_: Any) -> None:
        Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.PAUSED)
        raise TypeError("boom")

    engine_does(type_error)
    for _ in range(2):
        run_failing(connection)
    engine_does(paused_meanwhile)
    run_failing(connection)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.PAUSED
