"""An account deleted any way other than disconnecting (the admin, its workspace's deletion)
has its receiver removed from the app, against the Kustomer emulator over HTTP."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from accounts.services import connected_account_disconnect
from integrations.webhooks.models import WebhookRemoval, WebhookSubscription
from integrations.webhooks.removal import removal_run
from integrations.webhooks.services import webhooks_subscribe
from integrations.webhooks.tasks import webhook_removal_task
from sandbox.kustomer import ALL_ROLES
from sandbox.kustomer.webhooks import ROLE_WEBHOOKS, hooks
from tests.e2e.conftest import Pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscribed(pair: Pair, settings: Any) -> Pair:
    """The pair's Kustomer account with Tandem's receiver registered on the emulator."""
    settings.TANDEM_PUBLIC_URL = "https://tandem.example.com"
    org = pair.kustomer.org(pair.subdomain)
    token = org.tokens[pair.account_a.get_credentials()["api_key"]]
    token.roles = frozenset(set(ALL_ROLES) | {ROLE_WEBHOOKS[0]})
    assert webhooks_subscribe(account=pair.account_a) is not None
    assert len(remote(pair)) == 1
    return pair


def remote(pair: Pair) -> dict[str, Any]:
    return dict(hooks(pair.kustomer, pair.kustomer.org(pair.subdomain)))


def test_deleting_the_workspace_removes_the_receiver_from_the_app(
    subscribed: Pair, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        subscribed.workspace.delete()
    assert remote(subscribed) == {}
    assert not WebhookRemoval.objects.exists()


def test_deleting_the_account_in_the_admin_removes_the_receiver_from_the_app(
    subscribed: Pair, admin_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    url = f"/admin/accounts/connectedaccount/{subscribed.account_a.pk}/delete/"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert remote(subscribed) == {}


def test_the_removal_task_takes_only_an_id(
    subscribed: Pair, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        mock.patch.object(webhook_removal_task, "apply_async") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        subscribed.account_a.delete()
    (removal,) = WebhookRemoval.objects.all()
    queued.assert_called_once_with((removal.pk, 0), countdown=0.0)
    assert removal.remote_id == next(iter(remote(subscribed)))


def test_a_removal_tries_again_while_the_app_cannot_be_reached(
    subscribed: Pair, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    with mock.patch.object(webhook_removal_task, "apply_async"):
        subscribed.account_a.delete()
    (removal,) = WebhookRemoval.objects.all()
    settings.KUSTOMER_BASE_URL_TEMPLATE = "http://127.0.0.1:9/{subdomain}"  # nothing listens
    settings.HTTP_MAX_RETRIES = 0
    with mock.patch.object(webhook_removal_task, "apply_async") as queued:
        assert removal_run(removal_id=removal.pk) == "retry"
    queued.assert_called_once_with((removal.pk, 1), countdown=60.0)
    assert WebhookRemoval.objects.filter(pk=removal.pk).exists()


def test_disconnecting_removes_the_receiver_once_and_leaves_nothing_to_remove(
    subscribed: Pair, django_capture_on_commit_callbacks: Any
) -> None:
    subscribed.account_b.delete()  # Google's, which no connection uses either
    with django_capture_on_commit_callbacks(execute=True):
        connected_account_disconnect(account=subscribed.account_a)
    assert remote(subscribed) == {}
    assert not WebhookRemoval.objects.exists()
    assert not WebhookSubscription.objects.exists()
