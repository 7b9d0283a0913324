"""Re-encrypt every connected account's credentials with the newest Fernet key.

Rotation: put the new key first in FERNET_KEYS (keep the old one after it), run this command,
then drop the old key.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.views.decorators.debug import sensitive_variables

from accounts.models import ConnectedAccount


class Command(BaseCommand):
    help = "Re-encrypt stored credentials with the newest key in FERNET_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the accounts, change nothing."
        )

    @sensitive_variables()
    def handle(self, *args: Any, **options: Any) -> None:
        accounts = ConnectedAccount.objects.order_by("pk")
        count = 0
        for account in accounts.iterator():
            # Reading decrypts with whichever key matches; saving encrypts with the newest.
            if not options["dry_run"]:
                account.save(update_fields=["credentials"])
            count += 1
        verb = "would re-encrypt" if options["dry_run"] else "re-encrypted"
        self.stdout.write(f"{verb} the credentials of {count} connected account(s)")
