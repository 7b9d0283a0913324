"""Delete old runs and their audit entries, in batches."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from integrations.management.commands._support import bar_stream, positive_int
from integrations.models import AuditEntry
from integrations.services.audit import audit_cutoff, audit_prune, runs_prune, runs_to_prune


class Command(BaseCommand):
    help = (
        "Delete finished runs started more than --older-than days ago, with their audit "
        "entries, in batches (and audit entries past TANDEM_AUDIT_DAYS). Run it from cron to "
        "keep the database small; --dry-run counts what would go."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=positive_int,
            required=True,
            metavar="DAYS",
            help="Delete runs started more than this many days ago (1 or more).",
        )
        parser.add_argument("--batch", type=positive_int, default=500, help="Runs per batch.")
        parser.add_argument("--dry-run", action="store_true", help="Count, delete nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        days: int = options["older_than"]
        runs = runs_to_prune(older_than_days=days)
        count = runs.count()
        entries = AuditEntry.objects.filter(run__in=runs).count()
        expired = AuditEntry.objects.filter(created_at__lt=audit_cutoff()).count()
        if options["dry_run"]:
            self.stdout.write(
                f"would delete {count} run(s) older than {days} day(s) with {entries} audit "
                f"entr{'y' if entries == 1 else 'ies'}, and {expired} audit entries older than "
                f"TANDEM_AUDIT_DAYS ({settings.TANDEM_AUDIT_DAYS})"
            )
            return
        with tqdm(
            total=count, unit="run", desc="Deleting runs", file=bar_stream(self), leave=False
        ) as bar:
            deleted_runs, deleted_entries = runs_prune(
                older_than_days=days,
                batch=options["batch"],
                on_batch=lambda runs_done, _entries: bar.update(runs_done),
            )
        pruned = audit_prune()
        self.stdout.write(
            f"deleted {deleted_runs} run(s) older than {days} day(s) with {deleted_entries} "
            f"audit entr{'y' if deleted_entries == 1 else 'ies'}, and {pruned} audit entries "
            f"older than TANDEM_AUDIT_DAYS ({settings.TANDEM_AUDIT_DAYS})"
        )
