"""Two in-memory apps joined by a connection made through the setup service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from integrations.leases import Lease
from integrations.models import Connection, SyncRun
from integrations.services.setup import connection_create
from integrations.sync.engine import Journal, SyncEngine
from integrations.sync.fields import NameStyle
from tests.factories import ConnectedAccountFactory, WorkspaceFactory
from tests.integrations.sync.memory_app import MemoryApp


@dataclass
class Pair:
    connection: Connection
    a: MemoryApp
    b: MemoryApp
    lease: Lease | None = None

    def refresh(self) -> Connection:
        self.connection.refresh_from_db()
        return self.connection

    def engine(self, *, dry_run: bool = False) -> tuple[SyncEngine, SyncRun]:
        self.refresh()
        run = SyncRun.objects.create(connection=self.connection, dry_run=dry_run)
        engine = SyncEngine(
            connection=self.connection,
            run=run,
            lease=self.lease,
            connector_a=self.a,
            connector_b=self.b,
            dry_run=dry_run,
        )
        return engine, run

    def run(self) -> SyncRun:
        """One real run; returns its SyncRun with the counters saved."""
        engine, run = self.engine()
        engine.execute()
        run.refresh_from_db()
        self.refresh()
        return run

    def journal(self, *, dry_run: bool = False) -> Journal:
        engine, _ = self.engine(dry_run=dry_run)
        journal = engine.execute()
        self.refresh()
        return journal

    def writes(self) -> int:
        return self.a.writes + self.b.writes


def make_pair(
    *,
    direction: str = Connection.Direction.TWO_WAY,
    winner: str = "a",
    style_a: NameStyle = NameStyle.FULL,
    style_b: NameStyle = NameStyle.SPLIT,
    app_a: dict[str, Any] | None = None,
    app_b: dict[str, Any] | None = None,
    **options: Any,
) -> Pair:
    a = MemoryApp(label="Alpha", prefix="a", name_style=style_a, **(app_a or {}))
    b = MemoryApp(label="Beta", prefix="b", name_style=style_b, **(app_b or {}))
    workspace = WorkspaceFactory()
    connection = connection_create(
        workspace=workspace,
        account_a=ConnectedAccountFactory(workspace=workspace, app="kustomer"),
        account_b=ConnectedAccountFactory(workspace=workspace, app="google_contacts"),
        fields_a=a.fields(),
        fields_b=b.fields(),
        capabilities_a=a.capabilities,
        capabilities_b=b.capabilities,
        direction=direction,
        winner=winner,
        **options,
    )
    return Pair(connection=connection, a=a, b=b)


@pytest.fixture
def pair(db: None) -> Pair:
    return make_pair()
