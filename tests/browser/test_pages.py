"""Every customer page, as a browser renders it: labelled inputs, and nothing wider than a phone."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from integrations.models import Rule
from tests.browser.conftest import PHONE, Apps, log_in, running_connection, unlabelled_inputs

pytestmark = pytest.mark.browser


def customer_pages(apps: Apps) -> list[str]:
    """The pages a signed-in owner of a running connection can open."""
    connection = running_connection(apps)
    rule = Rule.objects.filter(connection=connection).first()
    assert rule is not None
    pk = connection.pk
    return [
        reverse("integrations:home"),
        reverse("integrations:connection_new"),
        reverse("integrations:connection_new_accounts") + "?app_a=kustomer&app_b=google_contacts",
        reverse("integrations:connection_detail", args=[pk]),
        reverse("integrations:connection_rules", args=[pk]),
        reverse("integrations:rule_new", args=[pk]),
        reverse("integrations:rule_edit", args=[pk, rule.pk]),
        reverse("integrations:connection_mappings", args=[pk]),
        reverse("integrations:connection_options", args=[pk]),
        reverse("integrations:connection_review", args=[pk]),
        reverse("integrations:connection_delete", args=[pk]),
        reverse("integrations:apps"),
        reverse("integrations:app_detail", args=["kustomer"]),
        reverse("accounts:connected_accounts"),
        reverse("accounts:connected_account_new", args=["kustomer"]),
        reverse("accounts:connected_account_reauthorize", args=[connection.account_a_id]),
        reverse("accounts:team"),
    ]


ANONYMOUS_PAGES = ["accounts:login", "accounts:signup", "accounts:password_reset"]


def visit(page: Any, paths: list[str], check: Any) -> dict[str, Any]:
    problems = {}
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, f"{path} answered {response.status}"
        found = check(page)
        if found:
            problems[path] = found
    return problems


def wider_than_screen(page: Any) -> int:
    """How many pixels the page is wider than the viewport (0: no sideways scrolling)."""
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


def test_it_labels_every_input_of_the_customer_pages(page: Any, apps: Apps) -> None:
    pages = customer_pages(apps)
    anonymous = visit(page, [reverse(name) for name in ANONYMOUS_PAGES], unlabelled_inputs)
    log_in(page, "kim@acme.example")
    signed_in = visit(page, pages, unlabelled_inputs)

    assert anonymous == {}
    assert signed_in == {}


def test_it_fits_every_customer_page_in_a_phone_screen(page: Any, apps: Apps) -> None:
    pages = customer_pages(apps)
    page.set_viewport_size(PHONE)
    anonymous = visit(page, [reverse(name) for name in ANONYMOUS_PAGES], wider_than_screen)
    log_in(page, "kim@acme.example")
    signed_in = visit(page, pages, wider_than_screen)

    assert anonymous == {}
    assert signed_in == {}
