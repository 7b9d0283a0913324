"""Contact groups (labels): the system groups and the user's own, ``contactGroups`` listed
and created, and ``members:modify`` adding and removing contacts (a contact keeps at least one
membership)."""

from __future__ import annotations

import copy
import secrets
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from sandbox.google_contacts import params
from sandbox.google_contacts.book import Book, now_iso
from sandbox.google_contacts.errors import ApiError, invalid
from sandbox.google_contacts.people import membership
from sandbox.kit import json_response

if TYPE_CHECKING:
    from sandbox.google_contacts.app import GoogleContactsEmulator

MAX_MODIFY = 1000
SYSTEM_GROUPS = {"contactGroups/myContacts": "myContacts", "contactGroups/starred": "starred"}


def create_group(emulator: GoogleContactsEmulator, book: Book, name: str) -> dict[str, Any]:
    if any(g["name"] == name for g in book.groups.values()):
        raise ApiError(409, "ALREADY_EXISTS", "Contact group name already exists.")
    group_id = secrets.token_hex(6)
    group: dict[str, Any] = {
        "resourceName": f"contactGroups/{group_id}",
        "etag": "%" + secrets.token_hex(6),
        "metadata": {"updateTime": now_iso(emulator.now())},
        "groupType": "USER_CONTACT_GROUP",
        "name": name,
        "formattedName": name,
    }
    book.groups[f"contactGroups/{group_id}"] = group
    return group


def groups_page(book: Book, request: Request) -> Response:
    page_size = params.page_size(request.args, 30, params.MAX_PAGE_SIZE, cap=False)
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


def modify(
    emulator: GoogleContactsEmulator, book: Book, group: str, body: dict[str, Any]
) -> dict[str, Any]:
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
            current = emulator._live(book, name)
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
        emulator._store(book, person, visible_now=False)
    result: dict[str, Any] = {}
    if not_found:
        result["notFoundResourceNames"] = not_found
    if last:
        result["canNotRemoveLastContactGroupResourceNames"] = last
    return result


def _system_group(resource_name: str, name: str) -> dict[str, Any]:
    return {
        "resourceName": resource_name,
        "etag": "%system",
        "groupType": "SYSTEM_CONTACT_GROUP",
        "name": name,
        "formattedName": name,
    }


def check_memberships(book: Book, person: dict[str, Any], prefix: str = "") -> None:
    """Only user groups, ``myContacts`` and ``starred`` can be added to a contact."""
    for index, item in enumerate(person.get("memberships") or []):
        group = (item.get("contactGroupMembership") or {}).get("contactGroupResourceName")
        if group not in book.groups and group not in SYSTEM_GROUPS:
            raise invalid(
                f"Contact group {group!r} does not exist or cannot be added.",
                f"{prefix}memberships[{index}]",
            )
