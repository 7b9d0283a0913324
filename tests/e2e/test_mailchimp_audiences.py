"""A Mailchimp audience is a choice of each connection, not of the account: the choice is checked
against the account's audiences, asked in the set-up, and each run syncs the audience its
connection chose, so one account serves two connections to two audiences. Over HTTP against
the HubSpot and Mailchimp emulators."""

from __future__ import annotations

import json
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
from integrations.models import Connection, SyncRun
from integrations.services import connection_create_for_accounts
from sandbox.hubspot import HubSpotEmulator
from sandbox.mailchimp import MailchimpEmulator

pytestmark = pytest.mark.django_db


@dataclass
class Audiences:
    hubspot: HubSpotEmulator
    mailchimp: MailchimpEmulator
    workspace: Workspace
    mailchimp_account: ConnectedAccount
    # The account's own list_id credential (the default of a connection without a choice).
    kept: str
    other: str

    def hubspot_account(self, email: str) -> ConnectedAccount:
        """A HubSpot portal of its own holding one contact ``email``."""
        portal = self.hubspot.create_portal()
        token = f"pat-na1-{uuid.uuid4().hex[:12]}"
        self.hubspot.add_private_app(portal.hub_id, token)
        self.hubspot.add_contact(portal.hub_id, {"email": email, "firstname": "F"})
        return connected_account_upsert(
            workspace=self.workspace,
            app="hubspot",
            label=f"HubSpot account {portal.hub_id}",
            credentials={"private_app_token": token},
        )

    def emails(self, list_id: str) -> set[str]:
        return {m["email_address"] for m in self.mailchimp.members(list_id)}


@pytest.fixture
def audiences(sandbox_server: Any, settings: Any, acme: Workspace) -> Audiences:
    hubspot: HubSpotEmulator = sandbox_server.emulator("hubspot")
    mailchimp: MailchimpEmulator = sandbox_server.emulator("mailchimp")
    with mailchimp.lock:
        mailchimp.faults.clear()
    settings.HUBSPOT_BASE_URL = sandbox_server.base_url("hubspot")
    settings.MAILCHIMP_BASE_URL_TEMPLATE = sandbox_server.base_url("mailchimp") + "/{dc}/3.0"
    name = f"t{uuid.uuid4().hex[:12]}"
    account, key = mailchimp.create_account("us8", name=name, login_email=f"{name}@acme.example")
    kept = mailchimp.create_audience(account.user_id, "Newsletter")
    other = mailchimp.create_audience(account.user_id, "Customers")
    mailchimp_account = connected_account_upsert(
        workspace=acme,
        app="mailchimp",
        label=f"Mailchimp ({name})",
        credentials={"api_key": key, "list_id": kept.id},
    )
    return Audiences(hubspot, mailchimp, acme, mailchimp_account, kept.id, other.id)


def _connection(audiences: Audiences, hubspot: ConnectedAccount, **choices: Any) -> Connection:
    return Connection(
        workspace=audiences.workspace,
        account_a=hubspot,
        account_b=audiences.mailchimp_account,
        choices=choices,
    )


def test_it_refuses_a_choice_the_app_does_not_declare(audiences: Audiences) -> None:
    hubspot = audiences.hubspot_account("ann@acme.example")
    with pytest.raises(ValidationError) as refused:
        _connection(audiences, hubspot, b={"audience": audiences.other}).full_clean()
    (message,) = refused.value.message_dict["choices"]
    assert message == "Mailchimp asks for no choice 'audience' (it asks for: Audience (list_id))."


def test_it_refuses_an_audience_the_account_does_not_have(audiences: Audiences) -> None:
    hubspot = audiences.hubspot_account("ann@acme.example")
    with pytest.raises(ValidationError) as refused:
        _connection(audiences, hubspot, b={"list_id": "nosuch0001"}).full_clean()
    (message,) = refused.value.message_dict["choices"]
    assert "has no Audience 'nosuch0001'" in message
    assert f"Newsletter ({audiences.kept}); Customers ({audiences.other})" in message


def test_it_accepts_one_of_the_accounts_audiences(audiences: Audiences) -> None:
    hubspot = audiences.hubspot_account("ann@acme.example")
    _connection(audiences, hubspot, b={"list_id": audiences.other}).full_clean()


def test_the_set_up_asks_for_the_audience_and_stores_it(
    client: Client, alice: User, audiences: Audiences
) -> None:
    hubspot = audiences.hubspot_account("ann@acme.example")
    client.force_login(alice)
    url = reverse("integrations:connection_new_direction")
    accounts = {"account_a": hubspot.pk, "account_b": audiences.mailchimp_account.pk}
    step = client.get(url, accounts)
    field = step.context["form"].fields["choice_b_list_id"]
    assert (field.label, field.initial) == ("Mailchimp audience", audiences.kept)
    assert [value for value, _ in field.choices] == ["", audiences.kept, audiences.other]
    response = client.post(
        url, {**accounts, "direction": "two_way", "choice_b_list_id": audiences.other}
    )
    assert response.status_code == 302, response.content.decode()
    connection = Connection.objects.get(account_a=hubspot)
    assert connection.choices == {"b": {"list_id": audiences.other}}


def test_the_set_up_says_so_when_the_audiences_cannot_be_listed(
    client: Client, alice: User, audiences: Audiences
) -> None:
    hubspot = audiences.hubspot_account("ann@acme.example")
    account = audiences.mailchimp_account
    account.set_credentials({**account.get_credentials(), "api_key": "0" * 32 + "-us8"})
    account.save()
    client.force_login(alice)
    response = client.get(
        reverse("integrations:connection_new_direction"),
        {"account_a": hubspot.pk, "account_b": account.pk},
    )
    assert response.status_code == 200
    (problem,) = response.context["form"].choice_problems
    assert problem.startswith(f"Mailchimp ({account.label}) could not list its options:")
    assert problem in response.content.decode()


def test_the_admin_adds_a_connection_with_its_audience_and_refuses_an_unknown_one(
    client: Client, staff: User, audiences: Audiences
) -> None:
    hubspot = audiences.hubspot_account("ann@acme.example")
    client.force_login(staff)
    url = reverse("admin:integrations_connection_add")
    data = {
        "workspace": audiences.workspace.pk,
        "account_a": hubspot.pk,
        "account_b": audiences.mailchimp_account.pk,
        "direction": "two_way",
        "winner": "a",
        "avoid_duplicates": "on",
        "sync_interval": "600",
    }
    refused = client.post(url, {**data, "choices": '{"b": {"list_id": "nosuch0001"}}'})
    assert refused.status_code == 200
    assert "has no Audience &#x27;nosuch0001&#x27;" in refused.content.decode()
    assert not Connection.objects.exists()
    response = client.post(
        url, {**data, "choices": json.dumps({"b": {"list_id": audiences.other}})}
    )
    assert response.status_code == 302
    assert Connection.objects.get().choices == {"b": {"list_id": audiences.other}}


def test_one_account_syncs_two_connections_to_their_own_audiences(audiences: Audiences) -> None:
    chosen = connection_create_for_accounts(
        workspace=audiences.workspace,
        account_a=audiences.hubspot_account("ann@acme.example"),
        account_b=audiences.mailchimp_account,
        choices={"b": {"list_id": audiences.other}},
    )
    default = connection_create_for_accounts(
        workspace=audiences.workspace,
        account_a=audiences.hubspot_account("bob@acme.example"),
        account_b=audiences.mailchimp_account,
    )
    for connection in (chosen, default):
        tasks.sync_connection_task.delay(connection.pk)
        run = SyncRun.objects.filter(connection=connection).latest("started_at", "id")
        assert run.outcome == "success", run.error
    assert audiences.emails(audiences.other) == {"ann@acme.example"}
    assert audiences.emails(audiences.kept) == {"bob@acme.example"}
