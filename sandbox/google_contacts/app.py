"""An emulator of Google's OAuth 2.0 endpoints and the People API (contacts), as Tandem uses them.
This module holds the store (contact books, writes and their propagation) and the routes; the
endpoints live in ``listing``, ``batch`` and ``groups``, the request parsing in ``params``.

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
``control``). ``seed_demo`` fills the demo user's book; its refresh token
``DEMO_REFRESH_TOKEN`` (client ``DEMO_CLIENT_ID`` / ``DEMO_CLIENT_SECRET``) always works, so a
stored demo account survives a sandbox restart.
"""

from __future__ import annotations

import base64
import bisect
import copy
import itertools
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.google_contacts import batch, control, groups, listing, oauth, params
from sandbox.google_contacts.book import AccessToken, Book, Entry, live_shown, now_iso
from sandbox.google_contacts.errors import ApiError, invalid
from sandbox.google_contacts.groups import check_memberships
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
)
from sandbox.google_contacts.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_COUNT
from sandbox.kit import Emulator, drop_connection, json_response, sleep_for

DAY = 24 * 3600.0


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
        check_memberships(book, person, prefix)
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
        source["updateTime"] = now_iso(now)
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
            book.shown_live -= live_shown(entry)
            # The copy listings show, made by way of its JSON text, which they answer with
            # (stored persons are plain JSON trees; the round trip is also cheaper than a
            # deep copy).
            text = json.dumps(state, check_circular=False) if state is not None else ""
            entry.shown = json.loads(text) if text else None
            entry.shown_text = text
            entry.shown_seq = entry.seq
            book.shown_live += live_shown(entry)
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
        return groups.create_group(self, book, name)

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
            return self._count("connections.list", listing.connections(self, book, request))
        if method == "GET" and path == "people:batchGet":
            return self._count("people.batchGet", batch.batch_get(self, book, request))
        if method == "GET" and path == "people:searchContacts":
            return self._count("people.searchContacts", listing.search(self, book, request))
        if method == "POST" and path == "people:createContact":
            fields = answer_mask(args)
            person = self.create(book, body, visible_now=False)
            return self._count("people.createContact", json_response(restrict(person, fields)))
        if method == "POST" and path == "people:batchCreateContacts":
            return self._count("people.batchCreateContacts", batch.batch_create(self, book, body))
        if method == "POST" and path == "people:batchUpdateContacts":
            return self._count("people.batchUpdateContacts", batch.batch_update(self, book, body))
        if method == "POST" and path == "people:batchDeleteContacts":
            return self._count("people.batchDeleteContacts", batch.batch_delete(self, book, body))
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
            return self._count("contactGroups.list", groups.groups_page(book, request))
        if method == "POST" and path == "contactGroups":
            group_body = params.body_object(body).get("contactGroup")
            if not isinstance(group_body, dict):
                raise invalid("contactGroup must be an object.", "contactGroup")
            name = group_body.get("name")
            if not isinstance(name, str) or not name.strip():
                raise invalid("Contact group name must not be empty.", "contactGroup.name")
            group = self.create_group(book, name.strip())
            return self._count("contactGroups.create", json_response(copy.deepcopy(group)))
        match = re.fullmatch(r"contactGroups/([^/:]+)/members:modify", path)
        if match and method == "POST":
            result = groups.modify(
                self, book, f"contactGroups/{match.group(1)}", params.body_object(body)
            )
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
            check_memberships(book, body)
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

    # The app's control routes -------------------------------------------------------------

    def control(
        self, method: str, path: str, body: Any, args: Mapping[str, str]
    ) -> Response | None:
        """Google's own control routes (after the kit's): see ``control``."""
        return control.route(self, method, path, body, args)
