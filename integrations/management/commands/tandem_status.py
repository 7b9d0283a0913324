"""One line per connection: its apps, its state in words, its runs and its health."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet

from accounts.models import Workspace
from integrations.management.commands._support import apps_of, dump_json, when
from integrations.models import Connection, SyncRun
from integrations.selectors import connection_state


class Command(BaseCommand):
    help = (
        "List connections with their state, last and next run, health counters and last "
        "error. Start here when a customer says something is not syncing; --failing narrows "
        "it to the ones that need attention."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", help="Only this workspace (its id or slug).")
        parser.add_argument(
            "--failing",
            action="store_true",
            help="Only connections that need attention or have failing records.",
        )
        parser.add_argument("--json", action="store_true", help="Print JSON for scripts.")

    def handle(self, *args: Any, **options: Any) -> None:
        connections = self._connections(options["workspace"])
        rows = [self._row(connection) for connection in connections]
        if options["failing"]:
            rows = [row for row in rows if row["failing"]]
        if options["json"]:
            dump_json(self, rows)
            return
        if not rows:
            none = "No connections need attention." if options["failing"] else "No connections."
            self.stdout.write(none)
            return
        for row in rows:
            self.stdout.write(self._line(row))

    def _connections(self, workspace: str | None) -> QuerySet[Connection]:
        connections = Connection.objects.select_related(
            "workspace", "account_a", "account_b"
        ).order_by("workspace__name", "id")
        if workspace:
            found = Workspace.objects.filter(slug=workspace).first()
            # isdigit() also holds for "²", which int() refuses.
            if found is None and workspace.isdecimal():
                found = Workspace.objects.filter(pk=int(workspace)).first()
            if found is None:
                raise CommandError(f"No workspace with id or slug {workspace!r}.")
            connections = connections.filter(workspace=found)
        return connections

    def _row(self, connection: Connection) -> dict[str, Any]:
        state = connection_state(connection=connection)
        last = (
            SyncRun.objects.filter(connection=connection, dry_run=False)
            .order_by("-started_at", "-id")
            .first()
        )
        health = connection.health or {}
        failed_by_reason = health.get("failed") or {}
        failed = sum(failed_by_reason.values()) if isinstance(failed_by_reason, dict) else 0
        last_error = ""
        if last is not None and last.error:
            last_error = last.error
        elif state.tone == "bad":
            last_error = state.reason
        return {
            "id": connection.pk,
            "workspace": connection.workspace.slug,
            "name": str(connection),
            "apps": apps_of(connection),
            "status": connection.status,
            "state": state.label,
            "state_reason": state.reason,
            "tone": state.tone,
            "last_run": {
                "id": last.pk,
                "started_at": last.started_at,
                "outcome": last.outcome,
                "phase": last.phase,
            }
            if last
            else None,
            "next_run_at": connection.next_sync_at
            if connection.status in Connection.RUNNABLE
            else None,
            "in_sync": int(health.get("in_sync") or 0),
            "excluded": int(health.get("excluded") or 0),
            "duplicates": int(health.get("duplicates") or 0),
            "failed": failed,
            "failed_by_reason": failed_by_reason,
            "last_error": last_error,
            "failing": state.tone == "bad" or failed > 0,
        }

    def _line(self, row: dict[str, Any]) -> str:
        last = row["last_run"]
        last_text = (
            f"last run {last['id']} {last['outcome']} {when(last['started_at'])}"
            if last
            else "never run"
        )
        next_text = f"next {when(row['next_run_at'])}" if row["next_run_at"] else "not scheduled"
        state = row["state"] + (f" ({row['state_reason']})" if row["state_reason"] else "")
        parts = [
            f"#{row['id']} [{row['workspace']}] {row['name']}: {row['apps']}",
            state,
            last_text,
            next_text,
            f"in sync {row['in_sync']}, excluded {row['excluded']}, "
            f"duplicates {row['duplicates']}, failed {row['failed']}",
        ]
        if row["last_error"] and row["last_error"] != row["state_reason"]:
            parts.append(f"last error: {row['last_error']}")
        return " | ".join(parts)
