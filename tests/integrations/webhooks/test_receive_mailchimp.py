"""A Mailchimp delivery over Django's test client: it cannot be matched to the connector's
record (a member's ``contact_id``), so it wakes the connection for a run whatever its links
hold, and names no record that is not one."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from integrations.webhooks.models import WebhookSubscription, WebhookWake, url_key_digest
from tests.factories import ConnectedAccountFactory, ConnectionFactory

pytestmark = pytest.mark.django_db

URL_KEY = "mailchimp-url-key-" + "m" * 30


def test_a_mailchimp_delivery_wakes_the_connection_for_a_run_of_everything_changed(
    django_capture_on_commit_callbacks: Any,
) -> None:
    connection = ConnectionFactory(
        account_b=ConnectedAccountFactory(app="mailchimp", label="Newsletter")
    )
    WebhookSubscription.objects.create(
        account=connection.account_b, app="mailchimp", key=url_key_digest(URL_KEY), remote_id="l/w"
    )
    fired = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
    body = urlencode({"type": "profile", "fired_at": fired, "data[email]": "ann@example.com"})

    with django_capture_on_commit_callbacks() as queued:
        response = Client().post(
            f"/webhooks/mailchimp/{URL_KEY}/",
            data=body,
            content_type="application/x-www-form-urlencoded",
        )

    assert (response.status_code, response.json()["outcome"]) == (200, "accepted")
    assert len(queued) == 1
    wake = WebhookWake.objects.get(pk=connection.pk)
    # A run whatever the links hold, not a change of the member's subscriber hash, which is
    # no id of the connector's.
    assert (wake.overflow, wake.changes) == (True, [])
