"""Verify a connected account's credentials with one cheap authenticated call."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import connected_account_verify
from integrations.management.commands._support import account_or_error, dump_json


class Command(BaseCommand):
    help = (
        "Check that a connected account's credentials still work (one authenticated call) and "
        "record the outcome on the account. Use it after a customer re-authorized, or when "
        "runs fail with an authentication error. Exits non-zero when the app refuses."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account_id", type=int)
        parser.add_argument("--json", action="store_true", help="Print JSON for scripts.")

    def handle(self, *args: Any, **options: Any) -> None:
        account = account_or_error(options["account_id"])
        ok, message = connected_account_verify(account=account)
        account.refresh_from_db()
        what = f"{account.app_name} account {account.label} (id {account.pk})"
        if options["json"]:
            dump_json(
                self,
                {
                    "id": account.pk,
                    "app": account.app,
                    "label": account.label,
                    "workspace": account.workspace.slug,
                    "ok": ok,
                    "status": account.status,
                    "message": message,
                },
            )
        elif ok:
            self.stdout.write(f"{what}: {message}")
        if not ok:
            raise CommandError(f"{what} failed verification: {message}")
