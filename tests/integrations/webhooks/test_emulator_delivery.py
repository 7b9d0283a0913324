"""The Kustomer emulator's outbound webhooks over HTTP: registration, a signed delivery on each
create and update (none on delete), retries on Kustomer's schedule (shrunk), the webhook disabled
once the schedule is spent, and the kit's bounded queue."""

from __future__ import annotations

import hashlib
import hmac
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from sandbox.kustomer import ALL_ROLES, KustomerEmulator
from sandbox.kustomer.webhooks import RETRY_SCHEDULE, ROLE_WEBHOOKS, hooks, sender
from sandbox.webhooks import WebhookSender
from tests.integrations.webhooks.conftest import Receiver


@dataclass
class Org:
    kustomer: KustomerEmulator
    api: str
    key: str
    subdomain: str

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(
            method,
            self.api + path,
            json=body,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=5,
        )

    def idle(self, timeout: float = 5.0) -> bool:
        """Every delivery to this org's webhooks made (or given up)."""
        out = sender(self.kustomer)
        org = self.kustomer.org(self.subdomain)
        return all(out.wait_idle(timeout, hook_id) for hook_id in list(hooks(self.kustomer, org)))

    def register(self, url: str) -> dict[str, Any]:
        response = self.call(
            "POST",
            "/outbound-webhooks",
            {
                "name": "t",
                "url": url,
                "events": ["kustomer.customer.create", "kustomer.customer.update"],
            },
        )
        assert response.status_code == 201, response.text
        return dict(response.json()["data"])


@pytest.fixture
def org(sandbox_server: Any) -> Iterator[Org]:
    kustomer: KustomerEmulator = sandbox_server.emulator("kustomer")
    subdomain = f"h{uuid.uuid4().hex[:12]}"
    kustomer.create_org(
        subdomain, api_keys={"key": set(ALL_ROLES) | {ROLE_WEBHOOKS[0]}, "plain": ALL_ROLES}
    )
    out = sender(kustomer)
    out.retry_scale = 0.0005  # Kustomer's minutes become tens of milliseconds
    org = Org(kustomer, sandbox_server.base_url("kustomer") + f"/{subdomain}/v1", "key", subdomain)
    yield org
    org.idle()
    for hook_id in list(hooks(kustomer, kustomer.org(subdomain))):
        out.forget(hook_id)
    out.retry_scale = 1.0


def test_it_delivers_each_create_and_update_signed_with_the_webhook_token(
    org: Org, receiver: Receiver
) -> None:
    hook = org.register(receiver.url)
    created = org.call("POST", "/customers", {"name": "Ann Lee"}).json()["data"]
    org.call("PATCH", f"/customers/{created['id']}", {"name": "Ann Park"})
    assert org.idle(5)
    assert [e["name"] for e in receiver.events()] == [
        "kustomer.customer.create",
        "kustomer.customer.update",
    ]
    token = hook["attributes"]["token"]
    for headers, body in receiver.got:
        expected = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Kustomer-Webhook-Signature"] == expected
    update = receiver.events()[1]
    assert update["data"]["id"] == created["id"]
    assert update["changes"]["attributes"]["name"] == {
        "op": "replace",
        "before": "Ann Lee",
        "after": "Ann Park",
    }


def test_it_delivers_nothing_on_delete(org: Org, receiver: Receiver) -> None:
    created = org.call("POST", "/customers", {"name": "Ann Lee"}).json()["data"]
    org.register(receiver.url)
    assert org.call("DELETE", f"/customers/{created['id']}").status_code == 204
    assert org.idle(5)
    assert receiver.got == []


def test_it_retries_a_failed_delivery_on_the_schedule(org: Org, receiver: Receiver) -> None:
    org.register(receiver.url)
    receiver.answers = [500, 503]
    org.call("POST", "/customers", {"name": "Ann Lee"})
    assert org.idle(5)
    assert len(receiver.got) == 3
    assert len({body for _, body in receiver.got}) == 1  # the same delivery each time


def test_it_disables_a_webhook_once_the_schedule_is_spent(org: Org, receiver: Receiver) -> None:
    hook = org.register(receiver.url)
    receiver.answers = [500] * (len(RETRY_SCHEDULE) + 1)
    org.call("POST", "/customers", {"name": "Ann Lee"})
    assert org.idle(10)
    assert len(receiver.got) == len(RETRY_SCHEDULE) + 1
    again = org.call("GET", f"/outbound-webhooks/{hook['id']}").json()["data"]
    assert again["attributes"]["enabled"] is False
    org.call("POST", "/customers", {"name": "Bo Chen"})
    assert org.idle(5)
    assert len(receiver.got) == len(RETRY_SCHEDULE) + 1


def test_it_stops_delivering_once_the_webhook_is_deleted(org: Org, receiver: Receiver) -> None:
    hook = org.register(receiver.url)
    assert org.call("DELETE", f"/outbound-webhooks/{hook['id']}").status_code == 204
    org.call("POST", "/customers", {"name": "Ann Lee"})
    assert org.idle(5)
    assert receiver.got == []
    assert org.call("GET", "/outbound-webhooks").json()["data"] == []


def test_it_needs_the_outbound_webhook_role(org: Org, receiver: Receiver) -> None:
    org.key = "plain"
    response = org.call(
        "POST",
        "/outbound-webhooks",
        {"name": "t", "url": receiver.url, "events": ["kustomer.customer.update"]},
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "url", ["http://tandem.example.com/hook", "ftp://127.0.0.1/hook", "https://u:p@x.example/"]
)
def test_it_refuses_a_url_that_is_not_https(org: Org, url: str) -> None:
    response = org.call(
        "POST",
        "/outbound-webhooks",
        {"name": "t", "url": url, "events": ["kustomer.customer.update"]},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/url"


def test_it_refuses_more_than_twelve_events(org: Org, receiver: Receiver) -> None:
    events = [
        f"kustomer.{r}.{a}"
        for r in ("customer", "conversation", "message", "user", "team", "tag")
        for a in ("create", "update")
    ]
    response = org.call(
        "POST",
        "/outbound-webhooks",
        {"name": "t", "url": receiver.url, "events": [*events, events[0]]},
    )
    assert response.status_code == 400


def test_the_kit_drops_and_counts_deliveries_past_its_bound() -> None:
    out = WebhookSender(schedule=(), max_queue=2)
    out.hold()
    try:
        sent = [out.send("s", "http://127.0.0.1:9/", b"{}", {}) for _ in range(3)]
        assert sent == [True, True, False]
        assert out.stats.dropped == 1 and out.pending() == 2
    finally:
        out.stop()


def read_request(client: socket.socket) -> bytes:
    """One whole HTTP request (head and a Content-Length body) as the client sent it."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += client.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += client.recv(65536)
    return data


def test_the_kit_hangs_up_once_a_delivery_is_answered() -> None:
    out = WebhookSender(schedule=())
    try:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            listener.settimeout(5)
            url = f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
            assert out.send("s", url, b"{}", {"Content-Type": "application/json"})
            receiver, _ = listener.accept()
            with receiver:
                receiver.settimeout(5)
                assert read_request(receiver).startswith(b"POST /hooks HTTP/1.1")
                # An answer that would keep the connection open, as a receiver's server's does.
                receiver.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

                assert receiver.recv(1) == b""  # no idle connection left for the server to hold
            assert out.wait_idle(5) and out.stats.delivered == 1
    finally:
        out.stop()
