"""An emulator of Google's OAuth 2.0 endpoints and the People API (contacts), as Tandem uses
them, split by concern: ``app`` (the store: writes and their propagation, the Python control
API, the routes), ``book`` (a user's contact book), ``listing`` (connections listings, page and
sync tokens, search), ``batch`` (the batch endpoints), ``groups`` (contact groups), ``params``
(reading a request's parameters), ``control`` (the ``/_sandbox/`` routes and knobs),
``people`` (the Person resource: fields, write rules, masks), ``oauth`` (consent page and token
endpoint), ``errors`` (the ``google.rpc.Status`` shape) and ``seed`` (the demo user)."""

from sandbox.google_contacts.app import GoogleContactsEmulator
from sandbox.google_contacts.batch import MAX_BATCH
from sandbox.google_contacts.control import KNOBS
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
