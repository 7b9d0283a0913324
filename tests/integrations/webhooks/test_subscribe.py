"""Registering Tandem's receiver on an account's app, and removing it, against the Kustomer
emulator over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from integrations.webhooks.models import WebhookSubscription, url_key_digest
from integrations.webhooks.services import webhooks_subscribe, webhooks_unsubscribe
from sandbox.kustomer import ALL_ROLES
from sandbox.kustomer.webhooks import ROLE_WEBHOOKS, hooks
from tests.e2e.conftest import Pair

pytestmark = pytest.mark.django_db

PUBLIC = "https://tandem.example.com"


def grant(pair: Pair, roles: Any) -> str:
    """Give the account's API key these roles; its machine user's id."""
    org = pair.kustomer.org(pair.subdomain)
    token = org.tokens[pair.account_a.get_credentials()["api_key"]]
    token.roles = frozenset(roles)
    return token.user_id


def remote(pair: Pair) -> dict[str, Any]:
    return dict(hooks(pair.kustomer, pair.kustomer.org(pair.subdomain)))


def test_it_registers_the_receiver_with_its_token_and_machine_user(
    pair: Pair, settings: Any
) -> None:
    settings.TANDEM_PUBLIC_URL = PUBLIC
    machine_user = grant(pair, set(ALL_ROLES) | {ROLE_WEBHOOKS[0]})
    subscription = webhooks_subscribe(account=pair.account_a)
    assert subscription is not None
    (hook,) = remote(pair).values()
    assert hook["id"] == subscription.remote_id
    prefix = f"{PUBLIC}/webhooks/kustomer/"
    assert hook["url"].startswith(prefix)
    url_key = hook["url"][len(prefix) :].rstrip("/")
    assert subscription.key == url_key_digest(url_key) != url_key
    assert WebhookSubscription.objects.get().secret == hook["token"]
    assert subscription.author_id == machine_user


def test_it_registers_once(pair: Pair, settings: Any) -> None:
    settings.TANDEM_PUBLIC_URL = PUBLIC
    grant(pair, set(ALL_ROLES) | {ROLE_WEBHOOKS[0]})
    first = webhooks_subscribe(account=pair.account_a)
    assert webhooks_subscribe(account=pair.account_a) == first
    assert len(remote(pair)) == 1


def test_it_keeps_polling_when_the_app_refuses(
    pair: Pair, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.TANDEM_PUBLIC_URL = PUBLIC
    grant(pair, ALL_ROLES)
    assert webhooks_subscribe(account=pair.account_a) is None
    assert not WebhookSubscription.objects.exists()
    assert "polling only" in caplog.text


def test_it_registers_nothing_without_a_public_url(pair: Pair, settings: Any) -> None:
    settings.TANDEM_PUBLIC_URL = ""
    grant(pair, set(ALL_ROLES) | {ROLE_WEBHOOKS[0]})
    assert webhooks_subscribe(account=pair.account_a) is None
    assert remote(pair) == {}


def test_it_registers_nothing_for_an_app_without_notifications(pair: Pair, settings: Any) -> None:
    settings.TANDEM_PUBLIC_URL = PUBLIC
    assert webhooks_subscribe(account=pair.account_b) is None  # Google Contacts


def test_it_removes_the_receiver(pair: Pair, settings: Any) -> None:
    settings.TANDEM_PUBLIC_URL = PUBLIC
    grant(pair, set(ALL_ROLES) | {ROLE_WEBHOOKS[0]})
    webhooks_subscribe(account=pair.account_a)
    assert webhooks_unsubscribe(account=pair.account_a) is True
    assert remote(pair) == {}
    assert not WebhookSubscription.objects.exists()


def test_it_forgets_a_subscription_the_app_already_dropped(pair: Pair, settings: Any) -> None:
    settings.TANDEM_PUBLIC_URL = PUBLIC
    grant(pair, set(ALL_ROLES) | {ROLE_WEBHOOKS[0]})
    subscription = webhooks_subscribe(account=pair.account_a)
    assert subscription is not None
    api = pair.kustomer.base_url + f"/{pair.subdomain}/v1/outbound-webhooks/"
    key = pair.account_a.get_credentials()["api_key"]
    requests.delete(
        api + subscription.remote_id, headers={"Authorization": f"Bearer {key}"}, timeout=5
    ).raise_for_status()
    assert webhooks_unsubscribe(account=pair.account_a) is True
    assert not WebhookSubscription.objects.exists()
