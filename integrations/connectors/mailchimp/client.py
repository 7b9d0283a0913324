"""Calls to one Mailchimp account: HTTP Basic with the API key (any user name), on the host of
the key's data center, every call through the HTTP seam. Errors are ``application/problem+json``
(api-notes §4.5): ``classify`` turns the titles Mailchimp answers into ``ConnectorError``, a
refused member into ``MailchimpRefusal``."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, ClassVar

from django.views.decorators.debug import sensitive_variables

from integrations.connectors.api import ApiClient, json_body
from integrations.connectors.base import ConnectorError, RecordRefused
from integrations.connectors.http import HttpClient, HttpError

# The largest page the members and merge-fields listings serve.
MAX_COUNT = 1000
# The most members one batch subscribe takes.
MAX_BATCH = 500
# Titles of a 400 that concern the record sent, not the account.
REFUSALS = frozenset(
    {
        "Member Exists",
        "Invalid Resource",
        "Forgotten Email Not Subscribed",
        "Member In Compliance State",
        "JSON Parse Exception",
    }
)


class MailchimpRefusal(RecordRefused):
    """Mailchimp refused one member (``title`` says why)."""

    def __init__(self, message: str, *, title: str, field: str, status: int | None) -> None:
        super().__init__(message, field=field, reason=title, status=status)
        self.title = title


class MailchimpClient(ApiClient):
    app_name: ClassVar[str] = "Mailchimp"

    @sensitive_variables()
    def __init__(
        self, http: HttpClient, base_url: str, *, api_key: Callable[[], str], bearer: bool = False
    ) -> None:
        super().__init__(http, base_url, token=api_key)
        # An OAuth account's token goes as Bearer; an API key as the Basic password.
        self.bearer = bearer

    @sensitive_variables("token", "basic")
    def headers(self, token: str) -> dict[str, str]:
        if self.bearer:
            return {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        basic = base64.b64encode(f"tandem:{token}".encode()).decode()
        return {"Authorization": f"Basic {basic}", "Accept": "application/json"}

    def classify(self, error: HttpError, *, what: str) -> ConnectorError:
        body = json_body(error.response)
        title = str(body.get("title") or "")
        detail = self.http._redact(str(body.get("detail") or ""))[:300]
        status = error.status
        if status == 401:
            return ConnectorError(
                "Mailchimp: the OAuth access token was not accepted; connect the account again."
                if self.bearer
                else "Mailchimp: the API key was not accepted (API Key Invalid); check the key "
                "and its data center suffix (like -us19).",
                reauthorize=True,
                status=401,
            )
        if status == 400 and "signed up to a lot of lists very recently" in detail:
            # A per-email anti-abuse throttle: nothing wrong with the record, try later.
            return ConnectorError(f"Mailchimp: {detail}", status=429)
        if status == 400 and title in REFUSALS:
            errors = body.get("errors") or []
            where = ", ".join(
                f"{e.get('field')}: {e.get('message')}"
                for e in errors
                if isinstance(e, dict) and e.get("field")
            )
            field = next(
                (str(e["field"]) for e in errors if isinstance(e, dict) and e.get("field")),
                "the record",
            )
            message = f"Mailchimp refused {what} ({title}): {detail}"
            if where:
                message += f" [{self.http._redact(where)[:300]}]"
            return MailchimpRefusal(message, title=title, field=field, status=400)
        if status == 404:
            return ConnectorError(
                f"Mailchimp: {what}: {detail or 'the resource was not found'}", status=404
            )
        base = super().classify(error, what=what)
        if detail and status is not None and status != 429:
            base.message = f"{base.message} {detail}"
            base.args = (base.message,)
        return base

    # https://mailchimp.com/developer/marketing/api/ping/ping/
    def ping(self) -> dict[str, Any]:
        return self.call("GET", "/ping", kind="ping", what="checking the API key")

    # https://mailchimp.com/developer/marketing/api/lists/get-lists-info/
    def lists(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            params = {
                "count": MAX_COUNT,
                "offset": len(found),
                "fields": "lists.id,lists.name,lists.stats.member_count,total_items",
            }
            body = self.call(
                "GET", "/lists", params=params, kind="lists.list", what="listing the audiences"
            )
            page = body.get("lists") or []
            found.extend(page)
            if not page or len(found) >= int(body.get("total_items") or 0):
                return found

    # https://mailchimp.com/developer/marketing/api/list-merges/list-merge-fields/
    def merge_fields(self, list_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            params = {"count": MAX_COUNT, "offset": len(found)}
            body = self.call(
                "GET",
                f"/lists/{list_id}/merge-fields",
                params=params,
                kind="merge_fields.list",
                what="listing the merge fields",
            )
            page = body.get("merge_fields") or []
            found.extend(page)
            if not page or len(found) >= int(body.get("total_items") or 0):
                return found

    # https://mailchimp.com/developer/marketing/api/list-members/list-members-info/
    def members(
        self,
        list_id: str,
        *,
        since: str | None,
        status: str | None = None,
        offset: int = 0,
        count: int = MAX_COUNT,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "count": count,
            "offset": offset,
            "sort_field": "last_changed",
            "sort_dir": "ASC",
            "exclude_fields": "members._links,_links",
        }
        if since is not None:
            params["since_last_changed"] = since
        if status is not None:
            params["status"] = status
        return self.call(
            "GET",
            f"/lists/{list_id}/members",
            params=params,
            kind="members.list",
            what="listing members",
        )

    # https://mailchimp.com/developer/marketing/api/lists/batch-subscribe-or-unsubscribe/
    def batch_subscribe(self, list_id: str, members: list[dict[str, Any]]) -> dict[str, Any]:
        """Add new members only (``update_existing`` off): an existing one comes back as an
        ``ERROR_CONTACT_EXISTS`` error and is left as it is."""
        body = {"members": members, "update_existing": False}
        return self.call(
            "POST", f"/lists/{list_id}", json=body, kind="members.batch", what="adding members"
        )

    # https://mailchimp.com/developer/marketing/api/list-members/get-member-info/
    def member(self, list_id: str, member_hash: str) -> dict[str, Any] | None:
        response = self.request(
            "GET",
            f"/lists/{list_id}/members/{member_hash}",
            kind="members.get",
            what="reading a member",
            accept=(404,),
            params={"exclude_fields": "_links"},
        )
        return None if response.status_code == 404 else json_body(response)

    # https://mailchimp.com/developer/marketing/api/list-members/add-or-update-list-member/
    def upsert_member(self, list_id: str, member_hash: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.call(
            "PUT",
            f"/lists/{list_id}/members/{member_hash}",
            json=body,
            kind="members.upsert",
            what="adding a member",
        )

    # https://mailchimp.com/developer/marketing/api/list-members/update-list-member/
    def update_member(self, list_id: str, member_hash: str, body: dict[str, Any]) -> dict[str, Any]:
        # A PATCH sets the given fields: sending it twice changes nothing more.
        return self.call(
            "PATCH",
            f"/lists/{list_id}/members/{member_hash}",
            json=body,
            kind="members.update",
            what="updating a member",
            idempotent=True,
        )

    # https://mailchimp.com/developer/marketing/api/list-member-tags/add-or-remove-member-tags/
    def set_tags(self, list_id: str, member_hash: str, tags: list[dict[str, str]]) -> None:
        self.request(
            "POST",
            f"/lists/{list_id}/members/{member_hash}/tags",
            json={"tags": tags, "is_syncing": True},
            kind="members.tags",
            what="tagging a member",
            idempotent=True,
        )
