"""Setting a connection up: default mappings and rules, custom mappings, rules and mirrors."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from integrations.models import Connection, FieldMapping, Rule
from integrations.services import setup
from integrations.sync.fields import ConditionSpec, FieldSpec, FieldType
from tests.factories import ConnectedAccountFactory, WorkspaceFactory
from tests.integrations.sync.conftest import Pair, make_pair
from tests.integrations.sync.memory_app import MemoryApp

pytestmark = pytest.mark.django_db

SEATS = FieldSpec("custom.seatsNum", "Seats", FieldType.NUMBER, custom=True)
PLAN = FieldSpec("custom.planStr", "Plan", FieldType.TEXT, custom=True)


def mappings(pair: Pair) -> set[tuple[str, str, str]]:
    return set(
        FieldMapping.objects.filter(connection=pair.connection).values_list(
            "field_a", "field_b", "direction"
        )
    )


def test_it_starts_a_connection_with_the_default_mappings(pair: Pair) -> None:
    assert mappings(pair) == {
        ("name", "name", "two_way"),
        ("emails", "emails", "two_way"),
        ("phones", "phones", "two_way"),
        ("company", "company", "two_way"),
        ("job_title", "job_title", "two_way"),
    }


def test_it_starts_a_two_way_connection_with_one_all_contacts_rule_per_direction(
    pair: Pair,
) -> None:
    rules = Rule.objects.filter(connection=pair.connection)
    assert sorted((r.direction, r.conditions.count()) for r in rules) == [
        ("a_to_b", 0),
        ("b_to_a", 0),
    ]


def test_it_starts_a_one_way_connection_with_one_rule() -> None:
    pair = make_pair(direction=Connection.Direction.B_TO_A)
    assert list(
        Rule.objects.filter(connection=pair.connection).values_list("direction", flat=True)
    ) == ["b_to_a"]


def test_it_starts_a_connection_scanning() -> None:
    assert make_pair().connection.status == Connection.Status.SCANNING


def test_it_leaves_a_connection_not_started_as_a_draft() -> None:
    assert make_pair(start=False).connection.status == Connection.Status.DRAFT


def create(**overrides: Any) -> Connection:
    app = MemoryApp()
    workspace = overrides.pop("workspace", None) or WorkspaceFactory()
    options: dict[str, Any] = {
        "workspace": workspace,
        "account_a": ConnectedAccountFactory(workspace=workspace),
        "account_b": ConnectedAccountFactory(workspace=workspace),
        "fields_a": app.fields(),
        "fields_b": app.fields(),
        "capabilities_a": app.capabilities,
        "capabilities_b": app.capabilities,
        **overrides,
    }
    return setup.connection_create(**options)


def test_it_polls_a_new_connection_every_minute_by_default() -> None:
    assert create().sync_interval == 60


def test_it_takes_a_new_connections_interval_from_the_setting(settings) -> None:
    settings.TANDEM_SYNC_INTERVAL_SECONDS = 900
    assert create().sync_interval == 900


def test_it_refuses_an_account_of_another_workspace() -> None:
    with pytest.raises(ValidationError, match="another workspace"):
        create(account_b=ConnectedAccountFactory())


def test_it_refuses_the_same_account_on_both_sides() -> None:
    workspace = WorkspaceFactory()
    account = ConnectedAccountFactory(workspace=workspace)
    with pytest.raises(ValidationError, match="different account"):
        create(workspace=workspace, account_a=account, account_b=account)


def test_it_refuses_syncing_deletions_an_app_does_not_support() -> None:
    with pytest.raises(ValidationError, match="Deletions"):
        create(capabilities_b=MemoryApp(supports_deletions=False).capabilities, sync_deletions=True)


def add(pair: Pair, field_a: str, field_b: str, **options: Any) -> FieldMapping:
    return setup.field_mapping_add(
        connection=pair.connection,
        field_a=field_a,
        field_b=field_b,
        fields_a=[*pair.a.fields(), SEATS, PLAN],
        fields_b=[*pair.b.fields(), SEATS, PLAN],
        **options,
    )


def test_it_adds_a_custom_mapping_following_the_connections_direction(pair: Pair) -> None:
    assert add(pair, "custom.planStr", "custom.planStr").direction == "two_way"


def test_it_refuses_a_custom_mapping_of_incompatible_types_saying_why(pair: Pair) -> None:
    with pytest.raises(ValidationError, match="text is not always a valid number"):
        add(pair, "custom.planStr", "custom.seatsNum", direction="a_to_b")


def test_it_accepts_a_number_into_text_one_way(pair: Pair) -> None:
    assert add(pair, "custom.seatsNum", "custom.planStr", direction="a_to_b").pk


def test_it_refuses_a_field_already_mapped(pair: Pair) -> None:
    with pytest.raises(ValidationError, match="already mapped"):
        add(pair, "company", "custom.planStr")


def test_it_frees_a_field_when_its_default_mapping_is_turned_off(pair: Pair) -> None:
    default = FieldMapping.objects.get(connection=pair.connection, field_a="company")
    setup.field_mapping_update(
        field_mapping=default, fields_a=pair.a.fields(), fields_b=pair.b.fields(), enabled=False
    )
    assert add(pair, "company", "custom.planStr").pk


def rule(pair: Pair, **options: Any) -> Rule:
    return setup.rule_create(
        connection=pair.connection,
        fields_a=pair.a.fields(),
        fields_b=pair.b.fields(),
        capabilities_a=pair.a.capabilities,
        capabilities_b=pair.b.capabilities,
        **{"direction": "a_to_b", "conditions": [], "actions": [], **options},
    )


def test_it_refuses_a_rule_for_a_direction_the_connection_does_not_sync() -> None:
    pair = make_pair(direction=Connection.Direction.A_TO_B)
    with pytest.raises(ValidationError, match="does not sync"):
        rule(pair, direction="b_to_a")


def test_it_refuses_a_rule_with_a_condition_the_app_cannot_evaluate(pair: Pair) -> None:
    with pytest.raises(ValidationError, match="cannot be tested"):
        rule(pair, conditions=[{"field": "tags", "operator": "starts_with", "value": "x"}])


def test_it_places_a_new_rule_after_the_others(pair: Pair) -> None:
    assert rule(pair).position == 1


def test_it_refuses_to_mirror_a_condition_the_other_app_does_not_offer() -> None:
    sentiment = ConditionSpec("kustomer.sentiment", "Sentiment", lambda c, v: True)
    pair = make_pair(app_a={"conditions": (sentiment,)})
    with pytest.raises(ValidationError, match="does not offer"):
        rule(
            pair,
            conditions=[
                {"kind": "special", "field": "kustomer.sentiment", "operator": "is", "value": "x"}
            ],
            mirror=True,
        )


def test_it_translates_a_mirrored_set_field_action_through_the_mappings(pair: Pair) -> None:
    made = rule(
        pair, actions=[{"kind": "set_field", "field": "job_title", "value": "Lead"}], mirror=True
    )
    assert made.mirror is not None
    assert list(made.mirror.actions.values_list("field", "value")) == [("job_title", "Lead")]


def test_it_deletes_a_rule_with_its_mirror(pair: Pair) -> None:
    made = rule(pair, mirror=True)
    setup.rule_delete(rule=made)
    assert Rule.objects.filter(connection=pair.connection).count() == 2
