"""Tenant isolation and CSRF, generated from the URL conf.

Every customer URL that takes an object id is requested by alice with the ids of bob's objects.
Bob's workspace, accounts, connection, rules, mappings, runs ... all carry the same primary key,
so whatever model a URL's id names, it names one of bob's rows. Each answer must be 404, and
none of bob's rows may change. No URL is listed by hand: a page added later is covered the day
it is added.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.core import serializers
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import ConnectedAccount, Membership, User, Workspace
from integrations.models import (
    Action,
    Condition,
    Connection,
    FieldMapping,
    RecordIssue,
    RecordLink,
    Rule,
    SyncRun,
)
from tests.factories import UserFactory

BOBS_ID = 4242
ALICES_ID = 5151
CUSTOMER_NAMESPACES = ("accounts", "integrations", "google_contacts")


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str
    int_args: tuple[str, ...]
    other_args: tuple[str, ...]

    def url(self, *values: int) -> str:
        """The path with the int arguments taken from ``values`` in order (the last value
        repeats) and any other argument filled with a word its converter accepts."""
        path = self.pattern
        for position, arg in enumerate(self.int_args):
            path = path.replace(f"<int:{arg}>", str(values[min(position, len(values) - 1)]))
        for arg in self.other_args:
            path = re.sub(rf"<\w+:{arg}>", "kustomer", path)
        return "/" + path


def _walk(
    patterns: list[Any], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, URLPattern, str]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(
                entry.url_patterns,
                prefix + str(entry.pattern),
                entry.namespace or namespace,
            )
        elif isinstance(entry, URLPattern):
            yield namespace, entry, prefix + str(entry.pattern)


def customer_routes() -> list[Route]:
    routes = []
    for namespace, entry, pattern in _walk(get_resolver().url_patterns):
        if namespace not in CUSTOMER_NAMESPACES:
            continue
        converters = getattr(entry.pattern, "converters", {})
        int_args = tuple(
            arg for arg, conv in converters.items() if type(conv).__name__ == "IntConverter"
        )
        others = tuple(arg for arg in converters if arg not in int_args)
        routes.append(Route(f"{namespace}:{entry.name}", pattern, int_args, others))
    return routes


def _routes_with_ids() -> list[Route]:
    return [r for r in customer_routes() if r.int_args and not r.other_args]


def _bobs_rows() -> str:
    models: list[Any] = [
        User, Workspace, Membership, ConnectedAccount, Connection, Rule, Condition, Action,
        FieldMapping, SyncRun, RecordIssue, RecordLink,
    ]  # fmt: skip
    for optional in ("Invitation",):
        with contextlib.suppress(LookupError):
            models.append(apps.get_model("accounts", optional))
    return "\n".join(serializers.serialize("json", m.objects.order_by("pk")) for m in models)


@pytest.fixture
def bobs_world(db: None) -> Workspace:
    """Bob's workspace, where every object has the primary key ``BOBS_ID``."""
    bob = UserFactory(email="bob@globex.example")
    globex = Workspace.objects.create(pk=BOBS_ID, name="Globex", slug="globex")
    Membership.objects.create(pk=BOBS_ID, workspace=globex, user=bob, role="owner")
    account_a = ConnectedAccount.objects.create(
        pk=BOBS_ID, workspace=globex, app="kustomer", label="globex"
    )
    account_b = ConnectedAccount.objects.create(
        workspace=globex, app="google_contacts", label="bob@globex.example"
    )
    connection = Connection.objects.create(
        pk=BOBS_ID, workspace=globex, account_a=account_a, account_b=account_b, status="paused"
    )
    rule = Rule.objects.create(pk=BOBS_ID, connection=connection, direction="a_to_b")
    Condition.objects.create(pk=BOBS_ID, rule=rule, field="email", operator="is set")
    Action.objects.create(pk=BOBS_ID, rule=rule, kind="add_tag", value="vip")
    FieldMapping.objects.create(pk=BOBS_ID, connection=connection, field_a="email", field_b="email")
    SyncRun.objects.create(pk=BOBS_ID, connection=connection, outcome="failed", error="boom")
    RecordIssue.objects.create(
        pk=BOBS_ID, connection=connection, side="a", record_id="r1", target="b", reason="bad"
    )
    RecordLink.objects.create(pk=BOBS_ID, connection=connection, id_a="r1", id_b="p1")
    return globex


@pytest.fixture
def alice_client(bobs_world: Workspace, acme: Workspace, alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def test_it_finds_customer_urls_that_take_ids(db: None) -> None:
    names = {route.name for route in _routes_with_ids()}
    assert "integrations:connection_detail" in names
    assert "accounts:connected_account_reauthorize" in names


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_answers_404_for_another_workspaces_ids_and_changes_nothing(
    alice_client: Client, method: str
) -> None:
    before = _bobs_rows()
    answers = {}
    for route in _routes_with_ids():
        response = getattr(alice_client, method)(route.url(BOBS_ID))
        answers[route.name] = response.status_code
    allowed = {404} if method == "post" else {404, 405}
    wrong = {name: status for name, status in answers.items() if status not in allowed}
    assert answers
    assert wrong == {}
    assert _bobs_rows() == before


def test_it_answers_404_for_another_workspaces_object_under_the_users_own_connection(
    alice_client: Client, acme: Workspace
) -> None:
    account_a = ConnectedAccount.objects.create(workspace=acme, app="kustomer", label="acme")
    account_b = ConnectedAccount.objects.create(
        workspace=acme, app="google_contacts", label="alice@acme.example"
    )
    Connection.objects.create(
        pk=ALICES_ID, workspace=acme, account_a=account_a, account_b=account_b, status="paused"
    )
    before = _bobs_rows()
    nested = [route for route in _routes_with_ids() if len(route.int_args) > 1]
    answers = {
        route.name: alice_client.post(route.url(ALICES_ID, BOBS_ID)).status_code for route in nested
    }
    assert nested
    assert {name: status for name, status in answers.items() if status != 404} == {}
    assert _bobs_rows() == before


def test_it_sends_a_logged_out_visitor_to_log_in_before_any_lookup(
    bobs_world: Workspace,
) -> None:
    client = Client()
    for route in _routes_with_ids():
        response = client.get(route.url(BOBS_ID))
        if response.status_code != 405:
            assert response.status_code == 302, route.name
            assert "/login/" in response["Location"], route.name


def test_it_refuses_every_state_change_without_a_csrf_token(
    bobs_world: Workspace, settings: Any
) -> None:
    bob = User.objects.get(email="bob@globex.example")
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    before = _bobs_rows()
    answers = {}
    for route in customer_routes():
        response = client.post(route.url(BOBS_ID), {"confirm": "yes"})
        answers[route.name] = response.status_code
    accepted = {name: status for name, status in answers.items() if status != 403}
    assert accepted == {}
    assert _bobs_rows() == before
