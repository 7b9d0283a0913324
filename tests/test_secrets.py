"""Secrets never appear in logs, run records or account errors: a whole run between two
Kustomer orgs (one signed in by password, one by API key), then a run after the key is
revoked, with every logger at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from accounts.models import ConnectedAccount, Workspace
from accounts.services import connected_account_upsert
from integrations.models import SyncRun
from integrations.services import connection_create_for_accounts, connection_sync
from sandbox.kustomer import ALL_ROLES, KustomerEmulator
from sandbox.server import Sandbox

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Sup3r-S3cret-9911"
API_KEY = "key-T0p-S3cret-7722"


@pytest.fixture
def kustomer(settings: Any) -> Iterator[KustomerEmulator]:
    sandbox = Sandbox(slugs=["kustomer"]).start()
    settings.KUSTOMER_BASE_URL_TEMPLATE = sandbox.base_url("kustomer") + "/{subdomain}"
    try:
        yield sandbox.emulator("kustomer")
    finally:
        sandbox.stop()


def test_it_keeps_secrets_out_of_logs_runs_and_errors(
    kustomer: KustomerEmulator, acme: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    kustomer.create_org("north", users=[("ops@north.example", PASSWORD)])
    kustomer.create_org("south", api_keys={API_KEY: ALL_ROLES})
    kustomer.add_customer("north", {"name": "Ann North", "emails": [{"email": "ann@x.example"}]})
    north = connected_account_upsert(
        workspace=acme,
        app="kustomer",
        label="north",
        credentials={"subdomain": "north", "email": "ops@north.example", "password": PASSWORD},
    )
    south = connected_account_upsert(
        workspace=acme,
        app="kustomer",
        label="south",
        credentials={"subdomain": "south", "api_key": API_KEY},
    )
    connection = connection_create_for_accounts(workspace=acme, account_a=north, account_b=south)
    first = connection_sync(connection_id=connection.pk)
    assert first is not None and first.outcome == "success", first and first.error
    token = ConnectedAccount.objects.get(pk=north.pk).get_credentials().get("token", "")

    kustomer.revoke_api_key("south", API_KEY)
    connection.refresh_from_db()
    connection.next_sync_at = None
    connection.save()
    second = connection_sync(connection_id=connection.pk)
    assert second is not None and second.outcome == "failed"

    assert token, "the password sign-in should have cached a token"
    secrets = [PASSWORD, API_KEY, token]
    records = " ".join(SyncRun.objects.values_list("error", flat=True))
    errors = " ".join(ConnectedAccount.objects.values_list("last_error", flat=True))
    logged = caplog.text
    for secret in secrets:
        assert secret not in logged
        assert secret not in records
        assert secret not in errors
    assert "ann@x.example" in str(kustomer.customers("south"))
