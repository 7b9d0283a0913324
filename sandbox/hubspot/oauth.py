"""HubSpot's OAuth 2.0 endpoints as Tandem uses them: the install page (``/oauth/authorize``:
the user picks the account to install into; Approve redirects with ``code`` + ``state``, Deny
with ``error=access_denied``), ``POST /oauth/v1/token`` (``authorization_code`` and
``refresh_token`` grants; access tokens live 30 minutes) and ``GET /oauth/v1/access-tokens/
{token}`` (who a token belongs to). Token endpoint errors are HubSpot's own, not RFC 6749's:
``{"status": "BAD_REFRESH_TOKEN", "message": ..., "correlationId": ...}`` with 400."""

from __future__ import annotations

import html
import secrets
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from sandbox.kit import json_response

if TYPE_CHECKING:
    from sandbox.hubspot.app import HubSpotEmulator


def _refusal(status: str, message: str, code: int = 400) -> Response:
    return json_response(
        {"status": status, "message": message, "correlationId": str(uuid.uuid4())}, code
    )


def authorize(emulator: HubSpotEmulator, request: Request) -> Response:
    params = request.args if request.method == "GET" else request.form
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    state = params.get("state", "")
    with emulator.lock:
        emulator.requests.record("oauth.authorize")
        known = client_id in emulator.clients
        hubs = sorted(emulator.portals)
    if not known or not redirect_uri:
        return Response(
            "<h1>Authorization failed</h1><p>Unknown client_id or no redirect_uri.</p>",
            status=400,
            mimetype="text/html",
        )
    if request.method == "GET":
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items(multi=True)
        )
        options = "".join(f'<option value="{hub}">{hub}</option>' for hub in hubs)
        page = (
            "<!doctype html><title>Choose an account | HubSpot</title>"
            "<h1>Tandem wants to connect to your HubSpot account</h1>"
            f"<p>Requested scopes: {html.escape(params.get('scope', ''))}</p>"
            f'<form method="post" action="{html.escape(request.script_root + request.path)}">'
            f'{hidden}<label>Account <select name="hub_id">{options}</select></label>'
            '<label>Your email <input name="user" value="owner@hubspot.example"></label>'
            '<button name="decision" value="approve">Connect app</button>'
            '<button name="decision" value="deny">Cancel</button></form>'
        )
        return Response(page, mimetype="text/html")
    sep = "&" if "?" in redirect_uri else "?"
    if request.form.get("decision") != "approve":
        query = urlencode({"error": "access_denied", "state": state})
        return Response(status=302, headers={"Location": f"{redirect_uri}{sep}{query}"})
    with emulator.lock:
        try:
            hub_id = int(request.form.get("hub_id") or (hubs[0] if hubs else 0))
        except ValueError:
            hub_id = 0
        if hub_id not in emulator.portals:
            return Response("<h1>No such account</h1>", status=400, mimetype="text/html")
        user = request.form.get("user", "").strip() or "owner@hubspot.example"
        code = secrets.token_hex(16)
        emulator.codes[code] = (hub_id, user, client_id, redirect_uri)
    query = urlencode({"code": code, "state": state})
    return Response(status=302, headers={"Location": f"{redirect_uri}{sep}{query}"})


def token(emulator: HubSpotEmulator, request: Request) -> Response:
    if request.method != "POST":
        return _refusal("METHOD_NOT_ALLOWED", "Use POST", 405)
    form = request.form
    with emulator.lock:
        emulator.requests.record("oauth.token")
        client_id = form.get("client_id", "")
        if client_id not in emulator.clients:
            return _refusal("BAD_CLIENT_ID", "missing or unknown client id")
        if emulator.clients[client_id] != form.get("client_secret", ""):
            return _refusal("BAD_CLIENT_SECRET", "missing or invalid client secret")
        grant = form.get("grant_type", "")
        if grant == "authorization_code":
            found = emulator.codes.pop(form.get("code", ""), None)
            if found is None or found[2] != client_id:
                return _refusal("BAD_AUTH_CODE", "missing or unknown auth code")
            if found[3] != form.get("redirect_uri"):
                return _refusal("BAD_REDIRECT_URI", "redirect_uri does not match")
            return json_response(emulator.issue_tokens(found[0], found[1]))
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            owner = emulator.refresh_tokens.get(refresh)
            if owner is None:
                return _refusal("BAD_REFRESH_TOKEN", "missing or invalid refresh token")
            access = emulator.access_token(owner[0], owner[1])
            return json_response(
                {
                    "token_type": "bearer",
                    "refresh_token": refresh,
                    "access_token": access,
                    "expires_in": emulator.access_token_lifetime,
                }
            )
        return _refusal("BAD_GRANT_TYPE", "grant_type must be authorization_code or refresh_token")


def token_info(emulator: HubSpotEmulator, access: str) -> Response:
    with emulator.lock:
        emulator.requests.record("oauth.access_token_info")
        found = emulator.tokens.get(access)
        now = emulator.clock.time()
        if found is None or found.kind != "oauth" or found.expires_at <= now:
            return _refusal("NOT_FOUND", "Token not found or expired", 404)
        portal = emulator.portals[found.hub_id]
        return json_response(
            {
                "token": access,
                "user": found.user,
                "hub_domain": portal.domain,
                "scopes": sorted(found.scopes),
                "hub_id": portal.hub_id,
                "app_id": 1,
                "expires_in": int(found.expires_at - now),
                "user_id": 1,
                "token_type": "access",
            }
        )
