"""Plain data for the planner's tests: two apps' fields, a configuration, records and links."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from integrations.sync import mapping as mapping_mod
from integrations.sync.actions import ActionData
from integrations.sync.conditions import ConditionData
from integrations.sync.config import Config, RuleConfig, SideConfig
from integrations.sync.fields import FieldSpec, FieldType, NameStyle
from integrations.sync.matching import EmailMatches, match_by_email
from integrations.sync.planner import PageInput, Plan, plan_page
from integrations.sync.records import Contact
from integrations.sync.sides import SIDES, other
from integrations.sync.state import Link

STYLES = {"a": NameStyle.FULL, "b": NameStyle.SPLIT}
NAMES = {"a": "Alpha", "b": "Beta"}


def fields(style: NameStyle) -> dict[str, FieldSpec]:
    names = (
        [FieldSpec("full_name", "Name", FieldType.TEXT, canonical="name.full")]
        if style == NameStyle.FULL
        else [
            FieldSpec("first_name", "First name", FieldType.TEXT, canonical="name.first"),
            FieldSpec("last_name", "Last name", FieldType.TEXT, canonical="name.last"),
        ]
    )
    specs = [
        FieldSpec("emails", "Emails", FieldType.EMAIL, multi=True, canonical="email"),
        *names,
        FieldSpec("company", "Company", FieldType.TEXT, canonical="company"),
        FieldSpec("job_title", "Job title", FieldType.TEXT, canonical="job_title"),
        FieldSpec("tags", "Tags", FieldType.TAGS, multi=True, canonical="tags"),
    ]
    return {spec.key: spec for spec in specs}


def rule(
    source: str,
    rule_id: int = 1,
    *,
    conditions: list[ConditionData] | None = None,
    actions: list[dict[str, Any]] | None = None,
    undo: bool = False,
) -> RuleConfig:
    return RuleConfig(
        id=rule_id,
        source=source,
        conditions=tuple(conditions or ()),
        actions=tuple(ActionData(rule_id=rule_id, **a) for a in actions or ()),
        undo=undo,
    )


def company_is(value: str) -> ConditionData:
    return ConditionData(kind="field", field="company", operator="equals", value=value)


def config(
    *,
    rules: dict[str, list[RuleConfig]] | None = None,
    flows: dict[str, bool] | None = None,
    winner: str = "a",
    avoid_duplicates: bool = True,
    deletions: bool = False,
    unsubscribes: bool = False,
) -> Config:
    specs = {side: fields(STYLES[side]) for side in SIDES}
    mappings = []
    for default in mapping_mod.default_mappings(
        specs["a"].values(), specs["b"].values(), style_a=STYLES["a"], style_b=STYLES["b"]
    ):
        spec_a = mapping_mod.spec_for(default.field_a, specs["a"], STYLES["a"])
        spec_b = mapping_mod.spec_for(default.field_b, specs["b"], STYLES["b"])
        assert spec_a is not None and spec_b is not None
        mappings.append(
            mapping_mod.Mapping(
                field_a=default.field_a, field_b=default.field_b, spec_a=spec_a, spec_b=spec_b,
                style_a=STYLES["a"], style_b=STYLES["b"], direction=default.direction,
            )
        )  # fmt: skip
    return Config(
        sides={
            side: SideConfig(side, NAMES[side], STYLES[side], specs[side], {}) for side in SIDES
        },
        mappings=tuple(mappings),
        rules={
            side: tuple(found)
            for side, found in (rules or {"a": [rule("a", 1)], "b": [rule("b", 2)]}).items()
        },
        flows=flows or {"a": True, "b": True},
        winner=winner,
        avoid_duplicates=avoid_duplicates,
        deletions=deletions,
        unsubscribes=unsubscribes,
    )


def contact(record_id: str, email: str | None = None, **values: Any) -> Contact:
    flags = {k: values.pop(k) for k in ("deleted", "unsubscribed", "version") if k in values}
    return Contact(id=record_id, values={"emails": [email] if email else [], **values}, **flags)


def linked_page(
    cfg: Config,
    source: str,
    pairs: list[tuple[Contact, Link]],
    counterparts: list[Contact],
) -> Plan:
    """The plan of a page of linked records whose counterparts are ``counterparts``."""
    return plan_page(
        cfg,
        PageInput(source=source, linked=pairs, counterparts={c.id: c for c in counterparts}),
    )


def new_page(
    cfg: Config,
    source: str,
    records: list[Contact],
    *,
    theirs: Sequence[Contact] = (),
) -> Plan:
    """The plan of a page of unlinked records, the other side holding ``theirs``."""
    holders: dict[str, dict[str, list[str]]] = {side: {} for side in SIDES}
    for side, found in ((source, records), (other(source), list(theirs))):
        for record in found:
            for email in record.normalized_emails:
                holders[side].setdefault(email, []).append(record.id)
    candidates = [r for r in records if r.normalized_emails]
    matches: EmailMatches = match_by_email(
        candidates,
        same_side=holders[source],
        other_side=holders[other(source)],
        linked_there=set(),
        taken=set(),
    )
    return plan_page(
        cfg,
        PageInput(
            source=source,
            no_email=[r for r in records if not r.normalized_emails],
            matches=matches,
            matched={r.id: r for r in theirs},
        ),
    )


def names(plan: Plan, finding: str) -> list[dict[str, Any]]:
    return [f.item for f in plan.findings if f.name == finding]
