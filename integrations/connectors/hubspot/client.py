"""One method per HubSpot API call on the kit's ``ApiClient``, HubSpot's error bodies classified
into ``ConnectorError`` (messages start with "HubSpot:" and never carry a token), and HubSpot's
rate limits taught to the HTTP seam.

HubSpot tells its budget in ``X-HubSpot-RateLimit-*`` headers (a rolling 10-second window) and
refuses with 429 and a ``policyName``; the seam knows ``x-ratelimit-remaining`` /
``x-ratelimit-reset``. A response hook on the seam's session writes HubSpot's numbers in the
seam's words, so the seam's own ``RateGate`` (shared by every worker of the account) and its
retry waits honour them: a spent window closes the gate for the window's length, a 429 waits for
its policy's window (10 s, 1 s for searches). Searches carry no rate-limit headers and have their
own limit per second (api-notes §3.5), so the client also spaces its searches.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from django.conf import settings

from integrations.connectors.api import ApiClient, json_body
from integrations.connectors.base import ConnectorError, OAuth2, RecordRefused
from integrations.connectors.http import HttpClient, HttpError
from integrations.connectors.hubspot.mappers import field_of_property

PREFIX = "HubSpot:"
CONTACTS = "/crm/v3/objects/contacts"
CONTACTS_TYPE = "0-1"
# api-notes §3.5: 4 searches a second per token (newer docs say 5 per account).
SEARCHES_PER_SECOND = 4
# Seconds to wait for each policy's window, when a 429 says which one was spent.
POLICY_WAIT = {"TEN_SECONDLY_ROLLING": 10.0, "SECONDLY": 1.0}
SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.schemas.contacts.read",
    "crm.lists.read",
    "crm.lists.write",
    "oauth",
)
# https://developers.hubspot.com/docs/api/oauth-quickstart-guide
OAUTH = OAuth2(
    provider="HubSpot",
    authorize_url_setting="HUBSPOT_OAUTH_AUTHORIZE_URL",
    token_url_setting="HUBSPOT_OAUTH_TOKEN_URL",
    client_id_setting="HUBSPOT_OAUTH_CLIENT_ID",
    client_secret_setting="HUBSPOT_OAUTH_CLIENT_SECRET",
    scopes=SCOPES,
)


def teach_rate_limits(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Write HubSpot's rate-limit answer in the seam's headers (a ``requests`` response hook)."""
    headers = response.headers
    interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    remaining = headers.get("X-HubSpot-RateLimit-Remaining")
    if remaining is not None and "x-ratelimit-remaining" not in headers:
        headers["x-ratelimit-remaining"] = remaining.strip()
        if interval and "x-ratelimit-reset" not in headers:
            with contextlib.suppress(ValueError):
                headers["x-ratelimit-reset"] = str(int(interval) / 1000)
    if response.status_code == 429 and "x-ratelimit-reset" not in headers:
        policy = str(json_body(response).get("policyName") or "")
        wait = POLICY_WAIT.get(policy)
        if wait is not None:
            headers["x-ratelimit-reset"] = str(wait)


def error_parts(response: requests.Response | None) -> tuple[str, str, list[dict[str, Any]]]:
    """(category, message, errors) of HubSpot's error body; every part is optional."""
    body = json_body(response)
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    category = str(body.get("category") or body.get("errorType") or body.get("status") or "")
    return category, str(body.get("message") or ""), errors


class HubSpotRefusal(RecordRefused):
    """HubSpot refused the record sent (400 validation, 409 conflict): that write fails."""


def refusal(
    category: str, message: str, errors: list[dict[str, Any]], status: int
) -> HubSpotRefusal:
    field = "the record"
    for error in errors:
        names = (error.get("context") or {}).get("propertyName") or []
        if names:
            field = field_of_property(str(names[0]))
            break
    else:
        found = re.search(r'"name":"([a-z0-9_]+)"', message)
        if found:
            field = field_of_property(found.group(1))
        elif category == "CONFLICT":
            field = "email"
    reason = message or category or "refused"
    if errors and message.startswith("Property values were not valid"):
        reason = "; ".join(str(e.get("message") or "") for e in errors if e.get("message"))
    return HubSpotRefusal(
        f"HubSpot refused {field}: {reason}"[:500], field=field, reason=reason, status=status
    )


class HubSpotClient(ApiClient):
    app_name = "HubSpot"

    def __init__(
        self,
        http: HttpClient,
        *,
        token: Callable[[], str],
        renew_token: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(http, "", token=token, renew_token=renew_token)
        if teach_rate_limits not in http.session.hooks["response"]:
            http.session.hooks["response"].append(teach_rate_limits)
        self._last_search = 0.0

    def url(self, path: str) -> str:
        return settings.HUBSPOT_BASE_URL.rstrip("/") + path

    def classify(self, error: HttpError, *, what: str) -> ConnectorError:
        category, message, errors = error_parts(error.response)
        message = self.http._redact(message)
        status = error.status
        if status == 401:
            return ConnectorError(
                f"{PREFIX} the token was not accepted ({category or 401}); authorize the "
                "account again.",
                reauthorize=True,
                status=401,
            )
        if status == 403:
            return ConnectorError(
                f"{PREFIX} {what} is not allowed for this account ({message or category}).",
                permanent=True,
                status=403,
            )
        if status in (400, 409) and category != "RATE_LIMIT":
            return refusal(category, message, errors, status)
        if status == 429 and category == "RATE_LIMIT" and "daily" in message.casefold():
            return ConnectorError(
                f"{PREFIX} the account's daily API limit is spent.", status=429, retry_after=3600
            )
        return super().classify(error, what=what)

    def _pace_search(self) -> None:
        gap = 1.0 / SEARCHES_PER_SECOND - (time.monotonic() - self._last_search)
        if gap > 0:
            # A real pause, whatever the seam's sleep: the limit is the app's, per second.
            time.sleep(gap)
        self._last_search = time.monotonic()

    # ---- account -----------------------------------------------------------------------------

    # https://developers.hubspot.com/docs/api/settings/account-information-api
    def account_details(self) -> dict[str, Any]:
        return self.call("GET", "/account-info/v3/details", kind="account details")

    # https://developers.hubspot.com/docs/api/oauth-quickstart-guide (access token metadata)
    def token_info(self, access_token: str) -> dict[str, Any]:
        self.http.add_secret(access_token)
        response = self.http.request(
            "GET", self.url(f"/oauth/v1/access-tokens/{access_token}"), kind="token info"
        )
        return json_body(response)

    # ---- contacts ----------------------------------------------------------------------------

    # https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/basic/get-crm-v3-objects-contacts
    def list_contacts(
        self, *, properties: list[str], after: str = "", limit: int = 100, archived: bool = False
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "properties": ",".join(properties)}
        if after:
            params["after"] = after
        if archived:
            params["archived"] = "true"
        return self.call("GET", CONTACTS, kind="list contacts", params=params)

    # https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/search/post-crm-v3-objects-contacts-search
    def search_contacts(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._pace_search()
        return self.call(
            "POST", f"{CONTACTS}/search", kind="search contacts", idempotent=True, json=dict(body)
        )

    # https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-read
    def batch_read(
        self, ids: list[str], *, properties: list[str], id_property: str = ""
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "inputs": [{"id": i} for i in ids],
            "properties": properties,
            "propertiesWithHistory": [],
        }
        if id_property:
            body["idProperty"] = id_property
        return self.call(
            "POST",
            f"{CONTACTS}/batch/read",
            kind="batch read contacts",
            idempotent=True,
            accept=(207,),
            json=body,
        )

    # https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-create
    def batch_create(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        return self.call(
            "POST",
            f"{CONTACTS}/batch/create",
            kind="batch create contacts",
            idempotent=False,
            accept=(207,),
            json={"inputs": inputs},
        )

    # https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-update
    def batch_update(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        # Setting the same values again changes nothing, so a retry is safe.
        return self.call(
            "POST",
            f"{CONTACTS}/batch/update",
            kind="batch update contacts",
            idempotent=True,
            accept=(207,),
            json={"inputs": inputs},
        )

    # https://developers.hubspot.com/docs/api-reference/crm-properties-v3/core/get-crm-v3-properties-objectType
    def contact_properties(self) -> list[dict[str, Any]]:
        body = self.call("GET", "/crm/v3/properties/contacts", kind="contact properties")
        return [p for p in body.get("results") or [] if isinstance(p, dict)]

    # ---- lists -------------------------------------------------------------------------------

    # https://developers.hubspot.com/docs/api-reference/crm-lists-v3/lists/post-crm-v3-lists-search
    def search_lists(self, *, offset: int = 0, count: int = 500) -> dict[str, Any]:
        return self.call(
            "POST",
            "/crm/v3/lists/search",
            kind="search lists",
            idempotent=True,
            json={"offset": offset, "count": count, "additionalProperties": []},
        )

    # https://developers.hubspot.com/docs/api-reference/crm-lists-v3/lists/post-crm-v3-lists
    def create_list(self, name: str) -> dict[str, Any]:
        body = self.call(
            "POST",
            "/crm/v3/lists",
            kind="create list",
            idempotent=False,
            json={"name": name, "objectTypeId": CONTACTS_TYPE, "processingType": "MANUAL"},
        )
        found: dict[str, Any] = body.get("list") or {}
        return found

    # https://developers.hubspot.com/docs/api-reference/crm-lists-v3/memberships/put-crm-v3-lists-listId-memberships-add
    def change_members(self, list_id: str, ids: list[str], *, add: bool) -> dict[str, Any]:
        action = "add" if add else "remove"
        return self.call(
            "PUT",
            f"/crm/v3/lists/{list_id}/memberships/{action}",
            kind=f"list members {action}",
            json=ids,
        )

    # https://developers.hubspot.com/docs/api-reference/crm-lists-v3/memberships/post-crm-v3-lists-records-memberships-batch-read
    def memberships(self, ids: list[str]) -> dict[str, Any]:
        return self.call(
            "POST",
            "/crm/v3/lists/records/memberships/batch/read",
            kind="list memberships",
            idempotent=True,
            accept=(207,),
            json={"inputs": [{"objectTypeId": CONTACTS_TYPE, "recordId": i} for i in ids]},
        )

    # https://developers.hubspot.com/docs/api-reference/crm-lists-v3/memberships/get-crm-v3-lists-listId-memberships
    def list_members(self, list_id: str, *, after: str = "", limit: int = 250) -> dict[str, Any]:
        """One page of a list's members (``results`` of ``recordId``), by record id ascending."""
        return self.call(
            "GET",
            f"/crm/v3/lists/{list_id}/memberships",
            kind="list members",
            idempotent=True,
            params={"limit": limit, **({"after": after} if after else {})},
        )
