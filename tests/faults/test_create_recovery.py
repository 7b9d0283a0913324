"""A connection reset after the app committed a create (the emulators' ``after_commit`` +
``drop`` faults): the next run finds the record by the create intent's key it was stamped with
and links it, so nothing is created twice, even for a contact without an email."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from integrations.connectors.accounts import connector_for
from integrations.connectors.google_contacts.client import PeopleClient
from integrations.connectors.kustomer.client import KustomerClient
from integrations.models import Connection, CreateIntent, RecordIssue, RecordLink
from integrations.sync.records import NewContact
from tests.e2e.conftest import Pair, person

pytestmark = pytest.mark.django_db


def reset_after_commit_on_create(monkeypatch: pytest.MonkeyPatch, pair: Pair, app: str) -> None:
    """The first create the app receives is applied, then its connection is dropped."""
    if app == "kustomer":
        original = KustomerClient.create_customer

        def create_customer(self: KustomerClient, body: Any) -> Any:
            monkeypatch.setattr(KustomerClient, "create_customer", original)
            pair.kustomer.set_faults(count=1, after_commit=True, drop=True)
            return original(self, body)

        monkeypatch.setattr(KustomerClient, "create_customer", create_customer)
    else:
        original_batch = PeopleClient.batch_create

        def batch_create(self: PeopleClient, people: Any) -> Any:
            monkeypatch.setattr(PeopleClient, "batch_create", original_batch)
            pair.google.fail_next(1, 500, after_commit=True, drop=True)
            return original_batch(self, people)

        monkeypatch.setattr(PeopleClient, "batch_create", batch_create)


def retry_now(connection: Connection) -> None:
    """The record the reset failed is due again at once (it backs off otherwise)."""
    RecordIssue.objects.filter(connection=connection).update(
        next_retry_at=timezone.now() - dt.timedelta(seconds=1)
    )


def test_it_creates_a_kustomer_customer_once_after_a_reset_that_followed_the_commit(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair.add_contact(person("Nora", "Noemail", None))
    connection = pair.connect(avoid_duplicates=False)
    reset_after_commit_on_create(monkeypatch, pair, "kustomer")
    pair.sync(connection)
    assert CreateIntent.objects.filter(connection=connection, completed_at__isnull=True).exists()
    retry_now(connection)
    pair.sync(connection)
    assert [c["name"] for c in pair.customers()] == ["Nora Noemail"]
    assert len(pair.contacts()) == 1
    assert RecordLink.objects.filter(connection=connection).count() == 1


def test_it_creates_a_google_contact_once_after_a_reset_that_followed_the_commit(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair.add_customer("Ray Reset", "ray@acme.example")
    connection = pair.connect()
    reset_after_commit_on_create(monkeypatch, pair, "google_contacts")
    pair.sync(connection)
    contact = pair.contact_by_email("ray@acme.example")
    pair.google.edit_contact(
        pair.google_email, contact["resourceName"], emailAddresses=[{"value": "ray@new.example"}]
    )
    retry_now(connection)
    pair.sync(connection)
    assert len(pair.contacts()) == 1
    assert RecordLink.objects.get(connection=connection).id_b == contact["resourceName"]


@pytest.mark.parametrize("app", ["kustomer", "google_contacts"])
def test_it_finds_a_created_record_by_its_intents_key(pair: Pair, app: str) -> None:
    account = pair.account_a if app == "kustomer" else pair.account_b
    writer = connector_for(account)
    [result] = writer.create_many(
        [NewContact(ref="x", values={"name.given": "Kim"}, idempotency_key="k-1")]
    )
    assert result.ok and result.record is not None
    found = connector_for(account).find_by_intent_keys(["k-1", "k-2"])
    assert {k: c.id for k, c in found.items()} == {"k-1": result.record.id}
