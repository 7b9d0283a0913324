"""The Kustomer org host: the emulator's store, its control methods and its routes.

Paths are ``/<subdomain>/v1/...`` below the mount point (the real API is
``https://<subdomain>.api.kustomerapp.com/v1``). Envelopes, error bodies, status codes, the search
100-page cap, ``rev``/``updatedAt`` bumps, soft deletes seen with ``includeDeleted`` and the
``x-ratelimit-*`` headers follow api-notes §1; request bodies are checked against the official
OpenAPI document (``schema``). Two things are emulator inventions and say so:

- ``POST /v1/auth/login`` ``{"email", "password"}`` -> ``{"data": {"type": "token", "attributes":
  {"token": ...}}}``: Kustomer documents no email+password sign-in for API clients; this stands in
  for it so the demo can log in without an API key.
- Tags are written by sending the whole ``tags`` array on ``PATCH /v1/customers/{id}`` (the
  official document has no customer tag endpoint), and tags are kept as names.

Control: the kit's (``fail_next``, ``freeze_clock``, ``advance_clock``, ``requests``, ``stats``,
``reset`` and their routes under ``/_sandbox/``) plus ``create_org``, ``add_api_key``,
``add_customer``, ``plant_customer``, ``set_rate_limit``, ``set_limits``, ``customers`` ... and
their routes (see ``control``).
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import heapq
import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.kit import Emulator, drop_connection, json_response, parse_iso, sleep_for
from sandbox.kustomer import auth, schema, webhooks
from sandbox.kustomer.auth import (
    ALL_ROLES,
    ROLE_BULK,
    ROLE_CREATE,
    ROLE_DELETE,
    ROLE_METADATA,
    ROLE_READ,
    ROLE_SEARCH,
    ROLE_UPDATE,
)
from sandbox.kustomer.bulk import record_job
from sandbox.kustomer.customers import (
    Org,
    Token,
    check_rules,
    check_unique,
    custom_problem,
    identifiers,
    iso,
    render,
    suffix_type,
)
from sandbox.kustomer.errors import (
    MAX_BODY_BYTES,
    ApiError,
    bad_request,
    error_response,
    not_found,
    status_error,
    too_large,
)
from sandbox.kustomer.search import Query, check_page_args

CUSTOMER_ID = r"[0-9a-f]{24}"
LOOKUPS = {"email": "emails", "externalId": "externalId", "phone": "phones"}


class KustomerEmulator(Emulator):
    slug = "kustomer"

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    # ---- control API -------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every org and knob: a fresh emulator."""
        with self.lock:
            self.reset_kit()
            self.orgs: dict[str, Org] = {}
            # Knobs (api-notes §1.6, §1.5): page size maximums, the search page cap, bulk size.
            self.list_max_page_size = 100
            self.search_max_page_size = 500
            self.max_pages = 100
            self.bulk_max = 100
            self._seq = 0
            webhooks.reset(self)

    def stop(self) -> None:
        webhooks.stop(self)

    def seed_demo(self) -> dict[str, Any]:
        from sandbox.kustomer.seed import seed_demo

        org = seed_demo(self)
        return {"subdomain": org.subdomain, "customers": len(org.customers)}

    @property
    def request_count(self) -> int:
        return self.requests.total

    def set_faults(
        self,
        *,
        count: int = 1,
        status: int | None = None,
        sleep: float = 0.0,
        after_commit: bool = False,
        drop: bool = False,
        reset: float | None = None,
    ) -> None:
        """``fail_next`` with keywords (kept for its callers): a 429 carries
        ``x-ratelimit-reset`` ``reset`` seconds ahead."""
        self.fail_next(
            count, status, sleep=sleep, after_commit=after_commit, drop=drop, reset=reset
        )

    def set_limits(
        self,
        *,
        list_max_page_size: int | None = None,
        search_max_page_size: int | None = None,
        max_pages: int | None = None,
        bulk_max: int | None = None,
    ) -> None:
        """Shrink the API's limits so tests reach them with few records."""
        with self.lock:
            if list_max_page_size is not None:
                self.list_max_page_size = list_max_page_size
            if search_max_page_size is not None:
                self.search_max_page_size = search_max_page_size
            if max_pages is not None:
                self.max_pages = max_pages
            if bulk_max is not None:
                self.bulk_max = bulk_max

    def now(self) -> dt.datetime:
        """Now, as the emulator stamps ``updatedAt``; frozen or advanced by tests."""
        with self.lock:
            return self.clock.now()

    def _new_id(self) -> str:
        self._seq += 1
        return f"5f{self._seq:022x}"

    def create_org(
        self,
        subdomain: str,
        *,
        users: Iterable[tuple[str, str]] = (),
        api_keys: Mapping[str, Iterable[str]] | None = None,
        metadata: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Org:
        """A new org at ``subdomain`` with login users ``(email, password)``, API keys
        ``{key: roles}`` and custom attribute metadata
        ``{attrName: {displayName, enumeration}}``."""
        with self.lock:
            org = Org(subdomain=subdomain, id=self._new_id(), window_start=time.time())
            self.orgs[subdomain] = org
            for email, password in users:
                self.add_user(subdomain, email, password)
            for key, roles in (api_keys or {}).items():
                self.add_api_key(subdomain, key, roles)
            for name, spec in (metadata or {}).items():
                self.set_metadata(subdomain, name, spec)
            return org

    def add_user(self, subdomain: str, email: str, password: str) -> str:
        with self.lock:
            user_id = self._new_id()
            self.orgs[subdomain].users[email.casefold()] = (password, user_id)
            return user_id

    def add_api_key(self, subdomain: str, key: str, roles: Iterable[str]) -> str:
        """An API key backed by its own machine user; returns that user's id."""
        with self.lock:
            user_id = self._new_id()
            self.orgs[subdomain].tokens[key] = Token("api_key", frozenset(roles), user_id)
            return user_id

    def revoke_api_key(self, subdomain: str, key: str) -> None:
        with self.lock:
            self.orgs[subdomain].tokens.pop(key, None)

    def set_metadata(self, subdomain: str, name: str, spec: Mapping[str, Any]) -> None:
        problem = custom_problem(name, None)
        if problem:
            raise ValueError(problem)
        with self.lock:
            org = self.orgs[subdomain]
            now = iso(self.now())
            org.metadata[name] = {"modifiedBy": org.id, "modifiedAt": now, "updatedAt": now}
            org.metadata[name].update(spec)

    def org(self, subdomain: str) -> Org:
        return self.orgs[subdomain]

    def add_customer(
        self,
        subdomain: str,
        attrs: Mapping[str, Any],
        *,
        open_conversations: int | None = None,
        deleted: bool = False,
    ) -> dict[str, Any]:
        """Create a customer as the API would (validated), without a request; returns the
        response envelope's ``data``."""
        with self.lock:
            org = self.orgs[subdomain]
            doc = self.create(org, dict(attrs), "")
            if open_conversations is not None:
                doc["conversationCounts"] = {
                    "all": open_conversations + 1, "snoozed": 0,
                    "open": open_conversations, "done": 1,
                }  # fmt: skip
            doc["deleted"] = deleted
            self._reindex(org, doc)
            return render(org, doc)

    def plant_customer(self, subdomain: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """Put a customer straight into the store, unchecked: old data a real org may hold
        (attributes of odd types the API would refuse today). Returns it as the API renders
        it."""
        with self.lock:
            org = self.orgs[subdomain]
            doc = self._new_doc(org, "")
            doc["attrs"] = dict(attrs)
            org.customers[doc["id"]] = doc
            self._reindex(org, doc)
            return render(org, doc)

    def customers(self, subdomain: str, *, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Every stored customer as the API renders it (deleted ones too by default)."""
        with self.lock:
            org = self.orgs[subdomain]
            return [
                render(org, doc)
                for doc in org.customers.values()
                if include_deleted or not doc["deleted"]
            ]

    def customer(self, subdomain: str, customer_id: str) -> dict[str, Any]:
        with self.lock:
            org = self.orgs[subdomain]
            return render(org, org.customers[customer_id])

    def update_customer(self, subdomain: str, customer_id: str, attrs: Mapping[str, Any]) -> None:
        """Edit a customer as a user in Kustomer's UI would (bumps ``rev`` and ``updatedAt``)."""
        with self.lock:
            org = self.orgs[subdomain]
            self.update(org, org.customers[customer_id], dict(attrs), "")

    def delete_customer(self, subdomain: str, customer_id: str) -> None:
        with self.lock:
            org = self.orgs[subdomain]
            self._delete(org, org.customers[customer_id], "")

    def set_rate_limit(
        self, subdomain: str, per_minute: int, *, search_per_minute: int | None = None
    ) -> None:
        """The org-wide budget per minute (and the API keys' search budget), from now."""
        with self.lock:
            org = self.orgs[subdomain]
            org.rate_limit = per_minute
            if search_per_minute is not None:
                org.search_rate_limit = search_per_minute
            org.used = org.search_used = 0
            org.window_start = time.time()

    def end_rate_window(self, subdomain: str) -> None:
        """Start a fresh rate window now, as if the reset time had come."""
        with self.lock:
            org = self.orgs[subdomain]
            org.used = org.search_used = 0
            org.window_start = time.time()

    def expire_tokens(self, subdomain: str) -> None:
        """Forget every signed-in user token (API keys stay)."""
        with self.lock:
            org = self.orgs[subdomain]
            org.tokens = {k: v for k, v in org.tokens.items() if v.kind == "api_key"}

    def server_error(self) -> Response:
        return error_response(status_error(500))

    # ---- dispatch ----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        path = request.path
        parts = path.strip("/").split("/", 2)
        if len(parts) < 3 or parts[1] != "v1":
            return error_response(not_found(f"No route for {path}"))
        subdomain, rest = parts[0], "/" + parts[2]
        with self.lock:
            self.requests.record(f"{request.method} {rest}")
            fault = self.faults.pop()
            org = self.orgs.get(subdomain)
        sleep_for(fault)
        if org is None:
            # The real org host of an unknown subdomain answers no org; the connector maps this
            # code to "unknown subdomain".
            return error_response(
                ApiError(404, "org_not_found", "Not Found", f"Organization {subdomain} not found")
            )
        with self.lock:
            headers, limited = auth.count_request(org)
        if fault is not None and fault.kind == "status":
            if fault.status == 429:
                headers["x-ratelimit-remaining"] = "0"
                if fault.reset is not None:
                    headers["x-ratelimit-reset"] = str(round(time.time() + fault.reset, 3))
            return error_response(status_error(fault.status), headers)
        if limited:
            return error_response(ApiError(429, "too_many_requests", "Too Many Requests"), headers)
        size = request.content_length or 0
        if size > MAX_BODY_BYTES or len(request.get_data(cache=True)) > MAX_BODY_BYTES:
            return error_response(too_large(max(size, len(request.get_data()))), headers)
        try:
            with self.lock:
                status, body = self._route(org, request, rest)
        except ApiError as exc:
            return error_response(exc, {**headers, **exc.headers})
        if fault is not None and fault.kind == "after_commit":
            if fault.drop:
                drop_connection(request)
            return error_response(status_error(fault.status), headers)
        if status == 204:
            return Response(status=204, headers=headers)
        return json_response(body, status, headers)

    def _route(self, org: Org, request: Request, path: str) -> tuple[int, Any]:
        method = request.method
        if path == "/auth/login" and method == "POST":
            return auth.login(org, _body(request))
        if path.startswith("/outbound-webhooks"):
            return webhooks.route(self, org, request, path, _body(request))
        if path == "/customers" and method == "GET":
            auth.authorize(org, request, ROLE_READ)
            return 200, self._list(org, request)
        if path == "/customers" and method == "POST":
            token = auth.authorize(org, request, ROLE_CREATE)
            return 201, {"data": render(org, self.create(org, _body(request), token.user_id))}
        if path == "/customers/search" and method == "POST":
            token = auth.authorize(org, request, ROLE_SEARCH)
            auth.count_search(org, token)
            return 200, self._search(org, request, _body(request))
        if path == "/customers/bulk":
            return self._bulk(org, request, method)
        match = re.fullmatch(r"/bulk/([0-9a-f]{24})(/batches)?", path)
        if match and method == "GET":
            auth.authorize(org, request, ROLE_BULK)
            job = org.bulk_jobs.get(match.group(1))
            if job is None:
                raise not_found(f"Bulk {match.group(1)} not found")
            if match.group(2):
                return 200, {"data": [job["batch"]]}
            return 200, {"data": job["job"]}
        if path == "/metadata/customer" and method == "GET":
            auth.authorize(org, request, ROLE_METADATA)
            return 200, self._metadata(org)
        match = re.fullmatch(r"/customers/(email|externalId|phone)=(.*)", path)
        if match:
            if method != "GET":
                raise ApiError(405, "method_not_allowed", "Method Not Allowed")
            auth.authorize(org, request, ROLE_READ)
            return 200, {"data": render(org, self._lookup(org, match.group(1), match.group(2)))}
        match = re.fullmatch(r"/customers/([^/]+)", path)
        if match:
            roles = {
                "GET": ROLE_READ,
                "PUT": ROLE_UPDATE,
                "PATCH": ROLE_UPDATE,
                "DELETE": ROLE_DELETE,
            }.get(method)
            if roles is None:
                raise ApiError(405, "method_not_allowed", "Method Not Allowed")
            token = auth.authorize(org, request, roles)
            doc = self._live(org, match.group(1))
            if method == "GET":
                return 200, {"data": render(org, doc)}
            if method == "DELETE":
                self._delete(org, doc, token.user_id)
                return 204, None
            replace = _flag(request.args.get("replace", "false"), "replace")
            self.update(
                org, doc, _body(request), token.user_id, replace=replace and method == "PUT"
            )
            return 200, {"data": render(org, doc)}
        raise not_found(f"No route for {method} /v1{path}")

    # ---- endpoints ---------------------------------------------------------------------------

    def _live(self, org: Org, customer_id: str) -> dict[str, Any]:
        doc = org.customers.get(customer_id) if re.fullmatch(CUSTOMER_ID, customer_id) else None
        if doc is None or doc["deleted"]:
            raise not_found(f"Customer {customer_id} not found")
        return doc

    def _lookup(self, org: Org, kind: str, value: str) -> dict[str, Any]:
        """``GET /v1/customers/email={email}`` (and ``externalId=``, ``phone=``): the live
        customer holding it, or 404."""
        if kind == "email":
            key = value.casefold()
        elif kind == "phone":
            key = re.sub(r"\D", "", value)
        else:
            key = value
        holder = org.holder(LOOKUPS[kind], key) if key else None
        if holder is None:
            raise not_found(f"Customer with {kind} {value} not found")
        return org.customers[holder]

    def _bulk(self, org: Org, request: Request, method: str) -> tuple[int, Any]:
        roles = {"POST": ROLE_CREATE, "PUT": ROLE_UPDATE, "DELETE": ROLE_DELETE}.get(method)
        if roles is None:
            raise ApiError(405, "method_not_allowed", "Method Not Allowed")
        token = auth.authorize(org, request, roles)
        # ``ids`` belongs to bulk update and delete; a bulk create is always checked whole.
        wants_ids = method != "POST" and "ids" in request.args
        ids = _ids(request.args.get("ids"), self.bulk_max) if wants_ids else None
        if method == "DELETE":
            if ids is None:
                raise bad_request("ids is required", parameter="ids")
            return 201, self._bulk_delete(org, ids, token)
        body = _body(request)
        if method == "PUT" and ids is not None:
            schema.check("customer_update", body)
            items: Any = [{**body, "id": customer_id} for customer_id in ids]
        else:
            items = body
        if not isinstance(items, list) or not items or len(items) > self.bulk_max:
            raise bad_request(f"Body must be an array of 1..{self.bulk_max}", "/")
        if ids is None:  # the whole job is refused when it breaks the document's schema
            schema.check("bulk_create" if method == "POST" else "bulk_update", items)
        refs = [item.get("_clientRef") if isinstance(item, dict) else None for item in items]
        if any(refs) and not all(refs):
            raise bad_request("_clientRef must be on every item or none", "/")
        if any(refs) and len(set(map(str, refs))) != len(refs):
            raise bad_request("_clientRef must be unique", "/")
        for index, ref in enumerate(refs):
            if ref is not None and (not isinstance(ref, str) or len(ref) > 255):
                raise bad_request("_clientRef must be a string of at most 255", f"/{index}")
        results: list[dict[str, Any]] = []
        echo: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            result: dict[str, Any] = {"_clientRef": refs[index]} if refs[index] else {}
            try:
                if not isinstance(item, dict):
                    raise bad_request("an item must be an object", f"/{index}")
                attrs = {k: v for k, v in item.items() if k != "_clientRef"}
                # The whole body was checked against the document above (``ids`` bodies too).
                if method == "POST":
                    doc = self.create(org, attrs, token.user_id, checked=True)
                    result.update(status="created", objectId=doc["id"])
                else:
                    doc = self._live(org, str(attrs.pop("id")))
                    self.update(org, doc, attrs, token.user_id, checked=True)
                    result.update(status="updated", objectId=doc["id"])
                name = str(doc["attrs"].get("name") or "")
                # The job echoes what it was asked, shaped as the document says per method.
                echo.append({"name": name} if method == "POST" else {"id": doc["id"], "name": name})
            except ApiError as exc:
                result.update(status="error", error=exc.body["detail"])
            results.append(result)
        return 201, self._job(org, token, method, echo, results)

    def _bulk_delete(self, org: Org, ids: list[str], token: Token) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        for customer_id in ids:
            try:
                self._delete(org, self._live(org, customer_id), token.user_id)
            except ApiError as exc:
                results.append({"status": "error", "error": exc.body["detail"]})
            else:
                results.append({"status": "deleted", "objectId": customer_id})
        # A bulk delete has no body; the document makes its echo an object.
        return self._job(org, token, "DELETE", {}, results)

    def _job(
        self,
        org: Org,
        token: Token,
        method: str,
        echo: list[dict[str, Any]] | dict[str, Any],
        results: list[dict[str, Any]],
    ) -> dict[str, Any]:
        return record_job(
            org,
            token,
            method=method,
            echo=echo,
            results=results,
            job_id=self._new_id(),
            batch_id=self._new_id(),
            now=iso(self.now()),
        )

    def _paged(
        self, org: Org, path: str, docs: list[dict[str, Any]], page: int, size: int
    ) -> dict[str, Any]:
        total = len(docs)
        pages = max(1, -(-total // size))

        def link(number: int) -> str:
            return f"/v1{path}?page={number}&pageSize={size}"

        chunk = docs[(page - 1) * size : page * size]
        return {
            "meta": {
                "pageSize": size,
                "page": page,
                "total": total,
                "totalPages": pages,
                "aggregations": {},
                "timed_out": False,
            },
            "data": [render(org, doc) for doc in chunk],
            "links": {
                "self": link(page),
                "first": link(1),
                "prev": link(page - 1) if page > 1 else None,
                "next": link(page + 1) if page < pages else None,
                "last": link(pages),
            },
        }

    def _list(self, org: Org, request: Request) -> dict[str, Any]:
        page, size = check_page_args(request.args, self.max_pages, self.list_max_page_size)
        docs = sorted(
            (d for d in org.customers.values() if not d["deleted"]), key=lambda d: d["id"]
        )
        return self._paged(org, "/customers", docs, page, size)

    def _search(self, org: Org, request: Request, body: Any) -> dict[str, Any]:
        query = Query(body)
        page, size = check_page_args(request.args, self.max_pages, self.search_max_page_size)
        since = query.updated_since()
        if since is not None:
            # A change-feed query: read the change-ordered index from the bound on, already in
            # the order asked for (the same records and order as the scan below).
            excluded = query.excluded_modifiers()
            if excluded is not None:
                # Anyone's changes but the excluded users': their parts of the index, merged.
                parts = [
                    keys[bisect.bisect_left(keys, (since, "")) :]
                    for user, keys in _modifier_index(org).items()
                    if user not in excluded
                ]
                keys = list(heapq.merge(*parts))
            else:
                keys = org.by_updated[bisect.bisect_left(org.by_updated, (since, "")) :]
            listed = (org.customers[i] for _, i in keys)
            docs = [d for d in listed if query.include_deleted or not d["deleted"]]
            if query.narrowed:
                docs = [d for d in docs if query.matches(d)]
            return self._paged(org, "/customers/search", docs, page, size)
        docs = [
            d
            for d in org.customers.values()
            if (query.include_deleted or not d["deleted"]) and query.matches(d)
        ]
        query.sort(docs)
        return self._paged(org, "/customers/search", docs, page, size)

    def _metadata(self, org: Org) -> dict[str, Any]:
        properties = {}
        for name, spec in org.metadata.items():
            item: dict[str, Any] = {
                "type": spec.get("type") or suffix_type(name),
                "displayName": spec.get("displayName") or name,
                "modifiedBy": spec["modifiedBy"],
                "modifiedAt": spec["modifiedAt"],
                "updatedAt": spec["updatedAt"],
            }
            if spec.get("enumeration"):
                item["enumeration"] = list(spec["enumeration"])
            properties[name] = item
        return {
            "data": {
                "type": "customer_metadata",
                "id": org.id,
                "attributes": {"properties": properties},
                "relationships": {
                    "org": {
                        "links": {"self": f"/v1/orgs/{org.id}"},
                        "data": {"type": "org", "id": org.id},
                    }
                },
                "links": {"self": "/v1/metadata/customer"},
            }
        }

    # ---- documents ---------------------------------------------------------------------------

    def _touch(self, org: Org, doc: dict[str, Any], user_id: str) -> None:
        """A change by ``user_id``, or by a person in Kustomer's UI (the org's own user, as for
        a customer created there) when none: the last modifier is always who made the change."""
        now = iso(self.now())
        doc["updatedAt"] = doc["modifiedAt"] = now
        doc["modifiedBy"] = user_id or org.id
        doc["rev"] += 1

    def _new_doc(self, org: Org, user_id: str) -> dict[str, Any]:
        now = iso(self.now())
        return {
            "id": self._new_id(),
            "deleted": False,
            "rev": 1,
            "createdAt": now,
            "updatedAt": now,
            "modifiedAt": now,
            "createdBy": user_id or org.id,
            "modifiedBy": user_id or org.id,
            "conversationCounts": {"all": 0, "snoozed": 0, "open": 0, "done": 0},
            "attrs": {},
        }

    def create(self, org: Org, body: Any, user_id: str, *, checked: bool = False) -> dict[str, Any]:
        """Store a new customer from a body the API accepts (checked here against the document
        unless the caller just did); ``ApiError`` and nothing stored otherwise."""
        if not checked:
            schema.check("customer", body)
        body = dict(body)
        body.pop("rev", None)
        check_rules(body, org.metadata)
        check_unique(org, body, None)
        doc = self._new_doc(org, user_id)
        doc["attrs"].update(body)
        org.customers[doc["id"]] = doc
        self._reindex(org, doc)
        webhooks.customer_changed(self, org, doc, None)
        return doc

    def update(
        self,
        org: Org,
        doc: dict[str, Any],
        body: Any,
        user_id: str,
        *,
        replace: bool = False,
        checked: bool = False,
    ) -> None:
        """PATCH (and PUT without ``replace``) set the given attributes, arrays whole; custom
        attributes are merged key by key. ``PUT ?replace=true`` replaces the document."""
        if not checked:
            schema.check("customer_update", body)
        body = dict(body)
        rev = body.pop("rev", None)
        if rev is not None and rev != doc["rev"]:
            raise ApiError(
                409, "conflict", "Conflict", f"rev {rev} is stale (now {doc['rev']})", "/rev"
            )
        check_rules(body, org.metadata)
        check_unique(org, body, doc["id"])
        before = copy.deepcopy(doc["attrs"])
        if replace:
            doc["attrs"] = {}
        for key, value in body.items():
            stored = doc["attrs"].get("custom")
            if key == "custom" and isinstance(value, dict) and isinstance(stored, dict):
                custom = {**stored, **value}
                doc["attrs"]["custom"] = {k: v for k, v in custom.items() if v is not None}
            elif key == "custom" and isinstance(value, dict):
                doc["attrs"]["custom"] = {k: v for k, v in value.items() if v is not None}
            else:
                doc["attrs"][key] = value
        self._touch(org, doc, user_id)
        self._reindex(org, doc)
        webhooks.customer_changed(self, org, doc, before)

    def _delete(self, org: Org, doc: dict[str, Any], user_id: str) -> None:
        doc["deleted"] = True
        self._touch(org, doc, user_id)
        self._reindex(org, doc)

    def _reindex(self, org: Org, doc: dict[str, Any]) -> None:
        """Called after every change to a customer: keeps both indexes current."""
        key = (parse_iso(doc["updatedAt"]), doc["id"])
        previous = doc.get("updated_key")
        if previous != key:
            if previous is not None:
                del org.by_updated[bisect.bisect_left(org.by_updated, previous)]
            bisect.insort(org.by_updated, key)
            doc["updated_key"] = key
        by_modifier = _modifier_index(org)
        listed = doc.get("modifier_key")
        if listed != (doc["modifiedBy"], key):
            if listed is not None:
                keys = by_modifier[listed[0]]
                del keys[bisect.bisect_left(keys, listed[1])]
            bisect.insort(by_modifier.setdefault(doc["modifiedBy"], []), key)
            doc["modifier_key"] = (doc["modifiedBy"], key)
        for kind, value in doc.get("indexed") or []:
            if org.holder(kind, value) == doc["id"]:
                del org.index[kind][value]
        entries = [] if doc["deleted"] else [(k, v) for k, _, v in identifiers(doc["attrs"])]
        for kind, value in entries:
            org.index.setdefault(kind, {})[value] = doc["id"]
        doc["indexed"] = entries

    # ---- the app's control routes ------------------------------------------------------------

    def control(
        self, method: str, path: str, body: Any, args: Mapping[str, str]
    ) -> Response | None:
        """Kustomer's own control routes (the kit's ``reset``, ``faults``, ``clock``,
        ``requests``, ``stats`` and ``seed_demo`` come first)::

        POST /_sandbox/orgs                     {subdomain, users: [{email, password}],
                                                 api_keys: {key: [roles]}, metadata: {...}}
                                                 (roles default to every role)
        POST /_sandbox/orgs/<sub>/api_keys      {key, roles}
        POST /_sandbox/orgs/<sub>/customers     [customer attributes, ...]  (bulk seed)
        POST /_sandbox/orgs/<sub>/seed_demo     {count}  (demo people, custom attributes)
        GET  /_sandbox/orgs/<sub>/customers     every stored customer, deleted ones too
        POST /_sandbox/orgs/<sub>/rate_limit    {per_minute, search_per_minute}
        POST /_sandbox/limits                   {list_max_page_size, search_max_page_size,
                                                 max_pages, bulk_max}
        """
        from sandbox.kustomer.seed import seed_customers

        options: Any = {} if body is None else body
        if path == "orgs" and method == "POST":
            org = self.create_org(
                options["subdomain"],
                users=[(u["email"], u["password"]) for u in options.get("users", [])],
                api_keys={
                    key: ALL_ROLES if roles is None else roles
                    for key, roles in (options.get("api_keys") or {}).items()
                },
                metadata=options.get("metadata", {}),
            )
            return json_response({"subdomain": org.subdomain, "id": org.id}, 201)
        if path == "limits" and method == "POST":
            self.set_limits(**{k: int(v) for k, v in options.items()})
            return json_response({"ok": True})
        match = re.fullmatch(r"orgs/([^/]+)/(customers|api_keys|rate_limit|seed_demo)", path)
        if match is None:
            return None
        subdomain, what = match.groups()
        if subdomain not in self.orgs:
            return json_response({"error": f"no org {subdomain}"}, 404)
        try:
            if what == "customers" and method == "POST":
                created = [self.add_customer(subdomain, attrs) for attrs in options]
                return json_response({"data": created}, 201)
        except ApiError as exc:
            return error_response(exc)
        if what == "customers" and method == "GET":
            return json_response({"data": self.customers(subdomain)})
        if what == "api_keys" and method == "POST":
            user_id = self.add_api_key(subdomain, options["key"], options.get("roles") or ALL_ROLES)
            return json_response({"user_id": user_id}, 201)
        if what == "rate_limit" and method == "POST":
            search = options.get("search_per_minute")
            self.set_rate_limit(
                subdomain,
                int(options["per_minute"]),
                search_per_minute=None if search is None else int(search),
            )
            return json_response({"ok": True})
        if what == "seed_demo" and method == "POST":
            count = seed_customers(self, subdomain, int(options.get("count", 300)))
            return json_response({"created": count}, 201)
        return None


# ---- helpers ---------------------------------------------------------------------------------


def _body(request: Request) -> Any:
    if not request.get_data(cache=True):
        return None
    try:
        return json.loads(request.get_data(cache=True))
    except ValueError:
        raise bad_request("Body is not valid JSON", "/") from None


def _flag(value: str, name: str) -> bool:
    if value not in ("true", "false"):
        raise bad_request(f"{name} must be true or false", parameter=name)
    return value == "true"


def _ids(value: str | None, most: int) -> list[str]:
    ids = [part.strip() for part in (value or "").split(",") if part.strip()]
    if not ids or len(ids) > most or len(set(ids)) != len(ids):
        raise bad_request(f"ids must list 1 to {most} unique customer ids", parameter="ids")
    return ids


def _modifier_index(org: Org) -> dict[str, list[tuple[dt.datetime, str]]]:
    """``org.by_modifier``, built from the change-ordered index for an org saved before it
    existed (its state loaded from disk)."""
    index: dict[str, list[tuple[dt.datetime, str]]] | None = vars(org).get("by_modifier")
    if index is None:
        index = {}
        for key in org.by_updated:  # already in order
            doc = org.customers[key[1]]
            index.setdefault(doc["modifiedBy"], []).append(key)
            doc["modifier_key"] = (doc["modifiedBy"], key)
        org.by_modifier = index
    return index
