"""Stopping a sandbox ends the requests it was serving and the deliveries it was sending: none
goes on in a process that has moved on (after pytest's session, such a request thread logged
into pytest's closed capture file and printed a traceback below the summary; a webhook
sender's thread went on after the sandbox stopped)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from sandbox.hubspot.webhooks import HubSpotWebhookEmulator
from sandbox.kustomer import ALL_ROLES, KustomerEmulator
from sandbox.kustomer.webhooks import sender
from sandbox.mailchimp.webhooks import MailchimpWebhookEmulator
from sandbox.server import Sandbox
from sandbox.webhooks import WebhookSender


@pytest.fixture
def errors(monkeypatch: pytest.MonkeyPatch) -> list[threading.ExceptHookArgs]:
    """What reached ``threading.excepthook``: exceptions no thread caught."""
    seen: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", seen.append)
    return seen


@pytest.fixture
def kustomer_sandbox() -> Iterator[Sandbox]:
    """A sandbox of the test's own, as the test stops it."""
    sandbox = Sandbox(slugs=["kustomer"]).start()
    emulator: KustomerEmulator = sandbox.emulator("kustomer")
    emulator.create_org("acme", api_keys={"alice-key": ALL_ROLES})
    yield sandbox
    sandbox.stop()


def request_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    """The threads serving a request (socketserver names them so) started since ``before``."""
    return [
        thread
        for thread in threading.enumerate()
        if thread not in before and thread.name.endswith("(process_request_thread)")
    ]


def test_it_finishes_a_stalled_request_before_stop_returns(
    kustomer_sandbox: Sandbox, errors: list[threading.ExceptHookArgs]
) -> None:
    sandbox = kustomer_sandbox
    before = set(threading.enumerate())
    sandbox.emulator("kustomer").fail_next(1, sleep=1.0)
    with pytest.raises(requests.Timeout):  # the client gives up; the request stalls on
        requests.get(
            f"{sandbox.base_url('kustomer')}/acme/v1/customers",
            headers={"Authorization": "Bearer alice-key"},
            timeout=(5, 0.1),
        )
    stalled = request_threads(before)

    sandbox.stop()

    assert len(stalled) == 1
    assert not stalled[0].is_alive()
    assert errors == []


def test_it_hangs_up_on_a_client_that_never_sent_a_request(
    kustomer_sandbox: Sandbox, errors: list[threading.ExceptHookArgs]
) -> None:
    sandbox = kustomer_sandbox
    before = set(threading.enumerate())
    with socket.create_connection((sandbox.host, sandbox.port), timeout=5) as client:
        deadline = time.monotonic() + 5
        while not (waiting := request_threads(before)):
            assert time.monotonic() < deadline, "the server never took the connection"
            time.sleep(0.01)

        started = time.monotonic()
        sandbox.stop()

        assert time.monotonic() - started < 2  # hung up on, not waited out
        assert not waiting[0].is_alive()
        assert client.recv(1) == b""
    assert errors == []


def test_it_stops_every_apps_deliveries(errors: list[threading.ExceptHookArgs]) -> None:
    sandbox = Sandbox(slugs=["kustomer", "hubspot", "mailchimp"]).start()
    hubspot: HubSpotWebhookEmulator = sandbox.emulator("hubspot")
    mailchimp: MailchimpWebhookEmulator = sandbox.emulator("mailchimp")
    senders: list[WebhookSender] = [
        sender(sandbox.emulator("kustomer")),
        hubspot.webhook_sender,
        mailchimp.webhook_sender,
    ]
    for out in senders:
        out.hold()  # queued, not sent: each thread waits for its release
        assert out.send("hook-1", "http://127.0.0.1:9/hooks", b"{}", {})
    assert all(out.running for out in senders)

    sandbox.stop()

    assert [out.running for out in senders] == [False, False, False]
    assert errors == []
