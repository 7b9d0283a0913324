"""Two in-memory apps joined by a connection made through the setup service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from integrations.leases import Lease
from integrations.models import Connection, SyncRun
from integrations.services.setup import connection_create
from integrations.sync import engine as engine_mod
from integrations.sync.apps import App
from integrations.sync.fields import NameStyle
from integrations.sync.journal import Journal
from tests.factories import ConnectedAccountFactory, WorkspaceFactory
from tests.integrations.sync.memory_app import MemoryApp


@dataclass
class Runner:
    """One run of the engine, kept for a test to start (and read its journal)."""

    connection: Connection
    run: SyncRun
    lease: Lease | None
    a: MemoryApp
    b: MemoryApp
    dry_run: bool

    def execute(self) -> Journal:
        return engine_mod.sync_connection(
            connection=self.connection,
            run=self.run,
            lease=self.lease,
            apps={"a": App("a", self.a), "b": App("b", self.b)},
            edges=engine_mod.DRY if self.dry_run else engine_mod.REAL,
        )


@dataclass
class Pair:
    connection: Connection
    a: MemoryApp
    b: MemoryApp
    lease: Lease | None = None

    def refresh(self) -> Connection:
        self.connection.refresh_from_db()
        return self.connection

    def engine(self, *, dry_run: bool = False) -> tuple[Runner, SyncRun]:
        self.refresh()
        run = SyncRun.objects.create(connection=self.connection, dry_run=dry_run)
        runner = Runner(self.connection, run, self.lease, self.a, self.b, dry_run)
        return runner, run

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
