"""`manage.py sync_connection` beyond the basics (tests/e2e has those): --full in a dry run,
progress per app, and an unreachable app named by its URL."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from integrations.connectors.http import HttpClient, HttpError, safe_url
from integrations.models import Connection, SyncRun
from tests.e2e.conftest import Pair, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(pair: Pair) -> Connection:
    pair.add_customer("Alice Archer", "alice@acme.example")
    pair.add_contact(person("Bob", "Baker", "bob@acme.example"))
    connection = pair.connect()
    call_command("sync_connection", str(connection.pk), stdout=io.StringIO(), stderr=io.StringIO())
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    return connection


def test_it_scans_through_the_links_in_a_full_dry_run(synced: Connection, capsys) -> None:
    checkpoints = (synced.checkpoint_a, synced.checkpoint_b)
    call_command("sync_connection", str(synced.pk), "--dry-run", "--full", "--no-progress")
    run = SyncRun.objects.filter(connection=synced).first()
    assert run is not None and run.dry_run and run.phase == "scan"
    assert run.plan["counts"].get("created_a", 0) == run.plan["counts"].get("created_b", 0) == 0
    assert run.read_a == run.read_b == 2
    synced.refresh_from_db()
    assert (synced.checkpoint_a, synced.checkpoint_b) == checkpoints
    assert synced.status == Connection.Status.ACTIVE


def test_it_reads_only_changes_in_a_plain_dry_run(synced: Connection) -> None:
    call_command("sync_connection", str(synced.pk), "--dry-run", "--no-progress")
    run = SyncRun.objects.filter(connection=synced).first()
    assert run is not None and run.phase == "incremental"


def test_it_shows_progress_per_stage_and_app(pair: Pair) -> None:
    pair.add_customer("Alice Archer", "alice@acme.example")
    connection = pair.connect()
    err = io.StringIO()
    call_command("sync_connection", str(connection.pk), stdout=io.StringIO(), stderr=err)
    text = err.getvalue()
    assert "Listing Kustomer" in text and "Listing Google Contacts" in text
    assert "Scanning Kustomer" in text


def test_it_names_the_url_of_an_app_it_cannot_reach(pair: Pair, settings) -> None:
    connection = pair.connect()
    settings.HTTP_MAX_RETRIES = 0
    settings.KUSTOMER_BASE_URL_TEMPLATE = "http://127.0.0.1:9/{subdomain}"
    with pytest.raises(CommandError, match=r"could not be reached") as caught:
        call_command("sync_connection", str(connection.pk), "--no-progress", stdout=io.StringIO())
    assert f"Kustomer: the API at http://127.0.0.1:9/{pair.subdomain}/v1/" in str(caught.value)
    run = SyncRun.objects.get(connection=connection)
    assert run.outcome == "failed" and "127.0.0.1:9" in run.error


def test_it_keeps_query_strings_and_passwords_out_of_the_url_it_names() -> None:
    assert safe_url("https://user:hunter22@api.example:8443/v1/x?token=s3cret#frag") == (
        "https://api.example:8443/v1/x"
    )


def test_it_names_the_host_in_the_seams_error(settings) -> None:
    client = HttpClient(app="kustomer", max_retries=0, secrets=["s3cret-token"])
    with pytest.raises(HttpError) as caught:
        client.request("GET", "http://127.0.0.1:9/acme/v1/customers?key=s3cret-token")
    assert caught.value.url == "http://127.0.0.1:9/acme/v1/customers"
    assert "to http://127.0.0.1:9/acme/v1/customers failed" in str(caught.value)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("port", ["99999", "0", "-1", "http"])
def test_it_refuses_a_sandbox_port_out_of_range(port: str) -> None:
    with pytest.raises(CommandError, match="--port"):
        call_command("sandbox", "--port", port)
