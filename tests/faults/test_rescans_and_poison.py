"""An expired Google sync token read with a truncated listing, and a record the app refuses
every time, over real HTTP on the sandbox."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import pytest
from django.utils import timezone

from integrations.connectors.google_contacts.client import PeopleClient
from integrations.models import Connection, RecordIssue, SyncRun
from integrations.selectors import connection_open_issues
from tests.e2e.conftest import Pair, person

pytestmark = [pytest.mark.faults, pytest.mark.django_db]

DAY = 24 * 3600


def free(connection: Connection) -> None:
    Connection.objects.filter(pk=connection.pk).update(lease_owner="", lease_expires_at=None)


def test_it_rescans_after_an_expired_sync_token_and_a_truncated_listing_without_creating_or_tagging(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(12):
        pair.add_contact(person(f"Gee{n}", "Google", f"g{n}@acme.example"))
        pair.add_customer(f"Kay{n} Kustomer", f"k{n}@acme.example")
    connection = pair.connect()
    first = pair.sync(connection)
    assert first.outcome == SyncRun.Outcome.SUCCESS
    free(connection)
    pair.sync(connection)  # incremental: Google's sync token is now stored
    free(connection)
    contacts, customers = len(pair.contacts()), len(pair.customers())
    pair.google.advance(8 * DAY)  # past the 7 days a sync token lives
    original = PeopleClient.connections_page
    truncated: list[int] = []

    def half_of_a_full_listing(self: PeopleClient, **kwargs: Any) -> bytes:
        body = original(self, **kwargs)
        if kwargs.get("request_sync_token") and not kwargs.get("sync_token"):
            answer = json.loads(body)
            people = answer.get("connections") or []
            truncated.append(len(people) - len(people) // 2)
            answer = {**answer, "connections": people[: len(people) // 2]}
            answer.pop("nextPageToken", None)
            body = json.dumps(answer).encode()
        return body

    monkeypatch.setattr(PeopleClient, "connections_page", half_of_a_full_listing)
    rescan = pair.sync(connection)
    assert truncated, "the expired token did not lead to a full listing"
    assert rescan.outcome in (SyncRun.Outcome.SUCCESS, SyncRun.Outcome.PARTIAL)
    assert (rescan.created_a, rescan.created_b, rescan.tagged_a, rescan.tagged_b) == (0, 0, 0, 0)
    assert (len(pair.contacts()), len(pair.customers())) == (contacts, customers)
    assert not any(pair.labels(c) for c in pair.contacts())
    print(f"\nFIGURES rescan creates=0 tags=0 left_out={sum(truncated)}")


def test_it_syncs_everyone_else_and_parks_a_record_the_app_refuses_every_time(
    pair: Pair,
) -> None:
    for n in range(6):
        pair.add_contact(person(f"Gee{n}", "Google", f"g{n}@acme.example", phone=f"+1415555010{n}"))
    # Kustomer holds phone numbers unique per org: this one is taken, every time.
    pair.add_customer("Taken Phone", "taken@acme.example", phones=[{"phone": "+14155550199"}])
    pair.add_contact(person("Pat", "Poison", "pat@acme.example", phone="+14155550199"))
    connection = pair.connect()
    waits = []
    for _ in range(4):
        pair.sync(connection)
        free(connection)
        issue = RecordIssue.objects.get(connection=connection, resolved_at__isnull=True)
        assert issue.next_retry_at is not None
        waits.append(issue.next_retry_at - timezone.now())
        RecordIssue.objects.filter(pk=issue.pk).update(
            next_retry_at=timezone.now() - dt.timedelta(seconds=1)
        )
    issue.refresh_from_db()
    names = {c["name"] for c in pair.customers()}
    assert {f"Gee{n} Google" for n in range(6)} <= names and "Pat Poison" not in names
    assert issue.attempts == 4
    assert all(later > earlier for earlier, later in itertools.pairwise(waits))
    assert waits[-1] <= dt.timedelta(days=1)
    [shown] = connection_open_issues(connection=connection)
    assert "phone" in shown.reason.lower()
    print(f"\nFIGURES poison attempts={issue.attempts} waits={[str(w)[:7] for w in waits]}")
