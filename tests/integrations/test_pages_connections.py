"""The connections list and a connection's page: status in words, health, run history, and the
pause / resume / sync now / re-scan / delete buttons."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ConnectedAccount, Membership, User, Workspace
from integrations.models import Connection, RecordIssue, Side, SyncRun
from tests.factories import ConnectionFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_alice(client: Client, alice: User, acme: Workspace) -> Client:
    client.force_login(alice)
    return client


@pytest.fixture
def connection(acme: Workspace) -> Connection:
    return ConnectionFactory(workspace=acme, name="Support and address book")


@pytest.fixture
def carol(acme: Workspace) -> User:
    """A member of Acme who may look but not change."""
    user = UserFactory(email="carol@acme.example")
    MembershipFactory(workspace=acme, user=user, role=Membership.Role.MEMBER)
    return user


def run(connection: Connection, outcome: str, **counters: int) -> SyncRun:
    created = SyncRun.objects.create(connection=connection, outcome=outcome, **counters)
    if outcome != SyncRun.Outcome.RUNNING:
        created.finished_at = timezone.now()
        created.save(update_fields=["finished_at"])
    return created


def test_it_sends_a_visitor_to_log_in(client: Client, db: None) -> None:
    response = client.get(reverse("integrations:home"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_it_leads_a_new_user_to_set_up_a_first_connection(client_alice: Client) -> None:
    response = client_alice.get(reverse("integrations:home"))
    assert response.status_code == 200
    assert "Set up your first connection" in response.content.decode()
    assert reverse("integrations:connection_new") in response.content.decode()


def test_it_lists_the_workspaces_connections_with_apps_and_status_in_words(
    client_alice: Client, connection: Connection
) -> None:
    run(connection, SyncRun.Outcome.SUCCESS, created_b=3)
    page = client_alice.get(reverse("integrations:home")).content.decode()
    assert "Support and address book" in page
    assert "Two-way: Kustomer ⇄ Google Contacts" in page
    assert "Active and listening for changes" in page
    assert "New connection" in page


def test_it_lists_no_connection_of_another_workspace(
    client_alice: Client, globex: Workspace
) -> None:
    ConnectionFactory(workspace=globex, name="Globex secret pair")
    page = client_alice.get(reverse("integrations:home")).content.decode()
    assert "Globex secret pair" not in page


def test_it_shows_a_connection_with_its_sides_named_by_apps(
    client_alice: Client, connection: Connection
) -> None:
    response = client_alice.get(reverse("integrations:connection_detail", args=[connection.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Kustomer" in page and "Google Contacts" in page
    assert "Side A" not in page and "Side B" not in page
    assert "Kustomer wins" in page


def test_it_shows_health_and_the_contacts_behind_each_failure_reason(
    client_alice: Client, connection: Connection
) -> None:
    connection.health = {"in_sync": 41, "excluded": 3, "duplicates": 2, "failed": {"bad": 2}}
    connection.save(update_fields=["health"])
    for record_id in ("cust-1", "cust-2"):
        RecordIssue.objects.create(
            connection=connection, side=Side.A, target=Side.B, record_id=record_id,
            reason="Google refused the phone number: invalid",
        )  # fmt: skip
    RecordIssue.objects.create(
        connection=connection, side=Side.B, target=Side.A, record_id="people/c9",
        reason="Kustomer: name is required",
    )  # fmt: skip
    page = client_alice.get(
        reverse("integrations:connection_detail", args=[connection.pk])
    ).content.decode()
    assert ">41<" in page
    assert "Google refused the phone number: invalid" in page
    assert "(2 contacts)" in page
    assert "cust-1" in page and "cust-2" in page and "people/c9" in page


def test_it_draws_the_run_history_as_inline_svg(
    client_alice: Client, connection: Connection
) -> None:
    run(connection, SyncRun.Outcome.SUCCESS, created_b=5, updated_a=2)
    run(connection, SyncRun.Outcome.PARTIAL, updated_b=1, failed=2)
    page = client_alice.get(
        reverse("integrations:connection_detail", args=[connection.pk])
    ).content.decode()
    assert "<svg" in page
    assert "7 synced, 0 failed" in page
    assert "1 synced, 2 failed" in page
    assert "<script" not in page


def test_it_says_needs_attention_never_active_when_the_last_run_failed(
    client_alice: Client, connection: Connection
) -> None:
    run(connection, SyncRun.Outcome.SUCCESS)
    failed = run(connection, SyncRun.Outcome.FAILED)
    failed.error = "Kustomer: 503 Service Unavailable"
    failed.save(update_fields=["error"])
    page = client_alice.get(
        reverse("integrations:connection_detail", args=[connection.pk])
    ).content.decode()
    assert "Needs attention" in page
    assert "Active and listening" not in page
    listing = client_alice.get(reverse("integrations:home")).content.decode()
    assert "Needs attention" in listing and "Active and listening" not in listing


def test_it_links_a_failed_authentication_to_re_authorizing_the_account(
    client_alice: Client, connection: Connection
) -> None:
    ConnectedAccount.objects.filter(pk=connection.account_b_id).update(
        status=ConnectedAccount.Status.NEEDS_REAUTH
    )
    page = client_alice.get(
        reverse("integrations:connection_detail", args=[connection.pk])
    ).content.decode()
    assert "Authentication failed" in page
    assert reverse("accounts:connected_account_reauthorize", args=[connection.account_b_id]) in page


def test_it_answers_404_for_another_workspaces_connection(
    client_alice: Client, globex: Workspace
) -> None:
    theirs = ConnectionFactory(workspace=globex)
    for name in ("connection_detail", "connection_delete", "connection_review"):
        assert (
            client_alice.get(reverse(f"integrations:{name}", args=[theirs.pk])).status_code == 404
        )
    for name in ("connection_pause", "connection_resume", "connection_sync_now"):
        assert (
            client_alice.post(reverse(f"integrations:{name}", args=[theirs.pk])).status_code == 404
        )
    assert (
        client_alice.post(reverse("integrations:connection_delete", args=[theirs.pk])).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.status == Connection.Status.ACTIVE


def test_it_pauses_a_connection(client_alice: Client, connection: Connection) -> None:
    response = client_alice.post(reverse("integrations:connection_pause", args=[connection.pk]))
    connection.refresh_from_db()
    assert response.status_code == 302
    assert connection.status == Connection.Status.PAUSED
    page = client_alice.get(response["Location"]).content.decode()
    assert "Paused" in page and "Resume" in page


def test_it_resumes_a_paused_connection_and_syncs_now(
    client_alice: Client, connection: Connection
) -> None:
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.PAUSED)
    with mock.patch("integrations.tasks.sync_connection_task.delay") as delay:
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            client_alice.post(reverse("integrations:connection_resume", args=[connection.pk]))
    connection.refresh_from_db()
    assert connection.status == Connection.Status.SCANNING
    delay.assert_called_once_with(connection.pk)


def test_it_refuses_to_sync_a_paused_connection_now_with_a_message(
    client_alice: Client, connection: Connection
) -> None:
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.PAUSED)
    response = client_alice.post(
        reverse("integrations:connection_sync_now", args=[connection.pk]), follow=True
    )
    assert response.status_code == 200
    assert "cannot sync now: it is paused" in response.content.decode()


def test_it_re_scans_a_connection(client_alice: Client, connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(
        checkpoint_a={"updated_at": "2026-01-01"}, checkpoint_b={"sync_token": "t"}
    )
    with mock.patch("integrations.tasks.sync_connection_task.delay"):
        client_alice.post(reverse("integrations:connection_rescan", args=[connection.pk]))
    connection.refresh_from_db()
    assert (connection.status, connection.checkpoint_a, connection.checkpoint_b) == (
        Connection.Status.SCANNING,
        {},
        {},
    )


def test_it_asks_before_deleting_a_connection(client_alice: Client, connection: Connection) -> None:
    response = client_alice.get(reverse("integrations:connection_delete", args=[connection.pk]))
    assert response.status_code == 200
    assert "No contact is deleted in either app" in response.content.decode()
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_it_deletes_a_connection_on_confirmation(
    client_alice: Client, connection: Connection
) -> None:
    response = client_alice.post(reverse("integrations:connection_delete", args=[connection.pk]))
    assert response.status_code == 302
    assert not Connection.objects.filter(pk=connection.pk).exists()
    assert ConnectedAccount.objects.filter(pk=connection.account_a_id).exists()


def test_it_lets_a_member_look_but_not_change(
    client: Client, carol: User, connection: Connection
) -> None:
    client.force_login(carol)
    page = client.get(reverse("integrations:connection_detail", args=[connection.pk]))
    assert page.status_code == 200
    assert "Pause" not in page.content.decode()
    for name in ("connection_pause", "connection_rescan", "connection_delete"):
        response = client.post(reverse(f"integrations:{name}", args=[connection.pk]))
        assert response.status_code == 403
        assert "Only owners and admins" in response.content.decode()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    assert client.get(reverse("integrations:connection_new")).status_code == 403


def test_it_enforces_csrf_on_buttons(alice: User, connection: Connection) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("integrations:connection_pause", args=[connection.pk]))
    assert response.status_code == 403
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE


def test_it_refuses_a_get_on_a_button(client_alice: Client, connection: Connection) -> None:
    response = client_alice.get(reverse("integrations:connection_pause", args=[connection.pk]))
    assert response.status_code == 405


def test_it_shows_scanning_while_the_first_run_runs(
    client_alice: Client, connection: Connection
) -> None:
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.SCANNING)
    started = run(connection, SyncRun.Outcome.RUNNING)
    SyncRun.objects.filter(pk=started.pk).update(
        phase=SyncRun.Phase.SCAN, started_at=timezone.now() - dt.timedelta(seconds=5)
    )
    page = client_alice.get(
        reverse("integrations:connection_detail", args=[connection.pk])
    ).content.decode()
    assert "Scanning" in page
