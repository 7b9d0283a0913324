from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

# The web process registers the admin's ModelAdmins through its URLconf (config/admin_app.py);
# tests that read the admin's registry see it as that process does.
import config.urls  # noqa: F401
from accounts.models import User, Workspace
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate gates live in the cache; no test may inherit another's wait."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


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
def _sandbox_process_wide() -> Iterator[object]:
    from sandbox.server import Sandbox

    server = Sandbox().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox_server(_sandbox_process_wide: Any) -> Iterator[object]:
    """Every app emulator, served over real HTTP on a free port for the whole session. Faults
    are emulator-wide, so a test's leftover faults are dropped before the next test sees them."""
    yield _sandbox_process_wide
    for slug in ("kustomer", "google_contacts"):
        emulator = _sandbox_process_wide.emulator(slug)
        with emulator.lock:
            emulator.faults.clear()


REQUIRE_SERVICES = os.environ.get("TANDEM_REQUIRE_SERVICES") == "1"


def _missing(reason: str) -> None:
    """CI (TANDEM_REQUIRE_SERVICES=1) fails a test whose service is missing; a developer's
    machine without PostgreSQL or Redis skips it with the reason."""
    if REQUIRE_SERVICES:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            _missing("needs PostgreSQL: run with DATABASE_URL=postgres://...")


@pytest.fixture
def redis_url() -> str:
    """A Redis database for tests that need real Redis (TANDEM_TEST_REDIS_URL)."""
    url = os.environ.get("TANDEM_TEST_REDIS_URL", "")
    if not url:
        _missing("needs Redis: set TANDEM_TEST_REDIS_URL=redis://127.0.0.1:6379/15")
    import redis

    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as exc:
        _missing(f"Redis at {url} is not answering: {exc}")
    return url
