"""Who may call: bearer tokens (API keys with roles, or the emulated sign-in) and the org-wide
and search budgets with their ``x-ratelimit-*`` headers (api-notes §1.2, §1.8)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from werkzeug.wrappers import Request

from sandbox.kustomer.customers import Org, Token
from sandbox.kustomer.errors import ApiError

# Roles per capability: a key needs any one of them (permission-set role first, legacy second).
ROLE_READ = ("org.permission.customer.read", "org.user.customer.read")
ROLE_CREATE = ("org.permission.customer.create", "org.user.customer.write")
ROLE_UPDATE = ("org.permission.customer.update", "org.user.customer.write")
ROLE_DELETE = ("org.permission.customer.delete", "org.user.customer.delete")
ROLE_SEARCH = ("org.permission.search.create", "org.user.search.read")
ROLE_METADATA = ("org.permission.metadata.read", "org.user.metadata.read")
ROLE_BULK = ("org.permission.bulk.read", "org.user.bulk.read")
ALL_ROLES = frozenset(
    r[0]
    for r in (
        ROLE_READ, ROLE_CREATE, ROLE_UPDATE, ROLE_DELETE, ROLE_SEARCH, ROLE_METADATA, ROLE_BULK,
    )
)  # fmt: skip
RATE_WINDOW = 60.0


def authorize(org: Org, request: Request, roles: tuple[str, ...]) -> Token:
    header = request.headers.get("Authorization", "")
    token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
    if token not in org.tokens:
        raise ApiError(401, "unauthorized", "Unauthorized", "Invalid auth token")
    granted = org.tokens[token]
    if roles and not granted.roles & set(roles):
        raise ApiError(
            403,
            "forbidden",
            "Forbidden",
            f"Missing role: one of {', '.join(roles)} is required",
        )
    return granted


def login(org: Org, body: Any) -> tuple[int, Any]:
    """Emulator invention (see the package docstring): email + password -> bearer token."""
    body = body if isinstance(body, dict) else {}
    email = str(body.get("email", "")).casefold()
    password = str(body.get("password", ""))
    user = org.users.get(email)
    if not email or user is None or not secrets.compare_digest(user[0], password):
        raise ApiError(401, "invalid_credentials", "Unauthorized", "Invalid email or password")
    token = secrets.token_hex(20)
    org.tokens[token] = Token("user", ALL_ROLES, user[1])
    return 200, {"data": {"type": "token", "id": token[:24], "attributes": {"token": token}}}


def rate_headers(org: Org, limit: int, used: int) -> dict[str, str]:
    # Epoch seconds, as the Singer tap reads it; the connector also accepts a delta.
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(max(0, limit - used)),
        "x-ratelimit-reset": str(round(org.window_start + RATE_WINDOW, 3)),
    }


def count_request(org: Org) -> tuple[dict[str, str], bool]:
    """Spend one unit of the org-wide budget: the headers to send and whether it is spent."""
    now = time.time()
    if now - org.window_start >= RATE_WINDOW:
        org.window_start, org.used, org.search_used = now, 0, 0
    org.used += 1
    return rate_headers(org, org.rate_limit, org.used), org.used > org.rate_limit


def count_search(org: Org, token: Token) -> None:
    """Searches by machine users (API keys) have their own budget (api-notes §1.8)."""
    if token.kind != "api_key":
        return
    org.search_used += 1
    if org.search_used > org.search_rate_limit:
        exc = ApiError(429, "too_many_requests", "Too Many Requests", "Search rate limit")
        exc.headers = rate_headers(org, org.search_rate_limit, org.search_used)
        raise exc
