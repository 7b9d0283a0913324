"""The wake-ups behind the receiver: which connections a delivery wakes, a queued run lost with
its worker, and the delivery keys' pruning."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from accounts.services import connected_account_upsert
from integrations.services import connection_create_for_accounts
from integrations.webhooks.models import WebhookDelivery, WebhookWake
from integrations.webhooks.wake import DEDUPE_KEEP, QUEUED_STALE, deliveries_prune, wake_request
from tests.e2e.conftest import person
from tests.integrations.webhooks.conftest import Hooked

pytestmark = pytest.mark.django_db


def test_its_own_write_still_wakes_another_connection_of_the_account(
    hooked: Hooked, django_capture_on_commit_callbacks: Any
) -> None:
    pair = hooked.pair
    other_email = f"other-{pair.google_email}"
    pair.google.add_user(other_email)
    other = connection_create_for_accounts(
        workspace=pair.workspace,
        account_a=pair.account_a,
        account_b=connected_account_upsert(
            workspace=pair.workspace,
            app="google_contacts",
            label=other_email,
            credentials={"refresh_token": pair.google.issue_tokens(other_email)["refresh_token"]},
        ),
    )
    pair.add_contact(person("Bo", "Chen", "bo@example.com"))
    pair.sync(hooked.connection)  # writes Bo into Kustomer as Tandem's machine user
    written = pair.customer_by_email("bo@example.com")
    with django_capture_on_commit_callbacks() as queued:
        response = hooked.deliver(hooked.event_for(written["id"], name="kustomer.customer.create"))
    assert response.json()["outcome"] == "accepted"
    assert len(queued) == 1
    assert list(WebhookWake.objects.values_list("pk", flat=True)) == [other.pk]


def test_a_delivery_queues_again_a_run_lost_with_its_worker(
    hooked: Hooked, django_capture_on_commit_callbacks: Any
) -> None:
    pk = hooked.connection.pk
    with django_capture_on_commit_callbacks() as queued:
        assert wake_request(connection_id=pk, changes=[("a", "c1", "1")]) is True
        assert wake_request(connection_id=pk, changes=[("a", "c2", "1")]) is False
        WebhookWake.objects.filter(pk=pk).update(
            queued_at=timezone.now() - QUEUED_STALE - dt.timedelta(seconds=1)
        )
        assert wake_request(connection_id=pk, changes=[("a", "c3", "1")]) is True
    assert len(queued) == 2
    assert WebhookWake.objects.get(pk=pk).changes == [
        ["a", "c1", "1"],
        ["a", "c2", "1"],
        ["a", "c3", "1"],
    ]


def test_it_forgets_delivery_keys_past_every_window(db: None) -> None:
    now = timezone.now()
    WebhookDelivery.objects.create(app="kustomer", event_key="old", received_at=now - DEDUPE_KEEP)
    WebhookDelivery.objects.create(app="kustomer", event_key="new", received_at=now)
    assert deliveries_prune() == 1
    assert list(WebhookDelivery.objects.values_list("event_key", flat=True)) == ["new"]
