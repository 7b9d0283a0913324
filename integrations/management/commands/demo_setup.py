"""Prepare the embedded default: a demo admin user (and, when the sandbox is up, the demo
workspace with its connection), then print where to log in."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from accounts.models import User


class Command(BaseCommand):
    help = "Create the demo admin user and print where to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Say what would be done.")

    def handle(self, *args: Any, **options: Any) -> None:
        email = settings.TANDEM_DEMO_ADMIN_EMAIL
        password = settings.TANDEM_DEMO_ADMIN_PASSWORD
        if not password:
            self.stderr.write("Set TANDEM_DEMO_ADMIN_PASSWORD (make run writes one into .env).")
            raise SystemExit(2)
        if options["dry_run"]:
            self.stdout.write(f"would create or reset the admin user {email}")
            return
        user, _ = User.objects.get_or_create(
            email=email, defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        url = f"{settings.SITE_URL.rstrip('/')}/admin/"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Tandem is starting.",
                    f"  Log in at  {url}",
                    f"  email      {email}",
                    f"  password   {password}",
                    "",
                ]
            )
        )
