"""An emulator of Google's OAuth 2.0 endpoints and the People API (contacts), as Tandem uses them.

Mounted at ``/google_contacts``:

- ``GET/POST /o/oauth2/v2/auth``: a consent page (Approve redirects with ``code`` + ``state``,
  Deny with ``error=access_denied``); ``POST /token``: ``authorization_code`` and
  ``refresh_token`` grants, client id and secret checked, revoked grants -> ``invalid_grant``.
- People API v1: ``people/me``, ``people/me/connections`` (page tokens, sync tokens that expire,
  tombstones for deleted contacts, ``previousResourceNames``), ``people:batchGet``,
  ``people:createContact``, ``people:batchCreateContacts``, ``people:batchUpdateContacts``,
  ``{resourceName}:updateContact`` (etag checked), ``{resourceName}:deleteContact`` and contact
  groups (list, create, ``members:modify``). Errors use the ``google.rpc.Status`` shape; a
  per-user request quota answers 429 ``RESOURCE_EXHAUSTED``; faults (429/5xx, a stall, or a
  write applied and then answered 5xx or dropped) come from ``fail_next``.

State lives in memory behind ``self.lock``: one contact book per user, found from the bearer
token. Listings read what has "propagated" (``propagation_delay`` seconds and/or
``propagation_requests`` requests after an API write); reads by name see the latest state, as on
Google.

Python control API: ``reset``, ``add_client``, ``add_user``, ``issue_tokens`` (tokens for a user
without the consent page), ``add_contact``, ``add_group``, ``contacts``, ``contact``,
``edit_contact``, ``delete_contact``, ``change_resource_name``, ``revoke``,
``expire_access_tokens``, ``fail_next``, ``advance`` (the clock), the knobs in ``KNOBS`` as
attributes, and ``requests`` (counts by kind). The same as JSON under ``/_sandbox/`` (see
``_control``). ``seed_demo`` fills the demo user's book; its refresh token
``DEMO_REFRESH_TOKEN`` (client ``DEMO_CLIENT_ID`` / ``DEMO_CLIENT_SECRET``) always works, so a
stored demo account survives a sandbox restart.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import copy
import datetime as dt
import hashlib
import html
import itertools
import json
import re
import secrets
import socket
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from sandbox.demo_people import DemoPerson, demo_people
from sandbox.server import Emulator

DEMO_EMAIL = "demo@tandem.example"
DEMO_REFRESH_TOKEN = "demo-refresh-token"
DEMO_CLIENT_ID = "tandem-demo"
DEMO_CLIENT_SECRET = "tandem-demo-secret"
DEMO_GROUPS = ("Customers", "VIP")

SCOPE = "https://www.googleapis.com/auth/contacts"
MAX_BATCH = 200
MAX_BATCH_GET = 200
MAX_PAGE_SIZE = 1000
MAX_MODIFY = 1000
SYSTEM_GROUPS = {"contactGroups/myContacts": "myContacts", "contactGroups/starred": "starred"}
WRITABLE_FIELDS = frozenset(
    {
        "names",
        "emailAddresses",
        "phoneNumbers",
        "organizations",
        "addresses",
        "biographies",
        "birthdays",
        "urls",
        "userDefined",
        "clientData",
        "memberships",
    }
)
SINGLETONS = frozenset({"names", "biographies", "birthdays"})
READABLE_FIELDS = WRITABLE_FIELDS | {"metadata"}
DAY = 24 * 3600.0
DEMO_COUNT = 300
# Behaviour knobs, settable as attributes or through ``/_sandbox/knobs``.
KNOBS = (
    "sync_token_ttl",  # seconds a sync token stays valid (Google: 7 days)
    "expired_sync_status",  # 400 (FAILED_PRECONDITION, as observed) or 410 (as documented)
    "propagation_delay",  # seconds before an API write shows in listings and sync responses
    "propagation_requests",  # ... or API requests by the same user before it shows (0: off)
    "access_token_lifetime",  # seconds
    "quota_per_minute",  # People API requests per user per minute before 429 (0: unlimited)
    "retry_after",  # seconds sent as Retry-After with a 429 (0: none, as Google does)
)


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        status: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.details = details or []
        self.headers: dict[str, str] = {}

    def response(self) -> Response:
        body = {
            "error": {
                "code": self.code,
                "message": self.message,
                "status": self.status,
                "details": self.details,
            }
        }
        return _json(body, self.code, self.headers)


def _invalid(message: str, field_name: str = "") -> ApiError:
    details = (
        [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field_name, "description": message}],
            }
        ]
        if field_name
        else []
    )
    return ApiError(400, "INVALID_ARGUMENT", message, details)


def _now_iso(now: float) -> str:
    return dt.datetime.fromtimestamp(now, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Entry:
    """One contact: its latest state (``person`` None once deleted) and what listings show."""

    person: dict[str, Any] | None
    seq: int
    visible_at: float
    # Also hidden until the user's API request count reaches this (``propagation_requests``).
    visible_after: int = 0
    shown: dict[str, Any] | None = None
    shown_seq: int = 0
    tombstone: dict[str, Any] | None = None


@dataclass
class Book:
    email: str
    entries: dict[str, Entry] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    # Entries whose latest change is not shown yet (by ``id`` of the entry), so settling reads
    # only those; and the shown change sequences in order, with the entry each belongs to and
    # the count of shown live contacts: listings read them like the indexes of the real API.
    pending: dict[int, Entry] = field(default_factory=dict)
    shown_order: list[int] = field(default_factory=list)
    shown_by_seq: dict[int, Entry] = field(default_factory=dict)
    shown_live: int = 0
    # People API requests made with this user's tokens, and those in the current quota minute.
    request_count: int = 0
    quota_minute: int = 0
    quota_used: int = 0


def _live_shown(entry: Entry) -> int:
    """1 when listings show the entry as a live contact (not a tombstone), else 0."""
    return int(entry.shown is not None and not entry.shown["metadata"].get("deleted"))


@dataclass(frozen=True)
class Fault:
    kind: str  # "status", "sleep" or "after_commit"
    status: int = 500
    seconds: float = 0.0
    drop: bool = False


@dataclass
class AccessToken:
    email: str
    expires_at: float


class GoogleContactsEmulator(Emulator):
    slug = "google_contacts"

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    # Python control API ------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.clients: dict[str, str] = {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET}
            self.books: dict[str, Book] = {}
            self.codes: dict[str, tuple[str, str, str]] = {}
            self.access_tokens: dict[str, AccessToken] = {}
            self.refresh_tokens: dict[str, str] = {}
            self.revoked: set[str] = set()
            self.sync_tokens: dict[str, tuple[str, int, float]] = {}
            self.seq = itertools.count(1)
            self.last_seq = 0
            self.ids = itertools.count(1)
            self.faults: list[Fault] = []
            self.sync_token_ttl = 7 * DAY
            self.expired_sync_status = 400
            self.propagation_delay = 0.0
            self.propagation_requests = 0
            self.quota_per_minute = 0
            self.retry_after = 0
            self.access_token_lifetime = 3600
            self.requests: Counter[str] = Counter()
            self.clock_offset = 0.0

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset += seconds

    def add_client(self, client_id: str, secret: str) -> None:
        with self.lock:
            self.clients[client_id] = secret

    def add_user(self, email: str) -> Book:
        with self.lock:
            book = self.books.get(email)
            if book is None:
                book = self.books[email] = Book(email=email)
            return book

    def issue_tokens(self, email: str) -> dict[str, Any]:
        with self.lock:
            self.add_user(email)
            refresh = "1//" + secrets.token_urlsafe(24)
            self.refresh_tokens[refresh] = email
            return {
                "access_token": self._access_token(email),
                "refresh_token": refresh,
                "expires_in": self.access_token_lifetime,
            }

    def revoke(self, email: str) -> None:
        """The user removed Tandem's access: refresh and access tokens stop working."""
        with self.lock:
            self.refresh_tokens = {t: e for t, e in self.refresh_tokens.items() if e != email}
            self.access_tokens = {t: a for t, a in self.access_tokens.items() if a.email != email}
            self.revoked.add(email)

    def expire_access_tokens(self, email: str) -> None:
        with self.lock:
            for token in self.access_tokens.values():
                if token.email == email:
                    token.expires_at = 0.0

    def fail_next(
        self,
        count: int,
        status: int = 429,
        *,
        sleep: float = 0.0,
        after_commit: bool = False,
        drop: bool = False,
    ) -> None:
        """The next ``count`` People API requests answer ``status`` (429 or 5xx) unapplied; or,
        with ``sleep``, stall that many seconds first (a timeout for a short-waiting client);
        or, with ``after_commit``, are applied and then answer ``status`` or, with ``drop``,
        lose the connection without an answer (a reset after commit)."""
        with self.lock:
            if after_commit:
                fault = Fault("after_commit", status=status, drop=drop)
            elif sleep:
                fault = Fault("sleep", seconds=sleep)
            else:
                fault = Fault("status", status=status)
            self.faults = [fault] * count

    def add_contact(self, email: str, person: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            book = self.add_user(email)
            return copy.deepcopy(self._create(book, dict(person), visible_now=True))

    def add_group(self, email: str, name: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._create_group(self.add_user(email), name))

    def contacts(self, email: str) -> list[dict[str, Any]]:
        """Every live contact of the user, as stored now."""
        with self.lock:
            book = self.add_user(email)
            return [copy.deepcopy(e.person) for e in book.entries.values() if e.person is not None]

    def contact(self, email: str, resource_name: str) -> dict[str, Any]:
        with self.lock:
            person = self.books[email].entries[resource_name].person
            assert person is not None
            return copy.deepcopy(person)

    def edit_contact(self, email: str, resource_name: str, **fields: Any) -> dict[str, Any]:
        """A change made by the user in Google Contacts."""
        with self.lock:
            book = self.books[email]
            person = copy.deepcopy(book.entries[resource_name].person)
            assert person is not None
            person.update(fields)
            return copy.deepcopy(self._store(book, person, visible_now=True))

    def delete_contact(self, email: str, resource_name: str) -> None:
        with self.lock:
            self._delete(self.books[email], resource_name, visible_now=True)

    def change_resource_name(self, email: str, resource_name: str) -> str:
        """Google links the contact to a profile and gives it a new resourceName."""
        with self.lock:
            book = self.books[email]
            entry = book.entries.pop(resource_name)
            person = entry.person
            assert person is not None
            new_name = self._new_resource_name()
            person["resourceName"] = new_name
            previous = person["metadata"].setdefault("previousResourceNames", [])
            previous.append(resource_name)
            book.aliases[resource_name] = new_name
            for old, new in list(book.aliases.items()):
                if new == resource_name:
                    book.aliases[old] = new_name
            book.entries[new_name] = entry
            self._store(book, person, visible_now=True)
            return new_name

    # Helpers -------------------------------------------------------------------------------

    def _access_token(self, email: str) -> str:
        token = "ya29." + secrets.token_urlsafe(32)
        self.access_tokens[token] = AccessToken(email, self.now() + self.access_token_lifetime)
        return token

    def _new_resource_name(self) -> str:
        return f"people/c{next(self.ids):019d}"

    def _next_seq(self) -> int:
        self.last_seq = next(self.seq)
        return self.last_seq

    def _create(self, book: Book, person: dict[str, Any], *, visible_now: bool) -> dict[str, Any]:
        _validate(person, set(person) & WRITABLE_FIELDS)
        _check_memberships(book, person)
        name = self._new_resource_name()
        clean = {k: copy.deepcopy(v) for k, v in person.items() if k in WRITABLE_FIELDS}
        clean["resourceName"] = name
        clean["metadata"] = {
            "sources": [{"type": "CONTACT", "id": secrets.token_hex(8)}],
            "objectType": "PERSON",
        }
        if not clean.get("memberships"):
            clean["memberships"] = [_membership("contactGroups/myContacts")]
        book.entries[name] = Entry(person=None, seq=0, visible_at=0.0)
        return self._store(book, clean, visible_now=visible_now)

    def _store(self, book: Book, person: dict[str, Any], *, visible_now: bool) -> dict[str, Any]:
        """Write ``person`` as the latest state: new etag, update time and change sequence."""
        now = self.now()
        etag = "%" + base64.b64encode(secrets.token_bytes(12)).decode()
        person["etag"] = etag
        source = person["metadata"]["sources"][0]
        source["etag"] = "#" + base64.b64encode(secrets.token_bytes(6)).decode()
        source["updateTime"] = _now_iso(now)
        _computed(person)
        entry = book.entries[person["resourceName"]]
        entry.person = person
        entry.seq = self._next_seq()
        book.pending[id(entry)] = entry
        self._delay(book, entry, now, visible_now=visible_now)
        self._settle(book, entry, now)
        return person

    def _delete(self, book: Book, resource_name: str, *, visible_now: bool) -> None:
        entry = book.entries.get(resource_name)
        if entry is None or entry.person is None:
            raise ApiError(404, "NOT_FOUND", "Requested entity was not found.")
        now = self.now()
        metadata = copy.deepcopy(entry.person["metadata"])
        metadata["deleted"] = True
        entry.person = None
        entry.seq = self._next_seq()
        book.pending[id(entry)] = entry
        self._delay(book, entry, now, visible_now=visible_now)
        entry.tombstone = {
            "resourceName": resource_name,
            "etag": "%" + base64.b64encode(secrets.token_bytes(12)).decode(),
            "metadata": metadata,
        }
        self._settle(book, entry, now)

    def _delay(self, book: Book, entry: Entry, now: float, *, visible_now: bool) -> None:
        """Writes through the API reach listings and sync tokens only after the propagation
        delay (seconds and/or further requests); control-API edits show at once."""
        if visible_now:
            entry.visible_at, entry.visible_after = now, 0
        else:
            entry.visible_at = now + self.propagation_delay
            requests = self.propagation_requests
            entry.visible_after = book.request_count + requests if requests else 0

    def _settle(self, book: Book, entry: Entry, now: float) -> None:
        if (
            entry.visible_at <= now
            and entry.visible_after <= book.request_count
            and entry.shown_seq != entry.seq
        ):
            state: dict[str, Any] | None = entry.person if entry.person else entry.tombstone
            if entry.shown_seq in book.shown_by_seq:
                del book.shown_order[bisect.bisect_left(book.shown_order, entry.shown_seq)]
                del book.shown_by_seq[entry.shown_seq]
            book.shown_live -= _live_shown(entry)
            entry.shown = copy.deepcopy(state)
            entry.shown_seq = entry.seq
            book.shown_live += _live_shown(entry)
            bisect.insort(book.shown_order, entry.shown_seq)
            book.shown_by_seq[entry.shown_seq] = entry
            book.pending.pop(id(entry), None)

    def _settle_book(self, book: Book) -> None:
        now = self.now()
        for entry in list(book.pending.values()):
            self._settle(book, entry, now)

    def _live(self, book: Book, resource_name: str) -> dict[str, Any]:
        name = book.aliases.get(resource_name, resource_name)
        entry = book.entries.get(name)
        if entry is None or entry.person is None:
            raise ApiError(404, "NOT_FOUND", "Requested entity was not found.")
        return entry.person

    def _create_group(self, book: Book, name: str) -> dict[str, Any]:
        if any(g["name"] == name for g in book.groups.values()):
            raise ApiError(409, "ALREADY_EXISTS", "Contact group name already exists.")
        group_id = secrets.token_hex(6)
        group: dict[str, Any] = {
            "resourceName": f"contactGroups/{group_id}",
            "etag": "%" + secrets.token_hex(6),
            "metadata": {"updateTime": _now_iso(self.now())},
            "groupType": "USER_CONTACT_GROUP",
            "name": name,
            "formattedName": name,
        }
        book.groups[f"contactGroups/{group_id}"] = group
        return group

    # HTTP ----------------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        path = request.path
        try:
            if path.startswith("/_sandbox/"):
                return self._control(request, path[len("/_sandbox/") :])
            if path == "/o/oauth2/v2/auth":
                return self._consent(request)
            if path == "/token":
                return self._token(request)
            if path.startswith("/v1/"):
                return self._api(request, path[len("/v1/") :])
            raise ApiError(404, "NOT_FOUND", f"No such endpoint: {path}")
        except ApiError as exc:
            return exc.response()

    # OAuth ---------------------------------------------------------------------------------

    def _consent(self, request: Request) -> Response:
        params = request.args if request.method == "GET" else request.form
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        state = params.get("state", "")
        with self.lock:
            self.requests["oauth.authorize"] += 1
            if client_id not in self.clients or not redirect_uri:
                return Response(
                    "<h1>Error 400: invalid_request</h1><p>Unknown client or no redirect_uri.</p>",
                    status=400,
                    mimetype="text/html",
                )
            if params.get("response_type", "code") != "code":
                return Response("<h1>unsupported_response_type</h1>", 400, mimetype="text/html")
        if request.method == "GET":
            hidden = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in params.items(multi=True)
            )
            page = (
                "<!doctype html><title>Sign in - Google Accounts</title>"
                "<h1>Tandem wants to access your Google Account</h1>"
                f"<p>This will allow Tandem to see, edit, download and permanently delete your "
                f"contacts ({html.escape(params.get('scope', ''))}).</p>"
                f'<form method="post" action="{html.escape(request.script_root + request.path)}">'
                f"{hidden}"
                f'<label>Account <input name="email" value="{DEMO_EMAIL}"></label>'
                '<button name="decision" value="approve">Allow</button>'
                '<button name="decision" value="deny">Cancel</button></form>'
            )
            return Response(page, mimetype="text/html")
        sep = "&" if "?" in redirect_uri else "?"
        if request.form.get("decision") != "approve":
            query = urlencode({"error": "access_denied", "state": state})
            return Response(status=302, headers={"Location": f"{redirect_uri}{sep}{query}"})
        email = request.form.get("email", "").strip() or DEMO_EMAIL
        with self.lock:
            self.add_user(email)
            self.revoked.discard(email)
            code = "4/" + secrets.token_urlsafe(24)
            self.codes[code] = (email, client_id, redirect_uri)
        query = urlencode({"code": code, "state": state, "scope": SCOPE})
        return Response(status=302, headers={"Location": f"{redirect_uri}{sep}{query}"})

    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            return _json({"error": "invalid_request"}, 405)
        form = request.form
        with self.lock:
            self.requests["oauth.token"] += 1
            client_id = form.get("client_id", "")
            if client_id not in self.clients or self.clients[client_id] != form.get(
                "client_secret", ""
            ):
                return _json({"error": "invalid_client", "error_description": "Unauthorized"}, 401)
            grant = form.get("grant_type", "")
            if grant == "authorization_code":
                found = self.codes.pop(form.get("code", ""), None)
                if found is None or found[1] != client_id or found[2] != form.get("redirect_uri"):
                    return _json(
                        {"error": "invalid_grant", "error_description": "Bad Request"}, 400
                    )
                tokens = self.issue_tokens(found[0])
                return _json({**tokens, "scope": SCOPE, "token_type": "Bearer"})
            if grant == "refresh_token":
                refresh = form.get("refresh_token", "")
                email = self.refresh_tokens.get(refresh)
                if (
                    email is None
                    and refresh == DEMO_REFRESH_TOKEN
                    and DEMO_EMAIL not in self.revoked
                ):
                    email = DEMO_EMAIL
                    self.add_user(email)
                if email is None:
                    return _json(
                        {"error": "invalid_grant", "error_description": "Token has been revoked."},
                        400,
                    )
                return _json(
                    {
                        "access_token": self._access_token(email),
                        "expires_in": self.access_token_lifetime,
                        "scope": SCOPE,
                        "token_type": "Bearer",
                    }
                )
            return _json({"error": "unsupported_grant_type"}, 400)

    # People API ----------------------------------------------------------------------------

    def _api(self, request: Request, path: str) -> Response:
        with self.lock:
            book = self._authenticate(request)
            book.request_count += 1
            fault = self.faults.pop(0) if self.faults else None
            if fault is not None:
                self.requests["fault"] += 1
        if fault is not None and fault.kind == "sleep":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "status":
            raise self._fault_error(fault.status)
        with self.lock:
            response = self._route(book, request, path)
        if fault is not None and fault.kind == "after_commit":
            if fault.drop:
                _drop_connection(request)
            raise self._fault_error(fault.status)
        return response

    def _fault_error(self, status: int) -> ApiError:
        if status == 429:
            return self._exhausted("FBS quota limit exceeded")
        canonical = {500: "INTERNAL", 504: "DEADLINE_EXCEEDED"}.get(status, "UNAVAILABLE")
        return ApiError(status, canonical, "The service is currently unavailable.")

    def _route(self, book: Book, request: Request, path: str) -> Response:
        if self.quota_per_minute:
            minute = int(self.now() // 60)
            if book.quota_minute != minute:
                book.quota_minute, book.quota_used = minute, 0
            book.quota_used += 1
            if book.quota_used > self.quota_per_minute:
                self.requests["quota"] += 1
                raise self._exhausted("Quota exceeded for quota metric 'Requests per user'")
        method = request.method
        body: dict[str, Any] = {}
        if method in {"POST", "PATCH", "PUT"}:
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
            except ValueError:
                raise _invalid("Invalid JSON payload received.") from None
        if method == "GET" and path == "people/me":
            return self._count("people.get.me", self._me(book, request))
        if method == "GET" and path == "people/me/connections":
            return self._count("connections.list", self._connections(book, request))
        if method == "GET" and path == "people:batchGet":
            return self._count("people.batchGet", self._batch_get(book, request))
        if method == "POST" and path == "people:createContact":
            person = self._create(book, body, visible_now=False)
            return self._count("people.createContact", _json(_mask(person, request)))
        if method == "POST" and path == "people:batchCreateContacts":
            return self._count("people.batchCreateContacts", self._batch_create(book, body))
        if method == "POST" and path == "people:batchUpdateContacts":
            return self._count("people.batchUpdateContacts", self._batch_update(book, body))
        match = re.fullmatch(r"(people/[^/:]+):(updateContact|deleteContact)", path)
        if match and method == "PATCH" and match.group(2) == "updateContact":
            mask = _field_list(request.args.get("updatePersonFields", ""))
            person = self._update(book, match.group(1), body, mask)
            return self._count("people.updateContact", _json(_mask(person, request)))
        if match and method == "DELETE" and match.group(2) == "deleteContact":
            self._delete(book, match.group(1), visible_now=False)
            return self._count("people.deleteContact", _json({}))
        match = re.fullmatch(r"people/([^/:]+)", path)
        if match and method == "GET":
            if not request.args.get("personFields"):
                raise _invalid("personFields mask is required.", "personFields")
            person = self._live(book, path)
            return self._count("people.get", _json(_mask(person, request)))
        if method == "GET" and path == "contactGroups":
            return self._count("contactGroups.list", self._groups_page(book, request))
        if method == "POST" and path == "contactGroups":
            name = str((body.get("contactGroup") or {}).get("name") or "").strip()
            if not name:
                raise _invalid("Contact group name must not be empty.", "contactGroup.name")
            group = self._create_group(book, name)
            return self._count("contactGroups.create", _json(copy.deepcopy(group)))
        match = re.fullmatch(r"contactGroups/([^/:]+)/members:modify", path)
        if match and method == "POST":
            result = self._modify(book, f"contactGroups/{match.group(1)}", body)
            return self._count("contactGroups.members.modify", _json(result))
        raise ApiError(404, "NOT_FOUND", f"Method not found: {method} /v1/{path}")

    def _exhausted(self, description: str) -> ApiError:
        error = ApiError(
            429,
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"subject": "QUOTA_EXCEEDED", "description": description}],
                }
            ],
        )
        # Google sends no Retry-After; the knob lets tests check that a client honours one.
        if self.retry_after:
            error.headers["Retry-After"] = str(self.retry_after)
        return error

    def _count(self, kind: str, response: Response) -> Response:
        self.requests[kind] += 1
        return response

    def _authenticate(self, request: Request) -> Book:
        header = request.headers.get("Authorization", "")
        token = self.access_tokens.get(header.removeprefix("Bearer ").strip())
        if token is None or token.expires_at <= self.now():
            self.requests["unauthenticated"] += 1
            raise ApiError(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        return self.add_user(token.email)

    def _me(self, book: Book, request: Request) -> Response:
        fields = _field_list(request.args.get("personFields", ""))
        if not fields:
            raise _invalid("personFields mask is required.", "personFields")
        person: dict[str, Any] = {"resourceName": "people/me", "etag": "%me"}
        if "emailAddresses" in fields:
            person["emailAddresses"] = [
                {"metadata": {"primary": True}, "value": book.email, "type": "account"}
            ]
        return _json(person)

    def _connections(self, book: Book, request: Request) -> Response:
        args = request.args
        fields = _field_list(args.get("personFields", ""))
        if not fields:
            raise _invalid("personFields mask is required.", "personFields")
        try:
            page_size = int(args.get("pageSize", "100"))
        except ValueError:
            raise _invalid("Invalid pageSize.", "pageSize") from None
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise _invalid("pageSize must be between 1 and 1000.", "pageSize")
        request_sync = args.get("requestSyncToken", "false").lower() == "true"
        sync_token = args.get("syncToken", "")
        sort_order = args.get("sortOrder", "LAST_MODIFIED_ASCENDING")
        if sort_order not in ("LAST_MODIFIED_ASCENDING", "LAST_MODIFIED_DESCENDING"):
            # Google also sorts by first or last name; nothing in Tandem asks for that.
            raise _invalid(f"sortOrder {sort_order} is not emulated.", "sortOrder")
        descending = sort_order == "LAST_MODIFIED_DESCENDING"
        if descending and (sync_token or request_sync):
            raise _invalid("sortOrder cannot be used when syncing.", "sortOrder")
        params = json.dumps(
            [sorted(fields), page_size, request_sync, sync_token, sort_order, book.email],
            sort_keys=True,
        )
        params_hash = hashlib.sha256(params.encode()).hexdigest()[:16]
        page_token = args.get("pageToken", "")
        since: int | None = None
        after = 0
        horizon: int | None = None
        if page_token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(page_token.encode()))
                after = int(decoded["after"])
                since = decoded["since"]
                horizon = int(decoded["horizon"])
                token_hash = decoded["hash"]
            except (ValueError, KeyError, TypeError):
                raise _invalid("Invalid pageToken.", "pageToken") from None
            if token_hash != params_hash:
                raise _invalid(
                    "Parameters must match the call that provided the page token.", "pageToken"
                )
        elif sync_token:
            found = self.sync_tokens.get(sync_token)
            if found is None or found[0] != book.email:
                raise _invalid("Invalid syncToken.", "syncToken")
            if found[2] + self.sync_token_ttl <= self.now():
                self.requests["connections.list.expired"] += 1
                raise ApiError(
                    self.expired_sync_status,
                    "FAILED_PRECONDITION",
                    "Sync token is expired. Clear local cache and retry call without the sync "
                    "token.",
                    [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "EXPIRED_SYNC_TOKEN",
                            "domain": "people.googleapis.com",
                        }
                    ],
                )
            since = found[1]
        self._settle_book(book)
        # The sync token a listing ends with covers only what had settled when it began: a
        # change made while the pages are read, or one that settles meanwhile, comes again
        # through the token rather than being lost behind it.
        pending = [e.seq for e in book.pending.values()]
        settled = min([self.last_seq, *(seq - 1 for seq in pending)])
        horizon = settled if horizon is None else min(horizon, settled)
        # Candidates: every shown change after ``since``, tombstones included; or, for a full
        # listing, every shown live contact. The page cursor is the last change sequence shown:
        # later ones come next when ascending, earlier ones when descending.
        order = book.shown_order
        total = book.shown_live if since is None else len(order) - bisect.bisect_right(order, since)
        if descending:
            end = bisect.bisect_left(order, after) if after else len(order)
            seqs: Iterable[int] = (order[i] for i in range(end - 1, -1, -1))
        else:
            seqs = itertools.islice(order, bisect.bisect_right(order, max(after, since or 0)), None)
        ordered: list[Entry] = []
        for seq in seqs:
            entry = book.shown_by_seq[seq]
            if since is None and not _live_shown(entry):
                continue
            ordered.append(entry)
            if len(ordered) > page_size:
                break
        page = ordered[:page_size]
        people = []
        for entry in page:
            shown = entry.shown
            assert shown is not None
            person = copy.deepcopy(shown)
            if since is None:
                person["metadata"].pop("previousResourceNames", None)
            people.append(person if person["metadata"].get("deleted") else _filter(person, fields))
        out: dict[str, Any] = {"connections": people, "totalItems": total}
        if len(ordered) > len(page):
            cursor = {
                "after": page[-1].shown_seq,
                "since": since,
                "horizon": horizon,
                "hash": params_hash,
            }
            out["nextPageToken"] = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()
        elif request_sync:
            token = "sync." + secrets.token_urlsafe(18)
            self.sync_tokens[token] = (book.email, horizon, self.now())
            out["nextSyncToken"] = token
        return _json(out)

    def _groups_page(self, book: Book, request: Request) -> Response:
        try:
            page_size = int(request.args.get("pageSize", "30"))
            offset = int(request.args.get("pageToken") or "0")
        except ValueError:
            raise _invalid("Invalid pageSize or pageToken.", "pageToken") from None
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise _invalid("pageSize must be between 1 and 1000.", "pageSize")
        groups = [_system_group(rn, name) for rn, name in SYSTEM_GROUPS.items()]
        groups += [copy.deepcopy(g) for g in book.groups.values()]
        out: dict[str, Any] = {
            "contactGroups": groups[offset : offset + page_size],
            "totalItems": len(groups),
        }
        if offset + page_size < len(groups):
            out["nextPageToken"] = str(offset + page_size)
        return _json(out)

    def _batch_get(self, book: Book, request: Request) -> Response:
        names = request.args.getlist("resourceNames")
        fields = _field_list(request.args.get("personFields", ""))
        if not fields:
            raise _invalid("personFields mask is required.", "personFields")
        if not names or len(names) > MAX_BATCH_GET:
            raise _invalid("resourceNames must hold 1 to 200 names.", "resourceNames")
        responses = []
        for name in names:
            try:
                person = _filter(copy.deepcopy(self._live(book, name)), fields)
                responses.append(
                    {
                        "httpStatusCode": 200,
                        "person": person,
                        "requestedResourceName": name,
                        "status": {},
                    }
                )
            except ApiError as exc:
                responses.append(
                    {
                        "httpStatusCode": exc.code,
                        "requestedResourceName": name,
                        "status": {"code": 5, "message": exc.message},
                    }
                )
        return _json({"responses": responses})

    def _batch_create(self, book: Book, body: dict[str, Any]) -> Response:
        contacts = body.get("contacts") or []
        if not isinstance(contacts, list) or not contacts or len(contacts) > MAX_BATCH:
            raise _invalid("contacts must hold 1 to 200 contacts.", "contacts")
        people = [dict(c.get("contactPerson") or {}) for c in contacts]
        for index, person in enumerate(people):  # all or nothing, like Google
            _validate(person, set(person) & WRITABLE_FIELDS, prefix=f"contacts[{index}].")
            _check_memberships(book, person, prefix=f"contacts[{index}].")
        read_mask = _field_list(body.get("readMask", ""))
        created = []
        for person in people:
            stored = self._create(book, person, visible_now=False)
            created.append(
                {
                    "httpStatusCode": 200,
                    "person": _filter(copy.deepcopy(stored), read_mask) if read_mask else None,
                    "requestedResourceName": stored["resourceName"],
                    "status": {},
                }
            )
        return _json({"createdPeople": created})

    def _batch_update(self, book: Book, body: dict[str, Any]) -> Response:
        contacts = body.get("contacts") or {}
        mask = _field_list(body.get("updateMask", ""))
        if not mask:
            raise _invalid("updateMask is required.", "updateMask")
        if not isinstance(contacts, dict) or not contacts or len(contacts) > MAX_BATCH:
            raise _invalid("contacts must hold 1 to 200 contacts.", "contacts")
        for name, person in contacts.items():  # all or nothing, like Google
            current = self._live(book, name)
            _check_etag(person, current)
            _validate(person, mask, prefix=f"contacts[{name}].")
            if "memberships" in mask:
                _check_memberships(book, person, prefix=f"contacts[{name}].")
        read_mask = _field_list(body.get("readMask", ""))
        result = {}
        for name, person in contacts.items():
            stored = self._update(book, name, person, mask)
            result[name] = {
                "httpStatusCode": 200,
                "person": _filter(copy.deepcopy(stored), read_mask) if read_mask else None,
                "requestedResourceName": name,
                "status": {},
            }
        return _json({"updateResult": result})

    def _update(
        self, book: Book, name: str, body: dict[str, Any], mask: set[str]
    ) -> dict[str, Any]:
        if not mask:
            raise _invalid("updatePersonFields mask is required.", "updatePersonFields")
        unknown = mask - WRITABLE_FIELDS
        if unknown:
            raise _invalid(f"Invalid updatePersonFields: {sorted(unknown)}", "updatePersonFields")
        current = self._live(book, name)
        _check_etag(body, current)
        _validate(body, mask)
        if "memberships" in mask:
            _check_memberships(book, body)
        if "memberships" in mask and not body.get("memberships"):
            raise _invalid("A contact must have at least one membership.", "memberships")
        person = copy.deepcopy(current)
        for key in mask:
            value = body.get(key)
            if value:
                person[key] = copy.deepcopy(value)
            else:
                person.pop(key, None)
        return self._store(book, person, visible_now=False)

    def _modify(self, book: Book, group: str, body: dict[str, Any]) -> dict[str, Any]:
        if group not in book.groups and group not in SYSTEM_GROUPS:
            raise ApiError(404, "NOT_FOUND", "Requested entity was not found.")
        add = list(body.get("resourceNamesToAdd") or [])
        remove = list(body.get("resourceNamesToRemove") or [])
        if len(add) + len(remove) > MAX_MODIFY:
            raise _invalid("At most 1000 resource names per request.", "resourceNamesToAdd")
        not_found: list[str] = []
        last: list[str] = []
        for name, adding in [(n, True) for n in add] + [(n, False) for n in remove]:
            try:
                current = self._live(book, name)
            except ApiError:
                not_found.append(name)
                continue
            memberships = [
                m
                for m in current.get("memberships") or []
                if (m.get("contactGroupMembership") or {}).get("contactGroupResourceName") != group
            ]
            if adding:
                memberships.append(_membership(group))
            elif not memberships:
                last.append(name)
                continue
            if memberships == current.get("memberships"):
                continue
            person = copy.deepcopy(current)
            person["memberships"] = memberships
            self._store(book, person, visible_now=False)
        result: dict[str, Any] = {}
        if not_found:
            result["notFoundResourceNames"] = not_found
        if last:
            result["canNotRemoveLastContactGroupResourceNames"] = last
        return result

    # HTTP control API ----------------------------------------------------------------------

    def _control(self, request: Request, path: str) -> Response:
        """JSON control API for the demo, the benchmarks and black-box tests:

        POST /_sandbox/reset
        POST /_sandbox/users      {email}              -> {email}
        POST /_sandbox/tokens     {email}              -> {access_token, refresh_token, expires_in}
        POST /_sandbox/seed       {count?}             -> {email, refresh_token, client_id,
                                                           contacts, groups}
        GET  /_sandbox/contacts?email=                 -> {people: [...]}  (live contacts)
        POST /_sandbox/contacts   {email, person}      -> person (visible at once)
        GET  /_sandbox/groups?email=                   -> {groups: [...]}
        GET  /_sandbox/knobs                           -> every knob's value
        POST /_sandbox/knobs      any of KNOBS, and/or {count, status, sleep, after_commit, drop}
                                  (faults for the next requests, see ``fail_next``),
                                  {revoke: email}, {expire_access_tokens: email},
                                  {change_resource_name: {email, resourceName}}, {advance: s}
                                  (``/_sandbox/faults`` is the same endpoint)
        GET  /_sandbox/stats                           -> {requests: {kind: n}}
        """
        body: dict[str, Any] = {}
        if request.method == "POST":
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
            except ValueError:
                return _json({"error": "invalid JSON"}, 400)
            if not isinstance(body, dict):
                return _json({"error": "expected a JSON object"}, 400)
        try:
            with self.lock:
                return self._control_call(request.method, path, body, request.args)
        except (KeyError, TypeError, ValueError) as exc:
            return _json({"error": f"bad control request: {type(exc).__name__} {exc}"}, 400)

    def _control_call(
        self, method: str, path: str, body: dict[str, Any], args: Mapping[str, str]
    ) -> Response:
        if path == "reset" and method == "POST":
            self.reset()
            return _json({"ok": True})
        if path == "users" and method == "POST":
            self.add_user(str(body["email"]))
            return _json({"email": body["email"]})
        if path == "tokens" and method == "POST":
            return _json(self.issue_tokens(str(body["email"])))
        if path == "seed" and method == "POST":
            return _json(seed_demo(self, count=int(body.get("count", DEMO_COUNT))))
        if path == "contacts" and method == "GET":
            return _json({"people": self.contacts(args.get("email", DEMO_EMAIL))})
        if path == "contacts" and method == "POST":
            return _json(self.add_contact(str(body["email"]), body.get("person") or {}))
        if path == "groups" and method == "GET":
            book = self.add_user(args.get("email", DEMO_EMAIL))
            return _json({"groups": [copy.deepcopy(g) for g in book.groups.values()]})
        if path in ("knobs", "faults") and method == "GET":
            return _json({knob: getattr(self, knob) for knob in KNOBS})
        if path in ("knobs", "faults") and method == "POST":
            for knob in KNOBS:
                if knob in body:
                    setattr(self, knob, type(getattr(self, knob))(body[knob]))
            if "count" in body:
                self.fail_next(
                    int(body["count"]),
                    int(body.get("status", 429)),
                    sleep=float(body.get("sleep", 0)),
                    after_commit=bool(body.get("after_commit")),
                    drop=bool(body.get("drop")),
                )
            if "revoke" in body:
                self.revoke(str(body["revoke"]))
            if "expire_access_tokens" in body:
                self.expire_access_tokens(str(body["expire_access_tokens"]))
            if "advance" in body:
                self.advance(float(body["advance"]))
            changed = ""
            if "change_resource_name" in body:
                spec = body["change_resource_name"]
                changed = self.change_resource_name(spec["email"], spec["resourceName"])
            return _json({"ok": True, "resourceName": changed})
        if path == "stats" and method == "GET":
            return _json({"requests": dict(self.requests)})
        return _json({"error": f"no control endpoint {method} {path}"}, 404)


# Person helpers ----------------------------------------------------------------------------


def _drop_connection(request: Request) -> None:
    """Close the client's connection without an answer: a reset after the write committed."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, mimetype="application/json", headers=dict(headers or {})
    )


def _field_list(value: str) -> set[str]:
    return {part.strip() for part in value.split(",") if part.strip()}


def _membership(group: str) -> dict[str, Any]:
    return {
        "contactGroupMembership": {
            "contactGroupId": group.removeprefix("contactGroups/"),
            "contactGroupResourceName": group,
        }
    }


def _system_group(resource_name: str, name: str) -> dict[str, Any]:
    return {
        "resourceName": resource_name,
        "etag": "%system",
        "groupType": "SYSTEM_CONTACT_GROUP",
        "name": name,
        "formattedName": name,
    }


def _filter(person: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    unknown = fields - READABLE_FIELDS - {"photos", "nicknames", "externalIds", "genders"}
    if unknown:
        raise _invalid(f"Invalid personFields mask path: {sorted(unknown)[0]}", "personFields")
    keep = {"resourceName", "etag"} | fields
    return {k: v for k, v in person.items() if k in keep}


def _mask(person: dict[str, Any], request: Request) -> dict[str, Any]:
    fields = _field_list(request.args.get("personFields", "")) or {"names", "metadata"}
    return _filter(copy.deepcopy(person), fields)


def _check_etag(body: dict[str, Any], current: dict[str, Any]) -> None:
    etag = body.get("etag") or ""
    if not etag:
        raise _invalid(
            "Request must set person.etag or person.metadata.sources.etag for the source that "
            "is being updated.",
            "person.etag",
        )
    if etag != current["etag"]:
        raise ApiError(
            400,
            "FAILED_PRECONDITION",
            "Request person.etag is different than the current person.etag. Clear local cache "
            "and get the latest person.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "failedPrecondition",
                    "domain": "people.googleapis.com",
                }
            ],
        )


def _check_memberships(book: Book, person: dict[str, Any], prefix: str = "") -> None:
    """Only user groups, ``myContacts`` and ``starred`` can be added to a contact."""
    for index, membership in enumerate(person.get("memberships") or []):
        group = (membership.get("contactGroupMembership") or {}).get("contactGroupResourceName")
        if group not in book.groups and group not in SYSTEM_GROUPS:
            raise _invalid(
                f"Contact group {group!r} does not exist or cannot be added.",
                f"{prefix}memberships[{index}]",
            )


def _validate(person: dict[str, Any], fields: set[str], prefix: str = "") -> None:
    for key in fields:
        value = person.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise _invalid(f"{key} must be a list of objects.", f"{prefix}{key}")
        if key in SINGLETONS and len(value) > 1:
            raise _invalid(f"Only one {key} value is allowed.", f"{prefix}{key}")
    for index, item in enumerate(person.get("emailAddresses") or []):
        if not str(item.get("value") or "").strip():
            raise _invalid("Email address must not be empty.", f"{prefix}emailAddresses[{index}]")
    for index, item in enumerate(person.get("birthdays") or []):
        date = item.get("date") or {}
        month, day = date.get("month") or 0, date.get("day") or 0
        if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
            raise _invalid("Invalid birthday date.", f"{prefix}birthdays[{index}].date")
    for index, item in enumerate(person.get("userDefined") or []):
        if not str(item.get("key") or "").strip():
            raise _invalid("userDefined key must not be empty.", f"{prefix}userDefined[{index}]")


def _computed(person: dict[str, Any]) -> None:
    for name in person.get("names") or []:
        given, family = name.get("givenName", ""), name.get("familyName", "")
        name["displayName"] = " ".join(p for p in (given, family) if p)
        name["displayNameLastFirst"] = ", ".join(p for p in (family, given) if p)
        name["unstructuredName"] = name["displayName"]
    for key in ("emailAddresses", "phoneNumbers", "names", "organizations"):
        for position, item in enumerate(person.get(key) or []):
            item.setdefault("metadata", {})["primary"] = position == 0
    for phone in person.get("phoneNumbers") or []:
        digits = re.sub(r"[^\d+]", "", str(phone.get("value", "")))
        if digits.startswith("+"):
            phone["canonicalForm"] = digits


# Demo data ---------------------------------------------------------------------------------

# Spellings the demo Google user has for some shared people ("Jon" where Kustomer says "John").
NICKNAMES = {
    "John": "Jon",
    "Mohammed": "Mohamed",
    "Sofia": "Sophia",
    "Emily": "Emilie",
    "José": "Jose",
    "Zoë": "Zoe",
    "Chloé": "Chloe",
    "Dmitri": "Dmitry",
    "Tomás": "Tomas",
}
OWN_DOMAIN = "friends.example"


def demo_person(person: DemoPerson, *, first_name: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "names": [{"givenName": first_name or person.first_name, "familyName": person.last_name}],
        "phoneNumbers": [{"value": p, "type": "work"} for p in person.phones],
        "addresses": [{"city": person.city, "countryCode": person.country, "type": "work"}],
    }
    if person.emails:
        out["emailAddresses"] = [{"value": e, "type": "work"} for e in person.emails]
    if person.company:
        out["organizations"] = [{"name": person.company, "title": person.job_title}]
    return out


def seed_demo(emulator: GoogleContactsEmulator, *, count: int = DEMO_COUNT) -> dict[str, Any]:
    """The demo user's book (``DEMO_EMAIL``): 60% of ``demo_people(count, seed=42)``, the people
    the Kustomer demo org holds, half of those with a name in ``NICKNAMES`` spelled the other
    way; 40 people of its own (``@friends.example``), 10 more without any email; the labels
    Customers and VIP and a custom field ``loyaltyTier``. Idempotent: seeding again starts the
    demo book over. Its refresh token ``DEMO_REFRESH_TOKEN`` works without any consent."""
    with emulator.lock:
        emulator.books.pop(DEMO_EMAIL, None)
        emulator.revoked.discard(DEMO_EMAIL)
        emulator.add_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
        book = emulator.add_user(DEMO_EMAIL)
        groups = {name: emulator._create_group(book, name) for name in DEMO_GROUPS}
        created = 0
        respelled = 0
        for index, person in enumerate(demo_people(count, seed=42)):
            if index % 5 in (1, 3):  # keep 60%
                continue
            first = person.first_name
            if first in NICKNAMES:
                respelled += 1
                if respelled % 2:
                    first = NICKNAMES[first]
            body = demo_person(person, first_name=first)
            memberships = [_membership("contactGroups/myContacts")]
            if index % 3 == 0:
                memberships.append(_membership(groups["Customers"]["resourceName"]))
            if index % 17 == 0:
                memberships.append(_membership(groups["VIP"]["resourceName"]))
            body["memberships"] = memberships
            if index % 10 == 0:
                body["userDefined"] = [{"key": "loyaltyTier", "value": "gold"}]
            emulator._create(book, body, visible_now=True)
            created += 1
        for index, person in enumerate(demo_people(50, seed=7)):
            body = demo_person(person)
            if index >= 40:
                body.pop("emailAddresses", None)
            else:
                body["emailAddresses"] = [
                    {"value": f"{e.split('@')[0]}@{OWN_DOMAIN}", "type": "home"}
                    for e in person.emails
                ]
            emulator._create(book, body, visible_now=True)
            created += 1
        return {
            "email": DEMO_EMAIL,
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_id": DEMO_CLIENT_ID,
            "contacts": created,
            "groups": list(DEMO_GROUPS),
        }
