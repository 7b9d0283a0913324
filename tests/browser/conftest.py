"""Customer pages in a real browser: Playwright's sync API driving Debian's chromium against
pytest-django's live server, with the app emulators of the sandbox on real HTTP.

No browser is ever downloaded: the tests use ``/usr/bin/chromium`` (Debian package ``chromium``,
which ``.ci/run`` installs). Without it they skip on a developer's machine and fail in CI
(``TANDEM_REQUIRE_SERVICES=1``), like the PostgreSQL and Redis tests.

Screenshots for the README are written to ``docs/screenshots/`` only with ``TANDEM_SCREENSHOTS=1``,
so an ordinary run never dirties the tree.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.services import connected_account_authorize, connected_account_upsert
from integrations import tasks
from integrations.models import Connection
from integrations.services import connection_create_for_accounts
from tests.conftest import _missing
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
STEP_TIMEOUT_MS = 5_000
# A sync runs inside the request (eager Celery), so a click that starts one waits longer.
SYNC_TIMEOUT_MS = 30_000

PASSWORD = "a-long-browser-password-7"


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One chromium for the browser tests.

    Package-scoped rather than session-scoped: Playwright's sync API keeps an event loop running
    in this thread while it is started, and Django refuses ORM calls from a thread with a running
    loop. Closing it when the browser tests are done keeps that (and the opt-out below) away from
    every other test of the session.
    """
    if not Path(CHROMIUM).exists():
        _missing(f"needs Debian's chromium at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    # The loop is Playwright's, not Django's: the ORM calls made by tests and fixtures here are
    # plain synchronous code and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def site(live_server: Any, transactional_db: None, settings: Any) -> str:
    """The live server's root URL; OAuth redirects come back to it."""
    settings.SITE_URL = live_server.url
    return str(live_server.url)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser: Any, site: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (no cookies) at desktop width, every step bounded.

    With TANDEM_BROWSER_ARTIFACTS=<dir>, a failing test leaves the page it failed on there
    (a screenshot and the HTML)."""
    context = browser.new_context(viewport=DESKTOP, base_url=site, locale="en-US")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.set_default_navigation_timeout(STEP_TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
        artifacts = os.environ.get("TANDEM_BROWSER_ARTIFACTS")
        if artifacts and request.node.stash.get(FAILED, False):
            folder = Path(artifacts)
            folder.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(folder / f"{request.node.name}.png"), full_page=True)
            (folder / f"{request.node.name}.html").write_text(tab.content())
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the pages: {errors}"


def screenshot(page: Any, name: str, *, width: int | None = None) -> None:
    """Save ``docs/screenshots/<name>.png`` (full page) when TANDEM_SCREENSHOTS=1."""
    if os.environ.get("TANDEM_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if width is not None:
        size = page.viewport_size
        page.set_viewport_size({"width": width, "height": PHONE["height"]})
        try:
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        finally:
            page.set_viewport_size(size)
        return
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def label(text: str) -> re.Pattern[str]:
    """A field's exact label, with or without Django's label suffix (":")."""
    return re.compile(rf"^{re.escape(text)}:?$")


def unlabelled_inputs(page: Any) -> list[str]:
    """Every visible form control of the page that has no accessible name."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                              && !el.getAttribute('aria-labelledby') && !el.title)
                .map(el => el.outerHTML)"""
        )
    )


@dataclass
class Apps:
    """The customer's Kustomer org (email + password login) and Google account on the sandbox."""

    sandbox: Any
    kustomer: Any
    google: Any
    subdomain: str
    kustomer_email: str
    kustomer_password: str
    google_email: str

    def add_customer(self, name: str, email: str, **attrs: Any) -> str:
        body: dict[str, Any] = {"name": name, "emails": [{"type": "work", "email": email}], **attrs}
        return str(self.kustomer.add_customer(self.subdomain, body)["id"])

    def add_contact(self, given: str, family: str, email: str) -> str:
        body = {
            "names": [{"givenName": given, "familyName": family}],
            "emailAddresses": [{"value": email}],
        }
        return str(self.google.add_contact(self.google_email, body)["resourceName"])

    def contact_emails(self) -> set[str]:
        return {
            e["value"]
            for c in self.google.contacts(self.google_email)
            for e in c.get("emailAddresses") or []
        }

    def labels_of(self, email: str) -> set[str]:
        """The user-made labels (contact groups) of the Google contact with ``email``."""
        groups = self.google.add_user(self.google_email).groups
        (contact,) = [
            c
            for c in self.google.contacts(self.google_email)
            if email in [e["value"] for e in c.get("emailAddresses") or []]
        ]
        names = (
            groups.get(m["contactGroupMembership"]["contactGroupResourceName"], {}).get("name")
            for m in contact.get("memberships") or []
        )
        return {name for name in names if name and name != "myContacts"}

    def customer_emails(self) -> set[str]:
        return {
            e["email"]
            for c in self.kustomer.customers(self.subdomain, include_deleted=False)
            for e in c["attributes"].get("emails") or []
        }


@pytest.fixture
def apps(sandbox_server: Any, settings: Any, site: str) -> Apps:
    """A fresh Kustomer org and Google user for this test, with Tandem pointed at the sandbox."""
    from sandbox.kustomer import DEMO_METADATA

    google_base = sandbox_server.base_url("google_contacts")
    settings.KUSTOMER_BASE_URL_TEMPLATE = sandbox_server.base_url("kustomer") + "/{subdomain}"
    settings.GOOGLE_OAUTH_AUTHORIZE_URL = google_base + "/o/oauth2/v2/auth"
    settings.GOOGLE_OAUTH_TOKEN_URL = google_base + "/token"
    settings.GOOGLE_PEOPLE_BASE_URL = google_base
    settings.GOOGLE_OAUTH_CLIENT_ID = "tandem-demo"
    settings.GOOGLE_OAUTH_CLIENT_SECRET = "tandem-demo-secret"
    kustomer = sandbox_server.emulator("kustomer")
    google = sandbox_server.emulator("google_contacts")
    subdomain = f"b{uuid.uuid4().hex[:12]}"
    email = f"ops@{subdomain}.example"
    password = f"kustomer-{uuid.uuid4().hex[:10]}"
    kustomer.create_org(subdomain, users=[(email, password)], metadata=DEMO_METADATA)
    google_email = f"{subdomain}@gmail.example"
    google.add_user(google_email)
    return Apps(sandbox_server, kustomer, google, subdomain, email, password, google_email)


def running_connection(apps: Apps, email: str = "kim@acme.example") -> Connection:
    """Kim's workspace "Acme" with a Kustomer (email + password) and a Google account on the
    sandbox and a two-way connection between them that has synced once."""
    user = UserFactory(email=email, password=PASSWORD)
    workspace = WorkspaceFactory(name="Acme", slug="acme")
    MembershipFactory(workspace=workspace, user=user, role=Membership.Role.OWNER)
    kustomer = connected_account_authorize(
        workspace=workspace,
        app="kustomer",
        credentials={
            "subdomain": apps.subdomain,
            "email": apps.kustomer_email,
            "password": apps.kustomer_password,
        },
    )
    tokens = apps.google.issue_tokens(apps.google_email)
    google = connected_account_upsert(
        workspace=workspace,
        app="google_contacts",
        label=apps.google_email,
        credentials={"refresh_token": tokens["refresh_token"], "email": apps.google_email},
    )
    connection = connection_create_for_accounts(
        workspace=workspace, account_a=kustomer, account_b=google
    )
    apps.add_customer("Ann Archer", "ann@acme.example")
    tasks.sync_connection_task.delay(connection.pk)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    return connection


def log_in(page: Any, email: str, password: str = PASSWORD) -> None:
    """Sign in through the login page and land on the connections list."""
    page.goto(reverse("accounts:login"))
    page.get_by_label(re.compile("email", re.I)).fill(email)
    page.get_by_label(re.compile("password", re.I)).fill(password)
    page.get_by_role("button", name=re.compile("log in|sign in", re.I)).click()
    page.wait_for_load_state()
