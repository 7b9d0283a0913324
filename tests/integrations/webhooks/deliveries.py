"""Deliveries as the apps sign them, for the receiver's tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid
from typing import Any


def kustomer_envelope(
    customer_id: str,
    *,
    rev: int = 2,
    author: str = "5f00000000000000000000aa",
    name: str = "kustomer.customer.update",
    created: dt.datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    when = created or dt.datetime.now(dt.UTC)
    return {
        "id": event_id or uuid.uuid4().hex[:24],
        "name": name,
        "org": "5f0000000000000000000001",
        "partition": "5f0000000000000000000001",
        "createdAt": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "data": {
            "type": "customer",
            "id": customer_id,
            "attributes": {"name": "Jane Doe", "rev": rev},
            "relationships": {"modifiedBy": {"data": {"type": "user", "id": author}}},
        },
        "changes": None,
    }


def kustomer_signed(secret: str, envelope: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The raw body and the headers Kustomer sends it with."""
    body = json.dumps(envelope).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "HTTP_X_KUSTOMER_WEBHOOK_EVENT": str(envelope.get("name")),
        "HTTP_X_KUSTOMER_WEBHOOK_SIGNATURE": signature,
    }
