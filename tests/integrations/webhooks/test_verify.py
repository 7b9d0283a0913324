"""Kustomer's deliveries verified: the signature over the raw body with the webhook's token, the
freshness of the signed envelope, and the event read from it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import RequestFactory

from integrations.webhooks.base import Event, Refused
from integrations.webhooks.models import WebhookSubscription
from integrations.webhooks.verify import HubSpotReceiver, KustomerReceiver, MailchimpReceiver
from sandbox.hubspot.webhooks import signature_v3
from tests.integrations.webhooks.deliveries import kustomer_envelope, kustomer_signed

SECRET = "a" * 64
NOW = dt.datetime(2026, 10, 21, 15, 0, tzinfo=dt.UTC)


def verify(body: bytes, headers: dict[str, str]) -> list[Event]:
    request = RequestFactory().post(
        "/webhooks/kustomer/k/", data=body, content_type="application/json", **headers
    )
    return KustomerReceiver().verify(request, WebhookSubscription(secret=SECRET), now=NOW)


def test_it_reads_the_customer_its_version_and_author_from_a_good_delivery() -> None:
    envelope = kustomer_envelope("6717c29de5b1f00012ab34b9", rev=7, created=NOW, event_id="e1")
    assert verify(*kustomer_signed(SECRET, envelope)) == [
        Event(
            key="e1",
            record_id="6717c29de5b1f00012ab34b9",
            version="7",
            author="5f00000000000000000000aa",
        )
    ]


def test_it_refuses_a_body_signed_with_another_token_as_forged() -> None:
    body, headers = kustomer_signed("b" * 64, kustomer_envelope("c1", created=NOW))
    with pytest.raises(Refused) as refused:
        verify(body, headers)
    assert refused.value.outcome == "forged"


def test_it_refuses_a_body_changed_after_signing_as_forged() -> None:
    body, headers = kustomer_signed(SECRET, kustomer_envelope("c1", rev=2, created=NOW))
    with pytest.raises(Refused) as refused:
        verify(body.replace(b'"rev": 2', b'"rev": 3'), headers)
    assert refused.value.outcome == "forged"


def test_it_refuses_a_delivery_without_a_signature_as_forged() -> None:
    body, headers = kustomer_signed(SECRET, kustomer_envelope("c1", created=NOW))
    del headers["HTTP_X_KUSTOMER_WEBHOOK_SIGNATURE"]
    with pytest.raises(Refused) as refused:
        verify(body, headers)
    assert refused.value.outcome == "forged"


def test_it_refuses_a_signature_outside_ascii_as_forged() -> None:
    body, headers = kustomer_signed(SECRET, kustomer_envelope("c1", created=NOW))
    headers["HTTP_X_KUSTOMER_WEBHOOK_SIGNATURE"] = "é" * 64
    with pytest.raises(Refused) as refused:
        verify(body, headers)
    assert refused.value.outcome == "forged"


@pytest.mark.parametrize("minutes", [-71, 71])
def test_it_refuses_a_delivery_stamped_outside_the_window_as_stale(minutes: int) -> None:
    created = NOW + dt.timedelta(minutes=minutes)
    body, headers = kustomer_signed(SECRET, kustomer_envelope("c1", created=created))
    with pytest.raises(Refused) as refused:
        verify(body, headers)
    assert refused.value.outcome == "stale"


def test_it_takes_a_retry_an_hour_after_the_event() -> None:
    created = NOW - dt.timedelta(minutes=64)
    events = verify(*kustomer_signed(SECRET, kustomer_envelope("c1", created=created)))
    assert [e.record_id for e in events] == ["c1"]


def test_it_refuses_a_signed_body_that_is_not_an_event_as_malformed() -> None:
    body, headers = kustomer_signed(SECRET, {"hello": "world"})
    with pytest.raises(Refused) as refused:
        verify(body, headers)
    assert refused.value.outcome == "malformed"


def test_it_takes_an_event_it_did_not_ask_for_without_a_change() -> None:
    envelope = kustomer_envelope("c1", name="kustomer.conversation.create", created=NOW)
    assert verify(*kustomer_signed(SECRET, envelope)) == []


# ---- Mailchimp ----------------------------------------------------------------------------------


def mailchimp(fields: dict[str, str]) -> list[Event]:
    request = RequestFactory().post(
        "/webhooks/mailchimp/k/",
        data=urlencode(fields),
        content_type="application/x-www-form-urlencoded",
    )
    return MailchimpReceiver().verify(request, WebhookSubscription(), now=NOW)


def test_it_names_no_record_for_a_mailchimp_delivery() -> None:
    # The connector knows a member by its contact_id, which no delivery carries.
    (event,) = mailchimp(
        {"type": "profile", "fired_at": "2026-10-21 14:59:00", "data[email]": "Ann@Ex.com"}
    )
    assert (event.record_id, event.version) == ("", "")


def test_it_refuses_a_mailchimp_delivery_that_names_no_member_as_malformed() -> None:
    with pytest.raises(Refused) as refused:
        mailchimp(
            {"type": "upemail", "fired_at": "2026-10-21 14:59:00", "data[old_email]": "a@b.c"}
        )
    assert refused.value.outcome == "malformed"


def test_it_refuses_a_mailchimp_delivery_fired_hours_ago_as_stale() -> None:
    with pytest.raises(Refused) as refused:
        mailchimp({"type": "profile", "fired_at": "2026-10-21 12:00:00", "data[email]": "a@b.c"})
    assert refused.value.outcome == "stale"


def test_it_refuses_a_mailchimp_delivery_without_a_type_as_malformed() -> None:
    with pytest.raises(Refused) as refused:
        mailchimp({"fired_at": "2026-10-21 14:59:00", "data[email]": "a@b.c"})
    assert refused.value.outcome == "malformed"


def test_it_answers_mailchimps_url_check() -> None:
    request = RequestFactory().get("/webhooks/mailchimp/k/")
    assert MailchimpReceiver().handshake(request, WebhookSubscription()).status_code == 200


# ---- HubSpot ------------------------------------------------------------------------------------

HUBSPOT_SECRET = "hubspot-app-secret"


def hubspot(
    events: Any,
    *,
    stamp: dt.datetime = NOW,
    secret: str = HUBSPOT_SECRET,
    signature: str = "",
    settings: Any,
) -> list[Event]:
    settings.HUBSPOT_OAUTH_CLIENT_SECRET = HUBSPOT_SECRET
    settings.TANDEM_PUBLIC_URL = "https://tandem.example.com"
    body = json.dumps(events).encode()
    millis = str(int(stamp.timestamp() * 1000))
    url = "https://tandem.example.com/webhooks/hubspot/app/"
    signature = signature or signature_v3(secret, "POST", url, body, millis)
    request = RequestFactory().post(
        "/webhooks/hubspot/app/",
        data=body,
        content_type="application/json",
        HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=millis,
        HTTP_X_HUBSPOT_SIGNATURE_V3=signature,
    )
    return HubSpotReceiver().verify(request, WebhookSubscription(app="hubspot"), now=NOW)


def hubspot_event(**extra: Any) -> dict[str, Any]:
    return {
        "eventId": 7,
        "portalId": 20000001,
        "objectId": 101,
        "subscriptionType": "contact.propertyChange",
        "changeSource": "CRM_UI",
        "sourceId": "userId:1",
        **extra,
    }


def test_it_reads_each_event_of_a_hubspot_delivery_with_its_portal(settings: Any) -> None:
    assert hubspot(
        [hubspot_event(), hubspot_event(eventId=8, objectId=102)], settings=settings
    ) == [
        Event(key="20000001:7", record_id="101", scope="20000001"),
        Event(key="20000001:8", record_id="102", scope="20000001"),
    ]


def test_it_takes_the_app_as_the_author_of_an_integration_change(settings: Any) -> None:
    (event,) = hubspot(
        [hubspot_event(changeSource="INTEGRATION", sourceId="7001")], settings=settings
    )
    assert event.author == "7001"


def test_it_refuses_a_hubspot_delivery_signed_with_another_secret_as_forged(settings: Any) -> None:
    with pytest.raises(Refused) as refused:
        hubspot([hubspot_event()], secret="another", settings=settings)
    assert refused.value.outcome == "forged"


def test_it_refuses_a_hubspot_delivery_older_than_five_minutes_as_stale(settings: Any) -> None:
    with pytest.raises(Refused) as refused:
        hubspot([hubspot_event()], stamp=NOW - dt.timedelta(minutes=6), settings=settings)
    assert refused.value.outcome == "stale"


def test_it_refuses_a_hubspot_signature_outside_ascii_as_forged(settings: Any) -> None:
    with pytest.raises(Refused) as refused:
        hubspot([hubspot_event()], signature="é" * 44, settings=settings)
    assert refused.value.outcome == "forged"
