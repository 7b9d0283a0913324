"""Field mappings: the type-compatibility table, normalized comparison, conversions and the
default mappings two apps start with."""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import ValidationError

from integrations.sync import mapping
from integrations.sync.fields import FieldSpec, FieldType, NameStyle
from integrations.sync.mapping import UNCONVERTIBLE, Mapping
from integrations.sync.records import NAME
from integrations.sync.sides import Direction
from tests.integrations.sync.memory_app import standard_fields

T = FieldType


def spec(
    kind: FieldType, *, multi: bool = False, read_only: bool = False, key: str = ""
) -> FieldSpec:
    return FieldSpec(key or kind.value, kind.value.title(), kind, multi=multi, read_only=read_only)


# DESIGN.md §5, written out flow by flow (source, target).
BOTH_WAYS = {
    (T.TEXT, T.TEXT), (T.LONG_TEXT, T.TEXT), (T.LONG_TEXT, T.LONG_TEXT), (T.NUMBER, T.NUMBER),
    (T.BOOLEAN, T.BOOLEAN), (T.DATE, T.DATE), (T.DATETIME, T.DATETIME), (T.DATE, T.DATETIME),
    (T.EMAIL, T.TEXT), (T.PHONE, T.TEXT), (T.URL, T.TEXT), (T.EMAIL, T.EMAIL),
    (T.PHONE, T.PHONE), (T.URL, T.URL), (T.ENUM, T.ENUM), (T.TAGS, T.TAGS), (T.NAME, T.NAME),
    (T.ADDRESS, T.ADDRESS),
}  # fmt: skip
ONE_WAY = {
    (source, target)
    for source in (T.NUMBER, T.BOOLEAN, T.DATE, T.DATETIME, T.ENUM, T.ADDRESS)
    for target in (T.TEXT, T.LONG_TEXT)
}
EXPECTED = BOTH_WAYS | {(b, a) for a, b in BOTH_WAYS} | ONE_WAY


@pytest.mark.parametrize(("source", "target"), list(itertools.product(FieldType, FieldType)))
def test_it_allows_exactly_the_flows_of_the_compatibility_table(
    source: FieldType, target: FieldType
) -> None:
    value_map = {"a": "b"} if source == target == T.ENUM else None
    refusal = mapping.flow_refusal(spec(source), spec(target), value_map=value_map)
    assert (refusal == "") == ((source, target) in EXPECTED), refusal


@pytest.mark.parametrize("source", [T.NUMBER, T.BOOLEAN, T.DATE, T.DATETIME, T.ENUM])
def test_it_maps_typed_fields_into_text_one_way_only(source: FieldType) -> None:
    assert mapping.widest_direction(spec(source), spec(T.TEXT)) == Direction.A_TO_B


@pytest.mark.parametrize("target", [T.NUMBER, T.BOOLEAN])
def test_it_refuses_text_into_numbers_and_booleans_saying_why(target: FieldType) -> None:
    with pytest.raises(ValidationError, match="free text"):
        mapping.validate_mapping(spec(T.TEXT), spec(target), direction=Direction.A_TO_B)


def test_it_refuses_a_two_way_number_to_text_mapping_saying_why() -> None:
    with pytest.raises(ValidationError, match="only flow the other way"):
        mapping.validate_mapping(spec(T.NUMBER), spec(T.TEXT), direction=Direction.TWO_WAY)


def test_it_refuses_dropdowns_without_a_value_map() -> None:
    with pytest.raises(ValidationError, match="value map"):
        mapping.validate_mapping(spec(T.ENUM), spec(T.ENUM))


def test_it_accepts_dropdowns_with_a_value_map() -> None:
    mapping.validate_mapping(spec(T.ENUM), spec(T.ENUM), value_map={"Gold": "VIP"})


def test_it_refuses_a_value_map_naming_unknown_choices() -> None:
    gold = FieldSpec("tier", "Tier", T.ENUM, choices=("Gold", "Silver"))
    vip = FieldSpec("level", "Level", T.ENUM, choices=("VIP",))
    with pytest.raises(ValidationError, match="Bronze"):
        mapping.validate_mapping(gold, vip, value_map={"Bronze": "VIP"})


def test_it_refuses_writing_into_a_read_only_field() -> None:
    with pytest.raises(ValidationError, match="read-only"):
        mapping.validate_mapping(spec(T.TEXT), spec(T.TEXT, read_only=True))


def test_it_maps_a_read_only_target_one_way() -> None:
    assert mapping.widest_direction(spec(T.TEXT), spec(T.TEXT, read_only=True)) == Direction.B_TO_A


def test_it_refuses_unrelated_types_saying_why() -> None:
    with pytest.raises(ValidationError, match="different kinds of data"):
        mapping.validate_mapping(spec(T.EMAIL), spec(T.PHONE))


# -- Normalization ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (T.EMAIL, "  Ann@Example.COM ", "ann@example.com"),
        (T.PHONE, "+1 (415) 555-0100", "+14155550100"),
        (T.PHONE, "+14155550100", "+14155550100"),
        (T.PHONE, "+44 20 7946 0958", "+442079460958"),
        (T.PHONE, "ext.  12", "ext. 12"),
        (T.TEXT, "  Acme ", "Acme"),
        (T.TEXT, "   ", None),
        (T.NUMBER, "1,200", 1200),
        (T.NUMBER, "2.50", 2.5),
        (T.NUMBER, 3.0, 3),
        (T.BOOLEAN, "Yes", True),
        (T.BOOLEAN, "0", False),
        (T.DATE, "2024-03-01T10:00:00Z", "2024-03-01"),
        (T.DATETIME, "2024-03-01T10:00:00Z", "2024-03-01T10:00:00+00:00"),
        (T.DATETIME, "2024-03-01T12:00:00+02:00", "2024-03-01T10:00:00+00:00"),
        (T.DATETIME, "2024-03-01", "2024-03-01T00:00:00+00:00"),
        (T.ENUM, "Gold ", "Gold"),
        (T.URL, None, None),
    ],
)
def test_it_normalizes_values_so_formatting_is_not_a_change(
    kind: FieldType, raw: object, expected: object
) -> None:
    assert mapping.normalize(raw, spec(kind)) == expected


def test_it_normalizes_multi_values_in_order_without_repeats() -> None:
    emails = spec(T.EMAIL, multi=True)
    assert mapping.normalize(["B@x.io", "a@x.io", "b@X.io", ""], emails) == ["b@x.io", "a@x.io"]


def test_it_normalizes_tags_as_a_set() -> None:
    assert mapping.normalize(["VIP", "Lead", "VIP"], spec(T.TAGS)) == ["Lead", "VIP"]


def test_it_normalizes_an_empty_list_to_nothing() -> None:
    assert mapping.normalize([], spec(T.EMAIL, multi=True)) is None


# -- Conversions --------------------------------------------------------------------------------


def a_to_b(source: FieldSpec, target: FieldSpec, **kwargs: object) -> Mapping:
    return Mapping(
        field_a=source.key,
        field_b=target.key,
        spec_a=source,
        spec_b=target,
        style_a=NameStyle.FULL,
        style_b=NameStyle.SPLIT,
        **kwargs,  # type: ignore[arg-type]
    )


def test_it_takes_the_primary_value_from_multi_to_single() -> None:
    m = a_to_b(spec(T.PHONE, multi=True, key="phones"), spec(T.PHONE, key="phone"))
    assert m.convert("a", ["+14155550100", "+442079460958"]) == "+14155550100"


def test_it_replaces_the_primary_value_from_single_to_multi() -> None:
    m = a_to_b(spec(T.PHONE, multi=True, key="phones"), spec(T.PHONE, key="phone"))
    assert m.convert("b", "+15550001", target_now=["+14155550100", "+442079460958"]) == [
        "+15550001",
        "+442079460958",
    ]


def test_it_syncs_all_values_from_multi_to_multi() -> None:
    m = a_to_b(spec(T.EMAIL, multi=True, key="emails"), spec(T.EMAIL, multi=True, key="emails"))
    assert m.convert("a", ["a@x.io", "b@x.io"]) == ["a@x.io", "b@x.io"]


def test_it_sees_a_list_and_its_primary_value_as_equivalent() -> None:
    m = a_to_b(spec(T.PHONE, multi=True, key="phones"), spec(T.PHONE, key="phone"))
    assert m.equivalent(["+14155550100", "+442079460958"], "+14155550100")


def test_it_translates_dropdown_values_through_the_value_map_both_ways() -> None:
    m = a_to_b(spec(T.ENUM), spec(T.ENUM), value_map={"Gold": "VIP"})
    assert (m.convert("a", "Gold"), m.convert("b", "VIP")) == ("VIP", "Gold")


def test_it_leaves_a_dropdown_value_missing_from_the_map_unconverted() -> None:
    m = a_to_b(spec(T.ENUM), spec(T.ENUM), value_map={"Gold": "VIP"})
    assert m.convert("a", "Silver") is UNCONVERTIBLE


def test_it_converts_a_datetime_to_its_date() -> None:
    m = a_to_b(spec(T.DATETIME), spec(T.DATE))
    assert m.convert("a", "2024-03-01T10:00:00+00:00") == "2024-03-01"


def test_it_sees_a_datetime_and_its_date_as_equivalent() -> None:
    m = a_to_b(spec(T.DATETIME), spec(T.DATE))
    assert m.equivalent("2024-03-01T10:00:00+00:00", "2024-03-01")


def test_it_writes_numbers_into_text_without_a_trailing_zero() -> None:
    assert a_to_b(spec(T.NUMBER), spec(T.TEXT)).convert("a", 42) == "42"


def test_it_joins_a_split_name_into_a_full_name() -> None:
    m = a_to_b(spec(T.NAME, key=NAME), spec(T.NAME, key=NAME))
    assert m.convert("b", {"first": "Mary Ann", "last": "Smith"}) == "Mary Ann Smith"


def test_it_splits_a_full_name_keeping_the_snapshots_split() -> None:
    m = a_to_b(spec(T.NAME, key=NAME), spec(T.NAME, key=NAME))
    split = m.convert(
        "a",
        "Mary Ann Jones",
        snap_source="Mary Ann Smith",
        snap_target={"first": "Mary Ann", "last": "Smith"},
    )
    assert split == {"first": "Mary Ann", "last": "Jones"}


def test_it_writes_a_composite_name_as_the_apps_own_fields() -> None:
    m = a_to_b(spec(T.NAME, key=NAME), spec(T.NAME, key=NAME))
    assert m.changes("b", {"first": "Mary", "last": "Smith"}) == {
        "first_name": "Mary",
        "last_name": "Smith",
    }


def honorific_name_mapping() -> Mapping:
    full = mapping.name_spec([spec(T.TEXT, key="full_name")], NameStyle.FULL)
    split = mapping.name_spec(
        [spec(T.TEXT, key=k) for k in ("first_name", "last_name", "name_prefix", "name_suffix")],
        NameStyle.SPLIT,
    )
    return a_to_b(full, split)


def test_it_splits_honorifics_into_their_own_parts_where_the_app_has_them() -> None:
    m = honorific_name_mapping()
    split = m.convert("a", "Dr. Martin Luther King Jr.")
    assert split == {"prefix": "Dr.", "first": "Martin Luther", "last": "King", "suffix": "Jr."}
    assert m.changes("b", split) == {
        "name_prefix": "Dr.",
        "first_name": "Martin Luther",
        "last_name": "King",
        "name_suffix": "Jr.",
    }


def test_it_folds_honorifics_into_first_and_last_where_the_app_has_no_fields_for_them() -> None:
    m = a_to_b(spec(T.NAME, key=NAME), spec(T.NAME, key=NAME))
    split = m.convert("a", "Dr. Martin Luther King Jr.")
    assert split == {"first": "Dr. Martin Luther", "last": "King Jr."}
    assert m.changes("b", split) == {"first_name": "Dr. Martin Luther", "last_name": "King Jr."}


def test_it_joins_honorifics_back_into_the_full_name() -> None:
    m = honorific_name_mapping()
    parts = {"prefix": "Dr.", "first": "Martin Luther", "last": "King", "suffix": "Jr."}
    assert m.convert("b", parts) == "Dr. Martin Luther King Jr."
    assert m.read("b", {"name_prefix": "Dr.", "first_name": "Martin Luther", "last_name": "King",
                        "name_suffix": "Jr."}) == parts  # fmt: skip


def test_it_gives_back_the_full_name_as_synced_when_the_parts_did_not_change() -> None:
    m = honorific_name_mapping()
    parts = {"first": "John", "last": "Smith", "suffix": "Jr."}
    assert m.convert("b", parts, snap_source=parts, snap_target="John Smith, Jr.") == (
        "John Smith, Jr."
    )
    assert m.equivalent("John Smith, Jr.", parts)


def test_it_reads_a_split_name_without_honorifics_as_before() -> None:
    m = honorific_name_mapping()
    assert m.read("b", {"first_name": "Mary", "last_name": "Smith"}) == {
        "first": "Mary",
        "last": "Smith",
    }


# -- Default mappings ---------------------------------------------------------------------------


def test_it_maps_a_full_name_to_first_and_last_names_with_one_composite_mapping() -> None:
    found = mapping.default_mappings(
        standard_fields(NameStyle.FULL),
        standard_fields(NameStyle.SPLIT),
        style_a=NameStyle.FULL,
        style_b=NameStyle.SPLIT,
    )
    assert [(m.field_a, m.field_b) for m in found if "name" in m.field_a] == [(NAME, NAME)]


def test_it_maps_names_directly_when_both_apps_hold_them_alike() -> None:
    found = mapping.default_mappings(
        standard_fields(NameStyle.SPLIT),
        standard_fields(NameStyle.SPLIT),
        style_a=NameStyle.SPLIT,
        style_b=NameStyle.SPLIT,
    )
    assert {(m.field_a, m.field_b) for m in found if "name" in m.field_a} == {
        ("first_name", "first_name"),
        ("last_name", "last_name"),
    }


def test_it_maps_every_shared_standard_field_both_ways_except_tags() -> None:
    found = mapping.default_mappings(
        standard_fields(NameStyle.FULL),
        standard_fields(NameStyle.SPLIT),
        style_a=NameStyle.FULL,
        style_b=NameStyle.SPLIT,
    )
    assert {(m.field_a, m.direction) for m in found} == {
        (NAME, "two_way"),
        ("emails", "two_way"),
        ("phones", "two_way"),
        ("company", "two_way"),
        ("job_title", "two_way"),
    }


def test_it_maps_a_read_only_standard_field_one_way() -> None:
    fields_b = [
        FieldSpec("company", "Company", T.TEXT, canonical="company", read_only=True),
    ]
    found = mapping.default_mappings(
        [FieldSpec("company", "Company", T.TEXT, canonical="company")],
        fields_b,
        style_a=NameStyle.FULL,
        style_b=NameStyle.FULL,
    )
    assert [(m.field_a, m.direction) for m in found] == [("company", "b_to_a")]


def test_it_leaves_out_shared_fields_whose_types_do_not_fit() -> None:
    found = mapping.default_mappings(
        [FieldSpec("size", "Size", T.TEXT, canonical="size")],
        [FieldSpec("size", "Size", T.NUMBER, canonical="size")],
        style_a=NameStyle.FULL,
        style_b=NameStyle.FULL,
    )
    assert found == [mapping.DefaultMapping("size", "size", "b_to_a")]


def test_it_leaves_custom_fields_out_of_the_defaults() -> None:
    custom = FieldSpec("custom.tier", "Tier", T.TEXT, canonical="tier", custom=True)
    found = mapping.default_mappings(
        [custom], [custom], style_a=NameStyle.FULL, style_b=NameStyle.FULL
    )
    assert found == []


TIER = FieldSpec(
    "custom.loyaltyTierStr", "Loyalty Tier", FieldType.ENUM, choices=("bronze", "gold")
)
TIER_TEXT = FieldSpec("custom.loyalty tier", "loyalty tier", FieldType.TEXT, custom=True)


def test_it_refuses_text_into_a_dropdown_without_a_value_map() -> None:
    assert "value map" in mapping.flow_refusal(TIER_TEXT, TIER)


def test_it_syncs_a_dropdown_and_text_both_ways_through_a_value_map() -> None:
    value_map = {"bronze": "Bronze", "gold": "Gold"}
    assert mapping.mapping_refusals(TIER, TIER_TEXT, value_map=value_map) == []
    m = Mapping(
        field_a=TIER.key,
        field_b=TIER_TEXT.key,
        spec_a=TIER,
        spec_b=TIER_TEXT,
        style_a=NameStyle.FULL,
        style_b=NameStyle.SPLIT,
        value_map=value_map,
    )
    assert m.convert("a", "gold") == "Gold"
    assert m.convert("b", "Bronze") == "bronze"
    assert m.convert("b", "platinum") is UNCONVERTIBLE
