"""Old data a real Kustomer org may hold: a customer stored long ago with attributes of odd types
(the API refuses them today, but it lists them as stored). Tandem parks such a customer as a
record issue with the reason, and every other record syncs."""

from __future__ import annotations

from django.utils import timezone

from integrations.models import RecordIssue, SyncRun
from tests.e2e.conftest import Pair


def test_it_parks_a_customer_with_oddly_typed_attributes_and_syncs_the_rest(pair: Pair) -> None:
    pair.add_customer("Ann Lee", "ann@acme.example")
    pair.add_customer("Bob Ray", "bob@acme.example")
    odd = pair.kustomer.plant_customer(
        pair.subdomain,
        {
            "name": "Olga Odd",
            "emails": [{"type": "work", "email": "olga@acme.example"}],
            "sentiment": "happy",
            "locations": "Paris",
            "tags": "vip",
        },
    )["id"]

    run = pair.sync(pair.connect())

    run.refresh_from_db()
    assert (run.outcome, run.failed, run.created_b) == (SyncRun.Outcome.PARTIAL, 1, 2)
    synced = {c["emailAddresses"][0]["value"] for c in pair.contacts()}
    assert synced == {"ann@acme.example", "bob@acme.example"}
    issue = RecordIssue.objects.get(connection=run.connection, record_id=odd)
    assert (issue.side, issue.target, issue.resolved_at) == ("a", "b", None)
    assert "sentiment is text" in issue.reason and "locations is text" in issue.reason


def test_it_lists_a_planted_customer_as_stored(pair: Pair) -> None:
    odd = pair.kustomer.plant_customer(
        pair.subdomain, {"name": 42, "sentiment": "happy", "locations": "Paris", "tags": "vip"}
    )

    (listed,) = pair.customers()

    assert listed["id"] == odd["id"]
    assert (listed["name"], listed["sentiment"], listed["locations"], listed["tags"]) == (
        42,
        "happy",
        "Paris",
        "vip",
    )


def test_it_retries_the_parked_customer_on_a_later_run_and_parks_it_again(pair: Pair) -> None:
    odd = pair.kustomer.plant_customer(
        pair.subdomain,
        {"name": "Olga Odd", "emails": [{"email": "olga@acme.example"}], "custom": "gold"},
    )["id"]
    connection = pair.connect()
    pair.sync(connection)
    RecordIssue.objects.filter(record_id=odd).update(next_retry_at=timezone.now())

    run = pair.sync(connection)

    issue = RecordIssue.objects.get(connection=connection, record_id=odd)
    assert (run.failed, issue.attempts) == (1, 2)
    assert "custom is text, not an object" in issue.reason
    assert pair.contacts() == []
