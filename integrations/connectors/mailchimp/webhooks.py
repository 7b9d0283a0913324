"""Mailchimp's audience webhooks (api-notes §4.4) for Tandem's receiver: one on the audience the
account syncs, for subscribes, unsubscribes, profile and email changes and cleaned addresses.

Mailchimp signs nothing, so the receiver's URL carries the secret (its random key), and Mailchimp
checks the URL with a GET before it takes it. Changes made through the API are left out
(``sources.api`` false): Tandem's own writes never come back as echoes, and another
integration's API writes arrive by polling."""

from __future__ import annotations

import re

from integrations.connectors.base import ConnectorError
from integrations.connectors.mailchimp.connector import MailchimpConnector
from integrations.webhooks.base import Registration

EVENTS = {
    "subscribe": True,
    "unsubscribe": True,
    "profile": True,
    "cleaned": True,
    "upemail": True,
    "campaign": False,
}
SOURCES = {"user": True, "admin": True, "api": False}


class MailchimpWebhooks:
    """The ``WebhookSource`` of a Mailchimp connector: remote ids are ``<list id>/<id>``."""

    def __init__(self, connector: MailchimpConnector) -> None:
        self.connector = connector
        self.client = connector.client

    # https://mailchimp.com/developer/marketing/api/list-webhooks/add-webhook/
    def webhook_register(self, url: str) -> Registration:
        list_id = self.connector.list_id
        body = self.client.call(
            "POST",
            f"/lists/{list_id}/webhooks",
            kind="webhooks.create",
            what="registering the webhook",
            idempotent=False,
            json={"url": url, "events": EVENTS, "sources": SOURCES},
        )
        webhook_id = body.get("id")
        if not isinstance(webhook_id, str) or not webhook_id:
            raise ConnectorError("Mailchimp: the webhook was created without an id.")
        return Registration(remote_id=f"{list_id}/{webhook_id}", secret="")

    # https://mailchimp.com/developer/marketing/api/list-webhooks/delete-webhook/
    def webhook_unregister(self, remote_id: str) -> None:
        match = re.fullmatch(r"([0-9a-z]{1,32})/([0-9a-z]{1,32})", remote_id)
        if match is None:
            return  # not an id Mailchimp gave: nothing of ours to remove
        self.client.request(
            "DELETE",
            f"/lists/{match.group(1)}/webhooks/{match.group(2)}",
            kind="webhooks.delete",
            what="removing the webhook",
            idempotent=True,
            accept=(404,),
        )
