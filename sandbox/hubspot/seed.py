"""The demo HubSpot account: a private app token, an OAuth client, custom properties of each
type, static lists, and contacts drawn from the demo people (so they overlap the Google and
Kustomer demo accounts by email)."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from sandbox.demo_people import demo_people
from sandbox.hubspot import lists
from sandbox.hubspot.errors import ApiError
from sandbox.hubspot.properties import custom_property, iso

if TYPE_CHECKING:
    from sandbox.hubspot.app import HubSpotEmulator

DEMO_HUB_ID = 2_026_001
DEMO_DOMAIN = "tandem-demo.hubspot.example"
DEMO_TOKEN = "pat-na1-demo-0000-0000-000000000000"
DEMO_CLIENT_ID = "tandem-demo"
DEMO_CLIENT_SECRET = "tandem-demo-secret"
DEMO_COUNT = 300
DEMO_LISTS = ("Newsletter", "VIP")

DEMO_PROPERTIES: tuple[dict[str, Any], ...] = (
    {
        "name": "loyalty_tier",
        "label": "Loyalty tier",
        "type": "enumeration",
        "fieldType": "select",
        "groupName": "contactinformation",
        "options": [
            {"label": "Bronze", "value": "bronze", "hidden": False},
            {"label": "Silver", "value": "silver", "hidden": False},
            {"label": "Gold", "value": "gold", "hidden": False},
        ],
    },
    {
        "name": "total_spent",
        "label": "Total spent",
        "type": "number",
        "fieldType": "number",
        "groupName": "contactinformation",
    },
    {
        "name": "vip",
        "label": "VIP",
        "type": "bool",
        "fieldType": "booleancheckbox",
        "groupName": "contactinformation",
        "options": [
            {"label": "Yes", "value": "true", "hidden": False},
            {"label": "No", "value": "false", "hidden": False},
        ],
    },
    {
        "name": "interests",
        "label": "Interests",
        "type": "enumeration",
        "fieldType": "checkbox",
        "groupName": "contactinformation",
        "options": [
            {"label": "Hardware", "value": "hardware", "hidden": False},
            {"label": "Software", "value": "software", "hidden": False},
            {"label": "Services", "value": "services", "hidden": False},
        ],
    },
    {
        "name": "last_order",
        "label": "Last order",
        "type": "date",
        "fieldType": "date",
        "groupName": "contactinformation",
    },
)


def add_demo_properties(emulator: HubSpotEmulator, hub_id: int) -> None:
    with emulator.lock:
        portal = emulator.portals[hub_id]
        for spec in DEMO_PROPERTIES:
            if spec["name"] not in portal.properties:
                prop = custom_property(spec, portal.properties, iso(emulator.clock.now()))
                portal.properties[prop["name"]] = prop


def seed_demo(emulator: HubSpotEmulator, *, count: int = DEMO_COUNT) -> dict[str, Any]:
    """The demo account (``DEMO_HUB_ID``, private app token ``DEMO_TOKEN``, OAuth client
    ``DEMO_CLIENT_ID``): 75% of ``demo_people(count, seed=42)`` as contacts with custom
    properties, the static lists Newsletter and VIP. Idempotent: seeding again starts over."""
    rng = random.Random(2026)
    base = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    with emulator.lock:
        emulator.portals.pop(DEMO_HUB_ID, None)
        portal = emulator.create_portal(hub_id=DEMO_HUB_ID, domain=DEMO_DOMAIN)
        emulator.add_private_app(DEMO_HUB_ID, DEMO_TOKEN)
        emulator.add_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
        add_demo_properties(emulator, DEMO_HUB_ID)
        made = {
            name: lists.create(
                portal,
                {"name": name, "objectTypeId": "0-1", "processingType": "MANUAL"},
                emulator.new_id(),
                iso(base),
            )
            for name in DEMO_LISTS
        }
        frozen = emulator.clock.frozen
        created = 0
        try:
            for index, person in enumerate(demo_people(count, seed=42)):
                if index % 4 == 2:
                    continue
                emulator.freeze_clock(base + dt.timedelta(minutes=5 * index))
                props: dict[str, Any] = {
                    "email": person.emails[0],
                    "firstname": person.first_name,
                    "lastname": person.last_name,
                    "phone": person.phones[0],
                    "city": person.city,
                    "country": person.country,
                    "lifecyclestage": rng.choice(["subscriber", "lead", "customer"]),
                    "loyalty_tier": rng.choice(["bronze", "silver", "gold"]),
                    "total_spent": str(round(rng.uniform(0, 5000), 2)),
                    "vip": "true" if rng.random() < 0.1 else "false",
                    "interests": ";".join(
                        sorted(rng.sample(["hardware", "software", "services"], rng.randint(0, 2)))
                    ),
                }
                if person.company:
                    props["company"] = person.company
                    props["jobtitle"] = person.job_title
                try:
                    contact = portal.create(emulator.new_id(), props, emulator.clock.now())
                except ApiError:
                    continue
                created += 1
                stamp = contact["createdAt"]
                if index % 3 == 0:
                    portal.members[made["Newsletter"]["listId"]][contact["id"]] = stamp
                if index % 13 == 0:
                    portal.members[made["VIP"]["listId"]][contact["id"]] = stamp
        finally:
            emulator.freeze_clock(frozen)
        return {
            "hub_id": DEMO_HUB_ID,
            "token": DEMO_TOKEN,
            "client_id": DEMO_CLIENT_ID,
            "contacts": created,
            "lists": list(DEMO_LISTS),
        }
