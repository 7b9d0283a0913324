"""An emulator of Google's OAuth 2.0 endpoints and the People API (contacts), as Tandem uses
them, split by concern: ``app`` (contact books, listings, sync tokens, routes and control),
``people`` (the Person resource: fields, write rules, masks), ``oauth`` (consent page and token
endpoint), ``errors`` (the ``google.rpc.Status`` shape) and ``seed`` (the demo user)."""

from sandbox.google_contacts.app import KNOBS, MAX_BATCH, GoogleContactsEmulator
from sandbox.google_contacts.errors import ApiError
from sandbox.google_contacts.people import PERSON_FIELDS, UPDATABLE_FIELDS
from sandbox.google_contacts.seed import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_COUNT,
    DEMO_EMAIL,
    DEMO_GROUPS,
    DEMO_REFRESH_TOKEN,
    demo_person,
    seed_demo,
)

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_COUNT",
    "DEMO_EMAIL",
    "DEMO_GROUPS",
    "DEMO_REFRESH_TOKEN",
    "KNOBS",
    "MAX_BATCH",
    "PERSON_FIELDS",
    "UPDATABLE_FIELDS",
    "ApiError",
    "GoogleContactsEmulator",
    "demo_person",
    "seed_demo",
]
