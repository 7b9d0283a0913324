"""HubSpot's webhooks (api-notes §3) for a public app: the app's settings and subscriptions
(``/webhooks/v3/{appId}/...`` with the developer API key as ``hapikey``) and signed deliveries of
contact events from every portal that installed the app.

- ``PUT /webhooks/v3/{appId}/settings {targetUrl, throttling}``; ``GET`` reads them back.
- ``POST /webhooks/v3/{appId}/subscriptions {eventType, propertyName, active}`` (event types
  ``contact.creation``, ``contact.deletion``, ``contact.propertyChange`` with its property);
  ``GET`` lists them, ``DELETE /{id}`` removes one.
- A delivery is ``POST <targetUrl>``, a JSON array of events (``eventId``, ``subscriptionId``,
  ``portalId``, ``appId``, ``occurredAt`` in ms, ``subscriptionType``, ``attemptNumber``,
  ``objectId``, ``changeSource``, ``sourceId``, ``propertyName``, ``propertyValue``), with
  ``X-HubSpot-Signature-v3``: base64 HMAC-SHA256, keyed with the app's client secret, of the
  method, the URL, the body and ``X-HubSpot-Request-Timestamp`` (ms), all concatenated.
- Change sources: a write with an OAuth token is the app's (``INTEGRATION``, ``sourceId`` the
  app id), with a private app's token ``API``, through the control methods ``CRM_UI``.
- Retries: HubSpot tries a failed delivery (no 2xx within 5 s) up to 10 more times over a day
  (1 min, 2, 5, 10, 30 min, 1, 2, 4, 8 and 8 h here); then it gives up.
- The portals that installed the app: those with an OAuth refresh token issued.

The emulator with webhooks is ``HubSpotWebhookEmulator``, the sandbox's HubSpot.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.hubspot.app import HubSpotEmulator
from sandbox.hubspot.auth import Token
from sandbox.hubspot.errors import ApiError, invalid, not_found
from sandbox.hubspot.portal import Portal
from sandbox.kit import json_response
from sandbox.webhooks import WebhookSender

EVENT_TYPES = ("contact.creation", "contact.deletion", "contact.propertyChange")
RETRY_SCHEDULE = (60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 28800)
ROUTE = re.compile(r"/webhooks/v3/(\d+)/(settings|subscriptions)(?:/(\d+))?/?")


def signature_v3(secret: str, method: str, url: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + url.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class HubSpotWebhookEmulator(HubSpotEmulator):
    """The HubSpot emulator with a public app's webhooks."""

    transient = HubSpotEmulator.transient | {"webhook_sender"}

    def __init__(self) -> None:
        self.webhook_sender = WebhookSender(
            schedule=RETRY_SCHEDULE, timeout=5.0, name="hubspot-webhooks"
        )
        super().__init__()

    def reset(self) -> None:
        with self.lock:
            super().reset()
            # app id -> {developer_key, client_secret, settings, subscriptions}
            self.webhook_apps: dict[str, dict[str, Any]] = {}
            self._event_ids = itertools.count(1)
            self._subscription_ids = itertools.count(1)
            self.webhook_sender.clear()
            self.webhook_sender.retry_scale = 1.0

    def stop(self) -> None:
        self.webhook_sender.stop()

    def add_webhook_app(self, app_id: int, developer_key: str, client_secret: str) -> None:
        """A developer account's public app: its id, the developer API key managing its
        webhooks and the client secret deliveries are signed with."""
        with self.lock:
            self.webhook_apps[str(app_id)] = {
                "developer_key": developer_key,
                "client_secret": client_secret,
                "settings": None,
                "subscriptions": {},
            }

    # ---- the webhooks API --------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        match = ROUTE.fullmatch(request.path)
        if match is None:
            return super().dispatch(request)
        app_id, what, item = match.groups()
        with self.lock:
            self.requests.record(f"{request.method} /webhooks/v3/{{appId}}/{what}")
            try:
                app = self.webhook_apps.get(app_id)
                key = request.args.get("hapikey", "")
                if app is None or not hmac.compare_digest(app["developer_key"], key):
                    raise ApiError(
                        401, "INVALID_AUTHENTICATION", "The developer API key is not valid"
                    )
                status, body = self._webhooks_route(app_id, app, request, what, item)
            except ApiError as exc:
                return exc.response()
        if status == 204:
            return Response(status=204)
        return json_response(body, status)

    def _webhooks_route(
        self, app_id: str, app: dict[str, Any], request: Request, what: str, item: str | None
    ) -> tuple[int, Any]:
        method = request.method
        if what == "settings" and item is None:
            if method == "GET":
                if app["settings"] is None:
                    raise not_found("No settings for this app")
                return 200, app["settings"]
            if method == "PUT":
                body = _json(request)
                url = body.get("targetUrl")
                if not isinstance(url, str) or not re.match(r"https?://[^/\s]+", url):
                    raise invalid("targetUrl must be a URL")
                app["settings"] = {
                    "targetUrl": url,
                    "throttling": body.get("throttling") or {"maxConcurrentRequests": 10},
                    "createdAt": _now_iso(self),
                }
                return 200, app["settings"]
        if what == "subscriptions":
            subscriptions: dict[str, dict[str, Any]] = app["subscriptions"]
            if item is None and method == "GET":
                return 200, {"results": list(subscriptions.values())}
            if item is None and method == "POST":
                body = _json(request)
                event_type = body.get("eventType")
                if event_type not in EVENT_TYPES:
                    raise invalid(f"eventType must be one of {', '.join(EVENT_TYPES)}")
                prop = body.get("propertyName")
                if event_type == "contact.propertyChange" and not isinstance(prop, str):
                    raise invalid("propertyName is required for contact.propertyChange")
                subscription = {
                    "id": str(next(self._subscription_ids)),
                    "eventType": event_type,
                    "propertyName": prop if event_type == "contact.propertyChange" else None,
                    "active": bool(body.get("active", True)),
                    "createdAt": _now_iso(self),
                }
                subscriptions[subscription["id"]] = subscription
                return 201, subscription
            if item is not None and method == "DELETE":
                if subscriptions.pop(item, None) is None:
                    raise not_found(f"No subscription {item}")
                return 204, None
        raise ApiError(405, "METHOD_NOT_ALLOWED", "Method not allowed")

    # ---- contact writes ----------------------------------------------------------------------

    def _route(self, portal: Portal, token: Token, request: Request, path: str) -> tuple[int, Any]:
        if not self._delivering(portal.hub_id):
            return super()._route(portal, token, request, path)
        before = _stamps(portal)
        result = super()._route(portal, token, request, path)
        source = "INTEGRATION" if token.kind == "oauth" else "API"
        self._deliver(portal, before, source)
        return result

    def add_contact(self, hub_id: int, properties: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            before = _stamps(self.portals[hub_id])
            added = super().add_contact(hub_id, properties)
            self._deliver(self.portals[hub_id], before, "CRM_UI")
            return added

    def edit_contact(self, hub_id: int, contact_id: str, properties: Mapping[str, Any]) -> None:
        with self.lock:
            before = _stamps(self.portals[hub_id])
            super().edit_contact(hub_id, contact_id, properties)
            self._deliver(self.portals[hub_id], before, "CRM_UI")

    def archive_contact(self, hub_id: int, contact_id: str) -> None:
        with self.lock:
            before = _stamps(self.portals[hub_id])
            super().archive_contact(hub_id, contact_id)
            self._deliver(self.portals[hub_id], before, "CRM_UI")

    def _delivering(self, hub_id: int) -> bool:
        installed = any(hub == hub_id for hub, _ in self.refresh_tokens.values())
        return installed and any(a["settings"] for a in self.webhook_apps.values())

    def _deliver(self, portal: Portal, before: dict[str, Any], source: str) -> None:
        """One delivery per app of the events of the contacts this write changed."""
        if not self._delivering(portal.hub_id):
            return
        changed = [c for c in portal.contacts.values() if before.get(c["id"]) != _state(c)]
        if not changed:
            return
        occurred = int(self.clock.time() * 1000)
        for app_id, app in self.webhook_apps.items():
            if not app["settings"]:
                continue
            events = []
            for contact in changed:
                for subscription, extra in _events_of(app, contact, contact["id"] in before):
                    events.append(
                        {
                            "eventId": next(self._event_ids),
                            "subscriptionId": int(subscription["id"]),
                            "portalId": portal.hub_id,
                            "appId": int(app_id),
                            "occurredAt": occurred,
                            "subscriptionType": subscription["eventType"],
                            "attemptNumber": 0,
                            "objectId": int(contact["id"]),
                            "changeSource": source,
                            "sourceId": app_id if source == "INTEGRATION" else "userId:1",
                            **extra,
                        }
                    )
            if events:
                self._send(app, events)
        for contact in changed:
            contact["_webhook_seen"] = dict(contact["properties"])

    def _send(self, app: dict[str, Any], events: list[dict[str, Any]]) -> None:
        url = app["settings"]["targetUrl"]
        for start in range(0, len(events), 100):
            body = json.dumps(events[start : start + 100]).encode()
            timestamp = str(int(time.time() * 1000))
            self.webhook_sender.send(
                url,
                url,
                body,
                {
                    "Content-Type": "application/json",
                    "X-HubSpot-Request-Timestamp": timestamp,
                    "X-HubSpot-Signature-v3": signature_v3(
                        app["client_secret"], "POST", url, body, timestamp
                    ),
                },
            )


def _stamps(portal: Portal) -> dict[str, Any]:
    """Each contact as it is (two edits within a stamp's resolution still differ)."""
    return {c["id"]: _state(c) for c in portal.contacts.values()}


def _state(contact: dict[str, Any]) -> Any:
    return (contact["archived"], tuple(sorted(contact["properties"].items())))


def _events_of(
    app: dict[str, Any], contact: dict[str, Any], existed: bool
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    active = [s for s in app["subscriptions"].values() if s["active"]]
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []
    seen = contact.get("_webhook_seen") or {}
    if contact["archived"]:
        return [(s, {}) for s in active if s["eventType"] == "contact.deletion"]
    if not existed:
        out += [(s, {}) for s in active if s["eventType"] == "contact.creation"]
    properties = contact["properties"]
    for subscription in active:
        name = subscription["propertyName"]
        if subscription["eventType"] != "contact.propertyChange" or name not in properties:
            continue
        if existed and seen.get(name) == properties[name]:
            continue
        out.append((subscription, {"propertyName": name, "propertyValue": properties[name]}))
    return out


def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except ValueError:
        raise invalid("Invalid JSON") from None
    if not isinstance(body, dict):
        raise invalid("The body must be a JSON object")
    return body


def _now_iso(emulator: HubSpotEmulator) -> str:
    return emulator.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000Z")
