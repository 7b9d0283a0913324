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

Control: the Python methods below (``create_org``, ``add_customer``, ``set_faults`` ...) and a
JSON API under ``/_sandbox/`` (``reset``, ``orgs``, ``orgs/<sub>/customers``, ``faults``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from integrations.sandbox.demo_people import demo_people
from integrations.sandbox.server import Emulator

DEMO_SUBDOMAIN = "demo"
DEMO_EMAIL = "demo@tandem.example"
DEMO_PASSWORD = "demo-password"
DEMO_API_KEY = "demo-api-key"

# Roles per capability: a key needs any one of them (permission-set role first, legacy second).
ROLE_READ = ("org.permission.customer.read", "org.user.customer.read")
ROLE_CREATE = ("org.permission.customer.create", "org.user.customer.write")
ROLE_UPDATE = ("org.permission.customer.update", "org.user.customer.write")
ROLE_DELETE = ("org.permission.customer.delete", "org.user.customer.delete")
ROLE_SEARCH = ("org.permission.search.create", "org.user.search.read")
ROLE_METADATA = ("org.permission.metadata.read", "org.user.metadata.read")
ALL_ROLES = frozenset(
    r[0] for r in (ROLE_READ, ROLE_CREATE, ROLE_UPDATE, ROLE_DELETE, ROLE_SEARCH, ROLE_METADATA)
)

CUSTOM_SUFFIXES = ("Str", "Txt", "Num", "Bool", "At", "Url")
WRITABLE = frozenset(
    {
        "name", "company", "externalId", "externalIds", "sharedExternalIds", "username",
        "avatarUrl", "signedUpAt", "lastActivityAt", "lastCustomerActivityAt", "lastSeenAt",
        "birthdayAt", "createdAt", "importedAt", "emails", "sharedEmails", "phones",
        "sharedPhones", "whatsapps", "socials", "sharedSocials", "urls", "locations", "locale",
        "timeZone", "defaultLang", "gender", "tags", "sentiment", "custom", "rev",
    }
)  # fmt: skip
TAG_PATTERN = re.compile(r"^[0-9a-zA-Z\u00c0-\u00ff_/<>\-.][0-9a-zA-Z\u00c0-\u00ff _/<>\-.]{0,63}$")
DATETIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
RATE_WINDOW = 60.0


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, title: str, detail: str = "", pointer: str = ""
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


@dataclass
class Org:
    subdomain: str
    id: str
    users: dict[str, str] = field(default_factory=dict)
    # token -> (label, roles); API keys and signed-in user tokens alike.
    tokens: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    rate_limit: int = 1000
    window_start: float = 0.0
    used: int = 0


class KustomerEmulator(Emulator):
    slug = "kustomer"

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    # ---- control API -------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.orgs: dict[str, Org] = {}
            self.faults: list[Fault] = []
            self.request_count = 0
            self.max_page_size = 100
            self.max_pages = 100
            self._frozen: dt.datetime | None = None
            self._seq = 0

    def clock(self) -> dt.datetime:
        """Now, as the emulator stamps ``updatedAt``; frozen or advanced by tests."""
        with self.lock:
            return self._frozen if self._frozen is not None else dt.datetime.now(dt.UTC)

    def freeze_clock(self, when: dt.datetime | None) -> None:
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
        with self.lock:
            org = Org(subdomain=subdomain, id=self._new_id(), window_start=time.time())
            org.users = {email.casefold(): password for email, password in users}
            for key, roles in (api_keys or {}).items():
                org.tokens[key] = ("api key", frozenset(roles))
            for name, spec in (metadata or {}).items():
                org.metadata[name] = dict(spec)
            self.orgs[subdomain] = org
            return org

    def org(self, subdomain: str) -> Org:
        return self.orgs[subdomain]

    def add_customer(self, subdomain: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """Create a customer as the API would (validated), without a request; returns the
        response envelope's ``data``."""
        with self.lock:
            org = self.orgs[subdomain]
            doc = self._create(org, dict(attrs))
            return self._resource(org, doc)

    def customers(self, subdomain: str) -> list[dict[str, Any]]:
        with self.lock:
            org = self.orgs[subdomain]
            return [self._resource(org, doc) for doc in org.customers.values()]

    def set_faults(
        self,
        *,
        count: int = 1,
        status: int | None = None,
        sleep: float = 0.0,
        after_commit: bool = False,
        reset: float | None = None,
    ) -> None:
        """The next ``count`` API requests answer ``status`` (429 carries ``x-ratelimit-reset``
        of ``reset`` seconds), sleep ``sleep`` seconds first, or are applied and then answer 500
        (``after_commit``)."""
        with self.lock:
            if after_commit:
                fault = Fault("after_commit", status=status or 500)
            elif status is not None:
                fault = Fault("status", status=status, reset=reset)
            else:
                fault = Fault("sleep", seconds=sleep)
            self.faults = [fault for _ in range(count)]

    def set_rate_limit(self, subdomain: str, per_minute: int) -> None:
        with self.lock:
            org = self.orgs[subdomain]
            org.rate_limit = per_minute
            org.used = 0
            org.window_start = time.time()

    def expire_tokens(self, subdomain: str) -> None:
        """Forget every signed-in user token (API keys stay)."""
        with self.lock:
            org = self.orgs[subdomain]
            org.tokens = {k: v for k, v in org.tokens.items() if v[0] == "api key"}

    # ---- dispatch ----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_sandbox/"):
            try:
                return self._control(request, path[len("/_sandbox/") :])
            except (KeyError, ValueError, TypeError) as exc:
                return _json({"error": str(exc)}, 400)
        parts = path.strip("/").split("/", 2)
        if len(parts) < 3 or parts[1] != "v1":
            return _error(ApiError(404, "not_found", "Not Found", f"No route for {path}"))
        subdomain, rest = parts[0], "/" + parts[2]
        with self.lock:
            self.request_count += 1
            fault = self.faults.pop(0) if self.faults else None
            org = self.orgs.get(subdomain)
        if fault is not None and fault.kind == "sleep":
            time.sleep(fault.seconds)
        if org is None:
            return _error(
                ApiError(404, "org_not_found", "Not Found", f"Organization {subdomain} not found")
            )
        headers, limited = self._count(org)
        if fault is not None and fault.kind == "status":
            if fault.status == 429 and fault.reset is not None:
                headers["x-ratelimit-remaining"] = "0"
                headers["x-ratelimit-reset"] = str(int(time.time() + fault.reset))
            return _error(_status_error(fault.status), headers)
        if limited:
            return _error(ApiError(429, "too_many_requests", "Too Many Requests"), headers)
        try:
            with self.lock:
                status, body = self._route(org, request, rest)
        except ApiError as exc:
            return _error(exc, headers)
        if fault is not None and fault.kind == "after_commit":
            return _error(_status_error(fault.status), headers)
        if status == 204:
            return Response(status=204, headers=headers)
        return _json(body, status, headers)

    def _count(self, org: Org) -> tuple[dict[str, str], bool]:
        with self.lock:
            now = time.time()
            if now - org.window_start >= RATE_WINDOW:
                org.window_start, org.used = now, 0
            org.used += 1
            limited = org.used > org.rate_limit
            headers = {
                "x-ratelimit-limit": str(org.rate_limit),
                "x-ratelimit-remaining": str(max(0, org.rate_limit - org.used)),
                "x-ratelimit-reset": str(int(org.window_start + RATE_WINDOW)),
            }
            return headers, limited

    def _authorize(self, org: Org, request: Request, roles: tuple[str, ...]) -> str:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
        if token not in org.tokens:
            raise ApiError(401, "unauthorized", "Unauthorized", "Invalid auth token")
        label, granted = org.tokens[token]
        if roles and not granted & set(roles):
            raise ApiError(
                403,
                "forbidden",
                "Forbidden",
                f"Missing role: one of {', '.join(roles)} is required",
            )
        return label

    def _route(self, org: Org, request: Request, path: str) -> tuple[int, Any]:
        method = request.method
        if path == "/auth/login" and method == "POST":
            return self._login(org, _body(request))
        if path == "/customers" and method == "GET":
            self._authorize(org, request, ROLE_READ)
            return 200, self._list(org, request)
        if path == "/customers" and method == "POST":
            self._authorize(org, request, ROLE_CREATE)
            body = _body(request)
            if not isinstance(body, dict):
                raise ApiError(400, "bad_request", "Bad Request", "Body must be an object")
            return 201, {"data": self._resource(org, self._create(org, body))}
        if path == "/customers/search" and method == "POST":
            self._authorize(org, request, ROLE_SEARCH)
            return 200, self._search(org, request, _body(request))
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
            self._authorize(org, request, roles)
            if doc is None or doc["deleted"]:
                raise ApiError(
                    404, "not_found", "Not Found", f"Customer {match.group(1)} not found"
                )
            if method == "GET":
                return 200, {"data": self._resource(org, doc)}
            if method == "DELETE":
                doc["deleted"] = True
                self._touch(doc)
                return 204, None
            body = _body(request)
            if not isinstance(body, dict):
                raise ApiError(400, "bad_request", "Bad Request", "Body must be an object")
            self._update(org, doc, body)
            return 200, {"data": self._resource(org, doc)}
        raise ApiError(404, "not_found", "Not Found", f"No route for {method} /v1{path}")

    # ---- endpoints ---------------------------------------------------------------------------

    def _login(self, org: Org, body: Any) -> tuple[int, Any]:
        email = str((body or {}).get("email", "")).casefold()
        password = str((body or {}).get("password", ""))
        if not email or org.users.get(email) != password:
            raise ApiError(401, "invalid_credentials", "Unauthorized", "Invalid email or password")
        token = secrets.token_hex(20)
        org.tokens[token] = (email, ALL_ROLES)
        return 200, {"data": {"type": "token", "id": token[:24], "attributes": {"token": token}}}

    def _page_args(self, request: Request) -> tuple[int, int]:
        try:
            page = int(request.args.get("page", "1"))
            size = int(request.args.get("pageSize", str(self.max_page_size)))
        except ValueError:
            raise ApiError(
                400, "bad_request", "Bad Request", "page and pageSize must be integers"
            ) from None
        if page < 1 or size < 1:
            raise ApiError(400, "bad_request", "Bad Request", "page and pageSize must be >= 1")
        if page > self.max_pages:
            raise ApiError(400, "bad_request", "Bad Request", f"page must be <= {self.max_pages}")
        return page, min(size, self.max_page_size)

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
        page, size = self._page_args(request)
        docs = sorted(
            (d for d in org.customers.values() if not d["deleted"]), key=lambda d: d["id"]
        )
        return self._paged(org, "/customers", docs, page, size)

    def _search(self, org: Org, request: Request, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request", "Bad Request", "Body must be an object")
        page, size = self._page_args(request)
        include_deleted = bool(body.get("includeDeleted"))
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

    def _touch(self, doc: dict[str, Any]) -> None:
        now = iso(self.clock())
        doc["updatedAt"] = doc["modifiedAt"] = now
        doc["rev"] += 1

    def _create(self, org: Org, body: dict[str, Any]) -> dict[str, Any]:
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
            "conversationCounts": {"all": 0, "snoozed": 0, "open": 0, "done": 0},
            "attrs": {},
        }
        doc["attrs"].update(body)
        org.customers[doc["id"]] = doc
        return doc

    def _update(self, org: Org, doc: dict[str, Any], body: dict[str, Any]) -> None:
        rev = body.pop("rev", None)
        if rev is not None and rev != doc["rev"]:
            raise ApiError(409, "conflict", "Conflict", f"rev {rev} is stale (now {doc['rev']})")
        self._validate(org, body, doc["id"])
        for key, value in body.items():
            if key == "custom" and isinstance(value, dict):
                custom = dict(doc["attrs"].get("custom") or {})
                custom.update(value)
                doc["attrs"]["custom"] = custom
            else:
                doc["attrs"][key] = value
        self._touch(doc)

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
        wanted: list[tuple[str, str, str]] = []
        for item in body.get("emails") or []:
            wanted.append(("emails", "email", item["email"].casefold()))
        for item in body.get("phones") or []:
            wanted.append(("phones", "phone", _digits(item["phone"])))
        if body.get("externalId"):
            wanted.append(("externalId", "externalId", str(body["externalId"])))
        for other in org.customers.values():
            if other["id"] == own_id or other["deleted"]:
                continue
            held = _identifiers(other)
            for key, label, value in wanted:
                if value in held[key]:
                    raise ApiError(
                        409,
                        "duplicate",
                        "Conflict",
                        f"Duplicate {label} {value} found on customer {other['id']}",
                        f"/{key}",
                    )

    def _resource(self, org: Org, doc: dict[str, Any]) -> dict[str, Any]:
        attrs = doc["attrs"]
        name = attrs.get("name") or ""
        first, _, last = name.partition(" ")
        out: dict[str, Any] = {
            "name": name or None,
            "displayName": name or (attrs.get("emails") or [{}])[0].get("email") or "Unknown",
            "firstName": first or None,
            "lastName": last or None,
            "externalIds": [{"externalId": attrs["externalId"], "verified": False, "id": None}]
            if attrs.get("externalId")
            else [],
            "sharedExternalIds": [],
            "emails": [
                {
                    "email": e["email"],
                    "verified": bool(e.get("verified")),
                    "type": e.get("type") or "home",
                    "id": None,
                }
                for e in attrs.get("emails") or []
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
            "locations": [dict(loc, id=None) for loc in attrs.get("locations") or []],
            "activeUsers": [],
            "watchers": [],
            "locale": attrs.get("locale"),
            "timeZone": attrs.get("timeZone"),
            "birthdayAt": attrs.get("birthdayAt"),
            "gender": attrs.get("gender"),
            "presence": "offline",
            "createdAt": doc["createdAt"],
            "updatedAt": doc["updatedAt"],
            "modifiedAt": doc["modifiedAt"],
            "conversationCounts": dict(doc["conversationCounts"]),
            "tags": list(attrs.get("tags") or []),
            "custom": dict(attrs.get("custom") or {}),
            "deleted": doc["deleted"],
            "verified": False,
            "rev": doc["rev"],
        }
        if attrs.get("externalId"):
            out["externalId"] = attrs["externalId"]
        if attrs.get("company"):
            out["company"] = attrs["company"]
        if attrs.get("sentiment"):
            out["sentiment"] = dict(attrs["sentiment"])
        link = f"/v1/customers/{doc['id']}"
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
            },
            "links": {"self": link},
        }

    # ---- HTTP control API --------------------------------------------------------------------

    def _control(self, request: Request, path: str) -> Response:
        body = _body(request) or {}
        if path == "reset" and request.method == "POST":
            self.reset()
            return _json({"ok": True})
        if path == "orgs" and request.method == "POST":
            org = self.create_org(
                body["subdomain"],
                users=[(u["email"], u["password"]) for u in body.get("users", [])],
                api_keys=body.get("api_keys", {}),
                metadata=body.get("metadata", {}),
            )
            return _json({"subdomain": org.subdomain, "id": org.id}, 201)
        if path == "faults" and request.method == "POST":
            self.set_faults(
                count=int(body.get("count", 1)),
                status=body.get("status"),
                sleep=float(body.get("sleep", 0)),
                after_commit=bool(body.get("after_commit")),
                reset=body.get("reset"),
            )
            return _json({"ok": True})
        match = re.fullmatch(r"orgs/([^/]+)/customers", path)
        if match and request.method == "POST":
            try:
                created = [self.add_customer(match.group(1), attrs) for attrs in body]
            except ApiError as exc:
                return _error(exc)
            return _json({"data": created}, 201)
        if match and request.method == "GET":
            return _json({"data": self.customers(match.group(1))})
        return _json({"error": f"no control route {request.method} {path}"}, 404)


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


def _identifiers(doc: dict[str, Any]) -> dict[str, set[str]]:
    attrs = doc["attrs"]
    return {
        "emails": {e["email"].casefold() for e in attrs.get("emails") or []},
        "phones": {_digits(p["phone"]) for p in attrs.get("phones") or []},
        "externalId": {str(attrs["externalId"])} if attrs.get("externalId") else set(),
    }


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
}


def seed_demo(emulator: KustomerEmulator, count: int = 300) -> None:
    """The demo org: a full-role API key, one user, custom attribute metadata and ``count``
    deterministic customers drawn from ``demo_people(count, seed=42)``."""
    import random

    emulator.create_org(
        DEMO_SUBDOMAIN,
        users=[(DEMO_EMAIL, DEMO_PASSWORD)],
        api_keys={DEMO_API_KEY: ALL_ROLES},
        metadata=DEMO_METADATA,
    )
    rng = random.Random(42)
    base = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    with emulator.lock:
        org = emulator.org(DEMO_SUBDOMAIN)
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
                doc = emulator._create(org, attrs)
            except ApiError:
                continue  # a duplicate contact point among the demo people
            open_count = rng.choice([0, 0, 1, 2])
            doc["conversationCounts"] = {
                "all": open_count + 3, "snoozed": 0, "open": open_count, "done": 3,
            }  # fmt: skip
        emulator.freeze_clock(None)
