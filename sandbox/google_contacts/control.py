"""The emulator's own control routes, as JSON under ``/google_contacts/_sandbox/`` (after the
kit's ``reset``, ``faults``, ``clock``, ``requests``, ``stats`` and ``seed_demo``)::

    POST /_sandbox/users      {email}              -> {email}
    POST /_sandbox/tokens     {email}              -> {access_token, refresh_token, expires_in}
    POST /_sandbox/seed       {count?}             -> {email, refresh_token, client_id,
                                                       contacts, groups}
    GET  /_sandbox/contacts?email=                 -> {people: [...]}  (live contacts)
    POST /_sandbox/contacts   {email, person}      -> person (visible at once)
    GET  /_sandbox/groups?email=                   -> {groups: [...]}
    GET  /_sandbox/knobs                           -> every knob's value
    POST /_sandbox/knobs      any of KNOBS, {revoke: email}, {expire_access_tokens: email},
                              {change_resource_name: {email, resourceName}}
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from sandbox.google_contacts.errors import ApiError
from sandbox.google_contacts.seed import DEMO_COUNT, DEMO_EMAIL
from sandbox.kit import json_response

if TYPE_CHECKING:
    from sandbox.google_contacts.app import GoogleContactsEmulator

# Behaviour knobs, settable as attributes or through ``/_sandbox/knobs``.
KNOBS = (
    "sync_token_ttl",  # seconds a sync token stays valid (Google: 7 days)
    "expired_sync_status",  # 400 (FAILED_PRECONDITION, as observed) or 410 (as documented)
    "propagation_delay",  # seconds before an API write shows in listings and sync responses
    "propagation_requests",  # ... or API requests by the same user before it shows (0: off)
    "access_token_lifetime",  # seconds
    "quota_per_minute",  # People API requests per user per minute before 429 (0: unlimited)
    "retry_after",  # seconds sent as Retry-After with a 429 (0: none, as Google does)
)


def route(
    emulator: GoogleContactsEmulator, method: str, path: str, body: Any, args: Mapping[str, str]
) -> Response | None:
    options: dict[str, Any] = {} if body is None else _control_object(body)
    if path == "users" and method == "POST":
        emulator.add_user(str(options["email"]))
        return json_response({"email": options["email"]})
    if path == "tokens" and method == "POST":
        return json_response(emulator.issue_tokens(str(options["email"])))
    if path == "seed" and method == "POST":
        return json_response(emulator.seed_demo(count=int(options.get("count", DEMO_COUNT))))
    if path == "contacts" and method == "GET":
        return json_response({"people": emulator.contacts(args.get("email", DEMO_EMAIL))})
    if path == "contacts" and method == "POST":
        try:
            person = emulator.add_contact(str(options["email"]), options.get("person") or {})
        except ApiError as exc:
            return exc.response()
        return json_response(person)
    if path == "groups" and method == "GET":
        book = emulator.add_user(args.get("email", DEMO_EMAIL))
        return json_response({"groups": [copy.deepcopy(g) for g in book.groups.values()]})
    if path == "knobs" and method == "GET":
        return json_response({knob: getattr(emulator, knob) for knob in KNOBS})
    if path == "knobs" and method == "POST":
        for knob in KNOBS:
            if knob in options:
                setattr(emulator, knob, type(getattr(emulator, knob))(options[knob]))
        if "revoke" in options:
            emulator.revoke(str(options["revoke"]))
        if "expire_access_tokens" in options:
            emulator.expire_access_tokens(str(options["expire_access_tokens"]))
        changed = ""
        if "change_resource_name" in options:
            spec = options["change_resource_name"]
            changed = emulator.change_resource_name(spec["email"], spec["resourceName"])
        return json_response({"ok": True, "resourceName": changed})
    return None


def _control_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body
