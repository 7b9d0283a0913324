"""How a Mailchimp account signs in (api-notes §4.1): an API key (``<hex>-<dc>``, HTTP Basic)
typed on the accounts page, or an OAuth 2 access token from the consent page (``Bearer``).

Mailchimp's access tokens do not expire and come without a refresh token; the data center the
API host needs is not in the token but read once from the metadata endpoint and kept with it.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from integrations.connectors.api import json_body
from integrations.connectors.base import ConnectorError, OAuth2
from integrations.connectors.http import HttpClient, HttpError

# https://mailchimp.com/developer/marketing/guides/access-user-data-oauth-2/
OAUTH = OAuth2(
    provider="Mailchimp",
    authorize_url_setting="MAILCHIMP_OAUTH_AUTHORIZE_URL",
    token_url_setting="MAILCHIMP_OAUTH_TOKEN_URL",
    client_id_setting="MAILCHIMP_OAUTH_CLIENT_ID",
    client_secret_setting="MAILCHIMP_OAUTH_CLIENT_SECRET",
    scopes=(),
)
DC_RE = re.compile(r"[a-z]{2}\d{1,3}")


def oauth_data_center(dc: Any) -> str:
    """The data center kept with an OAuth token; ``ValueError`` when it is not one."""
    value = str(dc or "").strip()
    if not DC_RE.fullmatch(value):
        raise ValueError(
            "A Mailchimp OAuth token needs its data center (like us19), read from the "
            "metadata endpoint; connect the account again."
        )
    return value


@sensitive_variables("credentials", "token")
def complete_oauth(http: HttpClient, credentials: dict[str, Any]) -> dict[str, Any]:
    """The token with its account's data center and login email, from the metadata endpoint
    (``Authorization: OAuth <token>``); no expiry is kept: Mailchimp's tokens do not expire."""
    token = str(credentials.get("access_token") or "")
    http.add_secret(token)
    try:
        response = http.request(
            "GET",
            settings.MAILCHIMP_OAUTH_METADATA_URL,
            kind="oauth.metadata",
            headers={"Authorization": f"OAuth {token}", "Accept": "application/json"},
        )
    except HttpError as exc:
        raise ConnectorError(
            "Mailchimp: the account's data center could not be read from the OAuth metadata "
            f"endpoint ({exc.status or 'no answer'}); connect the account again.",
            permanent=True,
            reauthorize=exc.status == 401,
            status=exc.status,
        ) from None
    metadata = json_body(response)
    try:
        dc = oauth_data_center(metadata.get("dc"))
    except ValueError:
        raise ConnectorError(
            "Mailchimp: the OAuth metadata endpoint named no data center; connect the account "
            "again.",
            permanent=True,
        ) from None
    login = metadata.get("login")
    if not isinstance(login, dict):
        login = {}
    email = str(login.get("login_email") or login.get("email") or "")
    return {"access_token": token, "dc": dc, "email": email}
