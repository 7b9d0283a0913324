"""HubSpot's webhooks (api-notes §3) for Tandem's receiver. HubSpot sends the events of every
portal that installed Tandem's public app to the one target URL of the app, so registering an
account makes sure the app's settings point at the receiver and subscribe to the contact events,
with the developer API key (``HUBSPOT_DEVELOPER_API_KEY`` for app ``HUBSPOT_APP_ID``), and
remembers the account's portal: the receiver routes each event by its ``portalId``.

Only accounts connected through OAuth installed the app; a private app's token gets no events
(its webhooks are set in HubSpot's pages) and syncs by polling. Deliveries are signed with the
app's client secret (``HUBSPOT_OAUTH_CLIENT_SECRET``). Removing an account leaves the app's
settings alone: other portals use them, and events of a portal Tandem no longer knows are
refused as unknown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from integrations.connectors.api import response_json
from integrations.connectors.base import ConnectorError
from integrations.connectors.http import HttpError
from integrations.connectors.hubspot.connector import HubSpotConnector
from integrations.webhooks.base import Registration

PROPERTIES = (
    "email", "firstname", "lastname", "phone", "mobilephone", "company", "jobtitle",
    "lifecyclestage", "website", "address", "city", "state", "zip", "country",
)  # fmt: skip
EVENTS = (
    [("contact.creation", None), ("contact.deletion", None)]
    + [("contact.propertyChange", name) for name in PROPERTIES]
)  # fmt: skip


NO_APP = "no HubSpot app is configured for webhooks (HUBSPOT_APP_ID, HUBSPOT_DEVELOPER_API_KEY)"
PRIVATE_APP = (
    "HubSpot sends webhooks only to apps installed through OAuth, and this account is connected "
    "with a private app's token"
)


class HubSpotWebhooks:
    """The ``WebhookSource`` of a HubSpot connector: the remote id is the account's portal."""

    def __init__(self, connector: HubSpotConnector) -> None:
        self.connector = connector
        self.http = connector.http

    @staticmethod
    def unavailable(credentials: Mapping[str, Any]) -> str:
        """Why an account with these credentials can get no webhooks; "" when it can."""
        if credentials.get("private_app_token"):
            return PRIVATE_APP
        configured = (
            settings.HUBSPOT_APP_ID
            and settings.HUBSPOT_DEVELOPER_API_KEY
            and settings.HUBSPOT_OAUTH_CLIENT_SECRET
        )
        return "" if configured else NO_APP

    def webhook_register(self, url: str) -> Registration:
        from integrations.webhooks.services import receiver_url

        reason = self.unavailable(self.connector.credentials)
        if reason:
            raise ConnectorError(f"HubSpot: {reason}.", permanent=True)
        app_id, key = str(settings.HUBSPOT_APP_ID), str(settings.HUBSPOT_DEVELOPER_API_KEY)
        self.http.add_secret(key)
        hub = str(self.connector.check().details.get("hub_id") or "")
        if not hub:
            raise ConnectorError("HubSpot: the account did not tell its portal id.")
        self._call(
            "PUT",
            f"/webhooks/v3/{app_id}/settings",
            kind="webhooks settings",
            json={"targetUrl": receiver_url("hubspot", "app")},
        )
        listed = self._call("GET", f"/webhooks/v3/{app_id}/subscriptions", kind="webhooks list")
        have = {(s.get("eventType"), s.get("propertyName")) for s in listed.get("results") or []}
        for event_type, name in EVENTS:
            if (event_type, name) in have:
                continue
            body: dict[str, Any] = {"eventType": event_type, "active": True}
            if name:
                body["propertyName"] = name
            self._call(
                "POST", f"/webhooks/v3/{app_id}/subscriptions", kind="webhooks subscribe", json=body
            )
        return Registration(remote_id=hub, secret="", author_id=app_id)

    def webhook_unregister(self, remote_id: str) -> None:
        """Nothing to remove on HubSpot: the app's subscriptions serve every portal."""

    def _call(self, method: str, path: str, *, kind: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.request(
                method,
                settings.HUBSPOT_BASE_URL.rstrip("/") + path,
                kind=kind,
                idempotent=method != "POST",
                params={"hapikey": settings.HUBSPOT_DEVELOPER_API_KEY},
                **kwargs,
            )
        except HttpError as exc:
            raise ConnectorError(
                f"HubSpot: {kind} failed ({exc.status or 'no answer'}).", status=exc.status
            ) from None
        body = response_json(response) if response.content else {}
        return body if isinstance(body, dict) else {}
