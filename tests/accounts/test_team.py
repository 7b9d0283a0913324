"""The team page, invitations and the workspace switcher."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Invitation, Membership, User, Workspace
from integrations.selectors import CURRENT_WORKSPACE_KEY
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def alice_client(client: Client, alice: User, acme: Workspace) -> Client:
    client.force_login(alice)
    return client


def _invite(client: Client, email: str, role: str = "member") -> Any:
    return client.post("/team/", {"email": email, "role": role})


def _accept_path(message: Any) -> str:
    found = re.search(r"https?://[^/\s]+(/invite/[^/\s]+/)", message.body)
    assert found is not None, message.body
    return found.group(1)


def test_it_lists_the_members_with_their_roles(alice_client: Client, acme: Workspace) -> None:
    MembershipFactory(
        workspace=acme, user=UserFactory(email="dan@acme.example", full_name="Dan"), role="member"
    )

    html = alice_client.get("/team/").content.decode()

    assert "alice@acme.example" in html and "dan@acme.example" in html
    assert "Owner" in html and "Member" in html


def test_it_sends_an_invitation_by_email_with_the_accept_link(
    alice_client: Client, acme: Workspace, alice: User, mailoutbox: list[Any]
) -> None:
    response = _invite(alice_client, "Erin@Acme.example", "admin")

    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.email == "erin@acme.example" and invitation.role == "admin"
    assert invitation.invited_by == alice and invitation.workspace == acme
    assert invitation.expires_at > timezone.now() + dt.timedelta(days=6)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["erin@acme.example"]
    assert "Acme" in mailoutbox[0].subject
    path = _accept_path(mailoutbox[0])
    assert path.split("/")[2] not in invitation.token_hash  # only a hash is stored


def test_it_creates_the_invited_persons_account_on_accepting(
    alice_client: Client, acme: Workspace, mailoutbox: list[Any]
) -> None:
    _invite(alice_client, "erin@acme.example", "admin")
    path = _accept_path(mailoutbox[0])
    visitor = Client()

    page = visitor.get(path)
    response = visitor.post(path, {"full_name": "Erin Stone", "password": "erins-own-passphrase-9"})

    assert b"Create your account for" in page.content
    assert response.status_code == 302
    erin = User.objects.get(email="erin@acme.example")
    assert erin.check_password("erins-own-passphrase-9") and erin.full_name == "Erin Stone"
    assert Membership.objects.get(user=erin).role == "admin"
    assert visitor.session["_auth_user_id"] == str(erin.pk)
    assert visitor.session[CURRENT_WORKSPACE_KEY] == acme.pk
    assert Invitation.objects.get().accepted_at is not None


def test_it_adds_an_existing_logged_in_user_on_accepting(
    alice_client: Client, acme: Workspace, bob: User, globex: Workspace, mailoutbox: list[Any]
) -> None:
    _invite(alice_client, bob.email)
    path = _accept_path(mailoutbox[0])
    bobs = Client()
    bobs.force_login(bob)

    page = bobs.get(path)
    response = bobs.post(path)

    assert b"You are logged in as" in page.content
    assert response.status_code == 302
    assert set(bob.workspaces.values_list("name", flat=True)) == {"Acme", "Globex"}
    assert Membership.objects.get(user=bob, workspace=acme).role == "member"
    assert bobs.session[CURRENT_WORKSPACE_KEY] == acme.pk


def test_it_asks_an_existing_user_to_log_in_before_accepting(
    alice_client: Client, bob: User, mailoutbox: list[Any]
) -> None:
    _invite(alice_client, bob.email)
    path = _accept_path(mailoutbox[0])
    visitor = Client()

    page = visitor.get(path)
    response = visitor.post(path, {"full_name": "Not Bob", "password": "whatever-pass-123"})

    assert b"Log in to accept" in page.content
    assert f"/login/?next={path.replace('/', '%2F')}" in page.content.decode()
    assert response.status_code == 200 and not Membership.objects.filter(user=bob).exists()


def test_it_accepts_an_invitation_only_once(
    alice_client: Client, bob: User, mailoutbox: list[Any]
) -> None:
    _invite(alice_client, "erin@acme.example")
    path = _accept_path(mailoutbox[0])
    Client().post(path, {"full_name": "Erin", "password": "erins-own-passphrase-9"})

    again = Client().get(path)

    assert again.status_code == 410 and b"not valid" in again.content


def test_it_refuses_an_expired_invitation(alice_client: Client, mailoutbox: list[Any]) -> None:
    _invite(alice_client, "erin@acme.example")
    Invitation.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    path = _accept_path(mailoutbox[0])

    response = Client().post(path, {"full_name": "Erin", "password": "erins-own-passphrase-9"})

    assert response.status_code == 410
    assert not User.objects.filter(email="erin@acme.example").exists()


def test_it_answers_404_for_an_unknown_invitation_token(client: Client) -> None:
    response = client.get("/invite/not-a-real-token/")

    assert response.status_code == 404


def test_it_shows_password_errors_beside_the_field_when_accepting(
    alice_client: Client, mailoutbox: list[Any]
) -> None:
    _invite(alice_client, "erin@acme.example")
    path = _accept_path(mailoutbox[0])

    response = Client().post(path, {"full_name": "Erin", "password": "password"})

    assert response.status_code == 200 and b"This password is too common." in response.content
    assert not User.objects.filter(email="erin@acme.example").exists()
    assert Invitation.objects.get().accepted_at is None


def test_it_replaces_a_pending_invitation_of_the_same_email(
    alice_client: Client, mailoutbox: list[Any]
) -> None:
    _invite(alice_client, "erin@acme.example")
    _invite(alice_client, "erin@acme.example", "admin")

    first = Client().get(_accept_path(mailoutbox[0]))
    second = Client().get(_accept_path(mailoutbox[1]))

    assert Invitation.objects.count() == 1
    assert first.status_code == 404 and second.status_code == 200


def test_it_refuses_to_invite_a_member_again(
    alice_client: Client, alice: User, mailoutbox: list[Any]
) -> None:
    response = _invite(alice_client, alice.email)

    assert response.status_code == 200
    assert b"is already a member of Acme" in response.content
    assert not Invitation.objects.exists() and mailoutbox == []


def test_it_shows_a_bad_invitation_email_beside_the_field(alice_client: Client) -> None:
    response = _invite(alice_client, "not-an-email")

    html = response.content.decode()
    assert "Enter a valid email address." in html
    assert re.search(r'id="id_email".*?class="errorlist', html, re.S)
    assert not Invitation.objects.exists()


def test_it_lets_a_member_see_the_team_but_not_invite(
    client: Client, acme: Workspace, mailoutbox: list[Any]
) -> None:
    dan = UserFactory(email="dan@acme.example")
    MembershipFactory(workspace=acme, user=dan, role="member")
    client.force_login(dan)

    page = client.get("/team/")
    response = _invite(client, "erin@acme.example")

    assert page.status_code == 200 and b"alice@acme.example" in page.content
    assert b"Send the invitation" not in page.content
    assert response.status_code == 403
    assert not Invitation.objects.exists() and mailoutbox == []


def test_it_lets_only_an_owner_invite_an_owner(
    client: Client, acme: Workspace, mailoutbox: list[Any]
) -> None:
    erin = UserFactory(email="erin@acme.example")
    MembershipFactory(workspace=acme, user=erin, role="admin")
    client.force_login(erin)

    response = _invite(client, "frank@acme.example", "owner")

    assert response.status_code == 200 and b"Select a valid choice" in response.content
    assert not Invitation.objects.exists()


def test_it_withdraws_a_pending_invitation(alice_client: Client, mailoutbox: list[Any]) -> None:
    _invite(alice_client, "erin@acme.example")
    invitation = Invitation.objects.get()

    alice_client.post(f"/team/invitations/{invitation.pk}/revoke/")

    assert not Invitation.objects.exists()
    assert Client().get(_accept_path(mailoutbox[0])).status_code == 404


def test_it_hides_another_workspaces_invitation(
    alice_client: Client, globex: Workspace, bob: User
) -> None:
    theirs = Invitation.objects.create(
        workspace=globex,
        email="x@globex.example",
        token_hash="0" * 64,
        invited_by=bob,
        expires_at=timezone.now() + dt.timedelta(days=1),
    )

    response = alice_client.post(f"/team/invitations/{theirs.pk}/revoke/")

    assert response.status_code == 404 and Invitation.objects.filter(pk=theirs.pk).exists()


def test_it_refuses_an_invitation_without_a_csrf_token(
    alice: User, acme: Workspace, mailoutbox: list[Any]
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = _invite(client, "erin@acme.example")

    assert response.status_code == 403 and not Invitation.objects.exists()


# ---- the workspace switcher -------------------------------------------------------------------


def test_it_shows_a_switcher_only_to_a_member_of_several_workspaces(
    alice_client: Client, alice: User, globex: Workspace
) -> None:
    single = alice_client.get("/team/").content.decode()
    MembershipFactory(workspace=globex, user=alice, role="member")
    several = alice_client.get("/team/").content.decode()

    assert 'name="workspace"' not in single
    assert 'name="workspace"' in several and "Globex" in several


def test_it_switches_the_current_workspace(
    alice_client: Client, alice: User, globex: Workspace
) -> None:
    MembershipFactory(workspace=globex, user=alice, role="member")

    response = alice_client.post("/workspaces/switch/", {"workspace": globex.pk, "next": "/team/"})
    page = alice_client.get("/team/")

    assert response["Location"] == "/team/"
    assert alice_client.session[CURRENT_WORKSPACE_KEY] == globex.pk
    assert b"Team of Globex" in page.content


def test_it_refuses_to_switch_to_a_workspace_the_user_is_not_in(
    alice_client: Client, acme: Workspace, globex: Workspace
) -> None:
    response = alice_client.post("/workspaces/switch/", {"workspace": globex.pk})

    assert response.status_code == 404
    assert alice_client.session.get(CURRENT_WORKSPACE_KEY) != globex.pk


def test_it_goes_home_after_switching_when_next_is_no_path(
    alice_client: Client, alice: User, globex: Workspace
) -> None:
    MembershipFactory(workspace=globex, user=alice, role="member")

    response = alice_client.post("/workspaces/switch/", {"workspace": globex.pk, "next": "home"})

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_it_asks_for_a_workspace_name_when_none_is_given(alice_client: Client) -> None:
    before = Workspace.objects.count()

    response = alice_client.post("/workspaces/new/", {"name": "   "}, follow=True)

    assert b"Name your workspace." in response.content
    assert Workspace.objects.count() == before


def test_it_refuses_a_workspace_name_with_a_nul_character(alice_client: Client) -> None:
    before = Workspace.objects.count()

    response = alice_client.post("/workspaces/new/", {"name": "Nul\x00Co"}, follow=True)

    assert b"cannot contain a NUL character" in response.content
    assert Workspace.objects.count() == before


def test_it_refuses_a_workspace_name_longer_than_it_keeps_instead_of_cutting_it(
    alice_client: Client,
) -> None:
    before = Workspace.objects.count()

    response = alice_client.post("/workspaces/new/", {"name": "x" * 201}, follow=True)

    assert b"A workspace name is at most 200 characters long." in response.content
    assert Workspace.objects.count() == before


def test_it_offers_a_user_without_a_workspace_to_create_one(client: Client) -> None:
    lonely = UserFactory(email="lonely@example.com")
    client.force_login(lonely)

    page = client.get("/team/")
    client.post("/workspaces/new/", {"name": "Lonely Co"})

    assert b"You are not in a workspace yet" in page.content
    assert Membership.objects.get(user=lonely).role == "owner"
    assert client.session[CURRENT_WORKSPACE_KEY] == Workspace.objects.get(name="Lonely Co").pk


def test_it_refuses_a_member_withdrawing_an_invitation(
    alice_client: Client, acme: Workspace, mailoutbox: list[Any]
) -> None:
    _invite(alice_client, "erin@acme.example")
    invitation = Invitation.objects.get()
    dan = UserFactory(email="dan@acme.example")
    MembershipFactory(workspace=acme, user=dan, role="member")
    dans = Client()
    dans.force_login(dan)

    response = dans.post(f"/team/invitations/{invitation.pk}/revoke/")

    assert response.status_code == 403 and Invitation.objects.filter(pk=invitation.pk).exists()
