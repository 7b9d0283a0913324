"""The three-way merge, field by field: changed on A, on B, on both or neither, with a filled or
an empty winning value."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.sync.fields import FieldSpec, FieldType, NameStyle
from integrations.sync.mapping import Mapping
from integrations.sync.merge import merge

COMPANY = Mapping(
    field_a="company",
    field_b="org",
    spec_a=FieldSpec("company", "Company", FieldType.TEXT),
    spec_b=FieldSpec("org", "Organization", FieldType.TEXT),
    style_a=NameStyle.FULL,
    style_b=NameStyle.SPLIT,
)
BOTH_FLOW = {"a": True, "b": True}
SNAP = {"a": {"company": "Acme"}, "b": {"org": "Acme"}}

# (now on A, now on B, winner, expected write on A, expected write on B, conflict)
MATRIX = [
    # changed on neither side
    ("Acme", "Acme", "a", None, None, False),
    ("Acme", "Acme", "b", None, None, False),
    # changed on A only: flows to B, whoever wins, even when A was emptied
    ("Globex", "Acme", "a", None, "Globex", False),
    ("Globex", "Acme", "b", None, "Globex", False),
    (None, "Acme", "a", None, "", False),
    (None, "Acme", "b", None, "", False),
    # changed on B only
    ("Acme", "Initech", "a", "Initech", None, False),
    ("Acme", "Initech", "b", "Initech", None, False),
    ("Acme", None, "a", "", None, False),
    ("Acme", None, "b", "", None, False),
    # changed on both: the winner's filled value wins ...
    ("Globex", "Initech", "a", None, "Globex", True),
    ("Globex", "Initech", "b", "Initech", None, True),
    # ... but an empty winner never erases the other side's filled value
    (None, "Initech", "a", "Initech", None, True),
    ("Globex", None, "b", None, "Globex", True),
    # changed on both to the same value: nothing to write, no conflict
    ("Globex", "Globex", "a", None, None, False),
]


@pytest.mark.parametrize(("now_a", "now_b", "winner", "write_a", "write_b", "conflict"), MATRIX)
def test_it_merges_each_case_of_the_matrix(
    now_a: Any, now_b: Any, winner: str, write_a: Any, write_b: Any, conflict: bool
) -> None:
    result = merge(
        [COMPANY], {"company": now_a}, {"org": now_b}, SNAP, winner=winner, may_flow=BOTH_FLOW
    )
    assert result.changes["a"] == ({} if write_a is None else {"company": write_a})
    assert result.changes["b"] == ({} if write_b is None else {"org": write_b})
    assert bool(result.conflicts) is conflict


def test_it_snapshots_exactly_what_it_wrote() -> None:
    result = merge(
        [COMPANY], {"company": " Globex "}, {"org": "Acme"}, SNAP, winner="a", may_flow=BOTH_FLOW
    )
    assert result.snapshot == {"a": {"company": "Globex"}, "b": {"org": "Globex"}}


def test_it_snapshots_both_sides_when_they_agree_without_a_write() -> None:
    result = merge(
        [COMPANY], {"company": "Globex"}, {"org": "Globex"}, SNAP, winner="a", may_flow=BOTH_FLOW
    )
    assert result.snapshot == {"a": {"company": "Globex"}, "b": {"org": "Globex"}}


@pytest.mark.parametrize(
    ("now_a", "now_b", "winner", "write_a", "write_b"),
    [
        ("Acme", None, "a", None, "Acme"),
        (None, "Acme", "a", "Acme", None),
        ("Acme", "Globex", "a", None, "Acme"),
        ("Acme", "Globex", "b", "Globex", None),
        (None, None, "a", None, None),
    ],
)
def test_it_merges_a_new_link_without_a_snapshot(
    now_a: Any, now_b: Any, winner: str, write_a: Any, write_b: Any
) -> None:
    result = merge(
        [COMPANY], {"company": now_a}, {"org": now_b}, {}, winner=winner, may_flow=BOTH_FLOW
    )
    assert result.changes == {
        "a": {} if write_a is None else {"company": write_a},
        "b": {} if write_b is None else {"org": write_b},
    }


def test_it_holds_back_a_change_that_may_not_flow_and_keeps_its_snapshot() -> None:
    result = merge(
        [COMPANY],
        {"company": "Globex"},
        {"org": "Acme"},
        SNAP,
        winner="a",
        may_flow={"a": False, "b": True},
    )
    assert (result.changes, result.snapshot) == ({"a": {}, "b": {}}, SNAP)


def test_it_lets_the_direction_outrank_a_winner_that_may_not_flow() -> None:
    result = merge(
        [COMPANY],
        {"company": "Globex"},
        {"org": "Initech"},
        SNAP,
        winner="b",
        may_flow={"a": True, "b": False},
    )
    assert result.changes == {"a": {}, "b": {"org": "Globex"}}


def test_it_follows_the_mappings_own_direction() -> None:
    one_way = Mapping(**{**COMPANY.__dict__, "direction": "b_to_a"})
    result = merge(
        [one_way], {"company": "Globex"}, {"org": "Acme"}, SNAP, winner="a", may_flow=BOTH_FLOW
    )
    assert result.changes == {"a": {}, "b": {}}


def test_it_ignores_formatting_differences() -> None:
    phones = Mapping(
        field_a="phones",
        field_b="phones",
        spec_a=FieldSpec("phones", "Phones", FieldType.PHONE, multi=True),
        spec_b=FieldSpec("phones", "Phones", FieldType.PHONE, multi=True),
        style_a=NameStyle.FULL,
        style_b=NameStyle.SPLIT,
    )
    result = merge(
        [phones],
        {"phones": ["+1 (415) 555-0100"]},
        {"phones": ["+14155550100"]},
        {},
        winner="a",
        may_flow=BOTH_FLOW,
    )
    assert (result.changes, result.conflicts) == ({"a": {}, "b": {}}, [])
