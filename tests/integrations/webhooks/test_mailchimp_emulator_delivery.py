"""The Mailchimp emulator's audience webhooks over HTTP: the URL checked with a GET before it is
taken, a form-encoded delivery per member change for the sources asked for, none for tags."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from sandbox.mailchimp.webhooks import MailchimpWebhookEmulator
from tests.integrations.webhooks.conftest import Receiver


@dataclass
class Audience:
    mailchimp: MailchimpWebhookEmulator
    api: str
    key: str
    list_id: str

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(
            method, self.api + path, json=body, auth=("any", self.key), timeout=5
        )

    def idle(self, timeout: float = 5.0) -> bool:
        """Every delivery to this audience's webhooks made (or given up)."""
        out = self.mailchimp.webhook_sender
        ids = list(self.mailchimp.webhooks.get(self.list_id, {}))
        return all(out.wait_idle(timeout, hook_id) for hook_id in ids)

    def register(self, url: str, *, api: bool = False) -> requests.Response:
        return self.call(
            "POST",
            f"/lists/{self.list_id}/webhooks",
            {"url": url, "sources": {"user": True, "admin": True, "api": api}},
        )


@pytest.fixture
def audience(sandbox_server: Any) -> Iterator[Audience]:
    mailchimp: MailchimpWebhookEmulator = sandbox_server.emulator("mailchimp")
    name = uuid.uuid4().hex[:8]
    account, key = mailchimp.create_account("us7", name=name, login_email=f"{name}@ex.com")
    found = mailchimp.create_audience(account.user_id, "Customers")
    audience = Audience(mailchimp, sandbox_server.base_url("mailchimp") + "/us7/3.0", key, found.id)
    yield audience
    audience.idle()
    for hook_id in list(mailchimp.webhooks.get(found.id, {})):
        mailchimp.webhook_sender.forget(hook_id)


def types(receiver: Receiver) -> list[str]:
    return [parse_qs(body.decode())["type"][0] for _, body in receiver.got]


def test_it_checks_the_url_with_a_get_before_taking_it(
    audience: Audience, receiver: Receiver
) -> None:
    response = audience.register(receiver.url)
    assert response.status_code == 200
    assert receiver.got[0][1] == b""  # the GET
    receiver.got.clear()
    listed = audience.call("GET", f"/lists/{audience.list_id}/webhooks").json()
    assert [h["id"] for h in listed["webhooks"]] == [response.json()["id"]]


def test_it_refuses_a_url_that_does_not_answer_200(audience: Audience, receiver: Receiver) -> None:
    receiver.answers = [404]
    response = audience.register(receiver.url)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "url"


def test_it_delivers_member_changes_made_in_mailchimp(
    audience: Audience, receiver: Receiver
) -> None:
    audience.register(receiver.url)
    receiver.got.clear()
    mailchimp, list_id = audience.mailchimp, audience.list_id
    mailchimp.add_member(
        list_id, {"email_address": "ann@ex.com", "status": "subscribed", "merge_fields": {}}
    )
    mailchimp.edit_member(list_id, "ann@ex.com", {"FNAME": "Ann"})
    mailchimp.unsubscribe(list_id, "ann@ex.com")
    assert audience.idle()
    assert types(receiver) == ["subscribe", "profile", "unsubscribe"]
    last = parse_qs(receiver.got[-1][1].decode())
    assert last["data[email]"] == ["ann@ex.com"] and last["data[action]"] == ["unsub"]
    assert receiver.got[-1][0]["Content-Type"] == "application/x-www-form-urlencoded"


def test_it_leaves_out_api_changes_unless_asked(audience: Audience, receiver: Receiver) -> None:
    audience.register(receiver.url, api=False)
    receiver.got.clear()
    body = {"email_address": "bo@ex.com", "status": "subscribed", "merge_fields": {}}
    assert audience.call("POST", f"/lists/{audience.list_id}/members", body).status_code == 200
    assert audience.idle()
    assert receiver.got == []


def test_it_delivers_api_changes_to_a_webhook_that_asked(
    audience: Audience, receiver: Receiver
) -> None:
    audience.register(receiver.url, api=True)
    receiver.got.clear()
    body = {"email_address": "bo@ex.com", "status": "subscribed", "merge_fields": {}}
    audience.call("POST", f"/lists/{audience.list_id}/members", body)
    member = f"/lists/{audience.list_id}/members/bo@ex.com"
    audience.call("POST", member + "/tags", {"tags": [{"name": "vip", "status": "active"}]})
    audience.call("DELETE", member)
    assert audience.idle()
    assert types(receiver) == ["subscribe", "unsubscribe"]
    assert parse_qs(receiver.got[-1][1].decode())["data[action]"] == ["delete"]


def test_it_stops_delivering_once_the_webhook_is_deleted(
    audience: Audience, receiver: Receiver
) -> None:
    hook = audience.register(receiver.url).json()
    path = f"/lists/{audience.list_id}/webhooks/{hook['id']}"
    assert audience.call("DELETE", path).status_code == 204
    assert audience.call("GET", path).status_code == 404
    receiver.got.clear()
    audience.mailchimp.add_member(
        audience.list_id, {"email_address": "cy@ex.com", "status": "subscribed"}
    )
    assert audience.idle()
    assert receiver.got == []
