"""Why is (or isn't) this contact in sync? Everything Tandem knows about one contact, and one
sentence that answers the question.

The decisions are made by the engine's own pure pieces (``sync/conditions.py``, ``mapping.py``,
``merge.py``) on the records read from the apps now, so the answer is what the next run would
decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from integrations.connectors.accounts import connector_for
from integrations.connectors.base import Connector, ConnectorError
from integrations.management.commands._support import apps_of, connection_or_error, dump_json
from integrations.models import Connection, RecordIssue, RecordLink, Rule
from integrations.services.audit import record_audit_entries
from integrations.sync import conditions as conditions_mod
from integrations.sync import mapping as mapping_mod
from integrations.sync.config import Config
from integrations.sync.findings import jsonable
from integrations.sync.merge import merge
from integrations.sync.records import (
    EMAILS,
    FIRST_NAME,
    FULL_NAME,
    LAST_NAME,
    TAGS,
    Contact,
    normalize_email,
)
from integrations.sync.selectors import load_config
from integrations.sync.sides import SIDES, other


def _jsonable(value: Any) -> Any:
    return jsonable(value)


@dataclass
class Explanation:
    connection: Connection
    query: str
    config: Config
    apps: dict[str, str]
    records: dict[str, list[Contact]] = field(default_factory=lambda: {"a": [], "b": []})
    link: RecordLink | None = None
    # Per side: other records holding the same email (duplicates) and the other side's holders.
    twins: dict[str, list[str]] = field(default_factory=lambda: {"a": [], "b": []})
    issues: list[RecordIssue] = field(default_factory=list)
    rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mappings: list[dict[str, Any]] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdict: str = ""

    def record(self, side: str) -> Contact | None:
        found = self.records[side]
        return found[0] if found else None

    def as_dict(self) -> dict[str, Any]:
        link = self.link
        return {
            "connection": {"id": self.connection.pk, "name": str(self.connection)},
            "query": self.query,
            "records": {
                side: [_record_dict(r, self.apps[side]) for r in self.records[side]]
                for side in SIDES
            },
            "duplicates": self.twins,
            "link": {
                "id": link.pk,
                "id_a": link.id_a,
                "id_b": link.id_b,
                "snapshot": link.snapshot,
                "deleted_a": link.deleted_a,
                "deleted_b": link.deleted_b,
                "synced_at": link.synced_at,
            }
            if link
            else None,
            "rules": self.rules,
            "mappings": self.mappings,
            "pending_changes": self.changes,
            "last_writes": self.writes,
            "issues": [
                {
                    "side": i.side,
                    "record_id": i.record_id,
                    "target": i.target,
                    "reason": i.reason,
                    "attempts": i.attempts,
                    "next_retry_at": i.next_retry_at,
                }
                for i in self.issues
            ],
            "verdict": self.verdict,
        }


def _name(record: Contact) -> str:
    values = record.values
    full = values.get(FULL_NAME) or " ".join(
        str(p) for p in (values.get(FIRST_NAME), values.get(LAST_NAME)) if p
    )
    return str(full or "")


def _record_dict(record: Contact, app: str) -> dict[str, Any]:
    return {
        "app": app,
        "id": record.id,
        "name": _name(record),
        "emails": record.values.get(EMAILS) or [],
        "tags": record.values.get(TAGS) or [],
        "updated_at": record.updated_at,
        "version": record.version,
    }


def _condition_text(condition: conditions_mod.ConditionData, specs: dict[str, Any]) -> str:
    if condition.kind == conditions_mod.EXISTS_IN_OTHER:
        return "already exists in the app you sync with"
    if condition.kind == conditions_mod.SPECIAL:
        special = specs.get(condition.field)
        label = special.label if special else condition.field
        return f"{label} {condition.operator} {condition.value!r}"
    return f"{condition.field} {condition.operator} {condition.value!r}"


class Explainer:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.connectors: dict[str, Connector] = {
            "a": connector_for(connection.account_a, choices=connection.choices_for("a")),
            "b": connector_for(connection.account_b, choices=connection.choices_for("b")),
        }
        self.apps = {side: str(self.connectors[side].name) for side in SIDES}

    def explain(self, query: str) -> Explanation:
        config = load_config(self.connection, self.connectors["a"], self.connectors["b"])
        ex = Explanation(self.connection, query, config, self.apps)
        self.find(ex, query.strip())
        ids = {side: [r.id for r in ex.records[side]] for side in SIDES}
        ex.issues = list(
            RecordIssue.objects.filter(
                Q(side="a", record_id__in=ids["a"]) | Q(side="b", record_id__in=ids["b"]),
                connection=self.connection,
                resolved_at__isnull=True,
            ).order_by("-last_seen_at")
        )
        ex.writes = [
            {
                "run": e.run_id,
                "at": e.created_at,
                "app": self.apps[e.side],
                "record_id": e.record_id,
                "kind": e.kind,
                "field": e.field,
                "before": e.before,
                "after": e.after,
                "why": e.get_why_display(),
            }
            for e in record_audit_entries(
                connection=self.connection, record_ids=ids["a"] + ids["b"], limit=20
            )
        ]
        self.evaluate_rules(ex)
        self.evaluate_mappings(ex)
        ex.verdict = self.verdict(ex)
        return ex

    # Finding the records ---------------------------------------------------------------------

    def get(self, side: str, record_id: str) -> Contact | None:
        try:
            found = self.connectors[side].get_many([record_id])
        except ConnectorError as exc:
            if exc.permanent:
                raise
            return None
        return next((r for r in found if not r.deleted), None)

    def find(self, ex: Explanation, query: str) -> None:
        link: RecordLink | None = None
        if "@" in query:
            email = normalize_email(query)
            for side in SIDES:
                holders = self.connectors[side].find_by_emails([email]).get(email, [])
                ex.records[side] = [r for r in holders if not r.deleted]
        else:
            link = (
                RecordLink.objects.filter(Q(id_a=query) | Q(id_b=query), connection=self.connection)
                .order_by("pk")
                .first()
            )
            sides = [s for s in SIDES if link.record_id(s) == query] if link else list(SIDES)
            for side in sides:
                record = self.get(side, query)
                if record is not None:
                    ex.records[side] = [record]
        if link is None:
            ids = {side: [r.id for r in ex.records[side]] for side in SIDES}
            link = (
                RecordLink.objects.filter(
                    Q(id_a__in=ids["a"]) | Q(id_b__in=ids["b"]), connection=self.connection
                )
                .order_by("pk")
                .first()
            )
        ex.link = link
        if link is not None:
            for side in SIDES:
                linked_id = link.record_id(side)
                mine = [r for r in ex.records[side] if r.id == linked_id]
                rest = [r for r in ex.records[side] if r.id != linked_id]
                if not mine and not (link.deleted_a or link.deleted_b):
                    record = self.get(side, linked_id)
                    mine = [record] if record else []
                ex.records[side] = mine + rest
            return
        # Unlinked: the records holding its emails on both sides, as the engine matches them.
        for side in SIDES:
            record = ex.record(side)
            if record is None or not record.normalized_emails:
                continue
            found = self.connectors[side].find_by_emails(record.normalized_emails)
            twins = {r.id for rs in found.values() for r in rs if not r.deleted} - {record.id}
            ex.twins[side] = sorted(twins)
            if not ex.records[other(side)]:
                there = self.connectors[other(side)].find_by_emails(record.normalized_emails)
                ex.records[other(side)] = list(
                    {r.id: r for rs in there.values() for r in rs if not r.deleted}.values()
                )

    # Rules and mappings ----------------------------------------------------------------------

    def evaluate_rules(self, ex: Explanation) -> None:
        names = {rule.pk: str(rule) for rule in Rule.objects.filter(connection=self.connection)}
        for source in SIDES:
            key = f"{source}_to_{other(source)}"
            record = ex.record(source)
            exists = ex.record(other(source)) is not None
            side = ex.config.sides[source]
            entries = []
            for rule in ex.config.rules[source]:
                checks = []
                for condition in rule.conditions:
                    holds = (
                        conditions_mod.condition_holds(
                            condition,
                            record,
                            fields=side.fields,
                            specials=side.specials,
                            exists_in_other=exists,
                        )
                        if record is not None
                        else False
                    )
                    if condition.kind == conditions_mod.EXISTS_IN_OTHER:
                        saw: Any = exists
                    elif condition.kind == conditions_mod.SPECIAL:
                        saw = record.facts if record is not None else None
                    else:
                        saw = record.values.get(condition.field) if record is not None else None
                    checks.append(
                        {
                            "condition": _condition_text(condition, side.specials),
                            "holds": holds,
                            "saw": _jsonable(saw),
                        }
                    )
                entries.append(
                    {
                        "rule": rule.id,
                        "name": names.get(rule.id, f"rule {rule.id}"),
                        "matches": record is not None and all(c["holds"] for c in checks),
                        "conditions": checks,
                        "actions": [
                            f"{a.kind} {a.field + ' ' if a.field else ''}{a.value!r}"
                            for a in rule.actions
                        ],
                    }
                )
            ex.rules[key] = entries

    def matches(self, ex: Explanation, source: str) -> bool:
        return any(rule["matches"] for rule in ex.rules[f"{source}_to_{other(source)}"])

    def evaluate_mappings(self, ex: Explanation) -> None:
        a, b = ex.record("a"), ex.record("b")
        snapshot = (ex.link.snapshot or {}) if ex.link else {}
        for m in ex.config.mappings:
            now = {"a": m.read("a", a) if a else None, "b": m.read("b", b) if b else None}
            item: dict[str, Any] = {
                "field_a": m.field_a,
                "field_b": m.field_b,
                "direction": m.direction,
                "value_a": _jsonable(now["a"]),
                "value_b": _jsonable(now["b"]),
                "snapshot_a": (snapshot.get("a") or {}).get(m.key("a")),
                "snapshot_b": (snapshot.get("b") or {}).get(m.key("b")),
            }
            for source in SIDES:
                target = other(source)
                produced: Any = None
                if m.flows(source) and not mapping_mod.is_empty(now[source]):
                    produced = m.convert(source, now[source], target_now=now[target])
                    if produced is mapping_mod.UNCONVERTIBLE:
                        produced = "(cannot be converted)"
                item[f"{source}_gives_{target}"] = _jsonable(produced)
            item["same"] = bool(a and b and m.equivalent(now["a"], now["b"]))
            ex.mappings.append(item)
        if a is not None and b is not None:
            flows = {s: ex.config.flows[s] and self.matches(ex, s) for s in SIDES}
            result = merge(
                ex.config.mappings,
                a.values,
                b.values,
                snapshot,
                winner=ex.config.winner,
                may_flow=flows,
            )
            ex.changes = {
                self.apps[s]: _jsonable(result.diffs[s]) for s in SIDES if result.diffs[s]
            }

    # The one sentence ------------------------------------------------------------------------

    def excluded(self, ex: Explanation, source: str) -> str:
        target = other(source)
        direction = f"{self.apps[source]} → {self.apps[target]}"
        if not ex.config.flows[source]:
            return f"the connection syncs only {self.apps[target]} → {self.apps[source]}"
        rules = ex.rules[f"{source}_to_{target}"]
        if not rules:
            return f"no rule syncs {direction}"
        reasons = []
        for rule in rules:
            failing = next((c for c in rule["conditions"] if not c["holds"]), None)
            if failing is not None:
                reasons.append(
                    f'{rule["name"]}\'s condition "{failing["condition"]}" is false '
                    f"(it saw {failing['saw']!r})"
                )
        return f"it is excluded from {direction}: " + "; ".join(reasons)

    def verdict(self, ex: Explanation) -> str:
        apps = self.apps
        if ex.issues:
            issue = ex.issues[0]
            when = (
                f"; next retry {issue.next_retry_at:%Y-%m-%d %H:%M %Z}"
                if issue.next_retry_at
                else ""
            )
            return (
                f"It fails to sync: {apps[issue.target]} refused it: {issue.reason} "
                f"(attempt {issue.attempts}{when})."
            )
        link = ex.link
        a, b = ex.record("a"), ex.record("b")
        if link is not None:
            for side in SIDES:
                if getattr(link, f"deleted_{side}"):
                    return (
                        f"It no longer syncs: its {apps[side]} record {link.record_id(side)} was "
                        f"deleted, and Tandem never recreates a deleted record."
                    )
            for side, record in (("a", a), ("b", b)):
                if record is None:
                    return (
                        f"It no longer syncs: the linked {apps[side]} record "
                        f"{link.record_id(side)} is gone; the next run stops the pair."
                    )
            assert a is not None and b is not None
            if ex.changes:
                fields = ", ".join(
                    f"{app}: {', '.join(diffs)}" for app, diffs in ex.changes.items()
                )
                return f"It is linked and the next run writes what changed ({fields})."
            if all(m["same"] for m in ex.mappings):
                return (
                    f"It is in sync: {apps['a']} {a.id} and {apps['b']} {b.id} are linked and "
                    "hold the same value in every mapped field."
                )
            blocked = [self.excluded(ex, s) for s in SIDES if not self.matches(ex, s)]
            differ = ", ".join(
                f"{m['field_a']} ⇄ {m['field_b']}" for m in ex.mappings if not m["same"]
            )
            reason = "; ".join(blocked) or "no side changed them since the last sync"
            return f"It is linked but {differ} differ and do not flow: {reason}."
        found = [s for s in SIDES if ex.records[s]]
        if not found:
            return (
                f"Tandem has never seen it: no record matching {ex.query!r} exists in "
                f"{apps['a']} or {apps['b']}."
            )
        for side in SIDES:
            if len(ex.records[side]) > 1 or ex.twins[side]:
                ids = sorted({r.id for r in ex.records[side]} | set(ex.twins[side]))
                return (
                    f"It is a duplicate: {len(ids)} {apps[side]} records share its email "
                    f"({', '.join(ids)}); Tandem never guesses which one to link. Merge them "
                    f"in {apps[side]}."
                )
        source = found[0]
        record = ex.record(source)
        assert record is not None
        if not record.normalized_emails and ex.config.avoid_duplicates:
            return (
                f'It has no email address and "avoid duplicates" is on, so Tandem skips it. '
                f"Add an email in {apps[source]} or turn the option off."
            )
        if len(found) == 2:
            return (
                f"It is not linked yet: the next run links {apps['a']} {a.id if a else ''} and "
                f"{apps['b']} {b.id if b else ''} by their email."
            )
        if not self.matches(ex, source):
            return f"It is not synced: {self.excluded(ex, source)}."
        return (
            f"It is not synced yet: the next run creates it in {apps[other(source)]} "
            f"from {apps[source]} {record.id}."
        )


class Command(BaseCommand):
    help = (
        "Explain why a contact is or is not in sync: its records in both apps, the link and "
        "snapshot, each rule's conditions with the values they saw, the mappings and the "
        "values they produce, the last runs that wrote to it, its open issues, and one "
        "sentence. Give an email address or a record id of either app."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("connection_id", type=int)
        parser.add_argument("contact", help="An email address, or a record id in either app.")
        parser.add_argument("--json", action="store_true", help="Print JSON for scripts.")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connection_or_error(options["connection_id"])
        query = options["contact"].strip()
        if not query:
            raise CommandError("Give an email address or a record id.")
        try:
            ex = Explainer(connection).explain(query)
        except ConnectorError as exc:
            raise CommandError(f"Could not read the apps: {exc.message}") from None
        if options["json"]:
            dump_json(self, ex.as_dict())
            return
        self.print(ex)

    def print(self, ex: Explanation) -> None:
        out = self.stdout.write
        out(f"Connection {ex.connection.pk} ({ex.connection}): {apps_of(ex.connection)}")
        for side in SIDES:
            app = ex.apps[side]
            if not ex.records[side]:
                out(f"{app}: no record")
            for record in ex.records[side]:
                emails = ", ".join(map(str, record.values.get(EMAILS) or [])) or "no email"
                out(f"{app}: {record.id}  {_name(record)!r}  <{emails}>  version {record.version}")
        if ex.link is None:
            out("Link: none")
        else:
            link = ex.link
            out(f"Link {link.pk}: {link.id_a} ⇄ {link.id_b}, last synced {link.synced_at}")
            for side in SIDES:
                for key, value in sorted(((link.snapshot or {}).get(side) or {}).items()):
                    if value is not None:
                        out(f"  snapshot {ex.apps[side]} {key} = {value!r}")
        for key, rules in ex.rules.items():
            source, target = key.split("_to_")
            out(f"Rules {ex.apps[source]} → {ex.apps[target]}:")
            if not rules:
                out("  none: nothing flows this way")
            for rule in rules:
                out(f"  {rule['name']}: {'matches' if rule['matches'] else 'does not match'}")
                if not rule["conditions"]:
                    out("    (no conditions: every contact)")
                for check in rule["conditions"]:
                    verdict = "true" if check["holds"] else "false"
                    out(f"    {check['condition']}: {verdict} (saw {check['saw']!r})")
                for action in rule["actions"]:
                    out(f"    then {action}")
        out("Mappings:")
        for m in ex.mappings:
            state = "same" if m["same"] else "differ"
            out(
                f"  {m['field_a']} ⇄ {m['field_b']} ({state}): {m['value_a']!r} / "
                f"{m['value_b']!r}; gives {ex.apps['b']} {m['a_gives_b']!r}, "
                f"{ex.apps['a']} {m['b_gives_a']!r}"
            )
        out("Last writes:" if ex.writes else "Last writes: none in the audit")
        for w in ex.writes:
            out(
                f"  run {w['run']} {w['at']:%Y-%m-%d %H:%M} {w['app']} {w['record_id']} "
                f"{w['kind']} {w['field']}: {w['before']!r} -> {w['after']!r} ({w['why']})"
            )
        out("Open issues:" if ex.issues else "Open issues: none")
        for issue in ex.issues:
            out(f"  {ex.apps[issue.side]} {issue.record_id}: {issue.reason}")
        out("")
        out(ex.verdict)
