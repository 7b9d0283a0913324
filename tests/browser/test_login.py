from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from tests.browser.conftest import PASSWORD, unlabelled_inputs
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.browser


def focused_label(page: Any) -> str:
    """The label text of the focused form control, lowercased; "" when no control has focus."""
    return str(
        page.evaluate(
            """() => {
                const el = document.activeElement;
                const controls = ['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON'];
                if (!el || !controls.includes(el.tagName)) return '';
                const label = el.labels && el.labels.length ? el.labels[0].textContent : '';
                return (label || el.getAttribute('aria-label') || el.tagName).trim().toLowerCase();
            }"""
        )
    )


def test_it_serves_the_login_page_styled_with_labelled_inputs(page: Any) -> None:
    stylesheets: list[Any] = []
    page.on(
        "response",
        lambda response: stylesheets.append(response) if response.url.endswith(".css") else None,
    )

    page.goto(reverse("accounts:login"))

    assert [(r.status, r.header_value("content-type").split(";")[0]) for r in stylesheets] == [
        (200, "text/css")
    ]
    # The stylesheet is applied, not only fetched: the page has a background and cards a border.
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert page.locator(".card").first.evaluate("e => getComputedStyle(e).borderStyle") == "solid"
    assert page.get_by_label(re.compile("email", re.I)).is_visible()
    assert page.get_by_label(re.compile("password", re.I)).is_visible()
    assert unlabelled_inputs(page) == []


def test_it_logs_in_with_the_keyboard_only(page: Any) -> None:
    user = UserFactory(email="kim@acme.example", password=PASSWORD)
    MembershipFactory(workspace=WorkspaceFactory(name="Acme", slug="acme"), user=user)
    page.goto(reverse("accounts:login"))
    # Autofocus is applied at a rendering step after the load: two animation frames later it
    # has landed, and no Tab below races it (a Tab pressed just before it landed moved focus
    # on to the password).
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    # Focus starts on the email field (autofocus) or Tab reaches it before any other control.
    for _ in range(20):
        label = focused_label(page)
        if label.startswith("email"):
            break
        assert label == "", f"Tab reached {label!r} before the email"
        page.keyboard.press("Tab")
    else:
        pytest.fail("Tab never reached the email field")
    page.keyboard.type("kim@acme.example")
    page.keyboard.press("Tab")
    assert focused_label(page).startswith("password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
    assert page.get_by_text("kim@acme.example").is_visible()
    assert page.get_by_role("button", name="Log out").is_visible()
