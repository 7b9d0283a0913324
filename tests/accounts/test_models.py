import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Membership, User
from integrations.models import Connection, RecordLink
from tests.factories import (
    ConnectedAccountFactory,
    ConnectionFactory,
    MembershipFactory,
    RecordLinkFactory,
)

pytestmark = pytest.mark.django_db


def test_it_logs_users_in_by_email(alice: User) -> None:
    assert User.USERNAME_FIELD == "email"
    assert alice.check_password("correct horse battery staple")


def test_it_lowercases_new_user_emails() -> None:
    user = User.objects.create_user(email="Carol@Example.COM", password="pw-123456")
    assert user.email == "carol@example.com"


def test_it_refuses_a_second_membership_of_the_same_user(acme, alice) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        MembershipFactory(workspace=acme, user=alice, role=Membership.Role.MEMBER)


def test_it_refuses_a_connection_from_an_account_to_itself(acme) -> None:
    account = ConnectedAccountFactory(workspace=acme)
    other = ConnectedAccountFactory(workspace=acme, app="google_contacts")
    with pytest.raises(IntegrityError), transaction.atomic():
        Connection.objects.create(workspace=acme, account_a=account, account_b=account)
    assert not Connection.objects.exists()
    assert other.pk


def test_it_refuses_accounts_of_two_workspaces_in_one_connection(acme, globex) -> None:
    mine = ConnectedAccountFactory(workspace=acme)
    theirs = ConnectedAccountFactory(workspace=globex, app="google_contacts")
    connection = Connection(workspace=acme, account_a=mine, account_b=theirs)
    with pytest.raises(ValidationError) as excinfo:
        connection.full_clean()
    assert "another workspace" in str(excinfo.value)


def test_it_refuses_two_links_for_one_record_on_a_side() -> None:
    link = RecordLinkFactory(id_a="cust-1", id_b="people/c1")
    with pytest.raises(IntegrityError), transaction.atomic():
        RecordLink.objects.create(connection=link.connection, id_a="cust-1", id_b="people/c2")
    with pytest.raises(IntegrityError), transaction.atomic():
        RecordLink.objects.create(connection=link.connection, id_a="cust-2", id_b="people/c1")


def test_it_allows_the_same_record_id_in_two_connections() -> None:
    first = RecordLinkFactory(id_a="cust-1", id_b="people/c1")
    second = ConnectionFactory()
    RecordLink.objects.create(connection=second, id_a="cust-1", id_b="people/c1")
    assert first.connection != second


def test_it_refuses_a_sync_interval_under_a_minute() -> None:
    connection = ConnectionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Connection.objects.filter(pk=connection.pk).update(sync_interval=5)


def test_it_refuses_an_unknown_connection_status() -> None:
    connection = ConnectionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Connection.objects.filter(pk=connection.pk).update(status="sleeping")
