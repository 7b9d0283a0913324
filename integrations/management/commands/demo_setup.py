"""Prepare the embedded default (``make run``): a demo admin user, a demo workspace with a
Kustomer and a Google Contacts account on the sandbox, and a two-way connection between them;
then print where to log in.

The sandbox starts with fresh demo data on every ``make run``, so the demo connection is created
afresh too (a first scan, then listening for changes). To learn the two apps' fields before the
sandbox process is up, the command starts the same emulators in-process for a moment.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.test.utils import override_settings

from accounts.models import ConnectedAccount, Membership, User, Workspace
from accounts.services import connected_account_upsert
from integrations.models import Connection
from integrations.services import connection_create_for_accounts, field_mapping_add

DEMO_WORKSPACE = "demo"


class Command(BaseCommand):
    help = "Create the demo admin, workspace and connection, and print where to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Say what would be done.")
        parser.add_argument(
            "--no-connection", action="store_true", help="Only the admin user, no demo data."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email = settings.TANDEM_DEMO_ADMIN_EMAIL
        password = settings.TANDEM_DEMO_ADMIN_PASSWORD
        if not password:
            self.stderr.write("Set TANDEM_DEMO_ADMIN_PASSWORD (make run writes one into .env).")
            raise SystemExit(2)
        if options["dry_run"]:
            self.stdout.write(f"would create or reset the admin user {email}")
            if not options["no_connection"]:
                self.stdout.write("would create the demo workspace, accounts and connection")
            return
        user = self._admin(email, password)
        summary = ""
        if not options["no_connection"]:
            connection = self._demo_connection(user)
            summary = (
                f"  demo       {connection} (connection {connection.pk}), "
                "first scan within a minute"
            )
        url = f"{settings.SITE_URL.rstrip('/')}/admin/"
        lines = ["", "Tandem is starting.", f"  Log in at  {url}", f"  email      {email}"]
        lines += [f"  password   {password}"]
        if summary:
            lines.append(summary)
        self.stdout.write("\n".join([*lines, ""]))

    def _admin(self, email: str, password: str) -> User:
        user, _ = User.objects.get_or_create(
            email=email, defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return user

    def _demo_connection(self, user: User) -> Connection:
        from integrations.sandbox import google_contacts as google_sandbox
        from integrations.sandbox import kustomer as kustomer_sandbox
        from integrations.sandbox.server import Sandbox

        workspace, _ = Workspace.objects.get_or_create(
            slug=DEMO_WORKSPACE, defaults={"name": "Demo Co"}
        )
        Membership.objects.get_or_create(
            workspace=workspace, user=user, defaults={"role": Membership.Role.OWNER}
        )
        kustomer = connected_account_upsert(
            workspace=workspace,
            app="kustomer",
            label=f"{kustomer_sandbox.DEMO_SUBDOMAIN}.kustomerapp.com",
            credentials={
                "subdomain": kustomer_sandbox.DEMO_SUBDOMAIN,
                "email": kustomer_sandbox.DEMO_EMAIL,
                "password": kustomer_sandbox.DEMO_PASSWORD,
            },
        )
        google = connected_account_upsert(
            workspace=workspace,
            app="google_contacts",
            label=google_sandbox.DEMO_EMAIL,
            credentials={"refresh_token": google_sandbox.DEMO_REFRESH_TOKEN},
        )
        # The in-process sandbox is a means, not news: keep its request log quiet.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        sandbox = Sandbox().start()
        try:
            for emulator in sandbox.emulators.values():
                importlib.import_module(type(emulator).__module__).seed_demo(emulator)
            with (
                override_settings(
                    KUSTOMER_BASE_URL_TEMPLATE=sandbox.base_url("kustomer") + "/{subdomain}",
                    GOOGLE_OAUTH_TOKEN_URL=sandbox.base_url("google_contacts") + "/token",
                    GOOGLE_PEOPLE_BASE_URL=sandbox.base_url("google_contacts"),
                ),
                transaction.atomic(),
            ):
                Connection.objects.filter(workspace=workspace).delete()
                connection = connection_create_for_accounts(
                    workspace=workspace,
                    account_a=kustomer,
                    account_b=google,
                    name="Kustomer ⇄ Google Contacts (demo)",
                )
                self._custom_mappings(connection, kustomer, google)
        finally:
            sandbox.stop()
        # The sandbox process that serves the demo issues its own tokens.
        for account in (kustomer, google):
            credentials = account.get_credentials()
            credentials.pop("token", None)
            credentials.pop("access_token", None)
            credentials.pop("expires_at", None)
            account.set_credentials(credentials)
            ConnectedAccount.objects.filter(pk=account.pk).update(credentials=account.credentials)
        return connection

    def _custom_mappings(
        self, connection: Connection, kustomer: ConnectedAccount, google: ConnectedAccount
    ) -> None:
        from integrations.connectors.accounts import connector_for

        fields_a = connector_for(kustomer).fields()
        fields_b = connector_for(google).fields()
        # Kustomer's loyalty tier is a dropdown, Google's a free-text custom field.
        field_mapping_add(
            connection=connection,
            field_a="custom.loyaltyTierStr",
            field_b="custom.loyaltyTier",
            fields_a=fields_a,
            fields_b=fields_b,
            value_map={tier: tier for tier in ("bronze", "silver", "gold")},
        )
