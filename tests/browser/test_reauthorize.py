"""A connection stopped by a credential the app no longer takes, repaired from its page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from accounts.models import ConnectedAccount
from integrations import tasks
from integrations.models import SyncRun
from tests.browser.conftest import SYNC_TIMEOUT_MS, Apps, label, log_in, running_connection

pytestmark = pytest.mark.browser


def status_badge(page: Any) -> str:
    return str(page.locator("main .card .badge").first.inner_text())


def test_it_resumes_a_connection_once_its_failed_account_is_authorized_again(
    page: Any, apps: Apps
) -> None:
    connection = running_connection(apps)
    log_in(page, "kim@acme.example")
    page.goto(f"/connections/{connection.pk}/")
    assert status_badge(page) == "Active and listening for changes"

    # Someone changes the Kustomer user's password; Tandem's session there ends too.
    new_password = "kustomer-changed-password"
    apps.kustomer.add_user(apps.subdomain, apps.kustomer_email, new_password)
    apps.kustomer.expire_tokens(apps.subdomain)
    apps.add_customer("Ben Baker", "ben@acme.example")
    page.get_by_role("button", name="Sync now").click(timeout=SYNC_TIMEOUT_MS)

    assert status_badge(page) == "Authentication failed"
    assert "Authorize it again to resume syncing" in page.locator("main .card").first.inner_text()
    page.get_by_role("link", name=re.compile(r"^Authorize the Kustomer account .* again$")).click()

    # The account's re-authorize form: the subdomain and email are kept, the password is not.
    assert page.get_by_label(label("Subdomain")).input_value() == apps.subdomain
    assert page.get_by_label(label("Email")).input_value() == apps.kustomer_email
    assert page.get_by_label(label("Password")).input_value() == ""
    page.get_by_label(label("Password")).fill(new_password)
    page.get_by_role("button", name="Authorize again").click()

    # Back on the connection page, resumed without anyone pressing "Resume".
    page.wait_for_url(re.compile(rf"/connections/{connection.pk}/$"))
    assert status_badge(page) != "Authentication failed"
    assert page.get_by_role("button", name="Resume").count() == 0
    assert ConnectedAccount.objects.get(pk=connection.account_a_id).status == "ok"

    # The next dispatch (Celery beat's, every 15 s) runs it, and the run succeeds.
    tasks.dispatch_due_connections_task.delay()
    latest = SyncRun.objects.filter(connection=connection, dry_run=False).latest("started_at", "id")
    assert latest.outcome == SyncRun.Outcome.SUCCESS
    assert apps.contact_emails() == {"ann@acme.example", "ben@acme.example"}
    page.reload()
    assert status_badge(page) == "Active and listening for changes"
    assert page.locator("tbody tr").first.get_by_role("cell", name="Success").is_visible()


def test_it_resumes_a_connection_once_its_revoked_google_account_is_connected_again(
    page: Any, apps: Apps
) -> None:
    connection = running_connection(apps)
    log_in(page, "kim@acme.example")
    page.goto(f"/connections/{connection.pk}/")

    # The Google user removes Tandem's access in their Google account settings.
    apps.google.revoke(apps.google_email)
    apps.add_customer("Ben Baker", "ben@acme.example")
    page.get_by_role("button", name="Sync now").click(timeout=SYNC_TIMEOUT_MS)
    assert status_badge(page) == "Authentication failed"

    page.get_by_role(
        "link", name=re.compile(r"^Authorize the Google Contacts account .* again$")
    ).click()
    page.get_by_role("link", name="Connect Google Contacts again").click()
    page.wait_for_url(re.compile(r"/o/oauth2/v2/auth"))
    page.get_by_label("Account").fill(apps.google_email)
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(re.compile(rf"/connections/{connection.pk}/$"))
    assert status_badge(page) != "Authentication failed"
    assert ConnectedAccount.objects.get(pk=connection.account_b_id).status == "ok"
    tasks.dispatch_due_connections_task.delay()
    latest = SyncRun.objects.filter(connection=connection, dry_run=False).latest("started_at", "id")
    assert latest.outcome == SyncRun.Outcome.SUCCESS
    assert apps.contact_emails() == {"ann@acme.example", "ben@acme.example"}
