"""Factories for the test cast: alice owns the "Acme" workspace, bob the "Globex" one."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts.models import ConnectedAccount, Membership, User, Workspace
from integrations.models import Connection, FieldMapping, RecordLink, Rule


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password("correct horse battery staple")


class WorkspaceFactory(DjangoModelFactory[Workspace]):
    class Meta:
        model = Workspace
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"workspace-{n}")


class MembershipFactory(DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.OWNER


class ConnectedAccountFactory(DjangoModelFactory[ConnectedAccount]):
    class Meta:
        model = ConnectedAccount
        skip_postgeneration_save = True

    workspace = factory.SubFactory(WorkspaceFactory)
    app = "kustomer"
    label = factory.Sequence(lambda n: f"account-{n}")

    @factory.post_generation
    def creds(
        obj: ConnectedAccount, create: bool, extracted: dict | None, **kwargs: object
    ) -> None:
        if extracted is not None:
            obj.set_credentials(extracted)
            if create:
                obj.save()


class ConnectionFactory(DjangoModelFactory[Connection]):
    class Meta:
        model = Connection

    workspace = factory.SubFactory(WorkspaceFactory)
    account_a = factory.SubFactory(
        ConnectedAccountFactory, workspace=factory.SelfAttribute("..workspace"), app="kustomer"
    )
    account_b = factory.SubFactory(
        ConnectedAccountFactory,
        workspace=factory.SelfAttribute("..workspace"),
        app="google_contacts",
    )
    name = factory.Sequence(lambda n: f"Connection {n}")
    status = Connection.Status.ACTIVE


class RuleFactory(DjangoModelFactory[Rule]):
    class Meta:
        model = Rule

    connection = factory.SubFactory(ConnectionFactory)
    direction = Rule.Direction.A_TO_B
    position = factory.Sequence(lambda n: n)


class FieldMappingFactory(DjangoModelFactory[FieldMapping]):
    class Meta:
        model = FieldMapping

    connection = factory.SubFactory(ConnectionFactory)
    field_a = "company"
    field_b = "company"


class RecordLinkFactory(DjangoModelFactory[RecordLink]):
    class Meta:
        model = RecordLink

    connection = factory.SubFactory(ConnectionFactory)
    id_a = factory.Sequence(lambda n: f"a-{n}")
    id_b = factory.Sequence(lambda n: f"b-{n}")
