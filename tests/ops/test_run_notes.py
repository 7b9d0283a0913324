from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from integrations.connectors.accounts import connector_for
from integrations.models import Connection, Rule, RunNote, SyncRun
from integrations.services import audit_prune, rule_create, rule_delete, runs_prune
from tests.e2e.conftest import Pair, person

pytestmark = pytest.mark.django_db


def company_rule(pair: Pair, connection: Connection) -> None:
    """Kustomer → Google only for contacts whose company is Acme."""
    fields_a, fields_b = pair.fields()
    for existing in Rule.objects.filter(connection=connection, direction="a_to_b"):
        rule_delete(rule=existing)
    rule_create(
        connection=connection,
        direction="a_to_b",
        fields_a=fields_a,
        fields_b=fields_b,
        capabilities_a=connector_for(pair.account_a).capabilities,
        capabilities_b=connector_for(pair.account_b).capabilities,
        conditions=[{"kind": "field", "field": "company", "operator": "equals", "value": "Acme"}],
        actions=[],
        name="Acme only",
    )


@pytest.fixture
def scanned(pair: Pair) -> tuple[Connection, SyncRun]:
    pair.add_customer("Ann Acme", "ann@example.com", company="Acme")
    pair.add_customer("Olga Other", "olga@example.com", company="Other Inc")
    pair.add_customer("Nora Nomail", None, company="Acme")
    pair.add_contact(person("Dan", "Twin", "twin@example.com"))
    pair.add_contact(person("Dora", "Twin", "twin@example.com"))
    connection = pair.connect()
    company_rule(pair, connection)
    run = pair.sync(connection)
    assert run.outcome == SyncRun.Outcome.SUCCESS, run.error
    return connection, run


def test_it_records_the_failed_condition_and_the_value_it_saw_for_each_excluded_contact(
    pair: Pair, scanned: tuple[Connection, SyncRun]
) -> None:
    _connection, run = scanned
    olga = pair.customer_by_email("olga@example.com")["id"]

    note = RunNote.objects.get(run=run, kind=RunNote.Kind.EXCLUDED, record_id=olga)

    assert note.side == "a"
    assert "Acme only" in note.reason
    assert "Company equals 'Acme'" in note.reason
    assert "'Other Inc'" in note.reason


def test_it_records_no_email_with_avoid_duplicates_as_the_reason(
    pair: Pair, scanned: tuple[Connection, SyncRun]
) -> None:
    _connection, run = scanned
    (nora,) = [c["id"] for c in pair.customers() if c["name"] == "Nora Nomail"]

    note = RunNote.objects.get(run=run, kind=RunNote.Kind.EXCLUDED, record_id=nora)

    assert "no email" in note.reason
    assert "avoids duplicates" in note.reason
    assert RunNote.objects.filter(run=run, kind=RunNote.Kind.EXCLUDED).count() == run.excluded


def test_it_records_each_duplicate_with_the_email_and_the_other_contact(
    pair: Pair, scanned: tuple[Connection, SyncRun]
) -> None:
    _connection, run = scanned
    twins = {c["resourceName"] for c in pair.contacts() if c["names"][0]["familyName"] == "Twin"}

    notes = list(RunNote.objects.filter(run=run, kind=RunNote.Kind.DUPLICATE))

    assert {n.record_id for n in notes} == twins
    assert all(n.field == "twin@example.com" and n.side == "b" for n in notes)
    assert all(set(n.reason.split(": ")[1].rstrip(".").split(", ")) < twins for n in notes)


def test_it_records_a_conflict_with_both_values_and_the_winner(pair: Pair) -> None:
    customer = pair.add_customer("Carl Cole", "carl@example.com", company="Old Co")
    connection = pair.connect(winner="a")
    pair.sync(connection)
    contact = pair.contact_by_email("carl@example.com")
    pair.kustomer.update_customer(pair.subdomain, customer, {"company": "Kustomer Co"})
    pair.google.edit_contact(
        pair.google_email, contact["resourceName"], **{"organizations": [{"name": "Google Co"}]}
    )

    run = pair.sync(connection)

    (note,) = RunNote.objects.filter(run=run, kind=RunNote.Kind.CONFLICT)
    assert (note.record_id, note.other_id) == (customer, contact["resourceName"])
    assert "company" in note.field
    assert (note.value_a, note.value_b, note.winner) == ("Kustomer Co", "Google Co", "a")
    assert "Kustomer" in note.reason


def test_it_keeps_no_notes_for_a_dry_run(pair: Pair) -> None:
    from integrations.services import connection_sync

    pair.add_customer("Nora Nomail", None)
    connection = pair.connect()

    run = connection_sync(connection_id=connection.pk, dry_run=True)

    assert run is not None and run.excluded == 1
    assert not RunNote.objects.exists()


def test_it_prunes_notes_with_the_audit(scanned: tuple[Connection, SyncRun], settings: Any) -> None:
    settings.TANDEM_AUDIT_DAYS = 30
    _connection, run = scanned
    RunNote.objects.filter(run=run).update(created_at=timezone.now() - dt.timedelta(days=31))

    audit_prune()

    assert not RunNote.objects.filter(run=run).exists()


def test_it_deletes_a_pruned_runs_notes(scanned: tuple[Connection, SyncRun]) -> None:
    _connection, run = scanned
    SyncRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - dt.timedelta(days=10))

    runs_prune(older_than_days=5)

    assert not RunNote.objects.exists()


def test_it_lists_a_runs_conflicts_and_exclusions_on_its_admin_page(
    client: Client, staff: User, scanned: tuple[Connection, SyncRun]
) -> None:
    _connection, run = scanned
    client.force_login(staff)

    response = client.get(reverse("admin:integrations_syncrun_change", args=[run.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Excluded contacts and duplicates" in page
    assert "Acme only" in page
    assert "twin@example.com" in page


def test_it_shows_the_contacts_behind_excluded_and_duplicates_on_the_connection_page(
    client: Client, alice: User, scanned: tuple[Connection, SyncRun], pair: Pair
) -> None:
    connection, _run = scanned
    olga = pair.customer_by_email("olga@example.com")["id"]
    client.force_login(alice)

    response = client.get(reverse("integrations:connection_detail", args=[connection.pk]))

    page = response.content.decode()
    assert 'href="#excluded"' in page and 'id="excluded"' in page
    assert 'href="#duplicates"' in page and 'id="duplicates"' in page
    assert olga in page
    assert "Other Inc" in page
    assert "twin@example.com" in page
