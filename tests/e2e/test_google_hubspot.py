"""Google Contacts ↔ HubSpot, end to end with the default mappings: the Celery task runs the
engine, the connectors talk to both sandboxes over real HTTP, and the assertions read the
sandboxes' stored data."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from accounts.models import ConnectedAccount, Workspace
from accounts.services import connected_account_upsert
from integrations import tasks
from integrations.models import Connection, SyncRun
from integrations.services import connection_create_for_accounts
from sandbox.google_contacts import GoogleContactsEmulator
from sandbox.hubspot import HubSpotEmulator, add_demo_properties
from tests.e2e.conftest import person

pytestmark = pytest.mark.django_db


@dataclass
class GoogleHubSpot:
    google: GoogleContactsEmulator
    hubspot: HubSpotEmulator
    google_email: str
    hub_id: int
    workspace: Workspace
    account_a: ConnectedAccount
    account_b: ConnectedAccount

    def add_contact(self, body: dict[str, Any]) -> str:
        return str(self.google.add_contact(self.google_email, body)["resourceName"])

    def contact_by_email(self, email: str) -> dict[str, Any]:
        (found,) = [
            c
            for c in self.google.contacts(self.google_email)
            if email in [e["value"] for e in c.get("emailAddresses") or []]
        ]
        return found

    def google_emails(self) -> Counter[str]:
        return Counter(
            e["value"]
            for c in self.google.contacts(self.google_email)
            for e in c.get("emailAddresses") or []
        )

    def add_hubspot(self, **props: str) -> str:
        return str(self.hubspot.add_contact(self.hub_id, props)["id"])

    def hubspot_by_email(self, email: str) -> dict[str, Any]:
        (found,) = [
            c
            for c in self.hubspot.contacts(self.hub_id, archived=False)
            if c["properties"].get("email") == email
        ]
        return found

    def hubspot_emails(self) -> Counter[str]:
        return Counter(
            str(c["properties"].get("email"))
            for c in self.hubspot.contacts(self.hub_id, archived=False)
        )

    def connect(self, **options: Any) -> Connection:
        return connection_create_for_accounts(
            workspace=self.workspace, account_a=self.account_a, account_b=self.account_b, **options
        )

    def sync(self, connection: Connection) -> SyncRun:
        tasks.sync_connection_task.delay(connection.pk)
        return SyncRun.objects.filter(connection=connection).latest("started_at", "id")


@pytest.fixture
def apps(sandbox_server: Any, settings: Any, acme: Workspace) -> GoogleHubSpot:
    google: GoogleContactsEmulator = sandbox_server.emulator("google_contacts")
    hubspot: HubSpotEmulator = sandbox_server.emulator("hubspot")
    settings.GOOGLE_OAUTH_TOKEN_URL = sandbox_server.base_url("google_contacts") + "/token"
    settings.GOOGLE_PEOPLE_BASE_URL = sandbox_server.base_url("google_contacts")
    settings.GOOGLE_OAUTH_CLIENT_ID = "tandem-demo"
    settings.GOOGLE_OAUTH_CLIENT_SECRET = "tandem-demo-secret"
    settings.HUBSPOT_BASE_URL = sandbox_server.base_url("hubspot")
    name = f"t{uuid.uuid4().hex[:12]}"
    google_email = f"{name}@gmail.example"
    google.add_user(google_email)
    tokens = google.issue_tokens(google_email)
    portal = hubspot.create_portal()
    token = f"pat-na1-{name}"
    hubspot.add_private_app(portal.hub_id, token)
    add_demo_properties(hubspot, portal.hub_id)
    account_a = connected_account_upsert(
        workspace=acme,
        app="google_contacts",
        label=google_email,
        credentials={"refresh_token": tokens["refresh_token"]},
    )
    account_b = connected_account_upsert(
        workspace=acme,
        app="hubspot",
        label=f"HubSpot account {portal.hub_id}",
        credentials={"private_app_token": token},
    )
    return GoogleHubSpot(google, hubspot, google_email, portal.hub_id, acme, account_a, account_b)


def test_it_brings_a_contact_made_on_each_side_to_the_other(apps: GoogleHubSpot) -> None:
    apps.add_contact(person("Gina", "Gold", "gina@acme.example", company="Google Co"))
    apps.add_hubspot(email="hank@acme.example", firstname="Hank", lastname="Hill", jobtitle="CTO")
    apps.add_contact(person("Alice", "Archer", "alice@acme.example"))
    apps.add_hubspot(email="alice@acme.example", firstname="Alice", lastname="Archer")
    connection = apps.connect()
    run = apps.sync(connection)
    assert run.outcome == "success", run.error
    expected = {"gina@acme.example": 1, "hank@acme.example": 1, "alice@acme.example": 1}
    assert apps.google_emails() == expected
    assert apps.hubspot_emails() == expected
    gina = apps.hubspot_by_email("gina@acme.example")["properties"]
    assert (gina["firstname"], gina["lastname"], gina["company"]) == ("Gina", "Gold", "Google Co")
    hank = apps.contact_by_email("hank@acme.example")
    assert hank["names"][0]["givenName"] == "Hank"
    assert hank["organizations"][0]["title"] == "CTO"
    assert (run.created_a, run.created_b) == (1, 1)


def test_it_carries_an_edit_each_way(apps: GoogleHubSpot) -> None:
    apps.add_contact(person("Gina", "Gold", "gina@acme.example", company="Old Co"))
    hank = apps.add_hubspot(email="hank@acme.example", firstname="Hank", lastname="Hill")
    connection = apps.connect()
    apps.sync(connection)
    gina = apps.contact_by_email("gina@acme.example")
    apps.google.edit_contact(
        apps.google_email, gina["resourceName"], **{"organizations": [{"name": "New Co"}]}
    )
    apps.hubspot.advance_clock(1)
    apps.hubspot.edit_contact(apps.hub_id, hank, {"lastname": "Hilton"})
    run = apps.sync(connection)
    assert run.outcome == "success", run.error
    assert apps.hubspot_by_email("gina@acme.example")["properties"]["company"] == "New Co"
    assert apps.contact_by_email("hank@acme.example")["names"][0]["familyName"] == "Hilton"


def test_it_writes_nothing_and_makes_no_duplicate_on_a_second_run(apps: GoogleHubSpot) -> None:
    apps.add_contact(person("Gina", "Gold", "gina@acme.example"))
    apps.add_hubspot(email="hank@acme.example", firstname="Hank", lastname="Hill")
    connection = apps.connect()
    apps.sync(connection)
    run = apps.sync(connection)
    assert run.outcome == "success", run.error
    assert (run.created_a, run.created_b, run.updated_a, run.updated_b) == (0, 0, 0, 0)
    assert apps.google_emails() == {"gina@acme.example": 1, "hank@acme.example": 1}
    assert apps.hubspot_emails() == {"gina@acme.example": 1, "hank@acme.example": 1}


def test_it_labels_a_contact_archived_in_hubspot_tandem_trash_in_google(
    apps: GoogleHubSpot,
) -> None:
    hank = apps.add_hubspot(email="hank@acme.example", firstname="Hank", lastname="Hill")
    for n in range(5):  # one archive in six stays under the mass-deletion guard
        apps.add_hubspot(email=f"p{n}@acme.example", firstname=f"P{n}")
    connection = apps.connect(sync_deletions=True)
    apps.sync(connection)
    apps.hubspot.advance_clock(1)
    apps.hubspot.archive_contact(apps.hub_id, hank)
    run = apps.sync(connection)
    assert run.outcome == "success", run.error
    contact = apps.contact_by_email("hank@acme.example")
    groups = apps.google.add_user(apps.google_email).groups
    labels = {
        groups[m["contactGroupMembership"]["contactGroupResourceName"]]["name"]
        for m in contact.get("memberships") or []
        if m["contactGroupMembership"]["contactGroupResourceName"] in groups
    }
    assert "Tandem Trash" in labels
    # Read again on the next run (archived since the cursor), it changes nothing.
    again = apps.sync(connection)
    assert again.outcome == "success", again.error
    assert (again.tagged_a, again.tagged_b, again.updated_a, again.created_a) == (0, 0, 0, 0)


def test_it_creates_no_duplicate_when_a_batch_create_is_applied_but_its_answer_is_lost(
    apps: GoogleHubSpot,
) -> None:
    apps.add_contact(person("Gina", "Gold", "gina@acme.example"))
    connection = apps.connect()
    # The scan's reads go through; the batch create is applied, then the connection drops
    # (the kit's faults apply to the next request, so the fault is queued as the create comes).
    apps.hubspot.faults = []
    apps.hubspot.requests.clear()
    original = apps.hubspot.dispatch

    def drop_the_create(request: Any) -> Any:
        if request.path.endswith("/batch/create") and not apps.hubspot.faults:
            apps.hubspot.fail_next(1, after_commit=True, drop=True)
        return original(request)

    apps.hubspot.dispatch = drop_the_create  # type: ignore[method-assign]
    try:
        first = apps.sync(connection)
    finally:
        del apps.hubspot.dispatch
        apps.hubspot.faults = []
    assert first.failed == 1
    second = apps.sync(connection)
    assert second.outcome == "success", second.error
    assert second.created_b == 0  # found by its email, not created again
    assert apps.hubspot_emails() == {"gina@acme.example": 1}
    third = apps.sync(connection)
    assert (third.created_a, third.created_b) == (0, 0)


def test_it_keeps_the_other_emails_of_a_google_contact_hubspot_holds_one_of(
    apps: GoogleHubSpot,
) -> None:
    body = person("Gina", "Gold", "gina@acme.example")
    body["emailAddresses"].append({"value": "gina@home.example"})
    apps.add_contact(body)
    connection = apps.connect()
    apps.sync(connection)
    gina = apps.hubspot_by_email("gina@acme.example")["id"]
    apps.hubspot.advance_clock(1)
    apps.hubspot.edit_contact(apps.hub_id, gina, {"lastname": "Golden"})
    run = apps.sync(connection)
    assert run.outcome == "success", run.error
    contact = apps.contact_by_email("gina@acme.example")
    assert contact["names"][0]["familyName"] == "Golden"
    assert [e["value"] for e in contact["emailAddresses"]] == [
        "gina@acme.example",
        "gina@home.example",
    ]
