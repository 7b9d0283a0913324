"""The demo user's contact book: overlapping the Kustomer demo org by email, with its own
people, labels and a custom field; its refresh token works without any consent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.demo_people import DemoPerson, demo_people
from sandbox.google_contacts.people import membership

if TYPE_CHECKING:
    from sandbox.google_contacts.app import GoogleContactsEmulator

DEMO_EMAIL = "demo@tandem.example"
DEMO_REFRESH_TOKEN = "demo-refresh-token"
DEMO_CLIENT_ID = "tandem-demo"
DEMO_CLIENT_SECRET = "tandem-demo-secret"
DEMO_GROUPS = ("Customers", "VIP")
DEMO_COUNT = 300


# Spellings the demo Google user has for some shared people ("Jon" where Kustomer says "John").
NICKNAMES = {
    "John": "Jon",
    "Mohammed": "Mohamed",
    "Sofia": "Sophia",
    "Emily": "Emilie",
    "José": "Jose",
    "Zoë": "Zoe",
    "Chloé": "Chloe",
    "Dmitri": "Dmitry",
    "Tomás": "Tomas",
}
OWN_DOMAIN = "friends.example"


def demo_person(person: DemoPerson, *, first_name: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "names": [{"givenName": first_name or person.first_name, "familyName": person.last_name}],
        "phoneNumbers": [{"value": p, "type": "work"} for p in person.phones],
        "addresses": [{"city": person.city, "countryCode": person.country, "type": "work"}],
    }
    if person.emails:
        out["emailAddresses"] = [{"value": e, "type": "work"} for e in person.emails]
    if person.company:
        out["organizations"] = [{"name": person.company, "title": person.job_title}]
    return out


def seed_demo(emulator: GoogleContactsEmulator, *, count: int = DEMO_COUNT) -> dict[str, Any]:
    """The demo user's book (``DEMO_EMAIL``): 60% of ``demo_people(count, seed=42)``, the people
    the Kustomer demo org holds, half of those with a name in ``NICKNAMES`` spelled the other
    way; 40 people of its own (``@friends.example``), 10 more without any email; the labels
    Customers and VIP and a custom field ``loyaltyTier``. Idempotent: seeding again starts the
    demo book over. Its refresh token ``DEMO_REFRESH_TOKEN`` works without any consent."""
    with emulator.lock:
        emulator.books.pop(DEMO_EMAIL, None)
        emulator.revoked.discard(DEMO_EMAIL)
        emulator.add_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
        book = emulator.add_user(DEMO_EMAIL)
        groups = {name: emulator.create_group(book, name) for name in DEMO_GROUPS}
        created = 0
        respelled = 0
        for index, person in enumerate(demo_people(count, seed=42)):
            if index % 5 in (1, 3):  # keep 60%
                continue
            first = person.first_name
            if first in NICKNAMES:
                respelled += 1
                if respelled % 2:
                    first = NICKNAMES[first]
            body = demo_person(person, first_name=first)
            memberships = [membership("contactGroups/myContacts")]
            if index % 3 == 0:
                memberships.append(membership(groups["Customers"]["resourceName"]))
            if index % 17 == 0:
                memberships.append(membership(groups["VIP"]["resourceName"]))
            body["memberships"] = memberships
            if index % 10 == 0:
                body["userDefined"] = [{"key": "loyaltyTier", "value": "gold"}]
            emulator.create(book, body, visible_now=True)
            created += 1
        for index, person in enumerate(demo_people(50, seed=7)):
            body = demo_person(person)
            if index >= 40:
                body.pop("emailAddresses", None)
            else:
                body["emailAddresses"] = [
                    {"value": f"{e.split('@')[0]}@{OWN_DOMAIN}", "type": "home"}
                    for e in person.emails
                ]
            emulator.create(book, body, visible_now=True)
            created += 1
        return {
            "email": DEMO_EMAIL,
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_id": DEMO_CLIENT_ID,
            "contacts": created,
            "groups": list(DEMO_GROUPS),
        }
