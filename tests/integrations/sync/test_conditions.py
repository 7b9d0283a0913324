"""Rule conditions: every operator on every field type, custom fields, app-specific conditions
and "already existing in the app you sync with"."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from integrations.sync import conditions
from integrations.sync.conditions import ConditionData
from integrations.sync.fields import ConditionSpec, FieldSpec, FieldType
from integrations.sync.records import Contact

T = FieldType

FIELDS = {
    "company": FieldSpec("company", "Company", T.TEXT),
    "notes": FieldSpec("notes", "Notes", T.LONG_TEXT),
    "website": FieldSpec("website", "Website", T.URL),
    "email": FieldSpec("email", "Email", T.EMAIL),
    "phone": FieldSpec("phone", "Phone", T.PHONE),
    "tier": FieldSpec("tier", "Tier", T.ENUM, choices=("Gold", "Silver")),
    "custom.seatsNum": FieldSpec("custom.seatsNum", "Seats", T.NUMBER, custom=True),
    "birthday": FieldSpec("birthday", "Birthday", T.DATE),
    "custom.lastSeenAt": FieldSpec("custom.lastSeenAt", "Last seen", T.DATETIME, custom=True),
    "custom.vipBool": FieldSpec("custom.vipBool", "VIP", T.BOOLEAN, custom=True),
    "tags": FieldSpec("tags", "Tags", T.TAGS, multi=True),
    "emails": FieldSpec("emails", "Emails", T.EMAIL, multi=True),
}

SENTIMENT = ConditionSpec(
    key="kustomer.sentiment",
    label="Sentiment",
    evaluate=lambda contact, value: contact.facts.get("sentiment") == value,
    choices=("positive", "neutral", "negative"),
)
SPECIALS = {SENTIMENT.key: SENTIMENT}


def holds(field: str, operator: str, arg: Any, value: Any) -> bool:
    record = Contact(id="1", values={field: value})
    return conditions.condition_holds(
        ConditionData(field=field, operator=operator, value=arg),
        record,
        fields=FIELDS,
        specials=SPECIALS,
        exists_in_other=False,
    )


TEXT_CASES = [
    ("equals", "acme", "ACME", True),
    ("equals", "acme", "Acme Inc", False),
    ("not_equals", "acme", "Globex", True),
    ("not_equals", "acme", "Acme", False),
    ("contains", "cme", "Acme", True),
    ("contains", "xyz", "Acme", False),
    ("not_contains", "xyz", "Acme", True),
    ("not_contains", "cm", "Acme", False),
    ("starts_with", "ac", "Acme", True),
    ("starts_with", "me", "Acme", False),
    ("is_empty", None, "", True),
    ("is_empty", None, "Acme", False),
    ("is_not_empty", None, "Acme", True),
    ("is_not_empty", None, None, False),
]


@pytest.mark.parametrize("field", ["company", "notes", "website", "email", "phone", "tier"])
@pytest.mark.parametrize(("operator", "arg", "value", "expected"), TEXT_CASES)
def test_it_applies_text_operators_to_text_like_fields(
    field: str, operator: str, arg: Any, value: Any, expected: bool
) -> None:
    assert holds(field, operator, arg, value) is expected


ORDERED_CASES = {
    "custom.seatsNum": [
        ("eq", 10, "10", True),
        ("eq", 10, 11, False),
        ("lt", 10, 9.5, True),
        ("lt", 10, 10, False),
        ("gt", 10, 11, True),
        ("gt", 10, 10, False),
        ("between", [5, 10], 10, True),
        ("between", [5, 10], 11, False),
        ("is_empty", None, None, True),
        ("is_empty", None, 0, False),
        ("lt", 10, "lots", False),
    ],
    "birthday": [
        ("eq", "2024-03-01", "2024-03-01", True),
        ("eq", "2024-03-01", "2024-03-02", False),
        ("lt", "2024-03-01", "2024-02-29", True),
        ("lt", "2024-03-01", "2024-03-01", False),
        ("gt", "2024-03-01", "2024-12-01", True),
        ("gt", "2024-03-01", "2023-12-01", False),
        ("between", ["2024-01-01", "2024-12-31"], "2024-06-01", True),
        ("between", ["2024-01-01", "2024-12-31"], "2025-01-01", False),
        ("is_empty", None, "", True),
        ("is_empty", None, "2024-03-01", False),
    ],
    "custom.lastSeenAt": [
        ("eq", "2024-03-01T10:00:00Z", "2024-03-01T12:00:00+02:00", True),
        ("eq", "2024-03-01T10:00:00Z", "2024-03-01T10:00:01Z", False),
        ("lt", "2024-03-01T10:00:00Z", "2024-03-01T09:59:59Z", True),
        ("lt", "2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z", False),
        ("gt", "2024-03-01", "2024-03-01T00:00:01Z", True),
        ("gt", "2024-03-01", "2024-02-28T23:00:00Z", False),
        ("between", ["2024-03-01", "2024-03-02"], "2024-03-01T18:00:00Z", True),
        ("between", ["2024-03-01", "2024-03-02"], "2024-03-03T00:00:00Z", False),
        ("is_empty", None, None, True),
        ("is_empty", None, "2024-03-01T10:00:00Z", False),
    ],
}


@pytest.mark.parametrize(
    ("field", "operator", "arg", "value", "expected"),
    [(field, *case) for field, cases in ORDERED_CASES.items() for case in cases],
)
def test_it_applies_ordered_operators_to_numbers_and_dates(
    field: str, operator: str, arg: Any, value: Any, expected: bool
) -> None:
    assert holds(field, operator, arg, value) is expected


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("is_true", True, True),
        ("is_true", "yes", True),
        ("is_true", False, False),
        ("is_true", None, False),
        ("is_false", False, True),
        ("is_false", None, True),
        ("is_false", True, False),
    ],
)
def test_it_applies_boolean_operators(operator: str, value: Any, expected: bool) -> None:
    assert holds("custom.vipBool", operator, None, value) is expected


@pytest.mark.parametrize("field", ["tags", "emails"])
@pytest.mark.parametrize(
    ("operator", "arg", "value", "expected"),
    [
        ("has", "vip", ["VIP", "Lead"], True),
        ("has", "vip", ["Lead"], False),
        ("has_not", "vip", ["Lead"], True),
        ("has_not", "vip", ["vip"], False),
        ("is_empty", None, [], True),
        ("is_empty", None, ["vip"], False),
        ("is_not_empty", None, ["vip"], True),
        ("is_not_empty", None, None, False),
    ],
)
def test_it_applies_list_operators_to_tags_and_multi_valued_fields(
    field: str, operator: str, arg: Any, value: Any, expected: bool
) -> None:
    assert holds(field, operator, arg, value) is expected


def test_it_reads_a_field_the_app_no_longer_offers_as_text() -> None:
    assert holds("custom.goneStr", "is_empty", None, None) is True


def test_it_never_holds_an_operator_unknown_for_the_type() -> None:
    assert holds("custom.seatsNum", "contains", "1", 10) is False


@pytest.mark.parametrize(
    ("operator", "value", "sentiment", "expected"),
    [
        ("is", "negative", "negative", True),
        ("is", "negative", "positive", False),
        ("is_not", "negative", "positive", True),
        ("is_not", "negative", "negative", False),
    ],
)
def test_it_evaluates_an_app_specific_condition(
    operator: str, value: str, sentiment: str, expected: bool
) -> None:
    record = Contact(id="1", facts={"sentiment": sentiment})
    condition = ConditionData(
        kind=conditions.SPECIAL, field=SENTIMENT.key, operator=operator, value=value
    )
    assert (
        conditions.condition_holds(
            condition, record, fields=FIELDS, specials=SPECIALS, exists_in_other=False
        )
        is expected
    )


@pytest.mark.parametrize("exists", [True, False])
def test_it_holds_already_existing_only_when_the_other_app_has_the_contact(exists: bool) -> None:
    condition = ConditionData(kind=conditions.EXISTS_IN_OTHER)
    record = Contact(id="1")
    assert (
        conditions.condition_holds(
            condition, record, fields=FIELDS, specials=SPECIALS, exists_in_other=exists
        )
        is exists
    )


def test_it_matches_a_rule_when_all_conditions_hold() -> None:
    record = Contact(id="1", values={"company": "Acme", "tags": ["VIP"]})
    rule = [
        ConditionData(field="company", operator="equals", value="acme"),
        ConditionData(field="tags", operator="has", value="VIP"),
    ]
    assert conditions.rule_matches(
        rule, record, fields=FIELDS, specials=SPECIALS, exists_in_other=False
    )


def test_it_does_not_match_a_rule_when_one_condition_fails() -> None:
    record = Contact(id="1", values={"company": "Acme", "tags": []})
    rule = [
        ConditionData(field="company", operator="equals", value="acme"),
        ConditionData(field="tags", operator="has", value="VIP"),
    ]
    assert not conditions.rule_matches(
        rule, record, fields=FIELDS, specials=SPECIALS, exists_in_other=False
    )


def test_it_matches_every_contact_with_a_rule_without_conditions() -> None:
    assert conditions.rule_matches(
        [], Contact(id="1"), fields=FIELDS, specials=SPECIALS, exists_in_other=False
    )


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (ConditionData(field="nope", operator="equals", value="x"), "no field"),
        (ConditionData(field="custom.seatsNum", operator="contains", value="1"), "cannot be"),
        (ConditionData(field="birthday", operator="between", value="2024"), "two values"),
        (ConditionData(kind=conditions.SPECIAL, field="google.x", operator="is"), "no condition"),
        (ConditionData(kind=conditions.SPECIAL, field=SENTIMENT.key, operator="is"), "needs"),
        (
            ConditionData(kind=conditions.SPECIAL, field=SENTIMENT.key, operator="is", value="x"),
            "one of",
        ),
    ],
)
def test_it_refuses_a_condition_the_app_cannot_evaluate(
    condition: ConditionData, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        conditions.validate_condition(condition, fields=FIELDS, specials=SPECIALS)
