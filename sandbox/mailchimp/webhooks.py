"""Mailchimp's audience webhooks (api-notes §4.4): ``/3.0/lists/{list_id}/webhooks`` and a
form-encoded delivery on each member change, for the sources the webhook asked for.

- ``POST /lists/{list_id}/webhooks {url, events: {subscribe, unsubscribe, profile, cleaned,
  upemail, campaign}, sources: {user, admin, api}}`` first validates the URL with a GET, which must
  answer 200 within 10 s (else 400 "Invalid Resource" on ``url``); ``GET`` lists them, ``GET`` /
  ``DELETE /{webhook_id}`` read and remove one.
- Deliveries: ``POST <url>`` ``application/x-www-form-urlencoded`` with ``type`` (subscribe,
  unsubscribe, profile, cleaned, upemail), ``fired_at`` (``YYYY-MM-DD HH:MM:SS``, UTC) and
  ``data[...]`` (id, list_id, email, email_type, merges, ip_opt; ``action`` "unsub" or "delete"
  and ``reason`` on unsubscribe; ``new_id``, ``new_email``, ``old_email`` on upemail). Mailchimp
  signs nothing: the subscriber puts a secret in the URL. A change through the API is delivered
  only to webhooks whose ``sources.api`` is true; a change in Mailchimp's own pages (the control
  methods here) is an ``admin`` one. Tags fire nothing.
- Retries (an emulator choice, Mailchimp publishes no schedule): 1, 5, 15 and 60 minutes after a
  failed try, then the webhook is disabled.

The emulator with webhooks is ``MailchimpWebhookEmulator``, the sandbox's Mailchimp: it adds the
routes and the deliveries around the plain emulator's own writes.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from werkzeug.wrappers import Request, Response

from sandbox.kit import json_response
from sandbox.mailchimp.app import MailchimpEmulator
from sandbox.mailchimp.audiences import Account, Audience
from sandbox.mailchimp.errors import ApiError, invalid, not_found, problem_response
from sandbox.mailchimp.query import body_of
from sandbox.webhooks import WebhookSender

EVENTS = ("subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign")
SOURCES = ("user", "admin", "api")
RETRY_SCHEDULE = (60, 300, 900, 3600)
VALIDATION_TIMEOUT = 10.0
ROUTE = re.compile(r"/([a-z]{2}\d{1,3})/3\.0/lists/([0-9a-z]{1,32})/webhooks(?:/([0-9a-z]+))?/?")


class MailchimpWebhookEmulator(MailchimpEmulator):
    """The Mailchimp emulator with audience webhooks."""

    def __init__(self) -> None:
        self.webhook_sender = WebhookSender(
            schedule=RETRY_SCHEDULE,
            timeout=10.0,
            on_give_up=self._disable_webhook,
            name="mailchimp-webhooks",
        )
        super().__init__()

    transient = MailchimpEmulator.transient | {"webhook_sender", "_touched"}

    def reset(self) -> None:
        with self.lock:
            super().reset()
            # list id -> webhook id -> webhook
            self.webhooks: dict[str, dict[str, dict[str, Any]]] = {}
            self._touched: list[dict[str, Any]] = []
            self.webhook_sender.clear()
            self.webhook_sender.retry_scale = 1.0

    def stop(self) -> None:
        self.webhook_sender.stop()

    # ---- routes ------------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        match = ROUTE.fullmatch(request.path)
        if match is None:
            return super().dispatch(request)
        dc, list_id, webhook_id = match.groups()
        with self.lock:
            self.requests.record(
                f"{request.method} /lists/{{list_id}}/webhooks" + ("/{id}" if webhook_id else "")
            )
            try:
                account = self._authenticate(request, dc)
                audience = account.audiences.get(list_id)
                if audience is None:
                    raise not_found()
                if webhook_id is None and request.method == "POST":
                    spec = _webhook_spec(audience, body_of(request))
                elif webhook_id is None and request.method == "GET":
                    hooks = list(self.webhooks.get(list_id, {}).values())
                    return json_response(
                        {
                            "webhooks": [_render(h) for h in hooks],
                            "list_id": list_id,
                            "total_items": len(hooks),
                            "_links": [],
                        }
                    )
                else:
                    return self._one(list_id, webhook_id or "", request.method)
            except ApiError as exc:
                return problem_response(exc)
        # The URL is validated outside the lock: the receiver may call the API meanwhile.
        if not _answers_get(spec["url"]):
            return problem_response(
                invalid(
                    "The resource submitted could not be validated. For field-specific "
                    "details, see the 'errors' array.",
                    [{"field": "url", "message": "We couldn't verify the URL is working."}],
                )
            )
        with self.lock:
            spec["id"] = secrets.token_hex(5)
            self.webhooks.setdefault(list_id, {})[spec["id"]] = spec
            return json_response(_render(spec))

    def _one(self, list_id: str, webhook_id: str, method: str) -> Response:
        hook = self.webhooks.get(list_id, {}).get(webhook_id)
        if hook is None:
            raise not_found()
        if method == "GET":
            return json_response(_render(hook))
        if method == "DELETE":
            del self.webhooks[list_id][webhook_id]
            self.webhook_sender.forget(webhook_id)
            return Response(status=204)
        raise ApiError(405, detail="The requested method and resource are not compatible.")

    def _disable_webhook(self, webhook_id: str) -> None:
        with self.lock:
            for hooks in self.webhooks.values():
                if webhook_id in hooks:
                    hooks[webhook_id]["enabled"] = False

    # ---- the writes: each member touched is compared with what was last delivered ------------

    def _touch(self, member: dict[str, Any]) -> None:
        super()._touch(member)
        self._touched.append(member)

    def _route(
        self, account: Account, request: Request, kind: str, groups: tuple[str, ...]
    ) -> tuple[int, Any]:
        self._touched = []
        result = super()._route(account, request, kind, groups)
        self._deliver(account.audiences.values(), "api")
        return result

    def add_member(self, list_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._touched = []
            added = super().add_member(list_id, body)
            self._deliver([self.audience(list_id)], "admin")
            return added

    def unsubscribe(self, list_id: str, email: str, *, cleaned: bool = False) -> None:
        with self.lock:
            self._touched = []
            super().unsubscribe(list_id, email, cleaned=cleaned)
            self._deliver([self.audience(list_id)], "user")

    def edit_member(self, list_id: str, email: str, merge_fields: Mapping[str, Any]) -> None:
        with self.lock:
            self._touched = []
            super().edit_member(list_id, email, merge_fields)
            self._deliver([self.audience(list_id)], "admin")

    def archive(self, list_id: str, email: str) -> None:
        with self.lock:
            self._touched = []
            super().archive(list_id, email)
            self._deliver([self.audience(list_id)], "admin")

    def _deliver(self, audiences: Any, source: str) -> None:
        touched, self._touched = self._touched, []
        for audience in audiences:
            hooks = [
                h
                for h in self.webhooks.get(audience.id, {}).values()
                if h["enabled"] and h["sources"].get(source)
            ]
            for member in {id(m): m for m in touched}.values():
                if audience.members.get(member["id"]) is not member:
                    continue
                event = _event(audience, member, self.now())
                member["_webhook_seen"] = _seen(member)
                if event is None:
                    continue
                body = urlencode(event).encode()
                for hook in hooks:
                    if hook["events"].get(event["type"]):
                        self.webhook_sender.send(
                            hook["id"],
                            hook["url"],
                            body,
                            {"Content-Type": "application/x-www-form-urlencoded"},
                        )


def _webhook_spec(audience: Audience, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    url = body.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(
            "The resource submitted could not be validated. For field-specific details, see "
            "the 'errors' array.",
            [{"field": "url", "message": "This value should be a valid URL."}],
        )
    events, sources = body.get("events") or {}, body.get("sources") or {}
    if not isinstance(events, dict) or not isinstance(sources, dict):
        raise invalid("events and sources must be objects of booleans.")
    return {
        "url": url,
        "list_id": audience.id,
        "events": {name: bool(events.get(name, name != "campaign")) for name in EVENTS},
        "sources": {name: bool(sources.get(name, True)) for name in SOURCES},
        "enabled": True,
    }


def _answers_get(url: str) -> bool:
    try:
        return (
            requests.get(url, timeout=VALIDATION_TIMEOUT, allow_redirects=False).status_code == 200
        )
    except requests.RequestException:
        return False


def _render(hook: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": hook["id"],
        "url": hook["url"],
        "events": dict(hook["events"]),
        "sources": dict(hook["sources"]),
        "list_id": hook["list_id"],
        "_links": [],
    }


def _seen(member: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "status": member["status"],
        "email": member["email_address"],
        "merges": dict(member["merge_fields"]),
    }


def _event(audience: Audience, member: dict[str, Any], now: str) -> dict[str, str] | None:
    """The delivery's form fields for what changed since the last delivery, or None."""
    before = member.get("_webhook_seen")
    after = _seen(member)
    status = after["status"]
    kind = ""
    extra: dict[str, str] = {}
    if before is None or before["status"] != status:
        if status == "subscribed":
            kind = "subscribe"
        elif status == "unsubscribed":
            kind, extra = "unsubscribe", {"data[action]": "unsub", "data[reason]": "manual"}
        elif status == "archived":
            kind, extra = "unsubscribe", {"data[action]": "delete", "data[reason]": "manual"}
        elif status == "cleaned":
            kind, extra = "cleaned", {"data[reason]": "hard"}
    elif before["email"] != after["email"]:
        kind = "upemail"
        extra = {
            "data[new_id]": member["unique_email_id"],
            "data[new_email]": after["email"],
            "data[old_email]": before["email"],
        }
    elif before["merges"] != after["merges"]:
        kind = "profile"
    if not kind:
        return None
    fields = {
        "type": kind,
        "fired_at": now[:19].replace("T", " "),
        "data[id]": member["unique_email_id"],
        "data[list_id]": audience.id,
        "data[email]": after["email"],
        "data[email_type]": member.get("email_type", "html"),
        "data[ip_opt]": member.get("ip_opt", ""),
        "data[web_id]": str(member.get("web_id", "")),
        "data[merges][EMAIL]": after["email"],
    }
    for tag, value in after["merges"].items():
        if isinstance(value, str | int | float):
            fields[f"data[merges][{tag}]"] = str(value)
    fields.update(extra)
    return fields
