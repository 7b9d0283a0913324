"""The demo (``make run``) in real time: ``demo_setup`` has the demo Kustomer account's receiver
registered at ``TANDEM_PUBLIC_URL``, and registered again at the new address when a later start
serves Tandem elsewhere (another ``TANDEM_PORT``), against a Kustomer emulator over HTTP."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command

from accounts.models import ConnectedAccount
from integrations.webhooks.models import WebhookSubscription
from integrations.webhooks.services import subscribe_run
from integrations.webhooks.tasks import webhook_subscribe_task
from sandbox.kustomer import DEMO_SUBDOMAIN, KustomerEmulator
from sandbox.kustomer.webhooks import hooks
from sandbox.server import Sandbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def kustomer(settings: Any) -> Iterator[KustomerEmulator]:
    """The sandbox's Kustomer with its demo org, as the demo's sandbox process serves it."""
    sandbox = Sandbox(slugs=["kustomer"]).start()
    emulator: KustomerEmulator = sandbox.emulator("kustomer")
    emulator.seed_demo()
    settings.KUSTOMER_BASE_URL_TEMPLATE = sandbox.base_url("kustomer") + "/{subdomain}"
    settings.TANDEM_DEMO_ADMIN_PASSWORD = "initial-demo-password-42"
    settings.GOOGLE_OAUTH_CLIENT_ID = "tandem-demo"
    settings.GOOGLE_OAUTH_CLIENT_SECRET = "tandem-demo-secret"
    yield emulator
    sandbox.stop()


def demo_setup(settings: Any, capture: Any, public_url: str) -> list[tuple[int, dict[str, Any]]]:
    """Run ``demo_setup`` as ``make run`` does with Tandem at ``public_url``; the subscribing
    tasks it queued (account id, options), for the worker."""
    settings.TANDEM_PUBLIC_URL = public_url
    with (
        mock.patch.object(webhook_subscribe_task, "delay") as queued,
        capture(execute=True),
    ):
        call_command("demo_setup", stdout=io.StringIO(), stderr=io.StringIO())
    return [(call.args[0], call.kwargs) for call in queued.call_args_list]


def work(queued: list[tuple[int, dict[str, Any]]], account: ConnectedAccount) -> str:
    """Run the account's queued task, as the worker would."""
    ((account_id, options),) = [q for q in queued if q[0] == account.pk]
    return subscribe_run(account_id=account_id, **options)


def remote_urls(kustomer: KustomerEmulator) -> list[str]:
    return [hook["url"] for hook in hooks(kustomer, kustomer.org(DEMO_SUBDOMAIN)).values()]


def test_demo_setup_registers_the_demo_kustomer_webhook_at_the_public_url(
    kustomer: KustomerEmulator, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    queued = demo_setup(settings, django_capture_on_commit_callbacks, "http://127.0.0.1:8031")
    account = ConnectedAccount.objects.get(app="kustomer")

    assert work(queued, account) == "subscribed"
    (url,) = remote_urls(kustomer)
    assert url.startswith("http://127.0.0.1:8031/webhooks/kustomer/")
    assert WebhookSubscription.objects.get(account=account).author_id


def test_a_later_start_on_another_port_registers_the_webhook_again_there(
    kustomer: KustomerEmulator, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    queued = demo_setup(settings, django_capture_on_commit_callbacks, "http://127.0.0.1:8031")
    account = ConnectedAccount.objects.get(app="kustomer")
    work(queued, account)

    queued = demo_setup(settings, django_capture_on_commit_callbacks, "http://127.0.0.1:8032")
    assert work(queued, account) == "subscribed"

    (url,) = remote_urls(kustomer)
    assert url.startswith("http://127.0.0.1:8032/webhooks/kustomer/")
    assert WebhookSubscription.objects.filter(account=account).count() == 1
