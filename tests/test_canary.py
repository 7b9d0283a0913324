"""A canary secret through every flow never appears anywhere but its encrypted column.

Alice's workspace holds a Kustomer account signed in by a canary password, one with a canary
API key and a Google account connected through the OAuth flow with Tandem's canary client
secret (its authorization code, refresh and access tokens and Kustomer's session token are
canaries too). Then every flow runs: a successful sync and failing ones (the
sandbox answering errors; an app whose error quotes the request's key), run as Celery
messages through a real Celery app on an in-memory broker; the debug page and the error email
of a crash while credentials are in hand; notification, invitation and password-reset emails;
every admin changelist and change page; every customer page. Everything these leave behind is
searched: the broker's message bodies, the task results, every log record at DEBUG from every
logger, the emails, the pages, and every column of every table except the encrypted credential
column, whose raw bytes must not hold the plaintext either.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import connection as db
from django.test import Client
from django.urls import reverse

from accounts.models import ConnectedAccount, Invitation, User, Workspace
from accounts.services import connected_account_upsert
from config.celery_app import app as celery_app
from integrations import tasks
from integrations.models import Connection, FieldMapping, Rule, SyncRun
from integrations.services import connection_create_for_accounts
from sandbox.kustomer import ALL_ROLES, DEMO_METADATA
from tests.test_tenant_isolation import customer_routes

pytestmark = pytest.mark.django_db

# The encrypted column, excluded from the search by name; its raw bytes are checked apart.
CREDENTIAL_COLUMNS = {("accounts_connectedaccount", "credentials")}


def canary(kind: str) -> str:
    # Built at run time: a debug page quotes source lines, and no line may hold the canary.
    return "-".join(("canary", kind, uuid.uuid4().hex[:16]))


class Search:
    """Where the canaries were looked for (by kind of place), and where they were found."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.places: Counter[str] = Counter()
        self.hits: list[str] = []

    def look(self, kind: str, place: str, text: str | bytes) -> None:
        body = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        self.places[kind] += 1
        self.hits += [f"{place}: {secret[:14]}…" for secret in self.secrets if secret in body]


class Everything(logging.Handler):
    """Every record of every logger, whatever its level or propagation."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self, record: logging.LogRecord) -> str:
        exc = self.formatter.formatException(record.exc_info) if record.exc_info else ""
        return f"{record.getMessage()} {record.__dict__!r} {exc}"


@pytest.fixture
def every_log() -> Iterator[Everything]:
    handler = Everything()
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    levels = [(logger, logger.level, logger.disabled) for logger in loggers]
    # The console would print every DEBUG line of the run: it is muted meanwhile.
    consoles = [
        (h, h.level)
        for logger in loggers
        for h in logger.handlers
        if type(h) is logging.StreamHandler  # the console, not pytest's nor the mail handler
    ]
    for console, _ in consoles:
        console.setLevel(logging.CRITICAL + 1)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is logging.getLogger() or not logger.propagate:
            logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger, level, disabled in levels:
            logger.setLevel(level)
            logger.disabled = disabled
            logger.removeHandler(handler)
        for console, level in consoles:
            console.setLevel(level)


class Broker:
    """The project's Celery app on an in-memory broker: each message is read back from the
    queue as the bytes a worker would get, then run by Celery's own tracer with its result kept
    in an in-memory result backend."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.results: list[str] = []

    def send_and_run(self, task: Any, *args: Any) -> None:
        task.delay(*args)
        self.run_queued()

    def run_queued(self, most: int = 50) -> None:
        """Run what is queued (and what that queues), ``most`` messages at most."""
        with celery_app.connection_for_read() as conn:
            queue = conn.SimpleQueue(celery_app.conf.task_default_queue, no_ack=True)
            try:
                for _ in range(most):
                    try:
                        message = queue.get(block=False)
                    except queue.Empty:
                        break
                    self.bodies.append(
                        message.body + json.dumps(message.headers, default=str).encode()
                    )
                    run_args, run_kwargs, _ = message.payload
                    task_id = message.headers["id"]
                    received = celery_app.tasks[message.headers["task"]]
                    received.apply(run_args, run_kwargs, task_id=task_id, ignore_result=False)
                    self.results.append(repr(celery_app.backend.get_task_meta(task_id)))
            finally:
                queue.close()


@pytest.fixture
def broker() -> Iterator[Broker]:
    conf = celery_app.conf
    saved = {k: conf[k] for k in ("task_always_eager", "broker_url", "result_backend",
                                  "task_store_eager_result", "result_extended")}  # fmt: skip
    conf.update(
        task_always_eager=False,
        broker_url="memory://",
        result_backend="cache+memory://",
        task_store_eager_result=True,
        result_extended=True,
    )
    celery_app._pool = None
    celery_app._local.__dict__.pop("backend", None)
    try:
        yield Broker()
    finally:
        conf.update(saved)
        celery_app._pool = None
        celery_app._local.__dict__.pop("backend", None)


class Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echoing_kustomer() -> Iterator[str]:
    """A Kustomer that refuses every request with an error quoting the request's own
    Authorization header, as some APIs do."""

    def answer(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        body = {
            "errors": [{"status": "403", "title": "Forbidden", "detail": f"{auth} lacks a role"}]
        }
        start_response("403 Forbidden", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    httpd = make_server("127.0.0.1", 0, answer, handler_class=Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}" + "/{subdomain}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def cache_entries() -> Iterator[bytes | str]:
    """Every value the default cache holds, raw: the local-memory cache's pickles, or the
    values under this cache's key prefix on Redis (the PostgreSQL + Redis CI pass)."""
    backend = caches["default"]
    if isinstance(backend, LocMemCache):
        yield from (repr(value) for value in backend._cache.values())  # type: ignore[attr-defined]
    elif isinstance(backend, RedisCache):
        client = backend._cache.get_client()
        for key in client.scan_iter(match=backend.make_key("*")):
            value = client.get(key)
            if value is not None:
                yield value
    else:
        raise AssertionError(f"The canary cannot read a {type(backend).__name__} cache.")


def rows_of_every_table() -> Iterator[tuple[str, str, Any]]:
    with db.cursor() as cursor:
        for table in db.introspection.table_names(cursor):
            columns = [c.name for c in db.introspection.get_table_description(cursor, table)]
            quoted = ", ".join(db.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {db.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    # PostgreSQL hands binary columns (bytea) over as memoryview.
                    yield table, column, bytes(value) if isinstance(value, memoryview) else value


def authorize_google(browser: Client, workspace: Workspace, email: str) -> str:
    """Connect ``email``'s Google account as a customer does; the authorization code."""
    start = browser.get(reverse("connectors:connect", args=["google_contacts"]),
                        {"workspace": workspace.pk})  # fmt: skip
    assert start.status_code == 302
    authorize_url = str(start["Location"])
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    consent = requests.post(
        authorize_url.split("?")[0],
        data={**params, "email": email, "decision": "approve"},
        allow_redirects=False,
        timeout=5,
    )
    assert consent.status_code == 302
    answer = {k: v[0] for k, v in parse_qs(urlsplit(consent.headers["Location"]).query).items()}
    callback = browser.get(urlsplit(consent.headers["Location"]).path, answer)
    assert callback.status_code == 302, callback.content[:500]
    return answer["code"]


def customer_urls(workspace: Workspace) -> list[str]:
    """Every customer page of ``workspace``, its ids filled in by what each argument names."""
    connections = list(Connection.objects.filter(workspace=workspace))
    ids = {
        "connections/": [c.pk for c in connections],
        "accounts/": list(
            ConnectedAccount.objects.filter(workspace=workspace).values_list("pk", flat=True)
        ),
        "team/invitations/": list(
            Invitation.objects.filter(workspace=workspace).values_list("pk", flat=True)
        ),
    }
    second = {
        "rule_pk": lambda c: list(Rule.objects.filter(connection=c).values_list("pk", flat=True)),
        "mapping_pk": lambda c: list(
            FieldMapping.objects.filter(connection=c).values_list("pk", flat=True)[:3]
        ),
    }
    words = {"app": ["kustomer", "google_contacts"], "slug": ["kustomer", "google_contacts"]}
    urls = []
    for route in customer_routes():
        if set(route.other_args) - set(words):
            continue  # the token links are followed from the emails that carry them
        if not route.int_args:
            fills = [{arg: word} for arg in route.other_args for word in words[arg]] or [{}]
            for fill in fills:
                path = route.pattern
                for arg, word in fill.items():
                    path = re.sub(rf"<\w+:{arg}>", word, path)
                urls.append("/" + path)
            continue
        (prefix,) = [p for p in ids if route.pattern.startswith(p)]
        for first in ids[prefix]:
            if len(route.int_args) == 1:
                urls.append(route.url(first))
                continue
            (name,) = route.int_args[1:]
            connection = Connection.objects.get(pk=first)
            urls += [route.url(first, other) for other in second[name](connection)]
    return urls


def test_it_keeps_a_canary_secret_out_of_every_flow(
    sandbox_server: Any,
    settings: Any,
    acme: Workspace,
    alice: User,
    broker: Broker,
    every_log: Everything,
    echoing_kustomer: str,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    kustomer = sandbox_server.emulator("kustomer")
    google = sandbox_server.emulator("google_contacts")
    sandbox_kustomer = sandbox_server.base_url("kustomer") + "/{subdomain}"
    settings.KUSTOMER_BASE_URL_TEMPLATE = sandbox_kustomer
    google_base = sandbox_server.base_url("google_contacts")
    settings.GOOGLE_OAUTH_AUTHORIZE_URL = google_base + "/o/oauth2/v2/auth"
    settings.GOOGLE_OAUTH_TOKEN_URL = google_base + "/token"
    settings.GOOGLE_PEOPLE_BASE_URL = google_base
    # Tandem's own OAuth client secret is one more canary.
    client_id, client_secret = f"tandem-{uuid.uuid4().hex[:8]}", canary("clientsecret")
    google.add_client(client_id, client_secret)
    settings.GOOGLE_OAUTH_CLIENT_ID = client_id
    settings.GOOGLE_OAUTH_CLIENT_SECRET = client_secret
    search = Search()
    browser = Client()
    browser.force_login(alice)

    # The canaries, stored in connected accounts.
    password, api_key = canary("password"), canary("apikey")
    north, south = f"n{uuid.uuid4().hex[:10]}", f"s{uuid.uuid4().hex[:10]}"
    kustomer.create_org(north, users=[("ops@north.example", password)], metadata=DEMO_METADATA)
    kustomer.create_org(south, api_keys={api_key: ALL_ROLES}, metadata=DEMO_METADATA)
    kustomer.add_customer(north, {"name": "Ann North", "emails": [{"email": "ann@north.example"}]})
    google_email = f"{north}@gmail.example"
    google.add_user(google_email)
    by_password = connected_account_upsert(
        workspace=acme, app="kustomer", label="north",
        credentials={"subdomain": north, "email": "ops@north.example", "password": password},
    )  # fmt: skip
    by_key = connected_account_upsert(
        workspace=acme, app="kustomer", label="south",
        credentials={"subdomain": south, "api_key": api_key},
    )  # fmt: skip
    # Google through the OAuth flow: consent on the emulator, then the callback's exchange.
    code = authorize_google(browser, acme, google_email)
    by_oauth = ConnectedAccount.objects.get(workspace=acme, app="google_contacts")
    refresh_token = by_oauth.get_credentials()["refresh_token"]
    search.secrets += [password, api_key, client_secret, code, refresh_token]
    working = connection_create_for_accounts(
        workspace=acme, account_a=by_password, account_b=by_oauth
    )
    echoed = connection_create_for_accounts(workspace=acme, account_a=by_key, account_b=by_oauth)

    def run(connection: Connection) -> SyncRun:
        Connection.objects.filter(pk=connection.pk).update(next_sync_at=None)
        with django_capture_on_commit_callbacks(execute=True):
            broker.send_and_run(tasks.sync_connection_task, connection.pk)
        return SyncRun.objects.filter(connection=connection).latest("id")

    # A successful run, through the broker.
    assert run(working).outcome == "success"
    assert "ann@north.example" in str(google.contacts(google_email))
    minted = ConnectedAccount.objects.get(pk=by_password.pk).get_credentials().get("token")
    access = ConnectedAccount.objects.get(pk=by_oauth.pk).get_credentials().get("access_token")
    assert minted and access, "the apps should have minted a session and an access token"
    search.secrets += [str(minted), str(access)]
    # The message a customer's "Sync now" queues.
    sent = len(broker.bodies)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(reverse("integrations:connection_sync_now", args=[working.pk]))
    broker.run_queued()
    assert len(broker.bodies) == sent + 1
    # A run whose app quotes the request's key in its error.
    settings.KUSTOMER_BASE_URL_TEMPLATE = echoing_kustomer
    failed = run(echoed)
    assert failed.outcome == "failed" and "lacks a role" in failed.error
    settings.KUSTOMER_BASE_URL_TEMPLATE = sandbox_kustomer
    # Runs the apps fail: Kustomer answers 500s; then Google refuses the account, which its
    # owners are told by email.
    kustomer.fail_next(30, 500)
    assert run(working).outcome == "failed"
    kustomer.faults.clear()
    google.revoke(google_email)
    assert run(working).outcome == "failed"
    # The dispatcher's message too.
    broker.send_and_run(tasks.dispatch_due_connections_task)

    # Emails: an invitation and a password reset (the notifications were sent above).
    browser.post(reverse("accounts:team"), {"email": "new@acme.example", "role": "member"})
    Client().post(reverse("accounts:password_reset"), {"email": alice.email})
    kinds = {m.subject for m in mail.outbox}
    assert len(kinds) >= 3, kinds

    # A crash while credentials are in hand: the DEBUG page, then the error email.
    root = User.objects.create_superuser(email="root@tandem.example", password="x")
    ops = Client(raise_request_exception=False)
    ops.force_login(root)

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("unexpected failure deep in the HTTP stack")

    accounts = [by_password.pk, by_key.pk, by_oauth.pk]
    verify = {"action": "verify_selected", ACTION_CHECKBOX_NAME: accounts}
    with monkeypatch.context() as patch:
        patch.setattr(requests.Session, "request", explode)
        settings.DEBUG = True
        crashed = ops.post(reverse("admin:accounts_connectedaccount_changelist"), verify)
        assert crashed.status_code == 500 and "Local vars" in crashed.content.decode()
        search.look("debug pages", "the admin's verify action", crashed.content)
        page = Client(raise_request_exception=False)
        page.force_login(alice)
        new_account = {"subdomain": north, "email": "ops@north.example", "password": password}
        crashed = page.post(reverse("accounts:connected_account_new", args=["kustomer"]),
                            new_account)  # fmt: skip
        assert crashed.status_code == 500 and "Local vars" in crashed.content.decode()
        search.look("debug pages", "adding an account", crashed.content)
        settings.DEBUG = False
        settings.ADMINS = [("Ops", "ops@tandem.example")]
        mailed = len(mail.outbox)
        ops.post(reverse("admin:accounts_connectedaccount_changelist"), verify)
        assert len(mail.outbox) == mailed + 1, "the crash is reported by email"

    # Every admin changelist and change page.
    for model in admin.site._registry:
        base = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        response = ops.get(reverse(f"{base}_changelist"))
        assert response.status_code == 200, model
        search.look("admin pages", f"admin {model._meta.label} list", response.content)
        for obj in model._default_manager.order_by("pk")[:5]:
            response = ops.get(reverse(f"{base}_change", args=[obj.pk]))
            assert response.status_code == 200, (model, obj.pk)
            search.look("admin pages", f"admin {model._meta.label} {obj.pk}", response.content)
    # Every customer page, and the links the emails carry.
    links = [
        link
        for link in re.findall(r"https?://[^\s\"'<>]+", " ".join(m.body for m in mail.outbox))
        if "/invite/" in link or "/password-reset/" in link
    ]
    assert len(links) == 2, links
    for url in [*customer_urls(acme), *links]:
        response = browser.get(url, follow=True)
        if response.status_code == 200:
            search.look("customer pages", f"page {url}", response.content)
    assert search.places["customer pages"] >= 20

    # The broker's messages and the task results.
    for body in broker.bodies:
        search.look("broker messages", "a message on the broker", body)
    for result in broker.results:
        search.look("task results", "a task result", result)
    assert len(broker.bodies) >= 6 and len(broker.results) == len(broker.bodies)
    # Emails.
    print("\ncanary: emails:", sorted(m.subject for m in mail.outbox))
    for message in mail.outbox:
        search.look("emails", f"email {message.subject}", message.message().as_string())
    # Log records.
    for record in every_log.records:
        search.look("log records", f"log {record.name}", every_log.text(record))
    assert any(r.levelno == logging.DEBUG for r in every_log.records)
    # The database, every column but the encrypted one; sessions and the cache decoded.
    stored = []
    for table, column, value in rows_of_every_table():
        if (table, column) in CREDENTIAL_COLUMNS:
            stored.append(value)
            continue
        text = value if isinstance(value, bytes) else str(value)
        search.look("database cells", f"database {table}.{column}", text)
        if (table, column) == ("django_session", "session_data"):
            search.look("database cells", "a session", repr(SessionStore().decode(value)))
    for value in cache_entries():
        search.look("cache entries", "the cache", value)

    where = ", ".join(f"{kind} {n}" for kind, n in sorted(search.places.items()))
    print(f"\ncanary: {len(search.hits)} hits in {search.places.total()} places searched ({where})")
    assert search.hits == [], "\n".join(search.hits)
    # The credential column holds the canaries only encrypted.
    assert len(stored) == 3
    for raw in stored:
        raw_text = raw.decode() if isinstance(raw, bytes) else str(raw)
        assert not raw_text.lstrip().startswith("{"), "credentials are stored encrypted"
        assert not [secret for secret in search.secrets if secret in raw_text]
