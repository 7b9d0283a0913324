"""Form behaviour only a browser shows: implicit submission, errors beside the fields."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import ConnectedAccount
from integrations.models import Rule
from tests.browser.conftest import PASSWORD, Apps, label, log_in, running_connection
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.browser


def test_it_saves_a_rule_when_enter_is_pressed_in_a_value(page: Any, apps: Apps) -> None:
    connection = running_connection(apps)
    rule = Rule.objects.get(connection=connection, direction=Rule.Direction.A_TO_B)
    log_in(page, "kim@acme.example")
    page.goto(reverse("integrations:rule_edit", args=[connection.pk, rule.pk]))

    condition = page.get_by_role("group", name="Condition 1")
    condition.get_by_label("Kustomer field").select_option(label="Company (text)")
    condition.get_by_label("Operator").select_option(label="is")
    condition.get_by_label("Value").fill("Acme")
    condition.get_by_label("Value").press("Enter")

    page.wait_for_url(re.compile(r"/rules/$"))
    assert "IF Company is “Acme” THEN sync" in page.locator("main").inner_text()
    assert [(c.field, c.value) for c in rule.conditions.all()] == [("company", "Acme")]


def test_it_shows_a_refused_kustomer_password_on_the_form_and_stores_nothing(
    page: Any, apps: Apps
) -> None:
    user = UserFactory(email="kim@acme.example", password=PASSWORD)
    MembershipFactory(workspace=WorkspaceFactory(name="Acme", slug="acme"), user=user)
    log_in(page, "kim@acme.example")
    page.goto(reverse("accounts:connected_account_new", args=["kustomer"]))

    page.get_by_label(label("Subdomain")).fill(apps.subdomain)
    page.get_by_label(label("Email")).fill(apps.kustomer_email)
    page.get_by_label(label("Password")).fill("not-the-password")
    page.get_by_role("button", name="Check and connect").click()

    assert "the email or password was not accepted" in page.get_by_role("alert").inner_text()
    assert page.get_by_label(label("Password")).input_value() == ""
    assert "not-the-password" not in page.content()
    assert not ConnectedAccount.objects.exists()
