"""Run one connection now, in the foreground, and print what the run did."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from integrations import services
from integrations.management.commands._support import bar_stream
from integrations.models import Connection, SyncRun

STAGES = {"listing": "Listing", "scan": "Scanning", "changes": "Reading changes of"}


class Progress:
    """One progress bar per stage and side of the run, told of every page the engine reads."""

    def __init__(self, command: BaseCommand, connection: Connection, *, enabled: bool) -> None:
        self.stream = bar_stream(command)
        self.apps = {"a": connection.account_a.app_name, "b": connection.account_b.app_name}
        self.enabled = enabled
        self.current: tuple[str, str] | None = None
        self.bar: tqdm[Any] | None = None

    def __call__(self, stage: str, side: str, records: int) -> None:
        if not self.enabled:
            return
        if self.current != (stage, side):
            self.close()
            self.current = (stage, side)
            self.bar = tqdm(
                desc=f"{STAGES.get(stage, stage)} {self.apps.get(side, side)}",
                unit=" records",
                file=self.stream,
                mininterval=0.5,
            )
        assert self.bar is not None
        self.bar.update(records)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(BaseCommand):
    help = (
        "Run one connection's sync now, in the foreground, with progress per app, and print the "
        "run's counters. Use --dry-run to see what a run would create, update and tag without "
        "writing anything, and --full to scan both apps through the links (with --dry-run the "
        "stored checkpoints stay as they are)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("connection_id", type=int)
        parser.add_argument(
            "--dry-run", action="store_true", help="Compute and print the plan; write nothing."
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="Scan both sides again from scratch, through the existing links.",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="Print no progress bars (for logs)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        connection_id: int = options["connection_id"]
        try:
            connection = Connection.objects.get(pk=connection_id)
        except Connection.DoesNotExist:
            raise CommandError(f"No connection with id {connection_id}.") from None
        if options["full"] and not options["dry_run"]:
            if connection.status not in Connection.RUNNABLE:
                raise CommandError(self._not_runnable(connection))
            services.connection_resync(connection=connection)
        progress = Progress(self, connection, enabled=not options["no_progress"])
        try:
            run = services.connection_sync(
                connection_id=connection_id,
                dry_run=options["dry_run"],
                # A real --full run scans because resync cleared the checkpoints; a dry run
                # must not clear them, so it asks the engine for the scan.
                full=options["full"] and options["dry_run"],
                progress=progress,
            )
        except services.ConnectionNotRunnable as exc:
            raise CommandError(str(exc)) from None
        finally:
            progress.close()
        if run is None:
            raise CommandError(
                f"Connection {connection_id} is being synced by another worker right now."
            )
        self._report(run)
        if run.outcome == SyncRun.Outcome.FAILED:
            raise CommandError(f"The run failed: {run.error}")

    def _not_runnable(self, connection: Connection) -> str:
        reason = f": {connection.status_reason}" if connection.status_reason else ""
        return f"Connection {connection.pk} is {connection.get_status_display().lower()}{reason}."

    def _report(self, run: SyncRun) -> None:
        kind = "dry run" if run.dry_run else "run"
        self.stdout.write(f"{kind} {run.pk} of connection {run.connection_id}: {run.outcome}")
        self.stdout.write(f"  phase      {run.phase}")
        for side in ("a", "b"):
            self.stdout.write(
                f"  side {side.upper()}     read {getattr(run, f'read_{side}')}, "
                f"created {getattr(run, f'created_{side}')}, "
                f"updated {getattr(run, f'updated_{side}')}, "
                f"tagged {getattr(run, f'tagged_{side}')}"
            )
        self.stdout.write(
            f"  excluded {run.excluded}, duplicates {run.duplicates}, failed {run.failed}, "
            f"conflicts {run.conflicts}, API calls {run.api_calls}"
        )
        if run.error:
            self.stdout.write(f"  error      {run.error}")
        if run.dry_run:
            self.stdout.write(json.dumps(run.plan, indent=2, sort_keys=True, default=str))
