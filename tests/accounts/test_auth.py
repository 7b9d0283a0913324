"""Sign-up, log-in (throttled), log-out and password reset."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.test import Client

from accounts.models import Membership, User, Workspace
from integrations.selectors import CURRENT_WORKSPACE_KEY

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
SIGNUP = {
    "email": "Carol@Initech.example",
    "full_name": "Carol Jones",
    "workspace_name": "Initech",
    "password": "a-long-and-rare-passphrase-42",
}


def _login(client: Client, email: str, password: str, **extra: Any) -> Any:
    return client.post("/login/", {"username": email, "password": password}, **extra)


# ---- sign-up ----------------------------------------------------------------------------------


def test_it_signs_up_a_user_with_a_workspace_they_own_and_logs_them_in(client: Client) -> None:
    response = client.post("/signup/", SIGNUP)

    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(email="carol@initech.example")
    assert user.full_name == "Carol Jones" and user.check_password(SIGNUP["password"])
    membership = Membership.objects.get(user=user)
    assert membership.role == "owner" and membership.workspace.name == "Initech"
    assert membership.workspace.slug == "initech"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.session[CURRENT_WORKSPACE_KEY] == membership.workspace.pk


def test_it_gives_each_new_workspace_a_unique_slug(client: Client, acme: Workspace) -> None:
    client.post("/signup/", {**SIGNUP, "workspace_name": "Acme"})

    workspace = Workspace.objects.get(memberships__user__email="carol@initech.example")
    assert workspace.name == "Acme" and workspace.slug == "acme-2"


def test_it_shows_the_password_validators_errors_beside_the_password(client: Client) -> None:
    response = client.post("/signup/", {**SIGNUP, "password": "12345678"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "This password is too common." in html
    assert re.search(r'id="id_password".*?class="errorlist', html, re.S)
    assert not User.objects.exists() and not Workspace.objects.exists()


def test_it_refuses_an_email_that_already_has_an_account(client: Client, alice: User) -> None:
    response = client.post("/signup/", {**SIGNUP, "email": "ALICE@acme.example"})

    assert response.status_code == 200
    assert b"An account with this email already exists" in response.content
    assert User.objects.count() == 1 and not Workspace.objects.exists()


def test_it_requires_every_sign_up_field(client: Client) -> None:
    response = client.post("/signup/", {"email": "", "password": ""})

    assert response.status_code == 200
    assert response.content.decode().count("This field is required.") == 4
    assert not User.objects.exists()


def test_it_labels_every_sign_up_input(client: Client) -> None:
    html = client.get("/signup/").content.decode()

    for name in ("email", "full_name", "workspace_name", "password"):
        assert f'<label for="id_{name}"' in html
    assert 'type="password"' in html


# ---- log-in and log-out -----------------------------------------------------------------------


def test_it_logs_a_customer_in_and_sends_them_to_their_connections(
    client: Client, alice: User, acme: Workspace
) -> None:
    response = _login(client, "alice@acme.example", PASSWORD)

    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_it_logs_in_whatever_the_case_of_the_email(client: Client, alice: User) -> None:
    response = _login(client, "Alice@ACME.example", PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_it_returns_to_a_safe_next_url_after_logging_in(client: Client, alice: User) -> None:
    response = client.post(
        "/login/?next=/team/", {"username": alice.email, "password": PASSWORD, "next": "/team/"}
    )

    assert response["Location"] == "/team/"


def test_it_ignores_a_next_url_on_another_host(client: Client, alice: User) -> None:
    response = client.post(
        "/login/",
        {"username": alice.email, "password": PASSWORD, "next": "https://evil.example/"},
    )

    assert response["Location"] == "/"


def test_it_refuses_a_wrong_password_with_a_message(client: Client, alice: User) -> None:
    response = _login(client, alice.email, "not the password")

    assert response.status_code == 200
    assert b"That email and password do not match an account." in response.content
    assert "_auth_user_id" not in client.session


def test_it_logs_out_by_post_only(client: Client, alice: User) -> None:
    client.force_login(alice)

    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")

    assert response.status_code == 302 and response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


def test_it_lets_a_non_staff_customer_log_in_where_the_admin_refused_them(
    client: Client, alice: User, acme: Workspace
) -> None:
    assert not alice.is_staff
    _login(client, alice.email, PASSWORD)

    response = client.get("/team/")

    assert response.status_code == 200 and b"Team of Acme" in response.content


# ---- throttling -------------------------------------------------------------------------------


def test_it_refuses_every_attempt_on_an_email_after_five_failures(
    client: Client, alice: User
) -> None:
    for _ in range(5):
        _login(client, alice.email, "guess")

    response = _login(client, alice.email, PASSWORD)

    assert response.status_code == 200
    assert b"Too many failed log-in attempts" in response.content
    assert b"15 minutes" in response.content
    assert "_auth_user_id" not in client.session


def test_it_counts_failures_per_email_across_client_addresses(client: Client, alice: User) -> None:
    for n in range(5):
        _login(client, alice.email, "guess", REMOTE_ADDR=f"10.0.0.{n}")

    response = _login(client, alice.email, PASSWORD, REMOTE_ADDR="10.0.1.1")

    assert b"Too many failed log-in attempts" in response.content


def test_it_refuses_a_client_address_that_tried_many_emails(
    client: Client, alice: User, settings: Any
) -> None:
    settings.TANDEM_LOGIN_FAILURES_PER_IP = 3
    for n in range(3):
        _login(client, f"someone{n}@acme.example", "guess", REMOTE_ADDR="10.9.9.9")

    blocked = _login(client, alice.email, PASSWORD, REMOTE_ADDR="10.9.9.9")
    elsewhere = _login(Client(), alice.email, PASSWORD, REMOTE_ADDR="10.9.9.10")

    assert b"Too many failed log-in attempts" in blocked.content
    assert elsewhere.status_code == 302


def test_it_lets_an_email_in_again_after_the_window(
    client: Client, alice: User, settings: Any
) -> None:
    from django.core.cache import cache

    for _ in range(5):
        _login(client, alice.email, "guess")
    cache.clear()  # the window's keys expire

    response = _login(client, alice.email, PASSWORD)

    assert response.status_code == 302


def test_it_forgets_an_emails_failures_after_a_successful_log_in(
    client: Client, alice: User
) -> None:
    for _ in range(4):
        _login(client, alice.email, "guess")
    _login(client, alice.email, PASSWORD)
    client.post("/logout/")
    for _ in range(4):
        _login(client, alice.email, "guess")

    response = _login(client, alice.email, PASSWORD)

    assert response.status_code == 302


def test_it_counts_a_proxied_client_by_the_address_its_proxy_saw(
    client: Client, alice: User, settings: Any
) -> None:
    settings.TANDEM_TRUSTED_PROXY_COUNT = 1
    settings.TANDEM_LOGIN_FAILURES_PER_IP = 3
    for n in range(3):
        # The client invents the left part of the header; the proxy appends what it saw.
        _login(
            client,
            f"someone{n}@acme.example",
            "guess",
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.9",
        )

    same_client = _login(
        Client(), alice.email, PASSWORD, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    other_client = _login(
        Client(), alice.email, PASSWORD, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7"
    )

    assert b"Too many failed log-in attempts" in same_client.content
    assert other_client.status_code == 302


def test_it_lets_an_email_in_again_once_its_password_was_reset(
    client: Client, alice: User, mailoutbox: list[Any]
) -> None:
    for _ in range(5):
        _login(client, alice.email, "guess", REMOTE_ADDR=f"10.1.1.{_}")
    client.post("/password-reset/", {"email": alice.email})
    link = re.search(r"http://testserver(/password-reset/\S+/\S+/)", mailoutbox[0].body)
    assert link is not None
    form_page = client.get(link.group(1), follow=True)
    new = "brand-new-passphrase-77"
    client.post(form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})

    response = _login(client, alice.email, new)

    assert response.status_code == 302


# ---- password reset ---------------------------------------------------------------------------


def test_it_emails_a_password_reset_link_that_sets_a_new_password(
    client: Client, alice: User, mailoutbox: list[Any]
) -> None:
    response = client.post("/password-reset/", {"email": "alice@acme.example"})

    assert response.status_code == 302 and response["Location"] == "/password-reset/sent/"
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["alice@acme.example"]
    link = re.search(r"http://testserver(/password-reset/\S+/\S+/)", mailoutbox[0].body)
    assert link is not None
    form_page = client.get(link.group(1), follow=True)
    assert b"Choose a new password" in form_page.content and b'name="new_password1"' in (
        form_page.content
    )
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "brand-new-passphrase-77", "new_password2": "brand-new-passphrase-77"},
    )
    assert done["Location"] == "/password-reset/done/"
    alice.refresh_from_db()
    assert alice.check_password("brand-new-passphrase-77")


def test_it_says_the_same_for_an_unknown_email_and_sends_nothing(
    client: Client, mailoutbox: list[Any]
) -> None:
    response = client.post("/password-reset/", {"email": "nobody@nowhere.example"})

    assert response["Location"] == "/password-reset/sent/"
    assert mailoutbox == []


def test_it_refuses_a_tampered_reset_link(client: Client, alice: User) -> None:
    response = client.get("/password-reset/MQ/set-password-bogus/", follow=True)

    assert b"This link is invalid" in response.content


# ---- CSRF -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/signup/", "/login/", "/logout/", "/password-reset/"])
def test_it_refuses_a_post_without_a_csrf_token(url: str, alice: User) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(url, {**SIGNUP, "username": alice.email, "password": PASSWORD})

    assert response.status_code == 403
    assert User.objects.count() == 1


def test_it_signs_up_with_a_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/signup/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None

    response = client.post("/signup/", {**SIGNUP, "csrfmiddlewaretoken": token.group(1)})

    assert response.status_code == 302


def test_it_does_not_show_a_typed_password_back(client: Client, alice: User) -> None:
    canary = "canary-Pw-7e1d9"

    signup = client.post("/signup/", {**SIGNUP, "workspace_name": "", "password": canary})
    login = _login(client, alice.email, canary)

    assert canary.encode() not in signup.content
    assert canary.encode() not in login.content


def test_it_keeps_a_typed_password_out_of_the_debug_error_page(
    client: Client, alice: User, settings: Any, monkeypatch: Any
) -> None:
    # Not a literal: the debug page quotes the test's own source around the crash.
    canary = f"canary-{uuid.uuid4().hex}"

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr("django.contrib.auth.forms.authenticate", crash)
    settings.DEBUG = True
    client.raise_request_exception = False

    response = _login(client, alice.email, canary)

    assert response.status_code == 500 and b"RuntimeError" in response.content
    assert canary.encode() not in response.content
