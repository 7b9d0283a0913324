"""HubSpot ↔ Mailchimp, end to end over HTTP: the options that depend on both apps. With "sync
deletions" on, a contact archived in one app gets "Tandem Trash" in the other (a static list in
HubSpot, a tag in Mailchimp); with "sync unsubscribes" on, an unsubscribe in Mailchimp puts the
HubSpot contact on the "Tandem Unsubscribes" list. Nothing is ever deleted or subscribed again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ConnectedAccount, User, Workspace
from accounts.services import connected_account_upsert
from integrations import tasks
from integrations.connectors.registry import connector_class
from integrations.forms import ConnectionOptionsForm
from integrations.models import Connection, SyncRun
from integrations.services import connection_create_for_accounts
from sandbox.hubspot import HubSpotEmulator
from sandbox.mailchimp import MailchimpEmulator

pytestmark = pytest.mark.django_db

TRASH = "Tandem Trash"
UNSUBSCRIBES = "Tandem Unsubscribes"


@dataclass
class HubSpotMailchimp:
    hubspot: HubSpotEmulator
    mailchimp: MailchimpEmulator
    hub_id: int
    list_id: str
    workspace: Workspace
    account_a: ConnectedAccount
    account_b: ConnectedAccount

    def add_contact(self, email: str, first: str, last: str) -> str:
        props = {"email": email, "firstname": first, "lastname": last}
        return str(self.hubspot.add_contact(self.hub_id, props)["id"])

    def contact(self, email: str) -> dict[str, Any]:
        (found,) = [
            c for c in self.hubspot.contacts(self.hub_id) if c["properties"].get("email") == email
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

    def tags(self, email: str) -> set[str]:
        return {t["name"] for t in self.member(email)["tags"]}

    def on_list(self, name: str) -> set[str]:
        return self.hubspot.list_members(self.hub_id, name)

    def connect(self, **options: Any) -> Connection:
        return connection_create_for_accounts(
            workspace=self.workspace, account_a=self.account_a, account_b=self.account_b, **options
        )

    def sync(self, connection: Connection) -> SyncRun:
        tasks.sync_connection_task.delay(connection.pk)
        run = SyncRun.objects.filter(connection=connection).latest("started_at", "id")
        assert run.outcome == "success", run.error
        return run

    def add_bystanders(self) -> None:
        """Five more contacts, so one tag stays under the mass-tag breaker's share (20%)."""
        for index in range(5):
            self.add_contact(f"by{index}@acme.example", "By", f"Stander{index}")

    def nothing_deleted(self) -> None:
        assert not any(
            c["archived"]
            for c in self.hubspot.contacts(self.hub_id)
            if c["properties"].get("email") != "gone@acme.example"
        )
        assert not any(
            k.startswith("DELETE") or "delete-permanent" in k for k in self.mailchimp.requests
        )


@pytest.fixture
def apps(sandbox_server: Any, settings: Any, acme: Workspace) -> HubSpotMailchimp:
    hubspot: HubSpotEmulator = sandbox_server.emulator("hubspot")
    mailchimp: MailchimpEmulator = sandbox_server.emulator("mailchimp")
    with mailchimp.lock:
        mailchimp.faults.clear()
    settings.HUBSPOT_BASE_URL = sandbox_server.base_url("hubspot")
    settings.MAILCHIMP_BASE_URL_TEMPLATE = sandbox_server.base_url("mailchimp") + "/{dc}/3.0"
    name = f"t{uuid.uuid4().hex[:12]}"
    portal = hubspot.create_portal()
    token = f"pat-na1-{name}"
    hubspot.add_private_app(portal.hub_id, token)
    account, key = mailchimp.create_account("us8", name=name, login_email=f"{name}@acme.example")
    audience = mailchimp.create_audience(account.user_id, "Newsletter")
    account_a = connected_account_upsert(
        workspace=acme,
        app="hubspot",
        label=f"HubSpot account {portal.hub_id}",
        credentials={"private_app_token": token},
    )
    account_b = connected_account_upsert(
        workspace=acme,
        app="mailchimp",
        label=f"Newsletter ({name})",
        credentials={"api_key": key, "list_id": audience.id},
    )
    return HubSpotMailchimp(
        hubspot, mailchimp, portal.hub_id, audience.id, acme, account_a, account_b
    )


def test_a_contact_syncs_both_ways_with_the_default_mappings(apps: HubSpotMailchimp) -> None:
    apps.add_contact("hank@acme.example", "Hank", "Hill")
    apps.add_member("mia@acme.example", "Mia", "Moss")
    run = apps.sync(apps.connect())
    assert (run.created_a, run.created_b) == (1, 1)
    member = apps.member("hank@acme.example")
    assert (member["status"], member["merge_fields"]["FNAME"], member["merge_fields"]["LNAME"]) == (
        "subscribed",
        "Hank",
        "Hill",
    )
    props = apps.contact("mia@acme.example")["properties"]
    assert (props["firstname"], props["lastname"]) == ("Mia", "Moss")


def test_a_contact_opted_out_in_hubspot_joins_mailchimp_unsubscribed(
    apps: HubSpotMailchimp,
) -> None:
    opal = apps.add_contact("opal@acme.example", "Opal", "Optout")
    apps.hubspot.unsubscribe_contact(apps.hub_id, opal)
    apps.add_contact("sam@acme.example", "Sam", "Stone")
    run = apps.sync(apps.connect(sync_unsubscribes=False))
    assert run.created_b == 2
    assert apps.member("opal@acme.example")["status"] == "unsubscribed"
    assert apps.member("sam@acme.example")["status"] == "subscribed"


def test_a_contact_archived_in_hubspot_gets_the_trash_tag_in_mailchimp(
    apps: HubSpotMailchimp,
) -> None:
    contact = apps.add_contact("gone@acme.example", "Gil", "Gone")
    apps.add_bystanders()
    connection = apps.connect(sync_deletions=True)
    apps.sync(connection)
    apps.hubspot.archive_contact(apps.hub_id, contact)
    apps.sync(connection)
    assert TRASH in apps.tags("gone@acme.example")
    assert apps.member("gone@acme.example")["status"] == "subscribed"
    apps.nothing_deleted()


def test_a_member_archived_in_mailchimp_puts_the_contact_on_the_trash_list(
    apps: HubSpotMailchimp,
) -> None:
    apps.add_member("ann@acme.example", "Ann", "Archer")
    apps.add_bystanders()
    connection = apps.connect(sync_deletions=True)
    apps.sync(connection)
    apps.mailchimp.archive(apps.list_id, "ann@acme.example")
    apps.sync(connection)
    contact = apps.contact("ann@acme.example")
    assert contact["id"] in apps.on_list(TRASH)
    assert not contact["archived"]


def test_the_setup_offers_each_option_exactly_where_both_apps_support_it(
    apps: HubSpotMailchimp,
) -> None:
    connection = apps.connect()
    offered = set(ConnectionOptionsForm(instance=connection).fields)
    hubspot, mailchimp = connector_class("hubspot"), connector_class("mailchimp")
    for option, flag in (
        ("sync_deletions", "supports_deletions"),
        ("sync_unsubscribes", "supports_unsubscribes"),
    ):
        both = getattr(hubspot.capabilities, flag) and getattr(mailchimp.capabilities, flag)
        assert (option in offered) == both
    assert {"sync_deletions", "sync_unsubscribes"} <= offered


def test_an_unsubscribe_in_mailchimp_puts_the_contact_on_the_unsubscribes_list(
    apps: HubSpotMailchimp,
) -> None:
    apps.add_contact("una@acme.example", "Una", "Usher")
    apps.add_bystanders()
    connection = apps.connect(sync_unsubscribes=True, sync_deletions=True)
    apps.sync(connection)
    apps.mailchimp.unsubscribe(apps.list_id, "una@acme.example")
    apps.sync(connection)
    contact = apps.contact("una@acme.example")
    assert contact["id"] in apps.on_list(UNSUBSCRIBES)
    apps.hubspot.edit_contact(apps.hub_id, contact["id"], {"lastname": "Usherwood"})
    apps.sync(connection)
    member = apps.member("una@acme.example")
    assert (member["status"], member["merge_fields"]["LNAME"]) == ("unsubscribed", "Usherwood")
    apps.nothing_deleted()


def test_the_admin_offers_both_options_for_this_pair(
    apps: HubSpotMailchimp, client: Client, staff: User
) -> None:
    connection = apps.connect()
    client.force_login(staff)
    page = client.get(reverse("admin:integrations_connection_change", args=[connection.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'name="sync_deletions"' in body and 'name="sync_unsubscribes"' in body
