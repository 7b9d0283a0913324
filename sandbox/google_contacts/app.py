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
import copy
import datetime as dt
import hashlib
import itertools
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.google_contacts import oauth
from sandbox.google_contacts.errors import ApiError, invalid
from sandbox.google_contacts.people import (
    UPDATABLE_FIELDS,
    WRITABLE_FIELDS,
    answer_mask,
    check_etag,
    check_person,
    computed,
    field_list,
    membership,
    person_fields,
    restrict,
    search_texts,
)
from sandbox.google_contacts.seed import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_COUNT,
    DEMO_EMAIL,
)
from sandbox.kit import Emulator, drop_connection, json_response, sleep_for

MAX_BATCH = 200
MAX_BATCH_GET = 200
MAX_BATCH_DELETE = 500
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
SEARCH_PAGE_SIZE = 10
MAX_SEARCH_PAGE_SIZE = 30
MAX_MODIFY = 1000
SYSTEM_GROUPS = {"contactGroups/myContacts": "myContacts", "contactGroups/starred": "starred"}
SORT_ORDERS = (
    "LAST_MODIFIED_ASCENDING",
    "LAST_MODIFIED_DESCENDING",
    "FIRST_NAME_ASCENDING",
    "LAST_NAME_ASCENDING",
)
READ_SOURCES = frozenset(
    {
        "READ_SOURCE_TYPE_CONTACT",
        "READ_SOURCE_TYPE_PROFILE",
        "READ_SOURCE_TYPE_DOMAIN_CONTACT",
        "READ_SOURCE_TYPE_OTHER_CONTACT",
    }
)
DAY = 24 * 3600.0
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
            self.reset_kit()
            self.clients: dict[str, str] = {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET}
            self.books: dict[str, Book] = {}
            self.codes: dict[str, tuple[str, str, str]] = {}
            self.access_tokens: dict[str, AccessToken] = {}
            self.refresh_tokens: dict[str, str] = {}
            self.revoked: set[str] = set()
            # sync token -> (email, change sequence, issued at, parameters hash)
            self.sync_tokens: dict[str, tuple[str, int, float, str]] = {}
            self.seq = itertools.count(1)
            self.last_seq = 0
            self.ids = itertools.count(1)
            self.sync_token_ttl = 7 * DAY
            self.expired_sync_status = 400
            self.propagation_delay = 0.0
            self.propagation_requests = 0
            self.quota_per_minute = 0
            self.retry_after = 0
            self.access_token_lifetime = 3600

    def seed_demo(self, count: int = DEMO_COUNT) -> dict[str, Any]:
        from sandbox.google_contacts.seed import seed_demo

        return seed_demo(self, count=count)

    def now(self) -> float:
        """Now as epoch seconds, on the kit's clock."""
        return self.clock.time()

    def advance(self, seconds: float) -> None:
        """``advance_clock`` (kept for its callers)."""
        self.advance_clock(seconds)

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

    def add_contact(self, email: str, person: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            book = self.add_user(email)
            return copy.deepcopy(self.create(book, dict(person), visible_now=True))

    def add_group(self, email: str, name: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.create_group(self.add_user(email), name))

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
            check_person(fields, WRITABLE_FIELDS)
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

    def create(
        self, book: Book, person: Any, *, visible_now: bool, prefix: str = ""
    ) -> dict[str, Any]:
        """Store a new contact from a body the API accepts (checked here, as every create path
        is); ``ApiError`` and nothing stored otherwise."""
        check_person(person, WRITABLE_FIELDS, prefix)
        _check_memberships(book, person, prefix)
        name = self._new_resource_name()
        clean = {k: copy.deepcopy(v) for k, v in person.items() if k in WRITABLE_FIELDS}
        clean["resourceName"] = name
        clean["metadata"] = {
            "sources": [{"type": "CONTACT", "id": secrets.token_hex(8)}],
            "objectType": "PERSON",
        }
        if not clean.get("memberships"):
            clean["memberships"] = [membership("contactGroups/myContacts")]
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
        computed(person)
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

    def create_group(self, book: Book, name: str) -> dict[str, Any]:
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

    def server_error(self) -> Response:
        return ApiError(500, "INTERNAL", "Internal error encountered.").response()

    def dispatch(self, request: Request) -> Response:
        path = request.path
        try:
            if path == "/o/oauth2/v2/auth":
                return oauth.consent(self, request)
            if path == "/token":
                return oauth.token(self, request)
            if path.startswith("/v1/"):
                return self._api(request, path[len("/v1/") :])
            raise ApiError(404, "NOT_FOUND", f"No such endpoint: {path}")
        except ApiError as exc:
            return exc.response()

    # People API ----------------------------------------------------------------------------

    def _api(self, request: Request, path: str) -> Response:
        with self.lock:
            book = self._authenticate(request)
            book.request_count += 1
            fault = self.faults.pop()
            if fault is not None:
                self.requests.record("fault")
        sleep_for(fault)
        if fault is not None and fault.kind == "status":
            raise self._fault_error(fault.status)
        with self.lock:
            response = self._route(book, request, path)
        if fault is not None and fault.kind == "after_commit":
            if fault.drop:
                drop_connection(request)
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
                self.requests.record("quota")
                raise self._exhausted("Quota exceeded for quota metric 'Requests per user'")
        method = request.method
        args = request.args
        body: Any = {}
        if method in {"POST", "PATCH", "PUT"}:
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
            except ValueError:
                raise invalid("Invalid JSON payload received.") from None
        if method == "GET" and path == "people/me":
            return self._count("people.get.me", self._me(book, request))
        if method == "GET" and path == "people/me/connections":
            return self._count("connections.list", self._connections(book, request))
        if method == "GET" and path == "people:batchGet":
            return self._count("people.batchGet", self._batch_get(book, request))
        if method == "GET" and path == "people:searchContacts":
            return self._count("people.searchContacts", self._search(book, request))
        if method == "POST" and path == "people:createContact":
            fields = answer_mask(args)
            person = self.create(book, body, visible_now=False)
            return self._count("people.createContact", json_response(restrict(person, fields)))
        if method == "POST" and path == "people:batchCreateContacts":
            return self._count("people.batchCreateContacts", self._batch_create(book, body))
        if method == "POST" and path == "people:batchUpdateContacts":
            return self._count("people.batchUpdateContacts", self._batch_update(book, body))
        if method == "POST" and path == "people:batchDeleteContacts":
            return self._count("people.batchDeleteContacts", self._batch_delete(book, body))
        match = re.fullmatch(r"(people/[^/:]+):(updateContact|deleteContact)", path)
        if match and method == "PATCH" and match.group(2) == "updateContact":
            fields = answer_mask(args)
            mask = field_list(
                args.get("updatePersonFields", ""), "updatePersonFields", UPDATABLE_FIELDS
            )
            person = self._update(book, match.group(1), body, mask)
            return self._count("people.updateContact", json_response(restrict(person, fields)))
        if match and method == "DELETE" and match.group(2) == "deleteContact":
            self._delete(book, match.group(1), visible_now=False)
            return self._count("people.deleteContact", json_response({}))
        match = re.fullmatch(r"people/([^/:]+)", path)
        if match and method == "GET":
            fields = person_fields(args)
            person = self._live(book, path)
            return self._count("people.get", json_response(restrict(person, fields)))
        if method == "GET" and path == "contactGroups":
            return self._count("contactGroups.list", self._groups_page(book, request))
        if method == "POST" and path == "contactGroups":
            group_body = _object(body).get("contactGroup")
            if not isinstance(group_body, dict):
                raise invalid("contactGroup must be an object.", "contactGroup")
            name = group_body.get("name")
            if not isinstance(name, str) or not name.strip():
                raise invalid("Contact group name must not be empty.", "contactGroup.name")
            group = self.create_group(book, name.strip())
            return self._count("contactGroups.create", json_response(copy.deepcopy(group)))
        match = re.fullmatch(r"contactGroups/([^/:]+)/members:modify", path)
        if match and method == "POST":
            result = self._modify(book, f"contactGroups/{match.group(1)}", _object(body))
            return self._count("contactGroups.members.modify", json_response(result))
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
        self.requests.record(kind)
        return response

    def _authenticate(self, request: Request) -> Book:
        header = request.headers.get("Authorization", "")
        token = self.access_tokens.get(header.removeprefix("Bearer ").strip())
        if token is None or token.expires_at <= self.now():
            self.requests.record("unauthenticated")
            raise ApiError(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        return self.add_user(token.email)

    def _me(self, book: Book, request: Request) -> Response:
        fields = person_fields(request.args)
        person: dict[str, Any] = {"resourceName": "people/me", "etag": "%me"}
        if "emailAddresses" in fields:
            person["emailAddresses"] = [
                {"metadata": {"primary": True}, "value": book.email, "type": "account"}
            ]
        return json_response(person)

    def _connections(self, book: Book, request: Request) -> Response:
        args = request.args
        fields = person_fields(args)
        page_size = _page_size(args, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, cap=False)
        request_sync = _boolean(args.get("requestSyncToken", "false"), "requestSyncToken")
        sync_token = args.get("syncToken", "")
        sources = _sources(args)
        sort_order = args.get("sortOrder", "LAST_MODIFIED_ASCENDING")
        if sort_order not in SORT_ORDERS:
            raise invalid(f"Invalid value at 'sort_order': \"{sort_order}\".", "sortOrder")
        if sort_order != "LAST_MODIFIED_ASCENDING" and (sync_token or request_sync):
            raise invalid("sortOrder cannot be used when syncing.", "sortOrder")
        params = json.dumps(
            [sorted(fields), page_size, request_sync, sync_token, sort_order, sources, book.email],
            sort_keys=True,
        )
        params_hash = hashlib.sha256(params.encode()).hexdigest()[:16]
        if sort_order in ("FIRST_NAME_ASCENDING", "LAST_NAME_ASCENDING"):
            return self._by_name(book, args, fields, page_size, params_hash, sort_order)
        descending = sort_order == "LAST_MODIFIED_DESCENDING"
        # A sync token is bound to the listing that issued it: the same fields, page size and
        # sources ("all other request parameters must match the first call").
        listing = json.dumps([sorted(fields), page_size, sources, book.email], sort_keys=True)
        listing_hash = hashlib.sha256(listing.encode()).hexdigest()[:16]
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
                raise invalid("Invalid pageToken.", "pageToken") from None
            if token_hash != params_hash:
                raise invalid(
                    "Parameters must match the call that provided the page token.", "pageToken"
                )
        elif sync_token:
            found = self.sync_tokens.get(sync_token)
            if found is None or found[0] != book.email:
                raise invalid("Invalid syncToken.", "syncToken")
            if found[3] != listing_hash:
                raise invalid(
                    "Parameters must match the call that provided the sync token.", "syncToken"
                )
            if found[2] + self.sync_token_ttl <= self.now():
                self.requests.record("connections.list.expired")
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
            people.append(person if person["metadata"].get("deleted") else restrict(person, fields))
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
            self.sync_tokens[token] = (book.email, horizon, self.now(), listing_hash)
            out["nextSyncToken"] = token
        return json_response(out)

    def _by_name(
        self,
        book: Book,
        args: Mapping[str, str],
        fields: set[str],
        page_size: int,
        params_hash: str,
        sort_order: str,
    ) -> Response:
        """A full listing sorted by first or last name (never with sync tokens)."""
        offset = 0
        page_token = args.get("pageToken", "")
        if page_token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(page_token.encode()))
                offset = int(decoded["offset"])
                token_hash = decoded["hash"]
            except (ValueError, KeyError, TypeError):
                raise invalid("Invalid pageToken.", "pageToken") from None
            if token_hash != params_hash or offset < 0:
                raise invalid(
                    "Parameters must match the call that provided the page token.", "pageToken"
                )
        self._settle_book(book)
        part = "givenName" if sort_order == "FIRST_NAME_ASCENDING" else "familyName"
        live = [e.shown for e in book.shown_by_seq.values() if _live_shown(e) and e.shown]

        def key(person: dict[str, Any]) -> tuple[bool, str, str]:
            names = person.get("names") or [{}]
            value = str(names[0].get(part) or "").casefold()
            return (not value, value, person["resourceName"])

        ordered = sorted(live, key=key)
        page = ordered[offset : offset + page_size]
        out: dict[str, Any] = {
            "connections": [restrict(person, fields) for person in page],
            "totalItems": len(ordered),
        }
        if offset + page_size < len(ordered):
            cursor = {"offset": offset + page_size, "hash": params_hash}
            out["nextPageToken"] = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()
        return json_response(out)

    def _search(self, book: Book, request: Request) -> Response:
        """``people:searchContacts``: a prefix match of ``query`` on names, nicknames, emails,
        phones and organizations of what listings show (Google searches a lazily updated cache,
        hence its advice to send an empty warm-up query first, answered with nothing)."""
        args = request.args
        fields = person_fields(args, "readMask")
        page_size = _page_size(args, SEARCH_PAGE_SIZE, MAX_SEARCH_PAGE_SIZE, cap=True)
        _sources(args)
        if "query" not in args:
            raise invalid("query is required.", "query")
        query = args["query"].strip().casefold()
        if not query:
            return json_response({})
        self._settle_book(book)
        found = []
        for seq in book.shown_order:
            entry = book.shown_by_seq[seq]
            if not _live_shown(entry) or entry.shown is None:
                continue
            words = [
                word
                for text in search_texts(entry.shown)
                for word in [text.casefold(), *re.split(r"[\s@.,]+", text.casefold())]
            ]
            if any(word.startswith(query) for word in words):
                found.append({"person": restrict(entry.shown, fields)})
            if len(found) == page_size:
                break
        return json_response({"results": found} if found else {})

    def _groups_page(self, book: Book, request: Request) -> Response:
        page_size = _page_size(request.args, 30, MAX_PAGE_SIZE, cap=False)
        try:
            offset = int(request.args.get("pageToken") or "0")
        except ValueError:
            raise invalid("Invalid pageToken.", "pageToken") from None
        if offset < 0:
            raise invalid("Invalid pageToken.", "pageToken")
        groups = [_system_group(rn, name) for rn, name in SYSTEM_GROUPS.items()]
        groups += [copy.deepcopy(g) for g in book.groups.values()]
        out: dict[str, Any] = {
            "contactGroups": groups[offset : offset + page_size],
            "totalItems": len(groups),
        }
        if offset + page_size < len(groups):
            out["nextPageToken"] = str(offset + page_size)
        return json_response(out)

    def _batch_get(self, book: Book, request: Request) -> Response:
        names = request.args.getlist("resourceNames")
        fields = person_fields(request.args)
        if not names or len(names) > MAX_BATCH_GET:
            raise invalid("resourceNames must hold 1 to 200 names.", "resourceNames")
        responses = []
        for name in names:
            try:
                person = restrict(self._live(book, name), fields)
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
        return json_response({"responses": responses})

    def _batch_create(self, book: Book, body: Any) -> Response:
        body = _object(body)
        contacts = body.get("contacts")
        if not isinstance(contacts, list) or not contacts or len(contacts) > MAX_BATCH:
            raise invalid("contacts must hold 1 to 200 contacts.", "contacts")
        read_mask = field_list(_text(body, "readMask"), "readMask")
        _sources_of(body)
        people = []
        for index, item in enumerate(contacts):  # all or nothing, like Google
            where = f"contacts[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("contactPerson"), dict):
                raise invalid(f"{where}.contactPerson must be an object.", where)
            unknown = set(item) - {"contactPerson"}
            if unknown:
                raise invalid(f"Unknown name \"{sorted(unknown)[0]}\" at '{where}'.", where)
            person = item["contactPerson"]
            check_person(person, WRITABLE_FIELDS, prefix=f"{where}.contactPerson.")
            _check_memberships(book, person, prefix=f"{where}.contactPerson.")
            people.append(person)
        created = []
        for person in people:
            stored = self.create(book, person, visible_now=False)
            created.append(
                {
                    "httpStatusCode": 200,
                    "person": restrict(stored, read_mask) if read_mask else None,
                    "requestedResourceName": stored["resourceName"],
                    "status": {},
                }
            )
        return json_response({"createdPeople": created})

    def _batch_update(self, book: Book, body: Any) -> Response:
        body = _object(body)
        contacts = body.get("contacts")
        mask = field_list(_text(body, "updateMask"), "updateMask", UPDATABLE_FIELDS)
        if not mask:
            raise invalid("updateMask is required.", "updateMask")
        read_mask = field_list(_text(body, "readMask"), "readMask")
        _sources_of(body)
        if not isinstance(contacts, dict) or not contacts or len(contacts) > MAX_BATCH:
            raise invalid("contacts must hold 1 to 200 contacts.", "contacts")
        for name, person in contacts.items():  # all or nothing, like Google
            where = f"contacts[{name}]."
            check_person(person, mask, prefix=where)
            current = self._live(book, name)
            check_etag(person, current)
            if "memberships" in mask:
                _check_memberships(book, person, prefix=where)
        result = {}
        for name, person in contacts.items():
            stored = self._update(book, name, person, mask)
            result[name] = {
                "httpStatusCode": 200,
                "person": restrict(stored, read_mask) if read_mask else None,
                "requestedResourceName": name,
                "status": {},
            }
        return json_response({"updateResult": result})

    def _batch_delete(self, book: Book, body: Any) -> Response:
        """``people:batchDeleteContacts``: up to 500, all or nothing."""
        names = _object(body).get("resourceNames")
        if (
            not isinstance(names, list)
            or not names
            or len(names) > MAX_BATCH_DELETE
            or not all(isinstance(n, str) for n in names)
        ):
            raise invalid("resourceNames must hold 1 to 500 resource names.", "resourceNames")
        for name in names:
            self._live(book, name)
        for name in dict.fromkeys(names):
            self._delete(book, name, visible_now=False)
        return json_response({})

    def _update(self, book: Book, name: str, body: Any, mask: set[str]) -> dict[str, Any]:
        if not mask:
            raise invalid("updatePersonFields mask is required.", "updatePersonFields")
        unknown = mask - UPDATABLE_FIELDS
        if unknown:
            raise invalid(f"Invalid updatePersonFields: {sorted(unknown)}", "updatePersonFields")
        check_person(body, mask)
        current = self._live(book, name)
        check_etag(body, current)
        if "memberships" in mask:
            _check_memberships(book, body)
        if "memberships" in mask and not body.get("memberships"):
            raise invalid("A contact must have at least one membership.", "memberships")
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
        add = body.get("resourceNamesToAdd") or []
        remove = body.get("resourceNamesToRemove") or []
        for key, names in (("resourceNamesToAdd", add), ("resourceNamesToRemove", remove)):
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise invalid(f"{key} must be a list of resource names.", key)
        if len(add) + len(remove) > MAX_MODIFY:
            raise invalid("At most 1000 resource names per request.", "resourceNamesToAdd")
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
                memberships.append(membership(group))
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

    # The app's control routes -------------------------------------------------------------

    def control(
        self, method: str, path: str, body: Any, args: Mapping[str, str]
    ) -> Response | None:
        """Google's own control routes (the kit's ``reset``, ``faults``, ``clock``,
        ``requests``, ``stats`` and ``seed_demo`` come first)::

        POST /_sandbox/users      {email}              -> {email}
        POST /_sandbox/tokens     {email}              -> {access_token, refresh_token, expires_in}
        POST /_sandbox/seed       {count?}             -> {email, refresh_token, client_id,
                                                           contacts, groups}
        GET  /_sandbox/contacts?email=                 -> {people: [...]}  (live contacts)
        POST /_sandbox/contacts   {email, person}      -> person (visible at once)
        GET  /_sandbox/groups?email=                   -> {groups: [...]}
        GET  /_sandbox/knobs                           -> every knob's value
        POST /_sandbox/knobs      any of KNOBS, {revoke: email}, {expire_access_tokens: email},
                                  {change_resource_name: {email, resourceName}}
        """
        options: dict[str, Any] = {} if body is None else _control_object(body)
        if path == "users" and method == "POST":
            self.add_user(str(options["email"]))
            return json_response({"email": options["email"]})
        if path == "tokens" and method == "POST":
            return json_response(self.issue_tokens(str(options["email"])))
        if path == "seed" and method == "POST":
            return json_response(self.seed_demo(count=int(options.get("count", DEMO_COUNT))))
        if path == "contacts" and method == "GET":
            return json_response({"people": self.contacts(args.get("email", DEMO_EMAIL))})
        if path == "contacts" and method == "POST":
            try:
                person = self.add_contact(str(options["email"]), options.get("person") or {})
            except ApiError as exc:
                return exc.response()
            return json_response(person)
        if path == "groups" and method == "GET":
            book = self.add_user(args.get("email", DEMO_EMAIL))
            return json_response({"groups": [copy.deepcopy(g) for g in book.groups.values()]})
        if path == "knobs" and method == "GET":
            return json_response({knob: getattr(self, knob) for knob in KNOBS})
        if path == "knobs" and method == "POST":
            for knob in KNOBS:
                if knob in options:
                    setattr(self, knob, type(getattr(self, knob))(options[knob]))
            if "revoke" in options:
                self.revoke(str(options["revoke"]))
            if "expire_access_tokens" in options:
                self.expire_access_tokens(str(options["expire_access_tokens"]))
            changed = ""
            if "change_resource_name" in options:
                spec = options["change_resource_name"]
                changed = self.change_resource_name(spec["email"], spec["resourceName"])
            return json_response({"ok": True, "resourceName": changed})
        return None


# Helpers ---------------------------------------------------------------------------------


def _system_group(resource_name: str, name: str) -> dict[str, Any]:
    return {
        "resourceName": resource_name,
        "etag": "%system",
        "groupType": "SYSTEM_CONTACT_GROUP",
        "name": name,
        "formattedName": name,
    }


def _check_memberships(book: Book, person: dict[str, Any], prefix: str = "") -> None:
    """Only user groups, ``myContacts`` and ``starred`` can be added to a contact."""
    for index, item in enumerate(person.get("memberships") or []):
        group = (item.get("contactGroupMembership") or {}).get("contactGroupResourceName")
        if group not in book.groups and group not in SYSTEM_GROUPS:
            raise invalid(
                f"Contact group {group!r} does not exist or cannot be added.",
                f"{prefix}memberships[{index}]",
            )


def _control_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received. The request body must be an object.")
    return body


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise invalid(f"Invalid value at '{key}' (TYPE_STRING).", key)
    return value


def _boolean(value: str, name: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise invalid(f"Invalid value at '{name}' (TYPE_BOOL), \"{value}\".", name)
    return value.lower() == "true"


def _page_size(args: Mapping[str, str], default: int, most: int, *, cap: bool) -> int:
    """``pageSize``: 0 or unset means the default; above ``most`` is capped or refused."""
    try:
        size = int(args.get("pageSize", "0") or "0")
    except ValueError:
        raise invalid("Invalid value at 'page_size' (TYPE_INT32).", "pageSize") from None
    if size < 0 or (size > most and not cap):
        raise invalid(f"pageSize must be between 0 and {most}.", "pageSize")
    return min(size, most) if size else default


def _sources(args: Any) -> list[str]:
    sources = sorted(args.getlist("sources")) if hasattr(args, "getlist") else []
    for source in sources:
        if source not in READ_SOURCES:
            raise invalid(f"Invalid value at 'sources': \"{source}\".", "sources")
    return sources


def _sources_of(body: Mapping[str, Any]) -> list[str]:
    sources = body.get("sources", [])
    if not isinstance(sources, list) or not all(s in READ_SOURCES for s in sources):
        raise invalid("Invalid value at 'sources'.", "sources")
    return sorted(sources)
