"""Who joined or left HubSpot's static lists since the last run.

Joining or leaving a list does not change a contact's ``lastmodifieddate``, so the change search
never sees it. Each run reads the members of every static list (``GET
/crm/v3/lists/{listId}/memberships``, ``PAGE_SIZE`` a page) and compares them with the members
the last run kept in the checkpoint: the ids in one and not the other are the contacts whose
lists changed. The members are kept under ``KEY`` as one text: per list its id and its members'
ids ascending as base-36 gaps, zlib-compressed and base64-encoded (a few bytes a member).

A list with more than ``MAX_PAGES`` pages of members is not followed (its members are not kept):
a change to it shows on the contact's next edit or the next full scan.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterable, Mapping

from integrations.connectors.base import ConnectorError
from integrations.connectors.hubspot.client import HubSpotClient

KEY = "list_members"
PAGE_SIZE = 250
MAX_PAGES = 40
Members = dict[str, frozenset[int]]


def read(api: HubSpotClient, list_ids: Iterable[str]) -> Members:
    """The members of each list that fits in ``MAX_PAGES`` pages (one call a page)."""
    found: Members = {}
    for list_id in list_ids:
        ids: set[int] = set()
        after = ""
        for _ in range(MAX_PAGES):
            body = api.list_members(list_id, after=after, limit=PAGE_SIZE)
            records = (str(r.get("recordId") or "") for r in body.get("results") or [])
            ids.update(int(i) for i in records if i.isdigit())
            after = str(((body.get("paging") or {}).get("next") or {}).get("after") or "")
            if not after:
                found[list_id] = frozenset(ids)
                break
    return found


def changed(before: Members, now: Members) -> set[str]:
    """The contacts that joined or left a list between ``before`` and ``now``. A list only in
    ``now`` is new (its members joined it); one only in ``before`` was deleted or grew past
    ``MAX_PAGES`` (its members are not known to have left)."""
    ids: set[int] = set()
    for list_id, members in now.items():
        ids |= members ^ before.get(list_id, frozenset())
    return {str(i) for i in ids}


def encode(members: Mapping[str, frozenset[int]]) -> str:
    parts = []
    for list_id in sorted(members, key=int):
        previous = 0
        gaps = []
        for i in sorted(members[list_id]):
            gaps.append(_base36(i - previous))
            previous = i
        parts.append(f"{list_id}:{','.join(gaps)}")
    packed = zlib.compress(";".join(parts).encode("ascii"), 9)
    return base64.urlsafe_b64encode(packed).decode("ascii")


def decode(text: str) -> Members:
    """The members ``encode`` wrote; ``ConnectorError`` for text it did not write."""
    try:
        plain = zlib.decompress(base64.urlsafe_b64decode(text.encode("ascii"))).decode("ascii")
        found: Members = {}
        for part in plain.split(";") if plain else []:
            list_id, _, gaps = part.partition(":")
            if not list_id.isdigit():
                raise ValueError(list_id)
            ids, total = set(), 0
            for gap in gaps.split(",") if gaps else []:
                total += int(gap, 36)
                ids.add(total)
            found[list_id] = frozenset(ids)
        return found
    except (ValueError, UnicodeError, binascii.Error, zlib.error):
        raise ConnectorError(
            f"HubSpot: the checkpoint's {KEY!r} is not what Tandem wrote there; "
            "resync the connection to read every contact again."
        ) from None


def _base36(number: int) -> str:
    if number < 0:
        raise ValueError(number)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text
