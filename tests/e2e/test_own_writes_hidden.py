"""Kustomer ↔ Google over real HTTP: Kustomer's change feed leaves out what Tandem's machine user
modified last, and no person's edit is lost for it.

- Edits made on both apps at any moment of the scan (before any one of its API calls) reach the
  other app within the next two runs.
- A person's edit that lands between Tandem's read of a customer and its PATCH is read again by
  id on the next run (``sync/recheck.py``), though the feed no longer shows that customer.
- The first run after a scan reads none of the customers Tandem wrote in Kustomer.
- With two connections on one Kustomer account, one's writes still reach the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from accounts.services import connected_account_upsert
from integrations.models import Connection, RecheckRecord, SyncRun
from integrations.services import connection_create_for_accounts
from sandbox.kustomer import ALL_ROLES, DEMO_METADATA
from tests.e2e.conftest import Pair, person

pytestmark = pytest.mark.django_db

# Ann and Bob are on both apps (the scan links them and adds Bob's Google phone in Kustomer),
# Cy only in Kustomer, Di only in Google (the scan creates each on the other side). A person
# edits Ann and Di in Kustomer and Bob and Cy in Google: Di and Cy once Tandem made them there.
KUSTOMER_EDITED = ("ann@acme.example", "di@acme.example")
GOOGLE_EDITED = ("bob@acme.example", "cy@acme.example")


def seed(pair: Pair) -> None:
    pair.add_customer("Ann Lee", "ann@acme.example", company="Ann Co")
    pair.add_contact(person("Ann", "Lee", "ann@acme.example", company="Ann Co"))
    pair.add_customer("Bob Ray", "bob@acme.example")
    pair.add_contact(person("Bob", "Ray", "bob@acme.example", phone="+32 9 111 22 33"))
    pair.add_customer("Cy Oh", "cy@acme.example")
    pair.add_contact(person("Di", "Fox", "di@acme.example"))


def company_in_kustomer(pair: Pair, email: str) -> str:
    return str(pair.customer_by_email(email).get("company") or "")


def company_in_google(pair: Pair, email: str) -> str:
    organizations = pair.contact_by_email(email).get("organizations") or [{}]
    return str(organizations[0].get("name") or "")


def before_each_request(
    monkeypatch: pytest.MonkeyPatch, emulator: Any, act: Callable[[Request], None]
) -> None:
    """Call ``act`` with each API request ``emulator`` takes, before it is handled (in the
    server's thread: what a person does in the app between two of Tandem's calls)."""
    handle = emulator.dispatch

    def dispatch(request: Request) -> Response:
        act(request)
        response: Response = handle(request)
        return response

    monkeypatch.setattr(emulator, "dispatch", dispatch)


def edit_on_both_apps(pair: Pair, label: str) -> set[tuple[str, str]]:
    """The company of each record then holding one of the emails to edit; ``(app, email)``
    edited."""
    edited = set()
    for email in KUSTOMER_EDITED:
        for customer in pair.customers():
            if email in [e["email"] for e in customer.get("emails") or []]:
                pair.kustomer.update_customer(pair.subdomain, customer["id"], {"company": label})
                edited.add(("kustomer", email))
    for email in GOOGLE_EDITED:
        for contact in pair.contacts():
            if email in [e["value"] for e in contact.get("emailAddresses") or []]:
                pair.google.edit_contact(
                    pair.google_email, contact["resourceName"], organizations=[{"name": label}]
                )
                edited.add(("google", email))
    return edited


def another_pair(pair: Pair, n: int) -> Pair:
    """A fresh Kustomer org and Google user, with their accounts, in ``pair``'s workspace."""
    subdomain = f"{pair.subdomain}n{n}"
    api_key = f"key-{subdomain}"
    pair.kustomer.create_org(subdomain, api_keys={api_key: ALL_ROLES}, metadata=DEMO_METADATA)
    google_email = f"{subdomain}@gmail.example"
    pair.google.add_user(google_email)
    tokens = pair.google.issue_tokens(google_email)
    account_a = connected_account_upsert(
        workspace=pair.workspace,
        app="kustomer",
        label=f"{subdomain}.kustomerapp.com",
        credentials={"subdomain": subdomain, "api_key": api_key},
    )
    account_b = connected_account_upsert(
        workspace=pair.workspace,
        app="google_contacts",
        label=google_email,
        credentials={"refresh_token": tokens["refresh_token"]},
    )
    return Pair(
        pair.kustomer, pair.google, subdomain, google_email, pair.workspace, account_a, account_b
    )


def scan_editing_before_call(
    pair: Pair, monkeypatch: pytest.MonkeyPatch, at_call: int
) -> tuple[Connection, set[tuple[str, str]], bool]:
    """Scan with the edits made just before the scan's ``at_call``-th API call (either app's),
    or just after the scan when it made fewer calls; the edits made, and whether the scan made
    that many calls."""
    seed(pair)
    connection = pair.connect()
    calls = 0
    edited: set[tuple[str, str]] = set()

    def act(request: Request) -> None:
        nonlocal calls
        calls += 1
        if calls == at_call:
            edited.update(edit_on_both_apps(pair, f"Edited before call {at_call}"))

    with monkeypatch.context() as patch:
        before_each_request(patch, pair.kustomer, act)
        before_each_request(patch, pair.google, act)
        scan = pair.sync(connection)
    assert scan.phase == SyncRun.Phase.SCAN
    assert scan.outcome == SyncRun.Outcome.SUCCESS, scan.error
    if calls < at_call:
        edited.update(edit_on_both_apps(pair, f"Edited before call {at_call}"))
    return connection, edited, calls >= at_call


def test_an_edit_made_before_any_call_of_the_scan_or_after_it_reaches_the_other_app(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_call = 0
    tried: set[tuple[str, str]] = set()
    while True:
        at_call += 1
        assert at_call < 100, "the scan should take fewer calls"
        fresh = another_pair(pair, at_call)
        connection, edited, during = scan_editing_before_call(fresh, monkeypatch, at_call)
        tried |= edited
        fresh.sync(connection)
        fresh.sync(connection)
        label = f"Edited before call {at_call}"
        for app, email in edited:
            there = company_in_google if app == "kustomer" else company_in_kustomer
            assert there(fresh, email) == label, (app, email, at_call)
        if not during:
            break  # the edits came after the scan's last call
    assert at_call > 5, "the scan made too few calls to put edits between them"
    # Records Tandem itself made were edited too (their last modifier was Tandem's user).
    assert {("kustomer", "di@acme.example"), ("google", "cy@acme.example")} <= tried


def test_an_edit_between_tandems_read_and_its_patch_is_read_again(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = pair.add_customer("Carl Cole", "carl@acme.example", company="Old Co")
    connection = pair.connect()
    pair.sync(connection)
    contact = pair.contact_by_email("carl@acme.example")
    pair.google.edit_contact(
        pair.google_email, contact["resourceName"], organizations=[{"name": "New Co"}]
    )
    raced = []

    def act(request: Request) -> None:
        if request.method == "PATCH" and re.search(f"/customers/{customer}$", request.path):
            pair.kustomer.update_customer(
                pair.subdomain, customer, {"phones": [{"type": "mobile", "phone": "+3291234567"}]}
            )
            raced.append(request.path)

    with monkeypatch.context() as patch:
        before_each_request(patch, pair.kustomer, act)
        pair.sync(connection)
    assert raced, "Tandem never sent the PATCH the edit was to race"
    assert company_in_kustomer(pair, "carl@acme.example") == "New Co"
    assert list(RecheckRecord.objects.filter(connection=connection).values_list("record_id")) == [
        (customer,)
    ]
    run = pair.sync(connection)
    phones = pair.contact_by_email("carl@acme.example").get("phoneNumbers") or []
    assert [p["value"] for p in phones] == ["+3291234567"]
    # Read by id: the feed itself no longer shows the customer, Tandem modified it last.
    assert run.api_calls_by_kind.get("a: get customer") == 1
    assert not RecheckRecord.objects.filter(connection=connection).exists()


def test_the_first_run_after_a_scan_reads_none_of_tandems_kustomer_writes(pair: Pair) -> None:
    seed(pair)
    connection = pair.connect()
    scan = pair.sync(connection)
    assert (scan.created_a, scan.updated_a) == (1, 1)  # Di created, Bob's phone added
    run = pair.sync(connection)
    assert run.phase == SyncRun.Phase.INCREMENTAL
    assert run.read_a == 0
    kustomer_calls = {k: v for k, v in run.api_calls_by_kind.items() if k.startswith("a: ")}
    assert kustomer_calls == {"a: customer metadata": 1, "a: search customers": 1}


def test_a_shared_kustomer_accounts_feed_still_shows_tandems_writes(pair: Pair) -> None:
    # A second Google account synced with the same Kustomer org: what the first connection
    # writes in Kustomer is a change the second must carry on.
    seed(pair)
    first = pair.connect()
    other_email = f"other-{pair.google_email}"
    pair.google.add_user(other_email)
    tokens = pair.google.issue_tokens(other_email)
    other_google = connected_account_upsert(
        workspace=pair.workspace,
        app="google_contacts",
        label=other_email,
        credentials={"refresh_token": tokens["refresh_token"]},
    )
    second = connection_create_for_accounts(
        workspace=pair.workspace, account_a=pair.account_a, account_b=other_google
    )
    pair.sync(first)
    pair.sync(second)
    contact = pair.contact_by_email("ann@acme.example")
    pair.google.edit_contact(
        pair.google_email, contact["resourceName"], organizations=[{"name": "Via Kustomer"}]
    )
    pair.sync(first)
    pair.sync(second)
    (carried,) = [
        c
        for c in pair.google.contacts(other_email)
        if "ann@acme.example" in [e["value"] for e in c.get("emailAddresses") or []]
    ]
    assert carried["organizations"][0]["name"] == "Via Kustomer"
