"""A new customer, in a browser, from signing up to contacts in sync, against the sandbox apps."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import User
from integrations.models import Connection, RecordLink
from tests.browser.conftest import (
    PASSWORD,
    SYNC_TIMEOUT_MS,
    Apps,
    label,
    screenshot,
    unlabelled_inputs,
)

pytestmark = pytest.mark.browser

KUSTOMER_TO_GOOGLE = "From Kustomer to Google Contacts"


def sign_up(page: Any, email: str) -> None:
    page.goto(reverse("accounts:signup"))
    page.get_by_label("Work email").fill(email)
    page.get_by_label("Full name").fill("Dana Scully")
    page.get_by_label("Company or workspace name").fill("Acme")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(re.compile(r"/$"))


def authorize_kustomer(page: Any, apps: Apps) -> None:
    page.get_by_role("link", name="Authorize a new Kustomer account").click()
    assert unlabelled_inputs(page) == []
    page.get_by_label(label("Subdomain")).fill(apps.subdomain)
    page.get_by_label(label("Email")).fill(apps.kustomer_email)
    page.get_by_label(label("Password")).fill(apps.kustomer_password)
    page.get_by_role("button", name="Check and connect").click()


def authorize_google(page: Any, apps: Apps) -> None:
    page.get_by_role("link", name="Authorize a new Google Contacts account").click()
    page.get_by_role("link", name="Connect Google Contacts").click()
    # Google's consent page (the sandbox's), then back to Tandem.
    page.wait_for_url(re.compile(r"/o/oauth2/v2/auth"))
    page.get_by_label("Account").fill(apps.google_email)
    page.get_by_role("button", name="Allow").click()


def test_it_takes_a_new_user_from_sign_up_to_contacts_in_sync(page: Any, apps: Apps) -> None:
    apps.add_customer("Ann Archer", "ann@acme.example", company="Acme")
    apps.add_customer("Ben Baker", "ben@acme.example", company="Acme")
    apps.add_customer("Cleo Crane", "cleo@elsewhere.example", company="Elsewhere")
    apps.google.add_contact(
        apps.google_email,
        {
            "names": [{"givenName": "Gina", "familyName": "Gold"}],
            "emailAddresses": [{"value": "gina@acme.example"}],
            "userDefined": [{"key": "notes", "value": "Met at the fair"}],
        },
    )

    sign_up(page, "dana@acme.example")
    page.get_by_role("link", name="Set up your first connection").click()

    # 1. Apps
    page.get_by_role("group", name="First app").get_by_label("Kustomer").check()
    page.get_by_role("group", name="Second app").get_by_label("Google Contacts").check()
    page.get_by_role("button", name="Continue").click()

    # 2. Accounts: authorizing each comes back to this step with the new account chosen.
    authorize_kustomer(page, apps)
    page.wait_for_url(re.compile(r"/connections/new/accounts/"))
    authorize_google(page, apps)
    page.wait_for_url(re.compile(r"/connections/new/accounts/"))
    kustomer_accounts = page.get_by_role("group", name="Kustomer", exact=True)
    google_accounts = page.get_by_role("group", name="Google Contacts", exact=True)
    assert kustomer_accounts.get_by_role("radio").count() == 1
    assert kustomer_accounts.get_by_role("radio").is_checked()
    assert google_accounts.get_by_label(apps.google_email).is_checked()
    page.get_by_role("button", name="Continue").click()

    # 3. Direction (neither app declares a per-connection choice: no audience is asked)
    page.wait_for_url(re.compile(r"/connections/new/direction/"))
    assert page.get_by_role("combobox").count() == 0
    page.get_by_role("radio", name=re.compile(r"^Two-way")).check()
    page.get_by_label("Name (optional)").fill("Support desk and phones")
    page.get_by_role("button", name="Save the draft and continue").click()

    # 4. Rules: Kustomer customers of the company Acme only, labelled in Google Contacts.
    page.wait_for_url(re.compile(r"/rules/$"))
    section = page.locator("section").filter(
        has=page.get_by_role("heading", name=KUSTOMER_TO_GOOGLE, exact=True)
    )
    section.get_by_role("link", name="Edit").click()
    condition = page.get_by_role("group", name="Condition 1")
    condition.get_by_label("Kustomer field").select_option(label="Company (text)")
    condition.get_by_label("Operator").select_option(label="is")
    condition.get_by_label("Value").fill("Acme")
    action = page.get_by_role("group", name="Action 1")
    action.get_by_label("Action", exact=True).select_option(label="Add a label in Google Contacts")
    action.get_by_label("Value").fill("From Kustomer")
    assert unlabelled_inputs(page) == []
    page.get_by_role("button", name="Save the rule").click()
    page.wait_for_url(re.compile(r"/rules/$"))
    section = page.locator("section").filter(
        has=page.get_by_role("heading", name=KUSTOMER_TO_GOOGLE, exact=True)
    )
    assert (
        "IF Company is “Acme” THEN sync AND add the label “From Kustomer”" in section.inner_text()
    )

    # 5. Field mappings: a custom one, Kustomer's "Notes" and Google's "notes".
    page.get_by_role("link", name="Continue to field mappings").click()
    page.get_by_label("Kustomer field").select_option(value="custom.notesTxt")
    page.get_by_label("Google Contacts field").select_option(value="custom.notes")
    page.get_by_role("button", name="Add the mapping").click()
    page.wait_for_url(re.compile(r"/mappings/$"))
    assert page.get_by_role("row").filter(has_text="custom").count() == 1

    # 6. Options
    page.get_by_role("link", name="Continue to options").click()
    page.get_by_role("button", name="Save and continue to the review").click()

    # 7. Review: a dry run reads both apps and writes nothing.
    page.wait_for_url(re.compile(r"/review/$"))
    page.get_by_role("button", name="Run a preview").click(timeout=SYNC_TIMEOUT_MS)
    in_google = page.locator(".grid > .card").filter(
        has=page.get_by_role("heading", name="In Google Contacts")
    )
    in_kustomer = page.locator(".grid > .card").filter(
        has=page.get_by_role("heading", name="In Kustomer")
    )
    assert re.search(r"\b2\s+to create", in_google.inner_text())
    assert re.search(r"\b1\s+to create", in_kustomer.inner_text())
    assert (
        "1 excluded" in page.locator(".card").filter(has_text="matched by email").last.inner_text()
    )
    assert apps.contact_emails() == {"gina@acme.example"}
    screenshot(page, "setup")

    page.get_by_role("button", name="Start syncing").click(timeout=SYNC_TIMEOUT_MS)

    # The connection page: the first run has already scanned and synced (Celery is eager here).
    page.wait_for_url(re.compile(r"/connections/\d+/$"))
    connection = Connection.objects.get(workspace__memberships__user__email="dana@acme.example")
    assert page.get_by_role("heading", name="Support desk and phones").is_visible()
    in_sync = page.locator(".card").filter(has_text="contacts in sync")
    assert in_sync.locator(".stat").inner_text().strip() == "3"
    assert RecordLink.objects.filter(connection=connection).count() == 3
    assert apps.contact_emails() == {"gina@acme.example", "ann@acme.example", "ben@acme.example"}
    assert apps.labels_of("ann@acme.example") == {"From Kustomer"}
    assert "gina@acme.example" in apps.customer_emails()
    assert page.locator(".badge").first.inner_text() == "Active and listening for changes"
    assert User.objects.filter(email="dana@acme.example").exists()
    screenshot(page, "connection")
    screenshot(page, "connection-phone", width=390)
