"""The emulator's own control routes, as JSON under ``/mailchimp/_sandbox/`` (after the kit's
``reset``, ``faults``, ``clock``, ``requests``, ``stats`` and ``seed_demo``)::

    POST /_sandbox/accounts                  {dc, name, login_email, api_key?}
                                             -> {user_id, api_key}
    POST /_sandbox/accounts/<user>/audiences {name, list_id?} -> {id}
    POST /_sandbox/audiences/<id>/members    [member bodies as for POST .../members]
    GET  /_sandbox/audiences/<id>/members    every member, archived ones too
    POST /_sandbox/audiences/<id>/unsubscribe {email, cleaned?}
    POST /_sandbox/audiences/<id>/archive    {email}
    POST /_sandbox/clients                   {client_id, client_secret}
    POST /_sandbox/knobs                     {max_connections, latency}
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from sandbox.kit import json_response
from sandbox.mailchimp.errors import ApiError, problem_response

if TYPE_CHECKING:
    from sandbox.mailchimp.app import MailchimpEmulator


def route(emulator: MailchimpEmulator, method: str, path: str, options: Any) -> Response | None:
    if path == "accounts" and method == "POST":
        account, key = emulator.create_account(
            str(options["dc"]),
            name=str(options.get("name") or "Account"),
            login_email=str(options["login_email"]),
            api_key=options.get("api_key"),
        )
        return json_response({"user_id": account.user_id, "api_key": key}, 201)
    if path == "clients" and method == "POST":
        emulator.add_client(str(options["client_id"]), str(options["client_secret"]))
        return json_response({"ok": True}, 201)
    if path == "knobs" and method == "POST":
        if "max_connections" in options:
            emulator.max_connections = int(options["max_connections"])
        if "latency" in options:
            emulator.latency = float(options["latency"])
        return json_response(
            {"max_connections": emulator.max_connections, "latency": emulator.latency}
        )
    match = re.fullmatch(r"accounts/([^/]+)/audiences", path)
    if match and method == "POST":
        audience = emulator.create_audience(
            match.group(1), str(options["name"]), list_id=options.get("list_id")
        )
        return json_response({"id": audience.id}, 201)
    match = re.fullmatch(r"audiences/([^/]+)/(members|unsubscribe|archive)", path)
    if match is None:
        return None
    list_id, what = match.groups()
    if list_id not in emulator.audience_owner:
        return json_response({"error": f"no audience {list_id}"}, 404)
    try:
        if what == "members" and method == "POST":
            return json_response([emulator.add_member(list_id, b) for b in options], 201)
        if what == "members" and method == "GET":
            return json_response(emulator.members(list_id))
        if what == "unsubscribe" and method == "POST":
            emulator.unsubscribe(
                list_id, str(options["email"]), cleaned=bool(options.get("cleaned"))
            )
            return json_response({"ok": True})
        if what == "archive" and method == "POST":
            emulator.archive(list_id, str(options["email"]))
            return json_response({"ok": True})
    except ApiError as exc:
        return problem_response(exc)
    return None
