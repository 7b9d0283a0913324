from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import ConnectedAccount, Membership
from accounts.services import connected_account_upsert, connected_account_verify
from integrations.models import Connection, SyncRun
from integrations.services import connection_resume
from integrations.services.notifications import notify_connection_paused
from tests.e2e.conftest import Pair, person
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(pair: Pair, settings: Any) -> Connection:
    settings.SITE_URL = "https://tandem.example.com"
    pair.add_customer("Ada Lovelace", "ada@example.com")
    pair.add_contact(person("Grace", "Hopper", "grace@example.com"))
    connection = pair.connect()
    assert pair.sync(connection).outcome == SyncRun.Outcome.SUCCESS
    return connection


def _make_due(connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(next_sync_at=None)


def test_it_emails_owners_and_admins_once_when_a_revoked_google_grant_fails_runs(
    pair: Pair, connection: Connection, mailoutbox: list[Any]
) -> None:
    admin = UserFactory(email="carol@acme.example")
    MembershipFactory(workspace=pair.workspace, user=admin, role=Membership.Role.ADMIN)
    member = UserFactory(email="dave@acme.example")
    MembershipFactory(workspace=pair.workspace, user=member, role=Membership.Role.MEMBER)
    second = pair.connect(name="Second use of the same accounts")
    pair.google.revoke(pair.google_email)

    for _ in range(3):
        for each in (connection, second):
            _make_due(each)
            pair.sync(each)
    connected_account_verify(account=ConnectedAccount.objects.get(pk=pair.account_b.pk))

    failed = SyncRun.objects.filter(connection__in=[connection, second], outcome="failed")
    assert failed.count() == 2
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert sorted(message.to) == ["alice@acme.example", "carol@acme.example"]
    assert pair.google_email in message.subject
    reauthorize = reverse("accounts:connected_account_reauthorize", args=[pair.account_b.pk])
    assert f"https://tandem.example.com{reauthorize}" in message.body
    page = reverse("integrations:connection_detail", args=[connection.pk])
    assert f"https://tandem.example.com{page}" in message.body


def test_it_resumes_the_connection_and_rearms_the_email_once_the_account_is_reauthorized(
    pair: Pair, connection: Connection, mailoutbox: list[Any]
) -> None:
    pair.google.revoke(pair.google_email)
    _make_due(connection)
    assert pair.sync(connection).outcome == SyncRun.Outcome.FAILED
    for _ in range(2):
        _make_due(connection)
        pair.sync(connection)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTH
    assert len(mailoutbox) == 1

    tokens = pair.google.issue_tokens(pair.google_email)
    connected_account_upsert(
        workspace=pair.workspace,
        app="google_contacts",
        label=pair.google_email,
        credentials={"refresh_token": tokens["refresh_token"]},
    )
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    pair.add_contact(person("Alan", "Turing", "alan@example.com"))
    run = pair.sync(connection)

    assert run.outcome == SyncRun.Outcome.SUCCESS
    assert run.created_a == 1
    assert ConnectedAccount.objects.get(pk=pair.account_b.pk).incident_notified_at is None
    pair.google.revoke(pair.google_email)
    _make_due(connection)
    pair.sync(connection)
    assert len(mailoutbox) == 2


def test_it_emails_once_when_verifying_finds_the_grant_revoked(
    pair: Pair, mailoutbox: list[Any]
) -> None:
    pair.google.revoke(pair.google_email)
    account = ConnectedAccount.objects.get(pk=pair.account_b.pk)

    assert connected_account_verify(account=account)[0] is False
    assert connected_account_verify(account=account)[0] is False

    assert len(mailoutbox) == 1
    assert "re-authorize" in mailoutbox[0].subject.lower()


def test_it_emails_once_when_the_breaker_pauses_a_connection_and_again_after_a_resume(
    pair: Pair, mailoutbox: list[Any], settings: Any
) -> None:
    settings.SITE_URL = "https://tandem.example.com"
    connection = pair.connect()

    assert notify_connection_paused(connection=connection, reason="would tag 80% as deleted")
    assert not notify_connection_paused(connection=connection, reason="would tag 80% as deleted")
    connection_resume(connection=connection)
    assert notify_connection_paused(connection=connection, reason="would tag 90% as deleted")

    assert len(mailoutbox) == 2
    assert "would tag 80% as deleted" in mailoutbox[0].body
    page = reverse("integrations:connection_detail", args=[connection.pk])
    assert f"https://tandem.example.com{page}" in mailoutbox[0].body


def test_it_keeps_the_incident_armed_when_the_email_cannot_be_sent(
    pair: Pair, monkeypatch: Any
) -> None:
    import integrations.services.notifications as notifications

    def refuse(**kwargs: Any) -> None:
        raise OSError("smtp down")

    monkeypatch.setattr(notifications, "send_mail", refuse)
    connection = pair.connect()

    assert not notify_connection_paused(connection=connection, reason="breaker")

    connection.refresh_from_db()
    assert connection.incident_notified_at is None
    assert len(mail.outbox) == 0


def test_it_emails_when_a_run_trips_the_breaker(
    pair: Pair, mailoutbox: list[Any], monkeypatch: Any
) -> None:
    from integrations.sync import engine

    def trips(**_: Any) -> None:
        raise engine.BreakerTripped("this run would tag 80% of Google Contacts as deleted")

    monkeypatch.setattr(engine, "run_sync", trips)
    connection = pair.connect()

    pair.sync(connection)

    connection.refresh_from_db()
    assert connection.status == Connection.Status.PAUSED
    assert len(mailoutbox) == 1
    assert "80% of Google Contacts" in mailoutbox[0].body
    assert str(connection) in mailoutbox[0].subject
