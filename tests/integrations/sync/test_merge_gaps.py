"""The merge's less travelled paths, each found by the mutation run (docs/reliability.md): a
field that may not flow before one that may, a conflict whose winner may not flow, values
written toward A, a single value written into a list, a name kept in the target's own split,
and what the merge reports (conflict names, the plan's before and after)."""

from __future__ import annotations

from integrations.sync.fields import FieldSpec, FieldType, NameStyle
from integrations.sync.mapping import Mapping, name_spec
from integrations.sync.merge import merge
from integrations.sync.records import FIRST_NAME, FULL_NAME, LAST_NAME, NAME

COMPANY = Mapping(
    field_a="company",
    field_b="org",
    spec_a=FieldSpec("company", "Company", FieldType.TEXT),
    spec_b=FieldSpec("org", "Organization", FieldType.TEXT),
    style_a=NameStyle.FULL,
    style_b=NameStyle.SPLIT,
)
TITLE = Mapping(
    field_a="title",
    field_b="job",
    spec_a=FieldSpec("title", "Title", FieldType.TEXT),
    spec_b=FieldSpec("job", "Job title", FieldType.TEXT),
    style_a=NameStyle.FULL,
    style_b=NameStyle.SPLIT,
)
BOTH_FLOW = {"a": True, "b": True}
SNAP = {"a": {"company": "Acme", "title": "CEO"}, "b": {"org": "Acme", "job": "CEO"}}


def test_it_merges_the_next_field_after_one_that_may_not_flow() -> None:
    # The company changed on B only, and B may not flow; the title changed on A.
    result = merge(
        [COMPANY, TITLE],
        {"company": "Acme", "title": "CTO"},
        {"org": "Initech", "job": "CEO"},
        SNAP,
        winner="a",
        may_flow={"a": True, "b": False},
    )
    assert result.changes == {"a": {}, "b": {"job": "CTO"}}


def test_it_takes_the_other_side_when_the_winner_may_not_flow() -> None:
    result = merge(
        [COMPANY],
        {"company": "Globex"},
        {"org": "Initech"},
        SNAP,
        winner="a",
        may_flow={"a": False, "b": True},
    )
    assert result.changes == {"a": {"company": "Initech"}, "b": {}}
    assert result.conflicts == ["company"]


def test_it_reports_a_conflict_nothing_may_settle() -> None:
    result = merge(
        [COMPANY],
        {"company": "Globex"},
        {"org": "Initech"},
        SNAP,
        winner="a",
        may_flow={"a": False, "b": False},
    )
    assert result.changes == {"a": {}, "b": {}}
    assert result.conflicts == ["company"]


def test_it_names_a_conflict_by_its_field_on_a() -> None:
    result = merge(
        [COMPANY], {"company": "Globex"}, {"org": "Initech"}, SNAP, winner="b", may_flow=BOTH_FLOW
    )
    assert result.conflicts == ["company"]


def test_it_records_a_planned_writes_before_and_after() -> None:
    result = merge(
        [COMPANY], {"company": "Globex"}, {"org": "Acme"}, SNAP, winner="a", may_flow=BOTH_FLOW
    )
    assert result.diffs == {"a": {}, "b": {"org": {"before": "Acme", "after": "Globex"}}}


def test_it_snapshots_a_value_written_to_a_under_a_s_field() -> None:
    result = merge(
        [COMPANY], {"company": "Acme"}, {"org": "Initech"}, SNAP, winner="a", may_flow=BOTH_FLOW
    )
    assert result.snapshot == {
        "a": {"company": "Initech", "title": "CEO"},
        "b": {"org": "Initech", "job": "CEO"},
    }


def test_it_flows_an_edit_on_b_after_a_write_to_a_without_a_conflict() -> None:
    first = merge(
        [COMPANY], {"company": "Acme"}, {"org": "Initech"}, SNAP, winner="a", may_flow=BOTH_FLOW
    )
    # A now holds what was written; B is edited again before the next run.
    second = merge(
        [COMPANY],
        {"company": "Initech"},
        {"org": "Umbrella"},
        first.snapshot,
        winner="a",
        may_flow=BOTH_FLOW,
    )
    assert second.conflicts == []
    assert second.changes == {"a": {"company": "Umbrella"}, "b": {}}


EMAILS = Mapping(
    field_a="email",
    field_b="emails",
    spec_a=FieldSpec("email", "Email", FieldType.EMAIL),
    spec_b=FieldSpec("emails", "Emails", FieldType.EMAIL, multi=True),
    style_a=NameStyle.FULL,
    style_b=NameStyle.SPLIT,
)


def test_it_keeps_a_list_s_other_items_when_writing_a_single_value_into_it() -> None:
    result = merge(
        [EMAILS],
        {"email": "new@acme.example"},
        {"emails": ["ann@acme.example", "ann@home.example"]},
        {
            "a": {"email": "ann@acme.example"},
            "b": {"emails": ["ann@acme.example", "ann@home.example"]},
        },
        winner="a",
        may_flow=BOTH_FLOW,
    )
    assert result.changes["b"] == {"emails": ["new@acme.example", "ann@home.example"]}


FULL_TO_SPLIT = Mapping(
    field_a=NAME,
    field_b=NAME,
    spec_a=name_spec([FieldSpec(FULL_NAME, "Name", FieldType.TEXT)], NameStyle.FULL),
    spec_b=name_spec(
        [
            FieldSpec(FIRST_NAME, "First name", FieldType.TEXT),
            FieldSpec(LAST_NAME, "Last name", FieldType.TEXT),
        ],
        NameStyle.SPLIT,
    ),
    style_a=NameStyle.FULL,
    style_b=NameStyle.SPLIT,
)


def test_it_keeps_the_target_s_own_split_of_an_edited_full_name() -> None:
    # On B the user split "Jean Paul Smith" as Jean / Paul Smith; a parser alone would say
    # Jean Paul / Smith.
    result = merge(
        [FULL_TO_SPLIT],
        {FULL_NAME: "Jean Paul Smyth"},
        {FIRST_NAME: "Jean", LAST_NAME: "Paul Smith"},
        {"a": {NAME: "Jean Paul Smith"}, "b": {NAME: {"first": "Jean", "last": "Paul Smith"}}},
        winner="a",
        may_flow=BOTH_FLOW,
    )
    assert result.changes["b"] == {FIRST_NAME: "Jean", LAST_NAME: "Paul Smyth"}


def test_it_keys_a_planned_write_to_a_by_a_s_field() -> None:
    result = merge(
        [COMPANY], {"company": "Acme"}, {"org": "Initech"}, SNAP, winner="a", may_flow=BOTH_FLOW
    )
    assert result.diffs == {"a": {"company": {"before": "Acme", "after": "Initech"}}, "b": {}}


TIER = Mapping(
    field_a="tier",
    field_b="level",
    spec_a=FieldSpec("tier", "Tier", FieldType.ENUM, choices=("gold", "silver", "bronze")),
    spec_b=FieldSpec("level", "Level", FieldType.ENUM, choices=("Gold", "Bronze")),
    style_a=NameStyle.FULL,
    style_b=NameStyle.SPLIT,
    value_map={"gold": "Gold", "bronze": "Bronze"},
)


def test_it_takes_the_other_side_when_the_winner_cannot_be_converted() -> None:
    # "silver" has no choice on B; B's "Bronze" has one on A.
    result = merge(
        [TIER],
        {"tier": "silver"},
        {"level": "Bronze"},
        {"a": {"tier": "gold"}, "b": {"level": "Gold"}},
        winner="a",
        may_flow=BOTH_FLOW,
    )
    assert result.changes == {"a": {"tier": "bronze"}, "b": {}}
    assert result.conflicts == ["tier"]
