"""Pause one connection: no run starts until it is resumed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations import services
from integrations.management.commands._support import connection_or_error, status_words
from integrations.models import Connection


class Command(BaseCommand):
    help = (
        "Pause a connection (no run starts until resume_connection). Use it while a customer "
        "fixes their data or an app misbehaves; a run already going finishes its page."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("connection_id", type=int)
        parser.add_argument(
            "--reason",
            default="Paused by support.",
            help="Shown to the customer on the connection's page.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Say what would change.")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connection_or_error(options["connection_id"])
        reason = options["reason"].strip()
        if not reason:
            raise CommandError("--reason cannot be empty.")
        if connection.status == Connection.Status.DRAFT:
            raise CommandError(
                f"Connection {connection.pk} is a draft: it never runs until its set-up is done."
            )
        if connection.status == Connection.Status.PAUSED:
            self.stdout.write(f"Connection {connection.pk} is already {status_words(connection)}.")
            return
        if options["dry_run"]:
            self.stdout.write(
                f"would pause connection {connection.pk} ({connection}), now "
                f"{status_words(connection)}, with the reason {reason!r}"
            )
            return
        services.connection_pause(connection=connection, reason=reason)
        self.stdout.write(f"Paused connection {connection.pk} ({connection}): {reason}")
