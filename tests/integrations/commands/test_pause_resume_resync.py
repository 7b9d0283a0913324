"""`pause_connection`, `resume_connection` and `resync`: support stops and restarts a sync."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ConnectedAccount
from integrations.models import Connection
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(acme) -> Connection:
    return ConnectionFactory(
        workspace=acme, checkpoint_a={"cursor": "2026-01-01T00:00:00Z"}, checkpoint_b={"t": "x"}
    )


def fresh(connection: Connection) -> Connection:
    connection.refresh_from_db()
    return connection


def test_it_pauses_with_the_reason(connection, capsys) -> None:
    call_command("pause_connection", str(connection.pk), "--reason", "Customer cleans data")
    assert fresh(connection).status == Connection.Status.PAUSED
    assert connection.status_reason == "Customer cleans data"
    assert f"Paused connection {connection.pk}" in capsys.readouterr().out


def test_it_pauses_nothing_in_a_dry_run(connection, capsys) -> None:
    call_command("pause_connection", str(connection.pk), "--dry-run")
    assert fresh(connection).status == Connection.Status.ACTIVE
    assert "would pause" in capsys.readouterr().out


def test_it_refuses_to_pause_an_unknown_connection(db: None) -> None:
    with pytest.raises(CommandError, match="No connection with id 424242"):
        call_command("pause_connection", "424242")


def test_it_refuses_to_pause_a_draft(acme) -> None:
    draft = ConnectionFactory(workspace=acme, status=Connection.Status.DRAFT)
    with pytest.raises(CommandError, match="is a draft"):
        call_command("pause_connection", str(draft.pk))


def test_it_refuses_an_empty_reason(connection) -> None:
    with pytest.raises(CommandError, match="--reason cannot be empty"):
        call_command("pause_connection", str(connection.pk), "--reason", "  ")
    assert fresh(connection).status == Connection.Status.ACTIVE


def test_it_refuses_a_connection_id_that_is_not_a_number(db: None) -> None:
    with pytest.raises(CommandError, match="invalid int value"):
        call_command("pause_connection", "seven")


def test_it_resumes_a_paused_connection(connection, capsys) -> None:
    Connection.objects.filter(pk=connection.pk).update(status="paused", status_reason="hold")
    call_command("resume_connection", str(connection.pk))
    assert fresh(connection).status == Connection.Status.ACTIVE
    assert connection.status_reason == ""
    assert "Resumed connection" in capsys.readouterr().out


def test_it_resumes_nothing_in_a_dry_run(connection, capsys) -> None:
    Connection.objects.filter(pk=connection.pk).update(status="paused")
    call_command("resume_connection", str(connection.pk), "--dry-run")
    assert fresh(connection).status == Connection.Status.PAUSED
    assert "would resume" in capsys.readouterr().out


def test_it_refuses_to_resume_while_an_account_needs_authorizing(connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(status="needs_reauth")
    ConnectedAccount.objects.filter(pk=connection.account_a_id).update(status="needs_reauth")
    with pytest.raises(
        CommandError, match=f"Authorize Kustomer account .* \\(id {connection.account_a_id}\\)"
    ):
        call_command("resume_connection", str(connection.pk))
    assert fresh(connection).status == Connection.Status.NEEDS_REAUTH


def test_it_says_a_running_connection_needs_no_resume(connection, capsys) -> None:
    call_command("resume_connection", str(connection.pk))
    assert "already active" in capsys.readouterr().out


def test_it_refuses_to_resume_an_unknown_connection(db: None) -> None:
    with pytest.raises(CommandError, match="No connection with id 424242"):
        call_command("resume_connection", "424242")


def test_it_resyncs_by_forgetting_the_checkpoints(connection, capsys) -> None:
    call_command("resync", str(connection.pk))
    fresh(connection)
    assert connection.checkpoint_a == connection.checkpoint_b == {}
    assert connection.status == Connection.Status.SCANNING
    assert "scans both apps again" in capsys.readouterr().out


def test_it_keeps_the_checkpoints_in_a_dry_run_resync(connection, capsys) -> None:
    call_command("resync", str(connection.pk), "--dry-run")
    assert fresh(connection).checkpoint_a == {"cursor": "2026-01-01T00:00:00Z"}
    assert "would forget the checkpoints" in capsys.readouterr().out


def test_it_refuses_to_resync_a_paused_connection(connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(status="paused")
    with pytest.raises(CommandError, match="resume it before a resync"):
        call_command("resync", str(connection.pk))
    assert fresh(connection).checkpoint_a


def test_it_refuses_to_resync_an_unknown_connection(db: None) -> None:
    with pytest.raises(CommandError, match="No connection with id 424242"):
        call_command("resync", "424242")
