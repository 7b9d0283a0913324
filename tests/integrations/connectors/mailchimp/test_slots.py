"""At most ten simultaneous connections per Mailchimp account: the connector's requests wait for
one of the account's slots, shared by every connector of that account, so Mailchimp never has
to answer 429 for them."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.core.cache import cache

from integrations.connectors.base import ConnectorError
from integrations.connectors.mailchimp.connector import MailchimpConnector
from integrations.connectors.mailchimp.slots import ConnectionSlots, slots_key
from sandbox.mailchimp import MailchimpEmulator
from tests.integrations.connectors.mailchimp.conftest import API_KEY

Make = Callable[..., MailchimpConnector]


def test_connectors_of_one_account_share_its_slots_and_meet_no_429(
    make_connector: Make, emulator: MailchimpEmulator
) -> None:
    emulator.max_connections, emulator.latency = 2, 0.1
    connectors = [make_connector() for _ in range(4)]
    for connector in connectors:
        assert isinstance(connector.http.session, ConnectionSlots)
        connector.http.session.limit = 2
    errors: list[Exception] = []

    def ping(connector: MailchimpConnector) -> None:
        try:
            connector.client.ping()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ping, args=(c,)) for c in connectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    emulator.latency = 0
    assert errors == []
    assert emulator.requests["GET /ping"] == 4
    assert cache.get(slots_key(API_KEY)) == 0


def test_a_slot_is_given_back_when_the_request_fails(make_connector: Make) -> None:
    connector = make_connector(api_key="cd" * 16 + "-us6")
    with pytest.raises(ConnectorError):
        connector.check()
    assert cache.get(slots_key("cd" * 16 + "-us6")) == 0


def test_the_count_is_kept_under_a_digest_never_the_key() -> None:
    assert API_KEY not in slots_key(API_KEY)
    assert slots_key(API_KEY) == slots_key(API_KEY)
    assert slots_key(API_KEY) != slots_key("ab" * 16 + "-us6")
