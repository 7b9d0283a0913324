"""OAuth 2.0 (RFC 6749) for the apps that declare it (``Capabilities.oauth``): the consent page
URL, the authorization code exchange, and ``OAuthTokens``, which keeps a connector's access token
fresh.

Endpoints and client credentials are read from the settings the declaration names. Token
endpoint errors are RFC 6749 section 5.2 bodies (``{"error": "invalid_grant", ...}``); messages
start with the app's name and never carry a code, token or client secret.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from integrations.connectors.api import json_body
from integrations.connectors.base import Connector, ConnectorError, OAuth2
from integrations.connectors.http import HttpClient, HttpError

# An access token without ``expires_in`` is taken to last this long (seconds).
DEFAULT_LIFETIME = 3600.0
# An access token is refreshed this long (seconds) before it expires.
REFRESH_MARGIN = 120.0


def setting(name: str) -> str:
    return str(getattr(settings, name, "") or "")


def authorize_url(spec: OAuth2, *, redirect_uri: str, state: str) -> str:
    """The app's consent page, which sends the user back to ``redirect_uri`` with a code."""
    query = urlencode(
        {
            "client_id": setting(spec.client_id_setting),
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(spec.scopes),
            **dict(spec.authorize_params),
            "state": state,
        }
    )
    return f"{setting(spec.authorize_url_setting)}?{query}"


@sensitive_variables()
def exchange_code(
    http: HttpClient, spec: OAuth2, *, app_name: str, code: str, redirect_uri: str
) -> dict[str, Any]:
    """Trade an authorization code for tokens: credentials with ``access_token``,
    ``expires_at`` (epoch seconds) and, when the app hands one out, ``refresh_token``."""
    http.add_secret(code)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
    }
    return _token_call(http, spec, data, app_name, "the authorization code exchange")


@sensitive_variables()
def refresh_access_token(
    http: HttpClient, spec: OAuth2, *, app_name: str, refresh_token: str
) -> dict[str, Any]:
    """A new access token (and ``expires_at``) for a stored refresh token."""
    http.add_secret(refresh_token)
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return _token_call(http, spec, data, app_name, "refreshing the access token")


@sensitive_variables()
def _token_call(
    http: HttpClient, spec: OAuth2, data: dict[str, str], app_name: str, what: str
) -> dict[str, Any]:
    client_secret = setting(spec.client_secret_setting)
    http.add_secret(client_secret)
    form = {**data, "client_id": setting(spec.client_id_setting), "client_secret": client_secret}
    try:
        response = http.request(
            "POST", setting(spec.token_url_setting), kind="oauth.token", idempotent=True, data=form
        )
    except HttpError as exc:
        raise token_error(http, exc, spec, app_name, what, grant=data["grant_type"]) from None
    tokens = json_body(response)
    if not tokens.get("access_token"):
        raise ConnectorError(f"{app_name}: {what} returned no access token.")
    credentials: dict[str, Any] = {
        "access_token": str(tokens["access_token"]),
        "expires_at": time.time() + float(tokens.get("expires_in") or DEFAULT_LIFETIME),
    }
    http.add_secret(credentials["access_token"])
    if tokens.get("refresh_token"):
        credentials["refresh_token"] = str(tokens["refresh_token"])
        http.add_secret(credentials["refresh_token"])
    return credentials


def token_error(
    http: HttpClient, exc: HttpError, spec: OAuth2, app_name: str, what: str, *, grant: str
) -> ConnectorError:
    """What a refusal of the token endpoint means: a spent code (start again), a revoked grant
    (authorize again) or Tandem's own client misconfigured (no user can fix that)."""
    body = json_body(exc.response)
    error = body.get("error")
    # Some providers answer a google.rpc-like ``{"error": {"status", "message"}}`` instead.
    if isinstance(error, dict):
        code = str(error.get("status") or "")
        detail = str(error.get("message") or code)
    else:
        code = str(error or "")
        detail = " ".join(p for p in (code, str(body.get("error_description") or "")) if p)
    if code == "invalid_grant" and grant == "authorization_code":
        return ConnectorError(
            f"{app_name}: {spec.provider} refused the sign-in code (invalid_grant): it was used "
            "already or has expired. Start connecting the account again.",
            permanent=True,
            status=exc.status,
        )
    if code == "invalid_client":
        return ConnectorError(
            f"{app_name}: {spec.provider} refused Tandem's OAuth client (invalid_client); check "
            f"{spec.client_id_setting} and {spec.client_secret_setting}.",
            permanent=True,
            status=exc.status,
        )
    if code == "invalid_grant":
        return ConnectorError(
            f"{app_name}: access was revoked or expired (invalid_grant); "
            "authorize the account again.",
            reauthorize=True,
            status=exc.status,
        )
    status = exc.status
    text = f"{app_name}: {what} failed ({status or 'no answer'})"
    if status is None and exc.url:
        text += f" at {exc.url}"
    if detail:
        text += f": {detail}"
    return ConnectorError(
        http._redact(text),
        permanent=status in (400, 403, 404, 409),
        reauthorize=status == 401,
        status=status,
    )


class OAuthTokens:
    """The access token of an OAuth app's connector: refreshed shortly before it expires (and
    when ``renew`` is called after a 401), the new credentials handed to the connector to
    store. Credentials hold ``access_token``, ``expires_at`` and ``refresh_token``."""

    def __init__(self, connector: Connector, *, margin: float = REFRESH_MARGIN) -> None:
        spec = connector.capabilities.oauth
        if spec is None:
            raise ValueError(f"{connector.name} declares no OAuth 2.0 endpoints.")
        self.connector = connector
        self.spec = spec
        self.margin = margin

    @sensitive_variables()
    def token(self) -> str:
        credentials = self.connector.credentials
        token = str(credentials.get("access_token") or "")
        expires_at = float(credentials.get("expires_at") or 0)
        if not token or expires_at - self.margin <= time.time():
            return self.refresh()
        return token

    @sensitive_variables()
    def refresh(self) -> str:
        connector = self.connector
        refresh_token = str(connector.credentials.get("refresh_token") or "")
        if not refresh_token:
            raise ConnectorError(
                f"{connector.name}: no refresh token is stored; authorize the account again.",
                reauthorize=True,
            )
        fresh = refresh_access_token(
            connector.http, self.spec, app_name=connector.name, refresh_token=refresh_token
        )
        connector.save_credentials({**connector.credentials, **fresh})
        return str(fresh["access_token"])

    @sensitive_variables()
    def renew(self) -> bool:
        """After a 401: a refreshed token (or a "re-authorize" error when none can be had)."""
        return bool(self.refresh())
