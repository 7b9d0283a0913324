"""What a webhook delivery means to Tandem, and what a connector offers to register one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Event:
    """One change an app notified. ``key`` identifies the event for the app (a second delivery
    with the same key is a duplicate); ``record_id`` and ``version`` name the record and its
    version after the change, in the connector's terms (``Contact.id`` and ``Contact.version``),
    "" when the app does not say; ``author`` is the app's id of who made the change."""

    key: str
    record_id: str = ""
    version: str = ""
    author: str = ""
    # For an app whose one URL serves every account (HubSpot): the app's id of the account.
    scope: str = ""


class Refused(Exception):
    """A delivery Tandem does not take: ``outcome`` is "forged" (signature or secret wrong),
    "stale" (outside the freshness window) or "malformed"."""

    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


@dataclass(frozen=True)
class Registration:
    """The app's answer to registering Tandem's receiver: its id for the subscription, the key
    it signs deliveries with ("" when it signs nothing) and the id Tandem's writes carry as
    their author ("" when unknown)."""

    remote_id: str
    secret: str = field(repr=False)
    author_id: str = ""


@runtime_checkable
class WebhookSource(Protocol):
    """A connector (or its adapter) that can point the app's change notifications at Tandem."""

    def webhook_register(self, url: str) -> Registration:
        """Register ``url`` for the contact events Tandem needs; ``ConnectorError`` if refused."""

    def webhook_unregister(self, remote_id: str) -> None:
        """Remove the registration; one already gone is no error."""
