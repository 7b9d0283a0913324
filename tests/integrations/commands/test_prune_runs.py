"""`manage.py prune_runs`: old runs and their audit go, in batches."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from integrations.models import AuditEntry, Connection, SyncRun
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def run_days_ago(connection: Connection, days: int, *, writes: int = 0) -> SyncRun:
    run = SyncRun.objects.create(connection=connection, outcome="success")
    SyncRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - dt.timedelta(days=days))
    AuditEntry.objects.bulk_create(
        AuditEntry(
            run=run, connection=connection, side="b", record_id=f"people/c{i}", kind="update",
            field="company", before="Old", after="New", why="mapping",
        )
        for i in range(writes)
    )  # fmt: skip
    return run


@pytest.fixture
def connection(acme) -> Connection:
    return ConnectionFactory(workspace=acme)


def test_it_deletes_old_runs_with_their_audit_and_keeps_recent_ones(connection, capsys) -> None:
    old = [run_days_ago(connection, 40, writes=3) for _ in range(3)]
    recent = run_days_ago(connection, 2, writes=2)
    call_command("prune_runs", "--older-than", "30", "--batch", "2")
    assert list(SyncRun.objects.all()) == [recent]
    assert AuditEntry.objects.count() == 2
    assert not AuditEntry.objects.filter(run_id__in=[r.pk for r in old]).exists()
    assert "deleted 3 run(s) older than 30 day(s) with 9 audit entries" in capsys.readouterr().out


def test_it_shows_a_progress_bar(connection) -> None:
    run_days_ago(connection, 40)
    err = io.StringIO()
    call_command("prune_runs", "--older-than", "30", stderr=err, stdout=io.StringIO())
    assert "Deleting runs" in err.getvalue()


def test_it_keeps_a_run_still_running(connection) -> None:
    running = run_days_ago(connection, 40)
    SyncRun.objects.filter(pk=running.pk).update(outcome="running")
    call_command("prune_runs", "--older-than", "30", stdout=io.StringIO())
    assert SyncRun.objects.filter(pk=running.pk).exists()


def test_it_counts_and_deletes_nothing_in_a_dry_run(connection, capsys) -> None:
    run_days_ago(connection, 40, writes=1)
    call_command("prune_runs", "--older-than", "30", "--dry-run")
    assert SyncRun.objects.count() == 1 and AuditEntry.objects.count() == 1
    assert "would delete 1 run(s) older than 30 day(s) with 1 audit entry" in (
        capsys.readouterr().out
    )


def test_it_prunes_audit_entries_older_than_the_audit_days(connection, settings) -> None:
    settings.TANDEM_AUDIT_DAYS = 10
    run = run_days_ago(connection, 2, writes=2)
    AuditEntry.objects.filter(run=run).update(created_at=timezone.now() - dt.timedelta(days=11))
    call_command("prune_runs", "--older-than", "30", stdout=io.StringIO())
    assert SyncRun.objects.filter(pk=run.pk).exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("days", ["0", "-3", "ten"])
def test_it_refuses_a_bad_number_of_days(connection, days: str) -> None:
    run_days_ago(connection, 40)
    with pytest.raises(CommandError, match="--older-than"):
        call_command("prune_runs", "--older-than", days)
    assert SyncRun.objects.count() == 1


@pytest.mark.parametrize("days", ["1000000", "99999999999999999999"])
def test_it_deletes_nothing_for_more_days_than_any_date_goes_back(
    connection, days: str, capsys
) -> None:
    run_days_ago(connection, 40)
    call_command("prune_runs", "--older-than", days)
    assert SyncRun.objects.count() == 1
    assert f"deleted 0 run(s) older than {days} day(s)" in capsys.readouterr().out


def test_it_needs_the_number_of_days(db: None) -> None:
    with pytest.raises(CommandError, match="--older-than"):
        call_command("prune_runs")
