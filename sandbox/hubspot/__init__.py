"""An emulator of HubSpot's CRM v3 API for contacts, as Tandem uses it, split by concern:
``app`` (the store, control methods and routes), ``portal`` (one account's contacts and
writes), ``properties`` (typed properties and their values), ``search`` (the search body and
matching), ``lists`` (the v3 lists API), ``auth`` (tokens, scopes, rate limits), ``oauth``
(install page and token endpoint), ``errors`` (HubSpot's error shapes) and ``seed`` (the demo
account)."""

from sandbox.hubspot.app import MAX_BATCH, HubSpotEmulator
from sandbox.hubspot.auth import ALL_SCOPES
from sandbox.hubspot.errors import ApiError
from sandbox.hubspot.seed import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_HUB_ID,
    DEMO_LISTS,
    DEMO_PROPERTIES,
    DEMO_TOKEN,
    add_demo_properties,
    seed_demo,
)

__all__ = [
    "ALL_SCOPES",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_HUB_ID",
    "DEMO_LISTS",
    "DEMO_PROPERTIES",
    "DEMO_TOKEN",
    "MAX_BATCH",
    "ApiError",
    "HubSpotEmulator",
    "add_demo_properties",
    "seed_demo",
]
