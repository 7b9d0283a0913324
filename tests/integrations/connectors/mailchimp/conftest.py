from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integrations.connectors.http import HttpClient
from integrations.connectors.mailchimp.connector import MailchimpConnector
from sandbox.mailchimp import DEFAULT_MERGE_FIELDS, MailchimpEmulator
from sandbox.server import Sandbox

API_KEY = "0f" * 16 + "-us6"
LIST_ID = "acme000001"
OTHER_LIST_ID = "acme000002"
MERGE_FIELDS = (
    *DEFAULT_MERGE_FIELDS,
    ("TIER", "Loyalty tier", "dropdown", {"choices": ["bronze", "silver", "gold"]}),
    ("SPEND", "Total spent", "number", {}),
    ("JOINED", "Joined", "date", {}),
)


@pytest.fixture(scope="module")
def mailchimp_sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox(slugs=["mailchimp"]).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def emulator(mailchimp_sandbox: Sandbox, settings: Any) -> MailchimpEmulator:
    settings.MAILCHIMP_BASE_URL_TEMPLATE = mailchimp_sandbox.base_url("mailchimp") + "/{dc}/3.0"
    emulator: MailchimpEmulator = mailchimp_sandbox.emulator("mailchimp")
    emulator.reset()
    account, _ = emulator.create_account(
        "us6", name="Acme", login_email="owner@acme.example", api_key=API_KEY
    )
    emulator.create_audience(
        account.user_id, "Newsletter", list_id=LIST_ID, merge_fields=MERGE_FIELDS
    )
    emulator.create_audience(account.user_id, "Other", list_id=OTHER_LIST_ID)
    return emulator


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def make_connector(
    emulator: MailchimpEmulator, waits: list[float]
) -> Callable[..., MailchimpConnector]:
    def make(**credentials: Any) -> MailchimpConnector:
        credentials.setdefault("api_key", API_KEY)
        credentials.setdefault("list_id", LIST_ID)
        http = HttpClient(app="mailchimp", max_retries=3, backoff_base=0.01, sleep=waits.append)
        return MailchimpConnector(credentials, http=http)

    return make


@pytest.fixture
def connector(make_connector: Callable[..., MailchimpConnector]) -> MailchimpConnector:
    return make_connector()


def add(emulator: MailchimpEmulator, email: str, status: str = "subscribed", **body: Any) -> str:
    """Add a member; its id as the connector knows it (the contact_id)."""
    member = emulator.add_member(LIST_ID, {"email_address": email, "status": status, **body})
    return str(member["contact_id"])
