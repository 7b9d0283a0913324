"""Mailchimp's OAuth 2 endpoints as an app uses them (api-notes §4.1): the consent page
``/oauth2/authorize`` (Allow redirects with ``code`` + ``state``, Cancel with
``error=access_denied``), ``/oauth2/token`` (``authorization_code`` only: Mailchimp's access
tokens do not expire, ``expires_in`` is 0 and there is no refresh token) and
``/oauth2/metadata``, which tells the account's data center (``dc``) for an ``Authorization:
OAuth <token>`` header."""

from __future__ import annotations

import html
import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from sandbox.kit import json_response

if TYPE_CHECKING:
    from sandbox.mailchimp.app import MailchimpEmulator


def authorize(emulator: MailchimpEmulator, request: Request) -> Response:
    params = request.args if request.method == "GET" else request.form
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    with emulator.lock:
        emulator.requests.record("oauth.authorize")
        known = client_id in emulator.clients
    if not known or not redirect_uri or params.get("response_type", "code") != "code":
        return Response(
            "<h1>Invalid request</h1><p>Unknown client or no redirect_uri.</p>",
            status=400,
            mimetype="text/html",
        )
    if request.method == "GET":
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items(multi=True)
        )
        page = (
            "<!doctype html><title>Log In | Mailchimp</title>"
            "<h1>Tandem would like to access your Mailchimp account</h1>"
            f'<form method="post" action="{html.escape(request.script_root + request.path)}">'
            f'{hidden}<label>Username <input name="login" value=""></label>'
            '<button name="decision" value="approve">Allow</button>'
            '<button name="decision" value="deny">Cancel</button></form>'
        )
        return Response(page, mimetype="text/html")
    sep = "&" if "?" in redirect_uri else "?"
    state = params.get("state", "")
    if request.form.get("decision") != "approve":
        query = urlencode({"error": "access_denied", "state": state})
        return Response(status=302, headers={"Location": f"{redirect_uri}{sep}{query}"})
    with emulator.lock:
        login = request.form.get("login", "").strip().casefold()
        account = emulator.account_by_login(login) if login else emulator.first_account()
        if account is None:
            return Response("<h1>Unknown user</h1>", status=400, mimetype="text/html")
        code = secrets.token_hex(16)
        emulator.codes[code] = (account.user_id, client_id, redirect_uri)
    query = urlencode({"code": code, "state": state})
    return Response(status=302, headers={"Location": f"{redirect_uri}{sep}{query}"})


def token(emulator: MailchimpEmulator, request: Request) -> Response:
    if request.method != "POST":
        return json_response({"error": "invalid_request"}, 405)
    form = request.form
    with emulator.lock:
        emulator.requests.record("oauth.token")
        client_id = form.get("client_id", "")
        if emulator.clients.get(client_id) != form.get("client_secret", "") or not client_id:
            return json_response({"error": "invalid_client"}, 401)
        if form.get("grant_type") != "authorization_code":
            return json_response({"error": "unsupported_grant_type"}, 400)
        found = emulator.codes.pop(form.get("code", ""), None)
        if found is None or found[1] != client_id or found[2] != form.get("redirect_uri"):
            return json_response({"error": "invalid_grant"}, 400)
        access = secrets.token_hex(16)
        emulator.access_tokens[access] = found[0]
    return json_response({"access_token": access, "expires_in": 0, "scope": None})


def metadata(emulator: MailchimpEmulator, request: Request) -> Response:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    with emulator.lock:
        emulator.requests.record("oauth.metadata")
        user_id = emulator.access_tokens.get(value.strip()) if scheme == "OAuth" else None
        account = emulator.account_by_user(user_id) if user_id else None
        if account is None:
            return json_response({"error": "invalid_token"}, 401)
        return json_response(
            {
                "dc": account.dc,
                "role": "owner",
                "accountname": account.name,
                "user_id": int(account.user_id),
                "login": {
                    "email": account.login_email,
                    "login_id": int(account.user_id),
                    "login_name": account.login_email,
                    "login_email": account.login_email,
                },
                "login_url": "https://login.mailchimp.com",
                "api_endpoint": emulator.api_endpoint(account.dc),
            }
        )
