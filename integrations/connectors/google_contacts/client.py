"""Google's OAuth 2.0 endpoints and the People API calls Tandem makes: one method per call on
the kit's ``ApiClient``. Error messages start with "Google Contacts:" and carry Google's own
words, never a token."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from integrations.connectors.api import ApiClient, json_body
from integrations.connectors.base import ConnectorError, OAuth2
from integrations.connectors.http import HttpError

PREFIX = "Google Contacts:"
SCOPE = "https://www.googleapis.com/auth/contacts"
# https://developers.google.com/identity/protocols/oauth2/web-server
OAUTH = OAuth2(
    provider="Google",
    authorize_url_setting="GOOGLE_OAUTH_AUTHORIZE_URL",
    token_url_setting="GOOGLE_OAUTH_TOKEN_URL",
    client_id_setting="GOOGLE_OAUTH_CLIENT_ID",
    client_secret_setting="GOOGLE_OAUTH_CLIENT_SECRET",
    scopes=(SCOPE,),
    # A refresh token, asked for again at every consent; earlier grants kept.
    authorize_params=(
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("include_granted_scopes", "true"),
    ),
)
PERSON_FIELDS = (
    "names,emailAddresses,phoneNumbers,organizations,addresses,birthdays,urls,biographies,"
    "userDefined,clientData,memberships,metadata"
)
# What a create's answer is read for: the new contact's resource name and etag (always in
# it), its emails and its update time (``GoogleContactsConnector._remember``). Its values are
# those just sent, and the labels asked for are read afresh once added. The whole person (12
# fields) made the 25 batches of the initial sync at 10,000 move 7.0 MB instead of 3.8
# (bench/README.md, ninth session).
CREATED_FIELDS = "emailAddresses,metadata"


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


class PeopleClient(ApiClient):
    """Authorized People API calls; the base URL is read from the settings at each call."""

    app_name = "Google Contacts"

    def url(self, path: str) -> str:
        return f"{settings.GOOGLE_PEOPLE_BASE_URL.rstrip('/')}/v1/{path}"

    def classify(self, error: HttpError, *, what: str) -> ConnectorError:
        """Google's ``google.rpc.Status`` body (``{"error": {"code", "message", "status",
        "details"}}``) as a ``GoogleApiError``."""
        if error.status == 401:
            # Only ever after the one refresh the kit tries.
            return ConnectorError(
                f"{PREFIX} {what} was refused (401) even with a new access token; authorize "
                "the account again.",
                reauthorize=True,
                status=401,
            )
        body = json_body(error.response)
        found = body.get("error")
        google = found if isinstance(found, dict) else {"status": str(found or "")}
        detail = str(google.get("message") or google.get("status") or "")
        status = error.status
        text = f"{PREFIX} {what} failed ({status or 'no answer'})"
        if status is None and error.url:
            text += f" at {error.url}"
        if detail:
            text += f": {detail}"
        return GoogleApiError(self.http._redact(text), status=status, error=google)

    # https://developers.google.com/people/api/rest/v1/people/get
    def me(self) -> dict[str, Any]:
        return self.call(
            "GET",
            "people/me",
            kind="people.get.me",
            what="reading the account",
            params={"personFields": "emailAddresses"},
        )

    # https://developers.google.com/people/api/rest/v1/people.connections/list
    def connections_page(
        self,
        *,
        page_size: int,
        page_token: str = "",
        sync_token: str = "",
        request_sync_token: bool = False,
        person_fields: str = PERSON_FIELDS,
        newest_first: bool = False,
    ) -> bytes:
        """A page of the account's contacts as its body (JSON, not decoded): a change feed's
        pages are decoded in part (``mappers.listed_page``), others by ``json_object``."""
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
        # A page of 1,000 is about 1 MB: read in one piece rather than in the 10 KB chunks
        # ``Response.content`` joins (about 1.5 ms less a page).
        response = self.request(
            "GET",
            "people/me/connections",
            kind="connections.list",
            what="listing contacts",
            params=params,
            stream=True,
        )
        body: bytes = response.raw.read(decode_content=True)
        return body

    # https://developers.google.com/people/api/rest/v1/people/getBatchGet
    def batch_get(self, resource_names: list[str]) -> dict[str, Any]:
        params = [("personFields", PERSON_FIELDS)] + [("resourceNames", n) for n in resource_names]
        return self.call(
            "GET", "people:batchGet", kind="people.batchGet", what="reading contacts", params=params
        )

    # https://developers.google.com/people/api/rest/v1/people/get
    def get(self, resource_name: str) -> dict[str, Any]:
        return self.call(
            "GET",
            resource_name,
            kind="people.get",
            what="reading a contact",
            params={"personFields": PERSON_FIELDS},
        )

    # https://developers.google.com/people/api/rest/v1/people/batchCreateContacts
    def batch_create(self, people: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"contacts": [{"contactPerson": p} for p in people], "readMask": CREATED_FIELDS}
        return self.call(
            "POST",
            "people:batchCreateContacts",
            kind="people.batchCreateContacts",
            what="creating contacts",
            json=body,
        )

    # https://developers.google.com/people/api/rest/v1/people/createContact
    def create(self, person: dict[str, Any]) -> dict[str, Any]:
        return self.call(
            "POST",
            "people:createContact",
            kind="people.createContact",
            what="creating a contact",
            params={"personFields": CREATED_FIELDS},
            json=person,
        )

    # https://developers.google.com/people/api/rest/v1/people/batchUpdateContacts
    def batch_update(self, people: dict[str, dict[str, Any]], mask: set[str]) -> dict[str, Any]:
        # Safe to repeat: a replay carries an etag that no longer matches and is refused.
        body = {"contacts": people, "updateMask": ",".join(sorted(mask)), "readMask": PERSON_FIELDS}
        return self.call(
            "POST",
            "people:batchUpdateContacts",
            kind="people.batchUpdateContacts",
            what="updating contacts",
            idempotent=True,
            json=body,
        )

    # https://developers.google.com/people/api/rest/v1/people/updateContact
    def update(self, resource_name: str, person: dict[str, Any], mask: set[str]) -> dict[str, Any]:
        return self.call(
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
        return self.call(
            "GET", "contactGroups", kind="contactGroups.list", what="listing labels", params=params
        )

    # https://developers.google.com/people/api/rest/v1/contactGroups/create
    def create_group(self, name: str) -> dict[str, Any]:
        return self.call(
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
        return self.call(
            "POST",
            f"{group}/members:modify",
            kind="contactGroups.members.modify",
            what="changing label members",
            idempotent=True,
            json={"resourceNamesToAdd": add or [], "resourceNamesToRemove": remove or []},
        )
