"""Kustomer's outbound webhooks (api-notes §1.11) for Tandem's receiver: registering one for the
customer create and update events, and removing it.

The token Kustomer answers is the key it signs deliveries with; it is kept encrypted with the
subscription and told to the HTTP seam as a secret, so it is redacted from every log line. The
webhook's ``createdBy`` is the API key's machine user, the author of Tandem's own writes."""

from __future__ import annotations

import re
from typing import Any

from django.views.decorators.debug import sensitive_variables

from integrations.connectors.base import ConnectorError
from integrations.connectors.kustomer.connector import KustomerConnector
from integrations.webhooks.base import Registration

EVENTS = ("kustomer.customer.create", "kustomer.customer.update")


class KustomerWebhooks:
    """The ``WebhookSource`` of a Kustomer connector."""

    def __init__(self, connector: KustomerConnector) -> None:
        self.client = connector.client

    # https://developer.kustomer.com/kustomer-api-docs/reference/createoutboundwebhook
    @sensitive_variables("token", "body")
    def webhook_register(self, url: str) -> Registration:
        body = self.client.call(
            "POST",
            "/v1/outbound-webhooks",
            kind="register webhook",
            idempotent=False,
            json={"name": "Tandem contact sync", "url": url, "events": list(EVENTS)},
        )
        data = body.get("data")
        attributes = data.get("attributes") if isinstance(data, dict) else None
        token = attributes.get("token") if isinstance(attributes, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not token:
            raise ConnectorError("Kustomer: the webhook was created without an id or token.")
        self.client.http.add_secret(str(token))
        return Registration(remote_id=data["id"], secret=str(token), author_id=_created_by(data))

    # https://developer.kustomer.com/kustomer-api-docs/reference/deleteoutboundwebhook
    def webhook_unregister(self, remote_id: str) -> None:
        if not re.fullmatch(r"[0-9A-Za-z]{1,64}", remote_id):
            return  # not an id Kustomer gave: nothing of ours to remove
        self.client.request(
            "DELETE",
            f"/v1/outbound-webhooks/{remote_id}",
            kind="remove webhook",
            idempotent=True,
            accept=(404,),
        )


def _created_by(data: dict[str, Any]) -> str:
    relationships = data.get("relationships")
    created = relationships.get("createdBy") if isinstance(relationships, dict) else None
    inner = created.get("data") if isinstance(created, dict) else None
    author = inner.get("id") if isinstance(inner, dict) else None
    return author if isinstance(author, str) else ""
