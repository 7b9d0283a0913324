"""Query strings, paths and bodies as Mailchimp reads them: routes, paging (``count`` at most
1000), ISO 8601 times, and ``fields`` / ``exclude_fields`` with dot notation."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request

from sandbox.kit import parse_iso
from sandbox.mailchimp.errors import ApiError, invalid

MAX_COUNT = 1000
DEFAULT_COUNT = 10
MEMBER = r"[^/]+"
LIST = r"[0-9a-z]+"
ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("/ping", r"/ping"),
        ("/lists", r"/lists"),
        ("/lists/{list_id}", rf"/lists/({LIST})"),
        ("/lists/{list_id}/merge-fields", rf"/lists/({LIST})/merge-fields"),
        ("/lists/{list_id}/members", rf"/lists/({LIST})/members"),
        ("/lists/{list_id}/members/{subscriber_hash}", rf"/lists/({LIST})/members/({MEMBER})"),
        (
            "/lists/{list_id}/members/{subscriber_hash}/tags",
            rf"/lists/({LIST})/members/({MEMBER})/tags",
        ),
        (
            "/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent",
            rf"/lists/({LIST})/members/({MEMBER})/actions/delete-permanent",
        ),
    )
)


def route_of(path: str) -> tuple[str, re.Match[str] | None]:
    for kind, pattern in ROUTES:
        match = pattern.fullmatch(path.rstrip("/") or "/")
        if match is not None:
            return kind, match
    return path, None


def body_of(request: Request) -> Any:
    raw = request.get_data(cache=True)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(
            400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error."
        ) from None


def without(body: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def paging(args: MultiDict[str, str]) -> tuple[int, int]:
    try:
        count = int(args.get("count", DEFAULT_COUNT))
        offset = int(args.get("offset", 0))
    except ValueError:
        raise invalid("count and offset must be whole numbers.") from None
    if not 0 <= count <= MAX_COUNT or offset < 0:
        raise invalid(
            f"count must be 0 to {MAX_COUNT} and offset 0 or more.",
            [{"field": "count", "message": f"Maximum is {MAX_COUNT}"}],
        )
    return count, offset


def time_arg(args: MultiDict[str, str], name: str) -> dt.datetime | None:
    value = args.get(name)
    if value is None:
        return None
    try:
        when = parse_iso(value.replace(" ", "+"))
    except ValueError:
        raise invalid(
            f"{name} must be an ISO 8601 time such as 2015-10-21T15:41:36+00:00.",
            [{"field": name, "message": "Invalid date-time"}],
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def shaped(body: Any, args: MultiDict[str, str]) -> Any:
    """``fields`` keeps only the named (dot-separated) paths, ``exclude_fields`` drops them."""
    fields = [f for f in (args.get("fields") or "").split(",") if f.strip()]
    excluded = [f for f in (args.get("exclude_fields") or "").split(",") if f.strip()]
    if fields:
        body = _pick(body, [f.strip().split(".") for f in fields])
    if excluded:
        body = json.loads(json.dumps(body))  # a copy: the stored member stays whole
    for path in excluded:
        _drop(body, path.strip().split("."))
    return body


def _pick(node: Any, paths: list[list[str]]) -> Any:
    if isinstance(node, list):
        return [_pick(item, paths) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key in dict.fromkeys(p[0] for p in paths):
        if key not in node:
            continue
        rest = [p[1:] for p in paths if p[0] == key]
        out[key] = node[key] if any(not r for r in rest) else _pick(node[key], rest)
    return out


def _drop(node: Any, path: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _drop(item, path)
    elif isinstance(node, dict) and path and path[0] in node:
        if len(path) == 1:
            del node[path[0]]
        else:
            _drop(node[path[0]], path[1:])
