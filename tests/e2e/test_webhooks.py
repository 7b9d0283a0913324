"""Real time over real HTTP: connecting a Kustomer account registers Tandem's receiver (Django's
live server) on the Kustomer emulator; an edit in Kustomer is delivered, signed, to the receiver,
which queues the connection's run (Celery is eager here: the run follows on commit); the contact
reaches the Google emulator long before the poll interval; disconnecting removes the webhook."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from accounts.models import ConnectedAccount, Workspace
from accounts.services import connected_account_disconnect, connected_account_upsert
from config.celery_app import app
from integrations.models import Connection, SyncRun
from integrations.services import connection_create_for_accounts, connection_sync
from integrations.services.connections import connection_delete
from integrations.webhooks.models import WebhookSubscription, url_key_digest
from integrations.webhooks.services import counts
from sandbox.google_contacts import GoogleContactsEmulator
from sandbox.hubspot import add_demo_properties
from sandbox.hubspot.webhooks import HubSpotWebhookEmulator
from sandbox.kustomer import ALL_ROLES, DEMO_METADATA, KustomerEmulator
from sandbox.kustomer.webhooks import ROLE_WEBHOOKS, sender
from sandbox.kustomer.webhooks import hooks as kustomer_hooks
from sandbox.mailchimp.webhooks import MailchimpWebhookEmulator
from tests.e2e.conftest import person
from tests.e2e.test_celery_worker import ROOT, database_url, use_broker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _server_threads_close_their_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live server answers each delivery on a thread of its own; with PostgreSQL's kept
    connections (``CONN_MAX_AGE``) those threads' sessions would outlive the test database."""
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@dataclass
class Live:
    kustomer: KustomerEmulator
    google: GoogleContactsEmulator
    subdomain: str
    api_key: str
    google_email: str
    workspace: Workspace
    kustomer_account: ConnectedAccount
    google_account: ConnectedAccount
    api: str
    public_url: str

    def idle(self, timeout: float = 5.0) -> bool:
        """Every delivery to this org's webhooks made (or given up)."""
        out, org = sender(self.kustomer), self.kustomer.org(self.subdomain)
        return all(out.wait_idle(timeout, h) for h in list(kustomer_hooks(self.kustomer, org)))

    def hooks(self) -> list[dict[str, Any]]:
        response = requests.get(
            f"{self.api}/outbound-webhooks",
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=5,
        )
        response.raise_for_status()
        return list(response.json()["data"])

    def edit(self, customer_id: str, body: dict[str, Any]) -> None:
        """A change in Kustomer through its API, as another integration would make it."""
        response = requests.patch(
            f"{self.api}/customers/{customer_id}",
            json=body,
            headers={"Authorization": "Bearer someone-else"},
            timeout=5,
        )
        response.raise_for_status()

    def contact(self, email: str) -> dict[str, Any] | None:
        for contact in self.google.contacts(self.google_email):
            if email in [e["value"] for e in contact.get("emailAddresses") or []]:
                return dict(contact)
        return None


def wait_for(check: Callable[[], Any], seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds}s")


@pytest.fixture
def live(live_server: Any, sandbox_server: Any, settings: Any, acme: Workspace) -> Iterator[Live]:
    kustomer: KustomerEmulator = sandbox_server.emulator("kustomer")
    google: GoogleContactsEmulator = sandbox_server.emulator("google_contacts")
    settings.TANDEM_PUBLIC_URL = live_server.url
    settings.TANDEM_WEBHOOK_DEBOUNCE_SECONDS = 0
    settings.KUSTOMER_BASE_URL_TEMPLATE = sandbox_server.base_url("kustomer") + "/{subdomain}"
    settings.GOOGLE_OAUTH_TOKEN_URL = sandbox_server.base_url("google_contacts") + "/token"
    settings.GOOGLE_PEOPLE_BASE_URL = sandbox_server.base_url("google_contacts")
    settings.GOOGLE_OAUTH_CLIENT_ID = "tandem-demo"
    settings.GOOGLE_OAUTH_CLIENT_SECRET = "tandem-demo-secret"
    subdomain = f"w{uuid.uuid4().hex[:12]}"
    api_key = f"key-{uuid.uuid4().hex}"
    kustomer.create_org(
        subdomain,
        api_keys={api_key: set(ALL_ROLES) | {ROLE_WEBHOOKS[0]}, "someone-else": ALL_ROLES},
        metadata=DEMO_METADATA,
    )
    google_email = f"{subdomain}@gmail.example"
    google.add_user(google_email)
    tokens = google.issue_tokens(google_email)
    kustomer_account = connected_account_upsert(
        workspace=acme,
        app="kustomer",
        label=f"{subdomain}.kustomerapp.com",
        credentials={"subdomain": subdomain, "api_key": api_key},
    )
    google_account = connected_account_upsert(
        workspace=acme,
        app="google_contacts",
        label=google_email,
        credentials={"refresh_token": tokens["refresh_token"]},
    )
    live = Live(
        kustomer,
        google,
        subdomain,
        api_key,
        google_email,
        acme,
        kustomer_account,
        google_account,
        sandbox_server.base_url("kustomer") + f"/{subdomain}/v1",
        live_server.url,
    )
    yield live
    live.idle()
    for hook_id in list(kustomer_hooks(kustomer, kustomer.org(subdomain))):
        sender(kustomer).forget(hook_id)


def connect(live: Live) -> Connection:
    connection = connection_create_for_accounts(
        workspace=live.workspace, account_a=live.kustomer_account, account_b=live.google_account
    )
    connection_sync(connection_id=connection.pk)  # the first scan, as the beat would start it
    return connection


def test_connecting_an_account_registers_the_receiver_on_kustomer(live: Live) -> None:
    subscription = WebhookSubscription.objects.get(account=live.kustomer_account)
    (hook,) = live.hooks()
    assert hook["id"] == subscription.remote_id
    prefix = f"{live.public_url}/webhooks/kustomer/"
    assert hook["attributes"]["url"].startswith(prefix)
    assert url_key_digest(hook["attributes"]["url"][len(prefix) :].rstrip("/")) == subscription.key
    assert hook["attributes"]["events"] == [
        "kustomer.customer.create",
        "kustomer.customer.update",
    ]
    assert not WebhookSubscription.objects.filter(account=live.google_account).exists()


def test_an_edit_in_kustomer_reaches_google_without_waiting_for_the_poll(live: Live) -> None:
    connection = connect(live)
    customer = live.kustomer.add_customer(
        live.subdomain, {"name": "Ann Lee", "emails": [{"type": "work", "email": "ann@ex.com"}]}
    )
    created = wait_for(lambda: live.contact("ann@ex.com"))
    assert created["names"][0]["familyName"] == "Lee"
    live.edit(customer["id"], {"name": "Ann Park"})
    wait_for(
        lambda: (live.contact("ann@ex.com") or {}).get("names", [{}])[0].get("familyName") == "Park"
    )
    # Nothing else runs it here (no beat): the scan, then one run per delivered edit.
    assert SyncRun.objects.filter(connection=connection).count() == 3
    wait_for(lambda: counts("kustomer").get("accepted") == 2)
    assert set(counts("kustomer")) == {"accepted"}


def test_the_echo_of_tandems_own_write_runs_nothing(live: Live) -> None:
    connection = connect(live)
    live.google.add_contact(live.google_email, person("Bo", "Chen", "bo@ex.com"))
    # Deliveries wait for the end of the run (the tests' SQLite takes one writer at a time).
    sender(live.kustomer).hold()
    try:
        run = connection_sync(connection_id=connection.pk)
    finally:
        sender(live.kustomer).release()
    assert run is not None and run.created_a == 1
    wait_for(lambda: counts("kustomer").get("echo") == 1)
    assert live.idle()
    assert SyncRun.objects.filter(connection=connection).count() == 2
    assert set(counts("kustomer")) == {"echo"}


def test_a_forged_delivery_over_http_is_refused_and_counted(live: Live) -> None:
    (hook,) = live.hooks()
    response = requests.post(
        hook["attributes"]["url"],
        data=b'{"id": "x", "name": "kustomer.customer.update"}',
        headers={"X-Kustomer-Webhook-Signature": "0" * 64, "Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 401
    assert counts("kustomer") == {"forged": 1}


def test_disconnecting_the_account_removes_the_receiver(live: Live) -> None:
    connection = connect(live)
    assert len(live.hooks()) == 1
    connection_delete(connection=connection)
    connected_account_disconnect(account=live.kustomer_account)
    assert live.hooks() == []
    assert not WebhookSubscription.objects.exists()


# ---- Mailchimp ----------------------------------------------------------------------------------


@dataclass
class LiveMailchimp:
    mailchimp: MailchimpWebhookEmulator
    list_id: str
    kustomer: KustomerEmulator
    subdomain: str
    connection: Connection
    mailchimp_account: ConnectedAccount

    def idle(self, timeout: float = 5.0) -> bool:
        out = self.mailchimp.webhook_sender
        ids = list(self.mailchimp.webhooks.get(self.list_id, {}))
        return all(out.wait_idle(timeout, hook_id) for hook_id in ids)

    def customer_name(self, email: str) -> str:
        for customer in self.kustomer.customers(self.subdomain):
            emails = [e["email"] for e in customer["attributes"].get("emails") or []]
            if email in emails:
                return str(customer["attributes"].get("name") or "")
        return ""


@pytest.fixture
def live_mailchimp(
    live_server: Any, sandbox_server: Any, settings: Any, acme: Workspace
) -> Iterator[LiveMailchimp]:
    kustomer: KustomerEmulator = sandbox_server.emulator("kustomer")
    mailchimp: MailchimpWebhookEmulator = sandbox_server.emulator("mailchimp")
    settings.TANDEM_PUBLIC_URL = live_server.url
    settings.TANDEM_WEBHOOK_DEBOUNCE_SECONDS = 0
    settings.KUSTOMER_BASE_URL_TEMPLATE = sandbox_server.base_url("kustomer") + "/{subdomain}"
    settings.MAILCHIMP_BASE_URL_TEMPLATE = sandbox_server.base_url("mailchimp") + "/{dc}/3.0"
    subdomain = f"m{uuid.uuid4().hex[:12]}"
    kustomer_key = f"key-{uuid.uuid4().hex}"
    kustomer.create_org(subdomain, api_keys={kustomer_key: ALL_ROLES}, metadata=DEMO_METADATA)
    account, mailchimp_key = mailchimp.create_account(
        "us7", name=subdomain, login_email=f"{subdomain}@acme.example"
    )
    audience = mailchimp.create_audience(account.user_id, "Customers")
    kustomer_account = connected_account_upsert(
        workspace=acme,
        app="kustomer",
        label=f"{subdomain}.kustomerapp.com",
        credentials={"subdomain": subdomain, "api_key": kustomer_key},
    )
    mailchimp_account = connected_account_upsert(
        workspace=acme,
        app="mailchimp",
        label=f"Customers ({subdomain})",
        credentials={"api_key": mailchimp_key, "list_id": audience.id},
    )
    connection = connection_create_for_accounts(
        workspace=acme, account_a=kustomer_account, account_b=mailchimp_account
    )
    connection_sync(connection_id=connection.pk)
    live = LiveMailchimp(mailchimp, audience.id, kustomer, subdomain, connection, mailchimp_account)
    yield live
    live.idle()
    for hook_id in list(mailchimp.webhooks.get(audience.id, {})):
        mailchimp.webhook_sender.forget(hook_id)


def test_connecting_mailchimp_registers_the_receiver_on_the_audience(
    live_mailchimp: LiveMailchimp,
) -> None:
    subscription = WebhookSubscription.objects.get(account=live_mailchimp.mailchimp_account)
    (hook,) = live_mailchimp.mailchimp.webhooks[live_mailchimp.list_id].values()
    assert subscription.remote_id == f"{live_mailchimp.list_id}/{hook['id']}"
    url_key = hook["url"].rstrip("/").rsplit("/", 1)[1]
    assert "/webhooks/mailchimp/" in hook["url"] and url_key_digest(url_key) == subscription.key
    assert hook["sources"] == {"user": True, "admin": True, "api": False}


def test_an_edit_in_mailchimp_reaches_kustomer_through_its_webhook(
    live_mailchimp: LiveMailchimp,
) -> None:
    mailchimp, list_id = live_mailchimp.mailchimp, live_mailchimp.list_id
    delivered = mailchimp.webhook_sender.stats.delivered
    mailchimp.add_member(
        list_id,
        {
            "email_address": "cy@ex.com",
            "status": "subscribed",
            "merge_fields": {"FNAME": "Cy", "LNAME": "Dunn"},
        },
    )
    wait_for(lambda: live_mailchimp.customer_name("cy@ex.com") == "Cy Dunn")
    mailchimp.edit_member(list_id, "cy@ex.com", {"LNAME": "Ford"})
    wait_for(lambda: live_mailchimp.customer_name("cy@ex.com") == "Cy Ford")
    runs = SyncRun.objects.filter(connection=live_mailchimp.connection).count()
    assert runs == 3  # the scan, then one run per delivered change
    assert live_mailchimp.idle()
    assert mailchimp.webhook_sender.stats.delivered == delivered + 2


def test_tandems_writes_to_mailchimp_are_not_delivered_back(
    live_mailchimp: LiveMailchimp,
) -> None:
    delivered = live_mailchimp.mailchimp.webhook_sender.stats.delivered
    live_mailchimp.kustomer.add_customer(
        live_mailchimp.subdomain,
        {"name": "Di Eng", "emails": [{"type": "work", "email": "di@ex.com"}]},
    )
    connection_sync(connection_id=live_mailchimp.connection.pk)
    assert live_mailchimp.mailchimp.member(live_mailchimp.list_id, "di@ex.com") is not None
    assert live_mailchimp.idle()
    assert live_mailchimp.mailchimp.webhook_sender.stats.delivered == delivered
    assert counts("mailchimp") == {}


# ---- HubSpot ------------------------------------------------------------------------------------

HUBSPOT_APP = "7001"


@dataclass
class LiveHubSpot:
    hubspot: HubSpotWebhookEmulator
    google: GoogleContactsEmulator
    hub_id: int
    google_email: str
    connection: Connection
    hubspot_account: ConnectedAccount
    target: str

    def idle(self, timeout: float = 5.0) -> bool:
        return self.hubspot.webhook_sender.wait_idle(timeout, self.target)

    def family(self, email: str) -> str:
        for contact in self.google.contacts(self.google_email):
            if email in [e["value"] for e in contact.get("emailAddresses") or []]:
                return str(contact["names"][0].get("familyName") or "")
        return ""


@pytest.fixture
def live_hubspot(
    live_server: Any, sandbox_server: Any, settings: Any, acme: Workspace
) -> Iterator[LiveHubSpot]:
    hubspot: HubSpotWebhookEmulator = sandbox_server.emulator("hubspot")
    google: GoogleContactsEmulator = sandbox_server.emulator("google_contacts")
    secret, developer_key = f"secret-{uuid.uuid4().hex}", f"dev-{uuid.uuid4().hex}"
    settings.TANDEM_PUBLIC_URL = live_server.url
    settings.TANDEM_WEBHOOK_DEBOUNCE_SECONDS = 0
    settings.HUBSPOT_BASE_URL = sandbox_server.base_url("hubspot")
    settings.HUBSPOT_OAUTH_TOKEN_URL = sandbox_server.base_url("hubspot") + "/oauth/v1/token"
    settings.HUBSPOT_OAUTH_CLIENT_ID = "tandem-hubspot"
    settings.HUBSPOT_OAUTH_CLIENT_SECRET = secret
    settings.HUBSPOT_APP_ID = HUBSPOT_APP
    settings.HUBSPOT_DEVELOPER_API_KEY = developer_key
    settings.GOOGLE_OAUTH_TOKEN_URL = sandbox_server.base_url("google_contacts") + "/token"
    settings.GOOGLE_PEOPLE_BASE_URL = sandbox_server.base_url("google_contacts")
    settings.GOOGLE_OAUTH_CLIENT_ID = "tandem-demo"
    settings.GOOGLE_OAUTH_CLIENT_SECRET = "tandem-demo-secret"
    hubspot.add_client("tandem-hubspot", secret)
    hubspot.add_webhook_app(int(HUBSPOT_APP), developer_key, secret)
    portal = hubspot.create_portal()
    add_demo_properties(hubspot, portal.hub_id)
    tokens = hubspot.issue_tokens(portal.hub_id)
    google_email = f"h{uuid.uuid4().hex[:12]}@gmail.example"
    google.add_user(google_email)
    hubspot_account = connected_account_upsert(
        workspace=acme,
        app="hubspot",
        label=f"HubSpot {portal.hub_id}",
        credentials={"refresh_token": tokens["refresh_token"]},
    )
    google_account = connected_account_upsert(
        workspace=acme,
        app="google_contacts",
        label=google_email,
        credentials={"refresh_token": google.issue_tokens(google_email)["refresh_token"]},
    )
    connection = connection_create_for_accounts(
        workspace=acme, account_a=hubspot_account, account_b=google_account
    )
    connection_sync(connection_id=connection.pk)
    target = f"{live_server.url}/webhooks/hubspot/app/"
    live = LiveHubSpot(
        hubspot, google, portal.hub_id, google_email, connection, hubspot_account, target
    )
    yield live
    live.idle()
    hubspot.webhook_sender.forget(target)


def test_connecting_hubspot_points_the_apps_webhooks_at_the_receiver(
    live_hubspot: LiveHubSpot,
) -> None:
    subscription = WebhookSubscription.objects.get(account=live_hubspot.hubspot_account)
    assert subscription.remote_id == str(live_hubspot.hub_id)
    app = live_hubspot.hubspot.webhook_apps[HUBSPOT_APP]
    assert app["settings"]["targetUrl"] == live_hubspot.target
    kinds = {(s["eventType"], s["propertyName"]) for s in app["subscriptions"].values()}
    assert {("contact.creation", None), ("contact.propertyChange", "lastname")} <= kinds


def test_an_edit_in_hubspot_reaches_google_through_the_apps_webhook(
    live_hubspot: LiveHubSpot,
) -> None:
    hubspot, hub = live_hubspot.hubspot, live_hubspot.hub_id
    contact = hubspot.add_contact(
        hub, {"email": "hank@ex.com", "firstname": "Hank", "lastname": "Hill"}
    )
    wait_for(lambda: live_hubspot.family("hank@ex.com") == "Hill")
    hubspot.advance_clock(1)
    hubspot.edit_contact(hub, contact["id"], {"lastname": "Hilton"})
    wait_for(lambda: live_hubspot.family("hank@ex.com") == "Hilton")
    assert live_hubspot.idle()
    assert SyncRun.objects.filter(connection=live_hubspot.connection).count() == 3
    assert counts("hubspot").get("accepted") == 2


def test_tandems_writes_to_hubspot_come_back_as_echoes(live_hubspot: LiveHubSpot) -> None:
    live_hubspot.google.add_contact(live_hubspot.google_email, person("Ida", "Ito", "ida@ex.com"))
    # Deliveries wait for the end of the run (the tests' SQLite takes one writer at a time).
    live_hubspot.hubspot.webhook_sender.hold()
    try:
        run = connection_sync(connection_id=live_hubspot.connection.pk)
    finally:
        live_hubspot.hubspot.webhook_sender.release()
    assert run is not None and run.created_a == 1
    assert live_hubspot.idle()
    wait_for(lambda: counts("hubspot").get("echo") == 1)
    assert SyncRun.objects.filter(connection=live_hubspot.connection).count() == 2


# ---- through a real worker ----------------------------------------------------------------------


@pytest.fixture
def real_worker(live: Live, redis_url: str, settings: Any) -> Iterator[subprocess.Popen[str]]:
    """A Celery worker process on Redis and this test's PostgreSQL database; this process (and
    its live server) sends tasks through Redis instead of running them in place."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.faults.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": redis_url,
        "CACHE_URL": redis_url,
        "KUSTOMER_BASE_URL_TEMPLATE": settings.KUSTOMER_BASE_URL_TEMPLATE,
        "GOOGLE_OAUTH_TOKEN_URL": settings.GOOGLE_OAUTH_TOKEN_URL,
        "GOOGLE_PEOPLE_BASE_URL": settings.GOOGLE_PEOPLE_BASE_URL,
        "GOOGLE_OAUTH_CLIENT_ID": settings.GOOGLE_OAUTH_CLIENT_ID,
        "GOOGLE_OAUTH_CLIENT_SECRET": settings.GOOGLE_OAUTH_CLIENT_SECRET,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
         "--loglevel", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    previous = (app.conf.broker_url, app.conf.task_always_eager)
    use_broker(redis_url, eager=False)
    try:
        yield process
    finally:
        use_broker(previous[0], eager=previous[1])
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.mark.postgres
def test_a_real_worker_runs_what_a_delivery_queued(
    live: Live, real_worker: subprocess.Popen[str]
) -> None:
    connection = connect(live)
    customer = live.kustomer.add_customer(
        live.subdomain, {"name": "Wes Work", "emails": [{"type": "work", "email": "wes@ex.com"}]}
    )
    try:
        wait_for(lambda: live.contact("wes@ex.com"), seconds=60)
        live.edit(customer["id"], {"name": "Wes Worker"})
        wait_for(
            lambda: (
                (live.contact("wes@ex.com") or {}).get("names", [{}])[0].get("familyName")
                == "Worker"
            ),
            seconds=60,
        )
    except AssertionError:
        real_worker.terminate()
        pytest.fail(f"the worker said:\n{real_worker.communicate(timeout=20)[0][-3000:]}")
    assert live.idle()
    runs = SyncRun.objects.filter(connection=connection).order_by("started_at")
    wait_for(lambda: not runs.filter(outcome="running").exists())
    assert [r.outcome for r in runs] == ["success", "success", "success"]
    assert counts("kustomer") == {"accepted": 2}
