"""Scan both apps of a connection again from scratch, through the existing links."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations import services
from integrations.management.commands._support import connection_or_error, status_words
from integrations.models import Connection


class Command(BaseCommand):
    help = (
        "Forget a connection's checkpoints so that its next run scans both apps again (links "
        "are kept: nothing is created twice). Use it when records were missed, e.g. after an "
        "app restored a backup. `sync_connection <id> --full --dry-run` shows what it would do."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("connection_id", type=int)
        parser.add_argument("--dry-run", action="store_true", help="Say what would change.")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connection_or_error(options["connection_id"])
        if connection.status in (
            Connection.Status.DRAFT,
            Connection.Status.PAUSED,
            Connection.Status.NEEDS_REAUTH,
        ):
            raise CommandError(
                f"Connection {connection.pk} is {status_words(connection)}; "
                "resume it before a resync."
            )
        if options["dry_run"]:
            self.stdout.write(
                f"would forget the checkpoints of connection {connection.pk} ({connection}) "
                "and scan both apps on its next run, within a minute"
            )
            return
        services.connection_resync(connection=connection)
        self.stdout.write(
            f"Connection {connection.pk} ({connection}) scans both apps again on its next run, "
            "within a minute."
        )
