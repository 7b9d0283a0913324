"""The HubSpot emulator: its store of portals, tokens and OAuth clients, its control methods and
its routes (the real API is ``https://api.hubapi.com``; here everything is below the mount).

- CRM v3 contacts: list (``limit`` ≤ 100, ``after``, ``archived=true`` lists only archived ones),
  read (``idProperty=email`` too), create (409 for an email in use), PATCH (``""`` clears),
  DELETE (archives), search (``search``), ``batch/read``, ``batch/create``, ``batch/update``,
  ``batch/archive`` (≤ 100 inputs; a partial failure answers 207 with ``errors[]`` and
  ``numErrors``);
- the properties API for contacts (list, read one, create: typed, enumeration options);
- the v3 lists API (``lists``), account details, and OAuth (``oauth``).

Rate limits and tokens: ``auth``. Faults, the clock and the request log come from the kit.
Control: ``create_portal``, ``add_private_app``, ``add_client``, ``issue_tokens``,
``add_contact``, ``edit_contact``, ``archive_contact``, ``contacts``, ``set_limits``,
``expire_access_tokens`` and their routes under ``/_sandbox/`` (see ``control``).
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.hubspot import auth, lists, oauth
from sandbox.hubspot.auth import ALL_SCOPES, Token
from sandbox.hubspot.errors import (
    MAX_BODY_BYTES,
    ApiError,
    invalid,
    not_found,
    rate_limited,
    server_error,
)
from sandbox.hubspot.portal import Portal, new_portal
from sandbox.hubspot.properties import custom_property, iso
from sandbox.hubspot.search import Search
from sandbox.kit import Emulator, drop_connection, json_response, sleep_for

MAX_LIST_LIMIT = 100
MAX_BATCH = 100
READ = "crm.objects.contacts.read"
WRITE = "crm.objects.contacts.write"
SCHEMA_READ = "crm.schemas.contacts.read"
SCHEMA_WRITE = "crm.schemas.contacts.write"
LISTS_READ = "crm.lists.read"
LISTS_WRITE = "crm.lists.write"
CONTACTS = "/crm/v3/objects/contacts"


class HubSpotEmulator(Emulator):
    slug = "hubspot"

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    # ---- control -----------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.reset_kit()
            self.portals: dict[int, Portal] = {}
            self.tokens: dict[str, Token] = {}
            self.clients: dict[str, str] = {}
            self.codes: dict[str, tuple[int, str, str, str]] = {}
            self.refresh_tokens: dict[str, tuple[int, str]] = {}
            self.access_token_lifetime = 1800
            self.max_batch = MAX_BATCH
            self._next_id = 100_000
            self._next_hub = 20_000_000

    def seed_demo(self) -> dict[str, Any]:
        from sandbox.hubspot.seed import seed_demo

        return seed_demo(self)

    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def create_portal(self, *, hub_id: int | None = None, domain: str = "") -> Portal:
        with self.lock:
            if hub_id is None:
                self._next_hub += 1
                hub_id = self._next_hub
            portal = new_portal(hub_id, domain or f"hub-{hub_id}.hubspot.example", self.clock.now())
            self.portals[hub_id] = portal
            return portal

    def add_private_app(
        self, hub_id: int, token: str, scopes: frozenset[str] | None = None
    ) -> None:
        """A private app's static access token for the portal (every scope by default)."""
        with self.lock:
            self.tokens[token] = Token(hub_id, "private", frozenset(scopes or ALL_SCOPES))

    def revoke(self, token: str) -> None:
        with self.lock:
            self.tokens.pop(token, None)
            self.refresh_tokens.pop(token, None)

    def add_client(self, client_id: str, secret: str) -> None:
        with self.lock:
            self.clients[client_id] = secret

    def access_token(self, hub_id: int, user: str) -> str:
        with self.lock:
            access = "CO" + secrets.token_urlsafe(24)
            self.tokens[access] = Token(
                hub_id, "oauth", ALL_SCOPES, user, self.clock.time() + self.access_token_lifetime
            )
            return access

    def issue_tokens(self, hub_id: int, user: str = "owner@hubspot.example") -> dict[str, Any]:
        """What the token endpoint answers an authorization code, without the install page."""
        with self.lock:
            refresh = secrets.token_hex(18)
            self.refresh_tokens[refresh] = (hub_id, user)
            return {
                "token_type": "bearer",
                "refresh_token": refresh,
                "access_token": self.access_token(hub_id, user),
                "expires_in": self.access_token_lifetime,
            }

    def expire_access_tokens(self) -> None:
        with self.lock:
            for token in self.tokens.values():
                if token.kind == "oauth":
                    token.expires_at = 0.0

    def set_limits(
        self,
        hub_id: int,
        *,
        burst: int | None = None,
        oauth_burst: int | None = None,
        search_per_second: int | None = None,
        daily: int | None = None,
        search_lag: float | None = None,
    ) -> None:
        with self.lock:
            portal = self.portals[hub_id]
            if burst is not None:
                portal.burst_limit = burst
            if oauth_burst is not None:
                portal.oauth_burst_limit = oauth_burst
            if search_per_second is not None:
                portal.search_per_second = search_per_second
            if daily is not None:
                portal.daily_limit = daily
            if search_lag is not None:
                portal.search_lag = search_lag
            portal.window.clear()
            portal.search_window.clear()
            portal.day_used = 0

    def add_contact(self, hub_id: int, properties: Mapping[str, Any]) -> dict[str, Any]:
        """Create a contact as the API would (checked), without a request; every property."""
        with self.lock:
            portal = self.portals[hub_id]
            contact = portal.create(self.new_id(), dict(properties), self.clock.now())
            return portal.render(contact, contact["properties"])

    def edit_contact(self, hub_id: int, contact_id: str, properties: Mapping[str, Any]) -> None:
        """Edit a contact as a user in HubSpot would (moves ``lastmodifieddate``)."""
        with self.lock:
            portal = self.portals[hub_id]
            portal.update(portal.contacts[contact_id], dict(properties), self.clock.now())

    def unsubscribe_contact(self, hub_id: int, contact_id: str) -> None:
        """The contact unsubscribes from all email (``hs_email_optout``), as from a footer
        link; the API cannot set it."""
        with self.lock:
            portal = self.portals[hub_id]
            contact = portal.contacts[contact_id]
            portal.lagging(contact_id, copy.deepcopy(contact), self.clock.now())
            contact["properties"]["hs_email_optout"] = "true"
            portal.touch(contact, self.clock.now())

    def archive_contact(self, hub_id: int, contact_id: str) -> None:
        with self.lock:
            portal = self.portals[hub_id]
            portal.archive(portal.contacts[contact_id], self.clock.now())

    def contacts(self, hub_id: int, *, archived: bool = True) -> list[dict[str, Any]]:
        """Every stored contact with every property (archived ones too by default)."""
        with self.lock:
            portal = self.portals[hub_id]
            return [
                portal.render(c, c["properties"])
                for c in portal.contacts.values()
                if archived or not c["archived"]
            ]

    def list_members(self, hub_id: int, name: str) -> set[str]:
        with self.lock:
            portal = self.portals[hub_id]
            found = portal.list_named(name)
            return set(portal.members[found["listId"]]) if found else set()

    def server_error(self) -> Response:
        return server_error().response()

    # ---- dispatch ----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path == "/oauth/authorize":
            return oauth.authorize(self, request)
        if path == "/oauth/v1/token":
            return oauth.token(self, request)
        match = re.fullmatch(r"/oauth/v1/access-tokens/([^/]+)", path)
        if match and request.method == "GET":
            return oauth.token_info(self, match.group(1))
        search = path == f"{CONTACTS}/search" and request.method == "POST"
        with self.lock:
            self.requests.record(f"{request.method} {_kind(path)}")
            fault = self.faults.pop()
            token = self.tokens.get(auth.bearer(request.headers.get("Authorization", "")))
        sleep_for(fault)
        try:
            with self.lock:
                token = auth.check_token(token, self.clock.time(), "")
                portal = self.portals[token.hub_id]
                headers, policy = auth.spend(portal, token, search=search)
        except ApiError as exc:
            return exc.response()
        if fault is not None and fault.kind == "status":
            if fault.status == 429:
                headers["X-HubSpot-RateLimit-Remaining"] = "0"
                return rate_limited("TEN_SECONDLY_ROLLING", headers)
            return server_error(fault.status).response(headers)
        if policy:
            return rate_limited(policy, headers)
        if len(request.get_data(cache=True)) > MAX_BODY_BYTES:
            return ApiError(413, "VALIDATION_ERROR", "Request body too large").response(headers)
        try:
            with self.lock:
                status, body = self._route(portal, token, request, path)
        except ApiError as exc:
            return exc.response(headers)
        if fault is not None and fault.kind == "after_commit":
            if fault.drop:
                drop_connection(request)
            return server_error(fault.status).response(headers)
        if status == 204:
            return Response(status=204, headers=headers)
        return json_response(body, status, headers)

    def _route(self, portal: Portal, token: Token, request: Request, path: str) -> tuple[int, Any]:
        method = request.method
        now = self.clock.now()

        def need(scope: str) -> None:
            auth.check_token(token, self.clock.time(), scope)

        if path == "/account-info/v3/details" and method == "GET":
            return 200, {
                "portalId": portal.hub_id,
                "accountType": "STANDARD",
                "timeZone": "US/Eastern",
                "companyCurrency": "USD",
                "additionalCurrencies": [],
                "utcOffset": "-05:00",
                "utcOffsetMilliseconds": -18_000_000,
                "uiDomain": "app.hubspot.com",
                "dataHostingLocation": "na1",
            }
        if path == CONTACTS and method == "GET":
            need(READ)
            return 200, self._list(portal, request.args)
        if path == CONTACTS and method == "POST":
            need(WRITE)
            body = _body(request)
            contact = portal.create(self.new_id(), _props(body), now)
            return 201, portal.render(contact, contact["properties"])
        if path == f"{CONTACTS}/search" and method == "POST":
            need(READ)
            return 200, self._search(portal, _body(request))
        match = re.fullmatch(rf"{CONTACTS}/batch/(read|create|update|archive)", path)
        if match and method == "POST":
            need(READ if match.group(1) == "read" else WRITE)
            return self._batch(portal, match.group(1), _body(request), request.args)
        match = re.fullmatch(rf"{CONTACTS}/([^/]+)", path)
        if match:
            return self._one(portal, request, match.group(1), need)
        if path == "/crm/v3/properties/contacts" and method == "GET":
            need(SCHEMA_READ)
            archived = request.args.get("archived") == "true"
            return 200, {
                "results": [p for p in portal.properties.values() if p["archived"] == archived]
            }
        if path == "/crm/v3/properties/contacts" and method == "POST":
            need(SCHEMA_WRITE)
            prop = custom_property(_body(request), portal.properties, iso(now))
            portal.properties[prop["name"]] = prop
            return 201, prop
        match = re.fullmatch(r"/crm/v3/properties/contacts/([^/]+)", path)
        if match and method == "GET":
            need(SCHEMA_READ)
            found = portal.properties.get(match.group(1))
            if found is None:
                raise not_found(f"Unable to find property {match.group(1)} for contacts")
            return 200, found
        if path.startswith("/crm/v3/lists"):
            return self._lists(portal, request, path[len("/crm/v3/lists") :], need)
        raise not_found(f"No route for {method} {path}")

    def _one(self, portal: Portal, request: Request, key: str, need: Any) -> tuple[int, Any]:
        method = request.method
        id_property = request.args.get("idProperty", "")
        if id_property not in ("", "email", "hs_object_id"):
            raise invalid(f"{id_property} is not a unique property")
        if method == "GET":
            need(READ)
            archived = request.args.get("archived") == "true"
            if archived:
                contact = portal.contacts.get(key)
                contact = contact if contact and contact["archived"] else None
            else:
                contact = portal.by_id_property(key, id_property)
            if contact is None:
                raise not_found()
            return 200, portal.render(contact, _csv(request.args.get("properties")))
        if method == "PATCH":
            need(WRITE)
            contact = portal.by_id_property(key, id_property)
            if contact is None:
                raise not_found()
            portal.update(contact, _props(_body(request)), self.clock.now())
            return 200, portal.render(contact, contact["properties"])
        if method == "DELETE":
            need(WRITE)
            contact = portal.live(key)
            if contact is not None:
                portal.archive(contact, self.clock.now())
            return 204, None
        raise ApiError(405, "VALIDATION_ERROR", f"{method} is not allowed here")

    def _list(self, portal: Portal, args: Mapping[str, str]) -> dict[str, Any]:
        limit = _int(args.get("limit", "10"), "limit")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise invalid(f"limit must be between 1 and {MAX_LIST_LIMIT}")
        archived = args.get("archived", "false")
        if archived not in ("true", "false"):
            raise invalid("archived must be true or false")
        after = args.get("after", "")
        if after and not re.fullmatch(r"\d{1,18}", after):
            raise invalid(f"after must be a paging cursor, not {after[:40]!r}")
        wanted = archived == "true"
        ids = sorted(
            (int(c["id"]) for c in portal.contacts.values() if c["archived"] == wanted),
        )
        start = 0
        if after:
            start = next((n for n, i in enumerate(ids) if i >= int(after)), len(ids))
        chunk = ids[start : start + limit]
        names = _csv(args.get("properties"))
        body: dict[str, Any] = {
            "results": [portal.render(portal.contacts[str(i)], names) for i in chunk]
        }
        if start + limit < len(ids):
            nxt = str(ids[start + limit])
            body["paging"] = {
                "next": {
                    "after": nxt,
                    "link": f"{self.base_url}{CONTACTS}?after={nxt}&limit={limit}",
                }
            }
        return body

    def _search(self, portal: Portal, body: Any) -> dict[str, Any]:
        query = Search(body, portal.properties)
        found = [c for c in portal.searchable(self.clock.time()) if query.matches(c["properties"])]
        found.sort(key=query.sort_key, reverse=query.descending)
        chunk = found[query.offset : query.offset + query.limit]
        out: dict[str, Any] = {
            "total": len(found),
            "results": [portal.render(c, query.properties) for c in chunk],
        }
        end = query.offset + len(chunk)
        if end < len(found):
            out["paging"] = {"next": {"after": str(end)}}
        return out

    def _batch(
        self, portal: Portal, what: str, body: Any, args: Mapping[str, str]
    ) -> tuple[int, Any]:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            raise invalid("Invalid input JSON on line 1: inputs is required")
        if len(inputs) > self.max_batch:
            raise invalid(f"Batch input limit is {self.max_batch}; got {len(inputs)}")
        # Inputs without what the contract requires (``tests/sandbox/hubspot_contract.py``) refuse
        # the whole body, before anything is done.
        for index, item in enumerate(inputs):
            if what in ("create", "update") and not isinstance(item.get("properties"), dict):
                raise invalid(f"Invalid input JSON: inputs[{index}].properties must be an object")
            if what != "create" and not isinstance(item.get("id"), str | int):
                raise invalid(f"Invalid input JSON: inputs[{index}].id is required")
        started = iso(self.clock.now())
        now = self.clock.now()
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        if what == "archive":
            for item in inputs:
                contact = portal.live(str(item.get("id")))
                if contact is not None:
                    portal.archive(contact, now)
            return 204, None
        if what == "read":
            names = body.get("properties") or []
            id_property = str(body.get("idProperty") or "")
            archived = args.get("archived") == "true"
            missing = []
            for item in inputs:
                key = str(item.get("id"))
                contact = (
                    portal.contacts.get(key)
                    if archived
                    else portal.by_id_property(key, id_property)
                )
                if contact is None or contact["archived"] != archived:
                    missing.append(key)
                else:
                    results.append(portal.render(contact, names))
            if missing:
                errors.append(
                    ApiError(
                        404,
                        "OBJECT_NOT_FOUND",
                        "Could not get some CONTACT objects, they may be deleted or not exist. "
                        "Check that ids are valid.",
                        context={"ids": missing},
                    ).batch_error()
                )
        else:
            emails = [
                str(i["properties"].get("email") or "").casefold()
                if isinstance(i.get("properties"), dict)
                else ""
                for i in inputs
            ]
            for index, item in enumerate(inputs):
                trace = item.get("objectWriteTraceId")
                try:
                    if what == "create":
                        if emails[index] and emails.index(emails[index]) != index:
                            raise invalid(f"Duplicate email in this batch: {emails[index]}")
                        contact = portal.create(self.new_id(), _props(item), now)
                    else:
                        contact = portal.by_id_property(
                            str(item.get("id")), str(item.get("idProperty") or "")
                        )
                        if contact is None:
                            raise not_found(
                                "Object not found. objectId are usually numeric. "
                                f"Id: {item.get('id')}"
                            )
                        portal.update(contact, _props(item), now)
                    rendered = portal.render(contact, contact["properties"])
                    if trace is not None:
                        rendered["objectWriteTraceId"] = str(trace)
                    results.append(rendered)
                except ApiError as exc:
                    # The trace id the input carried names it in the error (HubSpot answers
                    # a batch's results in no particular order).
                    if trace is not None:
                        exc.context["objectWriteTraceId"] = [str(trace)]
                    if what == "update":
                        exc.context.setdefault("ids", [str(item.get("id"))])
                    errors.append(exc.batch_error())
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": iso(self.clock.now()),
        }
        if errors:
            answer["errors"] = errors
            answer["numErrors"] = len(errors)
            return 207, answer
        return (201 if what == "create" else 200), answer

    def _lists(self, portal: Portal, request: Request, rest: str, need: Any) -> tuple[int, Any]:
        method = request.method
        now = iso(self.clock.now())
        if rest == "" and method == "POST":
            need(LISTS_WRITE)
            self._next_id += 1
            created = lists.create(portal, _body(request), str(self._next_id), now)
            return 200, {"list": lists.render(portal, created)}
        if rest == "/search" and method == "POST":
            need(LISTS_READ)
            return 200, lists.search(portal, _body(request))
        if rest == "/records/memberships/batch/read" and method == "POST":
            need(LISTS_READ)
            status, body = lists.batch_read_memberships(portal, _body(request))
            return status, {**body, "startedAt": now, "completedAt": now}
        match = re.fullmatch(r"/object-type-id/([^/]+)/name/(.+)", rest)
        if match and method == "GET":
            need(LISTS_READ)
            found = portal.list_named(match.group(2))
            if found is None or match.group(1) != "0-1":
                raise not_found(f"List does not exist with name {match.group(2)}.")
            return 200, {"list": lists.render(portal, found)}
        match = re.fullmatch(r"/(\d+)(/memberships(?:/(add|remove))?)?", rest)
        if match:
            list_id, members, change = match.groups()
            if members and change and method == "PUT":
                need(LISTS_WRITE)
                return 200, lists.change_members(
                    portal, list_id, _body(request), add=change == "add", now=now
                )
            if members and not change and method == "GET":
                need(LISTS_READ)
                return 200, lists.members_page(portal, list_id, request.args)
            if not members and method == "GET":
                need(LISTS_READ)
                return 200, {"list": lists.render(portal, lists.get(portal, list_id))}
        raise not_found(f"No route for {method} /crm/v3/lists{rest}")

    # ---- the app's control routes ------------------------------------------------------------

    def control(
        self, method: str, path: str, body: Any, args: Mapping[str, str]
    ) -> Response | None:
        """HubSpot's own control routes (after the kit's)::

        POST /_sandbox/portals                       {hub_id, domain, token}  -> {hub_id}
        POST /_sandbox/portals/<hub>/contacts        [properties, ...]  (seed)
        GET  /_sandbox/portals/<hub>/contacts        every stored contact, archived ones too
        POST /_sandbox/portals/<hub>/limits          {burst, oauth_burst, search_per_second,
                                                      daily, search_lag (seconds)}
        POST /_sandbox/clients                       {client_id, client_secret}
        POST /_sandbox/expire_access_tokens
        """
        options: Any = {} if body is None else body
        if path == "portals" and method == "POST":
            portal = self.create_portal(
                hub_id=options.get("hub_id"), domain=str(options.get("domain") or "")
            )
            if options.get("token"):
                self.add_private_app(portal.hub_id, str(options["token"]))
            return json_response({"hub_id": portal.hub_id}, 201)
        if path == "clients" and method == "POST":
            self.add_client(str(options["client_id"]), str(options["client_secret"]))
            return json_response({"ok": True}, 201)
        if path == "expire_access_tokens" and method == "POST":
            self.expire_access_tokens()
            return json_response({"ok": True})
        match = re.fullmatch(r"portals/(\d+)/(contacts|limits)", path)
        if match is None:
            return None
        hub_id = int(match.group(1))
        if hub_id not in self.portals:
            return json_response({"error": f"no portal {hub_id}"}, 404)
        if match.group(2) == "contacts" and method == "GET":
            return json_response({"results": self.contacts(hub_id)})
        if match.group(2) == "contacts" and method == "POST":
            try:
                made = [self.add_contact(hub_id, props) for props in options]
            except ApiError as exc:
                return exc.response()
            return json_response({"results": made}, 201)
        if match.group(2) == "limits" and method == "POST":
            lag = options.pop("search_lag", None)
            self.set_limits(
                hub_id,
                search_lag=None if lag is None else float(lag),
                **{k: int(v) for k, v in options.items()},
            )
            return json_response({"ok": True})
        return None


# ---- helpers ---------------------------------------------------------------------------------


def _kind(path: str) -> str:
    """A path with its ids replaced, for the request log (``GET /crm/v3/objects/contacts/{id}``)."""
    path = re.sub(r"^(/crm/v3/objects/contacts)/(?!search$|batch/)[^/]+$", r"\1/{id}", path)
    return re.sub(r"/crm/v3/lists/\d+", "/crm/v3/lists/{id}", path)


def _body(request: Request) -> Any:
    data = request.get_data(cache=True)
    if not data:
        raise invalid(
            "Invalid input JSON on line 1, column 1: No content to map due to end-of-input"
        )
    try:
        return json.loads(data)
    except ValueError:
        raise invalid("Invalid input JSON on line 1: the body is not valid JSON") from None


def _props(body: Any) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise invalid("Invalid input JSON: properties is required")
    return body["properties"]


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise invalid(f"{name} must be a number, not {value[:40]!r}") from None
