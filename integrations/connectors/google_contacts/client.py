"""Google's OAuth 2.0 token endpoint and the People API calls Tandem makes: one function per call,
every one through the HTTP seam. Error messages start with "Google Contacts:" and carry Google's
own words, never a token."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import requests
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from integrations.connectors.base import ConnectorError
from integrations.connectors.http import HttpClient, HttpError

PREFIX = "Google Contacts:"
SCOPE = "https://www.googleapis.com/auth/contacts"
PERSON_FIELDS = (
    "names,emailAddresses,phoneNumbers,organizations,addresses,birthdays,urls,biographies,"
    "userDefined,clientData,memberships,metadata"
)


class GoogleApiError(ConnectorError):
    """A People API refusal, with the ``google.rpc.Status`` body for callers that need it."""

    def __init__(self, message: str, *, status: int | None, error: dict[str, Any]) -> None:
        reauthorize = status == 401
        super().__init__(
            message,
            permanent=status in (400, 403, 404, 409) or reauthorize,
            reauthorize=reauthorize,
            status=status,
        )
        self.error = error

    @property
    def google_status(self) -> str:
        return str(self.error.get("status") or "")

    @property
    def reasons(self) -> set[str]:
        return {str(d.get("reason")) for d in self.error.get("details") or [] if d.get("reason")}

    @property
    def expired_sync_token(self) -> bool:
        return self.status == 410 or (self.status == 400 and "EXPIRED_SYNC_TOKEN" in self.reasons)

    @property
    def stale_etag(self) -> bool:
        return (
            self.status == 400
            and self.google_status == "FAILED_PRECONDITION"
            and ("EXPIRED_SYNC_TOKEN" not in self.reasons)
        )


def _body(response: requests.Response | None) -> dict[str, Any]:
    if response is None:
        return {}
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _failure(http: HttpClient, exc: HttpError, what: str) -> GoogleApiError:
    body = _body(exc.response)
    error = body.get("error")
    if isinstance(error, dict):
        detail = str(error.get("message") or error.get("status") or "")
    else:
        error = {"status": str(error or ""), "message": str(body.get("error_description") or "")}
        detail = " ".join(p for p in (error["status"], error["message"]) if p)
    status = exc.status
    text = f"{PREFIX} {what} failed ({status or 'no answer'})"
    if status is None and exc.url:
        text += f" at {exc.url}"
    if detail:
        text += f": {detail}"
    return GoogleApiError(http._redact(text), status=status, error=error)


# Tokens -------------------------------------------------------------------------------------


# https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code
@sensitive_variables()
def exchange_code(http: HttpClient, code: str, redirect_uri: str) -> dict[str, Any]:
    """Trade an authorization code for tokens; returns credentials with ``expires_at``."""
    http.add_secret(code)
    return _token_call(
        http,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": settings.GOOGLE_OAUTH_CLIENT_ID,
            "client_secret": settings.GOOGLE_OAUTH_CLIENT_SECRET,
        },
        "the authorization code exchange",
    )


# https://developers.google.com/identity/protocols/oauth2/web-server#offline
@sensitive_variables()
def refresh_access_token(http: HttpClient, refresh_token: str) -> dict[str, Any]:
    return _token_call(
        http,
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": settings.GOOGLE_OAUTH_CLIENT_ID,
            "client_secret": settings.GOOGLE_OAUTH_CLIENT_SECRET,
        },
        "refreshing the access token",
    )


@sensitive_variables()
def _token_call(http: HttpClient, data: dict[str, str], what: str) -> dict[str, Any]:
    http.add_secret(settings.GOOGLE_OAUTH_CLIENT_SECRET)
    try:
        response = http.request(
            "POST", settings.GOOGLE_OAUTH_TOKEN_URL, kind="oauth.token", idempotent=True, data=data
        )
    except HttpError as exc:
        failure = _failure(http, exc, what)
        reason = failure.error.get("status")
        if reason == "invalid_grant" and data["grant_type"] == "authorization_code":
            raise ConnectorError(
                f"{PREFIX} Google refused the sign-in code (invalid_grant): it was used already "
                "or has expired. Start connecting the account again.",
                permanent=True,
                status=exc.status,
            ) from None
        if reason == "invalid_client":
            # Tandem's own OAuth client is misconfigured: authorizing again would not help.
            raise ConnectorError(
                f"{PREFIX} Google refused Tandem's OAuth client (invalid_client); check "
                "GOOGLE_OAUTH_CLIENT_ID and GOOGLE_OAUTH_CLIENT_SECRET.",
                permanent=True,
                status=exc.status,
            ) from None
        if reason == "invalid_grant":
            raise ConnectorError(
                f"{PREFIX} access was revoked or expired (invalid_grant); "
                "authorize the account again.",
                reauthorize=True,
                status=exc.status,
            ) from None
        raise failure from None
    tokens = _body(response)
    if not tokens.get("access_token"):
        raise ConnectorError(f"{PREFIX} {what} returned no access token.")
    http.add_secret(str(tokens["access_token"]))
    if tokens.get("refresh_token"):
        http.add_secret(str(tokens["refresh_token"]))
    credentials = {
        "access_token": str(tokens["access_token"]),
        "expires_at": time.time() + float(tokens.get("expires_in") or 3600),
    }
    if tokens.get("refresh_token"):
        credentials["refresh_token"] = str(tokens["refresh_token"])
    return credentials


# People API ---------------------------------------------------------------------------------


class PeopleClient:
    """Authorized People API calls. ``token()`` gives a fresh access token; ``refresh()`` forces
    a new one (used once after a 401)."""

    def __init__(
        self, http: HttpClient, *, token: Callable[[], str], refresh: Callable[[], str]
    ) -> None:
        self.http = http
        self.token = token
        self.refresh = refresh

    @property
    def base(self) -> str:
        return f"{settings.GOOGLE_PEOPLE_BASE_URL.rstrip('/')}/v1"

    @sensitive_variables("token")
    def _call(
        self,
        method: str,
        path: str,
        *,
        kind: str,
        what: str,
        idempotent: bool | None = None,
        params: Iterable[tuple[str, str]] | dict[str, str] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        url = f"{self.base}/{path}"
        token = self.token()
        for attempt in range(2):
            try:
                response = self.http.request(
                    method,
                    url,
                    kind=kind,
                    idempotent=idempotent,
                    accept=(401,),
                    headers={"Authorization": f"Bearer {token}"},
                    params=params,
                    json=json,
                )
            except HttpError as exc:
                raise _failure(self.http, exc, what) from None
            if response.status_code != 401:
                return _body(response)
            if attempt == 0:
                token = self.refresh()
        raise ConnectorError(
            f"{PREFIX} {what} was refused (401) even with a new access token; authorize the "
            "account again.",
            reauthorize=True,
            status=401,
        )

    # https://developers.google.com/people/api/rest/v1/people/get
    def me(self) -> dict[str, Any]:
        return self._call(
            "GET",
            "people/me",
            kind="people.get.me",
            what="reading the account",
            params={"personFields": "emailAddresses"},
        )

    # https://developers.google.com/people/api/rest/v1/people.connections/list
    def list_connections(
        self,
        *,
        page_size: int,
        page_token: str = "",
        sync_token: str = "",
        request_sync_token: bool = False,
        person_fields: str = PERSON_FIELDS,
        newest_first: bool = False,
    ) -> dict[str, Any]:
        # Only change feeds ask for a sync token: the first page of a listing that does draws on
        # a separate fixed quota that lookups have no business spending.
        params = {"personFields": person_fields, "pageSize": str(page_size)}
        if request_sync_token or sync_token:
            params["requestSyncToken"] = "true"
        if sync_token:
            params["syncToken"] = sync_token
        if page_token:
            params["pageToken"] = page_token
        if newest_first:
            params["sortOrder"] = "LAST_MODIFIED_DESCENDING"
        return self._call(
            "GET",
            "people/me/connections",
            kind="connections.list",
            what="listing contacts",
            params=params,
        )

    # https://developers.google.com/people/api/rest/v1/people/getBatchGet
    def batch_get(self, resource_names: list[str]) -> dict[str, Any]:
        params = [("personFields", PERSON_FIELDS)] + [("resourceNames", n) for n in resource_names]
        return self._call(
            "GET", "people:batchGet", kind="people.batchGet", what="reading contacts", params=params
        )

    # https://developers.google.com/people/api/rest/v1/people/get
    def get(self, resource_name: str) -> dict[str, Any]:
        return self._call(
            "GET",
            resource_name,
            kind="people.get",
            what="reading a contact",
            params={"personFields": PERSON_FIELDS},
        )

    # https://developers.google.com/people/api/rest/v1/people/batchCreateContacts
    def batch_create(self, people: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"contacts": [{"contactPerson": p} for p in people], "readMask": PERSON_FIELDS}
        return self._call(
            "POST",
            "people:batchCreateContacts",
            kind="people.batchCreateContacts",
            what="creating contacts",
            json=body,
        )

    # https://developers.google.com/people/api/rest/v1/people/createContact
    def create(self, person: dict[str, Any]) -> dict[str, Any]:
        return self._call(
            "POST",
            "people:createContact",
            kind="people.createContact",
            what="creating a contact",
            params={"personFields": PERSON_FIELDS},
            json=person,
        )

    # https://developers.google.com/people/api/rest/v1/people/batchUpdateContacts
    def batch_update(self, people: dict[str, dict[str, Any]], mask: set[str]) -> dict[str, Any]:
        # Safe to repeat: a replay carries an etag that no longer matches and is refused.
        body = {"contacts": people, "updateMask": ",".join(sorted(mask)), "readMask": PERSON_FIELDS}
        return self._call(
            "POST",
            "people:batchUpdateContacts",
            kind="people.batchUpdateContacts",
            what="updating contacts",
            idempotent=True,
            json=body,
        )

    # https://developers.google.com/people/api/rest/v1/people/updateContact
    def update(self, resource_name: str, person: dict[str, Any], mask: set[str]) -> dict[str, Any]:
        return self._call(
            "PATCH",
            f"{resource_name}:updateContact",
            kind="people.updateContact",
            what="updating a contact",
            idempotent=True,
            params={"updatePersonFields": ",".join(sorted(mask)), "personFields": PERSON_FIELDS},
            json=person,
        )

    # https://developers.google.com/people/api/rest/v1/contactGroups/list
    def list_groups(self, page_token: str = "") -> dict[str, Any]:
        params = {"pageSize": "1000"}
        if page_token:
            params["pageToken"] = page_token
        return self._call(
            "GET", "contactGroups", kind="contactGroups.list", what="listing labels", params=params
        )

    # https://developers.google.com/people/api/rest/v1/contactGroups/create
    def create_group(self, name: str) -> dict[str, Any]:
        return self._call(
            "POST",
            "contactGroups",
            kind="contactGroups.create",
            what=f"creating the label {name!r}",
            json={"contactGroup": {"name": name}},
        )

    # https://developers.google.com/people/api/rest/v1/contactGroups.members/modify
    def modify_members(
        self, group: str, *, add: list[str] | None = None, remove: list[str] | None = None
    ) -> dict[str, Any]:
        # Adding or removing a member twice has the same effect, so retrying is safe.
        return self._call(
            "POST",
            f"{group}/members:modify",
            kind="contactGroups.members.modify",
            what="changing label members",
            idempotent=True,
            json={"resourceNamesToAdd": add or [], "resourceNamesToRemove": remove or []},
        )
