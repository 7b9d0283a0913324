"""A customer's Kustomer org and Google account on the sandboxes, paired by a connection.

Each test gets its own Kustomer org and Google user on the session's sandbox server, so tests
never see each other's data. Runs go through the Celery task (eager here) over real HTTP.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from accounts.models import ConnectedAccount, Workspace
from accounts.services import connected_account_upsert
from integrations import tasks
from integrations.connectors.accounts import connector_for
from integrations.models import Connection, SyncRun
from integrations.services import connection_create_for_accounts
from sandbox.google_contacts import GoogleContactsEmulator
from sandbox.kustomer import ALL_ROLES, DEMO_METADATA, KustomerEmulator


def person(given: str, family: str, email: str | None, **extra: Any) -> dict[str, Any]:
    """A Google People API person as a user would have typed it."""
    body: dict[str, Any] = {"names": [{"givenName": given, "familyName": family}]}
    if email:
        body["emailAddresses"] = [{"value": email}]
    if "company" in extra:
        body["organizations"] = [{"name": extra.pop("company")}]
    if "phone" in extra:
        body["phoneNumbers"] = [{"value": extra.pop("phone")}]
    if "custom" in extra:
        body["userDefined"] = [{"key": k, "value": v} for k, v in extra.pop("custom").items()]
    body.update(extra)
    return body


@dataclass
class Pair:
    """Alice's workspace with a Kustomer org and a Google account on the sandboxes."""

    kustomer: KustomerEmulator
    google: GoogleContactsEmulator
    subdomain: str
    google_email: str
    workspace: Workspace
    account_a: ConnectedAccount
    account_b: ConnectedAccount

    # Kustomer side
    def add_customer(self, name: str, email: str | None, **attrs: Any) -> str:
        body: dict[str, Any] = {"name": name, **attrs}
        if email:
            body["emails"] = [{"type": "work", "email": email}]
        return str(self.kustomer.add_customer(self.subdomain, body)["id"])

    def customers(self) -> list[dict[str, Any]]:
        return [c["attributes"] | {"id": c["id"]} for c in self.kustomer.customers(self.subdomain)]

    def customer_by_email(self, email: str) -> dict[str, Any]:
        (found,) = [
            c for c in self.customers() if email in [e["email"] for e in c.get("emails") or []]
        ]
        return found

    # Google side
    def add_contact(self, body: dict[str, Any]) -> str:
        return str(self.google.add_contact(self.google_email, body)["resourceName"])

    def contacts(self) -> list[dict[str, Any]]:
        return list(self.google.contacts(self.google_email))

    def contact_by_email(self, email: str) -> dict[str, Any]:
        (found,) = [
            c
            for c in self.contacts()
            if email in [e["value"] for e in c.get("emailAddresses") or []]
        ]
        return found

    def labels(self, contact: dict[str, Any]) -> set[str]:
        groups = self.google.add_user(self.google_email).groups
        return {
            groups[m["contactGroupMembership"]["contactGroupResourceName"]]["name"]
            for m in contact.get("memberships") or []
            if m["contactGroupMembership"]["contactGroupResourceName"] in groups
        }

    # Tandem
    def connect(self, **options: Any) -> Connection:
        return connection_create_for_accounts(
            workspace=self.workspace, account_a=self.account_a, account_b=self.account_b, **options
        )

    def fields(self) -> tuple[list[Any], list[Any]]:
        return connector_for(self.account_a).fields(), connector_for(self.account_b).fields()

    def sync(self, connection: Connection) -> SyncRun:
        tasks.sync_connection_task.delay(connection.pk)
        return SyncRun.objects.filter(connection=connection).latest("started_at", "id")


@pytest.fixture
def pair(sandbox_server: Any, settings: Any, acme: Workspace) -> Pair:
    kustomer: KustomerEmulator = sandbox_server.emulator("kustomer")
    google: GoogleContactsEmulator = sandbox_server.emulator("google_contacts")
    settings.KUSTOMER_BASE_URL_TEMPLATE = sandbox_server.base_url("kustomer") + "/{subdomain}"
    settings.GOOGLE_OAUTH_TOKEN_URL = sandbox_server.base_url("google_contacts") + "/token"
    settings.GOOGLE_PEOPLE_BASE_URL = sandbox_server.base_url("google_contacts")
    settings.GOOGLE_OAUTH_CLIENT_ID = "tandem-demo"
    settings.GOOGLE_OAUTH_CLIENT_SECRET = "tandem-demo-secret"
    subdomain = f"t{uuid.uuid4().hex[:12]}"
    api_key = f"key-{uuid.uuid4().hex}"
    kustomer.create_org(subdomain, api_keys={api_key: ALL_ROLES}, metadata=DEMO_METADATA)
    google_email = f"{subdomain}@gmail.example"
    google.add_user(google_email)
    tokens = google.issue_tokens(google_email)
    account_a = connected_account_upsert(
        workspace=acme,
        app="kustomer",
        label=f"{subdomain}.kustomerapp.com",
        credentials={"subdomain": subdomain, "api_key": api_key},
    )
    account_b = connected_account_upsert(
        workspace=acme,
        app="google_contacts",
        label=google_email,
        credentials={"refresh_token": tokens["refresh_token"]},
    )
    return Pair(kustomer, google, subdomain, google_email, acme, account_a, account_b)
