"""Who may call, and how often (api-notes §3.1, §3.5).

Tokens are private-app tokens (static, per portal, with the scopes the app was given) or OAuth
access tokens (they expire; ``EXPIRED_AUTHENTICATION`` after). Every request spends one unit of
the portal's rolling 10-second window and, for private apps, of the day; each answer says what
is left in ``X-HubSpot-RateLimit-*`` headers. Searches have their own per-second limit and carry
no rate-limit headers. A spent limit answers 429 with HubSpot's rate-limit body and the policy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sandbox.hubspot.errors import missing_scopes, unauthorized
from sandbox.hubspot.portal import Portal

WINDOW = 10.0
ALL_SCOPES = frozenset(
    {
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.schemas.contacts.read",
        "crm.schemas.contacts.write",
        "crm.lists.read",
        "crm.lists.write",
        "oauth",
    }
)


@dataclass
class Token:
    hub_id: int
    kind: str  # "private" or "oauth"
    scopes: frozenset[str]
    user: str = ""
    expires_at: float = 0.0


def bearer(header: str) -> str:
    return header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""


def check_token(token: Token | None, now: float, scope: str) -> Token:
    if token is None:
        raise unauthorized()
    if token.kind == "oauth" and token.expires_at <= now:
        minutes = max(1, int((now - token.expires_at) // 60))
        raise unauthorized(
            f"The OAuth token used to make this call expired {minutes} minute(s) ago.",
            expired=True,
        )
    if scope and scope not in token.scopes:
        raise missing_scopes([scope])
    return token


def spend(portal: Portal, token: Token, *, search: bool) -> tuple[dict[str, str], str]:
    """Spend one request of ``portal``'s budgets: the headers to answer with and the policy a
    spent limit refuses it under (``""`` when it may go on)."""
    now = time.time()
    today = time.strftime("%Y-%m-%d", time.gmtime(now))
    if portal.day != today:
        portal.day, portal.day_used = today, 0
    limit = portal.burst_limit if token.kind == "private" else portal.oauth_burst_limit
    while portal.window and portal.window[0] <= now - WINDOW:
        portal.window.popleft()
    while portal.search_window and portal.search_window[0] <= now - 1.0:
        portal.search_window.popleft()
    policy = ""
    if token.kind == "private" and portal.day_used >= portal.daily_limit:
        policy = "DAILY"
    elif len(portal.window) >= limit:
        policy = "TEN_SECONDLY_ROLLING"
    elif search and len(portal.search_window) >= portal.search_per_second:
        policy = "SECONDLY"
    if not policy:
        portal.window.append(now)
        portal.day_used += 1
        if search:
            portal.search_window.append(now)
    if search:
        return {}, policy
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW * 1000)),
        "X-HubSpot-RateLimit-Max": str(limit),
        "X-HubSpot-RateLimit-Remaining": str(max(0, limit - len(portal.window))),
    }
    if token.kind == "private":
        headers["X-HubSpot-RateLimit-Daily"] = str(portal.daily_limit)
        headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
            max(0, portal.daily_limit - portal.day_used)
        )
    return headers, policy
