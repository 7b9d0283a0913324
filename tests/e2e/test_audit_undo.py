"""The audit of a run's writes, and `manage.py undo_run`, end to end over the sandboxes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from integrations.connectors.accounts import connector_for
from integrations.models import AuditEntry, Connection, Rule, SyncRun
from integrations.services import rule_create, rule_delete
from integrations.services.audit import UNDO_TAG
from tests.e2e.conftest import Pair, person

pytestmark = pytest.mark.django_db


def label_kustomer_arrivals(pair: Pair, connection: Connection) -> None:
    fields_a, fields_b = pair.fields()
    for existing in Rule.objects.filter(connection=connection, direction="a_to_b"):
        rule_delete(rule=existing)
    rule_create(
        connection=connection,
        direction="a_to_b",
        conditions=[],
        actions=[{"kind": "add_tag", "value": "Kustomer"}],
        fields_a=fields_a,
        fields_b=fields_b,
        capabilities_a=connector_for(pair.account_a).capabilities,
        capabilities_b=connector_for(pair.account_b).capabilities,
    )


def company_on_google(pair: Pair, email: str) -> str:
    organizations = pair.contact_by_email(email).get("organizations") or [{}]
    return str(organizations[0].get("name") or "")


def phones_on_kustomer(pair: Pair, email: str) -> list[str]:
    return [p["phone"] for p in pair.customer_by_email(email).get("phones") or []]


@pytest.fixture
def synced(pair: Pair) -> tuple[Pair, Connection, SyncRun]:
    """A first run that writes fields on both sides, labels contacts and creates one."""
    carl = pair.add_customer("Carl Cole", "carl@acme.example", company="Kustomer Co")
    pair.add_customer("Eve Exists", "eve@acme.example")
    pair.add_customer("Nick New", "nick@acme.example")
    pair.add_contact(person("Carl", "Cole", "carl@acme.example", phone="+32 9 123 45 67"))
    pair.add_contact(person("Eve", "Exists", "eve@acme.example", company="Google Co"))
    connection = pair.connect()
    label_kustomer_arrivals(pair, connection)
    run = pair.sync(connection)
    assert run.outcome == "success", run.error
    assert carl
    return pair, connection, run


def entries(run: SyncRun, **filters: Any) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(run=run, **filters))


def test_it_audits_each_field_a_run_writes_with_its_value_before_and_why(synced) -> None:
    pair, _, run = synced
    (company,) = entries(run, side="b", field="company")
    assert (company.before, company.after) == (None, "Kustomer Co")
    assert company.why == AuditEntry.Why.MAPPING
    assert company.record_id == pair.contact_by_email("carl@acme.example")["resourceName"]
    (eve_company,) = entries(run, side="a", field="company")
    assert eve_company.after == "Google Co"


def test_it_audits_tags_and_creates(synced) -> None:
    pair, _, run = synced
    tagged = {e.record_id for e in entries(run, kind="tag", after="Kustomer")}
    contacts = {c["resourceName"] for c in pair.contacts()}
    assert tagged == contacts
    (created,) = entries(run, kind="create")
    assert created.why == AuditEntry.Why.CREATE
    assert created.record_id == pair.contact_by_email("nick@acme.example")["resourceName"]


def test_it_audits_nothing_for_a_dry_run(pair: Pair) -> None:
    pair.add_customer("Carl Cole", "carl@acme.example", company="Kustomer Co")
    connection = pair.connect()
    call_command("sync_connection", str(connection.pk), "--dry-run", "--no-progress")
    assert not AuditEntry.objects.exists()


def test_it_records_the_winner_of_a_conflict(pair: Pair) -> None:
    customer = pair.add_customer("Carl Cole", "carl@acme.example", company="Old Co")
    connection = pair.connect(winner="a")
    pair.sync(connection)
    contact = pair.contact_by_email("carl@acme.example")
    pair.kustomer.update_customer(pair.subdomain, customer, {"company": "Kustomer Co"})
    pair.google.edit_contact(
        pair.google_email, contact["resourceName"], organizations=[{"name": "Google Co"}]
    )
    run = pair.sync(connection)
    (entry,) = entries(run, field="company")
    assert entry.why == AuditEntry.Why.WINNER
    assert (entry.side, entry.before, entry.after) == ("b", "Google Co", "Kustomer Co")


def test_it_puts_back_untouched_fields_and_removes_the_tags(synced, capsys) -> None:
    pair, _, run = synced
    eve = pair.customer_by_email("eve@acme.example")
    pair.kustomer.update_customer(pair.subdomain, eve["id"], {"company": "Eve Edited"})

    call_command("undo_run", str(run.pk))

    out = capsys.readouterr().out
    assert company_on_google(pair, "carl@acme.example") == ""
    assert phones_on_kustomer(pair, "carl@acme.example") == []
    assert pair.customer_by_email("eve@acme.example")["company"] == "Eve Edited"
    assert "left alone Kustomer" in out and "'Eve Edited'" in out
    for email in ("carl@acme.example", "eve@acme.example"):
        assert "Kustomer" not in pair.labels(pair.contact_by_email(email))


def test_it_keeps_what_the_run_created_and_labels_it(synced, capsys) -> None:
    pair, _, run = synced
    call_command("undo_run", str(run.pk))
    nick = pair.contact_by_email("nick@acme.example")
    assert UNDO_TAG in pair.labels(nick)
    assert f"created by the run, kept: Google Contacts {nick['resourceName']}" in (
        capsys.readouterr().out
    )


def test_it_is_a_run_of_its_own_and_audited(synced) -> None:
    _pair, connection, run = synced
    call_command("undo_run", str(run.pk))
    undo = SyncRun.objects.filter(connection=connection).latest("started_at", "id")
    assert undo.phase == SyncRun.Phase.UNDO and undo.outcome == "success"
    assert undo.plan["undo_of"] == run.pk
    (restored,) = entries(undo, side="b", field="company")
    assert (restored.before, restored.why) == ("Kustomer Co", AuditEntry.Why.UNDO)


def test_it_brings_the_runs_values_back_when_the_undo_is_undone(synced) -> None:
    pair, connection, run = synced
    call_command("undo_run", str(run.pk))
    undo = SyncRun.objects.filter(connection=connection).latest("started_at", "id")

    call_command("undo_run", str(undo.pk))

    assert company_on_google(pair, "carl@acme.example") == "Kustomer Co"
    assert phones_on_kustomer(pair, "carl@acme.example") == ["+3291234567"]
    assert pair.customer_by_email("eve@acme.example")["company"] == "Google Co"
    for email in ("carl@acme.example", "eve@acme.example", "nick@acme.example"):
        labels = pair.labels(pair.contact_by_email(email))
        assert "Kustomer" in labels and UNDO_TAG not in labels


def test_it_does_not_write_the_runs_values_back_on_the_next_run(synced) -> None:
    pair, connection, run = synced
    call_command("undo_run", str(run.pk))
    following = pair.sync(connection)
    assert following.outcome == "success"
    assert company_on_google(pair, "carl@acme.example") == ""
    assert following.updated_a == following.updated_b == 0


def test_it_writes_nothing_in_a_dry_run(synced, capsys) -> None:
    pair, connection, run = synced
    call_command("undo_run", str(run.pk), "--dry-run")
    out = capsys.readouterr().out
    assert "would restore Google Contacts" in out
    assert company_on_google(pair, "carl@acme.example") == "Kustomer Co"
    undo = SyncRun.objects.filter(connection=connection).latest("started_at", "id")
    assert undo.dry_run and not AuditEntry.objects.filter(run=undo).exists()


def test_it_refuses_an_unknown_run(db: None) -> None:
    with pytest.raises(CommandError, match="No run with id 999999"):
        call_command("undo_run", "999999")


def test_it_refuses_a_dry_run(synced) -> None:
    _pair, connection, _run = synced
    call_command("sync_connection", str(connection.pk), "--dry-run", "--no-progress")
    dry = SyncRun.objects.filter(connection=connection, dry_run=True).get()
    with pytest.raises(CommandError, match="was a dry run"):
        call_command("undo_run", str(dry.pk))


def test_it_refuses_a_run_that_wrote_nothing(synced) -> None:
    pair, connection, _run = synced
    quiet = pair.sync(connection)
    with pytest.raises(CommandError, match="no audited writes"):
        call_command("undo_run", str(quiet.pk))


def test_it_refuses_while_another_run_holds_the_connection(synced) -> None:
    from integrations.leases import lease_acquire

    _pair, connection, run = synced
    assert lease_acquire(connection_id=connection.pk) is not None
    with pytest.raises(CommandError, match="being synced right now"):
        call_command("undo_run", str(run.pk))


def test_it_lists_the_runs_writes_on_its_admin_page(synced, client, staff) -> None:
    pair, _, run = synced
    client.force_login(staff)
    response = client.get(reverse("admin:integrations_syncrun_change", args=[run.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "What this run wrote" in page
    contact = pair.contact_by_email("carl@acme.example")["resourceName"]
    assert contact in page and "&#x27;Kustomer Co&#x27;" in page
    assert "Search these writes" in page


def test_it_keeps_the_audit_of_writes_accepted_before_a_crash(db: None) -> None:
    from tests.integrations.sync.conftest import make_pair
    from tests.integrations.sync.memory_app import AppCrash

    memory = make_pair()
    memory.a.add(full_name="Alice Archer", emails=["alice@acme.example"])
    memory.a.add(full_name="Bob Baker", emails=["bob@acme.example"], company="Acme")
    memory.b.add(first_name="Bob", last_name="Baker", emails=["bob@acme.example"])
    memory.b.crash_after = 2  # the create of Alice goes through, the app dies on Bob's update
    engine, run = memory.engine()
    with pytest.raises(AppCrash):
        engine.execute()
    (created,) = AuditEntry.objects.filter(run=run)
    assert created.kind == AuditEntry.Kind.CREATE and created.side == "b"
    assert created.after["emails"] == ["alice@acme.example"]
