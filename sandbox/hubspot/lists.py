"""The v3 lists API for contacts (``objectTypeId`` ``0-1``), the parts Tandem uses: create a
list, read one by id or by name, search lists, read a list's members, add and remove members of
a static (``MANUAL``) list, and read the lists of a batch of records. Membership changes do not
touch a contact's ``lastmodifieddate`` (list membership is no property)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sandbox.hubspot.errors import ApiError, invalid, not_found
from sandbox.hubspot.portal import CONTACTS_TYPE, Portal

PROCESSING_TYPES = ("MANUAL", "DYNAMIC", "SNAPSHOT")
MAX_MEMBERSHIP_CHANGE = 100_000
MAX_BATCH_READ = 100


def render(portal: Portal, item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "listId": item["listId"],
        "listVersion": item["listVersion"],
        "name": item["name"],
        "objectTypeId": CONTACTS_TYPE,
        "processingStatus": "COMPLETE",
        "processingType": item["processingType"],
        "createdAt": item["createdAt"],
        "updatedAt": item["updatedAt"],
        "size": len(portal.members.get(item["listId"], {})),
    }


def create(portal: Portal, body: Any, list_id: str, now: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("Invalid input JSON: the body must be an object")
    name, kind = body.get("name"), body.get("processingType")
    if not isinstance(name, str) or not name.strip():
        raise invalid("name is required")
    if body.get("objectTypeId") != CONTACTS_TYPE:
        raise invalid("objectTypeId must be 0-1 (contacts) here")
    if kind not in PROCESSING_TYPES:
        raise invalid(f"processingType must be one of {', '.join(PROCESSING_TYPES)}")
    if portal.list_named(name) is not None:
        raise ApiError(
            400,
            "VALIDATION_ERROR",
            f"A list named '{name}' already exists.",
            sub_category="ILS.DUPLICATE_LIST_NAMES",
        )
    item = {
        "listId": list_id,
        "listVersion": 1,
        "name": name,
        "processingType": kind,
        "createdAt": now,
        "updatedAt": now,
    }
    portal.lists[list_id] = item
    portal.members[list_id] = {}
    return item


def get(portal: Portal, list_id: str) -> dict[str, Any]:
    item = portal.lists.get(list_id)
    if item is None:
        raise not_found(f"List does not exist with ID {list_id}.")
    return item


def change_members(
    portal: Portal, list_id: str, body: Any, *, add: bool, now: str
) -> dict[str, Any]:
    item = get(portal, list_id)
    if item["processingType"] != "MANUAL":
        raise invalid(
            f"List {list_id} is not a MANUAL list; its membership cannot be edited directly."
        )
    if not isinstance(body, list) or not all(isinstance(i, str | int) for i in body):
        raise invalid("Invalid input JSON: the body must be an array of record ids")
    if len(body) > MAX_MEMBERSHIP_CHANGE:
        raise invalid(f"At most {MAX_MEMBERSHIP_CHANGE} records at once")
    members = portal.members[list_id]
    changed: list[str] = []
    missing: list[str] = []
    for raw in dict.fromkeys(str(i) for i in body):
        if portal.live(raw) is None:
            missing.append(raw)
        elif add and raw not in members:
            members[raw] = now
            changed.append(raw)
        elif not add and raw in members:
            del members[raw]
            changed.append(raw)
    if changed:
        item["updatedAt"] = now
    return {
        "recordsIdsAdded": changed if add else [],
        "recordIdsRemoved": [] if add else changed,
        "recordIdsMissing": missing,
    }


def members_page(portal: Portal, list_id: str, args: Mapping[str, str]) -> dict[str, Any]:
    get(portal, list_id)
    limit = _int(args.get("limit", "100"), "limit")
    if not 1 <= limit <= 250:
        raise invalid("limit must be between 1 and 250")
    after = args.get("after", "")
    ids = sorted(portal.members[list_id], key=int)
    start = 0
    if after:
        if not re.fullmatch(r"\d+", after):
            raise invalid("after must be a paging cursor")
        start = next((n for n, i in enumerate(ids) if int(i) > int(after)), len(ids))
    chunk = ids[start : start + limit]
    body: dict[str, Any] = {
        "results": [
            {"recordId": i, "membershipTimestamp": portal.members[list_id][i]} for i in chunk
        ],
        "total": len(ids),
    }
    if start + limit < len(ids):
        body["paging"] = {"next": {"after": chunk[-1]}}
    return body


def search(portal: Portal, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("Invalid input JSON: the body must be an object")
    query = str(body.get("query") or "").casefold()
    kinds = body.get("processingTypes") or list(PROCESSING_TYPES)
    offset = body.get("offset", 0)
    count = body.get("count", 20)
    if not isinstance(offset, int) or not isinstance(count, int) or not 1 <= count <= 500:
        raise invalid("offset must be a number and count between 1 and 500")
    found = [
        item
        for item in sorted(portal.lists.values(), key=lambda i: int(i["listId"]))
        if query in item["name"].casefold() and item["processingType"] in kinds
    ]
    chunk = found[offset : offset + count]
    return {
        "lists": [{**render(portal, i), "additionalProperties": {}} for i in chunk],
        "offset": offset + len(chunk),
        "hasMore": offset + len(chunk) < len(found),
        "total": len(found),
    }


def batch_read_memberships(portal: Portal, body: Any) -> tuple[int, dict[str, Any]]:
    """The lists each record is in, for up to 100 records (records that do not exist are
    answered with no lists, as HubSpot does)."""
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not all(
        isinstance(i, dict) and i.get("recordId") is not None for i in inputs
    ):
        raise invalid("Invalid input JSON: inputs of {objectTypeId, recordId} are required")
    if len(inputs) > MAX_BATCH_READ:
        raise invalid(f"At most {MAX_BATCH_READ} inputs per batch")
    results = []
    for item in inputs:
        record_id = str(item["recordId"])
        results.append(
            {
                "objectTypeId": str(item.get("objectTypeId") or CONTACTS_TYPE),
                "recordId": record_id,
                "recordListMemberships": [
                    {
                        "listId": found["listId"],
                        "listVersion": found["listVersion"],
                        "firstAddedTimestamp": portal.members[found["listId"]][record_id],
                        "lastAddedTimestamp": portal.members[found["listId"]][record_id],
                        "isPublicList": True,
                    }
                    for found in portal.lists_of(record_id)
                ],
            }
        )
    return 200, {"status": "COMPLETE", "results": results}


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise invalid(f"{name} must be a number") from None
