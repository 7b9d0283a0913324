"""Sync: Tandem's initial and incremental Kustomer <-> Google Contacts runs against the
in-process emulators, next to "the floor": a bare script making only the HTTP calls the same
outcome cannot do without.

Each size N gets a fresh org and Google user: N customers and N contacts drawn from
``demo_people`` so that half of each side shares an email with the other (every fifth shared
person carries an extra phone on the Kustomer side, so it differs). The emulators' rate limits
are raised out of reach: the figures measure Tandem, not throttling. Emulators and Tandem share
one process, so peak RSS includes the emulators' in-memory data.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from bench.common import Table, peak_rss_mb, timed
from integrations.sandbox.demo_people import DemoPerson, demo_people

CHANGES_PER_SIDE = 50
UNLIMITED = 10**9
GOOGLE_FIELDS = "names,emailAddresses,phoneNumbers,organizations,userDefined"
CLIENT_ID, CLIENT_SECRET = "tandem-demo", "tandem-demo-secret"


# ---- data sets ------------------------------------------------------------------------------


def _customer(person: DemoPerson, index: int, *, extra_phone: bool) -> dict[str, Any]:
    phones = list(person.phones)
    if extra_phone:
        phones.append(f"+1 555 {index % 1000:03d} {index % 10000:04d}")
    attrs: dict[str, Any] = {
        "name": person.full_name,
        "emails": [{"type": "work", "email": e} for e in person.emails],
        "phones": [{"type": "mobile", "phone": p} for p in phones],
        "custom": {"loyaltyTierStr": ("bronze", "silver", "gold")[index % 3]},
    }
    if person.company:
        attrs["company"] = person.company
    return attrs


def _contact(person: DemoPerson, index: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "names": [{"givenName": person.first_name, "familyName": person.last_name}],
        "emailAddresses": [{"value": e, "type": "work"} for e in person.emails],
        "phoneNumbers": [{"value": p, "type": "work"} for p in person.phones],
        "userDefined": [{"key": "loyaltyTier", "value": ("bronze", "silver", "gold")[index % 3]}],
    }
    if person.company:
        body["organizations"] = [{"name": person.company, "title": person.job_title}]
    return body


@dataclass
class World:
    sandbox: Any
    kustomer: Any
    google: Any
    subdomain: str
    api_key: str
    google_email: str
    refresh_token: str
    customers: int
    contacts: int


def seed(sandbox: Any, n: int, seed_value: int = 42) -> World:
    """N customers and N contacts, half of each shared by email, through the control API."""
    from integrations.sandbox.kustomer import ALL_ROLES, DEMO_METADATA, ApiError

    kustomer, google = sandbox.emulator("kustomer"), sandbox.emulator("google_contacts")
    subdomain = f"b{uuid.uuid4().hex[:12]}"
    api_key = f"key-{uuid.uuid4().hex}"
    kustomer.create_org(subdomain, api_keys={api_key: ALL_ROLES}, metadata=DEMO_METADATA)
    kustomer.set_rate_limit(subdomain, UNLIMITED, search_per_minute=UNLIMITED)
    if hasattr(google, "quota_per_minute"):
        google.quota_per_minute = 0  # the People API per-user quota knob: 0 is unlimited
    email = f"{subdomain}@gmail.example"
    google.add_user(email)
    tokens = google.issue_tokens(email)
    people = demo_people(n + n // 2, seed=seed_value)
    customers = contacts = 0
    for index, person in enumerate(people[:n]):
        shared = index >= n // 2
        try:
            kustomer.add_customer(
                subdomain, _customer(person, index, extra_phone=shared and index % 5 == 0)
            )
            customers += 1
        except ApiError:  # a phone drawn twice: Kustomer refuses the duplicate, as in the API
            continue
    for index, person in enumerate(people[n // 2 :], start=n // 2):
        google.add_contact(email, _contact(person, index))
        contacts += 1
    return World(
        sandbox, kustomer, google, subdomain, api_key, email, tokens["refresh_token"],
        customers, contacts,
    )  # fmt: skip


# ---- Tandem ---------------------------------------------------------------------------------


def connect(world: World) -> int:
    from accounts.models import Workspace
    from accounts.services import connected_account_upsert
    from integrations.services import connection_create_for_accounts

    workspace = Workspace.objects.create(name="Bench sync", slug=f"bench-{world.subdomain}")
    account_a = connected_account_upsert(
        workspace=workspace,
        app="kustomer",
        label=f"{world.subdomain}.kustomerapp.com",
        credentials={"subdomain": world.subdomain, "api_key": world.api_key},
    )
    account_b = connected_account_upsert(
        workspace=workspace,
        app="google_contacts",
        label=world.google_email,
        credentials={"refresh_token": world.refresh_token},
    )
    connection = connection_create_for_accounts(
        workspace=workspace, account_a=account_a, account_b=account_b
    )
    return int(connection.pk)


@dataclass
class Measured:
    wall: float
    cpu: float
    calls: int
    by_kind: dict[str, int]
    outcome: str
    rss_before: float
    rss_after: float


def tandem_sync(connection_id: int) -> Measured:
    from integrations.services.runs import connection_sync

    rss = peak_rss_mb()
    with timed() as t:
        run = connection_sync(connection_id=connection_id)
    assert run is not None, "another run holds the lease"
    return Measured(
        t.wall,
        t.cpu,
        int(run.api_calls),
        dict(run.api_calls_by_kind or {}),
        str(run.outcome),
        rss,
        peak_rss_mb(),
    )


def side_calls(by_kind: dict[str, int], side: str) -> int:
    return sum(v for k, v in by_kind.items() if k.startswith(f"{side}:"))


def kinds(by_kind: dict[str, int]) -> str:
    return ", ".join(f"{k.split(': ', 1)[1]} {v}" for k, v in sorted(by_kind.items()))


# ---- the floor ------------------------------------------------------------------------------


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def floor_sync(world: World) -> tuple[float, dict[str, int]]:
    """The unavoidable calls for the same outcome, no sync logic: one token refresh, every page
    of both sides once at the largest page size, the missing records created in the largest
    batches (Google 200 per batchCreateContacts; Kustomer 100 per bulk job: the POST and one
    read of its results), the shared records that differ updated once (Google 200 per
    batchUpdateContacts, Kustomer one PATCH each)."""
    k_base = f"{world.sandbox.base_url('kustomer')}/{world.subdomain}/v1"
    g_base = world.sandbox.base_url("google_contacts")
    calls = {"a": 0, "b": 0}
    session = requests.Session()
    started = time.perf_counter()

    calls["b"] += 1
    token = session.post(
        f"{g_base}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": world.refresh_token,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    ).json()["access_token"]
    g_auth = {"Authorization": f"Bearer {token}"}
    k_auth = {"Authorization": f"Bearer {world.api_key}"}

    # Kustomer: search at 500 a page (the list endpoint stops at 100 a page).
    customers: list[dict[str, Any]] = []
    body = {"queryContext": "customer", "sort": [{"customer_updated_at": "asc"}]}
    page = 1
    while True:
        calls["a"] += 1
        out = session.post(
            f"{k_base}/customers/search",
            params={"page": page, "pageSize": 500},
            json=body,
            headers=k_auth,
        ).json()
        customers += out["data"]
        if not (out.get("links") or {}).get("next"):
            break
        page += 1
    contacts: list[dict[str, Any]] = []
    page_token = ""
    while True:
        calls["b"] += 1
        params = {"personFields": GOOGLE_FIELDS, "pageSize": 1000}
        if page_token:
            params["pageToken"] = page_token
        out = session.get(f"{g_base}/v1/people/me/connections", params=params, headers=g_auth)
        data = out.json()
        contacts += data.get("connections") or []
        page_token = data.get("nextPageToken") or ""
        if not page_token:
            break

    by_email_k = {
        e["email"].lower(): c for c in customers for e in c["attributes"].get("emails") or []
    }
    by_email_g = {e["value"].lower(): c for c in contacts for e in c.get("emailAddresses") or []}
    to_google = []
    seen_k: set[str] = set()
    for email, customer in by_email_k.items():
        if email not in by_email_g and customer["id"] not in seen_k:
            seen_k.add(customer["id"])
            attrs = customer["attributes"]
            first, _, last = str(attrs.get("name") or "").partition(" ")
            to_google.append(
                {
                    "contactPerson": {
                        "names": [{"givenName": first, "familyName": last}],
                        "emailAddresses": [{"value": e["email"]} for e in attrs["emails"]],
                        "phoneNumbers": [{"value": p["phone"]} for p in attrs.get("phones") or []],
                    }
                }
            )
    to_kustomer = []
    seen_g: set[str] = set()
    google_updates: dict[str, dict[str, Any]] = {}
    kustomer_updates: dict[str, dict[str, Any]] = {}
    for email, contact in by_email_g.items():
        name = contact["resourceName"]
        customer = by_email_k.get(email)
        if customer is None:
            if name not in seen_g:
                seen_g.add(name)
                given = (contact.get("names") or [{}])[0]
                to_kustomer.append(
                    {
                        "name": f"{given.get('givenName', '')} {given.get('familyName', '')}",
                        "emails": [{"email": e["value"]} for e in contact["emailAddresses"]],
                        "phones": [
                            {"phone": p["value"]} for p in contact.get("phoneNumbers") or []
                        ],
                    }
                )
            continue
        k_phones = {_digits(p["phone"]): p["phone"] for p in customer["attributes"]["phones"]}
        g_phones = {_digits(p["value"]): p["value"] for p in contact.get("phoneNumbers") or []}
        if set(k_phones) - set(g_phones) and name not in google_updates:
            merged = [{"value": v} for v in {**g_phones, **k_phones}.values()]
            google_updates[name] = {"etag": contact["etag"], "phoneNumbers": merged}
        if set(g_phones) - set(k_phones) and customer["id"] not in kustomer_updates:
            merged_k = [{"phone": v} for v in {**k_phones, **g_phones}.values()]
            kustomer_updates[customer["id"]] = {"phones": merged_k}

    for start in range(0, len(to_google), 200):
        calls["b"] += 1
        response = session.post(
            f"{g_base}/v1/people:batchCreateContacts",
            json={"contacts": to_google[start : start + 200], "readMask": "names"},
            headers=g_auth,
        )
        response.raise_for_status()
    updates = list(google_updates.items())
    for start in range(0, len(updates), 200):
        calls["b"] += 1
        response = session.post(
            f"{g_base}/v1/people:batchUpdateContacts",
            json={
                "contacts": dict(updates[start : start + 200]),
                "updateMask": "phoneNumbers",
                "readMask": "names",
            },
            headers=g_auth,
        )
        response.raise_for_status()
    bulk_max = world.kustomer.bulk_max
    for start in range(0, len(to_kustomer), bulk_max):
        calls["a"] += 2
        job = session.post(
            f"{k_base}/customers/bulk", json=to_kustomer[start : start + bulk_max], headers=k_auth
        )
        job.raise_for_status()
        session.get(
            f"{k_base}/bulk/{job.json()['data']['id']}/batches", headers=k_auth
        ).raise_for_status()
    for customer_id, patch in kustomer_updates.items():
        calls["a"] += 1
        session.patch(
            f"{k_base}/customers/{customer_id}", json=patch, headers=k_auth
        ).raise_for_status()
    return time.perf_counter() - started, calls


# ---- incremental changes --------------------------------------------------------------------


def make_changes(world: World, tag: str) -> tuple[list[str], list[str]]:
    """50 edits on each side, spread over the linked records (a new company name); returns
    the companies written on Kustomer and on Google, to check they arrive on the other side."""
    customers = [
        c for c in world.kustomer.customers(world.subdomain) if not c["attributes"].get("deleted")
    ]
    contacts = world.google.contacts(world.google_email)
    step_k = max(1, len(customers) // CHANGES_PER_SIDE)
    step_g = max(1, len(contacts) // CHANGES_PER_SIDE)
    to_google, to_kustomer = [], []
    # Kustomer edits take the even slots, Google edits the odd ones, so no pair is edited twice.
    for i, customer in enumerate(customers[::step_k][:CHANGES_PER_SIDE]):
        company = f"K-{tag}-{i}"
        world.kustomer.update_customer(world.subdomain, customer["id"], {"company": company})
        to_google.append(company)
    picked = contacts[step_g // 2 :: step_g][:CHANGES_PER_SIDE]
    for i, contact in enumerate(picked):
        company = f"G-{tag}-{i}"
        world.google.edit_contact(
            world.google_email, contact["resourceName"], organizations=[{"name": company}]
        )
        to_kustomer.append(company)
    return to_google, to_kustomer


def arrived(world: World, to_google: list[str], to_kustomer: list[str]) -> tuple[int, int]:
    g_companies = {
        o.get("name")
        for c in world.google.contacts(world.google_email)
        for o in c.get("organizations") or []
    }
    k_companies = {
        c["attributes"].get("company") for c in world.kustomer.customers(world.subdomain)
    }
    return (
        sum(1 for c in to_google if c in g_companies),
        sum(1 for c in to_kustomer if c in k_companies),
    )


# ---- the benchmark --------------------------------------------------------------------------


def run(quick: bool) -> tuple[list[Table], str]:
    from django.test.utils import override_settings

    from integrations.models import RecordLink
    from integrations.sandbox.server import Sandbox

    sizes = [1_000] if quick else [1_000, 10_000]
    if os.environ.get("BENCH_SYNC_SIZES"):  # opt-in, e.g. "1000,100000": beyond make bench's budget
        sizes = [int(size) for size in os.environ["BENCH_SYNC_SIZES"].split(",")]
    werkzeug_log = logging.getLogger("werkzeug")
    log_level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)  # one access-log line per request otherwise
    sandbox = Sandbox(slugs=["kustomer", "google_contacts"]).start()
    google_base = sandbox.base_url("google_contacts")
    overrides = override_settings(
        KUSTOMER_BASE_URL_TEMPLATE=sandbox.base_url("kustomer") + "/{subdomain}",
        GOOGLE_OAUTH_TOKEN_URL=google_base + "/token",
        GOOGLE_PEOPLE_BASE_URL=google_base,
        GOOGLE_OAUTH_CLIENT_ID=CLIENT_ID,
        GOOGLE_OAUTH_CLIENT_SECRET=CLIENT_SECRET,
        HTTP_BACKOFF_BASE=0.01,
    )
    initial = Table(
        "Sync, initial: N customers <-> N contacts, 50% shared by email, one connection_sync "
        "(emulator rate limits raised out of reach: Tandem, not throttling, is measured)",
        ["N per side", "outcome", "wall s", "CPU s", "records/s", "calls Kustomer",
         "calls Google", "calls by kind", "peak RSS MB"],
    )  # fmt: skip
    floor = Table(
        "Sync, the floor: a bare requests script, same data set, same outcome, no sync logic",
        ["N per side", "floor wall s", "floor calls K", "floor calls G", "Tandem/floor wall",
         "Tandem/floor calls"],
    )  # fmt: skip
    incremental = Table(
        f"Sync, incremental: {2 * CHANGES_PER_SIDE} changes ({CHANGES_PER_SIDE} per side) "
        "after the initial sync and one idle sync",
        ["N per side", "linked", "idle calls", "idle wall s", "changes calls", "changes wall s",
         "calls by kind", "arrived K->G", "arrived G->K", "peak RSS MB"],
    )  # fmt: skip
    ratios: dict[int, tuple[float, float]] = {}
    inc: dict[int, Measured] = {}
    try:
        with overrides:
            for n in sizes:
                world = seed(sandbox, n)
                connection_id = connect(world)
                first = tandem_sync(connection_id)
                records = world.customers + world.contacts
                initial.add(
                    n,
                    first.outcome,
                    first.wall,
                    first.cpu,
                    records / first.wall,
                    side_calls(first.by_kind, "a"),
                    side_calls(first.by_kind, "b"),
                    kinds(first.by_kind),
                    first.rss_after,
                )
                twin = seed(sandbox, n)
                floor_wall, floor_calls = floor_sync(twin)
                floor_total = sum(floor_calls.values())
                ratios[n] = (first.wall / floor_wall, first.calls / floor_total)
                floor.add(
                    n,
                    floor_wall,
                    floor_calls["a"],
                    floor_calls["b"],
                    f"x{ratios[n][0]:.2f}",
                    f"x{ratios[n][1]:.2f} ({first.calls:,}/{floor_total:,})",
                )
                idle = tandem_sync(connection_id)
                to_google, to_kustomer = make_changes(world, f"{n}")
                changed = tandem_sync(connection_id)
                inc[n] = changed
                got_g, got_k = arrived(world, to_google, to_kustomer)
                incremental.add(
                    n,
                    RecordLink.objects.filter(connection_id=connection_id).count(),
                    idle.calls,
                    idle.wall,
                    changed.calls,
                    changed.wall,
                    kinds(changed.by_kind),
                    f"{got_g}/{len(to_google)}",
                    f"{got_k}/{len(to_kustomer)}",
                    changed.rss_after,
                )
    finally:
        sandbox.stop()
        werkzeug_log.setLevel(log_level)
    big, small = max(sizes), min(sizes)
    summary = (
        f"sync: initial@{big:,} calls x{ratios[big][1]:.2f} floor, wall x{ratios[big][0]:.2f} "
        f"floor | incremental calls@{small:,}={inc[small].calls}"
        + (f", @{big:,}={inc[big].calls}" if big != small else "")
        + f", time ratio {big:,}/{small:,} x{inc[big].wall / inc[small].wall:.2f}"
        + f" | peak RSS {peak_rss_mb():.0f} MB"
    )
    return [initial, floor, incremental], summary
