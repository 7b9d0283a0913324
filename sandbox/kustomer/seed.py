"""The demo org: its credentials (``DEMO_*``), custom attribute metadata and customers drawn
from the demo people (so they overlap the Google demo account by email)."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from sandbox.demo_people import demo_people
from sandbox.kustomer.auth import ALL_ROLES
from sandbox.kustomer.customers import Org, iso
from sandbox.kustomer.errors import ApiError
from sandbox.kustomer.webhooks import ROLE_WEBHOOKS

if TYPE_CHECKING:
    from sandbox.kustomer.app import KustomerEmulator

DEMO_SUBDOMAIN = "demo"
DEMO_EMAIL = "demo@tandem.example"
DEMO_PASSWORD = "demo-password"
DEMO_API_KEY = "demo-api-key-0123456789"
# The key the demo's Tandem account uses: its own machine user (so an edit made with the key
# above or the demo user's sign-in is someone else's, not an echo of Tandem's), with the role to
# register webhooks.
DEMO_SYNC_API_KEY = "demo-sync-api-key-0123456789"

DEMO_METADATA: dict[str, dict[str, Any]] = {
    "loyaltyTierStr": {"displayName": "Loyalty Tier", "enumeration": ["bronze", "silver", "gold"]},
    "totalSpentNum": {"displayName": "Total Spent"},
    "vipBool": {"displayName": "VIP"},
    "lastOrderAt": {"displayName": "Last Order"},
    "notesTxt": {"displayName": "Notes"},
    "profileUrl": {"displayName": "Profile"},
}


def seed_demo(emulator: KustomerEmulator, subdomain: str = DEMO_SUBDOMAIN, count: int = 300) -> Org:
    """The demo org at ``subdomain``: the user ``DEMO_EMAIL`` / ``DEMO_PASSWORD``, the full-role
    API key ``DEMO_API_KEY``, Tandem's ``DEMO_SYNC_API_KEY`` (webhooks too), custom attribute
    metadata and ``count`` customers drawn from ``demo_people(count, seed=42)`` (so they overlap
    the Google demo account by email)."""
    with emulator.lock:
        if subdomain in emulator.orgs:
            del emulator.orgs[subdomain]
        org = emulator.create_org(
            subdomain,
            users=[(DEMO_EMAIL, DEMO_PASSWORD)],
            api_keys={
                DEMO_API_KEY: ALL_ROLES,
                DEMO_SYNC_API_KEY: ALL_ROLES | {ROLE_WEBHOOKS[0]},
            },
            metadata=DEMO_METADATA,
        )
        seed_customers(emulator, subdomain, count)
        return org


def seed_customers(emulator: KustomerEmulator, subdomain: str, count: int) -> int:
    """Add ``count`` demo people to an org as customers with custom attributes, sentiments and
    open conversations, ``updatedAt`` spread over the past; returns how many were created."""
    rng = random.Random(42)
    base = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    created = 0
    with emulator.lock:
        org = emulator.org(subdomain)
        frozen = emulator.clock.frozen
        try:
            for index, person in enumerate(demo_people(count, seed=42)):
                emulator.freeze_clock(base + dt.timedelta(minutes=7 * index))
                attrs: dict[str, Any] = {
                    "name": person.full_name,
                    "emails": [{"type": "work", "email": e} for e in person.emails],
                    "phones": [{"type": "mobile", "phone": p} for p in person.phones],
                    "locations": [
                        {"type": "work", "cityName": person.city, "countryCode": person.country}
                    ],
                    "sentiment": {"polarity": rng.choice([-1, 0, 1]), "confidence": 0.8},
                    "tags": rng.choice([[], [], ["newsletter"], ["vip", "newsletter"]]),
                    "custom": {
                        "loyaltyTierStr": rng.choice(["bronze", "silver", "gold"]),
                        "totalSpentNum": round(rng.uniform(0, 5000), 2),
                        "vipBool": rng.random() < 0.1,
                        "lastOrderAt": iso(base - dt.timedelta(days=rng.randint(1, 400))),
                    },
                }
                if person.company:
                    attrs["company"] = person.company
                try:
                    doc = emulator.create(org, attrs, "")
                except ApiError:
                    continue  # a contact point shared with a customer already there
                open_count = rng.choice([0, 0, 1, 2])
                doc["conversationCounts"] = {
                    "all": open_count + 3, "snoozed": 0, "open": open_count, "done": 3,
                }  # fmt: skip
                created += 1
        finally:
            emulator.freeze_clock(frozen)
    return created
