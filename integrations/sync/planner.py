"""The planner, pure: what a run does with one page, decided from plain data.

``plan_page`` takes the configuration, the page's source side, its records with their links
and counterparts, and the email matches, and returns a ``Plan``: the records to create on the
other side, the pairs to update field by field, the tags to add or remove, the links whose
flags change, the records that cannot be read, and the findings (links made, records excluded,
duplicates, conflicts) with their notes. It reads no database and calls no app; the engine
gathers its inputs, and the writer and the store carry it out.
"""

from __future__ import annotations

import functools
from collections import ChainMap, Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from integrations.sync import actions as actions_mod
from integrations.sync import conditions as conditions_mod
from integrations.sync import findings
from integrations.sync import mapping as mapping_mod
from integrations.sync.actions import Effects
from integrations.sync.config import Config, RuleConfig
from integrations.sync.matching import Duplicate, EmailMatches
from integrations.sync.merge import MergeResult, merge
from integrations.sync.records import Contact
from integrations.sync.sides import SIDES, Side, other
from integrations.sync.state import Link

TRASH_TAG = "Tandem Trash"
# What ``mapping.is_empty`` counts as empty besides ``None``.
_EMPTIES: tuple[Any, ...] = ("", [], {})
UNSUBSCRIBE_TAG = "Tandem Unsubscribes"

# A journal item, or a function building it (called only when the journal keeps the item).
Item = dict[str, Any] | Callable[[], dict[str, Any]]
Applied = dict[str, list[dict[str, Any]]]


@dataclass
class PairPlan:
    """A linked (or just matched) pair and what the run does to it."""

    records: dict[str, Contact]
    link: Link | None
    merged: MergeResult
    effects: dict[str, Effects]
    applied_actions: Applied
    how: str = ""

    def record_id(self, side: str) -> str:
        return self.records[side].id


@dataclass
class CreatePlan:
    source: Side
    record: Contact
    values: dict[str, Any]
    snapshot: dict[str, dict[str, Any]]
    add_tags: list[str]
    applied_actions: Applied
    # The source record unsubscribed (or was cleaned): the target never adds it as subscribed,
    # whether or not the connection syncs unsubscribes (that option is about tags, this consent).
    unsubscribed: bool = False

    @property
    def target(self) -> Side:
        return other(self.source)


@dataclass(frozen=True)
class TagOp:
    side: str
    tag: str
    add: bool
    record_id: str
    # The pair whose rule asked for it; ``None`` for a deletion's survivor.
    pair: PairPlan | None = None


@dataclass(frozen=True)
class Failure:
    side: str
    record_id: str
    target: str
    reason: str


@dataclass(frozen=True)
class Finding:
    """A decision the journal lists: ``name`` is its list ("links", "excluded", ...), ``note``
    builds the run's note about it (kind ``note_kind``) when the run keeps notes."""

    name: str
    item: dict[str, Any]
    note_kind: str = ""
    note: Callable[[], dict[str, Any]] | None = None


@dataclass
class Plan:
    source: Side
    pairs: list[PairPlan] = field(default_factory=list)
    creates: list[CreatePlan] = field(default_factory=list)
    # Deletions' survivor tags first, then the pairs' rule tags, in the order they are written.
    tags: list[TagOp] = field(default_factory=list)
    # Links whose deleted flags or ids change without any write to the apps.
    touched_links: list[Link] = field(default_factory=list)
    # Records the app handed over unreadable: parked with the app's reason.
    failures: list[Failure] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # What a plan of this page lists per side: (side, list, item).
    side_items: list[tuple[str, str, Item]] = field(default_factory=list)
    # Deletion / unsubscribe tags per target side, for the breaker.
    mass_tags: Counter[str] = field(default_factory=Counter)
    # Records this plan deals with, per side: later pages leave them alone.
    done: dict[str, set[str]] = field(default_factory=lambda: {s: set() for s in SIDES})
    # Live links this plan stops (deletions), negative.
    in_sync_delta: int = 0


@dataclass
class PageInput:
    """Everything ``plan_page`` reads about one page, as plain data."""

    source: Side
    # Unreadable records (their ``problem`` says why), parked as failures.
    problems: list[Contact] = field(default_factory=list)
    # Links re-keyed to a record's new id on the page's side.
    rekeyed: list[Link] = field(default_factory=list)
    # Live linked records with their links (re-keyed), and the counterparts found by id.
    linked: list[tuple[Contact, Link]] = field(default_factory=list)
    counterparts: Mapping[str, Contact] = field(default_factory=dict)
    # Unlinked records without an email, in order.
    no_email: list[Contact] = field(default_factory=list)
    # The email matching of the unlinked records that hold an email.
    matches: EmailMatches = field(default_factory=EmailMatches)
    # The other side's records the matches name, by id.
    matched: Mapping[str, Contact] = field(default_factory=dict)


def plan_page(config: Config, page: PageInput) -> Plan:
    """What the run does with one page of ``page.source``'s records."""
    planner = _Planner(config, page.source)
    planner.plan.touched_links.extend(page.rekeyed)
    for record in page.problems:
        planner.plan.failures.append(
            Failure(page.source, record.id, other(page.source), record.problem)
        )
    planner.linked(page.linked, page.counterparts)
    planner.unlinked(page.no_email, page.matches, page.matched)
    planner.list_pair_writes()
    return planner.plan


class _Planner:
    def __init__(self, config: Config, source: Side) -> None:
        self.cfg = config
        self.source = source
        self.target = other(source)
        self.plan = Plan(source=source)
        # What ``create`` does with each mapping that lets values flow out of the source, made
        # once for the page: (reader on the source, converter to the target, the target's
        # record fields of a value, the key on the source, the key on the target).
        self._create_steps = [
            (
                m.readers[source],
                m.converter(source),
                m.changer(self.target),
                m.key(source),
                m.key(self.target),
            )
            for m in config.mappings
            if m.flows(source)
        ]
        # Per side, its rules that undo their actions (most connections have none).
        self._undo_rules = {side: [r for r in config.rules[side] if r.undo] for side in SIDES}

    # Linked records -------------------------------------------------------------------------

    def linked(
        self, linked: Iterable[tuple[Contact, Link]], counterparts: Mapping[str, Contact]
    ) -> None:
        source, target = self.source, self.target
        for record, link in linked:
            counterpart = counterparts.get(link.id(target))
            gone = counterpart is None or counterpart.deleted
            if counterpart is not None and counterpart.id != link.id(target):
                link = link.with_id(target, counterpart.id)
                self.plan.touched_links.append(link)
            if record.deleted:
                self.deleted(link, deleted_side=source, survivor=not gone)
            elif gone:
                self.deleted(link, deleted_side=target, survivor=True)
            else:
                assert counterpart is not None
                self.pair({source: record, target: counterpart}, link)

    def deleted(self, link: Link, *, deleted_side: str, survivor: bool) -> None:
        """A linked record was deleted (or vanished): the pair stops syncing, nothing is
        recreated, and with the deletions option the survivor gets "Tandem Trash"."""
        survivor_side = other(deleted_side)
        self.plan.in_sync_delta -= 1
        link = link.with_deleted(deleted_side)
        self.plan.touched_links.append(link)
        self.plan.done["a"].add(link.id_a)
        self.plan.done["b"].add(link.id_b)
        if survivor and self.cfg.deletions and self.cfg.flows[deleted_side]:
            survivor_id = link.id(survivor_side)
            self.plan.tags.append(TagOp(survivor_side, TRASH_TAG, True, survivor_id))
            self.plan.mass_tags[survivor_side] += 1
            self.plan.side_items.append(
                (survivor_side, "tag", {"id": survivor_id, "tag": TRASH_TAG})
            )

    # Unlinked records -----------------------------------------------------------------------

    def unlinked(
        self, no_email: Iterable[Contact], matches: EmailMatches, matched: Mapping[str, Contact]
    ) -> None:
        for record in no_email:
            if self.cfg.avoid_duplicates:
                self.excluded(record, reason="no email")
            else:
                self.create(record)
        for outcome in matches.outcomes:
            if isinstance(outcome, Duplicate):
                self.duplicate(outcome)
            else:
                self.create(outcome.record)
        for record, match in matches.pairs:
            counterpart = matched.get(match)
            if counterpart is None or counterpart.deleted:
                self.create(record)
                continue
            self.pair({self.source: record, self.target: counterpart}, None, how="email")

    # Decisions ------------------------------------------------------------------------------

    def matching_rules(self, side: str, record: Contact, *, exists: bool) -> list[RuleConfig]:
        spec = self.cfg.sides[side]
        return [
            rule
            for rule in self.cfg.rules[side]
            # A rule without conditions matches every contact.
            if not rule.conditions
            or conditions_mod.rule_matches(
                rule.conditions,
                record,
                fields=spec.fields,
                specials=spec.specials,
                exists_in_other=exists,
            )
        ]

    def pair(self, records: dict[str, Contact], link: Link | None, *, how: str = "") -> None:
        source = self.source
        matched = {
            side: self.matching_rules(side, records[side], exists=True)
            if self.cfg.is_source(side)
            else []
            for side in SIDES
        }
        if not matched[source]:
            self.excluded(records[source], reason="no rule matches", exists=True)
        merged = merge(
            self.cfg.mappings,
            records["a"].values,
            records["b"].values,
            link.snapshot if link is not None else {},
            winner=self.cfg.winner,
            may_flow={side: bool(matched[side]) for side in SIDES},
        )
        applied: Applied = {
            side: list((link.applied_actions or {}).get(side, [])) if link else [] for side in SIDES
        }
        effects = {side: Effects() for side in SIDES}
        for from_side in SIDES:
            to_side = other(from_side)
            # The target's values once the merge's changes are written, read by the actions.
            values_after = ChainMap(merged.changes[to_side], records[to_side].values)
            effects[to_side] = self.rule_effects(
                from_side, matched[from_side], applied, values_after
            )
            self.status_tag(from_side, records, effects[to_side])
            self.absorb_action_fields(merged, to_side, records[to_side], effects[to_side])
        pair = PairPlan(
            records=records,
            link=link,
            merged=merged,
            effects=effects,
            applied_actions=applied,
            how=how,
        )
        for side in SIDES:
            self.plan.done[side].add(records[side].id)
        if how:
            self.plan.findings.append(
                Finding("links", {"id_a": records["a"].id, "id_b": records["b"].id, "how": how})
            )
        for key in merged.conflicts:
            self.plan.findings.append(
                Finding(
                    "conflicts",
                    {"id_a": records["a"].id, "id_b": records["b"].id, "field": key},
                    findings.CONFLICT,
                    functools.partial(findings.conflict_note, self.cfg, key, records, merged),
                )
            )
        self.plan.pairs.append(pair)

    def rule_effects(
        self,
        from_side: str,
        matched: list[RuleConfig],
        applied: Applied,
        target_values: Mapping[str, Any],
    ) -> Effects:
        """Actions of the matching rules, and the undo of undo rules no longer matching."""
        to_side = other(from_side)
        fields = self.cfg.sides[to_side].fields
        effects = Effects()
        undo_rules = self._undo_rules[from_side]
        matched_ids = {rule.id for rule in matched} if undo_rules else set()
        for rule in undo_rules:
            if rule.id in matched_ids:
                continue
            entries = [e for e in applied[to_side] if e.get("rule") == rule.id]
            if entries:
                effects.extend(actions_mod.plan_undo(entries, target_values, fields=fields))
                applied[to_side] = [e for e in applied[to_side] if e.get("rule") != rule.id]
        for rule in matched:
            if not rule.actions:  # most rules: nothing to plan, nothing applied
                continue
            planned = actions_mod.plan_actions(rule.actions, target_values, fields=fields)
            effects.extend(planned)
            if rule.undo:
                applied[to_side].extend(planned.applied)
        return effects

    def status_tag(self, from_side: str, records: dict[str, Contact], effects: Effects) -> None:
        """An unsubscribe on one side becomes "Tandem Unsubscribes" on the other."""
        to_side = other(from_side)
        if not (self.cfg.unsubscribes and self.cfg.flows[from_side]):
            return
        if not records[from_side].unsubscribed or UNSUBSCRIBE_TAG in effects.add_tags:
            return
        if not actions_mod.has_tag(records[to_side].values, UNSUBSCRIBE_TAG):
            effects.add_tags.append(UNSUBSCRIBE_TAG)
            self.plan.mass_tags[to_side] += 1

    def absorb_action_fields(
        self, merged: MergeResult, side: str, record: Contact, effects: Effects
    ) -> None:
        """Fields set by actions are written with the merge's changes and, when mapped, land in
        the snapshot, so the next run sees no change."""
        if not effects.set_fields:
            return
        for key, value in effects.set_fields.items():
            merged.changes[side][key] = value
            for m in self.cfg.mappings:
                if m.key(side) == key:
                    normalized = m.normalize(side, value)
                    merged.diffs[side][key] = {
                        "before": m.read(side, record),
                        "after": normalized,
                    }
                    merged.snapshot[side][key] = normalized
            if key not in merged.diffs[side]:
                merged.diffs[side][key] = {"before": record.values.get(key), "after": value}

    def create(self, record: Contact) -> None:
        source, target = self.source, self.target
        matched = self.matching_rules(source, record, exists=False)
        if not matched:
            self.excluded(record, reason="no rule matches")
            return
        values: dict[str, Any] = {}
        snapshot: dict[str, dict[str, Any]] = {"a": {}, "b": {}}
        snap_source, snap_target = snapshot[source], snapshot[target]
        record_values = record.values
        unconvertible = mapping_mod.UNCONVERTIBLE
        for read, convert, changes, key_source, key_target in self._create_steps:
            now = read(record_values)
            value = convert(now, None, None, None)
            # is_empty, inline
            if value is unconvertible or value is None or value in _EMPTIES:
                continue
            values.update(changes(value))
            snap_source[key_source] = now
            snap_target[key_target] = value
        applied: Applied = {"a": [], "b": []}
        effects = self.rule_effects(source, matched, applied, dict(values))
        for key, value in effects.set_fields.items():
            values[key] = value
            for m in self.cfg.mappings:
                if m.key(target) == key:
                    snapshot[target][key] = m.normalize(target, value)
        add_tags = list(effects.add_tags)
        if self.cfg.unsubscribes and record.unsubscribed and UNSUBSCRIBE_TAG not in add_tags:
            # Part of a create, not a change to what the other side holds: no breaker count.
            add_tags.append(UNSUBSCRIBE_TAG)
        self.plan.creates.append(
            CreatePlan(
                source=source,
                record=record,
                values=values,
                snapshot=snapshot,
                add_tags=add_tags,
                applied_actions=applied,
                unsubscribed=record.unsubscribed,
            )
        )
        self.plan.done[source].add(record.id)
        self.plan.side_items.append(
            (target, "create", functools.partial(_create_item, record.id, values))
        )
        for tag in add_tags:
            self.plan.side_items.append((target, "tag", {"new_for": record.id, "tag": tag}))

    # Findings -------------------------------------------------------------------------------

    def excluded(self, record: Contact, *, reason: str, exists: bool = False) -> None:
        side = self.source
        self.plan.findings.append(
            Finding(
                "excluded",
                {"side": side, "id": record.id, "reason": reason},
                findings.EXCLUDED,
                functools.partial(
                    findings.excluded_note, self.cfg, side, record.id, reason, record, exists
                ),
            )
        )

    def duplicate(self, found: Duplicate) -> None:
        side, record_id = self.source, found.record.id
        self.plan.findings.append(
            Finding(
                "duplicates",
                {"side": side, "id": record_id, "email": found.email},
                findings.DUPLICATE,
                functools.partial(
                    findings.duplicate_note,
                    self.cfg,
                    side,
                    record_id,
                    found.email,
                    twins=found.twins,
                    theirs=found.theirs,
                    linked=found.linked,
                ),
            )
        )

    # The pairs' writes, listed --------------------------------------------------------------

    def list_pair_writes(self) -> None:
        for pair in self.plan.pairs:
            for side in SIDES:
                effects = pair.effects[side]
                if pair.merged.changes[side]:
                    self.plan.side_items.append(
                        (
                            side,
                            "update",
                            functools.partial(
                                _update_item, pair.record_id(side), pair.merged.diffs[side]
                            ),
                        )
                    )
                for tags, adding, op in (
                    (effects.add_tags, True, "tag"),
                    (effects.remove_tags, False, "untag"),
                ):
                    for tag in tags:
                        self.plan.tags.append(TagOp(side, tag, adding, pair.record_id(side), pair))
                        self.plan.side_items.append(
                            (side, op, {"id": pair.record_id(side), "tag": tag})
                        )


def breaker_message(
    config: Config,
    mass_tags: Mapping[str, int],
    tagged_so_far: Mapping[str, int],
    sizes: Callable[[str], int],
    *,
    share: float,
) -> tuple[str, dict[str, int]]:
    """Why the run must stop before this page ("" to go on), and each side's deletion and
    unsubscribe tags counted with it. ``sizes`` tells a side's live records."""
    totals: dict[str, int] = {}
    for side in SIDES:
        planned = mass_tags.get(side, 0)
        if not planned:
            continue
        size = sizes(side)
        total = tagged_so_far.get(side, 0) + planned
        if size and total > share * size:
            app = config.sides[side].name
            return (
                f"This run would tag {total} of {size} contacts in {app} as deleted or "
                f"unsubscribed (more than {share:.0%}). Confirm to let it go on.",
                totals,
            )
        totals[side] = total
    return "", totals


def _create_item(source_id: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"source_id": source_id, "values": findings.jsonable(values)}


def _update_item(record_id: str, diffs: dict[str, Any]) -> dict[str, Any]:
    return {"id": record_id, "fields": findings.jsonable(diffs)}
