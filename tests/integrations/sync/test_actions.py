"""Rule actions on the receiving side and their reversal by the undo toggle."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from integrations.sync import actions
from integrations.sync.actions import ActionData
from integrations.sync.fields import FieldSpec, FieldType

FIELDS = {
    "custom.tierStr": FieldSpec("custom.tierStr", "Tier", FieldType.TEXT, custom=True),
    "source": FieldSpec("source", "Source", FieldType.TEXT, read_only=True),
    "stage": FieldSpec("stage", "Stage", FieldType.ENUM, choices=("Lead", "Customer")),
}


def test_it_sets_a_custom_field() -> None:
    effects = actions.plan_actions(
        [ActionData(actions.SET_FIELD, "custom.tierStr", "Gold", rule_id=1)], {}, fields=FIELDS
    )
    assert effects.set_fields == {"custom.tierStr": "Gold"}


def test_it_does_not_set_a_field_that_already_holds_the_value() -> None:
    effects = actions.plan_actions(
        [ActionData(actions.SET_FIELD, "custom.tierStr", "Gold")],
        {"custom.tierStr": " Gold "},
        fields=FIELDS,
    )
    assert not effects


def test_it_adds_a_missing_tag() -> None:
    effects = actions.plan_actions([ActionData(actions.ADD_TAG, value="VIP")], {}, fields=FIELDS)
    assert effects.add_tags == ["VIP"]


def test_it_does_not_add_a_tag_already_there_in_any_case() -> None:
    effects = actions.plan_actions(
        [ActionData(actions.ADD_TAG, value="VIP")], {"tags": ["vip"]}, fields=FIELDS
    )
    assert not effects


def test_it_removes_a_tag_that_is_there() -> None:
    effects = actions.plan_actions(
        [ActionData(actions.REMOVE_TAG, value="Lead")], {"tags": ["Lead"]}, fields=FIELDS
    )
    assert effects.remove_tags == ["Lead"]


def test_it_records_what_it_applied_for_the_undo() -> None:
    effects = actions.plan_actions(
        [ActionData(actions.SET_FIELD, "custom.tierStr", "Gold", rule_id=7)],
        {"custom.tierStr": "Silver"},
        fields=FIELDS,
    )
    assert effects.applied == [
        {
            "rule": 7,
            "kind": "set_field",
            "field": "custom.tierStr",
            "value": "Gold",
            "previous": "Silver",
        }
    ]


@pytest.mark.parametrize(
    ("entry", "values", "expected"),
    [
        ({"kind": "add_tag", "value": "VIP"}, {"tags": ["VIP"]}, {"remove_tags": ["VIP"]}),
        ({"kind": "remove_tag", "value": "Lead"}, {"tags": []}, {"add_tags": ["Lead"]}),
        (
            {"kind": "set_field", "field": "custom.tierStr", "value": "Gold", "previous": "Bronze"},
            {"custom.tierStr": "Gold"},
            {"set_fields": {"custom.tierStr": "Bronze"}},
        ),
    ],
)
def test_it_reverses_an_applied_action(entry: dict, values: dict, expected: dict) -> None:
    effects = actions.plan_undo([entry], values, fields=FIELDS)
    assert {k: getattr(effects, k) for k in expected} == expected


def test_it_leaves_a_field_someone_changed_since_the_action_set_it() -> None:
    entry = {"kind": "set_field", "field": "custom.tierStr", "value": "Gold", "previous": "Bronze"}
    assert not actions.plan_undo([entry], {"custom.tierStr": "Platinum"}, fields=FIELDS)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (ActionData(actions.SET_FIELD, "nope", "x"), "no field"),
        (ActionData(actions.SET_FIELD, "source", "x"), "read-only"),
        (ActionData(actions.SET_FIELD, "stage", "Churned"), "one of"),
        (ActionData(actions.ADD_TAG, value=" "), "Name the label"),
        (ActionData("delete_contact"), "Unknown action"),
    ],
)
def test_it_refuses_an_action_the_app_cannot_carry_out(action: ActionData, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        actions.validate_action(action, fields=FIELDS, supports_tags=True, tag_noun="label")
