from __future__ import annotations

from collections.abc import Iterator

import pytest

from accounts.models import User, Workspace
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory


@pytest.fixture
def alice(db: None) -> User:
    return UserFactory(email="alice@acme.example")


@pytest.fixture
def acme(alice: User) -> Workspace:
    workspace = WorkspaceFactory(name="Acme", slug="acme")
    MembershipFactory(workspace=workspace, user=alice)
    return workspace


@pytest.fixture
def bob(db: None) -> User:
    return UserFactory(email="bob@globex.example")


@pytest.fixture
def globex(bob: User) -> Workspace:
    workspace = WorkspaceFactory(name="Globex", slug="globex")
    MembershipFactory(workspace=workspace, user=bob)
    return workspace


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser(email="ops@tandem.example", password="ops-password-1")


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[object]:
    """Every app emulator, served over real HTTP on a free port for the whole session."""
    from integrations.sandbox.server import Sandbox

    server = Sandbox().start()
    try:
        yield server
    finally:
        server.stop()
