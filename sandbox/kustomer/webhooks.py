"""Kustomer's outbound webhooks (api-notes §1.11): the ``/v1/outbound-webhooks`` routes and a
signed delivery on every customer create and update.

- ``POST /v1/outbound-webhooks {"name", "url", "events", "headers"}`` -> 201 with the webhook and
  its ``token`` (the HMAC key); ``GET`` lists them, ``GET /{id}`` reads one again (token
  included), ``DELETE /{id}`` removes it, ``GET /events`` lists the events one can subscribe to.
  The role is ``org.permission.outbound_webhook.create`` (or the legacy
  ``org.admin.outbound_webhooks``); at most 12 events per webhook.
- The URL must be https; the emulator also takes http to a loopback host (127.0.0.1, ::1,
  localhost), where the tests' receivers listen. That allowance is the emulator's.
- A delivery is ``POST <url>`` with ``Content-Type: application/json``,
  ``X-Kustomer-Webhook-Event: <name>``, ``X-Kustomer-Webhook-Signature: <lowercase hex
  HMAC-SHA256(key=token, msg=raw body)>`` and the webhook's own headers. The envelope is
  ``{id, name, org, partition, orgName, createdAt, data: <the customer as rendered>, changes}``,
  ``changes`` null on create and ``{"attributes": {key: {op, before, after}}}`` on update
  (custom keys flattened as ``custom.<key>``, an emulator choice: the real path is unverified).
  No event on delete, as documented.
- Retries: 1, 1, 2, 5, 10, 15 and 30 minutes after a failed try (no 2xx within 5 s), then the
  webhook is disabled (``enabled: false``), as a webhook that keeps failing is.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Request

from sandbox.kustomer import auth
from sandbox.kustomer.customers import Org, iso, render
from sandbox.kustomer.errors import ApiError, bad_request, not_found
from sandbox.webhooks import WebhookSender, hmac_sha256_hex

if TYPE_CHECKING:
    from sandbox.kustomer.app import KustomerEmulator

ROLE_WEBHOOKS = ("org.permission.outbound_webhook.create", "org.admin.outbound_webhooks")
MAX_EVENTS = 12
# Minutes between tries after a failed one (api-notes §1.11), in seconds.
RETRY_SCHEDULE = (60, 60, 120, 300, 600, 900, 1800)
DELIVERY_TIMEOUT = 5.0
EVENTS = tuple(
    f"kustomer.{resource}.{action}"
    for resource in ("customer", "conversation", "message", "user", "team", "tag")
    for action in ("create", "update")
)
HOOK_ID = re.compile(r"[0-9a-f]{24}")

# One sender per emulator, kept beside it (a thread is no part of the saved state).
_senders: weakref.WeakKeyDictionary[KustomerEmulator, WebhookSender] = weakref.WeakKeyDictionary()


def sender(emulator: KustomerEmulator) -> WebhookSender:
    """The emulator's delivery sender (made on first use)."""
    with emulator.lock:
        found = _senders.get(emulator)
        if found is None:

            def give_up(hook_id: str) -> None:
                disable(emulator, hook_id)

            found = WebhookSender(
                schedule=RETRY_SCHEDULE,
                timeout=DELIVERY_TIMEOUT,
                on_give_up=give_up,
                name="kustomer-webhooks",
            )
            _senders[emulator] = found
        return found


def stop(emulator: KustomerEmulator) -> None:
    """Stop the emulator's delivery thread (the sandbox stops); a later change would start a new
    sender."""
    with emulator.lock:
        found = _senders.pop(emulator, None)
    if found is not None:
        found.stop()


def hooks(emulator: KustomerEmulator, org: Org) -> dict[str, dict[str, Any]]:
    """The org's webhooks by id (kept in the emulator's saved state)."""
    store: dict[str, dict[str, dict[str, Any]]] = emulator.__dict__.setdefault(
        "outbound_webhooks", {}
    )
    return store.setdefault(org.subdomain, {})


def reset(emulator: KustomerEmulator) -> None:
    """Forget every webhook and every pending delivery."""
    emulator.__dict__["outbound_webhooks"] = {}
    found = _senders.get(emulator)
    if found is not None:
        found.clear()
        found.retry_scale = 1.0


def disable(emulator: KustomerEmulator, hook_id: str) -> None:
    with emulator.lock:
        for org_hooks in emulator.__dict__.get("outbound_webhooks", {}).values():
            if hook_id in org_hooks:
                org_hooks[hook_id]["enabled"] = False


# ---- routes -----------------------------------------------------------------------------------


def route(
    emulator: KustomerEmulator, org: Org, request: Request, path: str, body: Any
) -> tuple[int, Any]:
    """``/v1/outbound-webhooks[/...]``: (status, JSON body); ``ApiError`` otherwise."""
    token = auth.authorize(org, request, ROLE_WEBHOOKS)
    method = request.method
    org_hooks = hooks(emulator, org)
    if path == "/outbound-webhooks/events" and method == "GET":
        return 200, {"data": [{"type": "event", "id": name} for name in EVENTS]}
    if path == "/outbound-webhooks":
        if method == "GET":
            return 200, {"data": [_render(org, hook) for hook in org_hooks.values()]}
        if method == "POST":
            hook = _create(emulator, org, body, token.user_id)
            org_hooks[hook["id"]] = hook
            return 201, {"data": _render(org, hook)}
        raise ApiError(405, "method_not_allowed", "Method Not Allowed")
    match = re.fullmatch(r"/outbound-webhooks/([^/]+)", path)
    if match is None:
        raise not_found(f"No route for {method} /v1{path}")
    hook_id = match.group(1)
    found = org_hooks.get(hook_id) if HOOK_ID.fullmatch(hook_id) else None
    if found is None:
        raise not_found(f"Outbound webhook {hook_id} not found")
    if method == "GET":
        return 200, {"data": _render(org, found)}
    if method == "DELETE":
        del org_hooks[hook_id]
        sender(emulator).forget(hook_id)
        return 204, None
    raise ApiError(405, "method_not_allowed", "Method Not Allowed")


def _create(emulator: KustomerEmulator, org: Org, body: Any, user_id: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("Body must be an object", "/")
    unknown = sorted(set(body) - {"name", "url", "events", "headers", "description"})
    if unknown:
        raise bad_request(f"Unknown attribute {unknown[0]}", f"/{unknown[0]}")
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 256:
        raise bad_request("name is required (1 to 256 characters)", "/name")
    url = body.get("url")
    if not isinstance(url, str) or not _url_allowed(url):
        raise bad_request("url must be an https URL", "/url")
    events = body.get("events")
    if (
        not isinstance(events, list)
        or not 1 <= len(events) <= MAX_EVENTS
        or len(set(map(str, events))) != len(events)
    ):
        raise bad_request(f"events must list 1 to {MAX_EVENTS} unique events", "/events")
    for index, event in enumerate(events):
        if event not in EVENTS:
            raise bad_request(f"Unknown event {event!r}", f"/events/{index}")
    headers = body.get("headers") or []
    if not isinstance(headers, list) or not all(
        isinstance(h, dict)
        and isinstance(h.get("name"), str)
        and re.fullmatch(r"[A-Za-z0-9-]{1,64}", h["name"])
        and isinstance(h.get("value"), str)
        for h in headers
    ):
        raise bad_request("headers must be [{name, value}] of strings", "/headers")
    now = iso(emulator.now())
    return {
        "id": emulator._new_id(),
        "name": name,
        "url": url,
        "events": list(events),
        "headers": [{"name": h["name"], "value": h["value"]} for h in headers],
        "token": secrets.token_hex(32),
        "enabled": True,
        "createdAt": now,
        "createdBy": user_id or org.id,
    }


def _url_allowed(url: str) -> bool:
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _render(org: Org, hook: dict[str, Any]) -> dict[str, Any]:
    def user(user_id: str) -> dict[str, Any]:
        return {"links": {"self": f"/v1/users/{user_id}"}, "data": {"type": "user", "id": user_id}}

    return {
        "type": "outbound_webhook",
        "id": hook["id"],
        "attributes": {
            "name": hook["name"],
            "url": hook["url"],
            "events": list(hook["events"]),
            "headers": [dict(h) for h in hook["headers"]],
            "token": hook["token"],
            "enabled": hook["enabled"],
            "createdAt": hook["createdAt"],
        },
        "relationships": {
            "org": {"data": {"type": "org", "id": org.id}},
            "createdBy": user(hook["createdBy"]),
        },
        "links": {"self": f"/v1/outbound-webhooks/{hook['id']}"},
    }


# ---- deliveries -------------------------------------------------------------------------------


def customer_changed(
    emulator: KustomerEmulator, org: Org, doc: dict[str, Any], before: dict[str, Any] | None
) -> None:
    """Deliver ``kustomer.customer.create`` (``before`` None) or ``.update`` to every enabled
    webhook of the org that subscribed to it. Called under the emulator's lock."""
    name = "kustomer.customer.create" if before is None else "kustomer.customer.update"
    targets = [
        hook
        for hook in emulator.__dict__.get("outbound_webhooks", {}).get(org.subdomain, {}).values()
        if hook["enabled"] and name in hook["events"]
    ]
    if not targets:
        return
    changes = None if before is None else {"attributes": _changes(before, doc["attrs"])}
    envelope = {
        "id": emulator._new_id(),
        "name": name,
        "org": org.id,
        "partition": org.id,
        "orgName": org.subdomain,
        "createdAt": iso(emulator.now()),
        "data": render(org, doc),
        "changes": changes,
    }
    body = json.dumps(envelope).encode()
    out = sender(emulator)
    for hook in targets:
        headers = {
            **{h["name"]: h["value"] for h in hook["headers"]},
            "Content-Type": "application/json",
            "X-Kustomer-Webhook-Event": name,
            "X-Kustomer-Webhook-Signature": hmac_sha256_hex(hook["token"], body),
        }
        out.send(hook["id"], hook["url"], body, headers)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    def flat(attrs: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in attrs.items() if k != "custom"}
        custom = attrs.get("custom")
        if isinstance(custom, dict):
            out.update({f"custom.{k}": v for k, v in custom.items()})
        return out

    old, new = flat(before), flat(after)
    diff: dict[str, Any] = {}
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        op = "add" if key not in old else "remove" if key not in new else "replace"
        diff[key] = {"op": op, "before": old.get(key), "after": new.get(key)}
    return diff
