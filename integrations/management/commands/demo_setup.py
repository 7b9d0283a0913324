"""Prepare the embedded default (``make run``): a demo admin user, a demo workspace with a
Kustomer and a Google Contacts account on the sandbox, and a two-way connection between them;
then print where to log in.

Idempotent: every ``make run`` calls it, and the sandbox keeps its state across restarts, so it
creates only what is missing (the admin, the workspace, the admin's owner membership, the two
accounts, the connection) and never deletes or resets anything: not a connection, not its runs,
not an account authorized again, not a password the admin changed (the password from ``.env`` is
set only when the admin is created, and printed as the initial one). To learn the two apps'
fields before the sandbox process is up, a new connection is made against the same emulators
started in-process for a moment.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Q
from django.test.utils import override_settings
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from accounts.models import ConnectedAccount, Membership, User, Workspace
from accounts.services import connected_account_upsert
from integrations.connectors.base import ConnectorError
from integrations.management.commands.sandbox import MISSING_SANDBOX
from integrations.models import Connection
from integrations.services import connection_create_for_accounts, field_mapping_add
from integrations.webhooks.services import webhooks_renew_later

DEMO_WORKSPACE = "demo"
DEMO_WORKSPACE_NAME = "Demo Co"


class Command(BaseCommand):
    help = "Create the demo admin, workspace and connection, and print where to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Say what would be done.")
        parser.add_argument(
            "--no-connection", action="store_true", help="Only the admin user, no demo data."
        )

    @sensitive_variables("password")
    def handle(self, *args: Any, **options: Any) -> None:
        email = settings.TANDEM_DEMO_ADMIN_EMAIL
        password = settings.TANDEM_DEMO_ADMIN_PASSWORD
        if not password:
            self.stderr.write("Set TANDEM_DEMO_ADMIN_PASSWORD (make run writes one into .env).")
            raise SystemExit(2)
        if options["dry_run"]:
            exists = User.objects.filter(email__iexact=email).exists()
            self.stdout.write(
                f"the admin user {email} exists: left as it is"
                if exists
                else f"would create the admin user {email}"
            )
            if not options["no_connection"]:
                self.stdout.write("would create what is missing of the demo workspace")
            return
        user, created = self._admin(email, password)
        demo = ""
        if not options["no_connection"]:
            try:
                connection, new = self._demo_connection(user)
            except (ConnectorError, ValidationError) as exc:
                # The demo accounts no longer work in a freshly seeded sandbox (authorized
                # again since, say): the rest of the demo still starts.
                problem = exc.message if isinstance(exc, ConnectorError) else " ".join(exc.messages)
                self.stderr.write(f"The demo connection could not be created: {problem}")
            else:
                demo = f"{connection} (connection {connection.pk}): " + (
                    "first scan within a minute" if new else "kept, with its run history"
                )
        site = settings.SITE_URL.rstrip("/")
        rows = [
            ("Customer pages", f"{site}{reverse('accounts:login')}  (log in as the demo admin, "
                               f"an owner of the workspace {DEMO_WORKSPACE_NAME})"),
            ("Admin", f"{site}{reverse('admin:index')}"),
            ("Email", email),
            ("Initial password", password if created else f"{password}  (unless changed since)"),
        ]  # fmt: skip
        if demo:
            rows.append(("Demo", demo))
        if settings.TANDEM_PUBLIC_URL:
            rows.append(("Webhooks to", f"{settings.TANDEM_PUBLIC_URL.rstrip('/')}/webhooks/"))
        lines = ["", "Tandem is starting.", *(f"  {name:<17} {value}" for name, value in rows)]
        self.stdout.write("\n".join([*lines, ""]))

    @sensitive_variables("password")
    def _admin(self, email: str, password: str) -> tuple[User, bool]:
        """The demo admin, created with ``password`` when missing; an existing one is left as
        it is (its password above all)."""
        user = User.objects.filter(email__iexact=email).first()
        if user is not None:
            return user, False
        user = User.objects.create_superuser(email=email, password=password)
        return user, True

    def _account(
        self, workspace: Workspace, app: str, label: str, credentials: dict[str, Any]
    ) -> ConnectedAccount:
        """The demo workspace's account ``label`` of ``app``, stored when missing; an existing
        one keeps its credentials (it may have been authorized again since)."""
        existing = ConnectedAccount.objects.filter(
            workspace=workspace, app=app, label=label
        ).first()
        if existing is not None:
            # Its webhook may name an address of an earlier start (another TANDEM_PORT).
            webhooks_renew_later(account=existing)
            return existing
        return connected_account_upsert(
            workspace=workspace, app=app, label=label, credentials=credentials
        )

    def _demo_connection(self, user: User) -> tuple[Connection, bool]:
        try:
            from sandbox import google_contacts as google_sandbox
            from sandbox import hubspot as hubspot_sandbox
            from sandbox import kustomer as kustomer_sandbox
            from sandbox import mailchimp as mailchimp_sandbox
            from sandbox.kustomer.seed import DEMO_SYNC_API_KEY
            from sandbox.server import Sandbox
        except ModuleNotFoundError as error:
            # An installed product (pip install .) ships no emulator; --no-connection still works.
            raise CommandError(f"{MISSING_SANDBOX} ({error.name} is missing)") from None

        workspace, _ = Workspace.objects.get_or_create(
            slug=DEMO_WORKSPACE, defaults={"name": DEMO_WORKSPACE_NAME}
        )
        Membership.objects.get_or_create(
            workspace=workspace, user=user, defaults={"role": Membership.Role.OWNER}
        )
        kustomer = self._account(
            workspace,
            "kustomer",
            f"{kustomer_sandbox.DEMO_SUBDOMAIN}.kustomerapp.com",
            # Tandem's own API key (a machine user allowed to register webhooks), so an edit
            # made with another key or the demo user's sign-in arrives in real time.
            {"subdomain": kustomer_sandbox.DEMO_SUBDOMAIN, "api_key": DEMO_SYNC_API_KEY},
        )
        google = self._account(
            workspace,
            "google_contacts",
            google_sandbox.DEMO_EMAIL,
            {"refresh_token": google_sandbox.DEMO_REFRESH_TOKEN},
        )
        # Ready for a connection the demo user makes in the wizard (Google ⇄ HubSpot ...).
        self._account(
            workspace,
            "hubspot",
            f"HubSpot account {hubspot_sandbox.DEMO_HUB_ID}",
            {"private_app_token": hubspot_sandbox.DEMO_TOKEN},
        )
        self._account(
            workspace,
            "mailchimp",
            f"Newsletter ({mailchimp_sandbox.DEMO_DC})",
            {"api_key": mailchimp_sandbox.DEMO_API_KEY, "list_id": mailchimp_sandbox.DEMO_LIST_ID},
        )
        existing = (
            Connection.objects.filter(workspace=workspace)
            .filter(
                Q(account_a=kustomer, account_b=google) | Q(account_a=google, account_b=kustomer)
            )
            .order_by("id")
            .first()
        )
        if existing is not None:
            return existing, False
        # The in-process sandbox is a means, not news: keep its request log quiet.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        sandbox = Sandbox().start()
        try:
            for emulator in sandbox.emulators.values():
                emulator.seed_demo()
            with (
                override_settings(
                    KUSTOMER_BASE_URL_TEMPLATE=sandbox.base_url("kustomer") + "/{subdomain}",
                    GOOGLE_OAUTH_TOKEN_URL=sandbox.base_url("google_contacts") + "/token",
                    GOOGLE_PEOPLE_BASE_URL=sandbox.base_url("google_contacts"),
                ),
                transaction.atomic(),
            ):
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
        return connection, True

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
