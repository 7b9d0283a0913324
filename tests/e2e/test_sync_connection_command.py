"""`manage.py sync_connection`: support staff run one connection now, in the foreground."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from integrations.models import Connection, SyncRun
from tests.e2e.conftest import Pair, person

pytestmark = pytest.mark.django_db


def test_it_runs_the_connection_and_prints_its_counters(pair: Pair, capsys) -> None:
    pair.add_customer("Alice Archer", "alice@acme.example")
    connection = pair.connect()
    call_command("sync_connection", str(connection.pk))
    out = capsys.readouterr().out
    assert f"run {SyncRun.objects.get().pk} of connection {connection.pk}: success" in out
    assert "side A     read 1, created 0" in out
    assert "excluded 0, duplicates 0, failed 0, conflicts 0" in out
    assert [c["emailAddresses"][0]["value"] for c in pair.contacts()] == ["alice@acme.example"]


def test_it_prints_a_dry_runs_plan_and_writes_nothing(pair: Pair, capsys) -> None:
    pair.add_customer("Alice Archer", "alice@acme.example")
    connection = pair.connect()
    call_command("sync_connection", str(connection.pk), "--dry-run")
    out = capsys.readouterr().out
    assert "dry run" in out
    assert '"create"' in out and "alice@acme.example" in out
    assert pair.contacts() == []


def test_it_scans_again_with_full_and_creates_nothing_twice(pair: Pair) -> None:
    pair.add_customer("Alice Archer", "alice@acme.example")
    pair.add_contact(person("Bob", "Baker", "bob@acme.example"))
    connection = pair.connect()
    call_command("sync_connection", str(connection.pk))
    call_command("sync_connection", str(connection.pk), "--full")
    run = SyncRun.objects.filter(connection=connection).first()
    assert run is not None and run.phase == "scan"
    assert run.created_a == run.created_b == 0
    assert len(pair.customers()) == len(pair.contacts()) == 2


def test_it_refuses_an_unknown_connection(db: None) -> None:
    with pytest.raises(CommandError, match="No connection with id 999999"):
        call_command("sync_connection", "999999")


@pytest.mark.parametrize("status", ["paused", "needs_reauth"])
def test_it_refuses_a_connection_that_cannot_run(pair: Pair, status: str) -> None:
    connection = pair.connect()
    Connection.objects.filter(pk=connection.pk).update(status=status, status_reason="on hold")
    with pytest.raises(CommandError, match="on hold"):
        call_command("sync_connection", str(connection.pk))
    assert not SyncRun.objects.exists()
