"""Each app's verification of a delivery and the events it carries.

A receiver checks the signature first, with ``hmac.compare_digest`` over the raw body, before
reading anything else; then the freshness window, then the shape. What it refuses raises
``Refused`` with the outcome counted ("forged", "stale", "malformed"); it never echoes the secret
or the signature it expected.

Replays: a delivery's events are taken once by their key (``WebhookDelivery``), and a delivery
older than the app's window is refused as stale, so a captured delivery sent again is refused
or changes nothing. Keys are kept longer than the window (``DEDUPE_KEEP``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from typing import Any, ClassVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from integrations.webhooks.base import Event, Refused
from integrations.webhooks.models import WebhookSubscription


def hmac_sha256(key: str, message: bytes) -> bytes:
    return hmac.new(key.encode(), message, hashlib.sha256).digest()


def signature_matches(expected: str, given: str) -> bool:
    """``hmac.compare_digest`` over bytes: a header is whatever a sender put there, and
    comparing ``str`` refuses any character outside ASCII with a ``TypeError``."""
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 date-time with a zone, or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def check_window(when: dt.datetime, now: dt.datetime, window: dt.timedelta) -> None:
    """Refuse a delivery stamped further than ``window`` from now, either way."""
    if abs(now - when) > window:
        raise Refused("stale", "the delivery's timestamp is outside the freshness window")


class Receiver:
    """The verification of one app's deliveries."""

    app: ClassVar[str] = ""
    # Deliveries stamped further from now than this are refused as stale.
    window: ClassVar[dt.timedelta] = dt.timedelta(minutes=5)
    # One URL for every account of the app (``/webhooks/<app>/app/``): events name their
    # account (``Event.scope``), and ``verify`` gets no subscription.
    app_level: ClassVar[bool] = False

    def verify(
        self, request: HttpRequest, subscription: WebhookSubscription, *, now: dt.datetime
    ) -> list[Event]:
        """The delivery's events, or ``Refused``."""
        raise NotImplementedError

    def handshake(self, request: HttpRequest, subscription: WebhookSubscription) -> HttpResponse:
        """The answer to a GET on the receiver's URL (an app checking the URL exists)."""
        return HttpResponse(status=405, headers={"Allow": "POST"})


class KustomerReceiver(Receiver):
    """Kustomer (api-notes §1.11): ``X-Kustomer-Webhook-Signature`` is the lowercase hex
    HMAC-SHA256 of the raw body keyed with the webhook's token. The signature covers no header
    timestamp, so freshness is the signed envelope's ``createdAt``: Kustomer retries for about an
    hour (1, 1, 2, 5, 10, 15, 30 minutes), so the window is 70 minutes. The event id is the key;
    the customer's ``rev`` its version and ``relationships.modifiedBy`` its author."""

    app = "kustomer"
    window = dt.timedelta(minutes=70)
    events = ("kustomer.customer.create", "kustomer.customer.update")

    def verify(
        self, request: HttpRequest, subscription: WebhookSubscription, *, now: dt.datetime
    ) -> list[Event]:
        if not subscription.secret:
            raise Refused("forged", "the subscription has no signing key yet")
        body = request.body
        given = request.headers.get("X-Kustomer-Webhook-Signature", "").strip().lower()
        expected = hmac_sha256(subscription.secret, body).hex()
        if not signature_matches(expected, given):
            raise Refused("forged", "the signature does not match the webhook's token")
        try:
            envelope = json.loads(body)
        except ValueError:
            raise Refused("malformed", "the body is not JSON") from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("id"), str):
            raise Refused("malformed", "the body is not an event envelope")
        created = envelope.get("createdAt")
        if created is not None:
            when = parse_time(created)
            if when is None:
                raise Refused("malformed", "createdAt is not a date-time")
            check_window(when, now, self.window)
        if envelope.get("name") not in self.events:
            return []  # an event Tandem did not ask for: taken, nothing to do
        data = envelope.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise Refused("malformed", "the event names no customer")
        attributes = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
        rev = attributes.get("rev") if isinstance(attributes, dict) else None
        return [
            Event(
                key=envelope["id"][:128],
                record_id=data["id"],
                version="" if rev is None else str(rev),
                author=_modified_by(data),
            )
        ]


def _modified_by(data: dict[str, Any]) -> str:
    relationships = data.get("relationships")
    if not isinstance(relationships, dict):
        return ""
    modified = relationships.get("modifiedBy")
    inner = modified.get("data") if isinstance(modified, dict) else None
    author = inner.get("id") if isinstance(inner, dict) else None
    return author if isinstance(author, str) else ""


class MailchimpReceiver(Receiver):
    """Mailchimp (api-notes §4.4) signs nothing: the subscription's random key in the URL is the
    secret (a URL without it is unknown). Deliveries are form-encoded: ``type``, ``fired_at``
    (UTC) and ``data[...]``. Freshness is ``fired_at``, within 90 minutes (the emulated retries
    last 81); the key of an event is a digest of the body, as Mailchimp gives no event id.

    An event names no record: the connector knows a member by its ``contact_id`` and a version
    of what it holds, and a delivery gives neither (only the email and ``unique_email_id``), so
    whether a connection already applied it cannot be told and each one runs the connection.
    Echoes cannot arrive: the webhook is registered without API changes. Mailchimp answers a GET
    on the URL before taking it: 200."""

    app = "mailchimp"
    window = dt.timedelta(minutes=90)
    events = ("subscribe", "unsubscribe", "profile", "cleaned", "upemail")

    def verify(
        self, request: HttpRequest, subscription: WebhookSubscription, *, now: dt.datetime
    ) -> list[Event]:
        body = request.body  # read first: the digest is of the raw body
        form = request.POST
        kind, fired = form.get("type"), form.get("fired_at")
        if not kind or not fired:
            raise Refused("malformed", "the delivery has no type or fired_at")
        try:
            when = dt.datetime.strptime(fired, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
        except ValueError:
            raise Refused("malformed", "fired_at is not a date-time") from None
        check_window(when, now, self.window)
        if kind not in self.events:
            return []
        email = form.get("data[new_email]") if kind == "upemail" else form.get("data[email]")
        if not email:
            raise Refused("malformed", "the delivery names no member")
        return [Event(key=hashlib.sha256(body).hexdigest())]

    def handshake(self, request: HttpRequest, subscription: WebhookSubscription) -> HttpResponse:
        return HttpResponse("", status=200)


class HubSpotReceiver(Receiver):
    """HubSpot's v3 signature (api-notes §3): ``X-HubSpot-Signature-v3`` is the base64
    HMAC-SHA256, keyed with the app's client secret, of the method, the URL HubSpot called
    (``TANDEM_PUBLIC_URL`` and the path), the raw body and ``X-HubSpot-Request-Timestamp`` (ms),
    concatenated; a timestamp more than 5 minutes away is refused. One URL serves every portal:
    each event names its ``portalId``. The key of an event is its portal and ``eventId``; the
    record its ``objectId``; an ``INTEGRATION`` change's author is the app (``sourceId``)."""

    app = "hubspot"
    window = dt.timedelta(minutes=5)
    app_level = True

    def verify(
        self, request: HttpRequest, subscription: WebhookSubscription, *, now: dt.datetime
    ) -> list[Event]:
        secret = str(settings.HUBSPOT_OAUTH_CLIENT_SECRET)
        if not secret:
            raise Refused("forged", "no HubSpot app secret is configured")
        body = request.body
        stamp = request.headers.get("X-HubSpot-Request-Timestamp", "")
        given = request.headers.get("X-HubSpot-Signature-v3", "")
        url = settings.TANDEM_PUBLIC_URL.rstrip("/") + request.get_full_path()
        message = str(request.method).encode() + url.encode() + body + stamp.encode()
        expected = base64.b64encode(hmac_sha256(secret, message)).decode()
        if not signature_matches(expected, given):
            raise Refused("forged", "the v3 signature does not match the app's secret")
        if not stamp.isdigit():
            raise Refused("malformed", "the timestamp is not milliseconds")
        check_window(dt.datetime.fromtimestamp(int(stamp) / 1000, dt.UTC), now, self.window)
        try:
            events = json.loads(body)
        except ValueError:
            raise Refused("malformed", "the body is not JSON") from None
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise Refused("malformed", "the body is not a list of events")
        out = []
        for event in events:
            portal, event_id, record = (
                event.get("portalId"), event.get("eventId"), event.get("objectId")
            )  # fmt: skip
            if portal is None or event_id is None:
                raise Refused("malformed", "an event has no portalId or eventId")
            source = event.get("changeSource")
            out.append(
                Event(
                    key=f"{portal}:{event_id}"[:128],
                    record_id="" if record is None else str(record),
                    author=str(event.get("sourceId") or "") if source == "INTEGRATION" else "",
                    scope=str(portal),
                )
            )
        return out


RECEIVERS: dict[str, Receiver] = {
    receiver.app: receiver
    for receiver in (KustomerReceiver(), MailchimpReceiver(), HubSpotReceiver())
}
