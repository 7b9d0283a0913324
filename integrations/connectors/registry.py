"""App slug -> connector class, as dotted paths so a broken connector cannot break the others.

The slug names the package (``integrations/connectors/<slug>/``), the template folder and the
test fixture folder.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from integrations.connectors.base import Connector

CONNECTORS: dict[str, tuple[str, str]] = {
    "kustomer": ("Kustomer", "integrations.connectors.kustomer.connector.KustomerConnector"),
    "google_contacts": (
        "Google Contacts",
        "integrations.connectors.google_contacts.connector.GoogleContactsConnector",
    ),
    "mailchimp": ("Mailchimp", "integrations.connectors.mailchimp.connector.MailchimpConnector"),
    "hubspot": ("HubSpot", "integrations.connectors.hubspot.connector.HubSpotConnector"),
}

APP_CHOICES: list[tuple[str, str]] = [(slug, label) for slug, (label, _) in CONNECTORS.items()]


def app_label(slug: str) -> str:
    return CONNECTORS[slug][0] if slug in CONNECTORS else slug


@cache
def connector_class(slug: str) -> type[Connector]:
    try:
        _, path = CONNECTORS[slug]
    except KeyError:
        raise LookupError(f"No connector for app {slug!r}.") from None
    cls: type[Connector] = import_string(path)
    return cls
