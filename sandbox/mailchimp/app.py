"""The Mailchimp Marketing API host: the emulator's store, its control methods and its routes.

Paths are ``/<dc>/3.0/...`` below the mount point (the real API is
``https://<dc>.api.mailchimp.com/3.0``), so ``MAILCHIMP_BASE_URL_TEMPLATE`` puts the data center
in the path here as the real one puts it in the host. Auth is HTTP Basic with any user name and an
API key ``<hex>-<dc>`` as the password, or a bearer token from the OAuth flow (``oauth``); a key
sent to another data center is refused as Mailchimp refuses it. Served (api-notes §4):
``GET /ping``, ``GET /lists``, ``GET /lists/{id}``, merge fields (``GET``/``POST``), members
(list with ``count`` ≤ 1000, ``offset``, ``status``, ``since_last_changed``,
``before_last_changed``, ``unsubscribed_since``, ``sort_field``/``sort_dir``,
``fields``/``exclude_fields``; a member path takes its subscriber hash, email or
``contact_id``; ``POST`` add; ``PUT`` upsert with ``status_if_new``; ``PATCH``; ``DELETE`` =
archive; ``actions/delete-permanent``), member tags (``GET``/``POST``), batch subscribe
(``POST /lists/{id}``, ``batch``). Not served: ``/batches``, which Tandem does not call.

A listing without ``status`` leaves archived members out (they are listed with
``status=archived``); ``since_last_changed`` is exclusive ("changed after"). More than
``max_connections`` requests of one account in flight answer 429. Errors are
``application/problem+json`` (``errors``).

Control: the kit's (faults, clock, requests, stats, reset) plus ``create_account``,
``create_audience``, ``add_merge_field``, ``add_member``, ``members``, ``member``,
``edit_member``, ``change_email``, ``unsubscribe``, ``archive``, ``add_client`` and the knobs
``max_connections`` and ``latency`` (seconds each API request holds its connection), with
their routes (see ``control``).
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from sandbox.kit import Emulator, drop_connection, json_response, parse_iso, sleep_for
from sandbox.mailchimp import batch, control, oauth
from sandbox.mailchimp.audiences import (
    STATUSES,
    UNARCHIVABLE,
    Account,
    Audience,
    add_tag,
    check_email,
    check_merge_fields,
    check_status_change,
    check_tags,
    iso,
    merge_field_spec,
    new_member,
    normalized_merge_values,
    render,
    render_list,
    subscriber_hash,
)
from sandbox.mailchimp.errors import ApiError, invalid, not_found, problem_response
from sandbox.mailchimp.query import (
    body_of,
    paging,
    route_of,
    shaped,
    time_arg,
    without,
)
from sandbox.mailchimp.schema import check_body

DEFAULT_MERGE_FIELDS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("FNAME", "First Name", "text", {}),
    ("LNAME", "Last Name", "text", {}),
    ("ADDRESS", "Address", "address", {"default_country": 164}),
    ("PHONE", "Phone Number", "phone", {"phone_format": "none"}),
    ("BIRTHDAY", "Birthday", "birthday", {"date_format": "MM/DD"}),
)
SORT_FIELDS = ("timestamp_opt", "timestamp_signup", "last_changed")
KEY_RE = re.compile(r"^[0-9a-f]{32}-([a-z]{2}\d{1,3})$")


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

    def change_email(self, list_id: str, email: str, new_email: str) -> None:
        """The member's email changed in Mailchimp's UI: a new subscriber hash, the same
        contact_id."""
        with self.lock:
            audience = self.audience(list_id)
            member = audience.members[subscriber_hash(email)]
            self._rekey(audience, member, check_email(new_email))
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
        kind, match = route_of(rest)
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
            return json_response(shaped(body, request.args), status)
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
            count, offset = paging(request.args)
            lists = list(account.audiences.values())
            return 200, {
                "lists": [render_list(a) for a in lists[offset : offset + count]],
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
            return 200, render_list(audience)
        if kind == "/lists/{list_id}" and method == "POST":
            return 200, batch.subscribe(
                self,
                audience,
                body_of(request),
                skip_validation=request.args.get("skip_merge_validation") == "true",
                skip_duplicates=request.args.get("skip_duplicate_check") == "true",
            )
        if kind == "/lists/{list_id}/merge-fields":
            if method == "GET":
                count, offset = paging(request.args)
                fields = audience.merge_fields
                return 200, {
                    "merge_fields": [dict(f) for f in fields[offset : offset + count]],
                    "list_id": audience.id,
                    "total_items": len(fields),
                    "_links": [],
                }
            if method == "POST":
                return 200, self.add_merge_field(audience.id, body_of(request))
        skip = request.args.get("skip_merge_validation") == "true"
        if kind == "/lists/{list_id}/members":
            if method == "GET":
                return 200, self._list_members(audience, request.args)
            if method == "POST":
                return 200, render(audience, self._add(audience, body_of(request), skip))
        if len(groups) < 2:
            raise ApiError(405, detail="The requested method and resource are not compatible.")
        member_hash = audience.resolve(groups[1])
        member = audience.members.get(member_hash)
        if kind == "/lists/{list_id}/members/{subscriber_hash}":
            if method == "PUT":
                return 200, render(
                    audience, self._upsert(audience, member_hash, body_of(request), skip)
                )
            if member is None:
                raise not_found()
            if method == "GET":
                return 200, render(audience, member)
            if method == "PATCH":
                return 200, render(audience, self._patch(audience, member, body_of(request), skip))
            if method == "DELETE":
                self._archive(member)
                return 204, None
        if member is None:
            raise not_found()
        if kind.endswith("/delete-permanent") and method == "POST":
            del audience.members[member_hash]
            audience.contacts.pop(member["contact_id"], None)
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
                "/lists/{list_id}/members/{subscriber_hash}/tags", "post", body_of(request)
            )
            self._retag(audience, member, body["tags"])
            return 204, None
        raise ApiError(405, detail="The requested method and resource are not compatible.")

    # ---- members -----------------------------------------------------------------------------

    def _list_members(self, audience: Audience, args: MultiDict[str, str]) -> dict[str, Any]:
        count, offset = paging(args)
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
        since = time_arg(args, "since_last_changed")
        before = time_arg(args, "before_last_changed")
        if since is not None:
            found = [m for m in found if parse_iso(m["last_changed"]) > since]
        if before is not None:
            found = [m for m in found if parse_iso(m["last_changed"]) < before]
        unsubscribed_since = time_arg(args, "unsubscribed_since")
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
        """Write a checked body's fields. Tags come only with an add (``POST``): the update
        bodies have none, and a name that is no tag is refused before anything is written."""
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

    def _forgotten(self, email: str) -> ApiError:
        return ApiError(
            400,
            "Forgotten Email Not Subscribed",
            f"{email} was permanently deleted and cannot be re-imported. The contact must "
            "re-subscribe to get back on the list.",
        )

    def add_to(self, audience: Audience, body: Any, skip_validation: bool) -> dict[str, Any]:
        """``POST .../members`` on ``audience`` (the batch endpoint adds through this)."""
        return self._add(audience, body, skip_validation)

    def apply_to(
        self, audience: Audience, member: dict[str, Any], body: Any, status: str | None
    ) -> None:
        """Write ``body``'s fields (and ``status``) to an existing member."""
        self._apply(audience, member, body)
        if status is not None:
            self._set_status(member, status)
        self._touch(member)

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
        tags = [{"name": name, "status": "active"} for name in body.get("tags") or []]
        check_tags(tags)
        member = existing or new_member(audience, email, self.now())
        self._apply(audience, member, body)
        if tags:
            self._retag(audience, member, tags, touch=False)
        self._set_status(member, body["status"])
        self._touch(member)
        audience.members[member_hash] = member
        audience.contacts[member["contact_id"]] = member_hash
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
                {
                    **without(body, "status", "status_if_new", "tags"),
                    "status": body["status_if_new"],
                },
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
        audience.contacts[member["contact_id"]] = new_hash

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
        check_tags(tags)
        dates = member.setdefault("_tag_dates", {})
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
        """Mailchimp's own control routes (after the kit's): see ``sandbox.mailchimp.control``."""
        return control.route(self, method, path, {} if body is None else body)
