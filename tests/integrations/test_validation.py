"""The model layer refuses what a run cannot use, whichever path writes it (form, admin,
command, service), and the run copes with what was stored before the rules existed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ConnectedAccount
from integrations import services
from integrations.connectors.http import HttpClient
from integrations.models import MAX_SYNC_INTERVAL, Connection, FieldMapping, SyncRun
from integrations.services.runs import next_sync_after
from integrations.sync import engine
from tests.factories import ConnectedAccountFactory, ConnectionFactory
from tests.integrations.sync.conftest import make_pair
from tests.integrations.test_runs import IdleApp

pytestmark = pytest.mark.django_db

KUSTOMER = {"subdomain": "acme", "api_key": "k-123"}
GOOGLE = {"refresh_token": "r-123"}


def errors_of(instance: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as excinfo:
        instance.full_clean()
    return excinfo.value.message_dict


# -- Connection.sync_interval -------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [5, 59, MAX_SYNC_INTERVAL + 1, 99_999_999_999])
def test_it_refuses_a_sync_interval_out_of_bounds(seconds: int) -> None:
    connection = ConnectionFactory()
    connection.sync_interval = seconds
    assert "sync_interval" in errors_of(connection)


@pytest.mark.parametrize("seconds", [60, 300, MAX_SYNC_INTERVAL])
def test_it_accepts_a_sync_interval_within_bounds(seconds: int) -> None:
    connection = ConnectionFactory()
    connection.sync_interval = seconds
    connection.full_clean()


def test_it_refuses_a_sync_interval_over_a_week_in_the_database() -> None:
    connection = ConnectionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Connection.objects.filter(pk=connection.pk).update(sync_interval=MAX_SYNC_INTERVAL + 1)


def test_it_schedules_a_huge_stored_interval_a_week_ahead_at_most() -> None:
    now = timezone.now()
    assert next_sync_after(now, 999_999_999_999) == now + dt.timedelta(seconds=MAX_SYNC_INTERVAL)
    assert next_sync_after(now, 1) == now + dt.timedelta(seconds=60)


def test_it_releases_the_lease_of_a_run_with_a_huge_interval(monkeypatch) -> None:
    monkeypatch.setattr(
        "integrations.services.runs.connector_for",
        lambda account, **_: IdleApp({}, http=HttpClient(app="idle")),
    )

    def stored_before_the_bound(*, connection: Connection, **_: Any) -> None:
        connection.sync_interval = 999_999_999_999  # as read from a row saved before the rule

    monkeypatch.setattr(engine, "run_sync", stored_before_the_bound)
    connection = ConnectionFactory()
    run = services.connection_sync(connection_id=connection.pk)
    assert run is not None and run.outcome == SyncRun.Outcome.SUCCESS
    connection.refresh_from_db()
    assert connection.lease_expires_at is None
    assert connection.next_sync_at is not None
    assert connection.next_sync_at <= timezone.now() + dt.timedelta(seconds=MAX_SYNC_INTERVAL)


# -- Connection.checkpoint_a / checkpoint_b ------------------------------------------------------


@pytest.mark.parametrize(
    "checkpoint",
    [
        [1, 2, 3],
        "cursor",
        42,
        {"updated_at": 5},
        {"seen_ids": "c-1"},
        {"seen_ids": [{"id": 1}]},
        {"revs": {"c-1": [1]}},
        {"sync_token": None},
        {"cursor": {"nested": True}},
    ],
)
def test_it_refuses_a_checkpoint_no_connector_writes(checkpoint: Any) -> None:
    connection = ConnectionFactory()
    connection.checkpoint_b = checkpoint
    assert "checkpoint_b" in errors_of(connection)


@pytest.mark.parametrize(
    "checkpoint",
    [
        {},
        {"updated_at": "2026-01-01T00:00:00.000Z", "seen_ids": ["c-1"], "revs": {"c-1": "3"}},
        {"updated_at": None, "seen_ids": [], "revs": {}},
        {"sync_token": "tok-1"},
        {"seq": 12},
    ],
)
def test_it_accepts_the_checkpoints_connectors_write(checkpoint: Any) -> None:
    connection = ConnectionFactory()
    connection.checkpoint_a = checkpoint
    connection.full_clean()


def test_it_scans_again_over_an_unusable_checkpoint_and_says_why() -> None:
    pair = make_pair()
    pair.a.add(emails=["ann@example.com"], full_name="Ann Lee")
    pair.run()
    Connection.objects.filter(pk=pair.connection.pk).update(checkpoint_a=[1, 2, 3])
    pair.a.add(emails=["bob@example.com"], full_name="Bob Ray")
    run = pair.run()
    assert run.phase == SyncRun.Phase.SCAN
    assert "Alpha checkpoint must be a JSON object" in run.error
    assert "scanned again" in run.error
    assert sorted(pair.b.holders("bob@example.com")) != []
    assert len(pair.b.holders("ann@example.com")) == 1
    assert pair.refresh().checkpoint_a == {"seq": pair.a.seq}


def test_it_keeps_the_rescan_note_on_a_successful_run(monkeypatch) -> None:
    monkeypatch.setattr(
        "integrations.services.runs.connector_for",
        lambda account, **_: IdleApp({}, http=HttpClient(app="idle")),
    )
    connection = ConnectionFactory(checkpoint_b={"c": 1})
    Connection.objects.filter(pk=connection.pk).update(checkpoint_a=[1, 2, 3])
    run = services.connection_sync(connection_id=connection.pk)
    assert run is not None
    run.refresh_from_db()
    assert run.outcome == SyncRun.Outcome.SUCCESS
    assert "checkpoint must be a JSON object" in run.error
    connection.refresh_from_db()
    assert connection.checkpoint_a == {"cursor": 1}


# -- ConnectedAccount ---------------------------------------------------------------------------


def test_it_refuses_switching_the_app_of_an_account_a_connection_uses() -> None:
    connection = ConnectionFactory()
    account = connection.account_a
    account.app = "google_contacts"
    account.set_credentials(GOOGLE)
    assert "app" in errors_of(account)
    account.refresh_from_db()
    assert account.app == "kustomer"


def test_it_allows_switching_the_app_of_an_unused_account(acme) -> None:
    account = ConnectedAccountFactory(workspace=acme, app="kustomer", creds=KUSTOMER)
    account.app = "google_contacts"
    account.set_credentials(GOOGLE)
    account.full_clean()


def test_it_refuses_credentials_of_another_app(acme) -> None:
    account = ConnectedAccountFactory(workspace=acme, app="kustomer", creds=KUSTOMER)
    account.app = "google_contacts"
    assert "Refresh token is required" in str(errors_of(account))


@pytest.mark.parametrize(
    "subdomain", ["acme.evil.example", "acme/..", "127.0.0.1", "user@acme", "acme:8080", ""]
)
def test_it_refuses_a_kustomer_subdomain_that_is_not_one_dns_label(acme, subdomain: str) -> None:
    account = ConnectedAccount(workspace=acme, app="kustomer", label="acme")
    account.set_credentials({**KUSTOMER, "subdomain": subdomain})
    assert "subdomain" in str(errors_of(account)).lower()


def test_it_accepts_a_kustomer_account_with_a_good_subdomain(acme) -> None:
    account = ConnectedAccount(workspace=acme, app="kustomer", label="acme")
    account.set_credentials(KUSTOMER)
    account.full_clean()


def test_it_does_not_judge_again_credentials_stored_unchanged(acme) -> None:
    account = ConnectedAccountFactory(workspace=acme, app="kustomer", creds={"subdomain": "a.b"})
    account.label = "renamed"
    account.full_clean()


def test_it_keeps_the_password_out_of_the_credentials_error(acme) -> None:
    account = ConnectedAccount(workspace=acme, app="kustomer", label="acme")
    account.set_credentials({"subdomain": "a.b", "email": "x@acme.example", "password": "canary"})
    assert "canary" not in str(errors_of(account))


def test_it_fails_a_run_whose_app_hands_over_an_unusable_checkpoint() -> None:
    from integrations.connectors.base import ConnectorError

    pair = make_pair()
    pair.a.add(emails=["ann@example.com"], full_name="Ann Lee")
    listed = pair.a.list_changed

    def broken_checkpoints(checkpoint: Any) -> Any:
        for page in listed(checkpoint):
            page.checkpoint = [page.checkpoint]  # type: ignore[assignment]
            yield page

    pair.a.list_changed = broken_checkpoints  # type: ignore[method-assign]
    with pytest.raises(ConnectorError, match="Alpha handed over a checkpoint that must be"):
        pair.run()
    assert pair.refresh().checkpoint_a == {}


@pytest.mark.parametrize("value_map", [[1, 2], "gold", {"gold": 1}])
def test_it_refuses_a_value_map_that_is_not_texts_to_texts(value_map: object) -> None:
    mapping = FieldMapping(field_a="tier", field_b="level", value_map=value_map)
    with pytest.raises(ValidationError) as refused:
        mapping.clean_fields(exclude=["connection"])
    assert "value_map" in refused.value.message_dict
