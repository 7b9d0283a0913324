"""Google's OAuth 2.0 endpoints as Tandem uses them: the consent page
(``/o/oauth2/v2/auth``: Approve redirects with ``code`` + ``state``, Deny with
``error=access_denied``) and ``/token`` (``authorization_code`` and ``refresh_token`` grants,
client id and secret checked, revoked grants answer ``invalid_grant``)."""

from __future__ import annotations

import html
import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from sandbox.google_contacts.seed import DEMO_EMAIL, DEMO_REFRESH_TOKEN
from sandbox.kit import json_response

if TYPE_CHECKING:
    from sandbox.google_contacts.app import GoogleContactsEmulator

SCOPE = "https://www.googleapis.com/auth/contacts"


def consent(emulator: GoogleContactsEmulator, request: Request) -> Response:
    params = request.args if request.method == "GET" else request.form
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    state = params.get("state", "")
    with emulator.lock:
        emulator.requests.record("oauth.authorize")
        if client_id not in emulator.clients or not redirect_uri:
            return Response(
                "<h1>Error 400: invalid_request</h1><p>Unknown client or no redirect_uri.</p>",
                status=400,
                mimetype="text/html",
            )
        if params.get("response_type", "code") != "code":
            return Response("<h1>unsupported_response_type</h1>", 400, mimetype="text/html")
    if request.method == "GET":
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items(multi=True)
        )
        page = (
            "<!doctype html><title>Sign in - Google Accounts</title>"
            "<h1>Tandem wants to access your Google Account</h1>"
            f"<p>This will allow Tandem to see, edit, download and permanently delete your "
            f"contacts ({html.escape(params.get('scope', ''))}).</p>"
            f'<form method="post" action="{html.escape(request.script_root + request.path)}">'
            f"{hidden}"
            f'<label>Account <input name="email" value="{DEMO_EMAIL}"></label>'
            '<button name="decision" value="approve">Allow</button>'
            '<button name="decision" value="deny">Cancel</button></form>'
        )
        return Response(page, mimetype="text/html")
    sep = "&" if "?" in redirect_uri else "?"
    if request.form.get("decision") != "approve":
        query = urlencode({"error": "access_denied", "state": state})
        return Response(status=302, headers={"Location": f"{redirect_uri}{sep}{query}"})
    email = request.form.get("email", "").strip() or DEMO_EMAIL
    with emulator.lock:
        emulator.add_user(email)
        emulator.revoked.discard(email)
        code = "4/" + secrets.token_urlsafe(24)
        emulator.codes[code] = (email, client_id, redirect_uri)
    query = urlencode({"code": code, "state": state, "scope": SCOPE})
    return Response(status=302, headers={"Location": f"{redirect_uri}{sep}{query}"})


def token(emulator: GoogleContactsEmulator, request: Request) -> Response:
    if request.method != "POST":
        return json_response({"error": "invalid_request"}, 405)
    form = request.form
    with emulator.lock:
        emulator.requests.record("oauth.token")
        client_id = form.get("client_id", "")
        if client_id not in emulator.clients or emulator.clients[client_id] != form.get(
            "client_secret", ""
        ):
            return json_response(
                {"error": "invalid_client", "error_description": "Unauthorized"}, 401
            )
        grant = form.get("grant_type", "")
        if grant == "authorization_code":
            found = emulator.codes.pop(form.get("code", ""), None)
            if found is None or found[1] != client_id or found[2] != form.get("redirect_uri"):
                return json_response(
                    {"error": "invalid_grant", "error_description": "Bad Request"}, 400
                )
            tokens = emulator.issue_tokens(found[0])
            return json_response({**tokens, "scope": SCOPE, "token_type": "Bearer"})
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            email = emulator.refresh_tokens.get(refresh)
            if (
                email is None
                and refresh == DEMO_REFRESH_TOKEN
                and DEMO_EMAIL not in emulator.revoked
            ):
                email = DEMO_EMAIL
                emulator.add_user(email)
            if email is None:
                return json_response(
                    {"error": "invalid_grant", "error_description": "Token has been revoked."},
                    400,
                )
            return json_response(
                {
                    "access_token": emulator._access_token(email),
                    "expires_in": emulator.access_token_lifetime,
                    "scope": SCOPE,
                    "token_type": "Bearer",
                }
            )
        return json_response({"error": "unsupported_grant_type"}, 400)

    # People API ----------------------------------------------------------------------------
