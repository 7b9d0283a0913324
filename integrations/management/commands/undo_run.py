"""Put back what one run wrote to the apps."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.management.commands._support import dump_json
from integrations.models import SyncRun
from integrations.services.audit import UNDO_TAG, UndoRefused, run_undo


class Command(BaseCommand):
    help = (
        "Undo a run: put back every field it wrote whose value is still the one it wrote (a "
        "field edited since is reported and left alone), remove the tags it added, and list "
        f"the records it created (never deleted; tagged {UNDO_TAG!r} where the app has tags). "
        "The undo is a run of its own, audited, and can be undone in turn. Try --dry-run first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_id", type=int)
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be put back; write nothing."
        )
        parser.add_argument("--json", action="store_true", help="Print the plan as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = run_undo(run_id=options["run_id"], dry_run=options["dry_run"])
        except UndoRefused as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            dump_json(self, {"run": run.pk, "outcome": run.outcome, **run.plan})
        else:
            self._report(run)
        if run.outcome == SyncRun.Outcome.FAILED:
            raise CommandError(f"The undo failed: {run.error}")

    def _report(self, run: SyncRun) -> None:
        plan = run.plan
        connection = run.connection
        apps = {"a": connection.account_a.app_name, "b": connection.account_b.app_name}
        would = "would " if run.dry_run else ""
        kind = "dry run of the undo" if run.dry_run else "undo"
        self.stdout.write(
            f"{kind} of run {plan['undo_of']} (run {run.pk}, connection {connection.pk}): "
            f"{run.outcome}"
        )
        for item in plan["restore"]:
            self.stdout.write(
                f"  {would}restore {apps[item['side']]} {item['record_id']} {item['field']}: "
                f"{item['from']!r} -> {item['to']!r}"
            )
        for item in plan["changed_since"]:
            self.stdout.write(
                f"  left alone {apps[item['side']]} {item['record_id']} {item['field']}: "
                f"changed since the run (it wrote {item['wrote']!r}, now {item['now']!r})"
            )
        for item in plan["untag"]:
            self.stdout.write(
                f"  {would}remove {item['tag']!r} from {apps[item['side']]} {item['record_id']}"
            )
        for item in plan["retag"]:
            self.stdout.write(
                f"  {would}add {item['tag']!r} back to {apps[item['side']]} {item['record_id']}"
            )
        for item in plan["created"]:
            tagged = f", {would}tagged {item['tagged']!r}" if item["tagged"] else ""
            self.stdout.write(
                f"  created by the run, kept: {apps[item['side']]} {item['record_id']}{tagged}"
            )
        for item in plan["gone"]:
            self.stdout.write(f"  gone since the run: {apps[item['side']]} {item['record_id']}")
        for item in plan["failed"]:
            self.stdout.write(
                f"  failed: {apps[item['side']]} {item['record_id']}: {item['reason']}"
            )
        if not any(plan[k] for k in ("restore", "untag", "retag", "created")):
            self.stdout.write("  nothing to put back")
