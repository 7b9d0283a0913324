"""Kustomer ↔ Mailchimp, end to end: the Celery task runs the engine, both connectors talk to
the sandboxes over real HTTP with the default mappings, and the assertions read the sandboxes'
stored data. Mailchimp never subscribes again a member who unsubscribed."""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import ConnectedAccount, User, Workspace
from accounts.services import connected_account_upsert
from integrations import tasks
from integrations.forms import ConnectionOptionsForm
from integrations.models import Connection, FieldMapping, SyncRun
from integrations.services import connection_create_for_accounts
from sandbox.kustomer import ALL_ROLES, DEMO_METADATA, KustomerEmulator
from sandbox.mailchimp import MailchimpEmulator

pytestmark = pytest.mark.django_db


@dataclass
class KustomerMailchimp:
    kustomer: KustomerEmulator
    mailchimp: MailchimpEmulator
    subdomain: str
    list_id: str
    workspace: Workspace
    account_a: ConnectedAccount
    account_b: ConnectedAccount

    def add_customer(self, name: str, email: str) -> str:
        body = {"name": name, "emails": [{"type": "work", "email": email}]}
        return str(self.kustomer.add_customer(self.subdomain, body)["id"])

    def customer(self, email: str) -> dict[str, Any]:
        (found,) = [
            c["attributes"] | {"id": c["id"]}
            for c in self.kustomer.customers(self.subdomain)
            if email in [e["email"] for e in c["attributes"].get("emails") or []]
        ]
        return found

    def add_member(self, email: str, first: str, last: str) -> None:
        self.mailchimp.add_member(
            self.list_id,
            {
                "email_address": email,
                "status": "subscribed",
                "merge_fields": {"FNAME": first, "LNAME": last},
            },
        )

    def member(self, email: str) -> dict[str, Any]:
        found = self.mailchimp.member(self.list_id, email)
        assert found is not None, email
        return found

    def connect(self, **options: Any) -> Connection:
        return connection_create_for_accounts(
            workspace=self.workspace, account_a=self.account_a, account_b=self.account_b, **options
        )

    def sync(self, connection: Connection) -> SyncRun:
        tasks.sync_connection_task.delay(connection.pk)
        run = SyncRun.objects.filter(connection=connection).latest("started_at", "id")
        assert run.outcome == "success", run.error
        return run


@pytest.fixture
def pair(sandbox_server: Any, settings: Any, acme: Workspace) -> KustomerMailchimp:
    kustomer: KustomerEmulator = sandbox_server.emulator("kustomer")
    mailchimp: MailchimpEmulator = sandbox_server.emulator("mailchimp")
    with mailchimp.lock:
        mailchimp.faults.clear()
    settings.KUSTOMER_BASE_URL_TEMPLATE = sandbox_server.base_url("kustomer") + "/{subdomain}"
    settings.MAILCHIMP_BASE_URL_TEMPLATE = sandbox_server.base_url("mailchimp") + "/{dc}/3.0"
    subdomain = f"t{uuid.uuid4().hex[:12]}"
    kustomer_key = f"key-{uuid.uuid4().hex}"
    kustomer.create_org(subdomain, api_keys={kustomer_key: ALL_ROLES}, metadata=DEMO_METADATA)
    account, mailchimp_key = mailchimp.create_account(
        "us7", name=subdomain, login_email=f"{subdomain}@acme.example"
    )
    audience = mailchimp.create_audience(account.user_id, "Customers")
    mailchimp.create_audience(account.user_id, "Another audience")
    account_a = connected_account_upsert(
        workspace=acme,
        app="kustomer",
        label=f"{subdomain}.kustomerapp.com",
        credentials={"subdomain": subdomain, "api_key": kustomer_key},
    )
    account_b = connected_account_upsert(
        workspace=acme,
        app="mailchimp",
        label=f"Customers ({subdomain})",
        credentials={"api_key": mailchimp_key, "list_id": audience.id},
    )
    return KustomerMailchimp(
        kustomer, mailchimp, subdomain, audience.id, acme, account_a, account_b
    )


def test_the_default_mappings_pair_name_email_and_phone(pair: KustomerMailchimp) -> None:
    connection = pair.connect()
    mapped = set(
        FieldMapping.objects.filter(connection=connection).values_list("field_a", "field_b")
    )
    assert mapped == {("name", "name"), ("emails", "email"), ("phones", "phone")}


def test_a_contact_syncs_both_ways_with_the_default_mappings(pair: KustomerMailchimp) -> None:
    pair.add_customer("Mary Ann Smith", "maryann@acme.example")
    pair.add_member("bob@acme.example", "Bob", "Baker")
    connection = pair.connect()
    run = pair.sync(connection)
    assert (run.created_a, run.created_b) == (1, 1)
    member = pair.member("maryann@acme.example")
    assert (member["status"], member["merge_fields"]["FNAME"], member["merge_fields"]["LNAME"]) == (
        "subscribed",
        "Mary Ann",
        "Smith",
    )
    assert pair.customer("bob@acme.example")["name"] == "Bob Baker"


def test_edits_travel_both_ways(pair: KustomerMailchimp) -> None:
    customer = pair.add_customer("Carl Cole", "carl@acme.example")
    pair.add_member("dora@acme.example", "Dora", "Dunn")
    connection = pair.connect()
    pair.sync(connection)
    pair.kustomer.update_customer(pair.subdomain, customer, {"name": "Carl Colton"})
    # Within the second Tandem last wrote to Mailchimp, most likely: still a change.
    pair.mailchimp.edit_member(pair.list_id, "dora@acme.example", {"FNAME": "Dorothy"})
    pair.sync(connection)
    assert pair.member("carl@acme.example")["merge_fields"]["LNAME"] == "Colton"
    assert pair.customer("dora@acme.example")["name"] == "Dorothy Dunn"


def test_a_member_who_unsubscribed_stays_unsubscribed_after_the_other_side_edits(
    pair: KustomerMailchimp,
) -> None:
    customer = pair.add_customer("Eve Evans", "eve@acme.example")
    connection = pair.connect()
    pair.sync(connection)
    pair.mailchimp.unsubscribe(pair.list_id, "eve@acme.example")
    pair.sync(connection)
    pair.kustomer.update_customer(pair.subdomain, customer, {"name": "Eve Everly"})
    pair.sync(connection)
    member = pair.member("eve@acme.example")
    assert (member["status"], member["merge_fields"]["LNAME"]) == ("unsubscribed", "Everly")
    assert not any(
        k.startswith("DELETE") or "delete-permanent" in k for k in pair.mailchimp.requests
    )


def test_the_unsubscribe_and_deletion_options_need_both_apps(pair: KustomerMailchimp) -> None:
    with pytest.raises(ValidationError) as caught:
        pair.connect(sync_unsubscribes=True, sync_deletions=True)
    assert set(caught.value.message_dict) == {"sync_unsubscribes", "sync_deletions"}
    offered = set(ConnectionOptionsForm(instance=pair.connect()).fields)
    assert not offered & {"sync_unsubscribes", "sync_deletions"}


def test_connecting_a_mailchimp_account_chooses_its_audience(
    pair: KustomerMailchimp, client: Client, alice: User
) -> None:
    client.force_login(alice)
    url = reverse("accounts:connected_account_new", kwargs={"app": "mailchimp"})
    key = pair.account_b.get_credentials()["api_key"]
    page = client.post(url, {"api_key": key, "list_id": ""})
    assert page.status_code == 200
    assert f"Customers ({pair.list_id})" in html.unescape(page.content.decode())
    chosen = client.post(url, {"api_key": key, "list_id": pair.list_id})
    assert chosen.status_code == 302
    account = ConnectedAccount.objects.get(
        workspace=pair.workspace, app="mailchimp", label="Customers (us7)"
    )
    assert account.get_credentials()["list_id"] == pair.list_id


def test_the_admin_offers_neither_option_for_this_pair(
    pair: KustomerMailchimp, client: Client, staff: User
) -> None:
    connection = pair.connect()
    client.force_login(staff)
    page = client.get(reverse("admin:integrations_connection_change", args=[connection.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'name="sync_deletions"' not in body and 'name="sync_unsubscribes"' not in body


def test_an_email_changed_on_either_side_changes_it_on_the_other(pair: KustomerMailchimp) -> None:
    customer = pair.add_customer("Carl Cole", "carl@acme.example")
    pair.add_member("dora@acme.example", "Dora", "Dunn")
    connection = pair.connect()
    pair.sync(connection)
    new_email = [{"type": "work", "email": "carl@new.example"}]
    pair.kustomer.update_customer(pair.subdomain, customer, {"emails": new_email})
    pair.mailchimp.change_email(pair.list_id, "dora@acme.example", "dora@new.example")
    pair.sync(connection)
    pair.sync(connection)
    members = {m["email_address"]: m for m in pair.mailchimp.members(pair.list_id)}
    assert sorted(members) == ["carl@new.example", "dora@new.example"]
    assert all(m["status"] == "subscribed" and not m["tags"] for m in members.values())
    emails = sorted(
        e["email"]
        for c in pair.kustomer.customers(pair.subdomain)
        for e in c["attributes"].get("emails") or []
    )
    assert emails == ["carl@new.example", "dora@new.example"]
