"""Resume a paused (or errored) connection."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import ConnectedAccount
from integrations import services
from integrations.management.commands._support import connection_or_error, status_words
from integrations.models import Connection


class Command(BaseCommand):
    help = (
        "Resume a paused or errored connection: it runs within a minute (a scan first if it "
        "was never fully scanned). Resuming a pause by the mass-tag breaker confirms the run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("connection_id", type=int)
        parser.add_argument("--dry-run", action="store_true", help="Say what would change.")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connection_or_error(options["connection_id"])
        if connection.status == Connection.Status.DRAFT:
            raise CommandError(
                f"Connection {connection.pk} is a draft: finish its set-up to start it."
            )
        if connection.status in Connection.RUNNABLE:
            self.stdout.write(f"Connection {connection.pk} is already {status_words(connection)}.")
            return
        stale = [
            account
            for account in (connection.account_a, connection.account_b)
            if account.status == ConnectedAccount.Status.NEEDS_REAUTH
        ]
        if stale:
            names = ", ".join(f"{a.app_name} account {a.label} (id {a.pk})" for a in stale)
            raise CommandError(
                f"Authorize {names} again first (then `verify_account <id>`): resuming now "
                "would fail at once."
            )
        if options["dry_run"]:
            extra = " (confirming the mass-tag run)" if connection.breaker_tripped else ""
            self.stdout.write(
                f"would resume connection {connection.pk} ({connection}), now "
                f"{status_words(connection)}{extra}"
            )
            return
        services.connection_resume(connection=connection)
        self.stdout.write(
            f"Resumed connection {connection.pk} ({connection}): "
            f"{status_words(connection)}; it runs within a minute."
        )
