"""Reads the run's configuration: the connection's mappings and rules, resolved against both
apps' fields, as a plain ``Config`` handed to the planner."""

from __future__ import annotations

import logging

from integrations.models import Connection, FieldMapping, Rule
from integrations.sync import mapping as mapping_mod
from integrations.sync.actions import ActionData
from integrations.sync.apps import App, AppConnector
from integrations.sync.conditions import ConditionData
from integrations.sync.config import Config, RuleConfig, SideConfig
from integrations.sync.sides import SIDES, Side, as_side, other

logger = logging.getLogger(__name__)


def load_config(
    connection: Connection, connector_a: AppConnector | App, connector_b: AppConnector | App
) -> Config:
    """The connection's mappings and rules, resolved against both apps' fields."""
    apps = {
        side: app if isinstance(app, App) else App(side, app)
        for side, app in zip(SIDES, (connector_a, connector_b), strict=True)
    }
    rows = list(FieldMapping.objects.filter(connection=connection, enabled=True))
    all_rules = list(
        Rule.objects.filter(connection=connection).prefetch_related("conditions", "actions")
    )
    # The field keys the run reads or writes on each side: mapped, tested by a condition (on
    # the rule's source side), set by an action (on the other side).
    used: dict[Side, set[str]] = {"a": set(), "b": set()}
    for row in rows:
        used["a"].add(row.field_a)
        used["b"].add(row.field_b)
    for rule in all_rules:
        used[rule.source_side].update(c.field for c in rule.conditions.all() if c.field)
        used[other(rule.source_side)].update(a.field for a in rule.actions.all() if a.field)
    sides = {
        side: SideConfig(
            side=side,
            name=app.name,
            name_style=app.caps.name_style,
            fields=app.fields_for_sync(used[side]),
            specials={spec.key: spec for spec in app.caps.conditions},
            lookup_batch_size=app.caps.lookup_batch_size,
            create_batch_size=app.caps.create_batch_size,
            update_batch_size=app.caps.update_batch_size,
        )
        for side, app in apps.items()
    }
    mappings = []
    for row in rows:
        spec_a = mapping_mod.spec_for(row.field_a, sides["a"].fields, sides["a"].name_style)
        spec_b = mapping_mod.spec_for(row.field_b, sides["b"].fields, sides["b"].name_style)
        if spec_a is None or spec_b is None:
            logger.warning("connection %s: mapping %s names a field gone", connection.pk, row)
            continue
        if mapping_mod.value_map_problem(row.value_map):
            # Stored before value maps were validated: skip the mapping, keep the run going.
            logger.warning(
                "connection %s: mapping %s has an unusable value map", connection.pk, row
            )
            continue
        mappings.append(
            mapping_mod.Mapping(
                field_a=row.field_a,
                field_b=row.field_b,
                spec_a=spec_a,
                spec_b=spec_b,
                style_a=sides["a"].name_style,
                style_b=sides["b"].name_style,
                direction=row.direction,
                value_map=dict(row.value_map or {}),
            )
        )
    flows: dict[Side, bool] = {side: connection.syncs_towards(other(side)) for side in SIDES}
    rules: dict[Side, list[RuleConfig]] = {"a": [], "b": []}
    for rule in all_rules:
        source = rule.source_side
        if not flows[source]:
            # One-way connections ignore the other direction's rules.
            continue
        rules[source].append(
            RuleConfig(
                id=rule.pk,
                source=source,
                conditions=tuple(
                    ConditionData(kind=c.kind, field=c.field, operator=c.operator, value=c.value)
                    for c in rule.conditions.all()
                ),
                actions=tuple(
                    ActionData(kind=a.kind, field=a.field, value=a.value, rule_id=rule.pk)
                    for a in rule.actions.all()
                ),
                undo=rule.undo,
                name=rule.name,
            )
        )
    return Config(
        sides=sides,
        mappings=tuple(mappings),
        rules={side: tuple(found) for side, found in rules.items()},
        flows=flows,
        winner=as_side(connection.winner),
        avoid_duplicates=connection.avoid_duplicates,
        deletions=connection.sync_deletions
        and all(app.caps.supports_deletions for app in apps.values()),
        unsubscribes=connection.sync_unsubscribes
        and all(app.caps.supports_unsubscribes for app in apps.values()),
        rule_names={rule.pk: rule.name for rule in all_rules if rule.name},
    )
