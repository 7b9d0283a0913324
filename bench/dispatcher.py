"""Scheduling: the dispatcher's time and query count per tick, whatever the number of due
connections."""

from __future__ import annotations

import datetime as dt

from bench.common import Table, timed


def _make_connections(count: int) -> None:
    from django.utils import timezone

    from accounts.models import ConnectedAccount, Workspace
    from integrations.models import Connection

    workspace = Workspace.objects.create(name="Bench", slug=f"bench-{count}")
    a = ConnectedAccount.objects.create(workspace=workspace, app="kustomer", label="a")
    b = ConnectedAccount.objects.create(workspace=workspace, app="google_contacts", label="b")
    due = timezone.now() - dt.timedelta(minutes=1)
    Connection.objects.bulk_create(
        [
            Connection(
                workspace=workspace,
                account_a=a,
                account_b=b,
                status=Connection.Status.ACTIVE,
                next_sync_at=due,
            )
            for _ in range(count)
        ],
        batch_size=2000,
    )


def run(quick: bool) -> tuple[list[Table], str]:
    from django.conf import settings
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    from integrations.models import Connection
    from integrations.services import connections_claim_due

    sizes = [100, 1_000, 10_000] if not quick else [100, 1_000]
    batch = settings.TANDEM_DISPATCH_BATCH
    table = Table(
        f"Dispatcher: one tick claims up to TANDEM_DISPATCH_BATCH={batch} due connections",
        ["active connections", "claimed", "queries", "tick ms", "drain all: ticks", "drain ms"],
    )
    queries_seen = []
    for size in sizes:
        Connection.objects.all().delete()
        _make_connections(size)
        with CaptureQueriesContext(db) as queries, timed() as tick:
            claimed = connections_claim_due()
        queries_seen.append(len(queries.captured_queries))
        ticks = 1
        with timed() as drain:
            while connections_claim_due():
                ticks += 1
        table.add(
            size,
            len(claimed),
            len(queries.captured_queries),
            tick.wall * 1000,
            ticks,
            drain.wall * 1000,
        )
    constant = len(set(queries_seen)) == 1
    summary = (
        f"dispatcher: queries/tick {queries_seen[0]} at {sizes[0]:,} and {queries_seen[-1]} at "
        f"{sizes[-1]:,} connections ({'constant' if constant else 'NOT constant'})"
    )
    return [table], summary
