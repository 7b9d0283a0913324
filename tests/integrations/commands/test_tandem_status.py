"""`manage.py tandem_status`: one line per connection, for support staff."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ConnectedAccount, Workspace
from integrations.models import Connection, SyncRun
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def status(*args: str, capsys) -> str:
    call_command("tandem_status", *args)
    return str(capsys.readouterr().out)


@pytest.fixture
def acme_connection(acme: Workspace) -> Connection:
    connection = ConnectionFactory(
        workspace=acme,
        name="Acme sync",
        health={"in_sync": 120, "excluded": 3, "duplicates": 1, "failed": {"bad phone": 2}},
    )
    SyncRun.objects.create(connection=connection, outcome="partial", failed=2)
    return connection


@pytest.fixture
def globex_connection(globex: Workspace) -> Connection:
    return ConnectionFactory(workspace=globex, name="Globex sync", health={"in_sync": 7})


def test_it_prints_one_line_per_connection_with_apps_state_and_health(
    acme_connection, globex_connection, capsys
) -> None:
    lines = status(capsys=capsys).splitlines()
    assert len(lines) == 2
    (acme_line,) = [line for line in lines if "Acme sync" in line]
    assert f"#{acme_connection.pk} [acme] Acme sync: Kustomer ⇄ Google Contacts" in acme_line
    assert "Active and listening for changes" in acme_line
    assert "in sync 120, excluded 3, duplicates 1, failed 2" in acme_line
    assert "last run" in acme_line and "partial" in acme_line


def test_it_narrows_to_a_workspace_by_slug(acme_connection, globex_connection, capsys) -> None:
    out = status("--workspace", "globex", capsys=capsys)
    assert "Globex sync" in out and "Acme sync" not in out


def test_it_narrows_to_a_workspace_by_id(acme_connection, globex_connection, capsys) -> None:
    out = status("--workspace", str(acme_connection.workspace_id), capsys=capsys)
    assert "Acme sync" in out and "Globex sync" not in out


def test_it_refuses_an_unknown_workspace(acme_connection) -> None:
    with pytest.raises(CommandError, match="No workspace with id or slug 'nope'"):
        call_command("tandem_status", "--workspace", "nope")


def test_it_refuses_a_workspace_named_by_a_digit_that_is_no_number(acme_connection) -> None:
    with pytest.raises(CommandError, match="No workspace with id or slug '²'"):
        call_command("tandem_status", "--workspace", "²")


def test_it_lists_only_failing_connections(acme_connection, globex_connection, capsys) -> None:
    out = status("--failing", capsys=capsys)
    assert "Acme sync" in out and "Globex sync" not in out


def test_it_shows_the_reason_an_account_needs_authorizing(acme_connection, capsys) -> None:
    ConnectedAccount.objects.filter(pk=acme_connection.account_b_id).update(
        status=ConnectedAccount.Status.NEEDS_REAUTH
    )
    out = status("--failing", capsys=capsys)
    assert "Authentication failed" in out
    assert "Authorize it again" in out


def test_it_names_the_last_error(acme_connection, capsys) -> None:
    SyncRun.objects.create(
        connection=acme_connection,
        outcome="failed",
        error="Kustomer: the API at http://127.0.0.1:9/acme could not be reached.",
    )
    out = status(capsys=capsys)
    assert "Needs attention" in out
    assert "http://127.0.0.1:9/acme could not be reached" in out


def test_it_prints_json_for_scripts(acme_connection, globex_connection, capsys) -> None:
    rows = json.loads(status("--json", capsys=capsys))
    by_name = {row["name"]: row for row in rows}
    acme = by_name["Acme sync"]
    assert acme["id"] == acme_connection.pk
    assert acme["failed"] == 2 and acme["failed_by_reason"] == {"bad phone": 2}
    assert acme["failing"] is True and by_name["Globex sync"]["failing"] is False


def test_it_says_when_no_connection_needs_attention(globex_connection, capsys) -> None:
    assert status("--failing", capsys=capsys).strip() == "No connections need attention."
