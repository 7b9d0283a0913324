"""A Kustomer ⇄ Google connection on the sandboxes whose Kustomer account has a webhook
subscription, and a client that posts signed deliveries to the receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from werkzeug.wrappers import Request, Response

from integrations.models import Connection
from integrations.webhooks.models import WebhookSubscription, url_key_digest
from sandbox.server import ThreadedServer
from tests.e2e.conftest import Pair, pair  # noqa: F401 - the fixture, shared
from tests.integrations.webhooks.deliveries import kustomer_envelope, kustomer_signed

SECRET = "s3cr3t-" + "f" * 57
URL_KEY = "url-key-" + "k" * 35


@dataclass
class Hooked:
    pair: Pair
    connection: Connection
    subscription: WebhookSubscription
    client: Client
    url_key: str

    @property
    def machine_user(self) -> str:
        return self.subscription.author_id

    def url(self, key: str | None = None) -> str:
        return f"/webhooks/kustomer/{key or self.url_key}/"

    def deliver(self, envelope: dict[str, Any], *, secret: str = SECRET, key: str | None = None):  # type: ignore[no-untyped-def]
        body, headers = kustomer_signed(secret, envelope)
        return self.client.post(
            self.url(key), data=body, content_type="application/json", **headers
        )

    def event_for(self, customer_id: str, **options: Any) -> dict[str, Any]:
        """The update event Kustomer would send for the customer as it is now."""
        doc = self.pair.kustomer.customer(self.pair.subdomain, customer_id)
        modified_by = doc["relationships"]["modifiedBy"]["data"]["id"]
        options.setdefault("rev", doc["attributes"]["rev"])
        options.setdefault("author", modified_by)
        return kustomer_envelope(customer_id, **options)


@pytest.fixture
def hooked(pair: Pair) -> Hooked:  # noqa: F811
    """The pair connected and scanned once, with a subscription on the Kustomer account."""
    connection = pair.connect()
    pair.sync(connection)
    api_key = pair.account_a.get_credentials()["api_key"]
    machine_user = pair.kustomer.org(pair.subdomain).tokens[api_key].user_id
    subscription = WebhookSubscription.objects.create(
        account=pair.account_a,
        app="kustomer",
        key=url_key_digest(URL_KEY),
        remote_id="5f0000000000000000000fff",
        secret=SECRET,
        author_id=machine_user,
    )
    return Hooked(pair, connection, subscription, Client(), URL_KEY)


@dataclass
class Receiver:
    """A local HTTP receiver answering the statuses queued in ``answers`` (then 200)."""

    url: str
    answers: list[int] = field(default_factory=list)
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.got]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver("")

    @Request.application
    def app(request: Request) -> Response:
        found.got.append((dict(request.headers), request.get_data()))
        return Response("", status=found.answers.pop(0) if found.answers else 200)

    server = ThreadedServer("127.0.0.1", 0, app).start()
    found.url = f"http://127.0.0.1:{server.server_port}/hook"
    yield found
    server.stop()
