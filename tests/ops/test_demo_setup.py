from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.models import ConnectedAccount, Membership, User, Workspace
from integrations.models import Connection, SyncRun
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

PASSWORD = "initial-demo-password-42"


@pytest.fixture(autouse=True)
def demo_settings(settings: Any) -> None:
    settings.TANDEM_DEMO_ADMIN_EMAIL = "admin@tandem.local"
    settings.TANDEM_DEMO_ADMIN_PASSWORD = PASSWORD
    settings.SITE_URL = "http://127.0.0.1:8010"
    # The sandbox's demo OAuth client, as the embedded default's settings name it.
    settings.GOOGLE_OAUTH_CLIENT_ID = "tandem-demo"
    settings.GOOGLE_OAUTH_CLIENT_SECRET = "tandem-demo-secret"


def demo_setup() -> str:
    out = io.StringIO()
    call_command("demo_setup", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_creates_the_admin_as_an_owner_of_the_demo_workspace_with_a_connection() -> None:
    output = demo_setup()

    admin = User.objects.get(email="admin@tandem.local")
    assert admin.is_staff and admin.is_superuser
    assert admin.check_password(PASSWORD)
    workspace = Workspace.objects.get(slug="demo")
    assert Membership.objects.get(workspace=workspace, user=admin).role == "owner"
    assert Connection.objects.filter(workspace=workspace).count() == 1
    assert "http://127.0.0.1:8010/login/" in output
    assert "http://127.0.0.1:8010/admin/" in output
    assert f"Initial password  {PASSWORD}" in output


def test_it_keeps_connections_runs_accounts_and_a_changed_password_when_run_again() -> None:
    demo_setup()
    workspace = Workspace.objects.get(slug="demo")
    demo = Connection.objects.get(workspace=workspace)
    run = SyncRun.objects.create(connection=demo, outcome=SyncRun.Outcome.SUCCESS, read_a=300)
    Connection.objects.filter(pk=demo.pk).update(status=Connection.Status.ACTIVE)
    users_own = ConnectionFactory(workspace=workspace, name="Made by a user")
    admin = User.objects.get(email="admin@tandem.local")
    admin.set_password("changed-by-the-admin-7")
    admin.save()
    accounts = sorted(ConnectedAccount.objects.filter(workspace=workspace).values_list("pk"))

    output = demo_setup()

    assert set(Connection.objects.filter(workspace=workspace)) == {demo, users_own}
    assert SyncRun.objects.filter(pk=run.pk, connection=demo).exists()
    assert Connection.objects.get(pk=demo.pk).status == Connection.Status.ACTIVE
    assert sorted(ConnectedAccount.objects.filter(workspace=workspace).values_list("pk")) == (
        accounts
    )
    assert authenticate(email="admin@tandem.local", password="changed-by-the-admin-7")
    assert not User.objects.get(pk=admin.pk).check_password(PASSWORD)
    assert "unless changed since" in output
    assert f"connection {demo.pk}" in output


def test_it_creates_the_demo_connection_again_only_when_it_is_missing() -> None:
    demo_setup()
    workspace = Workspace.objects.get(slug="demo")
    Connection.objects.filter(workspace=workspace).delete()

    demo_setup()

    assert Connection.objects.filter(workspace=workspace).count() == 1
    assert User.objects.filter(email="admin@tandem.local").count() == 1
