"""The batch endpoints: ``people:batchGet``, ``people:batchCreateContacts``,
``people:batchUpdateContacts`` (etags checked) and ``people:batchDeleteContacts``; the writes
are all or nothing, as on Google."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from sandbox.google_contacts import params
from sandbox.google_contacts.book import Book
from sandbox.google_contacts.errors import ApiError, invalid
from sandbox.google_contacts.groups import check_memberships
from sandbox.google_contacts.people import (
    UPDATABLE_FIELDS,
    WRITABLE_FIELDS,
    check_etag,
    check_person,
    field_list,
    person_fields,
    restrict,
)
from sandbox.kit import json_response

if TYPE_CHECKING:
    from sandbox.google_contacts.app import GoogleContactsEmulator

MAX_BATCH = 200
MAX_BATCH_GET = 200
MAX_BATCH_DELETE = 500


def batch_get(emulator: GoogleContactsEmulator, book: Book, request: Request) -> Response:
    names = request.args.getlist("resourceNames")
    fields = person_fields(request.args)
    if not names or len(names) > MAX_BATCH_GET:
        raise invalid("resourceNames must hold 1 to 200 names.", "resourceNames")
    responses = []
    for name in names:
        try:
            person = restrict(emulator._live(book, name), fields)
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


def batch_create(emulator: GoogleContactsEmulator, book: Book, body: Any) -> Response:
    body = params.body_object(body)
    contacts = body.get("contacts")
    if not isinstance(contacts, list) or not contacts or len(contacts) > MAX_BATCH:
        raise invalid("contacts must hold 1 to 200 contacts.", "contacts")
    read_mask = field_list(params.body_text(body, "readMask"), "readMask")
    params.sources_of(body)
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
        check_memberships(book, person, prefix=f"{where}.contactPerson.")
        people.append(person)
    created = []
    for person in people:
        stored = emulator.create(book, person, visible_now=False)
        created.append(
            {
                "httpStatusCode": 200,
                "person": restrict(stored, read_mask) if read_mask else None,
                "requestedResourceName": stored["resourceName"],
                "status": {},
            }
        )
    return json_response({"createdPeople": created})


def batch_update(emulator: GoogleContactsEmulator, book: Book, body: Any) -> Response:
    body = params.body_object(body)
    contacts = body.get("contacts")
    mask = field_list(params.body_text(body, "updateMask"), "updateMask", UPDATABLE_FIELDS)
    if not mask:
        raise invalid("updateMask is required.", "updateMask")
    read_mask = field_list(params.body_text(body, "readMask"), "readMask")
    params.sources_of(body)
    if not isinstance(contacts, dict) or not contacts or len(contacts) > MAX_BATCH:
        raise invalid("contacts must hold 1 to 200 contacts.", "contacts")
    for name, person in contacts.items():  # all or nothing, like Google
        where = f"contacts[{name}]."
        check_person(person, mask, prefix=where)
        current = emulator._live(book, name)
        check_etag(person, current)
        if "memberships" in mask:
            check_memberships(book, person, prefix=where)
    result = {}
    for name, person in contacts.items():
        stored = emulator._update(book, name, person, mask)
        result[name] = {
            "httpStatusCode": 200,
            "person": restrict(stored, read_mask) if read_mask else None,
            "requestedResourceName": name,
            "status": {},
        }
    return json_response({"updateResult": result})


def batch_delete(emulator: GoogleContactsEmulator, book: Book, body: Any) -> Response:
    """``people:batchDeleteContacts``: up to 500, all or nothing."""
    names = params.body_object(body).get("resourceNames")
    if (
        not isinstance(names, list)
        or not names
        or len(names) > MAX_BATCH_DELETE
        or not all(isinstance(n, str) for n in names)
    ):
        raise invalid("resourceNames must hold 1 to 500 resource names.", "resourceNames")
    for name in names:
        emulator._live(book, name)
    for name in dict.fromkeys(names):
        emulator._delete(book, name, visible_now=False)
    return json_response({})
