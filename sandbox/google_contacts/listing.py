"""Reading a contact book: ``people/me/connections`` (full listings by change or by name,
page tokens bound to their parameters, sync tokens bound to their listing that expire and
return only what changed, tombstones included) and ``people:searchContacts``."""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from sandbox.google_contacts import params
from sandbox.google_contacts.book import Book, Entry, live_shown
from sandbox.google_contacts.errors import ApiError, invalid
from sandbox.google_contacts.people import person_fields, restrict, search_texts
from sandbox.kit import json_response

if TYPE_CHECKING:
    from sandbox.google_contacts.app import GoogleContactsEmulator

DEFAULT_PAGE_SIZE = 100
SEARCH_PAGE_SIZE = 10
MAX_SEARCH_PAGE_SIZE = 30
SORT_ORDERS = (
    "LAST_MODIFIED_ASCENDING",
    "LAST_MODIFIED_DESCENDING",
    "FIRST_NAME_ASCENDING",
    "LAST_NAME_ASCENDING",
)


def connections(emulator: GoogleContactsEmulator, book: Book, request: Request) -> Response:
    args = request.args
    fields = person_fields(args)
    page_size = params.page_size(args, DEFAULT_PAGE_SIZE, params.MAX_PAGE_SIZE, cap=False)
    request_sync = params.boolean(args.get("requestSyncToken", "false"), "requestSyncToken")
    sync_token = args.get("syncToken", "")
    sources = params.sources(args)
    sort_order = args.get("sortOrder", "LAST_MODIFIED_ASCENDING")
    if sort_order not in SORT_ORDERS:
        raise invalid(f"Invalid value at 'sort_order': \"{sort_order}\".", "sortOrder")
    if sort_order != "LAST_MODIFIED_ASCENDING" and (sync_token or request_sync):
        raise invalid("sortOrder cannot be used when syncing.", "sortOrder")
    parameters = json.dumps(
        [sorted(fields), page_size, request_sync, sync_token, sort_order, sources, book.email],
        sort_keys=True,
    )
    params_hash = hashlib.sha256(parameters.encode()).hexdigest()[:16]
    if sort_order in ("FIRST_NAME_ASCENDING", "LAST_NAME_ASCENDING"):
        return _by_name(emulator, book, args, fields, page_size, params_hash, sort_order)
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
        found = emulator.sync_tokens.get(sync_token)
        if found is None or found[0] != book.email:
            raise invalid("Invalid syncToken.", "syncToken")
        if found[3] != listing_hash:
            raise invalid(
                "Parameters must match the call that provided the sync token.", "syncToken"
            )
        if found[2] + emulator.sync_token_ttl <= emulator.now():
            emulator.requests.record("connections.list.expired")
            raise ApiError(
                emulator.expired_sync_status,
                "FAILED_PRECONDITION",
                "Sync token is expired. Clear local cache and retry call without the sync token.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "EXPIRED_SYNC_TOKEN",
                        "domain": "people.googleapis.com",
                    }
                ],
            )
        since = found[1]
    emulator._settle_book(book)
    # The sync token a listing ends with covers only what had settled when it began: a
    # change made while the pages are read, or one that settles meanwhile, comes again
    # through the token rather than being lost behind it.
    pending = [e.seq for e in book.pending.values()]
    settled = min([emulator.last_seq, *(seq - 1 for seq in pending)])
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
        # By index: islice would step through every change before the cursor to skip them.
        start = bisect.bisect_right(order, max(after, since or 0))
        seqs = (order[i] for i in range(start, len(order)))
    ordered: list[Entry] = []
    for seq in seqs:
        entry = book.shown_by_seq[seq]
        if since is None and not live_shown(entry):
            continue
        ordered.append(entry)
        if len(ordered) > page_size:
            break
    page = ordered[:page_size]
    texts = []
    # A person holding no field but those asked for is answered with its stored text
    # (``restrict`` would copy it whole: a page of 1,000 asking for every field, and encoding
    # the page again each time it is listed was most of the emulator's work for a page).
    keep = {"resourceName", "etag", *fields}
    for entry in page:
        person = entry.shown
        assert person is not None
        if since is None and "previousResourceNames" in person["metadata"]:
            # Reported only to sync-token requests: left out of a copy, the stored one kept.
            metadata = {k: v for k, v in person["metadata"].items() if k != "previousResourceNames"}
            person = {**person, "metadata": metadata}
        if not (person["metadata"].get("deleted") or person.keys() <= keep):
            texts.append(json.dumps(restrict(person, fields), check_circular=False))
        elif person is entry.shown and entry.shown_text:
            # (A state saved before the texts were kept has none: encoded here then.)
            texts.append(entry.shown_text)
        else:
            texts.append(json.dumps(person, check_circular=False))
    out: dict[str, Any] = {"totalItems": total}
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
        emulator.sync_tokens[token] = (book.email, horizon, emulator.now(), listing_hash)
        out["nextSyncToken"] = token
    # The text ``json.dumps`` gives ``{"connections": [...], **out}``, the people's parts
    # joined as they are.
    rest = json.dumps(out)
    text = '{"connections": [' + ", ".join(texts) + "], " + rest[1:]
    return Response(text, mimetype="application/json")


def _by_name(
    emulator: GoogleContactsEmulator,
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
    emulator._settle_book(book)
    part = "givenName" if sort_order == "FIRST_NAME_ASCENDING" else "familyName"
    live = [e.shown for e in book.shown_by_seq.values() if live_shown(e) and e.shown]

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


def search(emulator: GoogleContactsEmulator, book: Book, request: Request) -> Response:
    """``people:searchContacts``: a prefix match of ``query`` on names, nicknames, emails,
    phones and organizations of what listings show (Google searches a lazily updated cache,
    hence its advice to send an empty warm-up query first, answered with nothing)."""
    args = request.args
    fields = person_fields(args, "readMask")
    page_size = params.page_size(args, SEARCH_PAGE_SIZE, MAX_SEARCH_PAGE_SIZE, cap=True)
    params.sources(args)
    if "query" not in args:
        raise invalid("query is required.", "query")
    query = args["query"].strip().casefold()
    if not query:
        return json_response({})
    emulator._settle_book(book)
    found = []
    for seq in book.shown_order:
        entry = book.shown_by_seq[seq]
        if not live_shown(entry) or entry.shown is None:
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
