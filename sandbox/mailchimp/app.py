"""The Mailchimp Marketing API host: the emulator's store, its control methods and its routes.

Paths are ``/<dc>/3.0/...`` below the mount point (the real API is
``https://<dc>.api.mailchimp.com/3.0``), so ``MAILCHIMP_BASE_URL_TEMPLATE`` puts the data center
in the path here as the real one puts it in the host. Auth is HTTP Basic with any user name and an
API key ``<hex>-<dc>`` as the password, or a bearer token from the OAuth flow (``oauth``); a key
sent to another data center is refused as Mailchimp refuses it. Served (api-notes §4):
``GET /ping``, ``GET /lists``, ``GET /lists/{id}``, merge fields (``GET``/``POST``), members
(list with ``count`` ≤ 1000, ``offset``, ``status``, ``since_last_changed``,
``before_last_changed``, ``unsubscribed_since``, ``sort_field``/``sort_dir``,
``fields``/``exclude_fields``; get by hash or email; ``POST`` add; ``PUT`` upsert with
``status_if_new``; ``PATCH``; ``DELETE`` = archive; ``actions/delete-permanent``), member tags
(``GET``/``POST``). Not served: the batch endpoints (``POST /lists/{id}``, ``/batches``), which
Tandem does not call.

A listing without ``status`` leaves archived members out (they are listed with
``status=archived``); ``since_last_changed`` is exclusive ("changed after"). More than
``max_connections`` requests of one account in flight answer 429. Errors are
``application/problem+json`` (``errors``).

Control: the kit's (faults, clock, requests, stats, reset) plus ``create_account``,
``create_audience``, ``add_merge_field``, ``add_member``, ``members``, ``member``,
``unsubscribe``, ``archive``, ``add_client`` and the knobs ``max_connections`` and ``latency``
(seconds each API request holds its connection), with their routes (see ``control``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from sandbox.kit import Emulator, drop_connection, json_response, parse_iso, sleep_for
from sandbox.mailchimp import oauth
from sandbox.mailchimp.audiences import (
    STATUSES,
    UNARCHIVABLE,
    Account,
    Audience,
    add_tag,
    check_email,
    check_merge_fields,
    check_status_change,
    iso,
    merge_field_spec,
    new_member,
    normalized_merge_values,
    render,
    subscriber_hash,
)
from sandbox.mailchimp.errors import ApiError, invalid, not_found, problem_response
from sandbox.mailchimp.schema import check_body

MAX_COUNT = 1000
DEFAULT_COUNT = 10
DEFAULT_MERGE_FIELDS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("FNAME", "First Name", "text", {}),
    ("LNAME", "Last Name", "text", {}),
    ("ADDRESS", "Address", "address", {"default_country": 164}),
    ("PHONE", "Phone Number", "phone", {"phone_format": "none"}),
    ("BIRTHDAY", "Birthday", "birthday", {"date_format": "MM/DD"}),
)
SORT_FIELDS = ("timestamp_opt", "timestamp_signup", "last_changed")
KEY_RE = re.compile(r"^[0-9a-f]{32}-([a-z]{2}\d{1,3})$")
MEMBER = r"[^/]+"
LIST = r"[0-9a-z]+"
ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("/ping", r"/ping"),
        ("/lists", r"/lists"),
        ("/lists/{list_id}", rf"/lists/({LIST})"),
        ("/lists/{list_id}/merge-fields", rf"/lists/({LIST})/merge-fields"),
        ("/lists/{list_id}/members", rf"/lists/({LIST})/members"),
        ("/lists/{list_id}/members/{subscriber_hash}", rf"/lists/({LIST})/members/({MEMBER})"),
        (
            "/lists/{list_id}/members/{subscriber_hash}/tags",
            rf"/lists/({LIST})/members/({MEMBER})/tags",
        ),
        (
            "/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent",
            rf"/lists/({LIST})/members/({MEMBER})/actions/delete-permanent",
        ),
    )
)


class MailchimpEmulator(Emulator):
    slug = "mailchimp"
    transient: ClassVar[frozenset[str]] = Emulator.transient | {"in_flight"}

    def __init__(self) -> None:
        super().__init__()
        self.in_flight: dict[str, int] = {}
        self.reset()

    # ---- control API -------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.reset_kit()
            self.accounts: dict[str, Account] = {}
            self.keys: dict[str, str] = {}
            self.audience_owner: dict[str, str] = {}
            self.clients: dict[str, str] = {}
            self.codes: dict[str, tuple[str, str, str]] = {}
            self.access_tokens: dict[str, str] = {}
            self.max_connections = 10
            self.latency = 0.0
            self.ids = itertools.count(1)

    def seed_demo(self) -> dict[str, Any]:
        from sandbox.mailchimp.seed import seed_demo

        return seed_demo(self)

    def now(self) -> str:
        with self.lock:
            return iso(self.clock.now())

    def api_endpoint(self, dc: str) -> str:
        """What the OAuth metadata names as the account's API host."""
        return f"{self.base_url}/{dc}" if self.base_url else f"https://{dc}.api.mailchimp.com"

    def create_account(
        self, dc: str, *, name: str, login_email: str, api_key: str | None = None
    ) -> tuple[Account, str]:
        """A new account in data center ``dc`` and an API key for it (given or made)."""
        if not re.fullmatch(r"[a-z]{2}\d{1,3}", dc):
            raise ValueError("dc must look like us19")
        with self.lock:
            user_id = str(80_000_000 + next(self.ids))
            account = Account(dc=dc, name=name, login_email=login_email, user_id=user_id)
            self.accounts[user_id] = account
            key = self.add_api_key(user_id, api_key)
            return account, key

    def add_api_key(self, user_id: str, key: str | None = None) -> str:
        with self.lock:
            account = self.accounts[user_id]
            key = key or f"{secrets.token_hex(16)}-{account.dc}"
            match = KEY_RE.match(key)
            if match is None or match.group(1) != account.dc:
                raise ValueError(f"an API key is 32 hex digits, a dash and the dc ({account.dc})")
            account.api_keys.add(key)
            self.keys[key] = user_id
            return key

    def add_client(self, client_id: str, secret: str) -> None:
        with self.lock:
            self.clients[client_id] = secret

    def account_by_login(self, login: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.login_email == login), None)

    def account_by_user(self, user_id: str) -> Account | None:
        return self.accounts.get(user_id)

    def first_account(self) -> Account | None:
        return next(iter(self.accounts.values()), None)

    def create_audience(
        self,
        user_id: str,
        name: str,
        *,
        list_id: str | None = None,
        merge_fields: Iterable[tuple[str, str, str, dict[str, Any]]] = DEFAULT_MERGE_FIELDS,
    ) -> Audience:
        """An audience with merge fields ``(tag, name, type, options)`` (the default five)."""
        with self.lock:
            list_id = list_id or secrets.token_hex(5)
            if list_id in self.audience_owner:
                raise ValueError(f"audience {list_id} exists")
            audience = Audience(
                id=list_id, name=name, web_id=200_000 + next(self.ids), date_created=self.now()
            )
            self.accounts[user_id].audiences[list_id] = audience
            self.audience_owner[list_id] = user_id
            for tag, label, kind, options in merge_fields:
                self.add_merge_field(
                    list_id, {"tag": tag, "name": label, "type": kind, "options": options}
                )
            return audience

    def audience(self, list_id: str) -> Audience:
        with self.lock:
            return self.accounts[self.audience_owner[list_id]].audiences[list_id]

    def add_merge_field(self, list_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            audience = self.audience(list_id)
            spec = merge_field_spec(
                audience, check_body("/lists/{list_id}/merge-fields", "post", dict(body))
            )
            audience.merge_fields.append(spec)
            return dict(spec)

    def add_member(self, list_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Add a member as ``POST .../members`` would (validated), without a request."""
        with self.lock:
            audience = self.audience(list_id)
            return render(audience, self._add(audience, dict(body), skip_validation=False))

    def members(self, list_id: str) -> list[dict[str, Any]]:
        """Every member as the API renders it, archived ones too."""
        with self.lock:
            audience = self.audience(list_id)
            return [render(audience, m) for m in audience.members.values()]

    def member(self, list_id: str, email: str) -> dict[str, Any] | None:
        with self.lock:
            audience = self.audience(list_id)
            found = audience.members.get(subscriber_hash(email))
            return render(audience, found) if found else None

    def unsubscribe(self, list_id: str, email: str, *, cleaned: bool = False) -> None:
        """The member unsubscribes (or bounces: ``cleaned``), as only they can."""
        with self.lock:
            audience = self.audience(list_id)
            member = audience.members[subscriber_hash(email)]
            self._set_status(member, "cleaned" if cleaned else "unsubscribed")
            self._touch(member)

    def edit_member(self, list_id: str, email: str, merge_fields: Mapping[str, Any]) -> None:
        """Edit merge fields as a user of Mailchimp's UI would (moves ``last_changed``)."""
        with self.lock:
            audience = self.audience(list_id)
            member = audience.members[subscriber_hash(email)]
            check_merge_fields(audience, merge_fields, new=False, skip_validation=True)
            member["merge_fields"].update(normalized_merge_values(audience, merge_fields))
            self._touch(member)

    def archive(self, list_id: str, email: str) -> None:
        with self.lock:
            audience = self.audience(list_id)
            self._archive(audience.members[subscriber_hash(email)])

    def server_error(self) -> Response:
        return problem_response(ApiError(500))

    # ---- dispatch ----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path in ("/oauth2/authorize", "/oauth2/token", "/oauth2/metadata"):
            handler = {
                "authorize": oauth.authorize,
                "token": oauth.token,
                "metadata": oauth.metadata,
            }[path.rsplit("/", 1)[1]]
            return handler(self, request)
        parts = path.strip("/").split("/", 2)
        if len(parts) < 2 or parts[1] != "3.0":
            return problem_response(not_found())
        dc, rest = parts[0], "/" + (parts[2] if len(parts) > 2 else "")
        kind, match = _route_of(rest)
        with self.lock:
            self.requests.record(f"{request.method} {kind}")
            fault = self.faults.pop()
            try:
                account = self._authenticate(request, dc)
            except ApiError as exc:
                return problem_response(exc)
            self.in_flight[account.user_id] = self.in_flight.get(account.user_id, 0) + 1
            crowded = self.in_flight[account.user_id] > self.max_connections
            latency = self.latency
        try:
            sleep_for(fault)
            if latency:
                time.sleep(latency)
            if crowded:
                return problem_response(ApiError(429))
            if fault is not None and fault.kind == "status":
                return problem_response(ApiError(fault.status))
            if match is None:
                return problem_response(not_found())
            try:
                with self.lock:
                    status, body = self._route(account, request, kind, match.groups())
            except ApiError as exc:
                return problem_response(exc)
            if fault is not None and fault.kind == "after_commit":
                if fault.drop:
                    drop_connection(request)
                return problem_response(ApiError(fault.status))
            if status == 204:
                return Response(status=204)
            return json_response(_shaped(body, request.args), status)
        finally:
            with self.lock:
                self.in_flight[account.user_id] -= 1

    def _authenticate(self, request: Request, dc: str) -> Account:
        auth = request.authorization
        user_id = None
        if auth is not None and auth.type == "basic":
            key = str(auth.password or "")
            user_id = self.keys.get(key)
            if user_id is not None and self.accounts[user_id].dc != dc:
                user_id = None
        elif auth is not None and auth.type in ("bearer", "oauth"):
            user_id = self.access_tokens.get(str(auth.token or ""))
            if user_id is not None and self.accounts[user_id].dc != dc:
                user_id = None
        if user_id is None:
            raise ApiError(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        return self.accounts[user_id]

    def _route(
        self, account: Account, request: Request, kind: str, groups: tuple[str, ...]
    ) -> tuple[int, Any]:
        method = request.method
        if kind == "/ping" and method == "GET":
            return 200, {"health_status": "Everything's Chimpy!"}
        if kind == "/lists" and method == "GET":
            count, offset = _paging(request.args)
            lists = list(account.audiences.values())
            return 200, {
                "lists": [self._render_list(a) for a in lists[offset : offset + count]],
                "total_items": len(lists),
                "constraints": {
                    "may_create": True,
                    "max_instances": 100,
                    "current_total_instances": len(lists),
                },
                "_links": [],
            }
        audience = account.audiences.get(groups[0]) if groups else None
        if audience is None:
            raise not_found()
        if kind == "/lists/{list_id}" and method == "GET":
            return 200, self._render_list(audience)
        if kind == "/lists/{list_id}/merge-fields":
            if method == "GET":
                count, offset = _paging(request.args)
                fields = audience.merge_fields
                return 200, {
                    "merge_fields": [dict(f) for f in fields[offset : offset + count]],
                    "list_id": audience.id,
                    "total_items": len(fields),
                    "_links": [],
                }
            if method == "POST":
                return 200, self.add_merge_field(audience.id, _body(request))
        skip = request.args.get("skip_merge_validation") == "true"
        if kind == "/lists/{list_id}/members":
            if method == "GET":
                return 200, self._list_members(audience, request.args)
            if method == "POST":
                return 200, render(audience, self._add(audience, _body(request), skip))
        if len(groups) < 2:
            raise ApiError(405, detail="The requested method and resource are not compatible.")
        member_hash = _hash_of(groups[1])
        member = audience.members.get(member_hash)
        if kind == "/lists/{list_id}/members/{subscriber_hash}":
            if method == "PUT":
                return 200, render(
                    audience, self._upsert(audience, member_hash, _body(request), skip)
                )
            if member is None:
                raise not_found()
            if method == "GET":
                return 200, render(audience, member)
            if method == "PATCH":
                return 200, render(audience, self._patch(audience, member, _body(request), skip))
            if method == "DELETE":
                self._archive(member)
                return 204, None
        if member is None:
            raise not_found()
        if kind.endswith("/delete-permanent") and method == "POST":
            del audience.members[member_hash]
            audience.forgotten.add(member_hash)
            return 204, None
        if kind.endswith("/tags") and method == "GET":
            names = member["tags"]
            return 200, {
                "tags": [
                    {
                        "id": audience.tags[n],
                        "name": n,
                        "date_added": member["_tag_dates"].get(n, ""),
                    }
                    for n in names
                ],
                "total_items": len(names),
                "_links": [],
            }
        if kind.endswith("/tags") and method == "POST":
            body = check_body(
                "/lists/{list_id}/members/{subscriber_hash}/tags", "post", _body(request)
            )
            self._retag(audience, member, body["tags"])
            return 204, None
        raise ApiError(405, detail="The requested method and resource are not compatible.")

    # ---- members -----------------------------------------------------------------------------

    def _render_list(self, audience: Audience) -> dict[str, Any]:
        members = list(audience.members.values())
        count = {s: sum(1 for m in members if m["status"] == s) for s in STATUSES}
        return {
            "id": audience.id,
            "web_id": audience.web_id,
            "name": audience.name,
            "contact": {
                "company": audience.name,
                "address1": "1 Main St",
                "address2": "",
                "city": "Atlanta",
                "state": "GA",
                "zip": "30308",
                "country": "US",
                "phone": "",
            },
            "permission_reminder": "You signed up on our website.",
            "use_archive_bar": True,
            "campaign_defaults": {
                "from_name": audience.name,
                "from_email": "news@example.com",
                "subject": "",
                "language": "en",
            },
            "notify_on_subscribe": "",
            "notify_on_unsubscribe": "",
            "date_created": audience.date_created,
            "list_rating": 3,
            "email_type_option": False,
            "subscribe_url_short": "http://eepurl.com/demo",
            "subscribe_url_long": f"https://list-manage.example/subscribe?id={audience.id}",
            "beamer_address": f"{audience.id}@inbound.mailchimp.example",
            "visibility": "prv",
            "double_optin": False,
            "has_welcome": False,
            "marketing_permissions": False,
            "modules": [],
            "stats": {
                "member_count": count["subscribed"],
                "unsubscribe_count": count["unsubscribed"],
                "cleaned_count": count["cleaned"],
                "member_count_since_send": 0,
                "unsubscribe_count_since_send": 0,
                "cleaned_count_since_send": 0,
                "campaign_count": 0,
                "campaign_last_sent": "",
                "merge_field_count": len(audience.merge_fields),
                "avg_sub_rate": 0,
                "avg_unsub_rate": 0,
                "target_sub_rate": 0,
                "open_rate": 0,
                "click_rate": 0,
                "last_sub_date": "",
                "last_unsub_date": "",
            },
            "_links": [],
        }

    def _list_members(self, audience: Audience, args: MultiDict[str, str]) -> dict[str, Any]:
        count, offset = _paging(args)
        status = args.get("status")
        if status is not None and status not in STATUSES:
            raise invalid(
                f"Invalid status {status!r}.",
                [{"field": "status", "message": "Not an allowed status"}],
            )
        found = [
            m
            for m in audience.members.values()
            if (m["status"] == status if status else m["status"] != "archived")
        ]
        since = _time_arg(args, "since_last_changed")
        before = _time_arg(args, "before_last_changed")
        if since is not None:
            found = [m for m in found if parse_iso(m["last_changed"]) > since]
        if before is not None:
            found = [m for m in found if parse_iso(m["last_changed"]) < before]
        unsubscribed_since = _time_arg(args, "unsubscribed_since")
        if unsubscribed_since is not None:
            if status != "unsubscribed":
                raise invalid("unsubscribed_since can only be used with status=unsubscribed.")
            found = [
                m
                for m in found
                if parse_iso(m.get("_unsubscribed_at") or m["last_changed"]) > unsubscribed_since
            ]
        sort_field = args.get("sort_field")
        sort_dir = args.get("sort_dir", "ASC")
        if sort_dir not in ("ASC", "DESC"):
            raise invalid("sort_dir must be ASC or DESC.")
        if sort_field is not None:
            if sort_field not in SORT_FIELDS:
                raise invalid(f"sort_field must be one of {', '.join(SORT_FIELDS)}.")
            found.sort(key=lambda m: (m[sort_field] or "", m["_seq"]), reverse=sort_dir == "DESC")
        return {
            "members": [render(audience, m) for m in found[offset : offset + count]],
            "list_id": audience.id,
            "total_items": len(found),
            "_links": [],
        }

    def _touch(self, member: dict[str, Any]) -> None:
        member["last_changed"] = iso(self.clock.now())

    def _set_status(self, member: dict[str, Any], status: str) -> None:
        if status == member["status"]:
            return
        member["status"] = status
        now = iso(self.clock.now())
        if status == "unsubscribed":
            member["unsubscribe_reason"] = "N/A (Unsubscribed by the contact)"
            member["_unsubscribed_at"] = now
        else:
            member.pop("unsubscribe_reason", None)
        if status == "subscribed":
            member["timestamp_opt"] = now

    def _apply(self, audience: Audience, member: dict[str, Any], body: Mapping[str, Any]) -> None:
        if "merge_fields" in body:
            member["merge_fields"].update(normalized_merge_values(audience, body["merge_fields"]))
        for key in (
            "email_type",
            "language",
            "vip",
            "interests",
            "ip_signup",
            "timestamp_signup",
            "ip_opt",
        ):
            if key in body:
                member[key] = body[key]
        for name in body.get("tags") or []:
            self._retag(audience, member, [{"name": name, "status": "active"}], touch=False)

    def _forgotten(self, email: str) -> ApiError:
        return ApiError(
            400,
            "Forgotten Email Not Subscribed",
            f"{email} was permanently deleted and cannot be re-imported. The contact must "
            "re-subscribe to get back on the list.",
        )

    def _add(self, audience: Audience, body: Any, skip_validation: bool) -> dict[str, Any]:
        body = check_body("/lists/{list_id}/members", "post", body)
        email = check_email(body["email_address"])
        member_hash = subscriber_hash(email)
        if member_hash in audience.forgotten:
            raise self._forgotten(email)
        existing = audience.members.get(member_hash)
        if existing is not None and existing["status"] != "archived":
            raise ApiError(
                400,
                "Member Exists",
                f"{email} is already a list member. Use PUT to insert or update list members.",
            )
        if existing is not None:
            check_status_change(existing, body["status"])
        check_merge_fields(
            audience, body.get("merge_fields") or {}, new=True, skip_validation=skip_validation
        )
        member = existing or new_member(audience, email, self.now())
        self._apply(audience, member, body)
        self._set_status(member, body["status"])
        self._touch(member)
        audience.members[member_hash] = member
        return member

    def _upsert(
        self, audience: Audience, member_hash: str, body: Any, skip_validation: bool
    ) -> dict[str, Any]:
        body = check_body("/lists/{list_id}/members/{subscriber_hash}", "put", body)
        email = check_email(body["email_address"])
        member = audience.members.get(member_hash)
        if member is None:
            if subscriber_hash(email) != member_hash:
                raise invalid(
                    "The subscriber hash in the path does not match the email "
                    "address of the new member."
                )
            return self._add(
                audience,
                {**_without(body, "status", "status_if_new"), "status": body["status_if_new"]},
                skip_validation,
            )
        check_merge_fields(
            audience, body.get("merge_fields") or {}, new=False, skip_validation=skip_validation
        )
        status = body.get("status")
        if member["status"] == "archived":
            status = status or body["status_if_new"]
        if status is not None:
            check_status_change(member, status)
        self._rekey(audience, member, email)
        self._apply(audience, member, body)
        if status is not None:
            self._set_status(member, status)
        self._touch(member)
        return member

    def _patch(
        self, audience: Audience, member: dict[str, Any], body: Any, skip_validation: bool
    ) -> dict[str, Any]:
        body = check_body("/lists/{list_id}/members/{subscriber_hash}", "patch", body)
        check_merge_fields(
            audience, body.get("merge_fields") or {}, new=False, skip_validation=skip_validation
        )
        if "status" in body:
            check_status_change(member, body["status"])
        if "email_address" in body:
            self._rekey(audience, member, check_email(body["email_address"]))
        self._apply(audience, member, body)
        if "status" in body:
            self._set_status(member, body["status"])
        self._touch(member)
        return member

    def _rekey(self, audience: Audience, member: dict[str, Any], email: str) -> None:
        """A changed email changes the member's id (the hash of the email)."""
        new_hash = subscriber_hash(email)
        if new_hash == member["id"]:
            member["email_address"] = email
            return
        if new_hash in audience.forgotten:
            raise self._forgotten(email)
        if new_hash in audience.members:
            raise ApiError(400, "Member Exists", f"{email} is already a list member.")
        del audience.members[member["id"]]
        member["id"] = new_hash
        member["email_address"] = email
        audience.members[new_hash] = member

    def _archive(self, member: dict[str, Any]) -> None:
        if member["status"] in UNARCHIVABLE:
            raise ApiError(
                405,
                "Method Not Allowed",
                "This list member cannot be removed. Can not archive a contact that is bounced, "
                "pending or archived",
            )
        member["_before_archive"] = member["status"]
        member["status"] = "archived"
        self._touch(member)

    def _retag(
        self,
        audience: Audience,
        member: dict[str, Any],
        tags: list[dict[str, Any]],
        *,
        touch: bool = True,
    ) -> None:
        dates = member.setdefault("_tag_dates", {})
        for tag in tags:
            name = str(tag["name"]).strip()
            if not name or len(name) > 100:
                raise invalid(
                    "A tag name is 1 to 100 characters.",
                    [{"field": "tags.name", "message": "Invalid tag name"}],
                )
        for tag in tags:
            name = str(tag["name"]).strip()
            if tag["status"] == "active":
                if name not in member["tags"]:
                    dates[name] = self.now()
                add_tag(audience, member, name)
            elif name in member["tags"]:
                member["tags"].remove(name)
                dates.pop(name, None)
        if touch:
            self._touch(member)

    # ---- the app's control routes ------------------------------------------------------------

    def control(
        self, method: str, path: str, body: Any, args: Mapping[str, str]
    ) -> Response | None:
        """Mailchimp's own control routes (after the kit's)::

        POST /_sandbox/accounts                 {dc, name, login_email, api_key?}
                                                 -> {user_id, api_key}
        POST /_sandbox/accounts/<user>/audiences {name, list_id?} -> {id}
        POST /_sandbox/audiences/<id>/members   [member bodies as for POST .../members]
        GET  /_sandbox/audiences/<id>/members   every member, archived ones too
        POST /_sandbox/audiences/<id>/unsubscribe {email, cleaned?}
        POST /_sandbox/audiences/<id>/archive   {email}
        POST /_sandbox/clients                  {client_id, client_secret}
        POST /_sandbox/knobs                    {max_connections, latency}
        """
        options: Any = {} if body is None else body
        if path == "accounts" and method == "POST":
            account, key = self.create_account(
                str(options["dc"]),
                name=str(options.get("name") or "Account"),
                login_email=str(options["login_email"]),
                api_key=options.get("api_key"),
            )
            return json_response({"user_id": account.user_id, "api_key": key}, 201)
        if path == "clients" and method == "POST":
            self.add_client(str(options["client_id"]), str(options["client_secret"]))
            return json_response({"ok": True}, 201)
        if path == "knobs" and method == "POST":
            if "max_connections" in options:
                self.max_connections = int(options["max_connections"])
            if "latency" in options:
                self.latency = float(options["latency"])
            return json_response({"max_connections": self.max_connections, "latency": self.latency})
        match = re.fullmatch(r"accounts/([^/]+)/audiences", path)
        if match and method == "POST":
            audience = self.create_audience(
                match.group(1), str(options["name"]), list_id=options.get("list_id")
            )
            return json_response({"id": audience.id}, 201)
        match = re.fullmatch(r"audiences/([^/]+)/(members|unsubscribe|archive)", path)
        if match is None:
            return None
        list_id, what = match.groups()
        if list_id not in self.audience_owner:
            return json_response({"error": f"no audience {list_id}"}, 404)
        try:
            if what == "members" and method == "POST":
                return json_response([self.add_member(list_id, b) for b in options], 201)
            if what == "members" and method == "GET":
                return json_response(self.members(list_id))
            if what == "unsubscribe" and method == "POST":
                self.unsubscribe(
                    list_id, str(options["email"]), cleaned=bool(options.get("cleaned"))
                )
                return json_response({"ok": True})
            if what == "archive" and method == "POST":
                self.archive(list_id, str(options["email"]))
                return json_response({"ok": True})
        except ApiError as exc:
            return problem_response(exc)
        return None


# ---- helpers ---------------------------------------------------------------------------------


def _route_of(path: str) -> tuple[str, re.Match[str] | None]:
    for kind, pattern in ROUTES:
        match = pattern.fullmatch(path.rstrip("/") or "/")
        if match is not None:
            return kind, match
    return path, None


def _hash_of(value: str) -> str:
    """The path's member: a subscriber hash, or an email address (hashed)."""
    return subscriber_hash(value) if "@" in value else value.lower()


def _body(request: Request) -> Any:
    raw = request.get_data(cache=True)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(
            400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error."
        ) from None


def _without(body: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def _paging(args: MultiDict[str, str]) -> tuple[int, int]:
    try:
        count = int(args.get("count", DEFAULT_COUNT))
        offset = int(args.get("offset", 0))
    except ValueError:
        raise invalid("count and offset must be whole numbers.") from None
    if not 0 <= count <= MAX_COUNT or offset < 0:
        raise invalid(
            f"count must be 0 to {MAX_COUNT} and offset 0 or more.",
            [{"field": "count", "message": f"Maximum is {MAX_COUNT}"}],
        )
    return count, offset


def _time_arg(args: MultiDict[str, str], name: str) -> dt.datetime | None:
    value = args.get(name)
    if value is None:
        return None
    try:
        when = parse_iso(value.replace(" ", "+"))
    except ValueError:
        raise invalid(
            f"{name} must be an ISO 8601 time such as 2015-10-21T15:41:36+00:00.",
            [{"field": name, "message": "Invalid date-time"}],
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _shaped(body: Any, args: MultiDict[str, str]) -> Any:
    """``fields`` keeps only the named (dot-separated) paths, ``exclude_fields`` drops them."""
    fields = [f for f in (args.get("fields") or "").split(",") if f.strip()]
    excluded = [f for f in (args.get("exclude_fields") or "").split(",") if f.strip()]
    if fields:
        body = _pick(body, [f.strip().split(".") for f in fields])
    if excluded:
        body = json.loads(json.dumps(body))  # a copy: the stored member stays whole
    for path in excluded:
        _drop(body, path.strip().split("."))
    return body


def _pick(node: Any, paths: list[list[str]]) -> Any:
    if isinstance(node, list):
        return [_pick(item, paths) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key in dict.fromkeys(p[0] for p in paths):
        if key not in node:
            continue
        rest = [p[1:] for p in paths if p[0] == key]
        out[key] = node[key] if any(not r for r in rest) else _pick(node[key], rest)
    return out


def _drop(node: Any, path: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _drop(item, path)
    elif isinstance(node, dict) and path and path[0] in node:
        if len(path) == 1:
            del node[path[0]]
        else:
            _drop(node[path[0]], path[1:])
