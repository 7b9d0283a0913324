"""An in-memory Kustomer org host, faithful to the parts of the REST API Tandem calls.

Paths are ``/<subdomain>/v1/...`` below the mount point (the real API is
``https://<subdomain>.api.kustomerapp.com/v1``). Envelopes, error bodies, status codes, the search
100-page cap, ``rev``/``updatedAt`` bumps, soft deletes seen with ``includeDeleted`` and the
``x-ratelimit-*`` headers follow docs/api-notes §1. Two things are emulator inventions and say so:

- ``POST /v1/auth/login`` ``{"email", "password"}`` -> ``{"data": {"type": "token", "attributes":
  {"token": ...}}}``: Kustomer documents no email+password sign-in for API clients; this stands in
  for it so the demo can log in without an API key.
- Tags are written by sending the whole ``tags`` array on ``PATCH /v1/customers/{id}`` (the
  official document has no customer tag endpoint), and tags are kept as names.

Bulk creates (``POST /v1/customers/bulk``) run at once: ``GET /v1/bulk/{id}`` reports
``complete`` on the first poll and ``GET /v1/bulk/{id}/batches`` holds the per-item results.

Control: the Python methods of ``KustomerEmulator`` (``create_org``, ``add_api_key``,
``add_customer``, ``set_faults``, ``set_rate_limit``, ``set_limits``, ``freeze_clock``,
``customers`` ...) and the same as JSON under ``/_sandbox/`` (see ``_control``). ``seed_demo``
creates the demo org; its credentials are the ``DEMO_*`` constants.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import json
import re
import secrets
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.demo_people import demo_people
from sandbox.server import Emulator

DEMO_SUBDOMAIN = "demo"
DEMO_EMAIL = "demo@tandem.example"
DEMO_PASSWORD = "demo-password"
DEMO_API_KEY = "demo-api-key-0123456789"

# Roles per capability: a key needs any one of them (permission-set role first, legacy second).
ROLE_READ = ("org.permission.customer.read", "org.user.customer.read")
ROLE_CREATE = ("org.permission.customer.create", "org.user.customer.write")
ROLE_UPDATE = ("org.permission.customer.update", "org.user.customer.write")
ROLE_DELETE = ("org.permission.customer.delete", "org.user.customer.delete")
ROLE_SEARCH = ("org.permission.search.create", "org.user.search.read")
ROLE_METADATA = ("org.permission.metadata.read", "org.user.metadata.read")
ROLE_BULK = ("org.permission.bulk.read", "org.user.bulk.read")
ALL_ROLES = frozenset(
    r[0]
    for r in (
        ROLE_READ, ROLE_CREATE, ROLE_UPDATE, ROLE_DELETE, ROLE_SEARCH, ROLE_METADATA, ROLE_BULK,
    )
)  # fmt: skip

CUSTOM_SUFFIXES = ("Str", "Txt", "Num", "Bool", "At", "Url")
WRITABLE = frozenset(
    {
        "name", "company", "externalId", "externalIds", "sharedExternalIds", "username",
        "avatarUrl", "signedUpAt", "lastActivityAt", "lastCustomerActivityAt", "lastSeenAt",
        "birthdayAt", "createdAt", "importedAt", "emails", "sharedEmails", "phones",
        "sharedPhones", "whatsapps", "socials", "sharedSocials", "urls", "locations", "locale",
        "timeZone", "defaultLang", "gender", "tags", "sentiment", "custom", "rev", "facebookIds",
        "instagramIds",
    }
)  # fmt: skip
TAG_PATTERN = re.compile(r"^[0-9a-zA-Z\u00c0-\u00ff_/<>\-.][0-9a-zA-Z\u00c0-\u00ff _/<>\-.]{0,63}$")
DATETIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
RATE_WINDOW = 60.0
DISPLAY_COLORS = ("yellow", "purple", "blue", "green", "orange", "red", "teal")
DISPLAY_ICONS = ("flower", "leaf", "star", "sun", "moon", "cloud", "tree")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str = "",
        pointer: str = "",
        *,
        parameter: str = "",
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.body: dict[str, Any] = {
            "status": str(status),
            "code": code,
            "title": title,
            "detail": detail or title,
            "meta": {},
        }
        if pointer:
            self.body["source"] = {"pointer": pointer}
        elif parameter:
            self.body["source"] = {"parameter": parameter}
        self.headers: dict[str, str] = {}


def iso(when: dt.datetime) -> str:
    return (
        when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    )


def parse_iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Fault:
    kind: str  # "status", "sleep", "after_commit"
    status: int = 500
    seconds: float = 0.0
    reset: float | None = None
    drop: bool = False


@dataclass
class Token:
    """An API key (a machine user with fixed roles) or a token from the emulated sign-in."""

    kind: str  # "api_key" or "user"
    roles: frozenset[str]
    user_id: str


@dataclass
class Org:
    subdomain: str
    id: str
    # email (case-folded) -> (password, user id)
    users: dict[str, tuple[str, str]] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    bulk_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (identifier kind, normalized value) -> id of the live customer holding it
    index: dict[tuple[str, str], str] = field(default_factory=dict)
    # Every customer's (updatedAt, id), sorted: the change-ordered index a range search on
    # customer_updated_at reads, as the real search reads its own index instead of scanning.
    by_updated: list[tuple[dt.datetime, str]] = field(default_factory=list)
    rate_limit: int = 1000
    search_rate_limit: int = 100
    window_start: float = 0.0
    used: int = 0
    search_used: int = 0


class KustomerEmulator(Emulator):
    slug = "kustomer"

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    # ---- control API -------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every org and knob: a fresh emulator."""
        with self.lock:
            self.orgs: dict[str, Org] = {}
            self.faults: list[Fault] = []
            self.request_count = 0
            self.requests: list[str] = []
            # Knobs (api-notes §1.6, §1.5): page size maximums, the search page cap, bulk size.
            self.list_max_page_size = 100
            self.search_max_page_size = 500
            self.max_pages = 100
            self.bulk_max = 100
            self._frozen: dt.datetime | None = None
            self._seq = 0

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

    def clock(self) -> dt.datetime:
        """Now, as the emulator stamps ``updatedAt``; frozen or advanced by tests."""
        with self.lock:
            return self._frozen if self._frozen is not None else dt.datetime.now(dt.UTC)

    def freeze_clock(self, when: dt.datetime | None) -> None:
        """Stamp every write with ``when`` (``None`` runs the real clock again): ties on
        ``updatedAt`` on demand."""
        with self.lock:
            self._frozen = when

    def advance_clock(self, seconds: float) -> None:
        with self.lock:
            self._frozen = self.clock() + dt.timedelta(seconds=seconds)

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
            now = iso(self.clock())
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
            doc = self._create(org, dict(attrs), "")
            if open_conversations is not None:
                doc["conversationCounts"] = {
                    "all": open_conversations + 1, "snoozed": 0,
                    "open": open_conversations, "done": 1,
                }  # fmt: skip
            doc["deleted"] = deleted
            self._reindex(org, doc)
            return self._resource(org, doc)

    def customers(self, subdomain: str, *, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Every stored customer as the API renders it (deleted ones too by default)."""
        with self.lock:
            org = self.orgs[subdomain]
            return [
                self._resource(org, doc)
                for doc in org.customers.values()
                if include_deleted or not doc["deleted"]
            ]

    def customer(self, subdomain: str, customer_id: str) -> dict[str, Any]:
        with self.lock:
            org = self.orgs[subdomain]
            return self._resource(org, org.customers[customer_id])

    def update_customer(self, subdomain: str, customer_id: str, attrs: Mapping[str, Any]) -> None:
        """Edit a customer as a user in Kustomer's UI would (bumps ``rev`` and ``updatedAt``)."""
        with self.lock:
            org = self.orgs[subdomain]
            self._update(org, org.customers[customer_id], dict(attrs), "")

    def delete_customer(self, subdomain: str, customer_id: str) -> None:
        with self.lock:
            org = self.orgs[subdomain]
            doc = org.customers[customer_id]
            doc["deleted"] = True
            self._touch(doc, "")
            self._reindex(org, doc)

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
        """The next ``count`` API requests answer ``status`` (a 429 storm when 429, carrying
        ``x-ratelimit-reset`` ``reset`` seconds ahead), or sleep ``sleep`` seconds first, or are
        applied and then answer 500 (``after_commit``) or drop the connection without an answer
        (``after_commit`` and ``drop``)."""
        with self.lock:
            if after_commit:
                fault = Fault("after_commit", status=status or 500, drop=drop)
            elif status is not None:
                fault = Fault("status", status=status, reset=reset)
            else:
                fault = Fault("sleep", seconds=sleep)
            self.faults = [fault for _ in range(count)]

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

    # ---- dispatch ----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_sandbox/"):
            try:
                return self._control(request, path[len("/_sandbox/") :])
            except ApiError as exc:
                return _error(exc)
            except (KeyError, ValueError, TypeError) as exc:
                return _json({"error": f"{type(exc).__name__}: {exc}"}, 400)
        parts = path.strip("/").split("/", 2)
        if len(parts) < 3 or parts[1] != "v1":
            return _error(ApiError(404, "not_found", "Not Found", f"No route for {path}"))
        subdomain, rest = parts[0], "/" + parts[2]
        with self.lock:
            self.request_count += 1
            self.requests.append(f"{request.method} {rest}")
            fault = self.faults.pop(0) if self.faults else None
            org = self.orgs.get(subdomain)
        if fault is not None and fault.kind == "sleep":
            time.sleep(fault.seconds)
        if org is None:
            # The real org host of an unknown subdomain answers no org; the connector maps this
            # code to "unknown subdomain".
            return _error(
                ApiError(404, "org_not_found", "Not Found", f"Organization {subdomain} not found")
            )
        headers, limited = self._count(org)
        if fault is not None and fault.kind == "status":
            if fault.status == 429:
                headers["x-ratelimit-remaining"] = "0"
                if fault.reset is not None:
                    headers["x-ratelimit-reset"] = str(round(time.time() + fault.reset, 3))
            return _error(_status_error(fault.status), headers)
        if limited:
            return _error(ApiError(429, "too_many_requests", "Too Many Requests"), headers)
        try:
            with self.lock:
                status, body = self._route(org, request, rest)
        except ApiError as exc:
            return _error(exc, {**headers, **exc.headers})
        if fault is not None and fault.kind == "after_commit":
            if fault.drop:
                _drop_connection(request)
            return _error(_status_error(fault.status), headers)
        if status == 204:
            return Response(status=204, headers=headers)
        return _json(body, status, headers)

    def _count(self, org: Org) -> tuple[dict[str, str], bool]:
        with self.lock:
            now = time.time()
            if now - org.window_start >= RATE_WINDOW:
                org.window_start, org.used, org.search_used = now, 0, 0
            org.used += 1
            limited = org.used > org.rate_limit
            return self._rate_headers(org, org.rate_limit, org.used), limited

    def _rate_headers(self, org: Org, limit: int, used: int) -> dict[str, str]:
        # Epoch seconds, as the Singer tap reads it; the connector also accepts a delta.
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(0, limit - used)),
            "x-ratelimit-reset": str(round(org.window_start + RATE_WINDOW, 3)),
        }

    def _count_search(self, org: Org, token: Token) -> None:
        """Searches by machine users (API keys) have their own budget (api-notes §1.8)."""
        if token.kind != "api_key":
            return
        org.search_used += 1
        if org.search_used > org.search_rate_limit:
            exc = ApiError(429, "too_many_requests", "Too Many Requests", "Search rate limit")
            exc.headers = self._rate_headers(org, org.search_rate_limit, org.search_used)
            raise exc

    def _authorize(self, org: Org, request: Request, roles: tuple[str, ...]) -> Token:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
        if token not in org.tokens:
            raise ApiError(401, "unauthorized", "Unauthorized", "Invalid auth token")
        granted = org.tokens[token]
        if roles and not granted.roles & set(roles):
            raise ApiError(
                403,
                "forbidden",
                "Forbidden",
                f"Missing role: one of {', '.join(roles)} is required",
            )
        return granted

    def _route(self, org: Org, request: Request, path: str) -> tuple[int, Any]:
        method = request.method
        if path == "/auth/login" and method == "POST":
            return self._login(org, _body(request))
        if path == "/customers" and method == "GET":
            self._authorize(org, request, ROLE_READ)
            return 200, self._list(org, request)
        if path == "/customers" and method == "POST":
            token = self._authorize(org, request, ROLE_CREATE)
            body = _object(_body(request))
            return 201, {"data": self._resource(org, self._create(org, body, token.user_id))}
        if path == "/customers/search" and method == "POST":
            token = self._authorize(org, request, ROLE_SEARCH)
            self._count_search(org, token)
            return 200, self._search(org, request, _body(request))
        if path == "/customers/bulk" and method == "POST":
            token = self._authorize(org, request, ROLE_CREATE)
            return 201, self._bulk_create(org, _body(request), token)
        match = re.fullmatch(r"/bulk/([0-9a-f]{24})(/batches)?", path)
        if match and method == "GET":
            self._authorize(org, request, ROLE_BULK)
            job = org.bulk_jobs.get(match.group(1))
            if job is None:
                raise ApiError(404, "not_found", "Not Found", f"Bulk {match.group(1)} not found")
            if match.group(2):
                return 200, {"data": [job["batch"]]}
            return 200, {"data": job["job"]}
        if path == "/metadata/customer" and method == "GET":
            self._authorize(org, request, ROLE_METADATA)
            return 200, self._metadata(org)
        match = re.fullmatch(r"/customers/([0-9a-f]{24})", path)
        if match:
            doc = org.customers.get(match.group(1))
            roles = {
                "GET": ROLE_READ,
                "PUT": ROLE_UPDATE,
                "PATCH": ROLE_UPDATE,
                "DELETE": ROLE_DELETE,
            }.get(method)
            if roles is None:
                raise ApiError(405, "method_not_allowed", "Method Not Allowed")
            token = self._authorize(org, request, roles)
            if doc is None or doc["deleted"]:
                raise ApiError(
                    404, "not_found", "Not Found", f"Customer {match.group(1)} not found"
                )
            if method == "GET":
                return 200, {"data": self._resource(org, doc)}
            if method == "DELETE":
                doc["deleted"] = True
                self._touch(doc, token.user_id)
                self._reindex(org, doc)
                return 204, None
            body = _object(_body(request))
            replace = method == "PUT" and request.args.get("replace") == "true"
            self._update(org, doc, body, token.user_id, replace=replace)
            return 200, {"data": self._resource(org, doc)}
        raise ApiError(404, "not_found", "Not Found", f"No route for {method} /v1{path}")

    # ---- endpoints ---------------------------------------------------------------------------

    def _login(self, org: Org, body: Any) -> tuple[int, Any]:
        """Emulator invention (see the module docstring): email + password -> bearer token."""
        body = body if isinstance(body, dict) else {}
        email = str(body.get("email", "")).casefold()
        password = str(body.get("password", ""))
        user = org.users.get(email)
        if not email or user is None or not secrets.compare_digest(user[0], password):
            raise ApiError(401, "invalid_credentials", "Unauthorized", "Invalid email or password")
        token = secrets.token_hex(20)
        org.tokens[token] = Token("user", ALL_ROLES, user[1])
        return 200, {"data": {"type": "token", "id": token[:24], "attributes": {"token": token}}}

    def _page_args(self, request: Request, max_size: int) -> tuple[int, int]:
        try:
            page = int(request.args.get("page", "1"))
            size = int(request.args.get("pageSize", "100"))
        except ValueError:
            raise ApiError(
                400, "bad_request", "Bad Request", "page and pageSize must be integers"
            ) from None
        if page < 1 or size < 1:
            raise ApiError(400, "bad_request", "Bad Request", "page and pageSize must be >= 1")
        if page > self.max_pages:
            raise ApiError(
                400,
                "bad_request",
                "Bad Request",
                f"page must be <= {self.max_pages}; narrow the query",
                parameter="page",
            )
        return page, min(size, max_size)

    def _bulk_create(self, org: Org, body: Any, token: Token) -> dict[str, Any]:
        """``POST /v1/customers/bulk``: a job that runs at once and reports ``complete`` on the
        first poll (api-notes §1.12), with per-item results by ``_clientRef``."""
        if not isinstance(body, list) or not body or len(body) > self.bulk_max:
            raise ApiError(
                400, "bad_request", "Bad Request", f"Body must be an array of 1..{self.bulk_max}"
            )
        refs = [item.get("_clientRef") if isinstance(item, dict) else None for item in body]
        if any(refs) and not all(refs):
            raise ApiError(
                400, "bad_request", "Bad Request", "_clientRef must be on every item or none"
            )
        if any(refs) and len(set(refs)) != len(refs):
            raise ApiError(400, "bad_request", "Bad Request", "_clientRef must be unique")
        results: list[dict[str, Any]] = []
        ids: list[str] = []
        for index, item in enumerate(body):
            result: dict[str, Any] = {"_clientRef": refs[index]} if refs[index] else {}
            try:
                attrs = _object(item)
                attrs.pop("_clientRef", None)
                doc = self._create(org, attrs, token.user_id)
            except ApiError as exc:
                result.update(status="error", error=exc.body["detail"])
            else:
                ids.append(doc["id"])
                result.update(status="created", objectId=doc["id"])
            results.append(result)
        job_id = self._new_id()
        now = iso(self.clock())
        failures = sum(1 for r in results if r["status"] == "error")
        relationships = {
            "org": {"links": {"self": f"/v1/orgs/{org.id}"}, "data": {"type": "org", "id": org.id}},
            "createdBy": {
                "links": {"self": f"/v1/users/{token.user_id}"},
                "data": {"type": "user", "id": token.user_id},
            },
        }
        job = {
            "type": "bulk",
            "id": job_id,
            "attributes": {
                "ids": ids,
                "context": "api.sobjects.customers.bulk-create",
                "status": "complete",
                "v2": True,
                "payload": {
                    "api": {
                        "data": [
                            {"name": str(i.get("name") or "")} for i in body if isinstance(i, dict)
                        ],
                        "path": "/v1/customers/bulk",
                        "user": {
                            "id": token.user_id,
                            "userType": "machine" if token.kind == "api_key" else "user",
                            "roles": sorted(token.roles),
                            "orgName": org.subdomain,
                            "subject": token.user_id,
                            "org": org.id,
                        },
                        "requestId": secrets.token_hex(12),
                        "service": "api",
                        "method": "POST",
                    }
                },
                "batches": {"complete": 1, "total": 1},
                "createdAt": now,
                "updatedAt": now,
                "completed": True,
            },
            "relationships": relationships,
            "links": {"self": f"/v1/bulk/{job_id}"},
        }
        batch = {
            "type": "bulk_batch",
            "id": self._new_id(),
            "attributes": {
                "status": "complete",
                "objectIds": ids,
                "successCount": len(results) - failures,
                "failureCount": failures,
                "completedAt": now,
                "errors": [r["error"] for r in results if r["status"] == "error"],
                "results": results,
            },
        }
        org.bulk_jobs[job_id] = {"job": job, "batch": batch}
        return {"data": job}

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
            "data": [self._resource(org, doc) for doc in chunk],
            "links": {
                "self": link(page),
                "first": link(1),
                "prev": link(page - 1) if page > 1 else None,
                "next": link(page + 1) if page < pages else None,
                "last": link(pages),
            },
        }

    def _list(self, org: Org, request: Request) -> dict[str, Any]:
        page, size = self._page_args(request, self.list_max_page_size)
        docs = sorted(
            (d for d in org.customers.values() if not d["deleted"]), key=lambda d: d["id"]
        )
        return self._paged(org, "/customers", docs, page, size)

    def _search(self, org: Org, request: Request, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request", "Bad Request", "Body must be an object")
        if body.get("queryContext") != "customer":
            raise ApiError(
                400, "bad_request", "Bad Request", "queryContext must be customer", "/queryContext"
            )
        page, size = self._page_args(request, self.search_max_page_size)
        include_deleted = bool(body.get("includeDeleted"))
        since = _updated_since(body)
        if since is not None:
            # A change-feed query: read the change-ordered index from the bound on, already in
            # the order asked for (the same records and order as the scan below).
            start = bisect.bisect_left(org.by_updated, (since, ""))
            listed = (org.customers[i] for _, i in org.by_updated[start:])
            docs = [d for d in listed if include_deleted or not d["deleted"]]
            return self._paged(org, "/customers/search", docs, page, size)
        docs = [
            d
            for d in org.customers.values()
            if (include_deleted or not d["deleted"]) and _matches(d, body)
        ]
        sorts = body.get("sort") or []
        sorts = [sorts] if isinstance(sorts, dict) else sorts
        for spec in reversed(sorts):
            for attr, direction in spec.items():
                docs.sort(key=functools.partial(_sort_key, attr), reverse=direction == "desc")
        if not sorts:
            docs.sort(key=lambda d: d["id"])
        return self._paged(org, "/customers/search", docs, page, size)

    def _metadata(self, org: Org) -> dict[str, Any]:
        properties = {}
        for name, spec in org.metadata.items():
            item: dict[str, Any] = {
                "type": spec.get("type") or _suffix_type(name),
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

    def _touch(self, doc: dict[str, Any], user_id: str) -> None:
        now = iso(self.clock())
        doc["updatedAt"] = doc["modifiedAt"] = now
        doc["modifiedBy"] = user_id or doc["modifiedBy"]
        doc["rev"] += 1

    def _create(self, org: Org, body: dict[str, Any], user_id: str) -> dict[str, Any]:
        body.pop("rev", None)
        self._validate(org, body, None)
        now = iso(self.clock())
        doc: dict[str, Any] = {
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
        doc["attrs"].update(body)
        org.customers[doc["id"]] = doc
        self._reindex(org, doc)
        return doc

    def _update(
        self,
        org: Org,
        doc: dict[str, Any],
        body: dict[str, Any],
        user_id: str,
        *,
        replace: bool = False,
    ) -> None:
        """PATCH (and PUT without ``replace``) set the given attributes, arrays whole; custom
        attributes are merged key by key. ``PUT ?replace=true`` replaces the document."""
        rev = body.pop("rev", None)
        if rev is not None and rev != doc["rev"]:
            raise ApiError(
                409, "conflict", "Conflict", f"rev {rev} is stale (now {doc['rev']})", "/rev"
            )
        self._validate(org, body, doc["id"])
        if replace:
            doc["attrs"] = {}
        for key, value in body.items():
            if key == "custom" and isinstance(value, dict):
                custom = dict(doc["attrs"].get("custom") or {})
                custom.update(value)
                doc["attrs"]["custom"] = {k: v for k, v in custom.items() if v is not None}
            else:
                doc["attrs"][key] = value
        self._touch(doc, user_id)
        self._reindex(org, doc)

    def _validate(self, org: Org, body: dict[str, Any], own_id: str | None) -> None:
        for key in body:
            if key not in WRITABLE:
                raise ApiError(
                    400, "bad_request", "Bad Request", f"Unknown attribute {key}", f"/{key}"
                )
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 256):
            raise ApiError(400, "bad_request", "Bad Request", "name must be a string ≤256", "/name")
        for key, item_key in (("emails", "email"), ("phones", "phone"), ("urls", "url")):
            items = body.get(key)
            if items is None:
                continue
            if not isinstance(items, list) or len(items) > 10:
                raise ApiError(
                    400, "bad_request", "Bad Request", f"{key} must be a list ≤10", f"/{key}"
                )
            for index, item in enumerate(items):
                if not isinstance(item, dict) or not isinstance(item.get(item_key), str):
                    raise ApiError(
                        400, "bad_request", "Bad Request", f"{key} item needs {item_key}",
                        f"/{key}/{index}/{item_key}",
                    )  # fmt: skip
                if key == "emails" and "@" not in item["email"]:
                    raise ApiError(
                        400, "bad_request", "Bad Request", f"Invalid email {item['email']}",
                        f"/emails/{index}/email",
                    )  # fmt: skip
        tags = body.get("tags")
        if tags is not None:
            if not isinstance(tags, list) or len(tags) > 20:
                raise ApiError(
                    400, "bad_request", "Bad Request", "tags must be a list ≤20", "/tags"
                )
            for tag in tags:
                if not isinstance(tag, str) or not TAG_PATTERN.match(tag):
                    raise ApiError(
                        400, "bad_request", "Bad Request", f"Invalid tag {tag!r}", "/tags"
                    )
        if body.get("birthdayAt") is not None and not DATETIME_PATTERN.match(
            str(body["birthdayAt"])
        ):
            raise ApiError(
                400, "bad_request", "Bad Request", "birthdayAt must be a date-time", "/birthdayAt"
            )
        custom = body.get("custom")
        if custom is not None:
            if not isinstance(custom, dict) or len(custom) > 100:
                raise ApiError(
                    400, "bad_request", "Bad Request", "custom must be an object", "/custom"
                )
            for key, value in custom.items():
                problem = custom_problem(key, value, org.metadata.get(key))
                if problem:
                    raise ApiError(400, "bad_request", "Bad Request", problem, f"/custom/{key}")
        self._check_unique(org, body, own_id)

    def _check_unique(self, org: Org, body: dict[str, Any], own_id: str | None) -> None:
        """Emails, phones and external ids are unique per org among live customers: Kustomer
        routes inbound messages by them (api-notes §1.4)."""
        for key, label, value in _wanted_identifiers(body):
            holder = org.index.get((key, value))
            if holder is not None and holder != own_id:
                raise ApiError(
                    409,
                    "duplicate",
                    "Conflict",
                    f"Duplicate {label} {value} found on customer {holder}",
                    f"/{key}",
                )

    def _reindex(self, org: Org, doc: dict[str, Any]) -> None:
        """Called after every change to a customer: keeps both indexes current."""
        key = (parse_iso(doc["updatedAt"]), doc["id"])
        previous = doc.get("updated_key")
        if previous != key:
            if previous is not None:
                del org.by_updated[bisect.bisect_left(org.by_updated, previous)]
            bisect.insort(org.by_updated, key)
            doc["updated_key"] = key
        for entry in doc.get("indexed") or []:
            if org.index.get(entry) == doc["id"]:
                del org.index[entry]
        entries = (
            [] if doc["deleted"] else [(k, v) for k, _, v in _wanted_identifiers(doc["attrs"])]
        )
        for entry in entries:
            org.index[entry] = doc["id"]
        doc["indexed"] = entries

    def _resource(self, org: Org, doc: dict[str, Any]) -> dict[str, Any]:
        """A customer as the API renders it. Kustomer's OpenAPI document derives its response
        schemas from one full example and declares nearly every attribute required; attributes
        this org host does not model (activity, previews, display colours) are rendered with
        neutral values so that responses keep that shape."""
        attrs = doc["attrs"]
        name = attrs.get("name") or ""
        first, _, last = name.partition(" ")
        emails = attrs.get("emails") or []
        counts = dict(doc["conversationCounts"])
        sentiment = dict(attrs.get("sentiment") or {"polarity": 0, "confidence": 0})
        out: dict[str, Any] = {
            "name": name,
            "displayName": name or (emails[0]["email"] if emails else "Unknown"),
            "displayColor": DISPLAY_COLORS[int(doc["id"], 16) % len(DISPLAY_COLORS)],
            "displayIcon": DISPLAY_ICONS[int(doc["id"], 16) % len(DISPLAY_ICONS)],
            "firstName": first or None,
            "lastName": last or None,
            "externalId": attrs.get("externalId") or "",
            "externalIds": [{"externalId": attrs["externalId"], "verified": False, "id": None}]
            if attrs.get("externalId")
            else [],
            "sharedExternalIds": [],
            "signedUpAt": attrs.get("signedUpAt"),
            "avatarUrl": attrs.get("avatarUrl"),
            "username": attrs.get("username"),
            "emails": [
                {
                    "email": e["email"],
                    "verified": bool(e.get("verified")),
                    "type": e.get("type") or "home",
                    "id": None,
                }
                for e in emails
            ],
            "sharedEmails": [],
            "phones": [
                {
                    "phone": p["phone"],
                    "verified": bool(p.get("verified")),
                    "type": p.get("type") or "mobile",
                    "id": None,
                }
                for p in attrs.get("phones") or []
            ],
            "sharedPhones": [],
            "socials": [],
            "sharedSocials": [],
            "urls": [
                {"url": u["url"], "type": u.get("type") or "website", "id": None}
                for u in attrs.get("urls") or []
            ],
            "locations": [
                {
                    **loc,
                    "type": loc.get("type") or "other",
                    "address": loc.get("address") or "",
                    "id": None,
                }
                for loc in attrs.get("locations") or []
            ],
            "activeUsers": [],
            "watchers": [],
            "recentLocation": {"updatedAt": doc["createdAt"]},
            "locale": attrs.get("locale") or "",
            "defaultLang": attrs.get("defaultLang") or "",
            "timeZone": attrs.get("timeZone"),
            "birthdayAt": attrs.get("birthdayAt"),
            "gender": attrs.get("gender") or "",
            "presence": "offline",
            "createdAt": doc["createdAt"],
            "updatedAt": doc["updatedAt"],
            "modifiedAt": doc["modifiedAt"],
            "lastSeenAt": doc["createdAt"],
            "lastActivityAt": doc["updatedAt"],
            "lastCustomerActivityAt": doc["createdAt"],
            "lastMessageIn": {"sentAt": doc["createdAt"], "sentiment": None},
            "lastConversation": {"id": doc["id"], "sentiment": sentiment, "tags": []},
            "conversationCounts": counts,
            "preview": {"previewAt": doc["createdAt"], "type": "", "text": "", "subject": ""},
            "tags": list(attrs.get("tags") or []),
            "sentiment": sentiment,
            "progressiveStatus": "open" if counts["open"] else "done",
            "custom": dict(attrs.get("custom") or {}),
            "deleted": doc["deleted"],
            "verified": False,
            "rev": doc["rev"],
        }
        if attrs.get("company"):
            out["company"] = attrs["company"]
        link = f"/v1/customers/{doc['id']}"

        def user(user_id: str) -> dict[str, Any]:
            return {
                "links": {"self": f"/v1/users/{user_id}"},
                "data": {"type": "user", "id": user_id},
            }

        return {
            "type": "customer",
            "id": doc["id"],
            "attributes": out,
            "relationships": {
                "org": {
                    "links": {"self": f"/v1/orgs/{org.id}"},
                    "data": {"type": "org", "id": org.id},
                },
                "messages": {"links": {"self": f"{link}/messages"}},
                "createdBy": user(doc["createdBy"]),
                "modifiedBy": user(doc["modifiedBy"]),
            },
            "links": {"self": link},
        }

    # ---- HTTP control API --------------------------------------------------------------------

    def _control(self, request: Request, path: str) -> Response:
        """The JSON control API for out-of-process users (the demo, the benchmarks)::

        POST /_sandbox/reset
        POST /_sandbox/orgs                     {subdomain, users: [{email, password}],
                                                 api_keys: {key: [roles]}, metadata: {...}}
                                                 (roles default to every role)
        POST /_sandbox/orgs/<sub>/api_keys      {key, roles}
        POST /_sandbox/orgs/<sub>/customers     [customer attributes, ...]  (bulk seed)
        POST /_sandbox/orgs/<sub>/seed_demo     {count}  (demo people, custom attributes)
        GET  /_sandbox/orgs/<sub>/customers     every stored customer, deleted ones too
        POST /_sandbox/orgs/<sub>/rate_limit    {per_minute, search_per_minute}
        POST /_sandbox/faults                   {count, status, sleep, after_commit, drop,
                                                 reset}
        POST /_sandbox/limits                   {list_max_page_size, search_max_page_size,
                                                 max_pages, bulk_max}
        POST /_sandbox/clock                    {freeze: iso or null} or {advance: seconds}
        GET  /_sandbox/stats                    {request_count, requests: {kind: n}}
        """
        body = _body(request)
        body = {} if body is None else body
        method = request.method
        if path == "reset" and method == "POST":
            self.reset()
            return _json({"ok": True})
        if path == "orgs" and method == "POST":
            org = self.create_org(
                body["subdomain"],
                users=[(u["email"], u["password"]) for u in body.get("users", [])],
                api_keys={
                    key: ALL_ROLES if roles is None else roles
                    for key, roles in (body.get("api_keys") or {}).items()
                },
                metadata=body.get("metadata", {}),
            )
            return _json({"subdomain": org.subdomain, "id": org.id}, 201)
        if path == "faults" and method == "POST":
            self.set_faults(
                count=int(body.get("count", 1)),
                status=body.get("status"),
                sleep=float(body.get("sleep", 0)),
                after_commit=bool(body.get("after_commit")),
                drop=bool(body.get("drop")),
                reset=body.get("reset"),
            )
            return _json({"ok": True})
        if path == "limits" and method == "POST":
            self.set_limits(**{k: int(v) for k, v in body.items()})
            return _json({"ok": True})
        if path == "clock" and method == "POST":
            if "advance" in body:
                self.advance_clock(float(body["advance"]))
            else:
                freeze = body.get("freeze")
                self.freeze_clock(parse_iso(freeze) if freeze else None)
            return _json({"now": iso(self.clock())})
        if path == "stats" and method == "GET":
            with self.lock:
                kinds: dict[str, int] = {}
                for kind in self.requests:
                    kinds[kind] = kinds.get(kind, 0) + 1
                return _json({"request_count": self.request_count, "requests": kinds})
        match = re.fullmatch(r"orgs/([^/]+)/(customers|api_keys|rate_limit|seed_demo)", path)
        if match is None:
            return _json({"error": f"no control route {method} {path}"}, 404)
        subdomain, what = match.groups()
        if subdomain not in self.orgs:
            return _json({"error": f"no org {subdomain}"}, 404)
        if what == "customers" and method == "POST":
            with self.lock:
                created = [self.add_customer(subdomain, attrs) for attrs in body]
            return _json({"data": created}, 201)
        if what == "customers" and method == "GET":
            return _json({"data": self.customers(subdomain)})
        if what == "api_keys" and method == "POST":
            user_id = self.add_api_key(subdomain, body["key"], body.get("roles") or ALL_ROLES)
            return _json({"user_id": user_id}, 201)
        if what == "rate_limit" and method == "POST":
            search = body.get("search_per_minute")
            self.set_rate_limit(
                subdomain,
                int(body["per_minute"]),
                search_per_minute=None if search is None else int(search),
            )
            return _json({"ok": True})
        if what == "seed_demo" and method == "POST":
            count = seed_customers(self, subdomain, int(body.get("count", 300)))
            return _json({"created": count}, 201)
        return _json({"error": f"no control route {method} {path}"}, 404)


# ---- helpers ---------------------------------------------------------------------------------


def _suffix_type(name: str) -> str:
    for suffix, kind in (
        ("Str", "string"), ("Txt", "text"), ("Num", "number"),
        ("Bool", "boolean"), ("At", "date"), ("Url", "url"),
    ):  # fmt: skip
        if name.endswith(suffix):
            return kind
    return "string"


def custom_problem(key: str, value: Any, spec: Mapping[str, Any] | None = None) -> str:
    """Why Kustomer would refuse this custom attribute value, or ""."""
    suffix = next((s for s in CUSTOM_SUFFIXES if key.endswith(s) and len(key) > len(s)), "")
    if not suffix:
        return f"Custom attribute {key} has no known type suffix"
    if value is None:
        return ""
    if suffix in ("Str", "Txt"):
        if not isinstance(value, str) or len(value) > 1024:
            return f"{key} must be a string of at most 1024 characters"
        if spec and spec.get("enumeration") and value not in spec["enumeration"]:
            return f"{key} must be one of {', '.join(spec['enumeration'])}"
    elif suffix == "Num":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{key} must be a number"
    elif suffix == "Bool":
        if not isinstance(value, bool):
            return f"{key} must be a boolean"
    elif suffix == "At":
        if not isinstance(value, str) or not DATETIME_PATTERN.match(value):
            return f"{key} must be an ISO 8601 date-time"
    elif suffix == "Url" and (not isinstance(value, str) or not re.match(r"^https?://\S+$", value)):
        return f"{key} must be a URL"
    return ""


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def _wanted_identifiers(attrs: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    wanted: list[tuple[str, str, str]] = []
    for item in attrs.get("emails") or []:
        wanted.append(("emails", "email", str(item["email"]).casefold()))
    for item in attrs.get("phones") or []:
        wanted.append(("phones", "phone", _digits(str(item["phone"]))))
    if attrs.get("externalId"):
        wanted.append(("externalId", "externalId", str(attrs["externalId"])))
    return wanted


def _values(doc: dict[str, Any], attr: str) -> list[Any]:
    attrs = doc["attrs"]
    if attr in ("customer_updated_at", "customer_modified_at"):
        return [doc["updatedAt"]]
    if attr == "customer_created_at":
        return [doc["createdAt"]]
    if attr == "customer_email":
        return [e["email"].casefold() for e in attrs.get("emails") or []]
    if attr == "customer_phone":
        return [_digits(p["phone"]) for p in attrs.get("phones") or []]
    if attr == "customer_externalId":
        return [attrs["externalId"]] if attrs.get("externalId") else []
    if attr == "customer_name":
        return [attrs.get("name") or ""]
    if attr == "customer_tags":
        return list(attrs.get("tags") or [])
    if attr.startswith("customer_custom_"):
        value = (attrs.get("custom") or {}).get(attr[len("customer_custom_") :])
        return [] if value is None else [value]
    raise ApiError(400, "bad_request", "Bad Request", f"Unknown search attribute {attr}")


def _normalize(attr: str, value: Any) -> Any:
    if attr == "customer_email" and isinstance(value, str):
        return value.casefold()
    if attr == "customer_phone" and isinstance(value, str):
        return _digits(value)
    return value


def _criterion(doc: dict[str, Any], criterion: dict[str, Any]) -> bool:
    for attr, ops in criterion.items():
        if attr in ("and", "or", "not"):
            if not _group(doc, attr, ops):
                return False
            continue
        values = _values(doc, attr)
        if not isinstance(ops, dict):
            raise ApiError(400, "bad_request", "Bad Request", f"Bad criterion for {attr}")
        for op, raw in ops.items():
            if op == "in":
                wanted = {_normalize(attr, v) for v in raw}
                ok = any(v in wanted for v in values)
            elif op == "equals":
                ok = _normalize(attr, raw) in values
            elif op == "not_set":
                ok = not values
            elif op in ("gte", "gt", "lte", "lt"):
                if attr.endswith("_at"):
                    bound: Any = parse_iso(raw)
                    points = [parse_iso(v) for v in values]
                else:
                    bound, points = raw, values
                ok = any(
                    {"gte": p >= bound, "gt": p > bound, "lte": p <= bound, "lt": p < bound}[op]
                    for p in points
                )
            else:
                raise ApiError(400, "bad_request", "Bad Request", f"Unknown operator {op}")
            if not ok:
                return False
    return True


def _group(doc: dict[str, Any], kind: str, criteria: Any) -> bool:
    items = [criteria] if isinstance(criteria, dict) else list(criteria or [])
    if len(items) > 20:
        raise ApiError(400, "bad_request", "Bad Request", f"At most 20 criteria in {kind}")
    results = [_criterion(doc, c) for c in items]
    if kind == "and":
        return all(results)
    if kind == "or":
        return any(results) if results else True
    return not any(results)


def _updated_since(body: dict[str, Any]) -> dt.datetime | None:
    """The lower bound of a search that is only "customer_updated_at >= bound (or none), oldest
    first", which the change-ordered index answers; None for any other search."""
    if set(body) - {"queryContext", "sort", "includeDeleted", "and"}:
        return None
    if body.get("sort") not in ([{"customer_updated_at": "asc"}], {"customer_updated_at": "asc"}):
        return None
    criteria = body.get("and")
    if criteria is None:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    if isinstance(criteria, dict):
        criteria = [criteria]
    if not isinstance(criteria, list) or len(criteria) != 1:
        return None
    criterion = criteria[0]
    if not isinstance(criterion, dict) or set(criterion) != {"customer_updated_at"}:
        return None
    ops = criterion["customer_updated_at"]
    if not isinstance(ops, dict) or set(ops) != {"gte"} or not isinstance(ops["gte"], str):
        return None
    try:
        bound = parse_iso(ops["gte"])
    except ValueError:
        return None
    return bound if bound.tzinfo is not None else None


def _matches(doc: dict[str, Any], body: dict[str, Any]) -> bool:
    return all(_group(doc, kind, body[kind]) for kind in ("and", "or", "not") if kind in body)


def _sort_key(attr: str, doc: dict[str, Any]) -> Any:
    if attr in ("customer_updated_at", "customer_modified_at"):
        return (parse_iso(doc["updatedAt"]), doc["id"])
    if attr == "customer_created_at":
        return (parse_iso(doc["createdAt"]), doc["id"])
    if attr == "customer_name":
        return (doc["attrs"].get("name") or "", doc["id"])
    raise ApiError(400, "bad_request", "Bad Request", f"Cannot sort by {attr}")


def _status_error(status: int) -> ApiError:
    titles = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
    return ApiError(status, "error", titles.get(status, "Error"))


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "Bad Request", "Body must be an object")
    return body


def _drop_connection(request: Request) -> None:
    """Close the client's connection without an answer: a reset after the write committed."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _body(request: Request) -> Any:
    if not request.data:
        return None
    try:
        return json.loads(request.data)
    except ValueError:
        raise ApiError(400, "bad_request", "Bad Request", "Body is not valid JSON") from None


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=dict(headers or {}), mimetype="application/json"
    )


def _error(exc: ApiError, headers: Mapping[str, str] | None = None) -> Response:
    return _json({"errors": [exc.body]}, exc.status, headers)


# ---- demo data -------------------------------------------------------------------------------

DEMO_METADATA: dict[str, dict[str, Any]] = {
    "loyaltyTierStr": {"displayName": "Loyalty Tier", "enumeration": ["bronze", "silver", "gold"]},
    "totalSpentNum": {"displayName": "Total Spent"},
    "vipBool": {"displayName": "VIP"},
    "lastOrderAt": {"displayName": "Last Order"},
    "notesTxt": {"displayName": "Notes"},
    "profileUrl": {"displayName": "Profile"},
}


def seed_demo(emulator: KustomerEmulator, subdomain: str = DEMO_SUBDOMAIN, count: int = 300) -> Org:
    """The demo org at ``subdomain``: the user ``DEMO_EMAIL`` / ``DEMO_PASSWORD``, the full-role
    API key ``DEMO_API_KEY``, custom attribute metadata and ``count`` customers drawn from
    ``demo_people(count, seed=42)`` (so they overlap the Google demo account by email)."""
    with emulator.lock:
        if subdomain in emulator.orgs:
            del emulator.orgs[subdomain]
        org = emulator.create_org(
            subdomain,
            users=[(DEMO_EMAIL, DEMO_PASSWORD)],
            api_keys={DEMO_API_KEY: ALL_ROLES},
            metadata=DEMO_METADATA,
        )
        seed_customers(emulator, subdomain, count)
        return org


def seed_customers(emulator: KustomerEmulator, subdomain: str, count: int) -> int:
    """Add ``count`` demo people to an org as customers with custom attributes, sentiments and
    open conversations, ``updatedAt`` spread over the past; returns how many were created."""
    import random

    rng = random.Random(42)
    base = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    created = 0
    with emulator.lock:
        org = emulator.org(subdomain)
        frozen = emulator._frozen
        try:
            for index, person in enumerate(demo_people(count, seed=42)):
                emulator.freeze_clock(base + dt.timedelta(minutes=7 * index))
                attrs: dict[str, Any] = {
                    "name": person.full_name,
                    "emails": [{"type": "work", "email": e} for e in person.emails],
                    "phones": [{"type": "mobile", "phone": p} for p in person.phones],
                    "locations": [
                        {"type": "work", "cityName": person.city, "countryCode": person.country}
                    ],
                    "sentiment": {"polarity": rng.choice([-1, 0, 1]), "confidence": 0.8},
                    "tags": rng.choice([[], [], ["newsletter"], ["vip", "newsletter"]]),
                    "custom": {
                        "loyaltyTierStr": rng.choice(["bronze", "silver", "gold"]),
                        "totalSpentNum": round(rng.uniform(0, 5000), 2),
                        "vipBool": rng.random() < 0.1,
                        "lastOrderAt": iso(base - dt.timedelta(days=rng.randint(1, 400))),
                    },
                }
                if person.company:
                    attrs["company"] = person.company
                try:
                    doc = emulator._create(org, attrs, "")
                except ApiError:
                    continue  # a contact point shared with a customer already there
                open_count = rng.choice([0, 0, 1, 2])
                doc["conversationCounts"] = {
                    "all": open_count + 3, "snoozed": 0, "open": open_count, "done": 3,
                }  # fmt: skip
                created += 1
        finally:
            emulator.freeze_clock(frozen)
    return created
