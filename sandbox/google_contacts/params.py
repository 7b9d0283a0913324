"""A People API request read as Google reads it: the body as an object, a string member,
``true`` / ``false``, ``pageSize``, ``sources``. A value it cannot read answers 400
``INVALID_ARGUMENT`` naming the parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.google_contacts.errors import invalid

MAX_PAGE_SIZE = 1000
READ_SOURCES = frozenset(
    {
        "READ_SOURCE_TYPE_CONTACT",
        "READ_SOURCE_TYPE_PROFILE",
        "READ_SOURCE_TYPE_DOMAIN_CONTACT",
        "READ_SOURCE_TYPE_OTHER_CONTACT",
    }
)


def body_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received. The request body must be an object.")
    return body


def body_text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise invalid(f"Invalid value at '{key}' (TYPE_STRING).", key)
    return value


def boolean(value: str, name: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise invalid(f"Invalid value at '{name}' (TYPE_BOOL), \"{value}\".", name)
    return value.lower() == "true"


def page_size(args: Mapping[str, str], default: int, most: int, *, cap: bool) -> int:
    """``pageSize``: 0 or unset means the default; above ``most`` is capped or refused."""
    try:
        size = int(args.get("pageSize", "0") or "0")
    except ValueError:
        raise invalid("Invalid value at 'page_size' (TYPE_INT32).", "pageSize") from None
    if size < 0 or (size > most and not cap):
        raise invalid(f"pageSize must be between 0 and {most}.", "pageSize")
    return min(size, most) if size else default


def sources(args: Any) -> list[str]:
    sources = sorted(args.getlist("sources")) if hasattr(args, "getlist") else []
    for source in sources:
        if source not in READ_SOURCES:
            raise invalid(f"Invalid value at 'sources': \"{source}\".", "sources")
    return sources


def sources_of(body: Mapping[str, Any]) -> list[str]:
    sources = body.get("sources", [])
    if not isinstance(sources, list) or not all(s in READ_SOURCES for s in sources):
        raise invalid("Invalid value at 'sources'.", "sources")
    return sorted(sources)
