"""Writes that set a connection up: the connection with its default mappings and rules, custom
field mappings, and rules with their conditions and actions.

Choices:
- ``connection_create`` starts the connection in "Scanning" (the next dispatch runs its first
  scan) unless ``start=False``, which leaves a "Draft" to finish configuring first.
- Every direction the connection syncs starts with one all-contacts rule; a direction without
  any rule syncs nothing (the engine reads it only to keep its checkpoint).
- A field takes part in at most one enabled mapping per side (PieSync: fields of default
  mappings cannot be used in custom ones until the default one is turned off), so each field has
  one snapshot value and one source of truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from accounts.models import ConnectedAccount, Workspace
from integrations.connectors.base import Capabilities
from integrations.models import (
    Action,
    Condition,
    Connection,
    FieldMapping,
    Rule,
    Side,
    default_sync_interval,
)
from integrations.services.choices import connection_choices_validate
from integrations.sync import actions as actions_mod
from integrations.sync import conditions as conditions_mod
from integrations.sync import mapping as mapping_mod
from integrations.sync.fields import FieldSpec, NameStyle
from integrations.sync.records import (
    FIRST_NAME,
    FULL_NAME,
    LAST_NAME,
    NAME,
    NAME_PREFIX,
    NAME_SUFFIX,
)

__all__ = [
    "connection_create",
    "connection_create_for_accounts",
    "connection_settings_update",
    "field_mapping_add",
    "field_mapping_check",
    "field_mapping_update",
    "rule_check",
    "rule_create",
    "rule_delete",
    "rule_mirror_refresh",
    "rule_update",
]

ALL_CONTACTS = "All contacts"
# Seconds between runs: a minute at the most often (the dispatcher's beat), a week at the least.
SHORTEST_INTERVAL = 60
LONGEST_INTERVAL = 7 * 24 * 3600


def _by_key(fields: Iterable[FieldSpec]) -> dict[str, FieldSpec]:
    return {spec.key: spec for spec in fields}


def connection_create(
    *,
    workspace: Workspace,
    account_a: ConnectedAccount,
    account_b: ConnectedAccount,
    fields_a: list[FieldSpec],
    fields_b: list[FieldSpec],
    capabilities_a: Capabilities,
    capabilities_b: Capabilities,
    direction: str = Connection.Direction.TWO_WAY,
    winner: str = Side.A,
    name: str = "",
    avoid_duplicates: bool = True,
    sync_deletions: bool = False,
    sync_unsubscribes: bool = False,
    start: bool = True,
    sync_interval: int | None = None,
    choices: Mapping[str, Mapping[str, str]] | None = None,
) -> Connection:
    """Pair two accounts of ``workspace`` with every default mapping the two apps share and one
    all-contacts rule per synced direction. ``choices`` are the per-side choices the apps
    declare (``{"b": {"list_id": ...}}``), checked against the accounts' options; the fields
    must be the ones read with them (a Mailchimp audience's merge fields)."""
    errors: dict[str, str] = {}
    if account_a.workspace_id != workspace.pk:
        errors["account_a"] = "This account belongs to another workspace."
    if account_b.workspace_id != workspace.pk:
        errors["account_b"] = "This account belongs to another workspace."
    if account_a.pk == account_b.pk:
        errors["account_b"] = "Choose two different accounts: one account cannot sync with itself."
    if direction not in Connection.Direction.values:
        errors["direction"] = f"Unknown direction {direction!r}."
    if winner not in Side.values:
        errors["winner"] = "Choose the app whose value wins."
    unsupported = _unsupported_options(
        capabilities_a, capabilities_b, sync_deletions, sync_unsubscribes
    )
    errors.update(unsupported)
    if sync_interval is None:
        sync_interval = default_sync_interval()
    if not SHORTEST_INTERVAL <= sync_interval <= LONGEST_INTERVAL:
        errors["sync_interval"] = "Sync between every minute and once a week."
    if errors:
        raise ValidationError(errors)
    chosen = {side: dict(values) for side, values in (choices or {}).items() if values}
    if chosen:
        connection_choices_validate(account_a=account_a, account_b=account_b, choices=chosen)
    with transaction.atomic():
        connection = Connection.objects.create(
            workspace=workspace,
            account_a=account_a,
            account_b=account_b,
            name=name,
            direction=direction,
            winner=winner,
            avoid_duplicates=avoid_duplicates,
            sync_deletions=sync_deletions,
            sync_unsubscribes=sync_unsubscribes,
            sync_interval=sync_interval,
            choices=chosen,
            status=Connection.Status.SCANNING if start else Connection.Status.DRAFT,
        )
        defaults = mapping_mod.default_mappings(
            fields_a,
            fields_b,
            style_a=capabilities_a.name_style,
            style_b=capabilities_b.name_style,
        )
        FieldMapping.objects.bulk_create(
            FieldMapping(
                connection=connection,
                field_a=found.field_a,
                field_b=found.field_b,
                direction=found.direction,
                is_default=True,
            )
            for found in defaults
        )
        for rule_direction in (Rule.Direction.A_TO_B, Rule.Direction.B_TO_A):
            if _direction_synced(connection, rule_direction):
                Rule.objects.create(
                    connection=connection, direction=rule_direction, position=0, name=ALL_CONTACTS
                )
    return connection


def connection_create_for_accounts(
    *,
    workspace: Workspace,
    account_a: ConnectedAccount,
    account_b: ConnectedAccount,
    choices: Mapping[str, Mapping[str, str]] | None = None,
    **options: Any,
) -> Connection:
    """``connection_create`` with both apps' fields and capabilities learned from the accounts
    themselves (one ``fields()`` call each, with the side's ``choices``). Connector errors
    propagate."""
    from integrations.connectors.accounts import connector_for

    chosen = choices or {}
    connector_a = connector_for(account_a, choices=chosen.get(Side.A))
    connector_b = connector_for(account_b, choices=chosen.get(Side.B))
    return connection_create(
        workspace=workspace,
        account_a=account_a,
        account_b=account_b,
        fields_a=connector_a.fields(),
        fields_b=connector_b.fields(),
        capabilities_a=connector_a.capabilities,
        capabilities_b=connector_b.capabilities,
        choices=choices,
        **options,
    )


def _unsupported_options(
    capabilities_a: Capabilities,
    capabilities_b: Capabilities,
    sync_deletions: bool,
    sync_unsubscribes: bool,
) -> dict[str, str]:
    errors = {}
    both = (capabilities_a, capabilities_b)
    if sync_deletions and not all(c.supports_deletions for c in both):
        errors["sync_deletions"] = "Deletions can only be synced when both apps support it."
    if sync_unsubscribes and not all(c.supports_unsubscribes for c in both):
        errors["sync_unsubscribes"] = "Unsubscribes can only be synced when both apps support it."
    return errors


def _direction_synced(connection: Connection, rule_direction: str) -> bool:
    target = Side.B if rule_direction == Rule.Direction.A_TO_B else Side.A
    return connection.syncs_towards(target)


# -- Field mappings -----------------------------------------------------------------------------


def _app(connection: Connection, side: str) -> str:
    """The side's app by name, for messages ("Kustomer"), falling back to the side's letter."""
    account_id = connection.account_a_id if side == Side.A else connection.account_b_id
    if account_id is None:
        return f"Side {side.upper()}"
    return connection.account(side).app_name


def _spec(key: str, fields: Mapping[str, FieldSpec], side: str, app: str) -> FieldSpec:
    spec = fields.get(key)
    if spec is None:
        raise ValidationError({f"field_{side}": f"{app} has no field {key!r}."})
    return spec


def _mapped_fields(connection: Connection, side: str, *, exclude: int | None = None) -> set[str]:
    """Record fields already taken by an enabled mapping on ``side`` (the composite name takes
    all of the name fields)."""
    column = "field_a" if side == Side.A else "field_b"
    taken = FieldMapping.objects.filter(connection=connection, enabled=True)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    keys = set(taken.values_list(column, flat=True))
    if NAME in keys:
        keys |= {FIRST_NAME, LAST_NAME, FULL_NAME, NAME_PREFIX, NAME_SUFFIX}
    return keys


def _check_free(connection: Connection, field_a: str, field_b: str, exclude: int | None) -> None:
    errors = {}
    for side, key in ((Side.A, field_a), (Side.B, field_b)):
        if key in _mapped_fields(connection, side, exclude=exclude):
            errors[f"field_{side}"] = (
                f"{_app(connection, side)} field {key!r} is already mapped; "
                "turn that mapping off first."
            )
    if errors:
        raise ValidationError(errors)


def field_mapping_check(
    *,
    connection: Connection,
    field_a: str,
    field_b: str,
    fields_a: list[FieldSpec],
    fields_b: list[FieldSpec],
    direction: str | None = None,
    value_map: dict[str, str] | None = None,
) -> None:
    """Everything ``field_mapping_add`` checks, without writing: raise ``ValidationError`` with
    the reason (keyed ``field_a`` / ``field_b`` where one field is at fault)."""
    if NAME in (field_a, field_b):
        raise ValidationError("The name is mapped by the default name mapping.")
    direction = direction or _connection_mapping_direction(connection)
    spec_a = _spec(field_a, _by_key(fields_a), Side.A, _app(connection, Side.A))
    spec_b = _spec(field_b, _by_key(fields_b), Side.B, _app(connection, Side.B))
    mapping_mod.validate_mapping(spec_a, spec_b, direction=direction, value_map=value_map)
    _check_free(connection, field_a, field_b, exclude=None)
    taken = FieldMapping.objects.filter(connection=connection, field_a=field_a, field_b=field_b)
    if taken.exists():
        raise ValidationError(f"{field_a!r} and {field_b!r} are already mapped.")


def field_mapping_add(
    *,
    connection: Connection,
    field_a: str,
    field_b: str,
    fields_a: list[FieldSpec],
    fields_b: list[FieldSpec],
    direction: str | None = None,
    value_map: dict[str, str] | None = None,
) -> FieldMapping:
    """A custom mapping, refused with the reason when the fields' types do not fit (DESIGN.md §5).
    Without a direction it follows the connection's."""
    direction = direction or _connection_mapping_direction(connection)
    with transaction.atomic():
        field_mapping_check(
            connection=connection,
            field_a=field_a,
            field_b=field_b,
            fields_a=fields_a,
            fields_b=fields_b,
            direction=direction,
            value_map=value_map,
        )
        return FieldMapping.objects.create(
            connection=connection,
            field_a=field_a,
            field_b=field_b,
            direction=direction,
            value_map=dict(value_map or {}),
        )


def _connection_mapping_direction(connection: Connection) -> str:
    return {
        Connection.Direction.TWO_WAY: FieldMapping.Direction.TWO_WAY,
        Connection.Direction.A_TO_B: FieldMapping.Direction.A_TO_B,
        Connection.Direction.B_TO_A: FieldMapping.Direction.B_TO_A,
    }[Connection.Direction(connection.direction)]


def field_mapping_update(
    *,
    field_mapping: FieldMapping,
    fields_a: list[FieldSpec],
    fields_b: list[FieldSpec],
    name_style_a: NameStyle = NameStyle.FULL,
    name_style_b: NameStyle = NameStyle.SPLIT,
    enabled: bool | None = None,
    direction: str | None = None,
    value_map: dict[str, str] | None = None,
) -> FieldMapping:
    """Toggle a mapping, or change its direction or value map, with the same checks as adding."""
    new_enabled = field_mapping.enabled if enabled is None else enabled
    new_direction = direction or field_mapping.direction
    new_map = field_mapping.value_map if value_map is None else value_map
    if new_direction not in FieldMapping.Direction.values:
        raise ValidationError({"direction": f"Unknown direction {new_direction!r}."})
    if not isinstance(new_map, dict):
        raise ValidationError({"value_map": "A value map pairs values: one value for another."})
    if new_enabled:
        # A mapping whose field is gone can still be turned off, never on.
        spec_a = mapping_mod.spec_for(field_mapping.field_a, _by_key(fields_a), name_style_a)
        spec_b = mapping_mod.spec_for(field_mapping.field_b, _by_key(fields_b), name_style_b)
        if spec_a is None or spec_b is None:
            raise ValidationError("One of the mapped fields no longer exists.")
        mapping_mod.validate_mapping(spec_a, spec_b, direction=new_direction, value_map=new_map)
    with transaction.atomic():
        if new_enabled and not field_mapping.enabled:
            _check_free(
                field_mapping.connection,
                field_mapping.field_a,
                field_mapping.field_b,
                exclude=field_mapping.pk,
            )
        field_mapping.enabled = new_enabled
        field_mapping.direction = new_direction
        field_mapping.value_map = dict(new_map or {})
        field_mapping.save(update_fields=["enabled", "direction", "value_map"])
    return field_mapping


# -- Rules --------------------------------------------------------------------------------------


def _condition_data(raw: Mapping[str, Any]) -> conditions_mod.ConditionData:
    return conditions_mod.ConditionData(
        kind=str(raw.get("kind") or conditions_mod.FIELD),
        field=str(raw.get("field") or ""),
        operator=str(raw.get("operator") or ""),
        value=raw.get("value"),
    )


def _action_data(raw: Mapping[str, Any]) -> actions_mod.ActionData:
    return actions_mod.ActionData(
        kind=str(raw.get("kind") or ""), field=str(raw.get("field") or ""), value=raw.get("value")
    )


Sides = dict[str, tuple[dict[str, FieldSpec], Capabilities]]


def _sides(
    fields_a: list[FieldSpec],
    fields_b: list[FieldSpec],
    capabilities_a: Capabilities,
    capabilities_b: Capabilities,
) -> Sides:
    return {
        Side.A: (_by_key(fields_a), capabilities_a),
        Side.B: (_by_key(fields_b), capabilities_b),
    }


def _plan_rules(
    connection: Connection,
    direction: str,
    conditions: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    sides: Sides,
    mirror: bool,
) -> tuple[
    tuple[list[conditions_mod.ConditionData], list[actions_mod.ActionData]],
    tuple[list[conditions_mod.ConditionData], list[actions_mod.ActionData]] | None,
]:
    """The rule's conditions and actions, and its mirror's, every one checked; raises
    ``ValidationError`` with the reason and writes nothing."""
    if direction not in Rule.Direction.values:
        raise ValidationError({"direction": f"Unknown direction {direction!r}."})
    parsed_conditions = [_condition_data(c) for c in conditions]
    parsed_actions = [_action_data(a) for a in actions]
    _validate_rule(connection, direction, parsed_conditions, parsed_actions, sides)
    if not mirror:
        return (parsed_conditions, parsed_actions), None
    mirrored_conditions = [
        _mirror_condition(connection, c, direction, sides) for c in parsed_conditions
    ]
    mirrored_actions = [_mirror_action(connection, a, direction) for a in parsed_actions]
    _validate_rule(connection, _opposite(direction), mirrored_conditions, mirrored_actions, sides)
    return (parsed_conditions, parsed_actions), (mirrored_conditions, mirrored_actions)


def rule_check(
    *,
    connection: Connection,
    direction: str,
    conditions: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    fields_a: list[FieldSpec],
    fields_b: list[FieldSpec],
    capabilities_a: Capabilities,
    capabilities_b: Capabilities,
    mirror: bool = False,
) -> None:
    """Everything ``rule_create`` / ``rule_update`` check, without writing (forms call it from
    ``clean()`` so a refused rule is a form error, not a failed save)."""
    sides = _sides(fields_a, fields_b, capabilities_a, capabilities_b)
    _plan_rules(connection, direction, conditions, actions, sides, mirror)


def rule_create(
    *,
    connection: Connection,
    direction: str,
    conditions: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    fields_a: list[FieldSpec],
    fields_b: list[FieldSpec],
    capabilities_a: Capabilities,
    capabilities_b: Capabilities,
    undo: bool = False,
    mirror: bool = False,
    name: str = "",
) -> Rule:
    """A rule for one direction: IF all ``conditions`` hold on the source THEN sync and apply
    ``actions`` on the target. ``mirror`` (the "other way around" toggle) also creates the rule
    for the opposite direction, with fields translated through the connection's mappings.

    Conditions are dicts ``{"kind", "field", "operator", "value"}`` (kind ``field``,
    ``special`` or ``exists_in_other``); actions ``{"kind", "field", "value"}``.
    """
    sides = _sides(fields_a, fields_b, capabilities_a, capabilities_b)
    with transaction.atomic():
        own, mirrored = _plan_rules(connection, direction, conditions, actions, sides, mirror)
        rule = _rule_create(connection, direction, *own, undo=undo, name=name)
        if mirrored is not None:
            rule.mirror = _rule_create(
                connection, _opposite(direction), *mirrored, undo=undo, name=name
            )
            rule.save(update_fields=["mirror"])
    return rule


def rule_update(
    *,
    rule: Rule,
    conditions: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    fields_a: list[FieldSpec],
    fields_b: list[FieldSpec],
    capabilities_a: Capabilities,
    capabilities_b: Capabilities,
    undo: bool | None = None,
    mirror: bool | None = None,
    name: str | None = None,
) -> Rule:
    """Replace a rule's conditions and actions (and name, undo) in one transaction, keeping its
    "other way around" rule in step: ``mirror=True`` creates or rewrites it, ``False`` deletes
    it, ``None`` keeps whether there is one."""
    partner = _partner(rule)
    wanted_mirror = partner is not None if mirror is None else mirror
    sides = _sides(fields_a, fields_b, capabilities_a, capabilities_b)
    new_undo = rule.undo if undo is None else undo
    new_name = rule.name if name is None else name
    if new_name == ALL_CONTACTS and conditions:
        # The set-up's name for a rule without conditions would now say the wrong thing.
        new_name = ""
    with transaction.atomic():
        own, mirrored = _plan_rules(
            rule.connection, rule.direction, conditions, actions, sides, wanted_mirror
        )
        _rule_replace(rule, *own, undo=new_undo, name=new_name)
        if mirrored is None:
            if partner is not None:
                partner.delete()
        elif partner is not None:
            _rule_replace(partner, *mirrored, undo=new_undo, name=new_name)
        else:
            rule.mirror = _rule_create(
                rule.connection, _opposite(rule.direction), *mirrored, undo=new_undo, name=new_name
            )
            rule.save(update_fields=["mirror"])
        rule.refresh_from_db()
    return rule


def rule_mirror_refresh(
    *,
    rule: Rule,
    fields_a: list[FieldSpec],
    fields_b: list[FieldSpec],
    capabilities_a: Capabilities,
    capabilities_b: Capabilities,
) -> Rule | None:
    """Rewrite the "other way around" rule of ``rule`` from ``rule``'s stored conditions and
    actions (after they were edited one by one); ``rule`` itself is left as it is. Returns the
    rewritten partner, or ``None`` when there is none. Refused with the reason when a part
    has no counterpart on the other side."""
    partner = _partner(rule)
    if partner is None:
        return None
    conditions = [
        {"kind": c.kind, "field": c.field, "operator": c.operator, "value": c.value}
        for c in rule.conditions.all()
    ]
    actions = [{"kind": a.kind, "field": a.field, "value": a.value} for a in rule.actions.all()]
    sides = _sides(fields_a, fields_b, capabilities_a, capabilities_b)
    with transaction.atomic():
        _, mirrored = _plan_rules(
            rule.connection, rule.direction, conditions, actions, sides, mirror=True
        )
        assert mirrored is not None
        _rule_replace(partner, *mirrored, undo=rule.undo, name=partner.name)
    return partner


def _partner(rule: Rule) -> Rule | None:
    """The rule made by this one's "other way around" toggle, or the one that made it."""
    if rule.mirror_id is not None:
        return rule.mirror
    mirrored_by: Rule | None = getattr(rule, "mirrored_by", None)
    return mirrored_by


def _opposite(direction: str) -> str:
    return Rule.Direction.B_TO_A if direction == Rule.Direction.A_TO_B else Rule.Direction.A_TO_B


def _validate_rule(
    connection: Connection,
    direction: str,
    conditions: list[conditions_mod.ConditionData],
    actions: list[actions_mod.ActionData],
    sides: Sides,
) -> None:
    if not _direction_synced(connection, direction):
        raise ValidationError(
            {"direction": f"This connection does not sync {Rule.Direction(direction).label}."}
        )
    source = Side.A if direction == Rule.Direction.A_TO_B else Side.B
    source_fields, source_caps = sides[source]
    target_fields, target_caps = sides[Side.B if source == Side.A else Side.A]
    specials = {spec.key: spec for spec in source_caps.conditions}
    for condition in conditions:
        conditions_mod.validate_condition(condition, fields=source_fields, specials=specials)
    for action in actions:
        actions_mod.validate_action(
            action,
            fields=target_fields,
            supports_tags=target_caps.supports_tags,
            tag_noun=target_caps.tag_noun,
        )


def _rule_create(
    connection: Connection,
    direction: str,
    conditions: list[conditions_mod.ConditionData],
    actions: list[actions_mod.ActionData],
    *,
    undo: bool,
    name: str = "",
) -> Rule:
    position = Rule.objects.filter(connection=connection, direction=direction).aggregate(
        top=Max("position")
    )["top"]
    rule = Rule.objects.create(
        connection=connection,
        direction=direction,
        position=0 if position is None else position + 1,
        undo=undo,
        name=name,
    )
    _store_parts(rule, conditions, actions)
    return rule


def _rule_replace(
    rule: Rule,
    conditions: list[conditions_mod.ConditionData],
    actions: list[actions_mod.ActionData],
    *,
    undo: bool,
    name: str,
) -> None:
    rule.conditions.all().delete()
    rule.actions.all().delete()
    _store_parts(rule, conditions, actions)
    rule.undo = undo
    rule.name = name
    rule.save(update_fields=["undo", "name"])


def _store_parts(
    rule: Rule,
    conditions: list[conditions_mod.ConditionData],
    actions: list[actions_mod.ActionData],
) -> None:
    Condition.objects.bulk_create(
        Condition(rule=rule, kind=c.kind, field=c.field, operator=c.operator, value=c.value)
        for c in conditions
    )
    Action.objects.bulk_create(
        Action(rule=rule, kind=a.kind, field=a.field, value=a.value) for a in actions
    )


def _counterpart_field(connection: Connection, key: str, from_side: str) -> str | None:
    """The field mapped to ``key`` on the other side, or the same standard key for tags."""
    if key == "tags":
        return key
    column, other_column = ("field_a", "field_b") if from_side == Side.A else ("field_b", "field_a")
    found = (
        FieldMapping.objects.filter(connection=connection, enabled=True, **{column: key})
        .values_list(other_column, flat=True)
        .first()
    )
    return found


def _mirror_condition(
    connection: Connection,
    condition: conditions_mod.ConditionData,
    direction: str,
    sides: Sides,
) -> conditions_mod.ConditionData:
    source = Side.A if direction == Rule.Direction.A_TO_B else Side.B
    other = Side.B if source == Side.A else Side.A
    if condition.kind == conditions_mod.EXISTS_IN_OTHER:
        return condition
    if condition.kind == conditions_mod.SPECIAL:
        specials = {spec.key for spec in sides[other][1].conditions}
        if condition.field not in specials:
            raise ValidationError(
                f"The other way around needs {condition.field!r} in "
                f"{_app(connection, other)}, which that app does not offer."
            )
        return condition
    counterpart = _counterpart_field(connection, condition.field, source)
    if counterpart is None:
        raise ValidationError(
            f"The other way around needs a {_app(connection, other)} field mapped to "
            f"{condition.field!r}; map one first."
        )
    return conditions_mod.ConditionData(
        kind=condition.kind, field=counterpart, operator=condition.operator, value=condition.value
    )


def _mirror_action(
    connection: Connection, action: actions_mod.ActionData, direction: str
) -> actions_mod.ActionData:
    if action.kind != actions_mod.SET_FIELD:
        return action
    target = Side.B if direction == Rule.Direction.A_TO_B else Side.A
    counterpart = _counterpart_field(connection, action.field, target)
    if counterpart is None:
        raise ValidationError(
            f"The other way around needs a field mapped to {action.field!r}; map one first."
        )
    return actions_mod.ActionData(kind=action.kind, field=counterpart, value=action.value)


def rule_delete(*, rule: Rule) -> None:
    """Delete a rule and the rule its "other way around" toggle made (or that made it)."""
    with transaction.atomic():
        linked = [r for r in (rule.mirror, getattr(rule, "mirrored_by", None)) if r is not None]
        rule.delete()
        for other in linked:
            other.delete()


# -- Options ------------------------------------------------------------------------------------


def connection_settings_update(
    *,
    connection: Connection,
    capabilities_a: Capabilities,
    capabilities_b: Capabilities,
    winner: str,
    avoid_duplicates: bool,
    sync_interval: int,
    sync_deletions: bool = False,
    sync_unsubscribes: bool = False,
) -> Connection:
    """Set the winning app, the options and the interval between runs; an option one of the
    apps cannot honour, or an interval outside a minute to a week, is refused with the reason."""
    errors: dict[str, str] = {}
    if winner not in Side.values:
        errors["winner"] = "Choose the app whose value wins."
    if not SHORTEST_INTERVAL <= sync_interval <= LONGEST_INTERVAL:
        errors["sync_interval"] = "Sync between every minute and once a week."
    errors.update(
        _unsupported_options(capabilities_a, capabilities_b, sync_deletions, sync_unsubscribes)
    )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        Connection.objects.filter(pk=connection.pk).update(
            winner=winner,
            avoid_duplicates=avoid_duplicates,
            sync_interval=sync_interval,
            sync_deletions=sync_deletions,
            sync_unsubscribes=sync_unsubscribes,
        )
    connection.refresh_from_db()
    return connection
